"""Endpoint changes a workflow waits for: requested with a task token, completed by the endpoint's own event.

A workflow never polls the endpoint. It hands its task token to `request_change`, which records the
token in the ledger (ENDPOINT#<name> / WAIT) and then asks SageMaker for the change. When SageMaker
emits "SageMaker Endpoint State Change", `settle_change` completes the token, but only when
DescribeEndpoint agrees with the event (a late or duplicated event completes nothing). The event's
status comes normalised to DescribeEndpoint's spelling (events.EndpointStateChange).

A request may be a retry of one SageMaker already applied (its answer was lost: a timeout or a 5xx after
the change). SageMaker then refuses it ("Cannot create already existing endpoint", "Cannot update
in-progress endpoint"): when DescribeEndpoint shows this very change under way, the workflow waits for
its event as if the request had been answered; when it shows the change already made, the token is
completed at once. Only a change SageMaker really refused is reported as refused.

SageMaker also refuses a change while one of someone else's is under way (autoscaling changes capacity with
UpdateEndpointWeightsAndCapacities whenever it likes): that is EndpointBusy, which the workflows retry after a
while, a bounded number of times. And a wait is settled only by the change it asked for: an event whose
LastModifiedTime is before the request (another change ending) settles nothing, and a weights change is done
only when the endpoint's current weights are the ones asked for.

Updates keep each variant's current instance count (RetainAllVariantProperties, the weight excepted): without
it SageMaker provisions every variant at the config's initial count (botocore's sagemaker model, UpdateEndpoint),
and a variant autoscaled to N instances would drop to its initial count.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, Field

from .events import EndpointStateChange
from .ledger import Ledger, earlier, now_iso
from .reactions import Reaction
from .task_tokens import complete
from .transient import is_transient

WAIT_SK = "WAIT"
# Statuses in which SageMaker refuses a change: one is under way (botocore's sagemaker model, EndpointStatus).
BUSY = frozenset({"Creating", "Updating", "SystemUpdating", "RollingBack", "UpdateRollbackFailed"})
IN_PROGRESS = "Cannot update in-progress endpoint"  # SageMaker's refusal while another change is under way


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


class EndpointBusy(RuntimeError):
    """SageMaker refused the change because another change, not this workflow's, is under way: retry later."""


# The weight is not retained: the config says which variant takes the traffic.
RETAIN_ALL_BUT_WEIGHT = {
    "RetainAllVariantProperties": True,
    "ExcludeRetainedVariantProperties": [{"VariantPropertyType": "DesiredWeight"}],
}


@dataclass(frozen=True)
class Settlement:
    """How an endpoint event settles the waiting workflow: succeed, fail (error, cause), or leave it."""

    outcome: Literal["succeed", "fail", "wait"]
    reason: str
    error: str = ""


def succeeded_on(config: str) -> dict[str, str]:
    """What a waiting workflow is told when its endpoint change is done."""
    return {"EndpointStatus": "InService", "EndpointConfigName": config}


def _weights_match(requested: list[dict[str, Any]], variants: list[dict[str, Any]], prefix: str) -> bool:
    """Every requested variant's weight (and count, when asked) is the variant's `prefix` (Desired/Current) one."""
    by_name = {variant.get("VariantName"): variant for variant in variants}
    for want in requested:
        have = by_name.get(want.get("VariantName"))
        if have is None or float(have.get(f"{prefix}Weight", -1)) != float(want.get("DesiredWeight", -2)):
            return False
        count = want.get("DesiredInstanceCount")
        if count is not None and int(have.get(f"{prefix}InstanceCount", -1)) != int(count):
            return False
    return bool(requested)


def change_progress(request: ChangeRequest, described: dict[str, Any] | None) -> Literal["under-way", "done", "none"]:
    """How far DescribeEndpoint shows the requested change: under way, already made, or not this change at all."""
    if not described:
        return "none"
    status = described.get("EndpointStatus")
    config = described.get("EndpointConfigName")
    pending = (described.get("PendingDeploymentSummary") or {}).get("EndpointConfigName")
    if request.Action == "weights":
        variants = described.get("ProductionVariants") or []
        if status == "Updating" and _weights_match(request.Weights, variants, "Desired"):
            return "under-way"
        if status == "InService" and _weights_match(request.Weights, variants, "Current"):
            return "done"
        return "none"
    # While creating, the endpoint already names its config; while updating, the pending deployment does.
    heading_to = config if status == "Creating" else pending if status == "Updating" else None
    if heading_to == request.EndpointConfigName:
        return "under-way"
    if status == "InService" and config == request.EndpointConfigName:
        return "done"
    return "none"


