"""The retrain workflow's steps that need code: admit, wait for the run, judge it, release the gate.

Each takes its AWS clients as arguments; functions/retrain/app.py wires them to the workflow.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, Field, ValidationError, field_validator

from .bias import BiasBands, registered_bias
from .governance import governance_tags, group_arn, tag_group
from .ledger import Ledger, now_iso
from .model_quality import metric_values
from .pipelines import retrain_display_name
from .retrain_rules import (
    Comparison,
    RetrainGate,
    failed_step,
    judge_run,
    side_by_side,
)
from .settings import Settings

Scalar = str | int | float | bool


class InvalidRetrainRequest(ValueError):
    """The retrain input is not one this workflow accepts; nothing was started."""


class NoVersionRegistered(RuntimeError):
    """The pipeline run succeeded but registered no version: the pipeline misses its register step."""


class RetrainRequest(BaseModel):
    """A manual start: {"Reason": "...", "PipelineParameters": {...}}; alarms add "Trigger"."""

    Reason: str = Field(default="manual retrain", min_length=1, max_length=1000)
    RequestedBy: str = Field(default="unknown", min_length=1, max_length=256)
    PipelineParameters: dict[str, Scalar] = Field(default_factory=dict)
    Trigger: dict[str, Any] | None = None

    @field_validator("PipelineParameters")
    @classmethod
    def _names(cls, value: dict[str, Scalar]) -> dict[str, Scalar]:
        bad = [name for name in value if not name or len(name) > 256]
        if bad:
            raise ValueError(f"parameter names must be 1-256 characters: {bad}")
        return value


@dataclass(frozen=True)
class RetrainConfig:
    project: str
    pipeline_name: str
    model_package_group: str
    endpoint_name: str
    training_data_url: str
    max_retries: int
    key_metric: str
    higher_is_better: bool
    auto_approve: bool
    auto_approve_margin: float
    bias_bands: BiasBands = field(default_factory=BiasBands)
    group_tags: dict[str, str] = field(default_factory=dict)  # owner, use-case, compliance (governance.py)

    @classmethod
    def from_env(cls, settings: Settings) -> RetrainConfig:
        """The project's names from its settings; the retrain's own choices from the environment."""
        return cls(
            project=settings.project_name,
            pipeline_name=settings.pipeline_name,
            model_package_group=settings.model_package_group_name,
            endpoint_name=settings.endpoint_name,
            training_data_url=os.environ.get("TRAINING_DATA_URL", ""),
            max_retries=int(os.environ.get("MAX_PIPELINE_RETRIES", "2")),
            key_metric=os.environ.get("KEY_METRIC", "accuracy"),
            higher_is_better=os.environ.get("KEY_METRIC_DIRECTION", "higher") == "higher",
            auto_approve=os.environ.get("AUTO_APPROVE", "false") == "true",
            auto_approve_margin=float(os.environ.get("AUTO_APPROVE_MARGIN", "0.01")),
            bias_bands=BiasBands(
                max_abs_dppl=float(os.environ.get("BIAS_MAX_ABS_DPPL", "0.1")),
                min_di=float(os.environ.get("BIAS_MIN_DI", "0.8")),
                max_di=float(os.environ.get("BIAS_MAX_DI", "1.25")),
            ),
            group_tags=governance_tags(),
        )


def parse_request(raw: object) -> RetrainRequest:
    try:
        return RetrainRequest.model_validate(raw)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'input'}: {e['msg']}" for e in error.errors(include_url=False)
        )
        raise InvalidRetrainRequest(f"invalid retrain input: {problems}") from None


def declared_parameters(sagemaker: Any, pipeline_name: str) -> dict[str, str]:
    """The pipeline's parameters and their types, from its definition."""
    definition = json.loads(sagemaker.describe_pipeline(PipelineName=pipeline_name)["PipelineDefinition"])
    return {p["Name"]: p.get("Type", "String") for p in definition.get("Parameters", [])}


def newest_data(s3: Any, url: str) -> str | None:
    """The newest CSV object under an s3:// prefix (a URL naming an object is returned as it is)."""
    if not url:
        return None
    bucket, _, prefix = url.removeprefix("s3://").partition("/")
    if prefix and not prefix.endswith("/"):
        return url
    newest: tuple[Any, str] | None = None
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            if item["Key"].endswith(".csv") and (newest is None or item["LastModified"] > newest[0]):
                newest = (item["LastModified"], item["Key"])
    return f"s3://{bucket}/{newest[1]}" if newest else None


