"""Retraining a project's model: who may start one, and what a finished pipeline run means.

One retrain per project at a time, a cooldown after each and a daily cap, kept in one ledger item
(PROJECT#<project> / RETRAIN-GATE) changed only by conditional writes on its revision. A drift alarm
that arrives while a retrain runs joins it; one that arrives during the cooldown or past the cap is
held back; both are recorded, never dropped silently. A retrain started by hand is not held back by
the cooldown or the cap (someone decided), but it still joins a running one.

A finished pipeline run is judged from DescribePipelineExecution and ListPipelineExecutionSteps:
the quality gate's fail step (QualityGateNotMet, never retried), a transient failure (retried up to a
limit), any other failure or a stop (Failed), or success (compare the version it registered with the
live one on the project's key metric).
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Literal

from .transient import TransientAwsError

GATE_SK = "RETRAIN-GATE"

TRANSIENT = re.compile(
    r"throttl|capacityerror|insufficient ?capacity|unable to provision|internal ?(server ?)?(error|failure)"
    r"|service ?unavailable|please (re)?try|rate exceeded|slow ?down",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class GateState:
    revision: int = 0
    holder: str = ""  # the retrain workflow execution running now
    lease_until: int = 0
    last_finished: int = 0  # epoch seconds: the cooldown runs from here
    day: str = ""  # UTC day that `started_today` counts
    started_today: int = 0


@dataclass(frozen=True)
class Admission:
    state: GateState
    outcome: Literal["admitted", "joined", "held"]
    reason: str
    holder: str = ""


@dataclass(frozen=True)
class GatePolicy:
    cooldown_seconds: int
    daily_cap: int
    lease_seconds: int


def policy_from_env() -> GatePolicy:
    timeout = int(os.environ.get("PIPELINE_TIMEOUT_SECONDS", "86400"))
    attempts = 1 + int(os.environ.get("MAX_PIPELINE_RETRIES", "2"))
    return GatePolicy(
        cooldown_seconds=int(os.environ.get("RETRAIN_COOLDOWN_SECONDS", "21600")),
        daily_cap=int(os.environ.get("MAX_RETRAINS_PER_DAY", "3")),
        # a retrain that died without releasing the gate frees it after its longest possible run
        lease_seconds=timeout * attempts + 3600,
    )


def utc_day(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d")


def utc_iso(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def decide_admission(state: GateState, execution: str, now: int, policy: GatePolicy, *, forced: bool) -> Admission:
    """Whether the retrain `execution` may run now; `forced` (a person asked) skips cooldown and cap."""
    if state.holder == execution:
        return Admission(state, "admitted", "already admitted", execution)
    if state.holder and state.lease_until >= now:
        return Admission(state, "joined", f"retrain {state.holder} is running", state.holder)
    day = utc_day(now)
    started = state.started_today if state.day == day else 0
    if not forced:
        ready_at = state.last_finished + policy.cooldown_seconds
        if state.last_finished and now < ready_at:
            return Admission(
                state,
                "held",
                f"cooldown: the last retrain ended at {utc_iso(state.last_finished)}; "
                f"the next may start at {utc_iso(ready_at)}",
            )
        if started >= policy.daily_cap:
            return Admission(state, "held", f"daily cap: {started} retrains started on {day} (cap {policy.daily_cap})")
    admitted = GateState(
        state.revision + 1, execution, now + policy.lease_seconds, state.last_finished, day, started + 1
    )
    return Admission(admitted, "admitted", f"retrain {started + 1} of {day}", execution)


def decide_release(state: GateState, execution: str, now: int) -> GateState | None:
    """The gate after `execution` ends (the cooldown starts now); None when it does not hold it."""
    if state.holder != execution:
        return None
    return replace(state, revision=state.revision + 1, holder="", lease_until=0, last_finished=now)


class GateConflict(TransientAwsError):
    """Another request changed the gate first; the caller retries with a fresh read (and the workflow
    retries the step when that keeps happening)."""


class RetrainGate:
    """The gate's item in the ledger table."""

    def __init__(self, dynamodb: Any, table: str, project: str, policy: GatePolicy) -> None:
        self._dynamodb = dynamodb
        self._table = table
        self._key = {"pk": {"S": f"PROJECT#{project}"}, "sk": {"S": GATE_SK}}
        self.policy = policy

    def read(self) -> GateState:
        item = self._dynamodb.get_item(TableName=self._table, Key=self._key, ConsistentRead=True).get("Item", {})
        text = {k: next(iter(v.values())) for k, v in item.items()}
        return GateState(
            revision=int(text.get("revision", 0)),
            holder=text.get("holder", ""),
            lease_until=int(text.get("lease_until", 0)),
            last_finished=int(text.get("last_finished", 0)),
            day=text.get("day", ""),
            started_today=int(text.get("started_today", 0)),
        )

    def _write(self, before: GateState, after: GateState) -> None:
        item = dict(self._key)
        for name, value in vars(after).items():
            item[name] = {"N": str(value)} if isinstance(value, int) else {"S": value}
        condition = "attribute_not_exists(pk)" if before.revision == 0 else "revision = :revision"
        extra = (
            {} if before.revision == 0 else {"ExpressionAttributeValues": {":revision": {"N": str(before.revision)}}}
        )
        try:
            self._dynamodb.put_item(TableName=self._table, Item=item, ConditionExpression=condition, **extra)
        except self._dynamodb.exceptions.ConditionalCheckFailedException:
            raise GateConflict("the retrain gate changed meanwhile") from None

    def admit(self, execution: str, *, forced: bool, now: int | None = None) -> Admission:
        for _ in range(10):
            before = self.read()
            admission = decide_admission(before, execution, now or int(time.time()), self.policy, forced=forced)
            if admission.state == before:
                return admission
            try:
                self._write(before, admission.state)
            except GateConflict:
                continue
            return admission
        raise GateConflict("the retrain gate kept changing; try again")

    def release(self, execution: str, now: int | None = None) -> bool:
        for _ in range(10):
            before = self.read()
            after = decide_release(before, execution, now or int(time.time()))
            if after is None:
                return False
            try:
                self._write(before, after)
            except GateConflict:
                continue
            return True
        raise GateConflict("the retrain gate kept changing; try again")


