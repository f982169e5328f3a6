"""Whether a version's serving code is within reach of a model with network isolation: plain decisions, no AWS."""

from __future__ import annotations

import json
from typing import Any

import pytest

from mlops.isolation import code_outside_model
from pipeline.definition import DEFINITION_PATH

IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.4-2-cpu-py3"
ARTIFACT = "s3://churn-artifacts/pipeline/models/train-1/output/model.tar.gz"
SOURCE_ARCHIVE = "s3://churn-artifacts/pipeline/code/sourcedir.tar.gz"


def container(**environment: str) -> dict[str, Any]:
    """A container as DescribeModelPackage answers it."""
    described: dict[str, Any] = {"Image": IMAGE, "ImageDigest": "sha256:" + "0" * 64, "ModelDataUrl": ARTIFACT}
    if environment:
        described["Environment"] = environment
    return described


def test_code_packed_in_the_model_artifact_serves_isolated() -> None:
    packed = container(SAGEMAKER_PROGRAM="inference.py", SAGEMAKER_SUBMIT_DIRECTORY="/opt/ml/model/code")
    assert code_outside_model([packed]) is None


@pytest.mark.parametrize(
    "environment",
    [
        {},
        {"SAGEMAKER_PROGRAM": "inference.py"},
        {"SOME_SETTING": "s3://elsewhere/x"},
        {"SAGEMAKER_SUBMIT_DIRECTORY": ""},
    ],
)
def test_a_container_without_code_on_s3_serves_isolated(environment: dict[str, str]) -> None:
    """No submit directory (code in the image, or in the artifact's code/); an S3 URI elsewhere is not code."""
    assert code_outside_model([container(**environment)]) is None


def test_no_container_or_no_environment_is_nothing_to_refuse() -> None:
    assert code_outside_model([]) is None
    assert code_outside_model([{"Image": IMAGE, "Environment": None}]) is None


def test_a_source_archive_on_s3_cannot_be_reached_and_the_reason_says_where_it_is() -> None:
    on_s3 = container(SAGEMAKER_PROGRAM="inference.py", SAGEMAKER_SUBMIT_DIRECTORY=SOURCE_ARCHIVE)

    reason = code_outside_model([on_s3])

    assert reason is not None and "\n" not in reason
    assert SOURCE_ARCHIVE in reason and "SAGEMAKER_SUBMIT_DIRECTORY" in reason
    assert "network isolation" in reason and "/opt/ml/model/code" in reason


def test_any_container_of_several_with_code_on_s3_is_named() -> None:
    packed = container(SAGEMAKER_PROGRAM="inference.py", SAGEMAKER_SUBMIT_DIRECTORY="/opt/ml/model/code")
    on_s3 = container(SAGEMAKER_PROGRAM="inference.py", SAGEMAKER_SUBMIT_DIRECTORY=SOURCE_ARCHIVE)

    reason = code_outside_model([packed, on_s3])

    assert reason is not None and reason.startswith("container 2 of 2 ")


@pytest.mark.parametrize("written", ["S3://churn-artifacts/code.tar.gz", "  s3://churn-artifacts/code.tar.gz"])
def test_an_s3_uri_written_loosely_is_still_refused(written: str) -> None:
    assert code_outside_model([container(SAGEMAKER_SUBMIT_DIRECTORY=written)]) is not None


def test_a_value_spread_over_lines_gives_a_one_line_reason() -> None:
    reason = code_outside_model([container(SAGEMAKER_SUBMIT_DIRECTORY="s3://churn-artifacts/a\nb.tar.gz")])
    assert reason is not None and "\n" not in reason


def test_the_versions_the_reference_pipeline_registers_serve_isolated() -> None:
    definition = json.loads(DEFINITION_PATH.read_text())
    [register] = [
        child
        for step in definition["Steps"]
        for child in step.get("Arguments", {}).get("IfSteps", [])
        if child["Type"] == "RegisterModel"
    ]
    containers = register["Arguments"]["InferenceSpecification"]["Containers"]

    assert code_outside_model(containers) is None
    assert [c["Environment"]["SAGEMAKER_SUBMIT_DIRECTORY"] for c in containers] == ["/opt/ml/model/code"]
