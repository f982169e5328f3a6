"""The end of each bake: the candidate's metrics against the live variant's, from GetMetricData.

Too few candidate invocations is inconclusive, never a pass: the workflow extends the bake a bounded
number of times, then rolls back as Inconclusive. The window is the step's: from its first bake (less the
ignored warm-up) to the end of its last extension, so the extensions add up.

SageMaker publishes the invocation metrics once a minute, and CloudWatch makes a minute's datapoint whole
some time after the minute ends: the latest minutes read too low. The window therefore ends `lag` seconds
before now (ANALYSIS_LAG_SECONDS).
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


MINUTE = timedelta(minutes=1)
# SageMaker publishes invocation metrics every 60 s (MetricsConfig, SageMaker API reference), and a period's
# datapoints keep flowing into CloudWatch after it ends (AWS Knowledge Center, "Why did my CloudWatch alarm
# trigger when its metric doesn't have any breaching data points?"); CloudWatch streams metrics within
# 3 minutes (user guide, "Set up a metric stream"). 180 s: every minute read ended 2 to 3 minutes before.
DEFAULT_LAG_SECONDS = 180


def _minute(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)


def analysis_window(
    baked_since: datetime, now: datetime, ignore_seconds: int, lag_seconds: int
) -> tuple[datetime, datetime]:
    """The minutes to read, [start, end), on GetMetricData's whole periods.

    start: `ignore_seconds` after the step's first bake (all of it when the bake was shorter than that).
    end: `lag_seconds` before now, to the end of that minute: the metrics of the latest minutes are not all
    in CloudWatch yet. When that is before the start (a bake shorter than the ignored seconds plus the lag),
    the window ends now, as without a lag: what has arrived is all there is. It never ends before it starts.
    """
    start = baked_since + timedelta(seconds=ignore_seconds)
    if start >= now:
        start = baked_since
    lagged = now - timedelta(seconds=lag_seconds)
    if lagged < start:
        lagged = now
    return _minute(start), _minute(lagged) + MINUTE


def analyse_bake(
    cloudwatch: Any,
    endpoint: str,
    candidate: str,
    live: str,
    baked_since: datetime,
    ignore_seconds: int,
    thresholds: Thresholds,
    now: datetime,
    lag_seconds: int = 0,
    replaced: bool = False,
) -> dict[str, str]:
    """`replaced`: the candidate replaced the live variant (a serverless endpoint has one variant): the live
    variant's figures are those of as long a window just before the bake, when it served alone."""
    start, end = analysis_window(baked_since, now, ignore_seconds, lag_seconds)
    live_start, live_end = (start - (end - start), start) if replaced else (start, end)
    verdict, reason = judge(
        variant_stats(cloudwatch, endpoint, candidate, start, end),
        variant_stats(cloudwatch, endpoint, live, live_start, live_end),
        thresholds,
    )
    return {"Verdict": verdict, "Reason": reason, "WindowStart": start.isoformat(), "WindowEnd": end.isoformat()}
