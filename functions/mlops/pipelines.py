"""Status changes of this project's SageMaker pipeline executions, and the retrains waiting for them.

A retrain workflow never polls its pipeline run. For each attempt it hands its task token to
`await_run`, which keeps it in the ledger (PIPELINE#<execution ARN> / WAIT, with the attempt).
When "SageMaker Model Building Pipeline Execution Status Change" reports an end (Succeeded, Failed,
Stopped) that DescribePipelineExecution confirms, `react_to_pipeline_status` records it as
TERMINAL#<end time>: the n-th such record is the outcome of attempt n (a retried execution keeps its
ARN; a duplicate or stale event adds nothing). Both sides write first and read the other's record
after, and completing the token is a conditional write, so exactly one of them tells the workflow,
whichever comes first. Runs nobody here started (their display name does not begin with
"<project>-retrain") that fail or stop are reported on the notification topic; nothing retries them.
"""

from __future__ import annotations

import re
from typing import Any

from .events import PipelineExecutionStatusChange, UnknownResource
from .ledger import Ledger, now_iso
from .reactions import Reaction
from .retrain_rules import failed_step
from .settings import Settings
from .task_tokens import complete

WAIT_SK = "WAIT"
TERMINAL_PREFIX = "TERMINAL#"
ENDED = ("Succeeded", "Failed", "Stopped")


def pipeline_name(pipeline_arn: str) -> str:
    return pipeline_arn.rsplit("/", 1)[-1]


def retrain_display_name(project: str, execution_name: str) -> str:
    """The display name a retrain gives its pipeline run: how runs are told apart.

    SageMaker accepts `[a-zA-Z0-9](-*[a-zA-Z0-9]){0,81}` (botocore's sagemaker model, PipelineExecutionName),
    while the execution name may hold `_` (from an alarm's name): anything else becomes `-`.
    """
    return re.sub(r"[^a-zA-Z0-9-]+", "-", f"{project}-retrain-{execution_name}")[:82].strip("-")


def started_by_retrain(display_name: str | None, project: str) -> bool:
    return bool(display_name and display_name.startswith(f"{project}-retrain-"))


def execution_pk(execution_arn: str) -> str:
    return f"PIPELINE#{execution_arn}"


def recorded_ends(ledger: Ledger, execution_arn: str) -> list[dict[str, object]]:
    """The ends of this execution's runs, oldest first: the n-th is attempt n's."""
    return [e for e in ledger.entries(execution_pk(execution_arn)) if str(e["sk"]).startswith(TERMINAL_PREFIX)]


def outcome_of_attempt(ends: list[dict[str, object]], execution_arn: str, attempt: int) -> dict[str, Any] | None:
    """The recorded end of the attempt-th run of this execution, if it has ended."""
    if len(ends) < attempt:
        return None
    end = ends[attempt - 1]
    return {
        "PipelineExecutionArn": execution_arn,
        "Attempt": attempt,
        "Status": end["status"],
        "FailureReason": end.get("failure_reason", ""),
    }


def _tell_workflow(ledger: Ledger, sfn: Any, execution_arn: str, outcome: dict[str, Any]) -> bool:
    """Complete the waiting token if it waits for this attempt; True when this call completed it."""
    pk = execution_pk(execution_arn)
    waiting = ledger.get(pk, WAIT_SK)
    if not waiting or int(str(waiting.get("attempt", 0))) != outcome["Attempt"]:
        return False
    token = str(waiting["token"])
    if waiting.get("completed_at"):
        # marked, then maybe cut off before the token was completed: completing it again is harmless
        # (Step Functions takes one completion per token; the others answer TaskTimedOut)
        return waiting.get("outcome") == outcome["Status"] and complete(sfn, token, output=outcome)
    if not ledger.mark_completed(pk, WAIT_SK, token, str(outcome["Status"])):
        return False
    return complete(sfn, token, output=outcome)


def await_run(
    execution_arn: str, attempt: int, token: str, workflow_execution: str, ledger: Ledger, sfn: Any
) -> dict[str, Any]:
    """Keep the workflow's token for this attempt; tell it at once if the run has already ended."""
    ledger.put(
        execution_pk(execution_arn),
        WAIT_SK,
        token=token,
        attempt=attempt,
        execution_arn=workflow_execution,
        requested_at=now_iso(),
    )
    outcome = outcome_of_attempt(recorded_ends(ledger, execution_arn), execution_arn, attempt)
    if outcome and _tell_workflow(ledger, sfn, execution_arn, outcome):
        return {"Waiting": "no", "Told": outcome["Status"]}
    return {"Waiting": "yes", "Attempt": attempt}


def console_link(execution_arn: str) -> str:
    region = execution_arn.split(":")[3]
    pipeline, _, execution_id = execution_arn.split(":pipeline/", 1)[1].partition("/execution/")
    return (
        f"https://{region}.console.aws.amazon.com/sagemaker/home?region={region}"
        f"#/pipelines/{pipeline}/executions/{execution_id}"
    )


