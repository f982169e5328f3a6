"""The template's rules match AWS's documented events and miss the near misses.

Patterns come from the deployed stack (template.yaml with its parameters resolved); matching is
done by moto's EventBridge pattern engine, not by code written here.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest
from moto.events.models import EventPattern

from sandbox.core import ACCOUNT_ID, REGION, Sandbox, Stack
from tests.aws_shapes import (
    documented,
    pointed_alarm,
    pointed_endpoint,
    pointed_model_package,
    pointed_pipeline,
)
from tests.conftest import load_event

Patterns = dict[str, Any]  # moto's EventPattern of each rule (its matches_event is typed for moto's own events)

RULES = {
    "approval": "ApprovalFunctionModelVersionApproved",
    "alarm": "AlarmFunctionProjectAlarmStateChanged",
    "pipeline": "PipelineStatusFunctionPipelineExecutionStatusChanged",
    "endpoint": "EndpointStatusFunctionEndpointStateChanged",
}


@pytest.fixture(scope="module")
def patterns() -> Iterator[Patterns]:
    with Sandbox() as sandbox:
        stack: Stack = sandbox.deploy_stack("churn")
        events = sandbox.client("events")
        yield {
            key: EventPattern.load(events.describe_rule(Name=stack.resources[logical_id])["EventPattern"])
            for key, logical_id in RULES.items()
        }


def variant(event: dict[str, Any], **detail: Any) -> dict[str, Any]:
    changed = copy.deepcopy(event)
    changed["detail"].update(detail)
    return changed


def documented_approval(group: str = "churn-models") -> dict[str, Any]:
    return pointed_model_package(ACCOUNT_ID, REGION, group, 2, "Approved")


def documented_alarm(name: str) -> dict[str, Any]:
    return pointed_alarm(ACCOUNT_ID, REGION, name)


def documented_pipeline(pipeline: str) -> dict[str, Any]:
    return pointed_pipeline(f"arn:aws:sagemaker:{REGION}:{ACCOUNT_ID}:pipeline/{pipeline}/execution/p4jn9xou8a8s")


def documented_endpoint(endpoint: str) -> dict[str, Any]:
    return pointed_endpoint(ACCOUNT_ID, REGION, endpoint, f"{endpoint}-config")


def test_documented_events_of_this_project_match(patterns: Patterns) -> None:
    assert patterns["approval"].matches_event(documented_approval())
    assert patterns["approval"].matches_event(variant(documented_approval(), ModelApprovalStatus="Rejected"))
    assert patterns["alarm"].matches_event(documented_alarm("churn-drift-feature-tenure"))
    assert patterns["alarm"].matches_event(documented_alarm("churn-canary-5xx-Green"))
    assert patterns["alarm"].matches_event(documented_alarm("churn-latency-by-hand"))
    assert patterns["pipeline"].matches_event(documented_pipeline("churn-pipeline"))
    assert patterns["endpoint"].matches_event(documented_endpoint("churn-endpoint"))


def test_documented_events_as_aws_gives_them_are_not_ours(patterns: Patterns) -> None:
    assert not patterns["approval"].matches_event(documented("model-package-state-change.json"))
    assert not patterns["alarm"].matches_event(documented("cloudwatch-alarm-state-change.json"))
    assert not patterns["pipeline"].matches_event(documented("pipeline-execution-status-change.json"))
    assert not patterns["endpoint"].matches_event(documented("endpoint-state-change.json"))
    others = (
        "endpoint-deployment-state-change.json",
        "pipeline-execution-step-status-change.json",
        "scheduled-event.json",
    )
    for other in others:
        assert not any(pattern.matches_event(documented(other)) for pattern in patterns.values()), other


@pytest.mark.parametrize(
    ("rule", "near_miss"),
    [
        ("approval", lambda: documented_approval("fraud-models")),
        ("approval", lambda: variant(documented_approval(), ModelApprovalStatus="PendingManualApproval")),
        ("approval", lambda: variant(documented_approval(), ModelPackageStatus="InProgress")),
        ("approval", lambda: {**documented_approval(), "detail-type": "SageMaker Model Package Group State Change"}),
        ("approval", lambda: {**documented_approval(), "source": "custom.sagemaker"}),
        ("alarm", lambda: documented_alarm("fraud-canary-5xx-Green")),
        ("alarm", lambda: documented_alarm("churnx-drift-feature-tenure")),
        ("alarm", lambda: documented_alarm("team-churn-drift")),
        (
            "alarm",
            lambda: {**documented_alarm("churn-drift-x"), "detail-type": "CloudWatch Alarm Configuration Change"},
        ),
        ("endpoint", lambda: documented_endpoint("fraud-endpoint")),
        ("endpoint", lambda: documented_endpoint("churn-endpoint-2")),
        (
            "endpoint",
            lambda: {
                **documented_endpoint("churn-endpoint"),
                "detail-type": "SageMaker Endpoint Deployment State Change",
            },
        ),
        ("pipeline", lambda: documented_pipeline("fraud-pipeline")),
        ("pipeline", lambda: documented_pipeline("churn-pipeline-v2")),
        (
            "pipeline",
            lambda: {
                **documented_pipeline("churn-pipeline"),
                "detail-type": "SageMaker Model Building Pipeline Execution Step Status Change",
            },
        ),
    ],
)
def test_near_misses_do_not_match(patterns: Patterns, rule: str, near_miss: Any) -> None:
    assert not patterns[rule].matches_event(near_miss())


@pytest.mark.parametrize(
    ("rule", "event_file", "matches"),
    [
        ("approval", "approval/approved.json", True),
        ("approval", "approval/ignored-pending-approval.json", False),
        ("approval", "approval/ignored-other-group.json", False),
        ("alarm", "alarm/drift-alarm.json", True),
        ("alarm", "alarm/ignored-other-project.json", False),
        ("pipeline", "pipeline_status/failed.json", True),
        ("pipeline", "pipeline_status/ignored-other-pipeline.json", False),
        ("endpoint", "endpoint_status/in-service.json", True),
        ("endpoint", "endpoint_status/ignored-other-endpoint.json", False),
        ("approval", "endpoint_status/in-service.json", False),
    ],
)
def test_project_event_files_agree_with_the_rules(
    patterns: Patterns, rule: str, event_file: str, matches: bool
) -> None:
    assert patterns[rule].matches_event(load_event(event_file)) is matches
