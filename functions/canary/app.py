"""The deploy workflow's own steps that need code: lock, plan, guard reset and bake."""

import os
from datetime import UTC, datetime
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Tracer

from mlops import bakes, pruning, scaling
from mlops.analysis import Thresholds, analyse_bake
from mlops.canary import parse_steps, plan_deployment, plan_restore
from mlops.ledger import Ledger
from mlops.locks import EndpointLock
from mlops.settings import Settings

logger = Logger()
tracer = Tracer()
sagemaker = boto3.client("sagemaker")
dynamodb = boto3.client("dynamodb")
sfn = boto3.client("stepfunctions")
cloudwatch = boto3.client("cloudwatch")
autoscaling = boto3.client("application-autoscaling")


class UnknownAction(ValueError):
    """The workflow asked for an action this function does not have."""


def live_package(endpoint: dict[str, Any], config: dict[str, Any], ledger: Ledger, endpoint_name: str) -> str | None:
    """The package the live variant serves: from its model if made from one, else the ledger's record."""
    from mlops.canary import live_variant_of

    model = sagemaker.describe_model(ModelName=live_variant_of(endpoint, config).model_name)
    containers = model.get("Containers") or [model.get("PrimaryContainer", {})]
    package = containers[0].get("ModelPackageName") if containers else None
    if package:
        return str(package)
    record = ledger.get(f"ENDPOINT#{endpoint_name}", "LIVE")
    return str(record["model_package_arn"]) if record else None


def endpoint_and_config(settings: Settings) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    names = [e["EndpointName"] for e in sagemaker.list_endpoints(NameContains=settings.endpoint_name)["Endpoints"]]
    if settings.endpoint_name not in names:
        return None, None
    endpoint = sagemaker.describe_endpoint(EndpointName=settings.endpoint_name)
    return endpoint, sagemaker.describe_endpoint_config(EndpointConfigName=endpoint["EndpointConfigName"])


def restore(event: dict[str, Any], settings: Settings, ledger: Ledger) -> dict[str, Any]:
    endpoint, config = endpoint_and_config(settings)
    target = event.get("ModelPackageArn")
    target = None if target in (None, "none") else str(target)
    status = sagemaker.describe_model_package(ModelPackageName=target)["ModelApprovalStatus"] if target else None
    return plan_restore(
        live=ledger.get(f"ENDPOINT#{settings.endpoint_name}", "LIVE"),
        endpoint=endpoint,
        config=config,
        target_arn=target,
        target_status=status,
        resource_name=event["ResourceName"],
        instance_type=os.environ["INSTANCE_TYPE"],
        instance_count=int(os.environ["INSTANCE_COUNT"]),
    )


def plan(event: dict[str, Any], settings: Settings, ledger: Ledger) -> dict[str, Any]:
    endpoint, config = endpoint_and_config(settings)
    package = live_package(endpoint, config, ledger, settings.endpoint_name) if endpoint and config else None
    result = plan_deployment(
        candidate_arn=event["ModelPackageArn"],
        candidate_version=int(event["Version"]),
        resource_name=event["ResourceName"],
        endpoint=endpoint,
        config=config,
        live_package_arn=package,
        steps=parse_steps(os.environ.get("CANARY_STEPS", "10,50,100")),
        instance_type=os.environ["INSTANCE_TYPE"],
        instance_count=int(os.environ["INSTANCE_COUNT"]),
    )
    return result.as_dict()


@logger.inject_lambda_context(correlation_id_path="ExecutionArn")
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: object) -> dict[str, Any]:
    settings = Settings.from_env()
    ledger = Ledger(dynamodb, settings.ledger_table_name)
    action = event.get("Action")
    lock = EndpointLock(
        dynamodb,
        settings.ledger_table_name,
        settings.endpoint_name,
        sfn,
        int(os.environ.get("DEPLOYMENT_LEASE_SECONDS", "43200")),
    )
    result: dict[str, Any]
    if action == "acquire-lock":
        result = {"Lock": lock.acquire(event["ExecutionArn"], int(event["Version"]), event["TaskToken"]).outcome}
    elif action == "release-lock":
        result = {"Lock": lock.release(event["ExecutionArn"]).outcome}
    elif action == "plan":
        result = plan(event, settings, ledger)
    elif action == "plan-restore":
        result = restore(event, settings, ledger)
    elif action == "analyse":
        bake = ledger.get(f"ENDPOINT#{settings.endpoint_name}", bakes.BAKE_SK) or {}
        started = (
            datetime.fromisoformat(str(bake.get("started_at", "")).replace("Z", "+00:00"))
            if bake
            else datetime.now(UTC)
        )
        thresholds = Thresholds(
            min_invocations=int(os.environ.get("MIN_CANDIDATE_INVOCATIONS", "100")),
            error_rate_margin=float(os.environ.get("ERROR_RATE_MARGIN", "0.01")),
            latency_factor=float(os.environ.get("LATENCY_FACTOR", "1.5")),
        )
        result = analyse_bake(
            cloudwatch,
            settings.endpoint_name,
            event["CandidateVariant"],
            event["LiveVariant"],
            started,
            int(os.environ.get("ANALYSIS_IGNORE_SECONDS", "120")),
            thresholds,
            datetime.now(UTC),
        )
    elif action == "copy-scaling":
        result = {
            "Scaling": scaling.copy_scaling(
                autoscaling, settings.endpoint_name, event["LiveVariant"], event["CandidateVariant"]
            )
        }
    elif action == "retire-scaling":
        result = {"Scaling": scaling.retire_scaling(autoscaling, settings.endpoint_name, event["Variant"])}
    elif action == "prune":
        endpoint, _ = endpoint_and_config(settings)
        live = ledger.get(f"ENDPOINT#{settings.endpoint_name}", "LIVE") or {}
        in_use = {
            str(endpoint["EndpointConfigName"]) if endpoint else "",
            str(live.get("previous_endpoint_config_name", "")),
        }
        result = pruning.prune(
            sagemaker, settings.project_name, int(os.environ.get("KEEP_ENDPOINT_CONFIGS", "5")), in_use - {""}
        )
    elif action == "reset-guards":
        result = {"Reset": bakes.reset_guards(cloudwatch, settings.project_name, event["CandidateVariant"])}
    elif action == "start-bake":
        state = bakes.start_bake(
            settings.endpoint_name,
            event["ExecutionName"],
            event["CandidateVariant"],
            int(event["Percent"]),
            event["TaskToken"],
            ledger,
            sfn,
        )
        result = {"Bake": state}
    else:
        raise UnknownAction(f"unknown action {action!r}")
    logger.info(f"{action}: {result}")
    return result
