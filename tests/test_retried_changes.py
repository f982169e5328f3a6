"""A retried change meets what its first try did: recognised as under way or done, never as refused; and the
endpoint event AWS documents settles the wait. Plain logic, no AWS."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mlops import creations
from mlops.endpoint_changes import ChangeRequest, EndpointBusy, change_progress, judge, request_change
from mlops.events import EndpointEvent, parse_event
from mlops.locks import LockConflict
from mlops.transient import TransientAwsError, transient_errors_named

DOCUMENTED_ENDPOINT_EVENT = Path(__file__).parent / "aws_events" / "endpoint-state-change.json"
PACKAGE = "arn:aws:sagemaker:us-east-1:123456789012:model-package/churn-models/3"


def request(action: str, config: str = "churn-v3-abc", weights: list[dict[str, Any]] | None = None) -> ChangeRequest:
    return ChangeRequest(
        Action=action,  # type: ignore[arg-type]
        EndpointName="churn-endpoint",
        EndpointConfigName=config,
        TaskToken="token",
        ExecutionArn="arn:aws:states:us-east-1:123456789012:execution:churn-deploy:x",
        Weights=weights or [],
    )


@pytest.mark.parametrize(
    ("action", "described", "progress"),
    [
        (
            "update",
            {
                "EndpointStatus": "Updating",
                "EndpointConfigName": "old",
                "PendingDeploymentSummary": {"EndpointConfigName": "churn-v3-abc"},
            },
            "under-way",
        ),
        (
            "update",
            {
                "EndpointStatus": "Updating",
                "EndpointConfigName": "old",
                "PendingDeploymentSummary": {"EndpointConfigName": "someone-else"},
            },
            "none",
        ),
        ("update", {"EndpointStatus": "Updating", "EndpointConfigName": "churn-v3-abc"}, "none"),
        ("update", {"EndpointStatus": "InService", "EndpointConfigName": "churn-v3-abc"}, "done"),
        ("update", {"EndpointStatus": "InService", "EndpointConfigName": "old"}, "none"),
        ("create", {"EndpointStatus": "Creating", "EndpointConfigName": "churn-v3-abc"}, "under-way"),
        ("create", {"EndpointStatus": "Failed", "EndpointConfigName": "churn-v3-abc"}, "none"),
        ("update", None, "none"),
    ],
)
def test_a_refused_config_change_is_recognised_by_what_describe_endpoint_shows(
    action: str, described: dict[str, Any] | None, progress: str
) -> None:
    assert change_progress(request(action), described) == progress


def test_a_refused_weights_change_is_recognised_by_the_desired_and_current_weights() -> None:
    weights = [{"VariantName": "Blue", "DesiredWeight": 0.5}, {"VariantName": "Green", "DesiredWeight": 0.5}]
    shifting = [
        {"VariantName": "Blue", "CurrentWeight": 0.1, "DesiredWeight": 0.5},
        {"VariantName": "Green", "CurrentWeight": 0.9, "DesiredWeight": 0.5},
    ]
    shifted = [{"VariantName": "Blue", "CurrentWeight": 0.5}, {"VariantName": "Green", "CurrentWeight": 0.5}]
    other = [{"VariantName": "Blue", "CurrentWeight": 0.1, "DesiredWeight": 1.0}, {"VariantName": "Green"}]
    change = request("weights", weights=weights)
    assert change_progress(change, {"EndpointStatus": "Updating", "ProductionVariants": shifting}) == "under-way"
    assert change_progress(change, {"EndpointStatus": "InService", "ProductionVariants": shifted}) == "done"
    assert change_progress(change, {"EndpointStatus": "Updating", "ProductionVariants": other}) == "none"


def test_the_documented_endpoint_event_settles_a_wait_described_in_the_apis_spelling() -> None:
    event = json.loads(DOCUMENTED_ENDPOINT_EVENT.read_text())
    change = parse_event(event, EndpointEvent).detail
    described = {"EndpointStatus": "InService", "EndpointConfigName": change.EndpointConfigName}

    settlement = judge(change.EndpointStatus, change.EndpointConfigName, described, change.EndpointConfigName)

    assert settlement.outcome == "succeed", settlement.reason


def test_a_model_or_config_made_from_the_same_request_is_recognised() -> None:
    assert creations.model_difference({"Containers": [{"ModelPackageName": PACKAGE}]}, PACKAGE) is None
    assert creations.model_difference({"PrimaryContainer": {"ModelPackageName": PACKAGE}}, PACKAGE) is None
    assert "not" in str(creations.model_difference({"Containers": [{"ModelPackageName": PACKAGE[:-1] + "2"}]}, PACKAGE))
    asked = [
        {
            "VariantName": "Blue",
            "ModelName": "m3",
            "InstanceType": "ml.m5.large",
            "InitialInstanceCount": 1,
            "InitialVariantWeight": 0,
        }
    ]
    held = {"ProductionVariants": [{**asked[0], "InitialVariantWeight": 0.0}]}
    assert creations.config_difference(held, asked) is None
    other = {"ProductionVariants": [{**asked[0], "ModelName": "m2"}]}
    assert "ModelName m2, not m3" in str(creations.config_difference(other, asked))
    assert "variants" in str(creations.config_difference({"ProductionVariants": []}, asked))


def test_a_conflict_leaves_a_workflow_step_under_the_name_the_workflows_retry() -> None:
    """Step Functions names a function's error by its class: a LockConflict must not arrive as LockConflict."""
    with pytest.raises(TransientAwsError) as raised, transient_errors_named():
        raise LockConflict("the lock kept changing; try again")
    assert type(raised.value) is TransientAwsError
    assert "LockConflict" in str(raised.value)


