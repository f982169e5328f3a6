"""Model version approved in the registry -> start the deploy workflow, once per approval."""

import os

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from mlops.deployments import react_to_approval
from mlops.events import ModelPackageEvent
from mlops.handling import handle_event
from mlops.ledger import Ledger

logger = Logger()
tracer = Tracer()
metrics = Metrics()
sfn = boto3.client("stepfunctions")
dynamodb = boto3.client("dynamodb")
sqs = boto3.client("sqs")


@logger.inject_lambda_context(correlation_id_path=correlation_paths.EVENT_BRIDGE)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict, context: LambdaContext) -> dict[str, str]:
    return handle_event(
        event,
        ModelPackageEvent,
        lambda approval, settings: react_to_approval(
            approval.detail, approval.id, settings, sfn, Ledger(dynamodb, settings.ledger_table_name)
        ),
        sqs=sqs,
        logger=logger,
        metrics=metrics,
        function_name=os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "approval"),
    )
