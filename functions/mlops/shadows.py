"""A shadow's verdict: the candidate's answers against the live variant's, on the same requests.

During a shadow the endpoint config holds the live variant as its only production variant and the candidate
as its shadow variant (CreateEndpointConfig ShadowProductionVariants): clients get the live variant's answers
only, SageMaker copies a share of the requests to the shadow, and data capture writes each variant's records
under its own variant name (<prefix>/<endpoint>/<variant>/yyyy/mm/dd/hh/).

Pairing. AWS documents no field linking a production record to its shadow copy. What both records do carry is
the request itself (captureData.endpointInput) and its time (eventMetadata.inferenceTime). A shadow record is
paired with the live record of the same input nearest in time (within `tolerance`), each live record used
once. For a deterministic model, even a wrong pick among identical inputs changes nothing: the same input
gets the same live answer. The price: both sides must be captured, so during a shadow the endpoint captures
every request (InitialSamplingPercentage 100, see the deploy workflow); with p% captured per side, only about
p% x p% of the copied requests could be paired.

The shadow's variant name is "Shadow" + the candidate's colour (ShadowBlue, ShadowGreen): its capture records
stay apart from the candidate's later canary records, its guard alarms are `<project>-canary-<metric>-Shadow...`,
and the drift monitor reads no variant whose name starts with "Shadow" (what users were answered only).
"""

from __future__ import annotations

import bisect
import csv
import io
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from .analysis import VariantStats, Verdict
from .captures import SHADOW_PREFIX
from .drift import decode_part

EXAMPLES = 3  # disagreeing requests kept in the report


def shadow_variant_name(candidate_variant: str) -> str:
    return f"{SHADOW_PREFIX}{candidate_variant}"


@dataclass(frozen=True)
class Answer:
    """One captured request: its input as sent, when it was answered, and the probabilities answered."""

    request: str
    at: datetime
    probabilities: tuple[float, ...]


def _probabilities(part: dict[str, Any]) -> tuple[float, ...]:
    text = decode_part(part).strip()
    if str(part.get("observedContentType", "")).startswith("application/json"):
        values = json.loads(text)
        return tuple(float(v) for v in (values if isinstance(values, list) else [values]))
    return tuple(float(row[0]) for row in csv.reader(io.StringIO(text)) if row)


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def parse_capture_line(line: bytes | str) -> Answer | None:
    """A capture record as an Answer; None for a record without both input and output, or not readable."""
    try:
        record = json.loads(line)
        data = record["captureData"]
        return Answer(
            request=decode_part(data["endpointInput"]),
            at=_time(record["eventMetadata"]["inferenceTime"]),
            probabilities=_probabilities(data["endpointOutput"]),
        )
    except (ValueError, KeyError, TypeError):
        return None


def pair(live: Iterable[Answer], shadow: Iterable[Answer], tolerance: timedelta) -> list[tuple[Answer, Answer]]:
    """Each shadow answer with the live answer to the same request nearest in time, each live answer used once.

    A paired live answer leaves its request's time-sorted list, so the nearest free one is always beside the
    copy's place in it."""
    waiting: dict[str, tuple[list[datetime], list[Answer]]] = {}
    for answer in sorted(live, key=lambda a: a.at):
        times, answers = waiting.setdefault(answer.request, ([], []))
        times.append(answer.at)
        answers.append(answer)
    pairs = []
    for copy in sorted(shadow, key=lambda a: a.at):
        times, answers = waiting.get(copy.request, ([], []))
        position = bisect.bisect_left(times, copy.at)
        beside = [i for i in (position - 1, position) if 0 <= i < len(times)]
        nearest = min(beside, key=lambda i: abs(times[i] - copy.at), default=None)
        if nearest is None or abs(times[nearest] - copy.at) > tolerance:
            continue
        times.pop(nearest)
        pairs.append((answers.pop(nearest), copy))
    return pairs


@dataclass
class Comparison:
    """How alike the two answered, over the paired predictions (a request of several rows counts each row)."""

    threshold: float
    compared: int = 0
    same_decision: int = 0
    absolute_difference: float = 0.0
    examples: list[dict[str, Any]] = field(default_factory=list)

    def add(self, live: Answer, shadow: Answer) -> None:
        if len(live.probabilities) != len(shadow.probabilities):
            self.compared += max(len(live.probabilities), 1)  # answers of another shape: all disagree
            self._example(live, shadow)
            return
        disagreed = False
        for mine, theirs in zip(live.probabilities, shadow.probabilities, strict=True):
            self.compared += 1
            self.absolute_difference += abs(mine - theirs)
            if (mine >= self.threshold) == (theirs >= self.threshold):
                self.same_decision += 1
            else:
                disagreed = True
        if disagreed:
            self._example(live, shadow)

    def _example(self, live: Answer, shadow: Answer) -> None:
        if len(self.examples) < EXAMPLES:
            self.examples.append(
                {
                    "request": live.request[:200],
                    "live": list(live.probabilities),
                    "candidate": list(shadow.probabilities),
                }
            )

    @property
    def mean_absolute_difference(self) -> float:
        return self.absolute_difference / self.compared if self.compared else 0.0


