"""Training step: a gradient-boosted classifier of churn, saved to the model directory.

Run by the SageMaker scikit-learn container (script mode): channels in SM_CHANNEL_<NAME>, the
model directory in SM_MODEL_DIR, hyperparameters as command-line options.

The serving code goes into the model too, under code/: a model that runs with network isolation
cannot fetch it from S3, so the registered container finds it at /opt/ml/model/code.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import joblib
import numpy as np
from churn_features import CATEGORICAL, FEATURES, LABEL, NUMERIC, feature_columns, read_rows
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder

MODEL_FILE = "model.joblib"
HERE = Path(__file__).resolve().parent
CODE_DIR = "code"  # <model_dir>/code: /opt/ml/model/code where the model is served
# inference.py (SAGEMAKER_PROGRAM) and the modules of this directory it imports, itself or through another
SERVING_CODE = ("inference.py", "churn_features.py", "train.py")


def pack_serving_code(model_dir: Path, source_dir: Path = HERE) -> Path:
    """Copy the serving code this script was shipped with into <model_dir>/code; returns that folder."""
    code_dir = model_dir / CODE_DIR
    code_dir.mkdir(parents=True, exist_ok=True)
    for name in SERVING_CODE:
        shutil.copyfile(source_dir / name, code_dir / name)
    return code_dir


def matrix(rows: list[dict[str, str]]) -> np.ndarray:
    """One row per customer, FEATURES in order (numbers as float, categories as str)."""
    columns = feature_columns(rows)
    return np.array([[columns[name][i] for name in FEATURES] for i in range(len(rows))], dtype=object)


def labels(rows: list[dict[str, str]]) -> np.ndarray:
    return np.array([int(row[LABEL]) for row in rows])


def build_model(max_iter: int, learning_rate: float, max_depth: int, seed: int) -> Pipeline:
    numeric = list(range(len(NUMERIC)))
    categorical = list(range(len(NUMERIC), len(FEATURES)))
    encode = ColumnTransformer(
        [
            ("numeric", "passthrough", numeric),  # the classifier handles missing values itself
            ("categorical", OneHotEncoder(handle_unknown="ignore", sparse_output=False), categorical),
        ]
    )
    classifier = HistGradientBoostingClassifier(
        max_iter=max_iter, learning_rate=learning_rate, max_depth=max_depth, random_state=seed
    )
    return Pipeline([("encode", encode), ("classify", classifier)])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--max-iter", type=int, default=150)
    parser.add_argument("--learning-rate", type=float, default=0.05)
    parser.add_argument("--max-depth", type=int, default=4)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--train", type=Path, default=Path(os.environ.get("SM_CHANNEL_TRAIN", "/opt/ml/input/data/train"))
    )
    parser.add_argument(
        "--validation",
        type=Path,
        default=Path(os.environ.get("SM_CHANNEL_VALIDATION", "/opt/ml/input/data/validation")),
    )
    parser.add_argument("--model-dir", type=Path, default=Path(os.environ.get("SM_MODEL_DIR", "/opt/ml/model")))
    args = parser.parse_args(argv)

    train_rows = [row for file in sorted(args.train.glob("*.csv")) for row in read_rows(file)]
    validation_rows = [row for file in sorted(args.validation.glob("*.csv")) for row in read_rows(file)]
    model = build_model(args.max_iter, args.learning_rate, args.max_depth, args.seed)
    model.fit(matrix(train_rows), labels(train_rows))
    accuracy = float((model.predict(matrix(validation_rows)) == labels(validation_rows)).mean())
    args.model_dir.mkdir(parents=True, exist_ok=True)
    joblib.dump(model, args.model_dir / MODEL_FILE)
    pack_serving_code(args.model_dir)
    # SageMaker reads this line with the training job's metric definitions
    print(f"validation:accuracy={accuracy:.4f}")
    print(
        json.dumps({"train_rows": len(train_rows), "validation_rows": len(validation_rows), "categorical": CATEGORICAL})
    )


if __name__ == "__main__":
    main()
