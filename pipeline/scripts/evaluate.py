"""Processing step 3: score the trained model on the held-out test set.

Writes evaluation.json (SageMaker's model-quality shape, `binary_classification_metrics`, read by
the pipeline's condition and registered as the version's model metrics) and the final drift
baseline: the features' profile from preprocessing plus the distribution of the model's
predictions on the validation set.
"""

from __future__ import annotations

import argparse
import json
import sys
import tarfile
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import joblib
from churn_features import (
    GROUP,
    LABEL,
    bias_figures,
    clarify_bias_report,
    correlation_ratios,
    prediction_profile,
    read_rows,
)
from sklearn import metrics
from train import MODEL_FILE, labels, matrix


def load_model(model_dir: Path) -> object:
    archive = model_dir / "model.tar.gz"
    if not archive.exists():
        return joblib.load(model_dir / MODEL_FILE)
    with tempfile.TemporaryDirectory() as unpacked, tarfile.open(archive) as tar:
        tar.extractall(unpacked, filter="data")
        return joblib.load(Path(unpacked) / MODEL_FILE)


def evaluation(model: object, rows: list[dict[str, str]]) -> dict[str, object]:
    truth = labels(rows)
    probability = model.predict_proba(matrix(rows))[:, 1]  # type: ignore[attr-defined]
    predicted = (probability >= 0.5).astype(int)
    (tn, fp), (fn, tp) = metrics.confusion_matrix(truth, predicted, labels=[0, 1]).tolist()

    def value(number: float) -> dict[str, object]:
        return {"value": round(float(number), 6), "standard_deviation": "NaN"}

    return {
        "binary_classification_metrics": {
            "accuracy": value(metrics.accuracy_score(truth, predicted)),
            "precision": value(metrics.precision_score(truth, predicted, zero_division=0)),
            "recall": value(metrics.recall_score(truth, predicted, zero_division=0)),
            "f1": value(metrics.f1_score(truth, predicted, zero_division=0)),
            "auc": value(metrics.roc_auc_score(truth, probability)),
            "confusion_matrix": {"0": {"0": tn, "1": fp}, "1": {"0": fn, "1": tp}},
        },
        "test_rows": len(rows),
    }


ATTRIBUTION_METHOD = "correlation_ratio"


def explainability_report(attributions: dict[str, float | None], rows: int) -> dict[str, object]:
    """Global attribution per feature, shaped as a Clarify analysis.json's explanations (Clarify developer guide,
    "Analysis results"), under the method's own name: these are correlation ratios, not SHAP values."""
    return {
        "version": "1.0",
        "explanations": {ATTRIBUTION_METHOD: {"label0": {"global_attributions": attributions}}},
        "rows": rows,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model-dir", type=Path, default=Path("/opt/ml/processing/model"))
    parser.add_argument("--test-dir", type=Path, default=Path("/opt/ml/processing/test"))
    parser.add_argument("--validation-dir", type=Path, default=Path("/opt/ml/processing/validation"))
    parser.add_argument("--baseline-dir", type=Path, default=Path("/opt/ml/processing/baseline"))
    parser.add_argument("--evaluation-dir", type=Path, default=Path("/opt/ml/processing/evaluation"))
    parser.add_argument("--drift-baseline-dir", type=Path, default=Path("/opt/ml/processing/drift-baseline"))
    parser.add_argument("--bias-facet", default=GROUP, help="the column whose groups are compared")
    parser.add_argument("--disfavoured-values", default="65-plus", help="disfavoured values, comma-separated")
    parser.add_argument("--threshold", type=float, default=0.5, help="probability at which churn is predicted")
    args = parser.parse_args(argv)

    model = load_model(args.model_dir)
    test_rows = [row for file in sorted(args.test_dir.glob("*.csv")) for row in read_rows(file)]
    report = evaluation(model, test_rows)
    args.evaluation_dir.mkdir(parents=True, exist_ok=True)
    (args.evaluation_dir / "evaluation.json").write_text(json.dumps(report, indent=2, sort_keys=True))

    validation_rows = [row for file in sorted(args.validation_dir.glob("*.csv")) for row in read_rows(file)]
    baseline = json.loads((args.baseline_dir / "baseline.json").read_text())
    probabilities = model.predict_proba(matrix(validation_rows))[:, 1]  # type: ignore[attr-defined]
    baseline["predictions"] = prediction_profile([float(p) for p in probabilities])
    args.drift_baseline_dir.mkdir(parents=True, exist_ok=True)
    (args.drift_baseline_dir / "baseline.json").write_text(json.dumps(baseline, indent=2, sort_keys=True))

    # bias and attribution on the validation set, what the monitor measures on live traffic
    disfavoured = [value.strip() for value in args.disfavoured_values.split(",") if value.strip()]
    figures = bias_figures(
        [str(row.get(args.bias_facet) or "") for row in validation_rows],
        [int(p >= args.threshold) for p in probabilities],
        [int(row[LABEL]) for row in validation_rows],
        disfavoured,
    )
    bias = clarify_bias_report(args.bias_facet, disfavoured, figures, len(validation_rows))
    (args.evaluation_dir / "bias.json").write_text(json.dumps(bias, indent=2, sort_keys=True))
    attributions = correlation_ratios(validation_rows, [float(p) for p in probabilities], baseline)
    explainability = explainability_report(attributions, len(validation_rows))
    (args.evaluation_dir / "explainability.json").write_text(json.dumps(explainability, indent=2, sort_keys=True))
    print(json.dumps(report["binary_classification_metrics"]["accuracy"]))  # type: ignore[index]


if __name__ == "__main__":
    main()
