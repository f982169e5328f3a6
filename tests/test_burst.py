"""A burst of 1,000 events through the sandbox: repeats, late and reordered deliveries, strangers, junk.

What AWS emits over a working day is held back (versions approved, one of them twice, one approved then
rejected, one rejected unseen; alarms flapping; pipeline runs started elsewhere failing, one retried into
success), then delivered at once through PutEvents on the default bus: every event, many of them
repeatedly, shuffled, with another project's events and malformed ones mixed in. What the outcome must be
follows from the events themselves and the registry: one deploy execution per approval, the newest approved
version live, every approval delivery counted in the ledger, one retrain for the drift, nothing lost.

A batch project's burst: files landing together (some twice), their S3 "Object Created" events delivered late,
repeatedly and reordered, are each scored once per object version.
"""

from __future__ import annotations

import importlib
import json
import random
import re
import uuid
from collections import Counter
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_plus

import pytest
from moto.events.models import EventPattern

from mlops import transform_jobs
from mlops.canary import newer_version_serving
from pipeline import dataset
from sandbox.core import ALGORITHM_ERROR, CAPACITY_ERROR, Sandbox
from sandbox.world import register_version
from tests.conftest import SandboxWorld, seeded
from tests.test_canary import wait_for_bake
from tests.test_event_patterns import RULES

BURST_SIZE = 1000
SEED = 20261126
MODEL_PACKAGE_CHANGE = "SageMaker Model Package State Change"
ALARM_CHANGE = "CloudWatch Alarm State Change"
PIPELINE_CHANGE = "SageMaker Model Building Pipeline Execution Status Change"
STRANGER = "fraud"  # another project in the same account
SETTLE_SECONDS = 300


def burst_world(sandbox: Sandbox) -> SandboxWorld:
    """The churn world with minute-long bakes (60 ms here).

    The sandbox runs one function at a time, so an endpoint's event can queue behind the burst's
    deliveries: workflows wait for it up to the longest timeout the template allows (86 s here).
    """
    return seeded(
        sandbox,
        BakeSeconds="60",
        RetentionSeconds="60",
        MinCandidateInvocations="0",
        EndpointUpdateTimeoutSeconds="86400",
    )


# ------------------------------------------------------------------ what happened while deliveries were held
@dataclass(frozen=True)
class History:
    emitted: list[dict[str, Any]]  # the PutEvents entries AWS's services made, in order
    runs_elsewhere: list[str]  # pipeline runs someone started outside the retrain workflow


def run_elsewhere(churn: SandboxWorld, failure: str, *, retry: bool) -> str:
    """A pipeline run started from the console whose first step fails; retried by hand when asked."""
    churn.sandbox.fail_pipeline_step("Preprocess", failure, times=1)
    sagemaker = churn.client("sagemaker")
    arn = str(
        sagemaker.start_pipeline_execution(
            PipelineName=churn.stack.parameters["PipelineName"], ClientRequestToken=uuid.uuid4().hex
        )["PipelineExecutionArn"]
    )
    churn.sandbox.settle(timeout=120)
    if retry:
        sagemaker.retry_pipeline_execution(PipelineExecutionArn=arn)
        churn.sandbox.settle(timeout=120)
    return arn