# ------------------------------------------------------------------ a finished pipeline run
@dataclass(frozen=True)
class FailedStep:
    name: str
    reason: str
    quality_gate: bool  # the pipeline's own Fail step: its message is the verdict


Verdict = Literal["succeeded", "quality-gate", "retry", "failed", "stopped"]


def failed_step(steps: list[dict[str, Any]]) -> FailedStep | None:
    """The step that failed the run (ListPipelineExecutionSteps lists the newest first)."""
    for step in steps:
        if step.get("StepStatus") == "Failed":
            metadata = step.get("Metadata") or {}
            reason = step.get("FailureReason") or (metadata.get("Fail") or {}).get("ErrorMessage") or "no reason given"
            return FailedStep(str(step.get("StepName", "?")), str(reason), "Fail" in metadata)
    return None


def judge_run(status: str, failure_reason: str, step: FailedStep | None, attempt: int, max_retries: int) -> Verdict:
    if status == "Succeeded":
        return "succeeded"
    if status == "Stopped":
        return "stopped"
    if step is not None and step.quality_gate:
        return "quality-gate"
    reason = step.reason if step else failure_reason
    if TRANSIENT.search(reason or "") and attempt <= max_retries:
        return "retry"
    return "failed"


# ------------------------------------------------------------------ comparing a candidate with the live version
@dataclass(frozen=True)
class Comparison:
    metric: str
    higher_is_better: bool
    candidate: float | None
    live: float | None
    margin: float

    @property
    def delta(self) -> float | None:
        if self.candidate is None or self.live is None:
            return None
        return self.candidate - self.live

    @property
    def beats_live(self) -> bool:
        """The candidate is better than the live version by at least the margin."""
        delta = self.delta
        if delta is None:
            return False
        return delta >= self.margin if self.higher_is_better else -delta >= self.margin


def side_by_side(candidate: dict[str, float], live: dict[str, float], key: str) -> list[str]:
    """One entry per metric, the key metric first: "accuracy 0.9356 (live 0.8911, +0.0445)"."""
    names = sorted(set(candidate) | set(live), key=lambda name: (name != key, name))

    def shown(value: float | None) -> str:
        return "-" if value is None else f"{value:.4f}"

    lines = []
    for name in names:
        c, lv = candidate.get(name), live.get(name)
        delta = f", {c - lv:+.4f}" if c is not None and lv is not None else ""
        lines.append(f"{name} {shown(c)} (live {shown(lv)}{delta})")
    return lines
