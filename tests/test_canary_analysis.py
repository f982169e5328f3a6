"""The analysis at the end of each bake: candidate vs live from the variants' metrics."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from mlops import bakes
from mlops.analysis import Thresholds, VariantStats, analyse_bake, analysis_window, judge
from sandbox.core import Sandbox
from tests.conftest import SandboxWorld, seeded
from tests.test_canary import approve, ledger_item, run_of

THRESHOLDS = Thresholds(min_invocations=100, error_rate_margin=0.01, latency_factor=1.5)
LIVE = VariantStats(invocations=5000, errors=5, latency_us=20_000)


@pytest.mark.parametrize(
    ("candidate", "verdict"),
    [
        (VariantStats(invocations=600, errors=1, latency_us=22_000), "pass"),
        (VariantStats(invocations=40, errors=0, latency_us=20_000), "inconclusive"),
        (VariantStats(invocations=0, errors=0, latency_us=None), "inconclusive"),
        (VariantStats(invocations=600, errors=30, latency_us=20_000), "fail"),
        (VariantStats(invocations=600, errors=0, latency_us=45_000), "fail"),
    ],
    ids=["comparable", "too-few", "no-traffic", "more-errors", "slower"],
)
def test_judge(candidate: VariantStats, verdict: str) -> None:
    assert judge(candidate, LIVE, THRESHOLDS)[0] == verdict


def test_without_traffic_the_canary_is_inconclusive_and_rolls_back_without_rejecting(sandbox: Sandbox) -> None:
    churn: SandboxWorld = seeded(sandbox, BakeSeconds="60", RetentionSeconds="60", MaxBakeExtensions="1")

    approve(churn, churn.world.pending_version_arn)
    churn.sandbox.settle()

    run = run_of(churn, 2)
    assert (run["status"], run["error"]) == ("FAILED", "Inconclusive")
    assert "0 candidate invocations, fewer than 100" in run["cause"]
    assert churn.live_model_package() == churn.world.live_version_arn
    package = churn.client("sagemaker").describe_model_package(ModelPackageName=churn.world.pending_version_arn)
    assert package["ModelApprovalStatus"] == "Approved"
    history = churn.client("stepfunctions").get_execution_history(executionArn=run["executionArn"], maxResults=1000)[
        "events"
    ]
    bakes = [e for e in history if e.get("stateEnteredEventDetails", {}).get("name") == "Bake"]
    assert len(bakes) == 2  # the first bake, and one extension


def test_a_slower_candidate_fails_the_analysis_and_is_rolled_back(sandbox: Sandbox) -> None:
    churn: SandboxWorld = seeded(sandbox, BakeSeconds="600", RetentionSeconds="60")
    churn.sandbox.behave(churn.world.pending_version_arn, latency_ms=200)  # slower, below the 500 ms guard alarm
    churn.sandbox.start_traffic(churn.stack.endpoint_name, per_minute=1200)

    approve(churn, churn.world.pending_version_arn)
    churn.sandbox.settle()

    run = run_of(churn, 2)
    assert (run["status"], run["error"]) == ("FAILED", "RolledBack")
    assert "AnalysisFailed: candidate latency 200 ms vs live 20 ms" in run["cause"]
    assert churn.live_model_package() == churn.world.live_version_arn


# ---------------------------------------------------------------- the window
T0 = datetime(2024, 5, 21, 10, 0, 20, tzinfo=UTC)  # the step's first bake started 20 s into a minute


def at(minute: int, second: int = 0) -> datetime:
    return datetime(2024, 5, 21, 10, minute, second, tzinfo=UTC)


@pytest.mark.parametrize(
    ("now", "ignore", "lag", "window"),
    [
        (T0 + timedelta(seconds=600), 120, 180, (at(2), at(8))),  # the minutes that ended 2 to 3 min ago
        (T0 + timedelta(seconds=600), 120, 0, (at(2), at(11))),  # no lag: up to now, the current minute in
        (T0 + timedelta(seconds=1800), 120, 180, (at(2), at(28))),  # two extensions later: it grew
        (T0 + timedelta(seconds=240), 120, 180, (at(2), at(5))),  # the lag would end it before its start
        (T0 + timedelta(seconds=60), 120, 180, (at(0), at(2))),  # shorter than the ignored seconds: all of it
        (T0 + timedelta(milliseconds=600), 0, 180, (at(0), at(1))),  # the sandbox's compressed bake
        (at(1) + timedelta(milliseconds=300), 0, 180, (at(0), at(2))),  # ... ending in the next minute
    ],
    ids=["default", "no-lag", "extended", "lag-past-start", "short-bake", "sandbox", "sandbox-straddling"],
)
def test_the_window_ends_a_lag_before_now_and_never_before_it_starts(
    now: datetime, ignore: int, lag: int, window: tuple[datetime, datetime]
) -> None:
    start, end = analysis_window(T0, now, ignore, lag)

    assert (start, end) == window
    assert start < end <= now.replace(second=0, microsecond=0) + timedelta(minutes=1)


class Metrics:
    """GetMetricData answering per-minute sums, remembering the windows asked for."""

    def __init__(self, per_minute: dict[str, float]) -> None:
        self.per_minute = per_minute
        self.windows: list[tuple[datetime, datetime]] = []

    def get_metric_data(self, MetricDataQueries: list[dict[str, Any]], StartTime: datetime, EndTime: datetime) -> Any:
        self.windows.append((StartTime, EndTime))
        minutes = int((EndTime - StartTime).total_seconds() // 60)
        variant = MetricDataQueries[0]["MetricStat"]["Metric"]["Dimensions"][1]["Value"]
        values = {"invocations": self.per_minute[variant], "errors": 0.0, "latency": 20_000.0}
        return {
            "MetricDataResults": [{"Id": q["Id"], "Values": [values[q["Id"]]] * minutes} for q in MetricDataQueries]
        }


def test_the_analysis_reads_both_variants_over_the_window_and_says_which() -> None:
    metrics = Metrics({"Green": 30.0, "Blue": 270.0})
    now = T0 + timedelta(seconds=600)

    result = analyse_bake(metrics, "churn-endpoint", "Green", "Blue", T0, 120, THRESHOLDS, now, lag_seconds=180)

    assert metrics.windows == [(at(2), at(8))] * 2
    assert result == {
        "Verdict": "pass",
        "Reason": "candidate 180 invocations, 5XX 0.00% (live 0.00%)",
        "WindowStart": "2024-05-21T10:02:00+00:00",
        "WindowEnd": "2024-05-21T10:08:00+00:00",
    }


class MemoryLedger:
    def __init__(self) -> None:
        self.items: dict[tuple[str, str], dict[str, object]] = {}

    def get(self, pk: str, sk: str) -> dict[str, object] | None:
        item = self.items.get((pk, sk))
        return dict(item) if item else None

    def put(self, pk: str, sk: str, **fields: object) -> None:
        self.items[(pk, sk)] = fields


def bake(ledger: Any, execution: str, variant: str, percent: int, now: str, monkeypatch: Any) -> dict[str, Any]:
    monkeypatch.setattr(bakes, "now_iso", lambda: now)
    assert bakes.start_bake("churn-endpoint", execution, variant, percent, f"token-{now}", ledger, None) == "baking"
    return dict(ledger.items[("ENDPOINT#churn-endpoint", bakes.BAKE_SK)])


def test_an_extension_keeps_the_steps_start_and_a_new_step_starts_anew(monkeypatch: pytest.MonkeyPatch) -> None:
    ledger = MemoryLedger()

    first = bake(ledger, "approved-v2-a", "Green", 10, "2024-05-21T10:00:20.000Z", monkeypatch)
    extended = bake(ledger, "approved-v2-a", "Green", 10, "2024-05-21T10:10:21.000Z", monkeypatch)
    again = bake(ledger, "approved-v2-a", "Green", 10, "2024-05-21T10:20:22.000Z", monkeypatch)
    next_step = bake(ledger, "approved-v2-a", "Green", 50, "2024-05-21T10:21:00.000Z", monkeypatch)
    next_canary = bake(ledger, "approved-v3-b", "Green", 50, "2024-05-21T11:00:00.000Z", monkeypatch)

    assert first["step_started_at"] == first["started_at"] == "2024-05-21T10:00:20.000Z"
    assert (extended["step_started_at"], extended["started_at"]) == (first["started_at"], "2024-05-21T10:10:21.000Z")
    assert (again["step_started_at"], again["token"]) == (first["started_at"], "token-2024-05-21T10:20:22.000Z")
    assert next_step["step_started_at"] == next_step["started_at"] == "2024-05-21T10:21:00.000Z"
    assert next_canary["step_started_at"] == "2024-05-21T11:00:00.000Z"


def test_extensions_of_a_bake_without_traffic_keep_its_start(sandbox: Sandbox) -> None:
    churn: SandboxWorld = seeded(sandbox, BakeSeconds="60", RetentionSeconds="60", MaxBakeExtensions="2")

    approve(churn, churn.world.pending_version_arn)
    churn.sandbox.settle()

    assert run_of(churn, 2)["error"] == "Inconclusive"
    [bake] = ledger_item(churn, "BAKE")
    assert (bake["percent"], bake["candidate_variant"]) == (10, "Green")
    assert bake["step_started_at"] < bake["started_at"]  # the last of three bakes, measured from the first