def _ask(request: ChangeRequest, sagemaker: Any) -> None:
    if request.Action == "create":
        sagemaker.create_endpoint(
            EndpointName=request.EndpointName, EndpointConfigName=request.EndpointConfigName, Tags=request.Tags
        )
    elif request.Action == "update":
        sagemaker.update_endpoint(
            EndpointName=request.EndpointName, EndpointConfigName=request.EndpointConfigName, **RETAIN_ALL_BUT_WEIGHT
        )
    else:
        sagemaker.update_endpoint_weights_and_capacities(
            EndpointName=request.EndpointName, DesiredWeightsAndCapacities=request.Weights
        )


def request_change(request: ChangeRequest, sagemaker: Any, sfn: Any, ledger: Ledger) -> dict[str, str]:
    pk = f"ENDPOINT#{request.EndpointName}"
    ledger.put(
        pk,
        WAIT_SK,
        token=request.TaskToken,
        expected_config=request.EndpointConfigName,
        action=request.Action,
        weights=json.dumps(request.Weights),
        execution_arn=request.ExecutionArn,
        requested_at=now_iso(),
    )
    requested = {"requested": request.Action, "endpoint": request.EndpointName, "config": request.EndpointConfigName}
    try:
        _ask(request, sagemaker)
    except sagemaker.exceptions.ClientError as error:
        if is_transient(error):
            raise  # not a refusal: the workflow retries the change
        code = error.response.get("Error", {}).get("Code", "Unknown")
        message = error.response.get("Error", {}).get("Message", str(error))
        try:
            described = sagemaker.describe_endpoint(EndpointName=request.EndpointName)
        except sagemaker.exceptions.ClientError as describing:
            if is_transient(describing):
                raise
            described = None
        progress = change_progress(request, described)
        if progress == "under-way":  # an earlier try of this very request was applied: its event will come
            return {**requested, "already": "under way"}
        if progress == "done":  # ... and has already ended: nothing more will come for this token
            if ledger.mark_completed(pk, WAIT_SK, request.TaskToken, "succeed"):
                complete(sfn, request.TaskToken, output=succeeded_on(request.EndpointConfigName))
            return {**requested, "already": "done"}
        status = (described or {}).get("EndpointStatus")
        if status in BUSY or IN_PROGRESS in message:
            # (refused as in progress but InService by now: another change ended between the two calls; the
            # request itself was not applied, so it is retried like any other wait for a busy endpoint)
            busy = f"endpoint {request.EndpointName} is {status} with another change: {code}: {message}"
            raise EndpointBusy(busy) from None
        raise EndpointChangeRefused(f"{code}: {message}") from None
    return requested


def judge(
    event_status: str,
    event_config: str,
    described: dict[str, Any],
    expected_config: str,
    weights: list[dict[str, Any]] | None = None,
) -> Settlement:
    """The settlement an endpoint event brings, checked against DescribeEndpoint.

    weights: for a weights change, the weights asked for: done only when the endpoint's current ones are those.
    """
    status = described.get("EndpointStatus")
    config = described.get("EndpointConfigName")
    if status != event_status or config != event_config:
        return Settlement("wait", f"event says {event_status} on {event_config}, endpoint is {status} on {config}")
    if status == "Failed":
        return Settlement("fail", described.get("FailureReason") or "endpoint Failed", "EndpointFailed")
    if status != "InService":
        return Settlement("wait", f"endpoint is {status}")
    if (
        weights
        and config == expected_config
        and not _weights_match(weights, described.get("ProductionVariants") or [], "Current")
    ):
        if described.get("FailureReason"):
            return Settlement("fail", str(described["FailureReason"]), "EndpointUpdateFailed")
        return Settlement("wait", f"endpoint InService on {config} without the weights asked for")
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
    if earlier(change.LastModifiedTime, str(waiting.get("requested_at", ""))):
        another = "the event of a change before the one a workflow waits for"
        return Reaction(
            "recorded", f"{change.EndpointName} {change.EndpointStatus} at {change.LastModifiedTime}: {another}"
        )
    described = sagemaker.describe_endpoint(EndpointName=change.EndpointName)
    weights = json.loads(str(waiting.get("weights") or "[]")) if waiting.get("action") == "weights" else None
    settlement = judge(
        change.EndpointStatus, change.EndpointConfigName, described, str(waiting["expected_config"]), weights
    )
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
        told = complete(sfn, token, output=succeeded_on(change.EndpointConfigName))
    else:
        told = complete(sfn, token, error=settlement.error, cause=settlement.reason)
    if not told:
        if told_before:
            return already
        return Reaction("recorded", f"{change.EndpointName}: the waiting workflow is gone ({settlement.reason})")
    return Reaction("completed", f"{change.EndpointName}: {settlement.reason}", str(waiting.get("execution_arn")))
