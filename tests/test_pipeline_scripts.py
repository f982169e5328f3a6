"""The training pipeline's scripts on the shipped data, run as SageMaker runs them (subprocesses)."""

from __future__ import annotations

import ast
import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from pipeline import dataset, local, publish

SCRIPTS = publish.SCRIPTS


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Given the shipped data, when preprocess, train and evaluate run one after the other."""
    root = tmp_path_factory.mktemp("pipeline")
    local.run_scripts(publish.DATA, root)
    return root


def rows(path: Path) -> list[dict[str, str]]:
    with path.open() as handle:
        return list(csv.DictReader(handle))


def test_the_shipped_data_is_what_the_generator_writes_and_has_categorical_features() -> None:
    shipped = publish.DATA.read_text()
    assert shipped == dataset.to_csv(dataset.generate())
    records = rows(publish.DATA)
    assert len(records) == dataset.ROWS
    assert {r["contract"] for r in records} == set(dataset.CONTRACTS)
    churn_rate = sum(int(r["churned"]) for r in records) / len(records)
    assert 0.25 < churn_rate < 0.6  # both classes well represented


def test_preprocessing_splits_every_row_once(work: Path) -> None:
    parts = {name: rows(work / name / f"{name}.csv") for name in ("train", "validation", "test")}
    assert [len(parts[n]) for n in ("train", "validation", "test")] == [2100, 450, 450]
    assert sum(len(p) for p in parts.values()) == dataset.ROWS


def test_the_baseline_profiles_every_feature(work: Path) -> None:
    baseline = json.loads((work / "baseline" / "baseline.json").read_text())
    features = baseline["features"]
    assert set(features) == set(dataset.COLUMNS)
    tenure = features["tenure_months"]
    assert tenure["type"] == "numeric"
    assert len(tenure["proportions"]) == len(tenure["bin_edges"]) + 1
    assert sum(tenure["proportions"]) == pytest.approx(1.0, abs=1e-4)
    assert tenure["bin_edges"] == sorted(tenure["bin_edges"])
    contract = features["contract"]
    assert contract["type"] == "categorical"
    assert set(contract["frequencies"]) == set(dataset.CONTRACTS)
    assert sum(contract["frequencies"].values()) == pytest.approx(1.0, abs=1e-4)
    assert 0.0 < features["data_usage_gb"]["missing_rate"] < 0.1  # the data has missing usage readings
    assert baseline["rows"] == 2100


def test_evaluation_reports_accuracy_clear_of_the_default_threshold(work: Path) -> None:
    metrics = json.loads((work / "evaluation" / "evaluation.json").read_text())["binary_classification_metrics"]
    assert metrics["accuracy"]["value"] >= 0.85  # the default threshold is 0.8: a margin
    matrix = metrics["confusion_matrix"]
    assert sum(matrix[t][p] for t in "01" for p in "01") == 450
    correct = matrix["0"]["0"] + matrix["1"]["1"]
    assert metrics["accuracy"]["value"] == pytest.approx(correct / 450, abs=1e-6)
    assert 0.5 < metrics["auc"]["value"] <= 1.0


def test_the_drift_baseline_adds_the_distribution_of_predictions(work: Path) -> None:
    baseline = json.loads((work / "drift-baseline" / "baseline.json").read_text())
    predictions = baseline["predictions"]
    assert predictions["bin_edges"] == [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]
    assert sum(predictions["proportions"]) == pytest.approx(1.0, abs=1e-4)
    assert set(baseline["features"]) == set(dataset.COLUMNS)


def served(work: Path) -> Any:
    sys.path.insert(0, str(SCRIPTS))
    try:
        import inference

        return inference
    finally:
        sys.path.remove(str(SCRIPTS))


def test_the_trained_model_predicts_churn_through_the_serving_functions(work: Path) -> None:
    inference = served(work)
    model = inference.model_fn(str(work / "model"))
    loyal = "60,30.0,0,25.0,two-year,credit-card,65-plus"
    leaving = "2,110.0,6,3.0,month-to-month,electronic-check,under-65"
    body, content_type = inference.output_fn(
        inference.predict_fn(inference.input_fn(f"{loyal}\n{leaving}\n", "text/csv"), model), "text/csv"
    )
    low, high = (float(line) for line in body.splitlines())
    assert content_type == "text/csv"
    assert low < 0.2 < 0.8 < high
    as_json = inference.input_fn(json.dumps([{"tenure_months": 60, "contract": "two-year"}]), "application/json")
    answer, json_type = inference.output_fn(inference.predict_fn(as_json, model), "application/json")
    assert json_type == "application/json" and 0.0 <= json.loads(answer)[0] <= 1.0


def local_imports(script: Path) -> set[str]:
    """The modules of the scripts' directory a script imports."""
    tree = ast.parse(script.read_text())
    names = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    names |= {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
    return {f"{name}.py" for name in names if (script.parent / f"{name}.py").exists()}


def test_the_model_carries_its_serving_code_for_a_container_without_network(work: Path) -> None:
    """SAGEMAKER_SUBMIT_DIRECTORY /opt/ml/model/code: inference.py and all it imports, inside the model."""
    needed, pending = set(), {"inference.py"}
    while pending:
        script = pending.pop()
        needed.add(script)
        pending |= local_imports(SCRIPTS / script) - needed
    packed = {file.name for file in (work / "model" / "code").iterdir()}
    assert packed == needed == {"inference.py", "churn_features.py", "train.py"}
    for name in packed:
        assert (work / "model" / "code" / name).read_bytes() == (SCRIPTS / name).read_bytes()


def test_the_code_packed_in_the_model_serves_it_on_its_own(work: Path, tmp_path: Path) -> None:
    """As the serving container does: the unpacked model, its code/ on the path, no other script around."""
    model_dir = tmp_path / "opt" / "ml" / "model"
    shutil.copytree(work / "model", model_dir)
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; sys.path.insert(0, sys.argv[1]); import inference; "
            "m = inference.model_fn(sys.argv[2]); "
            "print(inference.output_fn(inference.predict_fn(inference.input_fn(sys.argv[3], 'text/csv'), m), "
            "'text/csv')[0].strip(), inference.__file__, sys.modules['train'].__file__)",
            str(model_dir / "code"),
            str(model_dir),
            "2,110.0,6,3.0,month-to-month,electronic-check,under-65\n",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        env={"PATH": os.environ.get("PATH", ""), "PYTHONDONTWRITEBYTECODE": "1"},
    )
    assert done.returncode == 0, done.stderr
    probability, *modules = done.stdout.split()
    assert float(probability) > 0.8
    assert [Path(module).parent for module in modules] == [model_dir / "code"] * 2


@pytest.mark.parametrize(
    ("body", "content_type", "problem"),
    [
        ("1,2,3\n", "text/csv", "7 columns"),
        ("2,110.0,6,3.0,month-to-month,electronic-check\n", "text/csv", "7 columns"),
        ('{"tenure_months": 3}', "application/json", "list of objects"),
        ("x", "application/x-npy", "unsupported content type"),
    ],
)
def test_bad_requests_are_refused_with_the_reason(work: Path, body: str, content_type: str, problem: str) -> None:
    inference = served(work)
    with pytest.raises(ValueError, match=problem):
        inference.input_fn(body, content_type)


def test_preprocessing_refuses_too_little_data(tmp_path: Path) -> None:
    (tmp_path / "input").mkdir()
    (tmp_path / "input" / "few.csv").write_text(dataset.to_csv(dataset.generate(rows=20)))
    with pytest.raises(local.ScriptFailed, match="only 20 labelled rows"):
        local.run_script("preprocess.py", "--input-dir", str(tmp_path / "input"), "--output-dir", str(tmp_path))
