"""A project alarm changed state -> record it (canary guards and drift alarms act on it)."""

import os

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from mlops.alarms import react_to_alarm
from mlops.events import AlarmEvent
from mlops.handling import handle_event
from mlops.ledger import Ledger

logger = Logger()
tracer = Tracer()
metrics = Metrics()
dynamodb = boto3.client("dynamodb")
sqs = boto3.client("sqs")


@logger.inject_lambda_context(correlation_id_path=correlation_paths.EVENT_BRIDGE)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict, context: LambdaContext) -> dict[str, str]:
    return handle_event(
        event,
        AlarmEvent,
        lambda alarm, settings: react_to_alarm(
            alarm.detail, alarm.id, settings, Ledger(dynamodb, settings.ledger_table_name)
        ),
        sqs=sqs,
        logger=logger,
        metrics=metrics,
        function_name=os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "alarm"),
    )
