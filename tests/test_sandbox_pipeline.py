"""The reference pipeline runs for real in the sandbox: it trains, evaluates, gates and registers."""

from __future__ import annotations

import io
import json
import re
import tarfile
import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError

from sandbox.core import ALGORITHM_ERROR, CAPACITY_ERROR
from sandbox.serving import ModelError, ServedModels
from tests.conftest import SandboxWorld

PIPELINE = "churn-pipeline"


def start(churn: SandboxWorld, **parameters: str) -> str:
    response = churn.client("sagemaker").start_pipeline_execution(
        PipelineName=PIPELINE,
        ClientRequestToken=uuid.uuid4().hex,
        PipelineParameters=[{"Name": name, "Value": value} for name, value in parameters.items()],
    )
    churn.sandbox.settle(timeout=120)
    return str(response["PipelineExecutionArn"])


def described(churn: SandboxWorld, execution_arn: str) -> dict[str, Any]:
    return churn.client("sagemaker").describe_pipeline_execution(PipelineExecutionArn=execution_arn)  # type: ignore[no-any-return]


def steps(churn: SandboxWorld, execution_arn: str) -> dict[str, dict[str, Any]]:
    listed = churn.client("sagemaker").list_pipeline_execution_steps(PipelineExecutionArn=execution_arn)
    return {step["StepName"]: step for step in reversed(listed["PipelineExecutionSteps"])}


def s3_json(churn: SandboxWorld, uri: str) -> Any:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return json.loads(churn.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())


def test_a_run_registers_a_pending_version_with_its_real_evaluation(churn: SandboxWorld) -> None:
    execution = start(churn)

    assert described(churn, execution)["PipelineExecutionStatus"] == "Succeeded"
    ran = steps(churn, execution)
    assert list(ran) == ["Preprocess", "Train", "Evaluate", "AccuracyGate", "RegisterModel"]
    assert {step["StepStatus"] for step in ran.values()} == {"Succeeded"}
    assert ran["AccuracyGate"]["Metadata"]["Condition"]["Outcome"] == "True"
    new = ran["RegisterModel"]["Metadata"]["RegisterModel"]["Arn"]
    package = next(v for v in churn.versions() if v["ModelPackageArn"] == new)
    assert package["ModelApprovalStatus"] == "PendingManualApproval"
    assert package["MetadataProperties"]["GeneratedBy"] == execution
    evaluation = s3_json(churn, package["ModelMetrics"]["ModelQuality"]["Statistics"]["S3Uri"])
    accuracy = evaluation["binary_classification_metrics"]["accuracy"]["value"]
    assert 0.85 <= accuracy < 1.0
    assert evaluation["test_rows"] == 450
    baseline = s3_json(churn, package["DriftCheckBaselines"]["ModelDataQuality"]["Statistics"]["S3Uri"])
    assert "predictions" in baseline and "contract" in baseline["features"]
    container = package["InferenceSpecification"]["Containers"][0]
    assert container["ModelDataUrl"].endswith("/output/model.tar.gz")
    # the serving code is in the model: a container with network isolation reads nothing from S3
    assert container["Environment"]["SAGEMAKER_SUBMIT_DIRECTORY"] == "/opt/ml/model/code"
    bucket, _, key = container["ModelDataUrl"].removeprefix("s3://").partition("/")
    archive = churn.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
        packed = set(tar.getnames())
    assert {"model.joblib", "code/inference.py", "code/churn_features.py", "code/train.py"} <= packed
    served = ServedModels(lambda: churn.client("s3"))
    answer, _ = served.invoke(
        container, b"2,110.0,6,3.0,month-to-month,electronic-check,under-65\n", "text/csv", "text/csv"
    )
    assert float(answer) > 0.5
    elsewhere = {**container, "Environment": {**container["Environment"], "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/code"}}
    with pytest.raises(ModelError, match="neither an s3:// source archive nor a directory of the model"):
        served.invoke(elsewhere, b"2,110.0,6,3.0,month-to-month,electronic-check,under-65\n", "text/csv", "text/csv")


def test_the_pipeline_events_reach_the_automation(churn: SandboxWorld) -> None:
    execution = start(churn)

    emitted = [e for e in churn.sandbox.state.emitted_events if e["detail"].get("pipelineExecutionArn") == execution]
    execution_statuses = [
        e["detail"]["currentPipelineExecutionStatus"]
        for e in emitted
        if e["detail-type"] == "SageMaker Model Building Pipeline Execution Status Change"
    ]
    assert execution_statuses == ["Executing", "Succeeded"]
    step_changes = [
        (e["detail"]["stepName"], e["detail"]["currentStepStatus"])
        for e in emitted
        if e["detail-type"] == "SageMaker Model Building Pipeline Execution Step Status Change"
    ]
    assert ("Train", "Succeeded") in step_changes and ("RegisterModel", "Succeeded") in step_changes
    recorded = churn.ledger(f"PIPELINE#{execution}")
    assert {entry["status"] for entry in recorded} == {"Executing", "Succeeded"}


def test_a_threshold_above_the_model_fails_the_quality_gate_and_registers_nothing(churn: SandboxWorld) -> None:
    before = len(churn.versions())

    execution = start(churn, AccuracyThreshold="0.99")

    outcome = described(churn, execution)
    assert outcome["PipelineExecutionStatus"] == "Failed"
    match = re.fullmatch(r"Quality gate: accuracy (0\.\d+) is below the threshold 0\.99", outcome["FailureReason"])
    assert match, outcome["FailureReason"]
    assert 0.85 <= float(match.group(1)) < 0.99
    ran = steps(churn, execution)
    assert "RegisterModel" not in ran
    assert ran["AccuracyGate"]["Metadata"]["Condition"]["Outcome"] == "False"
    assert ran["QualityGateFailed"]["StepStatus"] == "Failed"
    assert ran["QualityGateFailed"]["FailureReason"] == outcome["FailureReason"]
    assert len(churn.versions()) == before


