"""Model quality of a binary classifier on predictions joined to their ground truth.

The figures are the ones SageMaker's model-quality reports carry for binary classification (accuracy, precision,
recall, F1, AUC; evaluation.json's `binary_classification_metrics`), defined as scikit-learn defines them:
precision, recall and F1 are 0 where their denominator is (zero_division=0); AUC is the area under the ROC curve
with tied scores sharing their rank, and undefined (None) when the labels hold one class only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class QualityFigures:
    count: int
    accuracy: float
    precision: float
    recall: float
    f1: float
    auc: float | None
    confusion: dict[str, int]  # tp, fp, tn, fn

    def as_dict(self) -> dict[str, float | None]:
        return {
            "accuracy": self.accuracy,
            "precision": self.precision,
            "recall": self.recall,
            "f1": self.f1,
            "auc": self.auc,
        }


def _ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator else 0.0


def roc_auc(labels: Sequence[int], scores: Sequence[float]) -> float | None:
    """Mann-Whitney U over the positives' ranks (ties share the mean of their ranks) / (positives x negatives)."""
    positives = sum(1 for label in labels if label == 1)
    negatives = len(labels) - positives
    if not positives or not negatives:
        return None
    order = sorted(range(len(scores)), key=scores.__getitem__)
    rank_sum, start = 0.0, 0
    while start < len(order):
        end = start
        while end + 1 < len(order) and scores[order[end + 1]] == scores[order[start]]:
            end += 1
        mean_rank = (start + end) / 2 + 1  # ranks start at 1
        rank_sum += mean_rank * sum(1 for i in order[start : end + 1] if labels[i] == 1)
        start = end + 1
    return (rank_sum - positives * (positives + 1) / 2) / (positives * negatives)


def binary_quality(labels: Sequence[int], scores: Sequence[float], threshold: float) -> QualityFigures | None:
    """The figures of predictions `scores` (probability of class 1, predicted 1 at >= threshold) against `labels`;
    None for no records."""
    if not labels:
        return None
    tp = fp = tn = fn = 0
    for label, score in zip(labels, scores, strict=True):
        if score >= threshold:
            if label == 1:
                tp += 1
            else:
                fp += 1
        elif label == 1:
            fn += 1
        else:
            tn += 1
    precision, recall = _ratio(tp, tp + fp), _ratio(tp, tp + fn)
    return QualityFigures(
        count=len(labels),
        accuracy=(tp + tn) / len(labels),
        precision=precision,
        recall=recall,
        f1=_ratio(2 * tp, 2 * tp + fp + fn),
        auc=roc_auc(labels, scores),
        confusion={"tp": tp, "fp": fp, "tn": tn, "fn": fn},
    )


def metric_values(evaluation: dict[str, Any]) -> dict[str, float]:
    """{name: value} from an evaluation report in SageMaker's model-quality shape (any *_metrics section)."""
    values: dict[str, float] = {}
    for section, metrics in evaluation.items():
        if not section.endswith("_metrics") or not isinstance(metrics, dict):
            continue
        for name, entry in metrics.items():
            if isinstance(entry, dict) and isinstance(entry.get("value"), int | float):
                values.setdefault(name, float(entry["value"]))
    return values
