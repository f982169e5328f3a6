"""The deploy and rollback workflows' steps that need code: lock, plan, guard reset, bake, analysis,
autoscaling, pruning and the candidate's rejection. The workflow names the step in "Action"; each is a plain
function."""

import json
import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Tracer

from mlops import bakes, captures, creations, isolation, pruning, registry, scaling, shadows
from mlops.analysis import DEFAULT_LAG_SECONDS, Thresholds, analyse_bake, analysis_window, variant_stats
from mlops.canary import (
    REGISTRY_APPROVAL,
    live_variant_of,
    newer_version_serving,
    parse_steps,
    plan_batch,
    plan_batch_restore,
    plan_deployment,
    plan_restore,
    serverless_config,
)
from mlops.ledger import Ledger, now_iso
from mlops.locks import EndpointLock
from mlops.payloads import CANARY_PAYLOADS, check_payload
from mlops.settings import Settings
from mlops.transient import transient_errors_named

logger = Logger()
tracer = Tracer()
sagemaker = boto3.client("sagemaker")
dynamodb = boto3.client("dynamodb")
sfn = boto3.client("stepfunctions")
cloudwatch = boto3.client("cloudwatch")
autoscaling = boto3.client("application-autoscaling")
s3 = boto3.client("s3")


def live_package(endpoint: dict[str, Any], config: dict[str, Any], ledger: Ledger, endpoint_name: str) -> str | None:
    """The package the live variant serves: from its model if made from one, else the ledger's record."""
    model = sagemaker.describe_model(ModelName=live_variant_of(endpoint, config).model_name)
    containers = model.get("Containers") or [model.get("PrimaryContainer", {})]
    package = containers[0].get("ModelPackageName") if containers else None
    if package:
        return str(package)
    record = ledger.get(f"ENDPOINT#{endpoint_name}", "LIVE")
    return str(record["model_package_arn"]) if record else None


def endpoint_exists(name: str) -> bool:
    """Whether the account has the endpoint: ListEndpoints answers 10 a page by default (API reference), and a
    name is contained in others' (`churn-endpoint` in `churn-endpoint-2`), so every page is read."""
    kwargs: dict[str, Any] = {"NameContains": name}
    while True:
        page = sagemaker.list_endpoints(**kwargs)
        if any(endpoint["EndpointName"] == name for endpoint in page["Endpoints"]):
            return True
        if not page.get("NextToken"):
            return False
        kwargs["NextToken"] = page["NextToken"]


def endpoint_and_config(settings: Settings) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    if not endpoint_exists(settings.endpoint_name):
        return None, None
    endpoint = sagemaker.describe_endpoint(EndpointName=settings.endpoint_name)
    return endpoint, sagemaker.describe_endpoint_config(EndpointConfigName=endpoint["EndpointConfigName"])


def cannot_serve(package: dict[str, Any]) -> str | None:
    """Why the version could never serve on this stack's models (its code out of reach of isolation)."""
    if os.environ.get("ENABLE_NETWORK_ISOLATION", "false") != "true":
        return None
    return isolation.code_outside_model(package.get("InferenceSpecification", {}).get("Containers", []))


def config_if_any(name: str) -> dict[str, Any] | None:
    """DescribeEndpointConfig, or None when the config is gone (deleted by hand)."""
    try:
        return dict(sagemaker.describe_endpoint_config(EndpointConfigName=name))
    except sagemaker.exceptions.ClientError as error:
        if error.response.get("Error", {}).get("Code") == "ValidationException":
            return None
        raise


def serving_kind() -> str:
    return os.environ.get("SERVING_KIND", "RealTime")


def serverless() -> dict[str, int] | None:
    """The ServerlessConfig of a serverless project's variants; None for the other kinds."""
    if serving_kind() != "Serverless":
        return None
    return serverless_config(
        int(os.environ["SERVERLESS_MEMORY_MB"]),
        int(os.environ["SERVERLESS_MAX_CONCURRENCY"]),
        int(os.environ.get("SERVERLESS_PROVISIONED_CONCURRENCY", "0")),
    )