def data_version(s3: Any, url: str) -> str | None:
    """The S3 object's version id, or its ETag without quotes when the bucket keeps no versions (no VersionId, or
    "null" for an object written while versioning was off or suspended). None when the URL names no object (a
    prefix, or nothing there) or the object cannot be read: the version then stays the pipeline's default."""
    bucket, _, key = url.removeprefix("s3://").partition("/")
    if not key or key.endswith("/"):
        return None
    try:
        head = s3.head_object(Bucket=bucket, Key=key)
    except s3.exceptions.ClientError as error:
        # HeadObject has no body: its errors are the HTTP status ("404"; "403" without s3:ListBucket there)
        if str(error.response.get("Error", {}).get("Code")) in ("404", "403", "NoSuchKey", "AccessDenied"):
            return None
        raise
    version = str(head.get("VersionId") or "null")
    return version if version != "null" else str(head["ETag"]).strip('"')


def admit(
    raw_request: object,
    execution_name: str,
    config: RetrainConfig,
    gate: RetrainGate,
    ledger: Ledger,
    *,
    sagemaker: Any,
    s3: Any,
) -> dict[str, Any]:
    request = parse_request(raw_request)
    declared = declared_parameters(sagemaker, config.pipeline_name)
    unknown = sorted(set(request.PipelineParameters) - set(declared))
    if unknown:
        raise InvalidRetrainRequest(
            f"pipeline {config.pipeline_name} declares no parameter {', '.join(unknown)} "
            f"(it declares {', '.join(sorted(declared))})"
        )
    admission = gate.admit(execution_name, forced=request.Trigger is None)
    if admission.outcome != "admitted":
        ledger.record_once(
            f"RETRAIN#{admission.holder}" if admission.outcome == "joined" else f"PROJECT#{config.project}",
            f"{admission.outcome.upper()}#{now_iso()}#{execution_name}",
            kind=f"retrain-{admission.outcome}",
            execution=execution_name,
            reason=request.Reason,
            requested_by=request.RequestedBy,
            decision=admission.reason,
        )
        return {"Decision": admission.outcome, "Reason": admission.reason, "Holder": admission.holder}
    parameters = dict(request.PipelineParameters)
    if "InputDataUrl" in declared and "InputDataUrl" not in parameters:
        data = newest_data(s3, config.training_data_url)
        if data:
            parameters["InputDataUrl"] = data
    if "InputDataVersion" in declared and "InputDataVersion" not in parameters and "InputDataUrl" in parameters:
        version = data_version(s3, str(parameters["InputDataUrl"]))
        if version:
            parameters["InputDataVersion"] = version
    return {
        "Decision": "admitted",
        "Reason": admission.reason,
        "DisplayName": retrain_display_name(config.project, execution_name),
        "PipelineParameters": [
            {"Name": name, "Value": json.dumps(value) if isinstance(value, bool) else str(value)}
            for name, value in sorted(parameters.items())
        ],
        "InputDataUrl": str(parameters.get("InputDataUrl", "the pipeline's default")),
        "InputDataVersion": str(parameters.get("InputDataVersion", "the pipeline's default")),
    }


def read_bias(package: dict[str, Any], s3: Any) -> dict[str, float]:
    """The post-training bias a version was registered with (ModelMetrics.Bias.PostTrainingReport; empty if none)."""
    bias = (package.get("ModelMetrics") or {}).get("Bias") or {}
    uri = (bias.get("PostTrainingReport") or bias.get("Report") or {}).get("S3Uri")
    if not uri:
        return {}
    bucket, _, key = str(uri).removeprefix("s3://").partition("/")
    return registered_bias(json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read()))


def read_metrics(package: dict[str, Any], s3: Any) -> dict[str, float]:
    """The model quality metrics a version was registered with (empty when it has none)."""
    uri = ((package.get("ModelMetrics") or {}).get("ModelQuality") or {}).get("Statistics", {}).get("S3Uri")
    if not uri:
        return {}
    bucket, _, key = str(uri).removeprefix("s3://").partition("/")
    return metric_values(json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read()))


def registered_by(sagemaker: Any, group: str, execution_arn: str) -> dict[str, Any] | None:
    """The version the pipeline execution registered (MetadataProperties.GeneratedBy), newest first."""
    paginator = sagemaker.get_paginator("list_model_packages")
    pages = paginator.paginate(ModelPackageGroupName=group, SortBy="CreationTime", SortOrder="Descending")
    for page in pages:
        for summary in page.get("ModelPackageSummaryList", []):
            package = sagemaker.describe_model_package(ModelPackageName=summary["ModelPackageArn"])
            if (package.get("MetadataProperties") or {}).get("GeneratedBy") == execution_arn:
                return dict(package)
    return None


def approval_commands(package_arn: str) -> str:
    return (
        f"Approve: aws sagemaker update-model-package --model-package-arn {package_arn} "
        "--model-approval-status Approved | "
        f"Reject: aws sagemaker update-model-package --model-package-arn {package_arn} "
        '--model-approval-status Rejected --approval-description "<why>"'
    )


