"""A workflow asks for an endpoint change and waits: record its task token, then ask SageMaker."""

import boto3
from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.parser import parse

from mlops.endpoint_changes import ChangeRequest, request_change
from mlops.ledger import Ledger
from mlops.payloads import ENDPOINT_UPDATE_PAYLOADS, check_payload
from mlops.settings import Settings
from mlops.transient import transient_errors_named

logger = Logger()
tracer = Tracer()
sagemaker = boto3.client("sagemaker")
dynamodb = boto3.client("dynamodb")
sfn = boto3.client("stepfunctions")


@logger.inject_lambda_context(correlation_id_path="ExecutionArn")
@tracer.capture_lambda_handler
def handler(event: dict, context: object) -> dict[str, str]:
    settings = Settings.from_env()
    check_payload(event, ENDPOINT_UPDATE_PAYLOADS, settings, workflows=("deploy", "rollback"))  # before any call
    request = parse(event=event, model=ChangeRequest)
    with transient_errors_named():  # the workflow retries these; other errors go to its Catch
        result = request_change(request, sagemaker, sfn, Ledger(dynamodb, settings.ledger_table_name))
    logger.info("endpoint change requested", extra=result)
    return result
