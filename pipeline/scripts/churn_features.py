"""What the scripts share: the columns, reading the CSV, and the drift baseline's statistics.

Shipped beside preprocess.py, train.py, evaluate.py and inference.py in every job (the same
directory is the processing code input and the training/serving source directory).
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable, Sequence
from pathlib import Path

NUMERIC = ("tenure_months", "monthly_charges", "support_calls", "data_usage_gb")
CATEGORICAL = ("contract", "payment_method")
FEATURES = NUMERIC + CATEGORICAL  # the model's inputs
# The customer's group: sent with every request and profiled like a feature (its mix can drift), but never a
# model input. A model that used it could score two customers differently for their group alone (disparate
# treatment); kept out, the bias figures measure what the model's real inputs do to the groups.
GROUP = "age_group"
COLUMNS = (*FEATURES, GROUP)  # a request's columns, in this order (the dataset's columns but the label)
LABEL = "churned"
BINS = 10
BASELINE_SCHEMA_VERSION = 1


def read_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    missing = [column for column in (*FEATURES, LABEL) if rows and column not in rows[0]]
    if missing:
        raise ValueError(f"{path}: missing columns {', '.join(missing)}")
    for row in rows:  # data from before the group column: its group is unknown (missing)
        row.setdefault(GROUP, "")
    return rows


def write_rows(path: Path, rows: Iterable[dict[str, str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=[*COLUMNS, LABEL], lineterminator="\n", extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)


def number(value: object) -> float:
    """A numeric cell: empty or unparsable is missing (NaN)."""
    try:
        result = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return math.nan
    return result


def feature_columns(rows: Sequence[dict[str, str]]) -> dict[str, list[object]]:
    """Columns as the model takes them: numbers (NaN when missing) and category strings."""
    columns: dict[str, list[object]] = {name: [number(row.get(name)) for row in rows] for name in NUMERIC}
    for name in (*CATEGORICAL, GROUP):
        columns[name] = [str(row.get(name) or "missing") for row in rows]
    return columns


def bin_edges(values: Sequence[float], bins: int = BINS) -> list[float]:
    """Interior cut points at the quantiles of the present values (fewer when values repeat)."""
    present = sorted(v for v in values if not math.isnan(v))
    if not present:
        return []
    edges: list[float] = []
    for i in range(1, bins):
        cut = present[min(len(present) - 1, (i * len(present)) // bins)]
        if not edges or cut > edges[-1]:
            edges.append(cut)
    return [edge for edge in edges if edge > present[0]]


def bin_index(value: float, edges: Sequence[float]) -> int:
    """Bin i holds edges[i-1] < value <= edges[i]; the last bin is everything above the last edge."""
    low, high = 0, len(edges)
    while low < high:
        middle = (low + high) // 2
        if value <= edges[middle]:
            high = middle
        else:
            low = middle + 1
    return low


def numeric_profile(values: Sequence[float], edges: Sequence[float] | None = None) -> dict[str, object]:
    edges = list(bin_edges(values) if edges is None else edges)
    present = [v for v in values if not math.isnan(v)]
    counts = [0] * (len(edges) + 1)
    for value in present:
        counts[bin_index(value, edges)] += 1
    return {
        "type": "numeric",
        "bin_edges": edges,
        "proportions": [round(c / len(present), 6) if present else 0.0 for c in counts],
        "missing_rate": round(1 - len(present) / len(values), 6) if values else 0.0,
        "mean": round(sum(present) / len(present), 6) if present else None,
    }


def categorical_profile(values: Sequence[str]) -> dict[str, object]:
    present = [v for v in values if v != "missing"]
    frequencies: dict[str, float] = {}
    for value in sorted(set(present)):
        frequencies[value] = round(present.count(value) / len(present), 6)
    return {
        "type": "categorical",
        "frequencies": frequencies,
        "missing_rate": round(1 - len(present) / len(values), 6) if values else 0.0,
    }


def feature_baseline(rows: Sequence[dict[str, str]]) -> dict[str, object]:
    columns = feature_columns(rows)
    features: dict[str, object] = {}
    for name in NUMERIC:
        features[name] = numeric_profile(columns[name])  # type: ignore[arg-type]
    for name in (*CATEGORICAL, GROUP):
        features[name] = categorical_profile(columns[name])  # type: ignore[arg-type]
    return {
        "schema_version": BASELINE_SCHEMA_VERSION,
        "rows": len(rows),
        "feature_order": list(COLUMNS),  # the columns of a text/csv request
        "features": features,
    }


PREDICTION_EDGES = [round(i / BINS, 1) for i in range(1, BINS)]


def prediction_profile(probabilities: Sequence[float]) -> dict[str, object]:
    """The distribution of the model's churn probabilities, over fixed tenths."""
    profile = numeric_profile(list(probabilities), PREDICTION_EDGES)
    profile["output"] = "churn probability"
    return profile