def working_day(churn: SandboxWorld, *, retraining: bool = True) -> History:
    """A day's decisions in the registry and alarm flaps; with `retraining`, drift and pipeline runs too."""
    sagemaker, cloudwatch = churn.client("sagemaker"), churn.client("cloudwatch")

    def decide(arn: str, status: str) -> None:
        sagemaker.update_model_package(ModelPackageArn=arn, ModelApprovalStatus=status)

    def flap(alarm: str, *states: str) -> None:
        for state in states:
            cloudwatch.set_alarm_state(
                AlarmName=f"{churn.stack.project}-{alarm}", StateValue=state, StateReason=f"working day: {state}"
            )

    with churn.sandbox.holding_events() as emitted:
        v3, v4, v5, v6, v7 = (
            register_version(churn.sandbox, churn.stack, number, "PendingManualApproval") for number in range(3, 8)
        )
        for arn in (v3, v4, v5, v7):
            decide(arn, "Approved")
        decide(v5, "PendingManualApproval")  # second thoughts: approved again later
        decide(v7, "Rejected")  # approved, then rejected before anything could deploy it
        decide(churn.world.pending_version_arn, "Rejected")  # never approved
        flap("canary-5xx-Green", "ALARM", "OK")  # guards firing outside any canary
        flap("canary-latency-Blue", "ALARM", "OK")
        flap("ops-dead-letters", "ALARM", "OK")
        runs: list[str] = []
        if retraining:
            flap("drift-score", "ALARM", "OK", "ALARM")
            flap("drift-predictions", "ALARM", "OK")
            runs = [
                run_elsewhere(churn, ALGORITHM_ERROR, retry=False),
                run_elsewhere(churn, CAPACITY_ERROR, retry=True),
            ]
        decide(v5, "Approved")  # (after the runs: another second, so another LastModifiedTime)
        decide(v6, "Approved")
    return History(list(emitted), runs)


# ------------------------------------------------------------------ the burst
@dataclass(frozen=True)
class Burst:
    entries: list[dict[str, Any]]  # PutEvents entries, in delivery order
    malformed: list[dict[str, Any]]  # the entries no function can parse


def detail(entry: dict[str, Any]) -> dict[str, Any]:
    return dict(json.loads(entry["Detail"]))


def version_of(model_package_arn: str) -> int:
    return int(model_package_arn.rsplit("/", 1)[-1])


class Rules:
    """The project's rules as deployed from template.yaml, matched by moto's EventBridge pattern engine."""

    def __init__(self, churn: SandboxWorld) -> None:
        events = churn.client("events")
        self._patterns = {
            function: EventPattern.load(events.describe_rule(Name=churn.stack.resources[rule])["EventPattern"])
            for function, rule in RULES.items()
        }

    def receiver(self, entry: dict[str, Any]) -> str | None:
        """Which of the project's functions the event reaches, if any."""
        event = {"source": entry["Source"], "detail-type": entry["DetailType"], "detail": detail(entry)}
        return next((f for f, pattern in self._patterns.items() if pattern.matches_event(event)), None)


def is_approval(entry: dict[str, Any]) -> bool:
    return entry["DetailType"] == MODEL_PACKAGE_CHANGE and detail(entry).get("ModelApprovalStatus") == "Approved"


def of_another_project(entry: dict[str, Any], project: str) -> dict[str, Any]:
    """The same event from the stranger project's group, alarms and pipeline."""

    def renamed(text: str) -> str:
        return text.replace(f"{project}-", f"{STRANGER}-")

    return {**entry, "Detail": renamed(entry["Detail"]), "Resources": [renamed(r) for r in entry["Resources"]]}


