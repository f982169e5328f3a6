"""Processing step 1: split the customers into train/validation/test and profile the features.

SageMaker runs it as `python3 /opt/ml/processing/code/preprocess.py`, the data in
/opt/ml/processing/input; the outputs go to /opt/ml/processing/{train,validation,test,baseline}.
baseline.json holds, per feature, what drift detection compares live traffic with.

--flip-labels true (the pipeline's FlipLabels parameter) turns every label upside down (churned 1 <-> 0) before
the split, so training and evaluation both see the flipped labels: the model learns the opposite of the truth,
passes the quality gate on the flipped test set and disagrees with a normal model on every customer.

lineage/lineage.json (the pipeline's Lineage property file) says what the model is made from, for the version's
metadata: data_sha256, the hex SHA-256 of the training data as read here (of the one CSV file; of the files'
bytes one after the other, in path order, when the input holds several); code_sha256, that of the source archive
the training job runs (sourcedir.tar.gz beside this script: the code input is the whole pipeline/code/ prefix;
"absent" when there is none, e.g. the scripts run from a checkout: on SageMaker the training job then fails on
the same missing archive, so no version is registered with it); commit and repository from source.json beside
this script (written by `make publish COMMIT=... REPOSITORY=...`; empty strings when absent).
"""

from __future__ import annotations

import argparse
import hashlib
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


ABSENT = "absent"  # code_sha256 when no source archive lies beside this script


def sha256_of(files: list[Path]) -> str:
    digest = hashlib.sha256()
    for file in files:
        with file.open("rb") as stream:
            for chunk in iter(lambda: stream.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()


def lineage(files: list[Path], code_dir: Path) -> dict[str, str]:
    """What the model is made from: the data's and the source archive's digests, the published commit."""
    archive = code_dir / "sourcedir.tar.gz"
    source = code_dir / "source.json"
    published = json.loads(source.read_text()) if source.is_file() else {}
    return {
        "data_sha256": sha256_of(files),
        "code_sha256": sha256_of([archive]) if archive.is_file() else ABSENT,
        "commit": str(published.get("commit", "")),
        "repository": str(published.get("repository", "")),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--input-dir", type=Path, default=Path("/opt/ml/processing/input"))
    parser.add_argument("--output-dir", type=Path, default=Path("/opt/ml/processing"))
    parser.add_argument("--validation-fraction", type=float, default=0.15)
    parser.add_argument("--test-fraction", type=float, default=0.15)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--code-dir",
        type=Path,
        default=Path(__file__).resolve().parent,
        help="where sourcedir.tar.gz and source.json are",
    )
    parser.add_argument(
        "--flip-labels", choices=("true", "false"), default="false", help="invert the label of every row first"
    )
    args = parser.parse_args(argv)

    files = sorted(args.input_dir.rglob("*.csv"))
    if not files:
        raise SystemExit(f"no CSV file under {args.input_dir}")
    lineage_path = args.output_dir / "lineage" / "lineage.json"
    lineage_path.parent.mkdir(parents=True, exist_ok=True)
    lineage_path.write_text(json.dumps(lineage(files, args.code_dir), indent=2, sort_keys=True))
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
