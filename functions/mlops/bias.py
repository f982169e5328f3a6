"""Post-training bias across the groups of one facet, as SageMaker Clarify defines it.

Facet d is the disfavoured group (records whose facet value is one of the disfavoured values), facet a every other
known group; q' is the share of positive predictions in a group. DPPL = q'a - q'd, DI = q'd / q'a; with ground
truth, RD = recall a - recall d and AD = accuracy a - accuracy d (Clarify developer guide, "Post-training bias
metrics": https://docs.aws.amazon.com/sagemaker/latest/dg/clarify-measure-post-training-bias.html). A figure is None
where a group is empty or its denominator is 0. Records with no facet value count in neither group.
The pipeline's evaluation computes the same on the validation set (pipeline/scripts/churn_features.py) and
registers it as the version's Clarify-shaped post-training bias report.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field


@dataclass
class GroupCounts:
    records: int = 0
    predicted_positive: int = 0
    labelled: int = 0
    correct: int = 0
    actual_positive: int = 0
    true_positive: int = 0

    def add(self, predicted: int, truth: int | None) -> None:
        self.records += 1
        self.predicted_positive += predicted
        if truth is not None:
            self.labelled += 1
            self.correct += int(predicted == truth)
            if truth == 1:
                self.actual_positive += 1
                self.true_positive += predicted

    def positive_share(self) -> float | None:
        return self.predicted_positive / self.records if self.records else None

    def recall(self) -> float | None:
        return self.true_positive / self.actual_positive if self.actual_positive else None

    def accuracy(self) -> float | None:
        return self.correct / self.labelled if self.labelled else None


def _difference(first: float | None, second: float | None) -> float | None:
    return first - second if first is not None and second is not None else None


@dataclass
class BiasTally:
    facet: str
    disfavoured: frozenset[str]
    advantaged: GroupCounts = field(default_factory=GroupCounts)
    disadvantaged: GroupCounts = field(default_factory=GroupCounts)

    @classmethod
    def of(cls, facet: str, disfavoured: Iterable[str]) -> BiasTally:
        return cls(facet, frozenset(value.strip() for value in disfavoured if value.strip()))

    def add(self, group: str, predicted: int, truth: int | None = None) -> None:
        value = group.strip()
        if not value:
            return
        (self.disadvantaged if value in self.disfavoured else self.advantaged).add(predicted, truth)

    def figures(self) -> dict[str, float | None]:
        qa, qd = self.advantaged.positive_share(), self.disadvantaged.positive_share()
        return {
            "DPPL": _difference(qa, qd),
            "DI": qd / qa if qa and qd is not None else None,
            "RD": _difference(self.advantaged.recall(), self.disadvantaged.recall()),
            "AD": _difference(self.advantaged.accuracy(), self.disadvantaged.accuracy()),
        }

    def smallest_group(self) -> int:
        return min(self.advantaged.records, self.disadvantaged.records)


def registered_bias(report: dict[str, object]) -> dict[str, float]:
    """DPPL, DI... of a Clarify-shaped analysis.json's post-training metrics (the first facet's first group)."""
    post = report.get("post_training_bias_metrics") or {}
    facets = post.get("facets") if isinstance(post, dict) else None
    if not isinstance(facets, dict) or not facets:
        return {}
    groups = next(iter(facets.values()))
    if not isinstance(groups, list) or not groups:
        return {}
    return {
        str(metric["name"]): float(metric["value"])
        for metric in groups[0].get("metrics", [])
        if isinstance(metric, dict) and isinstance(metric.get("value"), int | float)
    }


@dataclass(frozen=True)
class BiasBands:
    max_abs_dppl: float = 0.1
    min_di: float = 0.8
    max_di: float = 1.25

    def outside(self, figures: dict[str, float]) -> list[str]:
        """Why the figures are outside the bands (empty when inside or unknown)."""
        problems = []
        dppl, di = figures.get("DPPL"), figures.get("DI")
        if dppl is not None and abs(dppl) > self.max_abs_dppl:
            problems.append(f"DPPL {dppl:.3f} is outside +/-{self.max_abs_dppl}")
        if di is not None and not self.min_di <= di <= self.max_di:
            problems.append(f"DI {di:.3f} is outside {self.min_di}..{self.max_di}")
        return problems
