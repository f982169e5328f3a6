"""Model version approved in the registry -> start the deploy workflow, once per approval."""

import boto3

from mlops.deployments import react_to_approval
from mlops.events import ModelPackageEvent
from mlops.handling import lambda_handler
from mlops.ledger import Ledger
from mlops.reactions import Reaction
from mlops.settings import Settings

sfn = boto3.client("stepfunctions")
dynamodb = boto3.client("dynamodb")
sqs = boto3.client("sqs")


def react(approval: ModelPackageEvent, settings: Settings) -> Reaction:
    return react_to_approval(approval.detail, approval.id, settings, sfn, Ledger(dynamodb, settings.ledger_table_name))


handler = lambda_handler(ModelPackageEvent, react, sqs=sqs)
