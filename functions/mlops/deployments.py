"""Registry decisions -> workflows.

An approval starts one deploy execution per approval state change. A rejection of the live version
starts a rollback; a rejection of the candidate of a running canary aborts it; a rejection this system
made itself (its approval description starts with "[<project> automation]") does nothing.
"""

from __future__ import annotations

import hashlib
from typing import Any

from .bakes import request_abort
from .canary import REGISTRY_APPROVAL
from .events import ModelPackageStateChange, UnknownResource
from .executions import start_once
from .ledger import Ledger
from .reactions import Reaction
from .settings import Settings, automation_marker

MAX_EXECUTION_NAME = 80


def execution_name(change: ModelPackageStateChange) -> str:
    """Deterministic per approval state change (same version, same LastModifiedTime), at most 80 characters."""
    digest = hashlib.sha256(f"{change.ModelPackageArn}|{change.LastModifiedTime}".encode()).hexdigest()[:16]
    name = f"approved-v{change.ModelPackageVersion}-{digest}"
    assert len(name) <= MAX_EXECUTION_NAME
    return name


def why_not_deploy(change: ModelPackageStateChange, settings: Settings) -> str | None:
    """The reason this state change must not start a deployment, or None when it must."""
    if change.ModelPackageGroupName != settings.model_package_group_name:
        return (
            f"model package group {change.ModelPackageGroupName} is not this project's group "
            f"{settings.model_package_group_name}"
        )
    if change.ModelPackageStatus != "Completed":
        return f"version {change.ModelPackageVersion} is {change.ModelPackageStatus}, not Completed"
    if change.ModelApprovalStatus != "Approved":
        return f"version {change.ModelPackageVersion} is {change.ModelApprovalStatus}, not Approved"
    return None


def rollback_name(change: ModelPackageStateChange) -> str:
    digest = hashlib.sha256(f"{change.ModelPackageArn}|{change.LastModifiedTime}".encode()).hexdigest()[:16]
    return f"rejected-v{change.ModelPackageVersion}-{digest}"


def react_to_rejection(
    change: ModelPackageStateChange, event_id: str, settings: Settings, sfn: Any, sagemaker: Any, ledger: Ledger
) -> Reaction:
    version = change.ModelPackageVersion
    if change.ModelPackageGroupName != settings.model_package_group_name:
        return Reaction("ignored", f"model package group {change.ModelPackageGroupName} is not this project's")
    endpoint = f"ENDPOINT#{settings.endpoint_name}"
    live = ledger.get(endpoint, "LIVE")
    canary = ledger.get(endpoint, "CANARY")
    is_live = bool(live and live.get("model_package_arn") == change.ModelPackageArn)
    is_candidate = bool(canary and canary.get("model_package_arn") == change.ModelPackageArn)
    if not (is_live or is_candidate):
        return Reaction("ignored", f"version {version} is neither live nor in a running canary")
    described = sagemaker.describe_model_package(ModelPackageName=change.ModelPackageArn)
    description = str(described.get("ApprovalDescription") or "")
    if description.startswith(automation_marker(settings.project_name)):
        return Reaction("ignored", f"version {version} was rejected by this automation itself")
    reason = f"version {version} rejected in the model registry: {description or 'no description'}"
    if is_live:
        payload = {"EndpointName": settings.endpoint_name, "Reason": reason, "RequestedBy": "model registry rejection"}
        execution_arn, started = start_once(sfn, settings.rollback_state_machine_arn, rollback_name(change), payload)
        return Reaction(
            "started" if started else "duplicate", f"rolling back the live version {version}", execution_arn
        )
    assert canary is not None
    aborted = request_abort(settings.endpoint_name, str(canary["candidate_variant"]), reason, ledger, sfn)
    if aborted:
        return Reaction("aborted", f"canary {aborted} of version {version} aborted: {reason}")
    return Reaction("ignored", f"version {version} is neither live nor in a running canary")


def approver(described: dict[str, Any]) -> str:
    """Who last changed the version (its approval): LastModifiedBy of DescribeModelPackage."""
    by = described.get("LastModifiedBy") or {}
    identity = by.get("IamIdentity") or {}
    return str(by.get("UserProfileName") or identity.get("Arn") or identity.get("PrincipalId") or "unknown")


def registered_version(sagemaker: Any, arn: str) -> dict[str, Any]:
    """DescribeModelPackage; UnknownResource when the registry has no such version (nothing to deploy)."""
    try:
        return dict(sagemaker.describe_model_package(ModelPackageName=arn))
    except sagemaker.exceptions.ClientError as error:
        details = error.response.get("Error", {})
        if details.get("Code") not in ("ValidationException", "ResourceNotFound"):
            raise
        raise UnknownResource(f"version {arn} is not in the model registry: {details.get('Message', '')}") from None


def deployment_input(change: ModelPackageStateChange, approved_by: str = "unknown") -> dict[str, str]:
    """The deploy workflow's input; identical for duplicates so that StartExecution stays idempotent."""
    return {
        "ModelPackageArn": change.ModelPackageArn,
        "Reason": f"version {change.ModelPackageVersion} approved in the model registry at {change.LastModifiedTime}",
        "RequestedBy": REGISTRY_APPROVAL,
        "ApprovedBy": approved_by,
    }


def react_to_approval(
    change: ModelPackageStateChange, event_id: str, settings: Settings, sfn: Any, ledger: Ledger, sagemaker: Any
) -> Reaction:
    reason = why_not_deploy(change, settings)
    if reason:
        return Reaction("ignored", reason)
    name = execution_name(change)
    approved_by = approver(registered_version(sagemaker, change.ModelPackageArn))
    execution_arn, _ = start_once(sfn, settings.deploy_state_machine_arn, name, deployment_input(change, approved_by))
    pk, sk = f"APPROVAL#{change.ModelPackageArn}", f"CHANGE#{change.LastModifiedTime}"
    first = ledger.record_once(
        pk,
        sk,
        kind="approval",
        model_package_arn=change.ModelPackageArn,
        model_package_version=change.ModelPackageVersion,
        execution_arn=execution_arn,
        event_id=event_id,
    )
    if not first:
        count = ledger.count_duplicate(pk, sk)
        return Reaction(
            "duplicate",
            f"approval of version {change.ModelPackageVersion} already handled ({count} duplicates)",
            execution_arn,
        )
    return Reaction("started", f"deploying version {change.ModelPackageVersion}", execution_arn)
