"""Processing step 1: split the customers into train/validation/test and profile the features.

SageMaker runs it as `python3 /opt/ml/processing/code/preprocess.py`, the data in
/opt/ml/processing/input; the outputs go to /opt/ml/processing/{train,validation,test,baseline}.
baseline.json holds, per feature, what drift detection compares live traffic with.

--flip-labels true (the pipeline's FlipLabels parameter) turns every label upside down (churned 1 <-> 0) before
the split, so training and evaluation both see the flipped labels: the model learns the opposite of the truth,
passes the quality gate on the flipped test set and disagrees with a normal model on every customer.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from churn_features import LABEL, feature_baseline, read_rows, write_rows


def split(rows: list[dict[str, str]], seed: int, validation: float, test: float) -> dict[str, list[dict[str, str]]]:
    shuffled = list(rows)
    random.Random(seed).shuffle(shuffled)
    n_test = round(len(shuffled) * test)
    n_validation = round(len(shuffled) * validation)
    return {
        "test": shuffled[:n_test],
        "validation": shuffled[n_test : n_test + n_validation],
        "train": shuffled[n_test + n_validation :],
    }


def flipped(rows: list[dict[str, str]]) -> list[dict[str, str]]:
    """The rows with the binary label inverted."""
    return [{**row, LABEL: "0" if row[LABEL] == "1" else "1"} for row in rows]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--input-dir", type=Path, default=Path("/opt/ml/processing/input"))
    parser.add_argument("--output-dir", type=Path, default=Path("/opt/ml/processing"))
    parser.add_argument("--validation-fraction", type=float, default=0.15)
    parser.add_argument("--test-fraction", type=float, default=0.15)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--flip-labels", choices=("true", "false"), default="false", help="invert the label of every row first"
    )
    args = parser.parse_args(argv)

    files = sorted(args.input_dir.rglob("*.csv"))
    if not files:
        raise SystemExit(f"no CSV file under {args.input_dir}")
    rows = [row for file in files for row in read_rows(file)]
    rows = [row for row in rows if row.get(LABEL) in ("0", "1")]
    if len(rows) < 100:
        raise SystemExit(f"only {len(rows)} labelled rows in {len(files)} file(s): too few to train on")
    if args.flip_labels == "true":
        rows = flipped(rows)
    parts = split(rows, args.seed, args.validation_fraction, args.test_fraction)
    for name, part in parts.items():
        write_rows(args.output_dir / name / f"{name}.csv", part)
    baseline = feature_baseline(parts["train"])
    baseline_path = args.output_dir / "baseline" / "baseline.json"
    baseline_path.parent.mkdir(parents=True, exist_ok=True)
    baseline_path.write_text(json.dumps(baseline, indent=2, sort_keys=True))
    counts = {n: len(p) for n, p in parts.items()}
    print(json.dumps({"rows": len(rows), "files": len(files), "flipped_labels": args.flip_labels == "true", **counts}))


if __name__ == "__main__":
    main()
