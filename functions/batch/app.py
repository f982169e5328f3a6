"""Batch scoring (ServingKind Batch): a file lands under batch/input/ -> the batch workflow, once per object
version; the workflow's steps (create the transform job, measure its output); the job's end -> the waiting
workflow goes on. Which of the three an invocation is, its shape says: an EventBridge event or a workflow step."""

import os
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Tracer

from mlops import transform_jobs
from mlops.batch_monitoring import measure_output, read_output
from mlops.drift import feature_order
from mlops.events import ObjectCreatedEvent, TransformJobEvent
from mlops.executions import start_once
from mlops.handling import lambda_handler
from mlops.ledger import Ledger, now_iso
from mlops.monitoring import MonitorConfig, live_version, put_metrics
from mlops.payloads import BATCH_PAYLOADS, BatchMeasurement, TransformRequest, check_payload
from mlops.reactions import Reaction
from mlops.settings import Settings
from mlops.transient import transient_errors_named

logger = Logger()
tracer = Tracer()
dynamodb = boto3.client("dynamodb")
sagemaker = boto3.client("sagemaker")
s3 = boto3.client("s3")
sfn = boto3.client("stepfunctions")
cloudwatch = boto3.client("cloudwatch")
sqs = boto3.client("sqs")


# ---------------------------------------------------------------- events
def react_to_object(created: ObjectCreatedEvent, settings: Settings) -> Reaction:
    bucket, obj = created.detail.bucket.name, created.detail.object
    if bucket != os.environ["ARTIFACT_BUCKET"]:
        return Reaction("ignored", f"bucket {bucket} is not this project's {os.environ['ARTIFACT_BUCKET']}")
    if not obj.key.startswith(transform_jobs.INPUT_PREFIX) or obj.key.endswith("/"):
        return Reaction("ignored", f"{obj.key} is not a file under {transform_jobs.INPUT_PREFIX}")
    url = f"s3://{bucket}/{obj.key}"
    version = transform_jobs.object_version(obj.version_id, obj.etag, obj.sequencer)
    payload = {"InputUrl": url, "ObjectVersion": version, "RequestedBy": "s3 object created"}
    name = transform_jobs.run_name(url, version)
    arn, started = start_once(sfn, os.environ["BATCH_STATE_MACHINE_ARN"], name, payload)
    if not started:
        return Reaction("duplicate", f"{url} (version {version}) is scored by its workflow already", arn)
    return Reaction("started", f"scoring {url} (version {version})", arn)


def react_to_job(change: TransformJobEvent, settings: Settings) -> Reaction:
    job = change.detail
    if not job.TransformJobName.startswith(f"{settings.project_name}-batch-"):
        return Reaction("ignored", f"transform job {job.TransformJobName} is not one of this project's batches")
    if job.TransformJobStatus not in transform_jobs.ENDED:
        return Reaction("ignored", f"transform job {job.TransformJobName} is {job.TransformJobStatus}: not ended")
    ledger = Ledger(dynamodb, settings.ledger_table_name)
    status, failure = job.TransformJobStatus, job.FailureReason or ""
    said = transform_jobs.finish(sfn, ledger, settings.endpoint_name, job.TransformJobName, status, failure)
    return Reaction("completed", said)


on_object = lambda_handler(ObjectCreatedEvent, react_to_object, sqs=sqs)
on_job = lambda_handler(TransformJobEvent, react_to_job, sqs=sqs)


# ---------------------------------------------------------------- workflow steps
def transform(step: TransformRequest, settings: Settings) -> dict[str, Any]:
    ledger = Ledger(dynamodb, settings.ledger_table_name)
    live = live_version(ledger, sagemaker, s3, settings.endpoint_name)
    inputs = len(feature_order(live.baseline)) if live else 0
    request = transform_jobs.JobRequest(
        project=settings.project_name,
        bucket=os.environ["ARTIFACT_BUCKET"],
        model_name=step.ModelName,
        instance_type=os.environ["BATCH_INSTANCE_TYPE"],
        instance_count=int(os.environ["BATCH_INSTANCE_COUNT"]),
        kms_key_id=os.environ.get("OUTPUT_KMS_KEY_ID", ""),
    )
    name = transform_jobs.job_name(settings.project_name, step.InputUrl, step.ObjectVersion, step.ExecutionArn)
    return transform_jobs.start_job(
        sagemaker,
        sfn,
        ledger,
        s3,
        target=settings.endpoint_name,
        request=request,
        name=name,
        input_url=step.InputUrl,
        inputs=inputs or transform_jobs.columns_of(s3, *transform_jobs.split_url(step.InputUrl)),
        token=step.TaskToken,
        execution_arn=step.ExecutionArn,
    )


def measure(step: BatchMeasurement, settings: Settings) -> dict[str, Any]:
    ledger = Ledger(dynamodb, settings.ledger_table_name)
    # against the version that scored the batch, even if another one is live by now
    live = live_version(ledger, sagemaker, s3, settings.endpoint_name, package_arn=step.ModelPackageArn)
    if live is None:
        return {"Outcome": "no-baseline", "Records": 0, "DriftScore": None, "Reason": "no drift baseline registered"}
    config = MonitorConfig.from_env(settings.project_name, settings.endpoint_name)
    summary, data = measure_output(read_output(s3, step.OutputUrl), config, live, step.Labelled)
    put_metrics(cloudwatch, config.namespace, data)
    ledger.put(
        f"BATCH#{settings.endpoint_name}",
        f"MEASURE#{step.JobName}",
        kind="batch-measure",
        records=summary.get("Records"),
        drift_score=summary.get("DriftScore"),
        measured_at=now_iso(),
    )
    return {**summary, "Problems": summary.get("Problems", [])[:5]}


STEPS = {"transform": transform, "measure": measure}


@logger.inject_lambda_context(correlation_id_path="ExecutionArn")
@tracer.capture_lambda_handler
def step_handler(event: dict[str, Any], context: object) -> dict[str, Any]:
    settings = Settings.from_env()
    step = check_payload(event, BATCH_PAYLOADS, settings, workflows=("batch",))  # before any AWS call
    with transient_errors_named():  # the workflow retries these; other errors go to its Catch
        result = STEPS[step.Action](step, settings)  # type: ignore[operator]
    logger.info(f"{step.Action}: {result}")
    return result


def handler(event: Any, context: Any) -> Any:
    if isinstance(event, dict) and "Action" in event:
        return step_handler(event, context)
    if isinstance(event, dict) and event.get("detail-type") == "SageMaker Transform Job State Change":
        return on_job(event, context)
    return on_object(event, context)  # anything else is parsed as an object event, rejected if it is not one
