"""The pipeline definition: its shape, and that the template deploys exactly what the code defines."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

from pipeline.definition import DEFINITION_PATH
from sandbox.template import load_sam_template
from tests.conftest import ROOT

PIPELINE_PYTHON = ROOT / ".venv-pipeline" / "bin" / "python"


def definition() -> dict[str, Any]:
    return json.loads(DEFINITION_PATH.read_text())  # type: ignore[no-any-return]


def steps_by_name(steps: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    found = {}
    for step in steps:
        found[step["Name"]] = step
        arguments = step.get("Arguments", {})
        found.update(steps_by_name(arguments.get("IfSteps", []) + arguments.get("ElseSteps", [])))
    return found


def test_the_pipeline_has_processing_training_condition_register_and_fail_steps() -> None:
    steps = steps_by_name(definition()["Steps"])
    assert {name: step["Type"] for name, step in steps.items()} == {
        "Preprocess": "Processing",
        "Train": "Training",
        "Evaluate": "Processing",
        "AccuracyGate": "Condition",
        "RegisterModel": "RegisterModel",
        "QualityGateFailed": "Fail",
    }


def test_the_gate_compares_the_evaluated_accuracy_with_the_threshold_parameter() -> None:
    parameters = {p["Name"]: p for p in definition()["Parameters"]}
    assert parameters["AccuracyThreshold"] == {"Name": "AccuracyThreshold", "Type": "Float", "DefaultValue": 0.8}
    steps = steps_by_name(definition()["Steps"])
    (condition,) = steps["AccuracyGate"]["Arguments"]["Conditions"]
    assert condition["Type"] == "GreaterThanOrEqualTo"
    assert condition["LeftValue"]["Std:JsonGet"] == {
        "PropertyFile": {"Get": "Steps.Evaluate.PropertyFiles.Evaluation"},
        "Path": "binary_classification_metrics.accuracy.value",
    }
    assert condition["RightValue"] == {"Get": "Parameters.AccuracyThreshold"}
    assert steps["Evaluate"]["PropertyFiles"] == [
        {"PropertyFileName": "Evaluation", "OutputName": "evaluation", "FilePath": "evaluation.json"}
    ]
    assert [s["Name"] for s in steps["AccuracyGate"]["Arguments"]["IfSteps"]] == ["RegisterModel"]
    message = steps["QualityGateFailed"]["Arguments"]["ErrorMessage"]["Std:Join"]["Values"]
    assert condition["LeftValue"] in message and {"Get": "Parameters.AccuracyThreshold"} in message


def test_registration_carries_metrics_baseline_lineage_and_the_approval_parameter() -> None:
    arguments = steps_by_name(definition()["Steps"])["RegisterModel"]["Arguments"]
    assert arguments["ModelPackageGroupName"] == "${ModelPackageGroupName}"
    assert arguments["ModelApprovalStatus"] == {"Get": "Parameters.ModelApprovalStatus"}
    lineage = {"PropertyFile": {"Get": "Steps.Preprocess.PropertyFiles.Lineage"}}
    assert arguments["MetadataProperties"] == {
        "GeneratedBy": {"Get": "Execution.PipelineExecutionArn"},
        "CommitId": {"Std:JsonGet": {**lineage, "Path": "commit"}},
        "Repository": {"Std:JsonGet": {**lineage, "Path": "repository"}},
    }
    assert "evaluation.json" in json.dumps(arguments["ModelMetrics"]["ModelQuality"])
    assert "baseline.json" in json.dumps(arguments["DriftCheckBaselines"]["ModelDataQuality"])
    parameters = {p["Name"]: p for p in definition()["Parameters"]}
    assert parameters["ModelApprovalStatus"]["DefaultValue"] == "PendingManualApproval"
    assert {"InputDataUrl", "ProcessingInstanceType", "TrainingInstanceType"} <= set(parameters)


def test_every_version_says_what_it_was_made_from_and_who_owns_it() -> None:
    steps = steps_by_name(definition()["Steps"])
    metadata = steps["RegisterModel"]["Arguments"]["CustomerMetadataProperties"]
    lineage = {"PropertyFile": {"Get": "Steps.Preprocess.PropertyFiles.Lineage"}}
    # the keys the operator's command line reads
    assert metadata == {
        "data-uri": {"Get": "Parameters.InputDataUrl"},
        "data-version": {"Get": "Parameters.InputDataVersion"},
        "data-sha256": {"Std:JsonGet": {**lineage, "Path": "data_sha256"}},
        "code-sha256": {"Std:JsonGet": {**lineage, "Path": "code_sha256"}},
        "training-job": {"Get": "Steps.Train.TrainingJobName"},
        "hyperparameter-max-iter": {"Get": "Steps.Train.HyperParameters['max-iter']"},
        "hyperparameter-learning-rate": {"Get": "Steps.Train.HyperParameters['learning-rate']"},
        "hyperparameter-max-depth": {"Get": "Steps.Train.HyperParameters['max-depth']"},
        "owner": "${ModelOwner}",
        "use-case": "${ModelUseCase}",
        "compliance": "${ModelCompliance}",
    }
    trained = {k for k in steps["Train"]["Arguments"]["HyperParameters"] if not k.startswith("sagemaker_")}
    assert {f"hyperparameter-{name}" for name in trained} <= set(metadata)
    parameters = {p["Name"]: p for p in definition()["Parameters"]}
    assert parameters["InputDataVersion"] == {
        "Name": "InputDataVersion",
        "Type": "String",
        "DefaultValue": "unrecorded",
    }
    assert steps["Preprocess"]["PropertyFiles"] == [
        {"PropertyFileName": "Lineage", "OutputName": "lineage", "FilePath": "lineage.json"}
    ]


def test_bucket_region_and_image_are_left_to_the_template() -> None:
    text = DEFINITION_PATH.read_text()
    assert "${ArtifactBucket}" in text and "${ScikitLearnImage}" in text
    assert "123456789012" not in text and "us-east-1" not in text
    assert "000000000000" not in text  # the SDK's role stand-in is replaced


def test_the_template_creates_the_pipeline_from_this_definition_unless_one_is_named() -> None:
    template = load_sam_template()
    resource = template["Resources"]["TrainingPipeline"]
    assert resource["Type"] == "AWS::SageMaker::Pipeline"
    assert resource["Condition"] == "CreatePipeline"
    body, variables = resource["Properties"]["PipelineDefinition"]["PipelineDefinitionBody"]["Fn::Sub"]
    assert json.loads(body) == definition()
    assert set(variables) == {"ScikitLearnImage"}
    assert template["Parameters"]["CreatePipeline"]["AllowedValues"] == ["true", "false"]


def test_the_sdk_stays_out_of_the_lambda_package() -> None:
    functions = ROOT / "functions"
    importing = re.compile(r"^\s*(from|import)\s+sagemaker\b", re.MULTILINE)
    assert [p for p in functions.rglob("*.py") if importing.search(p.read_text())] == []
    assert [p for p in functions.rglob("requirements*.txt") if "sagemaker" in p.read_text()] == []


def check(template: Path, definition_path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            *(str(PIPELINE_PYTHON), "-m", "pipeline.definition", "--check"),
            *("--template", str(template), "--definition", str(definition_path)),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )


def test_the_deployed_definition_agrees_with_the_code() -> None:
    done = check(ROOT / "template.yaml", DEFINITION_PATH)
    assert done.returncode == 0, done.stderr


def test_a_definition_that_drifted_from_the_code_is_caught(tmp_path: Path) -> None:
    template = tmp_path / "template.yaml"
    text = (ROOT / "template.yaml").read_text()
    assert '"AccuracyThreshold"' in text
    template.write_text(text.replace('"DefaultValue": 0.8', '"DefaultValue": 0.5', 1))
    copy = tmp_path / "definition.json"
    shutil.copy(DEFINITION_PATH, copy)
    done = check(template, copy)
    assert done.returncode == 1
    assert "template.yaml" in done.stderr and "make pipeline" in done.stderr


def test_the_committed_definition_file_is_checked_too(tmp_path: Path) -> None:
    name = "definition.json"
    edited = tmp_path / name
    edited.write_text(DEFINITION_PATH.read_text().replace("Preprocess", "Prepare"))
    done = check(ROOT / "template.yaml", edited)
    assert done.returncode == 1 and name in done.stderr