def restore(event: dict[str, Any], settings: Settings, ledger: Ledger) -> dict[str, Any]:
    live = ledger.get(f"ENDPOINT#{settings.endpoint_name}", "LIVE")
    target = event.get("ModelPackageArn")
    target = None if target in (None, "none") else str(target)
    package = sagemaker.describe_model_package(ModelPackageName=target) if target else {}
    if serving_kind() == "Batch":
        return plan_batch_restore(
            live=live,
            target_arn=target,
            target_status=package.get("ModelApprovalStatus"),
            resource_name=event["ResourceName"],
            cannot_serve=cannot_serve(package) if target else None,
        )
    endpoint, config = endpoint_and_config(settings)
    previous = str((live or {}).get("previous_endpoint_config_name") or "none")
    return plan_restore(
        live=live,
        endpoint=endpoint,
        config=config,
        target_arn=target,
        target_status=package.get("ModelApprovalStatus"),
        resource_name=event["ResourceName"],
        instance_type=os.environ["INSTANCE_TYPE"],
        instance_count=int(os.environ["INSTANCE_COUNT"]),
        previous_config=config_if_any(previous) if target is None and previous != "none" else None,
        cannot_serve=cannot_serve(package) if target else None,
        serverless=serverless(),
    )


def plan(event: dict[str, Any], settings: Settings, ledger: Ledger) -> dict[str, Any]:
    if serving_kind() == "Batch":
        return plan_for_batch(event, settings, ledger)
    endpoint, config = endpoint_and_config(settings)
    package = live_package(endpoint, config, ledger, settings.endpoint_name) if endpoint and config else None
    newer = newer_version_serving(event["ModelPackageArn"], package)
    isolated = os.environ.get("ENABLE_NETWORK_ISOLATION", "false") == "true"
    candidate = sagemaker.describe_model_package(ModelPackageName=event["ModelPackageArn"]) if isolated else None
    if newer is not None and (
        event.get("RequestedBy") != REGISTRY_APPROVAL  # started by hand: it deploys what it names
        or sagemaker.describe_model_package(ModelPackageName=package)["ModelApprovalStatus"] != "Approved"
    ):
        newer = None
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
        newer_approved_live=newer,
        cannot_serve=cannot_serve(candidate) if candidate else None,
        strategy=str(event.get("Strategy") or "Canary"),
        shadow_percentage=int(os.environ.get("SHADOW_SAMPLING_PERCENTAGE", "100")),
        shadow_then_canary=os.environ.get("SHADOW_THEN_CANARY", "true") == "true",
        serverless=serverless(),
    )
    return result.as_dict()


def plan_for_batch(event: dict[str, Any], settings: Settings, ledger: Ledger) -> dict[str, Any]:
    live = ledger.get(f"ENDPOINT#{settings.endpoint_name}", "LIVE")
    live_arn = str(live["model_package_arn"]) if live else None
    newer = newer_version_serving(event["ModelPackageArn"], live_arn)
    if newer is not None and (
        event.get("RequestedBy") != REGISTRY_APPROVAL
        or sagemaker.describe_model_package(ModelPackageName=live_arn)["ModelApprovalStatus"] != "Approved"
    ):
        newer = None
    isolated = os.environ.get("ENABLE_NETWORK_ISOLATION", "false") == "true"
    candidate = sagemaker.describe_model_package(ModelPackageName=event["ModelPackageArn"]) if isolated else None
    return plan_batch(
        candidate_arn=event["ModelPackageArn"],
        candidate_version=int(event["Version"]),
        resource_name=event["ResourceName"],
        live=live,
        newer_approved_live=newer,
        cannot_serve=cannot_serve(candidate) if candidate else None,
    ).as_dict()


def baked_since(settings: Settings, ledger: Ledger, now: datetime) -> datetime:
    """When the step's first bake started (a shadow's too): its extensions add up to one window."""
    bake = ledger.get(f"ENDPOINT#{settings.endpoint_name}", bakes.BAKE_SK) or {}
    since = bake.get("step_started_at") or bake.get("started_at")
    return datetime.fromisoformat(str(since).replace("Z", "+00:00")) if since else now


def ignore_and_lag() -> tuple[int, int]:
    """The analysis window's warm-up ignored after a shift, and its end before now: SageMaker's per-minute
    metrics reach CloudWatch late."""
    ignore = int(os.environ.get("ANALYSIS_IGNORE_SECONDS", "120"))
    return ignore, int(os.environ.get("ANALYSIS_LAG_SECONDS", str(DEFAULT_LAG_SECONDS)))


