"""A small, believable world for one model project in the sandbox.

The stack has created the reference training pipeline; its scripts and data are published to the
artifact bucket (as `make publish` does). The model package group holds version 1 (Approved,
deployed to the endpoint through the real approval -> deploy path) and version 2
(PendingManualApproval, waiting for a human). Both are real models: the pipeline's own scripts
trained them on the shipped data (once per process), so the endpoint answers with predictions.
A version registered with `flip_labels=True` was trained on the labels turned upside down (the pipeline's
FlipLabels): it passes the quality gate, yet disagrees with the others on every customer.
"""

from __future__ import annotations

import functools
import io
import json
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline import local, publish

if TYPE_CHECKING:
    from .core import Sandbox, Stack


@dataclass(frozen=True)
class World:
    live_version_arn: str
    pending_version_arn: str


@dataclass(frozen=True)
class TrainedModel:
    model_archive: bytes  # model.tar.gz, as a training job leaves it (model.joblib, code/)
    evaluation: bytes  # evaluation.json
    baseline: bytes  # baseline.json with the predictions' distribution
    bias: bytes  # bias.json: post-training bias on the validation set (Clarify's analysis.json shape)
    explainability: bytes  # explainability.json: global attribution per feature on the validation set


@functools.cache
def trained_model(flip_labels: bool = False) -> TrainedModel:
    """Preprocess, train and evaluate with the pipeline's scripts on the shipped data, once (per `flip_labels`)."""
    with tempfile.TemporaryDirectory(prefix="sandbox-seed-") as root:
        work = Path(root)
        local.run_scripts(publish.DATA, work, flip_labels=flip_labels)
        archive = io.BytesIO()
        with tarfile.open(fileobj=archive, mode="w:gz") as tar:  # the model directory, code/ included
            for file in sorted((work / "model").rglob("*")):
                if file.is_file():
                    tar.add(file, file.relative_to(work / "model").as_posix())
        return TrainedModel(
            model_archive=archive.getvalue(),
            evaluation=(work / "evaluation" / "evaluation.json").read_bytes(),
            baseline=(work / "drift-baseline" / "baseline.json").read_bytes(),
            bias=(work / "evaluation" / "bias.json").read_bytes(),
            explainability=(work / "evaluation" / "explainability.json").read_bytes(),
        )


def registration_template(sandbox: Sandbox, stack: Stack) -> dict[str, Any]:
    """The RegisterModel step's arguments in the deployed pipeline definition."""
    described = sandbox.client("sagemaker").describe_pipeline(PipelineName=stack.parameters["PipelineName"])
    definition = json.loads(described["PipelineDefinition"])
    for step in definition["Steps"]:
        for branch in ("IfSteps", "ElseSteps"):
            for child in step.get("Arguments", {}).get(branch, []):
                if child["Type"] == "RegisterModel":
                    return dict(child["Arguments"])
    raise LookupError("the pipeline definition has no RegisterModel step")


def register_version(
    sandbox: Sandbox, stack: Stack, version: int, approval_status: str, flip_labels: bool = False
) -> str:
    """Register a model version the way the training pipeline does; returns its ARN. `flip_labels`: a model
    trained on inverted labels (the pipeline run with FlipLabels "true")."""
    bucket = stack.outputs["ArtifactBucketName"]
    s3 = sandbox.client("s3")
    model = trained_model(flip_labels)
    # (a flipped model gets its own place: served models are kept per artifact URL for the process's life)
    prefix = f"pipeline/seed/v{version}" + ("-flipped" if flip_labels else "")
    s3.put_object(Bucket=bucket, Key=f"{prefix}/model.tar.gz", Body=model.model_archive)
    s3.put_object(Bucket=bucket, Key=f"{prefix}/evaluation.json", Body=model.evaluation)
    s3.put_object(Bucket=bucket, Key=f"{prefix}/baseline.json", Body=model.baseline)
    s3.put_object(Bucket=bucket, Key=f"{prefix}/bias.json", Body=model.bias)
    s3.put_object(Bucket=bucket, Key=f"{prefix}/explainability.json", Body=model.explainability)
    template = registration_template(sandbox, stack)
    container = dict(template["InferenceSpecification"]["Containers"][0])
    container["ModelDataUrl"] = f"s3://{bucket}/{prefix}/model.tar.gz"

    def source(file: str) -> dict[str, Any]:
        return {"ContentType": "application/json", "S3Uri": f"s3://{bucket}/{prefix}/{file}"}

    def statistics(file: str) -> dict[str, Any]:
        return {"Statistics": source(file)}

    response = sandbox.client("sagemaker").create_model_package(
        ModelPackageGroupName=stack.model_package_group,
        ModelPackageDescription=f"{stack.project} model, training run {version}",
        InferenceSpecification={**template["InferenceSpecification"], "Containers": [container]},
        ModelMetrics={
            "ModelQuality": statistics("evaluation.json"),
            "Bias": {"PostTrainingReport": source("bias.json")},
            "Explainability": {"Report": source("explainability.json")},
        },
        DriftCheckBaselines={"ModelDataQuality": statistics("baseline.json")},
        ModelApprovalStatus=approval_status,
    )
    return str(response["ModelPackageArn"])


def seed_world(sandbox: Sandbox, stack: Stack) -> World:
    sandbox.client("sagemaker").create_model_package_group(
        ModelPackageGroupName=stack.model_package_group,
        ModelPackageGroupDescription=f"Versions of the {stack.project} model",
    )
    publish.publish(sandbox.client("s3"), stack.outputs["ArtifactBucketName"])
    live = register_version(sandbox, stack, 1, "Approved")
    sandbox.settle()
    pending = register_version(sandbox, stack, 2, "PendingManualApproval")
    sandbox.settle()
    return World(live_version_arn=live, pending_version_arn=pending)