def test_a_transient_failure_is_reported_and_a_retry_resumes_at_the_failed_step(churn: SandboxWorld) -> None:
    churn.sandbox.fail_pipeline_step("Train", CAPACITY_ERROR, times=1)

    execution = start(churn)

    assert described(churn, execution)["FailureReason"] == CAPACITY_ERROR
    assert steps(churn, execution)["Train"]["StepStatus"] == "Failed"
    assert steps(churn, execution)["Train"]["FailureReason"] == CAPACITY_ERROR

    churn.client("sagemaker").retry_pipeline_execution(
        PipelineExecutionArn=execution, ClientRequestToken=uuid.uuid4().hex
    )
    churn.sandbox.settle(timeout=120)

    assert described(churn, execution)["PipelineExecutionStatus"] == "Succeeded"
    ran = steps(churn, execution)
    assert ran["Preprocess"]["AttemptCount"] == 1  # not run again
    assert ran["Train"]["AttemptCount"] == 2 and ran["Train"]["StepStatus"] == "Succeeded"


def test_a_permanent_failure_fails_every_attempt(churn: SandboxWorld) -> None:
    churn.sandbox.fail_pipeline_step("Evaluate", ALGORITHM_ERROR, times=None)
    execution = start(churn)
    churn.client("sagemaker").retry_pipeline_execution(
        PipelineExecutionArn=execution, ClientRequestToken=uuid.uuid4().hex
    )
    churn.sandbox.settle(timeout=120)

    outcome = described(churn, execution)
    assert outcome["PipelineExecutionStatus"] == "Failed"
    assert outcome["FailureReason"] == ALGORITHM_ERROR
    assert steps(churn, execution)["Evaluate"]["AttemptCount"] == 2


def test_only_a_failed_execution_can_be_retried(churn: SandboxWorld) -> None:
    execution = start(churn)
    with pytest.raises(ClientError, match="ConflictException"):
        churn.client("sagemaker").retry_pipeline_execution(
            PipelineExecutionArn=execution, ClientRequestToken=uuid.uuid4().hex
        )


def test_the_same_request_token_starts_one_execution(churn: SandboxWorld) -> None:
    sagemaker = churn.client("sagemaker")
    token = uuid.uuid4().hex
    first = sagemaker.start_pipeline_execution(PipelineName=PIPELINE, ClientRequestToken=token)
    second = sagemaker.start_pipeline_execution(PipelineName=PIPELINE, ClientRequestToken=token)
    churn.sandbox.settle(timeout=120)

    assert first["PipelineExecutionArn"] == second["PipelineExecutionArn"]
    assert len(sagemaker.list_pipeline_executions(PipelineName=PIPELINE)["PipelineExecutionSummaries"]) == 1


def test_an_undeclared_parameter_starts_nothing(churn: SandboxWorld) -> None:
    sagemaker = churn.client("sagemaker")
    with pytest.raises(ClientError, match="not declared"):
        sagemaker.start_pipeline_execution(
            PipelineName=PIPELINE,
            ClientRequestToken=uuid.uuid4().hex,
            PipelineParameters=[{"Name": "LearningRate", "Value": "0.1"}],
        )
    assert sagemaker.list_pipeline_executions(PipelineName=PIPELINE)["PipelineExecutionSummaries"] == []


def test_the_retrain_workflow_trains_a_new_version(churn: SandboxWorld) -> None:
    sfn = churn.client("stepfunctions")
    started = sfn.start_execution(
        stateMachineArn=churn.stack.outputs["RetrainStateMachineArn"], input=json.dumps({"Reason": "new data"})
    )
    churn.sandbox.settle(timeout=120)

    output = json.loads(sfn.describe_execution(executionArn=started["executionArn"])["output"])
    [run] = churn.client("sagemaker").list_pipeline_executions(PipelineName=PIPELINE)["PipelineExecutionSummaries"]
    assert described(churn, run["PipelineExecutionArn"])["PipelineExecutionStatus"] == "Succeeded"
    generated = [
        v for v in churn.versions() if v.get("MetadataProperties", {}).get("GeneratedBy") == run["PipelineExecutionArn"]
    ]
    assert [v["ModelApprovalStatus"] for v in generated] == ["PendingManualApproval"]
    assert output["ModelPackageArn"] == generated[0]["ModelPackageArn"]


def test_the_endpoint_answers_with_the_live_models_predictions(churn: SandboxWorld) -> None:
    runtime = churn.client("sagemaker-runtime")
    customers = "60,30.0,0,25.0,two-year,credit-card,65-plus\n2,110.0,6,3.0,month-to-month,electronic-check,under-65\n"

    answer = runtime.invoke_endpoint(EndpointName=churn.stack.endpoint_name, ContentType="text/csv", Body=customers)

    low, high = (float(line) for line in answer["Body"].read().decode().split())
    assert low < 0.2 and high > 0.8
    as_json = runtime.invoke_endpoint(
        EndpointName=churn.stack.endpoint_name,
        ContentType="application/json",
        Accept="application/json",
        Body=json.dumps([{"tenure_months": 2, "contract": "month-to-month", "support_calls": 6}]),
    )
    assert as_json["ContentType"] == "application/json"
    assert 0.0 <= json.loads(as_json["Body"].read())[0] <= 1.0
    with pytest.raises(ClientError, match="7 columns"):
        runtime.invoke_endpoint(EndpointName=churn.stack.endpoint_name, ContentType="text/csv", Body="1,2\n")
