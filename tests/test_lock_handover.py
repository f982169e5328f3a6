"""The endpoint lock's hand-over survives a retried release: the waiting deployment is told again."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sandbox import faults
from sandbox.world import register_version
from tests.conftest import SandboxWorld
from tests.test_canary import approve, ledger_item, run_of, wait_for_bake, wait_for_waiter


@dataclass(frozen=True)
class HandOverFailsOnce:
    """The canary function's SendTaskSuccess fails past the SDK's retries in the first ReleaseLock attempt."""

    def verdict(self, call: faults.Call) -> faults.Verdict | None:
        at = call.state
        where = (at.state_machine, at.state, at.attempt) if at else None
        told = (call.origin, call.service, call.operation) == ("function", "sfn", "SendTaskSuccess")
        return "throttle" if told and where == ("churn-deploy", "ReleaseLock", 1) else None


def states_entered(churn: SandboxWorld, execution_arn: str) -> list[str]:
    history = churn.client("stepfunctions").get_execution_history(executionArn=execution_arn, maxResults=1000)
    return [e["stateEnteredEventDetails"]["name"] for e in history["events"] if e["type"].endswith("StateEntered")]


def release_failures(churn: SandboxWorld, execution_arn: str) -> list[str]:
    history = churn.client("stepfunctions").get_execution_history(executionArn=execution_arn, maxResults=1000)
    errors, current = [], ""
    for event in history["events"]:
        if event["type"].endswith("StateEntered"):
            current = event["stateEnteredEventDetails"]["name"]
        elif event["type"] == "TaskFailed" and current == "ReleaseLock":
            errors.append(str(event["taskFailedEventDetails"].get("error", "")))
    return errors


def test_a_waiting_deployment_gets_the_endpoint_when_the_hand_over_is_retried(watched_churn: SandboxWorld) -> None:
    churn = watched_churn
    v3 = register_version(churn.sandbox, churn.stack, 3, "PendingManualApproval")
    approve(churn, churn.world.pending_version_arn)
    wait_for_bake(churn, 10)
    approve(churn, v3)
    wait_for_waiter(churn, 3)

    with faults.inject(HandOverFailsOnce()) as injection:
        churn.sandbox.settle()

    first, second = run_of(churn, 2), run_of(churn, 3)
    assert injection.injected, "the hand-over never failed"
    assert release_failures(churn, first["executionArn"]) == ["TransientAwsError"]
    assert first["status"] == "SUCCEEDED", first.get("cause")
    assert second["status"] == "SUCCEEDED", second.get("cause")
    assert "LeaseExpired" not in states_entered(churn, second["executionArn"]), "version 3 waited out the lease"
    assert churn.live_model_package() == v3
    lock: dict[str, Any] = ledger_item(churn, "LOCK")[0]
    assert not lock.get("holder")
