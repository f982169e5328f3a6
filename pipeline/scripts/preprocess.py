"""Processing step 1: split the customers into train/validation/test and profile the features.

SageMaker runs it as `python3 /opt/ml/processing/code/preprocess.py`, the data in
/opt/ml/processing/input; the outputs go to /opt/ml/processing/{train,validation,test,baseline}.
baseline.json holds, per feature, what drift detection compares live traffic with.
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


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--input-dir", type=Path, default=Path("/opt/ml/processing/input"))
    parser.add_argument("--output-dir", type=Path, default=Path("/opt/ml/processing"))
    parser.add_argument("--validation-fraction", type=float, default=0.15)
    parser.add_argument("--test-fraction", type=float, default=0.15)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args(argv)

    files = sorted(args.input_dir.rglob("*.csv"))
    if not files:
        raise SystemExit(f"no CSV file under {args.input_dir}")
    rows = [row for file in files for row in read_rows(file)]
    rows = [row for row in rows if row.get(LABEL) in ("0", "1")]
    if len(rows) < 100:
        raise SystemExit(f"only {len(rows)} labelled rows in {len(files)} file(s): too few to train on")
    parts = split(rows, args.seed, args.validation_fraction, args.test_fraction)
    for name, part in parts.items():
        write_rows(args.output_dir / name / f"{name}.csv", part)
    baseline = feature_baseline(parts["train"])
    baseline_path = args.output_dir / "baseline" / "baseline.json"
    baseline_path.parent.mkdir(parents=True, exist_ok=True)
    baseline_path.write_text(json.dumps(baseline, indent=2, sort_keys=True))
    print(json.dumps({"rows": len(rows), "files": len(files), **{n: len(p) for n, p in parts.items()}}))


if __name__ == "__main__":
    main()