def malformed_twins(relevant: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Events that reach the project's functions but miss or garble a field AWS documents."""

    def garbled(entry: dict[str, Any], **changes: Any) -> dict[str, Any]:
        event = detail(entry)
        for key, value in changes.items():
            if value is None:
                event.pop(key)
            else:
                event[key] = value
        return {**entry, "Detail": json.dumps(event)}

    garbles: dict[str, list[dict[str, Any]]] = {
        MODEL_PACKAGE_CHANGE: [{"ModelPackageVersion": "three"}, {"ModelPackageArn": None}],
        ALARM_CHANGE: [
            {"state": {"value": "ON_FIRE", "reason": "?", "timestamp": "2026-11-26T10:00:00.000+0000"}},
            {"state": None},
        ],
        PIPELINE_CHANGE: [{"currentPipelineExecutionStatus": "Exploded"}, {"pipelineExecutionArn": None}],
    }
    firsts = {e["DetailType"]: e for e in reversed(relevant)}  # the first event of each kind
    return [
        garbled(firsts[kind], **changes)
        for kind, all_changes in garbles.items()
        if kind in firsts
        for changes in all_changes
    ]


def approved_version(entry: dict[str, Any]) -> int:
    return version_of(detail(entry)["ModelPackageArn"])


def compose_burst(churn: SandboxWorld, history: History, size: int, rng: random.Random) -> Burst:
    """Every emitted event once, malformed ones once, the rest repeats of the project's events and strangers'."""
    rules = Rules(churn)
    relevant = [e for e in history.emitted if rules.receiver(e)]
    malformed = malformed_twins(relevant)
    strangers = [of_another_project(e, churn.stack.project) for e in relevant]
    repeats = size - len(history.emitted) - len(malformed)
    entries = (
        history.emitted
        + malformed
        + rng.choices(strangers, k=repeats // 10)
        + rng.choices(relevant, k=repeats - repeats // 10)
    )
    rng.shuffle(entries)
    # out of order for sure: the approval of the newest version that stays approved comes first, the oldest last
    last = {d["ModelPackageArn"]: d["ModelApprovalStatus"] for d in map(detail, relevant) if "ModelPackageArn" in d}
    approvals = sorted(
        (e for e in relevant if is_approval(e) and last[detail(e)["ModelPackageArn"]] == "Approved"),
        key=approved_version,
    )
    newest, oldest = approvals[-1], approvals[0]
    entries.remove(newest)
    entries.remove(oldest)
    return Burst([newest, *entries, oldest], malformed)


def deliver(churn: SandboxWorld, burst: Burst) -> None:
    events = churn.client("events")
    for start in range(0, len(burst.entries), 10):  # PutEvents takes at most 10 entries
        response = events.put_events(Entries=burst.entries[start : start + 10])
        assert response["FailedEntryCount"] == 0, response


# ------------------------------------------------------------------ the accounting
@dataclass(frozen=True)
class Before:
    deploys: set[str]
    invocations: int


def before_the_burst(churn: SandboxWorld) -> Before:
    return Before({e["executionArn"] for e in churn.executions()}, len(churn.sandbox.state.invocations))


def drain(churn: SandboxWorld, queue_output: str) -> list[dict[str, Any]]:
    sqs, url = churn.client("sqs"), churn.stack.outputs[queue_output]
    bodies: list[dict[str, Any]] = []
    while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        bodies += [json.loads(m["Body"]) for m in messages]
    return bodies


def entry_of(churn: SandboxWorld, pk: str, sk: str) -> dict[str, Any] | None:
    return next((e for e in churn.ledger(pk) if e["sk"] == sk), None)


def outcome(execution: dict[str, Any]) -> str:
    if execution["status"] == "SUCCEEDED":
        return str(json.loads(execution["output"])["Status"])
    return str(execution.get("error"))


def assert_accounted_for(churn: SandboxWorld, history: History, burst: Burst, before: Before) -> None:
    stack, project = churn.stack, churn.stack.project
    rules = Rules(churn)
    delivered = [(e, rules.receiver(e)) for e in burst.entries if e not in burst.malformed]

    # every approval: one execution per state change, each delivery counted in the ledger
    changes = Counter(
        (d["ModelPackageArn"], d["LastModifiedTime"])
        for d in map(detail, (e for e, function in delivered if function == "approval" and is_approval(e)))
    )
    started: dict[str, str] = {}
    for (arn, changed), deliveries in sorted(changes.items()):
        record = entry_of(churn, f"APPROVAL#{arn}", f"CHANGE#{changed}")
        assert record is not None, f"the approval of {arn} at {changed} is not in the ledger"
        assert 1 + int(record.get("duplicates", 0)) == deliveries, f"{arn} at {changed}: {record}"
        started[str(record["execution_arn"])] = arn
    assert len(started) == len(changes), "two approvals share an execution"
    deploys = {e["executionArn"]: e for e in churn.executions() if e["executionArn"] not in before.deploys}
    assert set(deploys) == set(started), "executions that no approval explains, or approvals without one"

    # each ended as the rules say; the newest approved version serves
    status = {v["ModelPackageArn"]: v["ModelApprovalStatus"] for v in churn.versions()}
    newest = max((arn for arn, approval in status.items() if approval == "Approved"), key=version_of)
    recorded = {
        e["execution_arn"]: e["outcome"]
        for e in churn.ledger(f"ENDPOINT#{stack.endpoint_name}")
        if str(e["sk"]).startswith("DEPLOYMENT#")
    }
    for execution_arn, execution in deploys.items():
        arn = started[execution_arn]
        if status[arn] != "Approved":
            allowed = {"NotApproved"}
        elif arn == newest:
            allowed = {"Deployed"}
        else:
            allowed = {"Deployed", "AlreadyLive", "Superseded"}
        assert outcome(execution) in allowed, (execution["name"], outcome(execution), execution.get("cause"))
        assert recorded.get(execution_arn) == outcome(execution), execution["name"]
    assert churn.live_model_package() == newest
    assert (entry_of(churn, f"ENDPOINT#{stack.endpoint_name}", "LIVE") or {}).get("model_package_arn") == newest
    lock = entry_of(churn, f"ENDPOINT#{stack.endpoint_name}", "LOCK") or {}
    assert not lock.get("holder") and not lock.get("waiter"), f"lock left behind: {lock}"
    assert churn.executions("RollbackStateMachineArn") == [], "a rejection of a version not live rolled back"

    # every alarm state change recorded once; the drift started one retrain, the others joined or were held
    alarm_changes = {
        (d["alarmName"], d["state"]["timestamp"], d["state"]["value"], function == "alarm")
        for d, function in ((detail(e), function) for e, function in delivered if e["DetailType"] == ALARM_CHANGE)
    }
    for name, at, state, ours in alarm_changes:
        sks = {e["sk"] for e in churn.ledger(f"ALARM#{name}")}
        if ours:
            assert f"STATE#{at}#{state}" in sks, (name, at, state)
        else:
            assert sks == set(), f"{name} is another project's alarm"
    drift = sorted(
        (n, at)
        for n, at, state, ours in alarm_changes
        if ours and n.startswith(f"{project}-drift-") and state == "ALARM"
    )
    decisions = {(n, at): (entry_of(churn, f"ALARM#{n}", f"STATE#{at}#ALARM") or {}) for n, at in drift}
    retrains = churn.executions("RetrainStateMachineArn")
    assert len(retrains) == min(1, len(drift)), "one retrain at a time, then the cooldown holds the others back"
    for retrain in retrains:
        assert retrain["status"] == "SUCCEEDED", retrain.get("cause")
        started_by = [d for d in decisions.values() if d.get("retrain") == "started"]
        assert [d.get("retrain_execution") for d in started_by] == [retrain["name"]], decisions
        joined = [e for e in churn.ledger(f"RETRAIN#{retrain['name']}") if str(e["sk"]).startswith("JOINED#")]
        held = [e for e in churn.ledger(f"PROJECT#{project}") if str(e["sk"]).startswith("HELD#")]
        assert len(joined) + len(held) == len(drift) - 1, (joined, held)

    # every pipeline status recorded; runs started elsewhere: their real end once, a failure reported once
    for e, function in delivered:
        if e["DetailType"] != PIPELINE_CHANGE:
            continue
        d = detail(e)
        moment = d.get("executionEndTime") or d.get("executionStartTime") or "unknown"
        sks = {entry["sk"] for entry in churn.ledger(f"PIPELINE#{d['pipelineExecutionArn']}")}
        if function == "pipeline":
            assert f"STATUS#{d['currentPipelineExecutionStatus']}#{moment}" in sks, d
        else:
            assert sks == set(), f"{d['pipelineArn']} is another project's pipeline"
    for run in history.runs_elsewhere:
        now = churn.client("sagemaker").describe_pipeline_execution(PipelineExecutionArn=run)["PipelineExecutionStatus"]
        entries = churn.ledger(f"PIPELINE#{run}")
        assert [e["status"] for e in entries if str(e["sk"]).startswith("TERMINAL#")] == [now], run
        reports = [e for e in entries if str(e["sk"]).startswith("REPORTED#")]
        assert len(reports) == (1 if now in ("Failed", "Stopped") else 0), run

    # nothing lost: no function failed, no dead letter, exactly the malformed events set aside
    failed = [(i.function_name, i.error) for i in churn.sandbox.state.invocations[before.invocations :] if i.error]
    assert failed == [], failed
    assert drain(churn, "DeadLetterQueueUrl") == []
    kept = sorted(json.dumps(m["event"]["detail"], sort_keys=True) for m in drain(churn, "RejectedEventsQueueUrl"))
    assert kept == sorted(json.dumps(detail(e), sort_keys=True) for e in burst.malformed)


# ------------------------------------------------------------------ the tests
def test_a_burst_of_a_thousand_events_ends_exactly_as_the_events_say(sandbox: Sandbox) -> None:
    churn = burst_world(sandbox)
    history = working_day(churn)
    burst = compose_burst(churn, history, BURST_SIZE, random.Random(SEED))
    assert len(burst.entries) == BURST_SIZE
    before = before_the_burst(churn)

    deliver(churn, burst)
    churn.sandbox.settle(timeout=SETTLE_SECONDS)

    assert_accounted_for(churn, history, burst, before)


def test_the_accounting_catches_a_handler_that_fails_on_a_valid_event(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    churn = burst_world(sandbox)
    history = working_day(churn, retraining=False)  # (a smaller day and burst: only approvals matter here)
    burst = compose_burst(churn, history, 200, random.Random(SEED))
    victim = min((detail(e)["ModelPackageArn"] for e in history.emitted if is_approval(e)), key=version_of)
    approval = importlib.import_module("approval.app")  # the handler's module, as the sandbox loaded it
    react = approval.react_to_approval

    def broken(change: Any, *args: Any, **kwargs: Any) -> Any:
        if change.ModelPackageArn == victim:
            raise RuntimeError("broken on purpose")
        return react(change, *args, **kwargs)

    monkeypatch.setattr(approval, "react_to_approval", broken)
    before = before_the_burst(churn)

    deliver(churn, burst)
    churn.sandbox.settle(timeout=SETTLE_SECONDS)

    with pytest.raises(AssertionError, match=f"the approval of {re.escape(victim)} at .* is not in the ledger"):
        assert_accounted_for(churn, history, burst, before)


# ------------------------------------------------------------------ the rules a burst relies on, one at a time
def deliver_late(churn: SandboxWorld, entries: list[dict[str, Any]]) -> None:
    deliver(churn, Burst(entries, []))
    churn.sandbox.settle()


def test_an_approval_delivered_after_a_newer_version_went_live_deploys_nothing(churn: SandboxWorld) -> None:
    sagemaker = churn.client("sagemaker")
    v3 = register_version(churn.sandbox, churn.stack, 3, "PendingManualApproval")
    with churn.sandbox.holding_events() as late:
        sagemaker.update_model_package(ModelPackageArn=churn.world.pending_version_arn, ModelApprovalStatus="Approved")
    sagemaker.update_model_package(ModelPackageArn=v3, ModelApprovalStatus="Approved")
    churn.sandbox.settle()
    assert churn.live_model_package() == v3

    deliver_late(churn, late)

    [run] = [e for e in churn.executions() if e["name"].startswith("approved-v2-")]
    assert (run["status"], run.get("error")) == ("FAILED", "Superseded")
    assert "version 3, newer than 2 and approved, serves already" in run["cause"]
    assert churn.live_model_package() == v3


def test_a_guard_alarm_from_before_the_canary_delivered_during_its_bake_aborts_nothing(
    watched_churn: SandboxWorld,
) -> None:
    churn = watched_churn
    with churn.sandbox.holding_events() as late:
        churn.client("cloudwatch").set_alarm_state(
            AlarmName="churn-canary-5xx-Green", StateValue="ALARM", StateReason="errors of an earlier canary"
        )
    churn.client("sagemaker").update_model_package(
        ModelPackageArn=churn.world.pending_version_arn, ModelApprovalStatus="Approved"
    )
    assert wait_for_bake(churn, 10)["candidate_variant"] == "Green"

    deliver_late(churn, late)

    [run] = [e for e in churn.executions() if e["name"].startswith("approved-v2-")]
    assert run["status"] == "SUCCEEDED", run.get("cause")
    assert churn.live_model_package() == churn.world.pending_version_arn
    [alarm] = [e for e in churn.ledger("ALARM#churn-canary-5xx-Green") if str(e["sk"]).endswith("#ALARM")]
    assert alarm["state_reason"] == "errors of an earlier canary"  # recorded, not acted on


@pytest.mark.parametrize(
    ("live", "newer"),
    [
        ("arn:aws:sagemaker:us-east-1:123456789012:model-package/churn-models/6", 6),
        ("arn:aws:sagemaker:us-east-1:123456789012:model-package/churn-models/4", None),  # older: it deploys
        ("arn:aws:sagemaker:us-east-1:123456789012:model-package/churn-models/5", None),  # itself: AlreadyLive
        ("arn:aws:sagemaker:us-east-1:123456789012:model-package/fraud-models/9", None),  # another group's
        (None, None),  # a model not made from a package
    ],
)
def test_only_a_newer_version_of_the_same_group_supersedes_an_approval(live: str | None, newer: int | None) -> None:
    candidate = "arn:aws:sagemaker:us-east-1:123456789012:model-package/churn-models/5"
    assert newer_version_serving(candidate, live) == newer


# ------------------------------------------------------------------ a batch project's burst of files
BATCH_FILES = 8  # landing together; the first two land again (a new version of each)
BATCH_DELIVERIES = 3  # each event delivered this many times


def test_a_burst_of_object_created_events_scores_each_object_version_once(sandbox: Sandbox) -> None:
    batch = seeded(sandbox, ServingKind="Batch")
    bucket = batch.stack.outputs["ArtifactBucketName"]
    s3 = batch.client("s3")
    keys = [f"{transform_jobs.INPUT_PREFIX}burst/customers-{number}.csv" for number in range(BATCH_FILES)]
    with batch.sandbox.holding_events() as emitted:
        for number, key in enumerate(keys + keys[:2]):
            records = dataset.generate(rows=30, seed=number)
            s3.put_object(Bucket=bucket, Key=key, Body=dataset.to_csv(records, header=False, label=False).encode())
    created = [e for e in emitted if e["DetailType"] == "Object Created"]
    versions = {(unquote_plus(d["object"]["key"]), d["object"]["version-id"]) for d in map(detail, created)}
    assert len(created) == len(versions) == BATCH_FILES + 2
    # every event repeated, shuffled; the newer versions of the files landed twice first, for sure
    newer = created[-2:]
    entries = created * BATCH_DELIVERIES
    random.Random(SEED).shuffle(entries)
    for entry in newer:
        entries.remove(entry)
    before = len(batch.sandbox.state.invocations)

    deliver(batch, Burst([*newer, *entries], []))
    batch.sandbox.settle(timeout=SETTLE_SECONDS)

    urls = {version: f"s3://{bucket}/{key}" for key, version in versions}
    runs = batch.executions("BatchStateMachineArn")
    expected_runs = {transform_jobs.run_name(url, version) for version, url in urls.items()}
    assert sorted(run["name"] for run in runs) == sorted(expected_runs), "not one batch run per object version"
    assert [(run["name"], run.get("cause")) for run in runs if run["status"] != "SUCCEEDED"] == []
    sagemaker = batch.client("sagemaker")
    jobs = sagemaker.list_transform_jobs(NameContains="churn-batch-", MaxResults=100)["TransformJobSummaries"]
    expected_jobs = {transform_jobs.job_name("churn", url, version, "") for version, url in urls.items()}
    assert sorted(job["TransformJobName"] for job in jobs) == sorted(expected_jobs), "not one job per object version"
    assert {job["TransformJobStatus"] for job in jobs} == {"Completed"}
    outcomes = [e for e in batch.ledger(f"BATCH#{batch.stack.endpoint_name}") if str(e["sk"]).startswith("RUN#")]
    assert sorted(e["execution_arn"] for e in outcomes) == sorted(run["executionArn"] for run in runs)
    failed = [(i.function_name, i.error) for i in batch.sandbox.state.invocations[before:] if i.error]
    assert failed == [], failed
    assert drain(batch, "DeadLetterQueueUrl") == []
    assert drain(batch, "RejectedEventsQueueUrl") == []