def analyse(event: dict[str, Any], settings: Settings, ledger: Ledger) -> dict[str, Any]:
    now = datetime.now(UTC)
    started = baked_since(settings, ledger, now)
    thresholds = Thresholds(
        min_invocations=int(os.environ.get("MIN_CANDIDATE_INVOCATIONS", "100")),
        error_rate_margin=float(os.environ.get("ERROR_RATE_MARGIN", "0.01")),
        latency_factor=float(os.environ.get("LATENCY_FACTOR", "1.5")),
    )
    ignore, lag = ignore_and_lag()
    return analyse_bake(
        cloudwatch,
        settings.endpoint_name,
        event["CandidateVariant"],
        event["LiveVariant"],
        started,
        ignore,
        thresholds,
        now,
        lag,
        replaced=event.get("Kind") == "Replace",
    )


def compare_shadow(event: dict[str, Any], settings: Settings, ledger: Ledger) -> dict[str, Any]:
    """The shadow's verdict: its captured answers paired with the live variant's (mlops.shadows), and both
    variants' error rates and latency from CloudWatch over the same window as the canary's analysis."""
    now = datetime.now(UTC)
    started = baked_since(settings, ledger, now)
    bucket = os.environ["ARTIFACT_BUCKET"]
    shadow_variant, live_variant = event["CandidateVariant"], event["LiveVariant"]

    def answers(variant: str, wanted: set[str] | None = None, limit: int | None = None) -> list[shadows.Answer]:
        found: list[shadows.Answer] = []
        for key in captures.variant_capture_files(s3, bucket, settings.endpoint_name, variant, started, now):
            for line in s3.get_object(Bucket=bucket, Key=key)["Body"].iter_lines():
                answer = shadows.parse_capture_line(line)
                if answer is None or answer.at < started or (wanted is not None and answer.request not in wanted):
                    continue
                found.append(answer)
                if limit is not None and len(found) >= limit:
                    return found
        return found

    threshold = float(os.environ.get("SHADOW_DECISION_THRESHOLD", "0.5"))
    tolerance = timedelta(seconds=float(os.environ.get("SHADOW_PAIRING_SECONDS", "60")))
    # The shadow's first copies, at most SHADOW_MAX_COMPARED_REQUESTS of them: memory and time stay bounded however
    # long the shadow ran (100,000 pairs: ~3 s and ~90 MB, `make bench`); only live answers to those requests kept.
    copies = answers(shadow_variant, limit=int(os.environ.get("SHADOW_MAX_COMPARED_REQUESTS", "100000")))
    originals = answers(live_variant, wanted={copy.request for copy in copies})
    comparison = shadows.compare(shadows.pair(originals, copies, tolerance), threshold)
    start, end = analysis_window(started, now, *ignore_and_lag())
    shadow_stats = variant_stats(cloudwatch, settings.endpoint_name, shadow_variant, start, end)
    live_stats = variant_stats(cloudwatch, settings.endpoint_name, live_variant, start, end)
    thresholds = shadows.ShadowThresholds(
        min_compared=int(os.environ.get("SHADOW_MIN_COMPARED_REQUESTS", "200")),
        min_agreement=float(os.environ.get("SHADOW_MIN_AGREEMENT", "0.95")),
        max_mean_absolute_difference=float(os.environ.get("SHADOW_MAX_MEAN_ABSOLUTE_DIFFERENCE", "0.05")),
        error_rate_margin=float(os.environ.get("ERROR_RATE_MARGIN", "0.01")),
        latency_factor=float(os.environ.get("LATENCY_FACTOR", "1.5")),
    )
    verdict, reason = shadows.judge(comparison, shadow_stats, live_stats, thresholds)
    result = shadows.report(verdict, reason, comparison, shadow_stats, live_stats)
    result["Summary"] = shadows.summary(result)
    ledger.put(
        f"ENDPOINT#{settings.endpoint_name}",
        f"SHADOW#{event['ExecutionArn'].rsplit(':', 1)[-1]}#{now_iso()}",
        kind="shadow-report",
        verdict=verdict,
        report=json.dumps(result, default=str)[:30000],
    )
    return result


