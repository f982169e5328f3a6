"""The endpoint changed state -> record it, and complete the workflow waiting for that change."""

import boto3

from mlops.endpoint_changes import settle_change
from mlops.events import EndpointEvent
from mlops.handling import lambda_handler
from mlops.ledger import Ledger
from mlops.reactions import Reaction
from mlops.settings import Settings

sagemaker = boto3.client("sagemaker")
sfn = boto3.client("stepfunctions")
dynamodb = boto3.client("dynamodb")
sqs = boto3.client("sqs")


def react(change: EndpointEvent, settings: Settings) -> Reaction:
    if change.detail.EndpointName != settings.endpoint_name:
        return Reaction(
            "ignored", f"endpoint {change.detail.EndpointName} is not this project's {settings.endpoint_name}"
        )
    return settle_change(change.detail, change.id, sagemaker, sfn, Ledger(dynamodb, settings.ledger_table_name))


handler = lambda_handler(EndpointEvent, react, sqs=sqs)
