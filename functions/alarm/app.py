"""A project alarm changed state -> record it; a canary guard going to ALARM aborts the running canary;
a drift alarm going to ALARM starts the retrain workflow (or joins the running one, or is held back)."""

import boto3

from mlops.alarms import react_to_alarm
from mlops.events import AlarmEvent
from mlops.handling import lambda_handler
from mlops.ledger import Ledger
from mlops.reactions import Reaction
from mlops.retrain_rules import RetrainGate, policy_from_env
from mlops.settings import Settings

dynamodb = boto3.client("dynamodb")
sqs = boto3.client("sqs")
sfn = boto3.client("stepfunctions")


def react(alarm: AlarmEvent, settings: Settings) -> Reaction:
    gate = RetrainGate(dynamodb, settings.ledger_table_name, settings.project_name, policy_from_env())
    ledger = Ledger(dynamodb, settings.ledger_table_name)
    return react_to_alarm(alarm.detail, alarm.id, settings, ledger, sfn, gate)


handler = lambda_handler(AlarmEvent, react, sqs=sqs)
