"""The end of each bake: the candidate's metrics against the live variant's, from GetMetricData.

Too few candidate invocations is inconclusive, never a pass: the workflow extends the bake a bounded
number of times, then rolls back as Inconclusive.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

Verdict = Literal["pass", "fail", "inconclusive"]


@dataclass(frozen=True)
class VariantStats:
    invocations: float
    errors: float
    latency_us: float | None

    @property
    def error_rate(self) -> float:
        return self.errors / self.invocations if self.invocations else 0.0


@dataclass(frozen=True)
class Thresholds:
    min_invocations: int
    error_rate_margin: float  # absolute: candidate may exceed live by this much (0.01 = 1 point)
    latency_factor: float  # candidate average latency may be at most live x this


def judge(candidate: VariantStats, live: VariantStats, thresholds: Thresholds) -> tuple[Verdict, str]:
    if candidate.invocations < thresholds.min_invocations:
        return (
            "inconclusive",
            f"{candidate.invocations:.0f} candidate invocations, fewer than {thresholds.min_invocations}",
        )
    if candidate.error_rate > live.error_rate + thresholds.error_rate_margin:
        return "fail", f"candidate 5XX rate {candidate.error_rate:.2%} vs live {live.error_rate:.2%}"
    candidate_ms, live_ms = (candidate.latency_us or 0.0) / 1000, (live.latency_us or float("inf")) / 1000
    if candidate_ms > live_ms * thresholds.latency_factor:
        return "fail", f"candidate latency {candidate_ms:.0f} ms vs live {live_ms:.0f} ms"
    rates = f"5XX {candidate.error_rate:.2%} (live {live.error_rate:.2%})"
    return "pass", f"candidate {candidate.invocations:.0f} invocations, {rates}"


def variant_stats(cloudwatch: Any, endpoint: str, variant: str, start: datetime, end: datetime) -> VariantStats:
    dimensions = [{"Name": "EndpointName", "Value": endpoint}, {"Name": "VariantName", "Value": variant}]
    queries = [
        {
            "Id": query_id,
            "MetricStat": {
                "Metric": {"Namespace": "AWS/SageMaker", "MetricName": metric, "Dimensions": dimensions},
                "Period": 60,
                "Stat": stat,
            },
        }
        for query_id, metric, stat in (
            ("invocations", "Invocations", "Sum"),
            ("errors", "Invocation5XXErrors", "Sum"),
            ("latency", "ModelLatency", "Average"),
        )
    ]
    results = cloudwatch.get_metric_data(MetricDataQueries=queries, StartTime=start, EndTime=end)["MetricDataResults"]
    values = {result["Id"]: result.get("Values", []) for result in results}
    latency = values.get("latency") or []
    return VariantStats(
        invocations=float(sum(values.get("invocations") or [])),
        errors=float(sum(values.get("errors") or [])),
        latency_us=(sum(latency) / len(latency)) if latency else None,
    )


def analyse_bake(
    cloudwatch: Any,
    endpoint: str,
    candidate: str,
    live: str,
    baked_since: datetime,
    ignore_seconds: int,
    thresholds: Thresholds,
    now: datetime,
) -> dict[str, str]:
    start = baked_since + timedelta(seconds=ignore_seconds)
    if start >= now:
        start = baked_since
    # GetMetricData works in whole periods: widen the window to minute boundaries (never empty).
    start = start.replace(second=0, microsecond=0)
    now = now.replace(second=0, microsecond=0) + timedelta(minutes=1)
    verdict, reason = judge(
        variant_stats(cloudwatch, endpoint, candidate, start, now),
        variant_stats(cloudwatch, endpoint, live, start, now),
        thresholds,
    )
    return {"Verdict": verdict, "Reason": reason}
