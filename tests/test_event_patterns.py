"""The template's rules match AWS's documented events and miss the near misses.

Patterns come from the deployed stack (template.yaml with its parameters resolved); matching is
done by moto's EventBridge pattern engine, not by code written here.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import pytest
from moto.events.models import EventPattern

from sandbox.core import Sandbox, Stack
from tests.conftest import AWS_EVENTS, load_event

RULES = {
    "approval": "ApprovalFunctionModelVersionApproved",
    "alarm": "AlarmFunctionProjectAlarmStateChanged",
    "pipeline": "PipelineStatusFunctionPipelineExecutionStatusChanged",
    "endpoint": "EndpointStatusFunctionEndpointStateChanged",
}


@pytest.fixture(scope="module")
def patterns() -> Iterator[dict[str, EventPattern]]:
    with Sandbox() as sandbox:
        stack: Stack = sandbox.deploy_stack("churn")
        events = sandbox.client("events")
        yield {
            key: EventPattern.load(events.describe_rule(Name=stack.resources[logical_id])["EventPattern"])
            for key, logical_id in RULES.items()
        }


def reference(name: str) -> dict[str, Any]:
    path = AWS_EVENTS / name
    if not path.exists():
        pytest.skip(f"AWS's documented events are not beside this checkout ({path})")
    return json.loads(path.read_text())  # type: ignore[no-any-return]


def variant(event: dict[str, Any], **detail: Any) -> dict[str, Any]:
    changed = copy.deepcopy(event)
    changed["detail"].update(detail)
    return changed


def documented_approval() -> dict[str, Any]:
    arn = "arn:aws:sagemaker:us-east-2:123456789012:model-package/churn-models/2"
    return variant(
        reference("model-package-state-change.json"),
        ModelPackageGroupName="churn-models",
        ModelPackageArn=arn,
        ModelApprovalStatus="Approved",
    )


def documented_alarm(name: str) -> dict[str, Any]:
    return variant(reference("cloudwatch-alarm-state-change.json"), alarmName=name)


def documented_pipeline(pipeline: str) -> dict[str, Any]:
    arn = f"arn:aws:sagemaker:us-east-1:123456789012:pipeline/{pipeline}"
    return variant(
        reference("pipeline-execution-status-change.json"),
        pipelineArn=arn,
        pipelineExecutionArn=f"{arn}/execution/p4jn9xou8a8s",
    )


def test_documented_events_of_this_project_match(patterns: dict[str, EventPattern]) -> None:
    assert patterns["approval"].matches_event(documented_approval())
    assert patterns["approval"].matches_event(variant(documented_approval(), ModelApprovalStatus="Rejected"))
    assert patterns["alarm"].matches_event(documented_alarm("churn-drift-feature-tenure"))
    assert patterns["alarm"].matches_event(documented_alarm("churn-canary-5xx-Green"))
    assert patterns["alarm"].matches_event(documented_alarm("churn-latency-by-hand"))
    assert patterns["pipeline"].matches_event(documented_pipeline("churn-pipeline"))


def test_documented_events_as_aws_gives_them_are_not_ours(patterns: dict[str, EventPattern]) -> None:
    assert not patterns["approval"].matches_event(reference("model-package-state-change.json"))
    assert not patterns["alarm"].matches_event(reference("cloudwatch-alarm-state-change.json"))
    assert not patterns["pipeline"].matches_event(reference("pipeline-execution-status-change.json"))
    for other in ("endpoint-deployment-state-change.json", "pipeline-execution-step-status-change.json"):
        assert not any(pattern.matches_event(reference(other)) for pattern in patterns.values()), other


@pytest.mark.parametrize(
    ("rule", "near_miss"),
    [
        ("approval", lambda: variant(documented_approval(), ModelPackageGroupName="fraud-models")),
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
def test_near_misses_do_not_match(patterns: dict[str, EventPattern], rule: str, near_miss: Any) -> None:
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
    patterns: dict[str, EventPattern], rule: str, event_file: str, matches: bool
) -> None:
    assert patterns[rule].matches_event(load_event(event_file)) is matches