def assess(
    run: dict[str, Any], config: RetrainConfig, ledger: Ledger, *, sagemaker: Any, s3: Any, marker: str
) -> dict[str, Any]:
    """What a finished run means: retry it, or the retrain's outcome and the message people get."""
    arn = str(run["PipelineExecutionArn"])
    status = str(run["Status"])
    attempt = int(run["Attempt"])
    short = arn.rsplit("/", 1)[-1]
    if status != "Succeeded":
        steps = sagemaker.list_pipeline_execution_steps(PipelineExecutionArn=arn).get("PipelineExecutionSteps", [])
        step = failed_step(steps)
        verdict = judge_run(status, str(run.get("FailureReason") or ""), step, attempt, config.max_retries)
        where = f"step {step.name}: {step.reason}" if step else str(run.get("FailureReason") or "no reason given")
        if verdict == "retry":
            reason = f"attempt {attempt} failed at {where}"
            return {"Then": "retry", "Status": "Retrying", "Reason": reason, "Message": reason, "ModelPackageArn": ""}
        if verdict == "quality-gate":
            reason = f"the new model did not pass the quality gate: {where}"
            return finish("QualityGateNotMet", reason, f"Retrain: no new version. {reason} (run {short})")
        ended = "Stopped" if verdict == "stopped" else "Failed"
        tries = f" after {attempt} attempts" if attempt > 1 else ""
        reason = f"pipeline run {status}{tries} at {where}"
        return finish(ended, reason, f"Retrain {ended.lower()}: {reason} (run {short}, {arn})")
    package = registered_by(sagemaker, config.model_package_group, arn)
    if package is None:
        raise NoVersionRegistered(
            f"pipeline run {arn} succeeded but no version names it in MetadataProperties.GeneratedBy"
        )
    candidate_arn = str(package["ModelPackageArn"])
    tag_group(sagemaker, group_arn(candidate_arn, config.model_package_group), config.group_tags)
    live = ledger.get(f"ENDPOINT#{config.endpoint_name}", "LIVE")
    live_arn = str(live["model_package_arn"]) if live else ""
    live_package = sagemaker.describe_model_package(ModelPackageName=live_arn) if live_arn else {}
    candidate_metrics, live_metrics = read_metrics(package, s3), read_metrics(live_package, s3)
    comparison = Comparison(
        metric=config.key_metric,
        higher_is_better=config.higher_is_better,
        candidate=candidate_metrics.get(config.key_metric),
        live=live_metrics.get(config.key_metric),
        margin=config.auto_approve_margin,
    )
    version = candidate_arn.rsplit("/", 1)[-1]
    live_version = live_arn.rsplit("/", 1)[-1] if live_arn else "none"
    direction = "higher" if config.higher_is_better else "lower"
    table = "; ".join(side_by_side(candidate_metrics, live_metrics, config.key_metric))
    summary = (
        f"version {version} (run {short}) vs live version {live_version}, "
        f"{config.key_metric} is the key metric ({direction} is better): {table}"
    )
    status_now = str(package.get("ModelApprovalStatus"))
    unfair = config.bias_bands.outside(read_bias(package, s3))
    if unfair:
        summary += f"; registered bias outside the bands: {', '.join(unfair)}"
    if config.auto_approve and comparison.beats_live and not unfair and status_now == "PendingManualApproval":
        why = (
            f"{marker} auto-approved: {config.key_metric} {comparison.candidate:.4f} vs live "
            f"{comparison.live:.4f} beats it by at least {config.auto_approve_margin}"
        )
        sagemaker.update_model_package(
            ModelPackageArn=candidate_arn, ModelApprovalStatus="Approved", ApprovalDescription=why[:1024]
        )
        message = f"Retrain: {summary}. Auto-approved: the canary deployment starts. {approval_commands(candidate_arn)}"
        return finish("AutoApproved", why, message, candidate_arn)
    held = ""
    if config.auto_approve and unfair:
        held = " Not auto-approved: its registered bias is outside the bands (a person decides)."
    elif config.auto_approve:
        held = " Not auto-approved: it does not beat the live version by the margin."
    message = f"Retrain: new version awaits approval: {summary}.{held} {approval_commands(candidate_arn)}"
    return finish("Registered", f"version {version} registered, {status_now}", message, candidate_arn)


def finish(status: str, reason: str, message: str, package_arn: str = "") -> dict[str, Any]:
    return {
        "Then": "finish",
        "Status": status,
        "Reason": reason,
        "Message": message[:10000],
        "ModelPackageArn": package_arn,
    }
