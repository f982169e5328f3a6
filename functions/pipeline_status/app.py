"""A pipeline execution of this project changed status -> record it; an end tells the retrain waiting for
it, or, for a run started elsewhere that failed, the people on the notification topic."""

import boto3

from mlops.events import PipelineExecutionEvent
from mlops.handling import lambda_handler
from mlops.ledger import Ledger
from mlops.pipelines import react_to_pipeline_status
from mlops.reactions import Reaction
from mlops.settings import Settings

dynamodb = boto3.client("dynamodb")
sqs = boto3.client("sqs")
sagemaker = boto3.client("sagemaker")
sfn = boto3.client("stepfunctions")
sns = boto3.client("sns")


def react(change: PipelineExecutionEvent, settings: Settings) -> Reaction:
    ledger = Ledger(dynamodb, settings.ledger_table_name)
    return react_to_pipeline_status(change.detail, change.id, settings, ledger, sagemaker, sfn, sns)


handler = lambda_handler(PipelineExecutionEvent, react, sqs=sqs)
