"""The model registry, written by the deploy workflow: a candidate rolled back for what it did is Rejected,
with why, signed "[<project> automation]" so that the approval function ignores the state change."""

from __future__ import annotations

import re
from typing import Any

from .settings import Settings, automation_marker

MAX_APPROVAL_DESCRIPTION = 1024  # UpdateModelPackage's ApprovalDescription (botocore's sagemaker model)
CUT = "…"
# Line breaks and other control characters: the description's pattern is ".*", one line. Lone surrogates
# (possible in JSON text) cannot be encoded for the request.
_NOT_ONE_LINE = re.compile(r"[\s\x00-\x1f\x7f-\x9f]+")
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


class ForeignVersion(ValueError):
    """The version is not in this project's model package group: this automation leaves it alone."""


def _utf16_units(text: str) -> int:
    """Length as a UTF-16 string counts it (a character beyond the BMP counts twice): never more than AWS's."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def rejection_description(project: str, reason: str, limit: int = MAX_APPROVAL_DESCRIPTION) -> str:
    """`[<project> automation] rolled back: <reason>` on one line, at most `limit` characters: a longer
    reason is cut between two characters and ends with "…"."""
    flat = _LONE_SURROGATE.sub("\ufffd", _NOT_ONE_LINE.sub(" ", reason)).strip()
    text = f"{automation_marker(project)} rolled back: {flat}"
    if _utf16_units(text) <= limit:
        return text
    kept = text[: limit - len(CUT)]
    while _utf16_units(kept) > limit - len(CUT):
        kept = kept[:-1]
    return kept.rstrip() + CUT


def reject_candidate(sagemaker: Any, arn: str, reason: str, settings: Settings) -> dict[str, str]:
    """Reject the version with the reason it was rolled back (the approval function knows the signature
    and ignores the state change). A version already Rejected stays as it is, its description with it (a
    reviewer's rejection asked for the rollback; a retried call finds its own): calling again is harmless."""
    described = sagemaker.describe_model_package(ModelPackageName=arn)
    group = str(described.get("ModelPackageGroupName") or "")
    if group != settings.model_package_group_name:
        raise ForeignVersion(
            f"{arn} is in model package group {group or 'none'}, not {settings.model_package_group_name}"
        )
    if described.get("ModelApprovalStatus") == "Rejected":
        return {"Rejection": "already rejected", "ApprovalDescription": str(described.get("ApprovalDescription", ""))}
    description = rejection_description(settings.project_name, reason)
    sagemaker.update_model_package(ModelPackageArn=arn, ModelApprovalStatus="Rejected", ApprovalDescription=description)
    return {"Rejection": "rejected", "ApprovalDescription": description}
