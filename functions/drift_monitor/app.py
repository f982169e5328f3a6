"""Scheduled: measure the captured traffic (drift, bias, attribution) and the ground truth (model quality) against
the live version, publish the figures. A serverless or batch project captures no endpoint traffic: the run says
so and measures nothing (a batch is measured by its own workflow)."""

import os
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Tracer

from mlops.ledger import Ledger
from mlops.monitoring import MonitorConfig, run_monitor
from mlops.payloads import check_schedule
from mlops.settings import Settings

logger = Logger()
tracer = Tracer()
dynamodb = boto3.client("dynamodb")
sagemaker = boto3.client("sagemaker")
s3 = boto3.client("s3")
cloudwatch = boto3.client("cloudwatch")

# SageMaker developer guide, serverless inference feature exclusions: no data capture, no Model Monitor
NOT_AVAILABLE = {
    "Serverless": "serverless endpoints capture no traffic (SageMaker supports no data capture on them): drift, "
    "bias, attribution and model quality monitoring are not available for this project",
    "Batch": "a batch project has no endpoint traffic: each batch is measured by the batch workflow",
}


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    check_schedule(event)  # its schedule's event or {} (a run by hand), before any AWS call
    settings = Settings.from_env()
    kind = os.environ.get("SERVING_KIND", "RealTime")
    if kind in NOT_AVAILABLE:
        logger.info(f"drift run: not available: {NOT_AVAILABLE[kind]}")
        return {"Outcome": "not-available", "Reason": NOT_AVAILABLE[kind]}
    summary = run_monitor(
        MonitorConfig.from_env(settings.project_name, settings.endpoint_name),
        ledger=Ledger(dynamodb, settings.ledger_table_name),
        sagemaker=sagemaker,
        s3=s3,
        cloudwatch=cloudwatch,
        seconds_left=lambda: context.get_remaining_time_in_millis() / 1000,
    )
    if summary.get("Malformed"):
        logger.warning(f"{summary['Malformed']} malformed capture lines, e.g. {summary.get('Problems')}")
    logger.info(f"drift run: {summary.get('Outcome')}", extra={"summary": summary})
    return summary
