"""A workflow asks for an endpoint change and waits: record its task token, then ask SageMaker."""

import boto3
from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.parser import parse

from mlops.endpoint_changes import ChangeRequest, request_change
from mlops.ledger import Ledger
from mlops.settings import Settings

logger = Logger()
tracer = Tracer()
sagemaker = boto3.client("sagemaker")
dynamodb = boto3.client("dynamodb")


@logger.inject_lambda_context(correlation_id_path="ExecutionArn")
@tracer.capture_lambda_handler
def handler(event: dict, context: object) -> dict[str, str]:
    settings = Settings.from_env()
    request = parse(event=event, model=ChangeRequest)
    result = request_change(request, sagemaker, Ledger(dynamodb, settings.ledger_table_name))
    logger.info("endpoint change requested", extra=result)
    return result
