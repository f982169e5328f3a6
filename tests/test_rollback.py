"""Rollback: by hand (previous version or a named approved one), and when a version is rejected."""

from __future__ import annotations

import json
from typing import Any

from tests.conftest import SandboxWorld
from tests.test_canary import approve, run_of, wait_for_bake


def rollbacks(churn: SandboxWorld) -> list[dict[str, Any]]:
    return churn.executions("RollbackStateMachineArn")


def start_rollback(churn: SandboxWorld, name: str, payload: dict[str, str]) -> dict[str, Any]:
    sfn = churn.client("stepfunctions")
    run = sfn.start_execution(
        stateMachineArn=churn.stack.outputs["RollbackStateMachineArn"], name=name, input=json.dumps(payload)
    )
    churn.sandbox.settle()
    return dict(sfn.describe_execution(executionArn=run["executionArn"]))


def reject(churn: SandboxWorld, arn: str, why: str) -> None:
    churn.client("sagemaker").update_model_package(
        ModelPackageArn=arn, ModelApprovalStatus="Rejected", ApprovalDescription=why
    )


def test_rejecting_the_live_version_rolls_back_to_the_previous_one(churn: SandboxWorld) -> None:
    approve(churn, churn.world.pending_version_arn)
    churn.sandbox.settle()
    assert churn.live_model_package() == churn.world.pending_version_arn

    reject(churn, churn.world.pending_version_arn, "biased against new customers")
    churn.sandbox.settle()

    [run] = rollbacks(churn)
    assert run["status"] == "SUCCEEDED", run.get("cause")
    assert churn.live_model_package() == churn.world.live_version_arn
    [record] = [e for e in churn.ledger(f"ENDPOINT#{churn.stack.endpoint_name}") if e["sk"].startswith("ROLLBACK#")]
    assert record["requested_by"] == "model registry rejection"
    assert "biased against new customers" in record["reason"]


def test_rejecting_the_candidate_of_a_running_canary_aborts_it(watched_churn: SandboxWorld) -> None:
    churn = watched_churn
    approve(churn, churn.world.pending_version_arn)
    wait_for_bake(churn, 10)

    reject(churn, churn.world.pending_version_arn, "wrong training data")
    churn.sandbox.settle()

    run = run_of(churn, 2)
    assert (run["status"], run["error"]) == ("FAILED", "RolledBack")
    assert "wrong training data" in run["cause"]
    assert churn.live_model_package() == churn.world.live_version_arn
    assert rollbacks(churn) == []  # the canary rolled itself back; nothing else started


def test_a_rejection_made_by_the_automation_itself_does_nothing(watched_churn: SandboxWorld) -> None:
    churn = watched_churn
    approve(churn, churn.world.pending_version_arn)
    bake = wait_for_bake(churn, 10)
    churn.client("cloudwatch").set_alarm_state(
        AlarmName=f"churn-canary-5xx-{bake['candidate_variant']}", StateValue="ALARM", StateReason="x"
    )
    churn.sandbox.settle()

    rejected = [
        i.result
        for i in churn.sandbox.state.invocations
        if i.function_name == "churn-approval" and i.event["detail"]["ModelApprovalStatus"] == "Rejected"
    ]
    assert rejected and all(r["action"] == "ignored" for r in rejected)
    assert rollbacks(churn) == []


def test_rollback_by_hand_to_a_named_approved_version(churn: SandboxWorld) -> None:
    approve(churn, churn.world.pending_version_arn)
    churn.sandbox.settle()

    result = start_rollback(
        churn, "back-to-v1", {"ModelPackageArn": churn.world.live_version_arn, "Reason": "v2 is slow"}
    )

    assert result["status"] == "SUCCEEDED", result.get("cause")
    assert churn.live_model_package() == churn.world.live_version_arn


def test_rollback_to_a_version_not_approved_changes_nothing(churn: SandboxWorld) -> None:
    config_before = churn.client("sagemaker").describe_endpoint(EndpointName=churn.stack.endpoint_name)[
        "EndpointConfigName"
    ]

    result = start_rollback(churn, "to-pending", {"ModelPackageArn": churn.world.pending_version_arn})

    assert (result["status"], result["error"]) == ("FAILED", "NotApproved")
    assert (
        churn.client("sagemaker").describe_endpoint(EndpointName=churn.stack.endpoint_name)["EndpointConfigName"]
        == config_before
    )


def test_rollback_with_no_previous_version_leaves_the_endpoint_untouched(churn: SandboxWorld) -> None:
    result = start_rollback(churn, "nothing-before", {"EndpointName": churn.stack.endpoint_name})

    assert (result["status"], result["error"]) == ("FAILED", "NoPreviousVersion")
    assert churn.live_model_package() == churn.world.live_version_arn


def test_rollback_of_another_endpoint_is_refused(churn: SandboxWorld) -> None:
    result = start_rollback(churn, "wrong-endpoint", {"EndpointName": "fraud-endpoint"})

    assert (result["status"], result["error"]) == ("FAILED", "InvalidInput")
