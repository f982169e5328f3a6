"""Limits SageMaker's API sets (botocore's sagemaker model), which the sandbox enforces and the product respects."""

from __future__ import annotations

import re

import botocore.session
import pytest
from botocore.exceptions import ClientError

from mlops.alarms import retrain_execution_name
from mlops.pipelines import retrain_display_name, started_by_retrain
from tests.conftest import SandboxWorld
from tests.test_canary import approve, run_of


def display_name_pattern() -> str:
    model = botocore.session.get_session().get_service_model("sagemaker")
    shape = model.operation_model("StartPipelineExecution").input_shape.members["PipelineExecutionDisplayName"]
    return str(shape.metadata["pattern"])


@pytest.mark.parametrize(
    "alarm", ["churn-drift-score", "churn-drift-feature_psi", "churn-drift.tenure", "churn-drift-" + "x_" * 60]
)
def test_a_retrains_display_name_is_one_sagemaker_accepts_whatever_the_alarm_is_called(alarm: str) -> None:
    name = retrain_display_name("churn", retrain_execution_name(alarm, "2026-12-03T10:00:00.000+0000"))

    assert re.fullmatch(display_name_pattern(), name), name
    assert started_by_retrain(name, "churn")


def test_the_sandbox_refuses_a_display_name_sagemaker_refuses(churn: SandboxWorld) -> None:
    sagemaker = churn.client("sagemaker")
    with pytest.raises(ClientError) as refused:
        sagemaker.start_pipeline_execution(
            PipelineName=churn.stack.parameters["PipelineName"], PipelineExecutionDisplayName="churn-retrain-drift_1"
        )
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert "pipelineExecutionDisplayName" in refused.value.response["Error"]["Message"]


def test_an_endpoint_among_a_dozen_of_similar_names_is_found_and_updated_by_canary(churn: SandboxWorld) -> None:
    """ListEndpoints answers 10 a page by default: the deployment must not take the endpoint for missing."""
    sagemaker = churn.client("sagemaker")
    live_config = sagemaker.describe_endpoint(EndpointName=churn.stack.endpoint_name)["EndpointConfigName"]
    for number in range(12):
        sagemaker.create_endpoint(EndpointName=f"{churn.stack.endpoint_name}-{number}", EndpointConfigName=live_config)
    churn.sandbox.settle()

    approve(churn, churn.world.pending_version_arn)
    churn.sandbox.settle()

    run = run_of(churn, 2)
    assert run["status"] == "SUCCEEDED", run.get("cause")
    assert churn.live_model_package() == churn.world.pending_version_arn
    [deployment] = [
        e for e in churn.ledger(f"ENDPOINT#{churn.stack.endpoint_name}") if e["sk"].startswith("DEPLOYMENT#")
    ][-1:]
    assert "canary" in str(deployment.get("detail", "")).lower(), deployment
