"""Endpoint changes a workflow waits for: requested with a task token, completed by the endpoint's own event.

A workflow never polls the endpoint. It hands its task token to `request_change`, which records the
token in the ledger (ENDPOINT#<name> / WAIT) and then asks SageMaker for the change. When SageMaker
emits "SageMaker Endpoint State Change", `settle_change` completes the token, but only when
DescribeEndpoint agrees with the event (a late or duplicated event completes nothing).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, Field

from .events import EndpointStateChange
from .ledger import Ledger, now_iso
from .reactions import Reaction
from .task_tokens import complete
from .transient import is_transient

WAIT_SK = "WAIT"


class ChangeRequest(BaseModel):
    """What a workflow's waitForTaskToken task sends to the endpoint-update function."""

    Action: Literal["create", "update", "weights"]
    EndpointName: str = Field(min_length=1)
    EndpointConfigName: str = Field(min_length=1)
    TaskToken: str = Field(min_length=1)
    ExecutionArn: str = Field(min_length=1)
    Weights: list[dict[str, Any]] = Field(default_factory=list)
    Tags: list[dict[str, str]] = Field(default_factory=list)


class EndpointChangeRefused(RuntimeError):
    """SageMaker refused the change; the message carries its error code and reason."""


@dataclass(frozen=True)
class Settlement:
    """How an endpoint event settles the waiting workflow: succeed, fail (error, cause), or leave it."""

    outcome: Literal["succeed", "fail", "wait"]
    reason: str
    error: str = ""


def request_change(request: ChangeRequest, sagemaker: Any, ledger: Ledger) -> dict[str, str]:
    ledger.put(
        f"ENDPOINT#{request.EndpointName}",
        WAIT_SK,
        token=request.TaskToken,
        expected_config=request.EndpointConfigName,
        action=request.Action,
        execution_arn=request.ExecutionArn,
        requested_at=now_iso(),
    )
    try:
        if request.Action == "create":
            sagemaker.create_endpoint(
                EndpointName=request.EndpointName, EndpointConfigName=request.EndpointConfigName, Tags=request.Tags
            )
        elif request.Action == "update":
            sagemaker.update_endpoint(EndpointName=request.EndpointName, EndpointConfigName=request.EndpointConfigName)
        else:
            sagemaker.update_endpoint_weights_and_capacities(
                EndpointName=request.EndpointName, DesiredWeightsAndCapacities=request.Weights
            )
    except sagemaker.exceptions.ClientError as error:
        if is_transient(error):
            raise  # not a refusal: the workflow retries the change
        code = error.response.get("Error", {}).get("Code", "Unknown")
        message = error.response.get("Error", {}).get("Message", str(error))
        raise EndpointChangeRefused(f"{code}: {message}") from None
    return {"requested": request.Action, "endpoint": request.EndpointName, "config": request.EndpointConfigName}


def judge(event_status: str, event_config: str, described: dict[str, Any], expected_config: str) -> Settlement:
    """The settlement an endpoint event brings, checked against DescribeEndpoint."""
    status = described.get("EndpointStatus")
    config = described.get("EndpointConfigName")
    if status != event_status or config != event_config:
        return Settlement("wait", f"event says {event_status} on {event_config}, endpoint is {status} on {config}")
    if status == "Failed":
        return Settlement("fail", described.get("FailureReason") or "endpoint Failed", "EndpointFailed")
    if status != "InService":
        return Settlement("wait", f"endpoint is {status}")
    if config != expected_config:
        reason = described.get("FailureReason") or f"endpoint is InService on {config}, not {expected_config}"
        return Settlement("fail", reason, "EndpointUpdateFailed")
    return Settlement("succeed", f"endpoint InService on {config}")


def settle_change(change: EndpointStateChange, event_id: str, sagemaker: Any, sfn: Any, ledger: Ledger) -> Reaction:
    pk = f"ENDPOINT#{change.EndpointName}"
    ledger.record_once(
        pk,
        f"STATE#{change.LastModifiedTime}#{change.EndpointStatus}",
        kind="endpoint-state",
        status=change.EndpointStatus,
        endpoint_config_name=change.EndpointConfigName,
        event_id=event_id,
    )
    waiting = ledger.get(pk, WAIT_SK)
    if not waiting:
        return Reaction("recorded", f"{change.EndpointName} {change.EndpointStatus}; no workflow waits")
    described = sagemaker.describe_endpoint(EndpointName=change.EndpointName)
    settlement = judge(change.EndpointStatus, change.EndpointConfigName, described, str(waiting["expected_config"]))
    if settlement.outcome == "wait":
        return Reaction("recorded", f"{change.EndpointName}: {settlement.reason}")
    token = str(waiting["token"])
    told_before = bool(waiting.get("completed_at"))
    already = Reaction("duplicate", f"{change.EndpointName}: the waiting workflow was already told")
    if told_before and waiting.get("outcome") != settlement.outcome:
        return already
    # Marked by a delivery that may have died before telling the workflow: telling it again is harmless
    # (Step Functions takes one completion per token, the others answer TaskTimedOut).
    if not told_before and not ledger.mark_completed(pk, WAIT_SK, token, settlement.outcome):
        return already
    if settlement.outcome == "succeed":
        told = complete(
            sfn, token, output={"EndpointStatus": "InService", "EndpointConfigName": change.EndpointConfigName}
        )
    else:
        told = complete(sfn, token, error=settlement.error, cause=settlement.reason)
    if not told:
        if told_before:
            return already
        return Reaction("recorded", f"{change.EndpointName}: the waiting workflow is gone ({settlement.reason})")
    return Reaction("completed", f"{change.EndpointName}: {settlement.reason}", str(waiting.get("execution_arn")))
