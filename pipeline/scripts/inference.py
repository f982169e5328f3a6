"""Serving: the SageMaker scikit-learn container's model_fn / input_fn / predict_fn / output_fn.

Requests are customers, one per line: CSV without a header, the columns in COLUMNS order (the dataset's
columns but the label: the model's FEATURES, then the customer's group, which the model does not use)
(text/csv), or a JSON list of objects keyed by column name (application/json). The answer is
each customer's churn probability, one per line (text/csv) or a JSON list.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import joblib
from churn_features import COLUMNS
from train import MODEL_FILE, matrix


def model_fn(model_dir: str) -> object:
    return joblib.load(Path(model_dir) / MODEL_FILE)


def input_fn(body: bytes | str, content_type: str) -> list[dict[str, str]]:
    text = body.decode() if isinstance(body, bytes) else body
    if content_type.startswith("application/json"):
        records = json.loads(text)
        if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
            raise ValueError("application/json input must be a list of objects keyed by feature name")
        return [{name: "" if r.get(name) is None else str(r[name]) for name in COLUMNS} for r in records]
    if content_type.startswith("text/csv"):
        rows = [line for line in csv.reader(io.StringIO(text)) if line]
        wrong = [i for i, line in enumerate(rows) if len(line) != len(COLUMNS)]
        if wrong:
            raise ValueError(
                f"text/csv rows need {len(COLUMNS)} columns ({', '.join(COLUMNS)}); row {wrong[0]} has not"
            )
        return [dict(zip(COLUMNS, line, strict=True)) for line in rows]
    raise ValueError(f"unsupported content type {content_type}: send text/csv or application/json")


def predict_fn(rows: list[dict[str, str]], model: object) -> list[float]:
    if not rows:
        return []
    return [round(float(p), 6) for p in model.predict_proba(matrix(rows))[:, 1]]  # type: ignore[attr-defined]


def output_fn(probabilities: list[float], accept: str) -> tuple[str, str]:
    if accept.startswith("application/json"):
        return json.dumps(probabilities), "application/json"
    return "".join(f"{p}\n" for p in probabilities), "text/csv"
