"""A small, believable world for one model project in the sandbox.

The stack has created the reference training pipeline; its scripts and data are published to the
artifact bucket (as `make publish` does). The model package group holds version 1 (Approved,
deployed to the endpoint through the real approval -> deploy path) and version 2
(PendingManualApproval, waiting for a human). Both are real models: the pipeline's own scripts
trained them on the shipped data (once per process), so the endpoint answers with predictions.
A version registered with `flip_labels=True` was trained on the labels turned upside down (the pipeline's
FlipLabels): it passes the quality gate, yet disagrees with the others on every customer.
Each version carries the CustomerMetadataProperties the pipeline's RegisterModel step gives (made the same way: the
digests of the published data and source archive, the data object's version, the hyperparameters of the deployed
definition's Train step, the stack's owner/use-case/compliance) and MetadataProperties CommitId/Repository from the
published source.json; the group carries the owner/use-case/compliance tags.
"""

from __future__ import annotations

import functools
import hashlib
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
    definition = deployed_definition(sandbox, stack)
    for step in definition["Steps"]:
        for branch in ("IfSteps", "ElseSteps"):
            for child in step.get("Arguments", {}).get(branch, []):
                if child["Type"] == "RegisterModel":
                    return dict(child["Arguments"])
    raise LookupError("the pipeline definition has no RegisterModel step")


def deployed_definition(sandbox: Sandbox, stack: Stack) -> dict[str, Any]:
    described = sandbox.client("sagemaker").describe_pipeline(PipelineName=stack.parameters["PipelineName"])
    return dict(json.loads(described["PipelineDefinition"]))


def train_hyperparameters(definition: dict[str, Any]) -> dict[str, str]:
    """The Train step's own hyperparameters (not SageMaker's sagemaker_*), as the job gets them (JSON text)."""
    train = next(step for step in definition["Steps"] if step["Type"] == "Training")
    return {k: str(v) for k, v in train["Arguments"]["HyperParameters"].items() if not k.startswith("sagemaker_")}


def version_metadata(sandbox: Sandbox, stack: Stack, version: int) -> dict[str, Any]:
    """CustomerMetadataProperties and MetadataProperties for a seeded version, as the pipeline's RegisterModel
    step would give them had it trained on the published data with the published code (preprocess.py's lineage)."""
    bucket = stack.outputs["ArtifactBucketName"]
    s3 = sandbox.client("s3")
    if not s3.list_objects_v2(Bucket=bucket, Prefix=publish.ARCHIVE_KEY).get("KeyCount"):
        publish.publish(
            s3, bucket
        )  # a stack seeded by hand: what the pipeline would have trained with (`make publish`)

    def read(key: str) -> bytes:
        return bytes(s3.get_object(Bucket=bucket, Key=key)["Body"].read())

    head = s3.head_object(Bucket=bucket, Key=publish.DATA_KEY)
    source = json.loads(read(publish.SOURCE_KEY))
    computed = {
        "data-uri": f"s3://{bucket}/{publish.DATA_KEY}",
        "data-version": str(head["VersionId"] if head.get("VersionId", "null") != "null" else head["ETag"].strip('"')),
        "data-sha256": hashlib.sha256(read(publish.DATA_KEY)).hexdigest(),
        "code-sha256": hashlib.sha256(read(publish.ARCHIVE_KEY)).hexdigest(),
        "training-job": f"churn-train-seed-{version}",
        **{f"hyperparameter-{k}": v for k, v in train_hyperparameters(deployed_definition(sandbox, stack)).items()},
    }
    declared = registration_template(sandbox, stack)["CustomerMetadataProperties"]
    # the stack's values (owner, use-case, compliance) are plain text in the definition; the others expressions
    customer = {key: value if isinstance(value, str) else computed[key] for key, value in declared.items()}
    return {
        "CustomerMetadataProperties": customer,
        "MetadataProperties": {"CommitId": str(source["commit"]), "Repository": str(source["repository"])},
    }


def governance_tags(sandbox: Sandbox, stack: Stack) -> list[dict[str, str]]:
    """owner, use-case and compliance as the deployed definition gives them to every version (the stack's values)."""
    declared = registration_template(sandbox, stack)["CustomerMetadataProperties"]
    return [{"Key": key, "Value": declared[key]} for key in ("owner", "use-case", "compliance")]


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

    metadata = version_metadata(sandbox, stack, version)
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
        **metadata,
    )
    return str(response["ModelPackageArn"])


def seed_world(sandbox: Sandbox, stack: Stack) -> World:
    sandbox.client("sagemaker").create_model_package_group(
        ModelPackageGroupName=stack.model_package_group,
        ModelPackageGroupDescription=f"Versions of the {stack.project} model",
        Tags=governance_tags(sandbox, stack),
    )
    publish.publish(sandbox.client("s3"), stack.outputs["ArtifactBucketName"])
    live = register_version(sandbox, stack, 1, "Approved")
    sandbox.settle()
    pending = register_version(sandbox, stack, 2, "PendingManualApproval")
    sandbox.settle()
    return World(live_version_arn=live, pending_version_arn=pending)
