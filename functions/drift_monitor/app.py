"""Scheduled: measure the captured traffic (drift, bias, attribution) and the ground truth (model quality) against
the live version, publish the figures."""

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


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    check_schedule(event)  # its schedule's event or {} (a run by hand), before any AWS call
    settings = Settings.from_env()
    config = MonitorConfig(
        project=settings.project_name,
        endpoint=settings.endpoint_name,
        bucket=os.environ["ARTIFACT_BUCKET"],
        namespace=os.environ["DRIFT_NAMESPACE"],
        min_records=int(os.environ.get("DRIFT_MIN_RECORDS", "100")),
        lookback_hours=int(os.environ.get("DRIFT_LOOKBACK_HOURS", "48")),
        reserve_seconds=float(os.environ.get("DRIFT_RESERVE_SECONDS", "60")),
        threshold=float(os.environ.get("PREDICTION_THRESHOLD", "0.5")),
        window_hours=int(os.environ.get("GROUND_TRUTH_WINDOW_HOURS", "72")),
        quality_min_records=int(os.environ.get("QUALITY_MIN_RECORDS", "100")),
        facet=os.environ.get("BIAS_FACET", "").strip(),
        disfavoured=tuple(v.strip() for v in os.environ.get("BIAS_DISFAVOURED_VALUES", "").split(",") if v.strip()),
    )
    summary = run_monitor(
        config,
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
