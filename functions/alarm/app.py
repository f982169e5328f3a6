"""A project alarm changed state -> record it; a canary guard going to ALARM aborts the running canary."""

import boto3

from mlops.alarms import react_to_alarm
from mlops.events import AlarmEvent
from mlops.handling import lambda_handler
from mlops.ledger import Ledger
from mlops.reactions import Reaction
from mlops.settings import Settings

dynamodb = boto3.client("dynamodb")
sqs = boto3.client("sqs")
sfn = boto3.client("stepfunctions")


def react(alarm: AlarmEvent, settings: Settings) -> Reaction:
    return react_to_alarm(alarm.detail, alarm.id, settings, Ledger(dynamodb, settings.ledger_table_name), sfn)


handler = lambda_handler(AlarmEvent, react, sqs=sqs)
