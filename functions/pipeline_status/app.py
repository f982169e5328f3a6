"""A pipeline execution of this project changed status -> record it."""

import boto3

from mlops.events import PipelineExecutionEvent
from mlops.handling import lambda_handler
from mlops.ledger import Ledger
from mlops.pipelines import react_to_pipeline_status
from mlops.reactions import Reaction
from mlops.settings import Settings

dynamodb = boto3.client("dynamodb")
sqs = boto3.client("sqs")


def react(change: PipelineExecutionEvent, settings: Settings) -> Reaction:
    return react_to_pipeline_status(change.detail, change.id, settings, Ledger(dynamodb, settings.ledger_table_name))


handler = lambda_handler(PipelineExecutionEvent, react, sqs=sqs)