# ---------------------------------------------------------------- bias and feature attribution on validation
# The drift monitor (functions/mlops/bias.py, attributions.py) measures the same quantities on live traffic, the
# same way; tests/test_model_monitoring.py holds the two to the same numbers on the same records.


def _share(values: Sequence[int]) -> float | None:
    return sum(values) / len(values) if values else None


def bias_figures(
    groups: Sequence[str], predicted: Sequence[int], truth: Sequence[int], disfavoured: Sequence[str]
) -> dict[str, float | None]:
    """Clarify's post-training figures for facet d (the disfavoured values) against a (every other group):
    DPPL = q'a - q'd, DI = q'd / q'a (q' the share of positive predictions), RD = recall a - recall d,
    AD = accuracy a - accuracy d. None where a group is empty or a share is undefined."""
    d = [i for i, group in enumerate(groups) if group in set(disfavoured)]
    a = [i for i, group in enumerate(groups) if group not in set(disfavoured) and group not in ("", "missing")]

    def recall(members: list[int]) -> float | None:
        return _share([predicted[i] for i in members if truth[i] == 1])

    def accuracy(members: list[int]) -> float | None:
        return _share([int(predicted[i] == truth[i]) for i in members])

    qa, qd = _share([predicted[i] for i in a]), _share([predicted[i] for i in d])
    ra, rd, aa, ad = recall(a), recall(d), accuracy(a), accuracy(d)
    return {
        "DPPL": qa - qd if qa is not None and qd is not None else None,
        "DI": qd / qa if qa and qd is not None else None,
        "RD": ra - rd if ra is not None and rd is not None else None,
        "AD": aa - ad if aa is not None and ad is not None else None,
    }


def clarify_bias_report(
    facet: str, disfavoured: Sequence[str], figures: dict[str, float | None], rows: int
) -> dict[str, object]:
    """The post-training part of a SageMaker Clarify analysis.json (Clarify developer guide, "Analysis results",
    https://docs.aws.amazon.com/sagemaker/latest/dg/clarify-processing-job-analysis-results.html)."""
    names = {
        "DPPL": "Difference in Positive Proportions in Predicted Labels (DPPL)",
        "DI": "Disparate Impact (DI)",
        "RD": "Recall Difference (RD)",
        "AD": "Accuracy Difference (AD)",
    }
    return {
        "version": "1.0",
        "post_training_bias_metrics": {
            "label": LABEL,
            "label_value_or_threshold": "1",
            "facets": {
                facet: [
                    {
                        "value_or_threshold": ",".join(disfavoured),
                        "metrics": [
                            {"name": name, "description": names[name], "value": value}
                            for name, value in figures.items()
                        ],
                    }
                ]
            },
        },
        "rows": rows,
    }


def profile_bin(raw: object, profile: dict[str, object]) -> int:
    """The bin a raw cell falls in under a feature's baseline profile, as the drift monitor bins it: numeric
    cells by the profile's edges, categories by name (one more for unseen ones), the last index for missing."""
    value = "" if raw is None else str(raw).strip()
    if profile["type"] == "numeric":
        edges = list(profile["bin_edges"])  # type: ignore[call-overload]
        parsed = number(value) if value else math.nan
        return len(edges) + 1 if math.isnan(parsed) else bin_index(parsed, edges)
    categories = list(profile["frequencies"])  # type: ignore[call-overload]
    if value == "":
        return len(categories) + 1
    return categories.index(value) if value in categories else len(categories)


def correlation_ratios(
    rows: Sequence[dict[str, str]], predictions: Sequence[float], baseline: dict[str, object]
) -> dict[str, float | None]:
    """Global attribution per model input: the correlation ratio (eta squared) of the predictions on the
    input's baseline bins, the share of the predictions' variance its bins explain alone (a first-order
    sensitivity index). None when the predictions do not vary."""
    total, square = sum(predictions), sum(p * p for p in predictions)
    n = len(predictions)
    if n == 0:
        return dict.fromkeys(FEATURES)
    spread = square - total * total / n
    profiles = baseline["features"]
    ratios: dict[str, float | None] = {}
    for name in FEATURES:
        counts: dict[int, int] = {}
        sums: dict[int, float] = {}
        for row, p in zip(rows, predictions, strict=True):
            index = profile_bin(row.get(name), profiles[name])  # type: ignore[index]
            counts[index] = counts.get(index, 0) + 1
            sums[index] = sums.get(index, 0.0) + p
        between = sum(sums[i] * sums[i] / counts[i] for i in counts) - total * total / n
        ratios[name] = max(0.0, between / spread) if spread > 1e-12 else None
    return ratios
