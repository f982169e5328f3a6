"""The analysis at the end of each bake: candidate vs live from the variants' metrics."""

from __future__ import annotations

import pytest

from mlops.analysis import Thresholds, VariantStats, judge
from sandbox.core import Sandbox
from tests.conftest import SandboxWorld, seeded
from tests.test_canary import approve, run_of

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
