"""The retrain gate and the verdict on a finished pipeline run: plain decisions, no AWS."""

from __future__ import annotations

import pytest

from mlops.alarms import retrain_execution_name
from mlops.model_quality import metric_values
from mlops.retrain_rules import (
    Comparison,
    GatePolicy,
    GateState,
    decide_admission,
    decide_release,
    failed_step,
    judge_run,
    side_by_side,
)

POLICY = GatePolicy(cooldown_seconds=3600, daily_cap=2, lease_seconds=7200)
NOON = 1_795_694_400  # 2026-11-26T12:00:00Z


def test_a_first_retrain_is_admitted_and_counted() -> None:
    admission = decide_admission(GateState(), "drift-a", NOON, POLICY, forced=False)
    assert admission.outcome == "admitted"
    assert (admission.state.holder, admission.state.day, admission.state.started_today) == ("drift-a", "2026-11-26", 1)


def test_asking_again_for_the_same_retrain_changes_nothing() -> None:
    running = decide_admission(GateState(), "drift-a", NOON, POLICY, forced=False).state
    again = decide_admission(running, "drift-a", NOON + 5, POLICY, forced=False)
    assert again.outcome == "admitted" and again.state == running


def test_a_second_retrain_joins_the_running_one_even_when_started_by_hand() -> None:
    running = decide_admission(GateState(), "drift-a", NOON, POLICY, forced=False).state
    for forced in (False, True):
        joined = decide_admission(running, "manual-b", NOON + 60, POLICY, forced=forced)
        assert (joined.outcome, joined.holder) == ("joined", "drift-a")
        assert joined.state == running


def test_a_retrain_whose_lease_expired_no_longer_blocks() -> None:
    running = decide_admission(GateState(), "drift-a", NOON, POLICY, forced=False).state
    later = decide_admission(running, "drift-b", NOON + 7201, POLICY, forced=False)
    assert later.outcome == "admitted" and later.state.holder == "drift-b"


def test_the_cooldown_holds_alarms_back_but_not_people() -> None:
    running = decide_admission(GateState(), "drift-a", NOON, POLICY, forced=False).state
    ended = decide_release(running, "drift-a", NOON + 600)
    assert ended is not None and ended.holder == "" and ended.last_finished == NOON + 600
    held = decide_admission(ended, "drift-b", NOON + 1200, POLICY, forced=False)
    assert held.outcome == "held"
    assert "cooldown" in held.reason and "2026-11-26T13:10:00Z" in held.reason
    assert decide_admission(ended, "manual-c", NOON + 1200, POLICY, forced=True).outcome == "admitted"
    assert decide_admission(ended, "drift-d", NOON + 600 + 3600, POLICY, forced=False).outcome == "admitted"


def test_the_daily_cap_holds_alarms_back_until_the_next_utc_day() -> None:
    state = GateState()
    for i, name in enumerate(("drift-a", "drift-b")):
        state = decide_admission(state, name, NOON + i * 10_000, POLICY, forced=False).state
        released = decide_release(state, name, NOON + i * 10_000 + 1)
        assert released is not None
        state = released
    capped = decide_admission(state, "drift-c", NOON + 30_000, POLICY, forced=False)
    assert capped.outcome == "held" and "daily cap: 2 retrains started on 2026-11-26 (cap 2)" in capped.reason
    tomorrow = NOON + 12 * 3600 + 10
    assert decide_admission(state, "drift-c", tomorrow, POLICY, forced=False).outcome == "admitted"


def test_only_the_holder_releases_the_gate() -> None:
    running = decide_admission(GateState(), "drift-a", NOON, POLICY, forced=False).state
    assert decide_release(running, "drift-b", NOON + 5) is None


def step(name: str, status: str, reason: str = "", fail: bool = False) -> dict[str, object]:
    metadata = {"Fail": {"ErrorMessage": reason}} if fail else {"ProcessingJob": {"Arn": "arn:x"}}
    item: dict[str, object] = {"StepName": name, "StepStatus": status, "Metadata": metadata}
    if reason:
        item["FailureReason"] = reason
    return item


@pytest.mark.parametrize(
    ("reason", "attempt", "verdict"),
    [
        ("CapacityError: Unable to provision requested ML compute capacity.", 1, "retry"),
        ("ClientError: ThrottlingException: Rate exceeded", 2, "retry"),
        ("InternalServerError: We encountered an internal error. Please try again.", 3, "failed"),
        ("AlgorithmError: ValueError: Input contains NaN", 1, "failed"),
    ],
)
def test_transient_failures_are_retried_up_to_the_limit(reason: str, attempt: int, verdict: str) -> None:
    steps = [step("Train", "Failed", reason), step("Preprocess", "Succeeded")]
    assert judge_run("Failed", reason, failed_step(steps), attempt, max_retries=2) == verdict


def test_the_quality_gate_is_never_retried() -> None:
    message = "Quality gate: accuracy 0.61 is below the threshold 0.8"
    steps = [step("QualityGateFailed", "Failed", message, fail=True), step("AccuracyGate", "Succeeded")]
    found = failed_step(steps)
    assert found is not None and found.quality_gate and found.reason == message
    assert judge_run("Failed", message, found, 1, max_retries=5) == "quality-gate"


def test_a_stopped_or_succeeded_run_is_taken_as_it_is() -> None:
    assert judge_run("Stopped", "", None, 1, max_retries=2) == "stopped"
    assert judge_run("Succeeded", "", None, 1, max_retries=2) == "succeeded"


def test_metrics_are_read_from_any_metrics_section() -> None:
    report = {
        "binary_classification_metrics": {"accuracy": {"value": 0.9}, "confusion_matrix": {"0": {"0": 1}}},
        "regression_metrics": {"mse": {"value": 2}},
        "test_rows": 450,
    }
    assert metric_values(report) == {"accuracy": 0.9, "mse": 2.0}


@pytest.mark.parametrize(
    ("higher", "candidate", "live", "beats"),
    [(True, 0.92, 0.90, True), (True, 0.905, 0.90, False), (False, 1.0, 1.5, True), (False, 1.5, 1.0, False)],
)
def test_beating_the_live_version_respects_direction_and_margin(
    higher: bool, candidate: float, live: float, beats: bool
) -> None:
    assert Comparison("m", higher, candidate, live, margin=0.01).beats_live is beats


def test_without_a_live_figure_nothing_beats_it() -> None:
    assert Comparison("accuracy", True, 0.99, None, margin=0.0).beats_live is False


def test_the_side_by_side_puts_the_key_metric_first() -> None:
    lines = side_by_side({"accuracy": 0.91, "auc": 0.95}, {"accuracy": 0.89}, "accuracy")
    assert lines == ["accuracy 0.9100 (live 0.8900, +0.0200)", "auc 0.9500 (live -)"]


def test_one_alarm_transition_names_one_retrain() -> None:
    first = retrain_execution_name("churn-drift-psi", "2026-11-26T12:00:00.000+0000")
    assert first == retrain_execution_name("churn-drift-psi", "2026-11-26T12:00:00.000+0000")
    assert first != retrain_execution_name("churn-drift-psi", "2026-11-26T12:05:00.000+0000")
    odd = retrain_execution_name("churn-drift: data (v2)", "t")
    assert len(odd) <= 80 and ":" not in odd and " " not in odd