def prune(event: dict[str, Any], settings: Settings, ledger: Ledger) -> dict[str, Any]:
    endpoint, _ = endpoint_and_config(settings) if serving_kind() != "Batch" else (None, None)
    live = ledger.get(f"ENDPOINT#{settings.endpoint_name}", "LIVE") or {}
    in_use = {
        str(endpoint["EndpointConfigName"]) if endpoint else "",
        str(live.get("previous_endpoint_config_name", "")),
    }
    keep = int(os.environ.get("KEEP_ENDPOINT_CONFIGS", "5"))
    if serving_kind() == "Batch":  # the ledger's config fields name models: no endpoint, no configs in use
        models = frozenset({str(live.get("endpoint_config_name", "")), *in_use} - {"", "none"})
        return pruning.prune(sagemaker, settings.project_name, keep, set(), models)
    return pruning.prune(sagemaker, settings.project_name, keep, in_use - {""})


def prepare_scaling(event: dict[str, Any], settings: Settings, ledger: Ledger) -> dict[str, Any]:
    """Before the endpoint changes to the config named: autoscaling suspended, and retired from what it drops."""
    endpoint, config = endpoint_and_config(settings)
    if endpoint is None or config is None:
        return {"Scaling": "no endpoint yet"}
    target = sagemaker.describe_endpoint_config(EndpointConfigName=event["ConfigName"])
    done = scaling.prepare_update(
        autoscaling,
        cloudwatch,
        ledger,
        settings.endpoint_name,
        config["ProductionVariants"],
        target["ProductionVariants"],
        event["ExecutionArn"],
    )
    return {"Scaling": done}


def restore_scaling(event: dict[str, Any], settings: Settings, ledger: Ledger) -> dict[str, Any]:
    """On every ending: autoscaling back as it was, on the variant that serves."""
    endpoint, _ = endpoint_and_config(settings)
    variants = (endpoint or {}).get("ProductionVariants") or []
    execution = event["ExecutionArn"]
    done = scaling.restore_scaling(autoscaling, cloudwatch, ledger, settings.endpoint_name, variants, execution)
    return {"Scaling": done}


def lock_of(settings: Settings) -> EndpointLock:
    lease = int(os.environ.get("DEPLOYMENT_LEASE_SECONDS", "43200"))
    return EndpointLock(dynamodb, settings.ledger_table_name, settings.endpoint_name, sfn, lease)


ACTIONS: dict[str, Callable[[dict[str, Any], Settings, Ledger], dict[str, Any]]] = {
    "acquire-lock": lambda e, s, _: {
        "Lock": lock_of(s).acquire(e["ExecutionArn"], int(e["Version"]), e["TaskToken"]).outcome
    },
    "release-lock": lambda e, s, _: {"Lock": lock_of(s).release(e["ExecutionArn"]).outcome},
    "plan": plan,
    "plan-restore": restore,
    "analyse": analyse,
    "compare-shadow": compare_shadow,
    "prune": prune,
    "reject-candidate": lambda e, s, _: registry.reject_candidate(sagemaker, e["ModelPackageArn"], e["Reason"], s),
    "confirm-made": lambda e, s, _: creations.confirm_made(
        sagemaker, e["Kind"], e["Name"], e.get("ModelPackageArn"), e.get("ProductionVariants")
    ),
    "prepare-scaling": prepare_scaling,
    "copy-scaling": lambda e, s, ledger: {
        "Scaling": scaling.copy_scaling(
            autoscaling, cloudwatch, ledger, s.endpoint_name, e["LiveVariant"], e["CandidateVariant"], e["ExecutionArn"]
        )
    },
    "restore-scaling": restore_scaling,
    "reset-guards": lambda e, s, _: {"Reset": bakes.reset_guards(cloudwatch, s.project_name, e["CandidateVariant"])},
    "start-bake": lambda e, s, ledger: {
        "Bake": bakes.start_bake(
            s.endpoint_name, e["ExecutionName"], e["CandidateVariant"], int(e["Percent"]), e["TaskToken"], ledger, sfn
        )
    },
}


@logger.inject_lambda_context(correlation_id_path="ExecutionArn")
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: object) -> dict[str, Any]:
    settings = Settings.from_env()
    check_payload(event, CANARY_PAYLOADS, settings, workflows=("deploy", "rollback"))  # before any AWS call
    action = ACTIONS[str(event["Action"])]  # check_payload refused any other action
    with transient_errors_named():  # the workflow retries these; other errors go to its Catch
        result = action(event, settings, Ledger(dynamodb, settings.ledger_table_name))
    logger.info(f"{event['Action']}: {result}")
    return result
