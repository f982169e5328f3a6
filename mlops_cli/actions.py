"""The actions: approve, reject, rollback, retrain, abort. Each checks its input before it changes anything, says
what it started and, with --wait, waits for that to end.

approve/reject change the version's status in the model registry, as a person in SageMaker Studio would: the
automation reacts to the registry's event (an approval deploys; a rejection of the live version rolls it back,
of a candidate aborts its canary). rollback and retrain start their workflows with the documented inputs
(docs/try-it.md). abort records an abort request for the running canary or shadow in the ledger and ends its
waiting bake, the same two writes a guard alarm's abort makes (functions/mlops/bakes.py).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from .aws import Clients, UsageError
from .project import Project
from .records import endpoint_pk, entry, live, version_arn, version_number
from .status import collect as collect_status

MAX_REASON = 1000  # the workflows' Reason limit (retrain); ApprovalDescription takes 1,024 (botocore)
WAIT_SECONDS = 3600.0
START_SECONDS = 20.0  # how long an approval's or a rejection's workflow may take to start (EventBridge -> Lambda)


def _reason(text: str) -> str:
    text = text.strip()
    if not text:
        raise UsageError("--reason must say why (it is kept in the registry and the ledger)")
    if len(text) > MAX_REASON:
        raise UsageError(f"--reason is {len(text)} characters long: at most {MAX_REASON}")
    return text


def requested_by(clients: Clients) -> str:
    """Who runs the command: the caller's IAM identity (STS GetCallerIdentity), for the ledger."""
    try:
        return str(clients("sts").get_caller_identity()["Arn"])
    except Exception:  # credentials that cannot name themselves still may act
        return "mlops command line"


def _execution_name(action: str) -> str:
    return f"mlops-{action}-{datetime.now(UTC).strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:8]}"


def _start(clients: Clients, project: Project, workflow: str, action: str, payload: dict[str, Any]) -> str:
    started = clients("stepfunctions").start_execution(
        stateMachineArn=project.workflow(workflow), name=_execution_name(action), input=json.dumps(payload)
    )
    return str(started["executionArn"])


def ended(clients: Clients, execution_arn: str, timeout: float = WAIT_SECONDS, interval: float = 1.0) -> dict[str, Any]:
    """Wait for a workflow execution to end; its status and the Outcome it reports."""
    deadline = time.monotonic() + timeout
    while True:
        described = clients("stepfunctions").describe_execution(executionArn=execution_arn)
        if described["status"] != "RUNNING" or time.monotonic() > deadline:
            break
        time.sleep(interval)
    output = json.loads(described.get("output") or "{}")
    outcome = output.get("Outcome", output) if isinstance(output, dict) else None  # {"Status", "Reason"}
    outcome = outcome if isinstance(outcome, dict) else {}
    return {
        "Execution": execution_arn,
        "Status": described["status"],
        "Outcome": outcome.get("Status"),
        "Detail": outcome.get("Reason") or described.get("cause") or described.get("error"),
    }


def _started_since(clients: Clients, workflow_arn: str, since: datetime, arn: str | None) -> str | None:
    """A workflow execution started at or after `since` (about `arn` when given), waited for a little while."""
    deadline = time.monotonic() + START_SECONDS
    while True:
        page = clients("stepfunctions").list_executions(stateMachineArn=workflow_arn, maxResults=20)
        for execution in sorted(page["executions"], key=lambda e: e["startDate"]):
            if execution["startDate"] < since:
                continue
            if arn is None:
                return str(execution["executionArn"])
            described = clients("stepfunctions").describe_execution(executionArn=execution["executionArn"])
            if json.loads(described.get("input") or "{}").get("ModelPackageArn") == arn:
                return str(execution["executionArn"])
        if time.monotonic() > deadline:
            return None
        time.sleep(0.5)


def _result(action: str, data: dict[str, Any], lines: list[str], waited: dict[str, Any] | None) -> Any:
    from .main import Result

    code = 0
    if waited:
        data["Ended"] = waited
        lines.append(
            f"ended {waited['Status']}"
            + (f" {waited['Outcome']}" if waited["Outcome"] else "")
            + (f": {waited['Detail']}" if waited["Detail"] else "")
        )
        code = 0 if waited["Status"] == "SUCCEEDED" else 1
    return Result({"Action": action, **data}, "\n".join(lines), code)


def _described(clients: Clients, arn: str) -> dict[str, Any]:
    return dict(clients("sagemaker").describe_model_package(ModelPackageName=arn))


def _since() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _checked(args: argparse.Namespace, clients: Clients, project: Project, target: str) -> tuple[str, str, str]:
    """(reason, version ARN, its status) for a change of the version's status to `target`, refused when it has it."""
    reason = _reason(args.reason)
    arn = version_arn(clients, project, args.version)
    status = str(_described(clients, arn)["ModelApprovalStatus"])
    if status == target:
        again = ": to deploy it again, mlops rollback --to" if target == "Approved" else ""
        raise UsageError(f"version {version_number(arn)} is {target} already{again}")
    return reason, arn, status


def _set_status(clients: Clients, arn: str, status: str, target: str, reason: str) -> list[str]:
    clients("sagemaker").update_model_package(
        ModelPackageArn=arn, ModelApprovalStatus=target, ApprovalDescription=reason
    )
    return [f"version {version_number(arn)}: {status} -> {target} ({reason})"]


def approve(args: argparse.Namespace, clients: Clients, project: Project) -> Any:
    reason, arn, status = _checked(args, clients, project, "Approved")
    since = _since()
    lines = _set_status(clients, arn, status, "Approved", reason)
    execution = _started_since(clients, project.workflow("deploy"), since, arn)
    lines.append(f"deploy workflow: {execution}" if execution else "the deploy workflow has not started yet")
    waited = ended(clients, execution) if execution and args.wait else None
    return _result("approve", {"ModelPackageArn": arn, "Previous": status, "Execution": execution}, lines, waited)


