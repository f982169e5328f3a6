"""Registry decisions: an approval starts the deploy workflow once; a rejection rolls back or aborts."""

from functools import cache
from typing import Any

import boto3

from mlops.deployments import react_to_approval, react_to_rejection
from mlops.events import ModelPackageEvent
from mlops.handling import lambda_handler
from mlops.ledger import Ledger
from mlops.reactions import Reaction
from mlops.settings import Settings

sfn = boto3.client("stepfunctions")
dynamodb = boto3.client("dynamodb")
sqs = boto3.client("sqs")


@cache
def sagemaker() -> Any:
    """Loaded on first use, not at import: the SageMaker client's service model is large."""
    return boto3.client("sagemaker")


def react(change: ModelPackageEvent, settings: Settings) -> Reaction:
    ledger = Ledger(dynamodb, settings.ledger_table_name)
    if change.detail.ModelApprovalStatus == "Rejected" and change.detail.ModelPackageStatus == "Completed":
        return react_to_rejection(change.detail, change.id, settings, sfn, sagemaker(), ledger)
    return react_to_approval(change.detail, change.id, settings, sfn, ledger, sagemaker())


handler = lambda_handler(ModelPackageEvent, react, sqs=sqs)
