"""The retrain workflow's steps that need code. The workflow names the step in "Action":
admit (input checks, the retrain gate, the newest data), await (keep the task token for this attempt),
assess (what the finished run means), release (end the retrain: the cooldown starts)."""

from collections.abc import Callable
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Tracer

from mlops.ledger import Ledger
from mlops.payloads import RETRAIN_PAYLOADS, check_payload
from mlops.pipelines import await_run
from mlops.retrain_rules import RetrainGate, policy_from_env
from mlops.retrain_steps import RetrainConfig, admit, assess
from mlops.settings import Settings, automation_marker
from mlops.transient import transient_errors_named

logger = Logger()
tracer = Tracer()
sagemaker = boto3.client("sagemaker")
dynamodb = boto3.client("dynamodb")
sfn = boto3.client("stepfunctions")
s3 = boto3.client("s3")


def gate(settings: Settings) -> RetrainGate:
    return RetrainGate(dynamodb, settings.ledger_table_name, settings.project_name, policy_from_env())


def admit_step(event: dict[str, Any], settings: Settings, ledger: Ledger) -> dict[str, Any]:
    return admit(
        event.get("Request"),
        str(event["ExecutionName"]),
        RetrainConfig.from_env(settings),
        gate(settings),
        ledger,
        sagemaker=sagemaker,
        s3=s3,
    )


def await_step(event: dict[str, Any], settings: Settings, ledger: Ledger) -> dict[str, Any]:
    return await_run(
        str(event["PipelineExecutionArn"]),
        int(event["Attempt"]),
        str(event["TaskToken"]),
        str(event["ExecutionArn"]),
        ledger,
        sfn,
    )


def assess_step(event: dict[str, Any], settings: Settings, ledger: Ledger) -> dict[str, Any]:
    marker = automation_marker(settings.project_name)
    return assess(event["Run"], RetrainConfig.from_env(settings), ledger, sagemaker=sagemaker, s3=s3, marker=marker)


def release_step(event: dict[str, Any], settings: Settings, ledger: Ledger) -> dict[str, Any]:
    released = gate(settings).release(str(event["ExecutionName"]))
    return {"Released": released}


ACTIONS: dict[str, Callable[[dict[str, Any], Settings, Ledger], dict[str, Any]]] = {
    "admit": admit_step,
    "await": await_step,
    "assess": assess_step,
    "release": release_step,
}


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    settings = Settings.from_env()
    check_payload(event, RETRAIN_PAYLOADS, settings, workflows=("retrain",))  # before any AWS call
    action = ACTIONS[str(event["Action"])]  # check_payload refused any other action
    with transient_errors_named():  # the workflow retries these; other errors go to its Catch
        result = action(event, settings, Ledger(dynamodb, settings.ledger_table_name))
    logger.info(f"{event['Action']}: {result}")
    return result
