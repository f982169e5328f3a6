"""The plain decisions behind the handlers, without AWS."""

from __future__ import annotations

import pytest

from mlops.alarms import alarm_role
from mlops.deployments import deployment_input, execution_name, why_not_deploy
from mlops.endpoint_changes import judge
from mlops.events import MalformedEvent, ModelPackageEvent, ModelPackageStateChange, parse_event
from mlops.settings import Settings
from tests.conftest import load_event

SETTINGS = Settings(
    project_name="churn",
    model_package_group_name="churn-models",
    endpoint_name="churn-endpoint",
    pipeline_name="churn-pipeline",
    ledger_table_name="churn-ledger",
    rejected_events_queue_url="https://sqs.us-east-1.amazonaws.com/123456789012/churn-rejected-events",
)


def change(**overrides: object) -> ModelPackageStateChange:
    return parse_event(load_event("approval/approved.json"), ModelPackageEvent).detail.model_copy(update=overrides)


def test_execution_name_is_deterministic_per_approval_and_fits_80_characters() -> None:
    first = change()
    assert execution_name(first) == execution_name(change())
    assert execution_name(first) != execution_name(change(LastModifiedTime="2026-11-21T09:00:00Z"))
    huge = change(
        ModelPackageVersion=10**12,
        ModelPackageArn="arn:aws:sagemaker:us-east-1:123456789012:model-package/" + "g" * 63 + "/1",
    )
    assert len(execution_name(huge)) <= 80


def test_duplicates_give_identical_workflow_input() -> None:
    assert deployment_input(change()) == deployment_input(change())


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({}, None),
        (
            {"ModelPackageGroupName": "fraud-models"},
            "model package group fraud-models is not this project's group churn-models",
        ),
        ({"ModelApprovalStatus": "Rejected"}, "version 2 is Rejected, not Approved"),
        ({"ModelPackageStatus": "Failed"}, "version 2 is Failed, not Completed"),
    ],
)
def test_why_not_deploy(overrides: dict[str, str], reason: str | None) -> None:
    assert why_not_deploy(change(**overrides), SETTINGS) == reason


@pytest.mark.parametrize(
    ("name", "role"),
    [
        ("churn-canary-5xx-Green", "canary"),
        ("churn-drift-feature-tenure", "drift"),
        ("churn-latency-p99", "other"),
        ("churnx-drift-feature", None),
        ("fraud-canary-5xx-Blue", None),
    ],
)
def test_alarm_role(name: str, role: str | None) -> None:
    assert alarm_role(name, "churn") == role


def test_a_malformed_event_is_described_field_by_field() -> None:
    with pytest.raises(MalformedEvent) as raised:
        parse_event(load_event("approval/malformed-missing-arn.json"), ModelPackageEvent)
    message = str(raised.value)
    assert "detail.ModelPackageArn: Field required" in message
    assert "detail.ModelPackageVersion" in message
    assert "\n" not in message


def test_a_non_object_event_is_malformed() -> None:
    with pytest.raises(MalformedEvent, match="not a JSON object"):
        parse_event(["not", "an", "event"], ModelPackageEvent)


@pytest.mark.parametrize(
    ("event", "described", "expected"),
    [
        (("InService", "v2"), {"EndpointStatus": "InService", "EndpointConfigName": "v2"}, ("succeed", "")),
        (("InService", "v1"), {"EndpointStatus": "Updating", "EndpointConfigName": "v1"}, ("wait", "")),
        (("Updating", "v1"), {"EndpointStatus": "Updating", "EndpointConfigName": "v1"}, ("wait", "")),
        (
            ("InService", "v1"),
            {"EndpointStatus": "InService", "EndpointConfigName": "v1", "FailureReason": "capacity"},
            ("fail", "EndpointUpdateFailed"),
        ),
        (
            ("Failed", "v2"),
            {"EndpointStatus": "Failed", "EndpointConfigName": "v2", "FailureReason": "image pull"},
            ("fail", "EndpointFailed"),
        ),
    ],
    ids=["in-service-as-expected", "stale-event", "still-updating", "update-rolled-back", "failed"],
)
def test_an_endpoint_event_settles_the_wait_only_when_describe_agrees(
    event: tuple[str, str], described: dict[str, str], expected: tuple[str, str]
) -> None:
    settlement = judge(event[0], event[1], described, expected_config="v2")
    assert (settlement.outcome, settlement.error) == expected


def test_the_approver_is_the_last_modifier_of_the_version() -> None:
    from mlops.deployments import approver

    by_studio_user = {"LastModifiedBy": {"UserProfileName": "jane", "DomainId": "d-1"}}
    by_iam = {"LastModifiedBy": {"IamIdentity": {"Arn": "arn:aws:sts::123456789012:assumed-role/reviewer/jane"}}}
    assert approver(by_studio_user) == "jane"
    assert approver(by_iam) == "arn:aws:sts::123456789012:assumed-role/reviewer/jane"
    assert approver({}) == "unknown"