def test_a_change_refused_while_another_ended_in_between_is_retried_not_refused() -> None:
    """Autoscaling's change is under way when the weights change is asked for ("Cannot update in-progress
    endpoint") and has ended by the time DescribeEndpoint answers (InService): the request was not applied, the
    endpoint is free again: EndpointBusy (retried by the workflow), not EndpointChangeRefused (the end)."""
    import boto3
    from botocore.stub import Stubber

    sagemaker = boto3.client("sagemaker", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    arn = "arn:aws:sagemaker:us-east-1:123456789012:endpoint/churn-endpoint"
    weights = [{"VariantName": "Blue", "DesiredWeight": 0.9}, {"VariantName": "Green", "DesiredWeight": 0.1}]
    with Stubber(sagemaker) as stub:
        stub.add_client_error(
            "update_endpoint_weights_and_capacities",
            service_error_code="ValidationException",
            service_message=f'Cannot update in-progress endpoint "{arn}".',
        )
        stub.add_response(
            "describe_endpoint",
            {
                "EndpointName": "churn-endpoint",
                "EndpointArn": arn,
                "EndpointConfigName": "churn-v1",
                "EndpointStatus": "InService",
                "CreationTime": "2026-12-03T10:00:00Z",
                "LastModifiedTime": "2026-12-03T10:05:00Z",
                "ProductionVariants": [
                    {"VariantName": "Blue", "CurrentWeight": 1.0, "DesiredWeight": 1.0},
                    {"VariantName": "Green", "CurrentWeight": 0.0, "DesiredWeight": 0.0},
                ],
            },
        )
        request = ChangeRequest(
            Action="weights",
            EndpointName="churn-endpoint",
            EndpointConfigName="churn-v1",
            Weights=weights,
            TaskToken="token",
            ExecutionArn="arn:aws:states:us-east-1:123456789012:execution:churn-deploy:x",
        )

        class Ledger:
            def put(self, *args: Any, **kwargs: Any) -> None:
                pass

        with pytest.raises(EndpointBusy, match="in-progress"):
            request_change(request, sagemaker, sfn=None, ledger=Ledger())  # type: ignore[arg-type]
