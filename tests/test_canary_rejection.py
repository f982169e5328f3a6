"""The canary function's "reject-candidate": the version is Rejected with the reason, cut to what the
registry keeps (UpdateModelPackage's ApprovalDescription: at most 1,024 characters)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from mlops.payloads import CANARY_PAYLOADS, InvalidPayload, check_payload
from mlops.registry import MAX_APPROVAL_DESCRIPTION, rejection_description
from mlops.settings import Settings, automation_marker
from tests.conftest import SandboxWorld, load_event

SETTINGS = Settings("churn", "churn-models", "churn-endpoint", "churn-pipeline", "churn-ledger", "unused")


def reject(churn: SandboxWorld, arn: str, reason: str) -> dict[str, Any]:
    payload = {**load_event("canary/reject-candidate.json"), "ModelPackageArn": arn, "Reason": reason}
    response = churn.client("lambda").invoke(FunctionName="churn-canary", Payload=json.dumps(payload).encode())
    answer: dict[str, Any] = json.loads(response["Payload"].read())
    assert "FunctionError" not in response, answer
    churn.sandbox.settle()
    return answer


def test_a_cause_of_32000_characters_rejects_the_version_with_its_start_within_1024(churn: SandboxWorld) -> None:
    reason = "CanaryStepFailed: step 10%: States.TaskFailed: " + "x" * 32_000
    arn = churn.world.pending_version_arn

    answer = reject(churn, arn, reason)

    version = churn.client("sagemaker").describe_model_package(ModelPackageName=arn)
    description = version["ApprovalDescription"]
    assert version["ModelApprovalStatus"] == "Rejected"
    assert len(description) <= MAX_APPROVAL_DESCRIPTION
    assert description.startswith(f"[churn automation] rolled back: {reason[:200]}")
    assert description.endswith("…")
    assert answer == {"Rejection": "rejected", "ApprovalDescription": description}

    again = reject(churn, arn, reason)  # a retried call

    assert again == {"Rejection": "already rejected", "ApprovalDescription": description}
    after = churn.client("sagemaker").describe_model_package(ModelPackageName=arn)
    assert (after["ModelApprovalStatus"], after["ApprovalDescription"]) == ("Rejected", description)


def test_a_version_a_reviewer_rejected_keeps_the_reviewers_description(churn: SandboxWorld) -> None:
    sagemaker = churn.client("sagemaker")
    arn = churn.world.pending_version_arn
    sagemaker.update_model_package(
        ModelPackageArn=arn, ModelApprovalStatus="Rejected", ApprovalDescription="fails the fairness review"
    )
    churn.sandbox.settle()

    assert reject(churn, arn, "CanaryAborted: rejected in the registry")["Rejection"] == "already rejected"
    version = sagemaker.describe_model_package(ModelPackageName=arn)
    assert (version["ModelApprovalStatus"], version["ApprovalDescription"]) == ("Rejected", "fails the fairness review")


def test_a_version_of_another_group_is_refused_before_any_call() -> None:
    payload = {
        **load_event("canary/reject-candidate.json"),
        "ModelPackageArn": "arn:aws:sagemaker:us-east-1:123456789012:model-package/fraud-models/2",
    }
    with pytest.raises(InvalidPayload, match="ModelPackageArn: Value error, is fraud-models, not this project's"):
        check_payload(payload, CANARY_PAYLOADS, SETTINGS, ("deploy", "rollback"))


def test_a_short_reason_is_kept_whole_on_one_line() -> None:
    assert rejection_description("churn", "AnalysisFailed: candidate latency\n200 ms\tvs live 20 ms") == (
        "[churn automation] rolled back: AnalysisFailed: candidate latency 200 ms vs live 20 ms"
    )


@pytest.mark.parametrize(
    "reason",
    [
        "é" * 5000,  # two bytes each in UTF-8
        "😀" * 5000,  # beyond the BMP: two UTF-16 units each
        "a" * 1000 + "😀" * 100,  # the cut falls among them
        "line\n" * 3000 + "\ud800",  # line breaks, and a lone surrogate from JSON text
        "a" * (MAX_APPROVAL_DESCRIPTION - len("[churn automation] rolled back: ")),  # exactly the limit
    ],
    ids=["accents", "emoji", "cut-among-emoji", "lines-and-surrogate", "exactly-1024"],
)
def test_a_long_reason_is_cut_between_characters_and_says_so(reason: str) -> None:
    description = rejection_description("churn", reason)

    units = len(description.encode("utf-16-le")) // 2  # encodes: no lone surrogate is left
    assert len(description) <= units <= MAX_APPROVAL_DESCRIPTION
    assert description.startswith(f"{automation_marker('churn')} rolled back: ")
    assert "\n" not in description
    whole = f"[churn automation] rolled back: {reason}"
    assert description == whole if len(whole) <= MAX_APPROVAL_DESCRIPTION else description.endswith("…")
