"""A small, believable world for one model project in the sandbox.

The model package group holds version 1 (Approved, deployed to the endpoint through the real
approval -> deploy path) and version 2 (PendingManualApproval, waiting for a human).
"""

from __future__ import annotations

import io
import json
import tarfile
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .core import Sandbox, Stack

XGBOOST_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"


@dataclass(frozen=True)
class World:
    live_version_arn: str
    pending_version_arn: str


def _model_artifact(version: int) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        payload = f"xgboost model, version {version}\n".encode()
        info = tarfile.TarInfo("xgboost-model")
        info.size = len(payload)
        archive.addfile(info, io.BytesIO(payload))
    return buffer.getvalue()


def register_version(sandbox: Sandbox, stack: Stack, version: int, approval_status: str) -> str:
    """Register a model version the way the training pipeline does; returns its ARN."""
    bucket = stack.outputs["ArtifactBucketName"]
    key = f"models/v{version}/model.tar.gz"
    sandbox.client("s3").put_object(Bucket=bucket, Key=key, Body=_model_artifact(version))
    response = sandbox.client("sagemaker").create_model_package(
        ModelPackageGroupName=stack.model_package_group,
        ModelPackageDescription=f"{stack.project} model, training run {version}",
        InferenceSpecification={
            "Containers": [{"Image": XGBOOST_IMAGE, "ModelDataUrl": f"s3://{bucket}/{key}"}],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv"],
            "SupportedRealtimeInferenceInstanceTypes": [stack.parameters.get("InstanceType", "ml.m5.large")],
        },
        ModelApprovalStatus=approval_status,
    )
    return str(response["ModelPackageArn"])


def seed_world(sandbox: Sandbox, stack: Stack) -> World:
    sagemaker = sandbox.client("sagemaker")
    sagemaker.create_model_package_group(
        ModelPackageGroupName=stack.model_package_group,
        ModelPackageGroupDescription=f"Versions of the {stack.project} model",
    )
    sandbox.client("sagemaker").create_pipeline(
        PipelineName=stack.parameters["PipelineName"],
        PipelineDefinition=json.dumps({"Version": "2020-12-01", "Parameters": [], "Steps": []}),
        RoleArn=stack.parameters["SageMakerExecutionRoleArn"],
        PipelineDescription=f"Trains and registers the {stack.project} model",
    )
    live = register_version(sandbox, stack, 1, "Approved")
    sandbox.settle()
    pending = register_version(sandbox, stack, 2, "PendingManualApproval")
    sandbox.settle()
    return World(live_version_arn=live, pending_version_arn=pending)
