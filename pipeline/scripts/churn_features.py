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
FEATURES = NUMERIC + CATEGORICAL
LABEL = "churned"
BINS = 10
BASELINE_SCHEMA_VERSION = 1


def read_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    missing = [column for column in (*FEATURES, LABEL) if rows and column not in rows[0]]
    if missing:
        raise ValueError(f"{path}: missing columns {', '.join(missing)}")
    return rows


def write_rows(path: Path, rows: Iterable[dict[str, str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=[*FEATURES, LABEL], lineterminator="\n", extrasaction="ignore")
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
    for name in CATEGORICAL:
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
    for name in CATEGORICAL:
        features[name] = categorical_profile(columns[name])  # type: ignore[arg-type]
    return {
        "schema_version": BASELINE_SCHEMA_VERSION,
        "rows": len(rows),
        "feature_order": list(FEATURES),  # the columns of a text/csv request
        "features": features,
    }


PREDICTION_EDGES = [round(i / BINS, 1) for i in range(1, BINS)]


def prediction_profile(probabilities: Sequence[float]) -> dict[str, object]:
    """The distribution of the model's churn probabilities, over fixed tenths."""
    profile = numeric_profile(list(probabilities), PREDICTION_EDGES)
    profile["output"] = "churn probability"
    return profile