def reject(args: argparse.Namespace, clients: Clients, project: Project) -> Any:
    reason, arn, status = _checked(args, clients, project, "Rejected")
    current = live(clients, project) or {}
    deploying = collect_status(clients, project)["Deployment"]
    since = _since()
    lines = _set_status(clients, arn, status, "Rejected", reason)
    execution = None
    if current.get("model_package_arn") == arn:
        execution = _started_since(clients, project.workflow("rollback"), since, None)
        lines.append(f"it was live: rollback workflow {execution}" if execution else "it was live: rollback pending")
    elif deploying and deploying.get("ModelPackageArn") == arn:
        execution = str(deploying["Execution"])
        lines.append(f"its deployment {deploying['ExecutionName']} is aborted")
    waited = ended(clients, execution) if execution and args.wait else None
    return _result("reject", {"ModelPackageArn": arn, "Previous": status, "Execution": execution}, lines, waited)


def rollback(args: argparse.Namespace, clients: Clients, project: Project) -> Any:
    reason = _reason(args.reason)
    current = live(clients, project)
    if not current:
        raise UsageError(f"nothing of project {project.name} is live on {project.endpoint}: nothing to roll back")
    payload: dict[str, Any] = {"Reason": reason, "RequestedBy": requested_by(clients)}
    if args.to_version:
        arn = version_arn(clients, project, args.to_version)
        status = _described(clients, arn)["ModelApprovalStatus"]
        if status != "Approved":
            raise UsageError(f"version {version_number(arn)} is {status}: only an Approved version can be restored")
        if arn == current.get("model_package_arn"):
            raise UsageError(f"version {version_number(arn)} is live already")
        payload["ModelPackageArn"] = arn
    else:
        if not current.get("previous_model_package_arn") and not current.get("previous_endpoint_config_name"):
            raise UsageError("the ledger records no previous version: name one with --to")
        payload["EndpointName"] = project.endpoint
    execution = _start(clients, project, "rollback", "rollback", payload)
    target = version_number(str(payload.get("ModelPackageArn") or current.get("previous_model_package_arn") or ""))
    lines = [f"rollback to version {target} from {version_number(str(current.get('model_package_arn')))}: {execution}"]
    waited = ended(clients, execution) if args.wait else None
    return _result("rollback", {"Execution": execution, "Input": payload}, lines, waited)


def retrain(args: argparse.Namespace, clients: Clients, project: Project) -> Any:
    reason = _reason(args.reason)
    payload = {"Reason": reason, "RequestedBy": requested_by(clients)}
    execution = _start(clients, project, "retrain", "retrain", payload)
    waited = ended(clients, execution) if args.wait else None
    return _result("retrain", {"Execution": execution, "Input": payload}, [f"retrain workflow: {execution}"], waited)


def abort(args: argparse.Namespace, clients: Clients, project: Project) -> Any:
    reason = _reason(args.reason)
    deploying = collect_status(clients, project)["Deployment"]
    if not deploying:
        raise UsageError(f"no canary or shadow in progress on {project.endpoint}: nothing to abort")
    name = str(deploying["ExecutionName"])
    pk = endpoint_pk(project)
    dynamodb = clients("dynamodb")
    now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    # ENDPOINT#<endpoint> / ABORT#<execution name>: the workflow reads it at every step boundary; asked before,
    # the first reason stands
    with contextlib.suppress(dynamodb.exceptions.ConditionalCheckFailedException):
        dynamodb.put_item(
            TableName=project.ledger,
            Item={
                "pk": {"S": pk},
                "sk": {"S": f"ABORT#{name}"},
                "kind": {"S": "abort-request"},
                "reason": {"S": f"{reason} (by {requested_by(clients)})"},
                "recorded_at": {"S": now},
            },
            ConditionExpression="attribute_not_exists(pk)",
        )
    ended_bake = _end_bake(clients, project, name, reason)
    lines = [
        f"abort requested for {name} (version {deploying['Version']}, {deploying['Strategy']})",
        "its bake was ended now" if ended_bake else "it stops at its next step",
    ]
    execution = str(deploying["Execution"])
    waited = ended(clients, execution) if args.wait else None
    return _result("abort", {"Execution": execution, "BakeEnded": ended_bake}, lines, waited)


def _end_bake(clients: Clients, project: Project, execution_name: str, reason: str) -> bool:
    """Complete the waiting bake's task token with {"Abort": reason}, once (marked in the ledger first)."""
    pk = endpoint_pk(project)
    bake = entry(clients, project, pk, "BAKE")
    if not bake or bake.get("execution_name") != execution_name or bake.get("completed_at"):
        return False
    dynamodb = clients("dynamodb")
    token = str(bake["token"])
    try:
        dynamodb.update_item(
            TableName=project.ledger,
            Key={"pk": {"S": pk}, "sk": {"S": "BAKE"}},
            UpdateExpression="SET completed_at = :now, outcome = :outcome",
            ConditionExpression="#token = :token AND attribute_not_exists(completed_at)",
            ExpressionAttributeNames={"#token": "token"},
            ExpressionAttributeValues={
                ":now": {"S": datetime.now(UTC).isoformat()},
                ":outcome": {"S": "abort"},
                ":token": {"S": token},
            },
        )
    except dynamodb.exceptions.ConditionalCheckFailedException:
        return False
    sfn = clients("stepfunctions")
    try:
        sfn.send_task_success(taskToken=token, output=json.dumps({"Abort": reason}))
    except (sfn.exceptions.TaskTimedOut, sfn.exceptions.InvalidToken):
        return False
    return True
