"""Feature attribution drift without a processing job: the correlation ratio, compared by NDCG.

The attribution of an input is its correlation ratio (eta squared) with the model's predictions: the share of the
predictions' variance that the input's bins explain alone, bins being the drift baseline's (numeric: its bin edges,
categorical: its categories, one bin for unseen ones, one for missing values). It is a first-order global
sensitivity measure that needs only records and the predictions the endpoint already gave: no extra requests and
no access to the model, so it runs in the monitor's Lambda on the captured traffic and in the pipeline's evaluation
on the validation set (pipeline/scripts/churn_features.py: the same bins, the same formula). What it misses, next
to SHAP values: interactions between inputs (only each input's effect alone), credit between correlated inputs
(each gets the credit of what it is correlated with) and anything per record.

Rankings are compared as SageMaker Clarify does for feature attribution drift (Model Monitor developer guide,
"Feature attribution drift"): NDCG = DCG / iDCG, DCG = sum over the live ranking of a(f'_i) / log2(i + 1),
iDCG = the same over the baseline's own ranking, a(f) the baseline attribution of feature f. Features tied in
the live ranking are ordered by name.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any


@dataclass
class AttributionTally:
    """Streams (bins, prediction) pairs, the bins being the drift tally's for the row (drift.FeatureTally.add: None
    for a missing value, counted as a bin of its own); memory holds a count and a sum per bin."""

    features: list[str]
    records: int = 0
    total: float = 0.0
    square: float = 0.0
    bins: dict[str, dict[int | None, list[float]]] = field(default_factory=dict)

    def add(self, bins: dict[str, int | None], prediction: float) -> None:
        self.records += 1
        self.total += prediction
        self.square += prediction * prediction
        for name in self.features:
            cell = self.bins.setdefault(name, {}).setdefault(bins.get(name), [0, 0.0])
            cell[0] += 1
            cell[1] += prediction

    def ratios(self) -> dict[str, float | None]:
        if not self.records:
            return dict.fromkeys(self.features)
        mean_square = self.total * self.total / self.records
        spread = self.square - mean_square
        result: dict[str, float | None] = {}
        for name in self.features:
            cells = self.bins.get(name, {}).values()
            between = sum(s * s / n for n, s in cells) - mean_square
            result[name] = max(0.0, between / spread) if spread > 1e-12 else None
        return result


def ndcg(baseline: dict[str, float], live: dict[str, float | None]) -> float | None:
    """How well the live ranking keeps the baseline's important features on top (1 = the same order)."""
    scores = {name: value for name, value in baseline.items() if value is not None}
    if not scores or any(live.get(name) is None for name in scores):
        return None
    ideal = sorted(scores.values(), reverse=True)
    ranked = sorted(scores, key=lambda name: (-float(live[name] or 0.0), name))
    ideal_gain = sum(value / math.log2(i + 2) for i, value in enumerate(ideal))
    if ideal_gain <= 0:
        return None
    return sum(scores[name] / math.log2(i + 2) for i, name in enumerate(ranked)) / ideal_gain


METHOD = "correlation_ratio"


def registered_attributions(report: dict[str, Any]) -> dict[str, float]:
    """The correlation ratios of a version's explainability report (a Clarify-shaped analysis.json whose method is
    this module's); empty for any other method: SHAP values are no baseline for correlation ratios."""
    method = (report.get("explanations") or {}).get(METHOD) or {}
    values = (method.get("label0") or {}).get("global_attributions")
    if not isinstance(values, dict):
        return {}
    return {str(k): float(v) for k, v in values.items() if isinstance(v, int | float)}