def failure_report(execution_arn: str, status: str, reason: str, steps: list[dict[str, Any]]) -> str:
    step = failed_step(steps)
    where = f"step {step.name}: {step.reason}" if step else (reason or "no reason given")
    return (
        f"Pipeline run {execution_arn.rsplit('/', 1)[-1]} {status}. Failed {where}. "
        f"Started outside the retrain workflow: nothing retries it. | {console_link(execution_arn)} | "
        f"aws sagemaker list-pipeline-execution-steps --pipeline-execution-arn {execution_arn}"
    )


def described_run(sagemaker: Any, execution_arn: str) -> dict[str, Any]:
    """DescribePipelineExecution; UnknownResource when SageMaker has no such run (before anything is recorded)."""
    try:
        return dict(sagemaker.describe_pipeline_execution(PipelineExecutionArn=execution_arn))
    except sagemaker.exceptions.ClientError as error:
        details = error.response.get("Error", {})
        if details.get("Code") not in ("ResourceNotFound", "ValidationException"):
            raise
        raise UnknownResource(
            f"pipeline execution {execution_arn} does not exist: {details.get('Message', '')}"
        ) from None


def react_to_pipeline_status(
    change: PipelineExecutionStatusChange,
    event_id: str,
    settings: Settings,
    ledger: Ledger,
    sagemaker: Any = None,
    sfn: Any = None,
    sns: Any = None,
) -> Reaction:
    name = pipeline_name(change.pipelineArn)
    if name != settings.pipeline_name.lower():
        return Reaction("ignored", f"pipeline {name} is not this project's pipeline {settings.pipeline_name}")
    arn = change.pipelineExecutionArn
    described = described_run(sagemaker, arn) if sagemaker is not None else None
    status = change.currentPipelineExecutionStatus
    moment = change.executionEndTime or change.executionStartTime or "unknown"
    first = ledger.record_once(
        execution_pk(arn),
        f"STATUS#{status}#{moment}",
        kind="pipeline-status",
        status=status,
        previous_status=change.previousPipelineExecutionStatus,
        display_name=change.pipelineExecutionDisplayName,
        event_id=event_id,
    )
    if not first and status not in ENDED:  # an end goes on: its delivery may have stopped before telling anyone
        return Reaction("duplicate", f"{arn} {status} already recorded")
    short = arn.rsplit("/", 1)[-1]
    if status not in ENDED or described is None:
        return Reaction("recorded", f"pipeline execution {short} is {status}")
    if described.get("PipelineExecutionStatus") != status:
        now = described.get("PipelineExecutionStatus")
        return Reaction("recorded", f"pipeline execution {short}: event says {status}, it is {now} (stale event)")
    reason = str(described.get("FailureReason") or "")
    ledger.record_once(execution_pk(arn), f"{TERMINAL_PREFIX}{moment}", status=status, failure_reason=reason)
    ends = recorded_ends(ledger, arn)
    attempt = 1 + [e["sk"] for e in ends].index(f"{TERMINAL_PREFIX}{moment}")
    if started_by_retrain(change.pipelineExecutionDisplayName, settings.project_name):
        outcome = outcome_of_attempt(ends, arn, attempt) or {}
        if outcome and _tell_workflow(ledger, sfn, arn, outcome):
            return Reaction("completed", f"pipeline execution {short} {status} (attempt {attempt}): retrain told")
        return Reaction("recorded", f"pipeline execution {short} {status} (attempt {attempt})")
    if status == "Succeeded" or sns is None:
        return Reaction("recorded", f"pipeline execution {short} {status}, started outside the retrain workflow")
    steps = sagemaker.list_pipeline_execution_steps(PipelineExecutionArn=arn).get("PipelineExecutionSteps", [])
    report = publish_report_once(ledger, sns, settings, arn, moment, status, failure_report(arn, status, reason, steps))
    return Reaction("recorded", f"pipeline execution {short} {status}, reported: {report.split(' | ')[0]}")


def publish_report_once(
    ledger: Ledger, sns: Any, settings: Settings, execution_arn: str, moment: str, status: str, report: str
) -> str:
    """Publish the report unless a delivery of this end already did; returns the report as recorded.

    The report is recorded as not yet published, published, then marked published: a delivery that died
    in between left it unpublished, and the redelivery publishes it. A death after the publish but before
    the mark (or two deliveries of the end at the same moment) publishes it twice: at least once, never lost.
    """
    pk, sk = execution_pk(execution_arn), f"REPORTED#{moment}"
    if not ledger.record_once(pk, sk, kind="pipeline-failure-report", report=report, published=False):
        recorded = ledger.get(pk, sk) or {}
        report = str(recorded.get("report", report))
        if recorded.get("published") is not False:  # published (an entry without the flag was published first)
            return report
    sns.publish(
        TopicArn=settings.notification_topic_arn,
        Subject=f"[{settings.project_name}] pipeline run {status}"[:100],
        Message=report,
        MessageAttributes={"outcome": {"DataType": "String", "StringValue": f"Pipeline{status}"}},
    )
    ledger.annotate(pk, sk, published=True, published_at=now_iso())
    return report