def compare(pairs: Iterable[tuple[Answer, Answer]], threshold: float) -> Comparison:
    comparison = Comparison(threshold)
    for live, shadow in pairs:
        comparison.add(live, shadow)
    return comparison


@dataclass(frozen=True)
class ShadowThresholds:
    min_compared: int
    min_agreement: float  # share of paired predictions with the same decision
    max_mean_absolute_difference: float  # of the probabilities
    error_rate_margin: float  # the shadow's 5XX rate may exceed the live variant's by this much (absolute)
    latency_factor: float  # the shadow's average model latency may be at most the live variant's x this


def failed_requests(shadow: VariantStats) -> int:
    """Copies the shadow never answered: its 5XX errors (a timeout is one)."""
    return round(shadow.errors)


def agreement_of(comparison: Comparison, shadow: VariantStats) -> float:
    """Share of the compared predictions with the same decision, the shadow's failed requests counted as
    disagreements."""
    considered = comparison.compared + failed_requests(shadow)
    return comparison.same_decision / considered if considered else 1.0  # nothing seen disagree (minimum 0 only)


def latency_ratio(shadow: VariantStats, live: VariantStats) -> float | None:
    """The shadow's average ModelLatency over the live variant's, on the same window (None without both)."""
    return shadow.latency_us / live.latency_us if shadow.latency_us is not None and live.latency_us else None


def judge(
    comparison: Comparison, shadow: VariantStats, live: VariantStats, thresholds: ShadowThresholds
) -> tuple[Verdict, str]:
    """pass, fail or inconclusive, with the reason. A shadow request that errored (a timeout is a 5XX) has no
    answer to compare: it counts as a disagreement, and in the error rate. Too few requests compared or
    failed is inconclusive, never a pass."""
    agreement = agreement_of(comparison, shadow)
    ratio = latency_ratio(shadow, live)
    figures = (
        f"{comparison.compared} compared, {agreement:.1%} same decision, "
        f"mean |difference| {comparison.mean_absolute_difference:.3f}, "
        + (f"latency x{ratio:.2f} of live, " if ratio is not None else "latency not measured, ")
        + f"5XX {shadow.error_rate:.2%} (live {live.error_rate:.2%})"
    )
    if comparison.compared + failed_requests(shadow) < thresholds.min_compared:
        return "inconclusive", f"too few compared requests ({thresholds.min_compared} needed): {figures}"
    if shadow.error_rate > live.error_rate + thresholds.error_rate_margin:
        return "fail", f"the candidate's 5XX rate is too high: {figures}"
    if agreement < thresholds.min_agreement:
        return "fail", f"the candidate agrees too little ({thresholds.min_agreement:.0%} needed): {figures}"
    if comparison.mean_absolute_difference > thresholds.max_mean_absolute_difference:
        limit = thresholds.max_mean_absolute_difference
        return "fail", f"the candidate's probabilities differ too much ({limit:g} allowed): {figures}"
    if ratio is not None and ratio > thresholds.latency_factor:
        return "fail", f"the candidate is too slow ({thresholds.latency_factor:g}x allowed): {figures}"
    return "pass", figures


def report(
    verdict: Verdict, reason: str, comparison: Comparison, shadow: VariantStats, live: VariantStats
) -> dict[str, Any]:
    """What the ledger keeps and the notification tells: the figures and a few requests where the two disagreed."""
    ratio = latency_ratio(shadow, live)
    return {
        "Verdict": verdict,
        "Reason": reason,
        "Compared": comparison.compared,
        "FailedRequests": failed_requests(shadow),
        "Agreement": round(agreement_of(comparison, shadow), 4),
        "MeanAbsoluteDifference": round(comparison.mean_absolute_difference, 4),
        "LatencyRatio": round(ratio, 3) if ratio is not None else None,
        "CandidateErrorRate": round(shadow.error_rate, 4),
        "LiveErrorRate": round(live.error_rate, 4),
        "CandidateInvocations": shadow.invocations,
        "Disagreements": comparison.examples,
    }


def summary(result: dict[str, Any]) -> str:
    """One line for the notification and the registry's approval description."""
    examples = "; ".join(
        f"{e['request'][:60]!r}: live {e['live']} vs candidate {e['candidate']}" for e in result["Disagreements"]
    )
    return f"shadow {result['Verdict']}: {result['Reason']}" + (f" | disagreed on: {examples}" if examples else "")
