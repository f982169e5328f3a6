"""Bakes and aborts: the canary waits at each traffic step, and an alarm or a rejection pulls it back.

The running canary is recorded as ENDPOINT#<name> / CANARY (execution, candidate variant). A bake stores
its task token as ENDPOINT#<name> / BAKE; an abort request is ENDPOINT#<name> / ABORT#<execution name>.
The workflow checks the abort request at every step boundary, and a bake that is waiting is completed at
once with {"Abort": reason}, so an alarm between two steps is not lost either.
"""

from __future__ import annotations

from typing import Any

from .ledger import Ledger, earlier, now_iso
from .task_tokens import complete

CANARY_SK = "CANARY"
BAKE_SK = "BAKE"


def abort_sk(execution_name: str) -> str:
    return f"ABORT#{execution_name}"


def guard_alarms(cloudwatch: Any, project: str, variant: str) -> list[str]:
    """The candidate's guard alarms: <project>-canary-<metric>-<variant>, including the ones users add."""
    names: list[str] = []
    for page in cloudwatch.get_paginator("describe_alarms").paginate(AlarmNamePrefix=f"{project}-canary-"):
        names += [a["AlarmName"] for a in page["MetricAlarms"] if a["AlarmName"].endswith(f"-{variant}")]
    return names


def reset_guards(cloudwatch: Any, project: str, variant: str) -> list[str]:
    """Before traffic shifts to the candidate, its guards start from OK (a stale ALARM would abort at once)."""
    names = guard_alarms(cloudwatch, project, variant)
    for name in names:
        cloudwatch.set_alarm_state(
            AlarmName=name, StateValue="OK", StateReason=f"reset before shifting traffic to {variant}"
        )
    return names


def start_bake(
    endpoint: str, execution_name: str, variant: str, percent: int, token: str, ledger: Ledger, sfn: Any
) -> str:
    """Record the waiting bake (its task token) and end it at once if an abort was requested.

    started_at is this bake's start; step_started_at the step's, which the analysis window starts from.
    An extension of an inconclusive bake (or a retried call) comes back with the same execution, candidate
    and percent, and keeps the step's start: the extensions add up. The steps' percents increase strictly
    (mlops.canary.parse_steps), so another percent, candidate or execution is a new step, a new window.
    """
    pk = f"ENDPOINT#{endpoint}"
    abort = ledger.get(pk, abort_sk(execution_name))
    now = now_iso()
    previous = ledger.get(pk, BAKE_SK) or {}
    same_step = (previous.get("execution_name"), previous.get("candidate_variant"), previous.get("percent")) == (
        execution_name,
        variant,
        percent,
    )
    step_started_at = str(previous.get("step_started_at") or previous.get("started_at") or now) if same_step else now
    ledger.put(
        pk,
        BAKE_SK,
        token=token,
        execution_name=execution_name,
        candidate_variant=variant,
        percent=percent,
        started_at=now,
        step_started_at=step_started_at,
    )
    if abort:
        complete_bake(endpoint, execution_name, str(abort["reason"]), ledger, sfn)
        return "aborted"
    return "baking"


def complete_bake(endpoint: str, execution_name: str, reason: str, ledger: Ledger, sfn: Any) -> bool:
    """End the waiting bake of this execution with an abort; False when none waits."""
    bake = ledger.get(f"ENDPOINT#{endpoint}", BAKE_SK)
    if not bake or bake.get("execution_name") != execution_name:
        return False
    token = str(bake["token"])
    if bake.get("completed_at"):
        # marked by a delivery that may have died before telling the workflow: telling it again is
        # harmless (Step Functions takes one completion per token, the others answer TaskTimedOut)
        return bake.get("outcome") == "abort" and complete(sfn, token, output={"Abort": reason})
    if not ledger.mark_completed(f"ENDPOINT#{endpoint}", BAKE_SK, token, "abort"):
        return False
    # False when the bake had already ended: the next step boundary sees the abort request.
    return complete(sfn, token, output={"Abort": reason})


def request_abort(
    endpoint: str, variant: str, reason: str, ledger: Ledger, sfn: Any, changed_at: str | None = None
) -> str | None:
    """Abort the running canary whose candidate is `variant`; returns its execution name, or None.

    changed_at: when the alarm went to ALARM. A change from before the canary started, delivered late
    (EventBridge retries for up to a day and keeps no order), says nothing of the candidate: its guards
    were reset to OK before it took traffic, and fire again if it misbehaves.
    """
    canary = ledger.get(f"ENDPOINT#{endpoint}", CANARY_SK)
    lock = ledger.get(f"ENDPOINT#{endpoint}", "LOCK")
    if not canary or canary.get("candidate_variant") != variant:
        return None
    if not lock or lock.get("holder") != canary.get("execution_arn"):
        return None  # that canary has finished
    if changed_at and earlier(changed_at, str(canary.get("started_at", ""))):
        return None
    execution_name = str(canary["execution_name"])
    ledger.record_once(f"ENDPOINT#{endpoint}", abort_sk(execution_name), kind="abort-request", reason=reason)
    complete_bake(endpoint, execution_name, reason, ledger, sfn)
    return execution_name
