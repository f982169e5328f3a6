"""Drift -> retrain: one at a time, waited for without polling, retried when transient, judged, told."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from pipeline import dataset
from sandbox.core import ALGORITHM_ERROR, CAPACITY_ERROR, Sandbox
from tests.conftest import SandboxWorld, seeded

DRIFT_ALARM = "churn-drift-feature-psi"


def world(sandbox: Sandbox, **parameters: str) -> SandboxWorld:
    defaults = {"BakeSeconds": "60", "RetentionSeconds": "60", "MinCandidateInvocations": "0"}
    return seeded(sandbox, **{**defaults, **parameters})


@pytest.fixture
def churn(sandbox: Sandbox) -> SandboxWorld:
    return world(sandbox, RetrainCooldownSeconds="0")


def retrains(churn: SandboxWorld) -> list[dict[str, Any]]:
    return list(reversed(churn.executions("RetrainStateMachineArn")))  # oldest first


def start_retrain(churn: SandboxWorld, request: dict[str, Any]) -> dict[str, Any]:
    sfn = churn.client("stepfunctions")
    started = sfn.start_execution(
        stateMachineArn=churn.stack.outputs["RetrainStateMachineArn"], input=json.dumps(request)
    )
    churn.sandbox.settle(timeout=120)
    return dict(sfn.describe_execution(executionArn=started["executionArn"]))


def create_drift_alarm(churn: SandboxWorld, name: str = DRIFT_ALARM) -> None:
    churn.client("cloudwatch").put_metric_alarm(
        AlarmName=name,
        Namespace="MLOpsAutomation/Drift",
        MetricName="PopulationStabilityIndex",
        Dimensions=[{"Name": "EndpointName", "Value": churn.stack.endpoint_name}],
        Statistic="Maximum",
        Period=300,
        EvaluationPeriods=1,
        Threshold=0.2,
        ComparisonOperator="GreaterThanThreshold",
    )


def set_alarm(churn: SandboxWorld, state: str, name: str = DRIFT_ALARM) -> None:
    churn.client("cloudwatch").set_alarm_state(AlarmName=name, StateValue=state, StateReason=f"PSI test: {state}")


def inbox(churn: SandboxWorld) -> Callable[[], list[dict[str, Any]]]:
    """An SQS queue subscribed to the notification topic, as a team's tooling would be."""
    sqs, sns = churn.client("sqs"), churn.client("sns")
    url = sqs.create_queue(QueueName=f"inbox-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=churn.stack.outputs["NotificationTopicArn"], Protocol="sqs", Endpoint=arn)

    def read() -> list[dict[str, Any]]:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        return [json.loads(m["Body"]) for m in messages]

    return read


def pipeline_runs(churn: SandboxWorld) -> list[dict[str, Any]]:
    listed = churn.client("sagemaker").list_pipeline_executions(PipelineName=churn.stack.parameters["PipelineName"])
    return list(listed["PipelineExecutionSummaries"])


def output(execution: dict[str, Any]) -> dict[str, Any]:
    return json.loads(execution["output"]) if execution.get("output") else {}


def test_a_drift_alarm_retrains_and_a_new_version_waits_for_approval_with_the_comparison(churn: SandboxWorld) -> None:
    read = inbox(churn)
    create_drift_alarm(churn)

    set_alarm(churn, "ALARM")
    churn.sandbox.settle(timeout=120)

    [run] = retrains(churn)
    assert run["status"] == "SUCCEEDED", run.get("cause")
    outcome = output(run)
    assert outcome["Status"] == "Registered"
    [pipeline_run] = pipeline_runs(churn)
    [new] = [v for v in churn.versions() if v.get("MetadataProperties", {}).get("GeneratedBy")]
    assert new["MetadataProperties"]["GeneratedBy"] == pipeline_run["PipelineExecutionArn"]
    assert new["ModelApprovalStatus"] == "PendingManualApproval"
    [message] = [m for m in read() if "retrain Registered" in m.get("Subject", "")]
    text = message["Message"]
    assert "vs live version 1" in text and "accuracy is the key metric (higher is better)" in text
    assert "accuracy 0.8911 (live 0.8911, +0.0000); auc 0.9575 (live 0.9575" in text  # side by side
    assert f"--model-package-arn {new['ModelPackageArn']} --model-approval-status Approved" in text
    assert f"alarm {DRIFT_ALARM}" in text


def test_ok_and_insufficient_data_start_nothing(churn: SandboxWorld) -> None:
    create_drift_alarm(churn)
    set_alarm(churn, "OK")
    set_alarm(churn, "INSUFFICIENT_DATA")
    churn.sandbox.settle()
    assert retrains(churn) == []


def test_alarms_during_a_retrain_join_it_and_start_nothing_more(churn: SandboxWorld) -> None:
    churn.sandbox.slow_pipeline_steps(1.0)  # the run lasts a few seconds: long enough to flap meanwhile
    create_drift_alarm(churn)

    for state in ("ALARM", "OK", "ALARM", "OK", "ALARM"):
        set_alarm(churn, state)
        time.sleep(0.2)
    churn.sandbox.settle(timeout=120)

    [run] = retrains(churn)
    assert run["status"] == "SUCCEEDED"
    assert len(pipeline_runs(churn)) == 1
    joined = [e for e in churn.ledger(f"RETRAIN#{run['name']}") if str(e["sk"]).startswith("JOINED#")]
    assert len(joined) == 2 and {e["alarm"] for e in joined} == {DRIFT_ALARM}


def test_the_cooldown_holds_a_drift_alarm_back_but_not_a_person(sandbox: Sandbox) -> None:
    churn = world(sandbox, RetrainCooldownSeconds="3600")
    create_drift_alarm(churn)
    set_alarm(churn, "ALARM")
    churn.sandbox.settle(timeout=120)
    set_alarm(churn, "OK")
    set_alarm(churn, "ALARM")
    churn.sandbox.settle(timeout=120)

    assert len(retrains(churn)) == 1
    held = [e for e in churn.ledger("PROJECT#churn") if str(e["sk"]).startswith("HELD#")]
    assert len(held) == 1 and "cooldown" in str(held[0]["reason"])

    by_hand = start_retrain(churn, {"Reason": "new labels arrived", "RequestedBy": "ana"})
    assert by_hand["status"] == "SUCCEEDED" and output(by_hand)["Status"] == "Registered"


def test_the_daily_cap_holds_drift_alarms_back(sandbox: Sandbox) -> None:
    churn = world(sandbox, RetrainCooldownSeconds="0", MaxRetrainsPerDay="1")
    create_drift_alarm(churn)
    for _ in range(2):
        set_alarm(churn, "ALARM")
        churn.sandbox.settle(timeout=120)
        set_alarm(churn, "OK")

    assert len(retrains(churn)) == 1
    [held] = [e for e in churn.ledger("PROJECT#churn") if str(e["sk"]).startswith("HELD#")]
    assert "daily cap: 1 retrains started" in str(held["reason"])


def test_a_transient_failure_is_retried_and_the_retrain_succeeds(churn: SandboxWorld) -> None:
    churn.sandbox.fail_pipeline_step("Train", CAPACITY_ERROR, times=1)

    run = start_retrain(churn, {"Reason": "retry me"})

    assert run["status"] == "SUCCEEDED", run.get("cause")
    assert output(run)["Status"] == "Registered"
    [pipeline_run] = pipeline_runs(churn)  # retried, not started again
    steps = churn.client("sagemaker").list_pipeline_execution_steps(
        PipelineExecutionArn=pipeline_run["PipelineExecutionArn"]
    )["PipelineExecutionSteps"]
    assert max(s["AttemptCount"] for s in steps if s["StepName"] == "Train") == 2
    [record] = [e for e in churn.ledger("PROJECT#churn") if str(e["sk"]).startswith("RETRAIN#")]
    assert record["attempts"] == 2 and record["outcome"] == "Registered"


def test_a_transient_failure_beyond_the_retry_limit_fails_the_retrain(sandbox: Sandbox) -> None:
    churn = world(sandbox, RetrainCooldownSeconds="0", MaxPipelineRetries="1")
    churn.sandbox.fail_pipeline_step("Train", CAPACITY_ERROR, times=None)

    run = start_retrain(churn, {"Reason": "no capacity today"})

    assert (run["status"], run["error"]) == ("FAILED", "Failed")
    assert "after 2 attempts at step Train: CapacityError" in run["cause"]


def test_a_permanent_failure_is_reported_with_its_step_and_reason_and_not_retried(churn: SandboxWorld) -> None:
    read = inbox(churn)
    churn.sandbox.fail_pipeline_step("Evaluate", ALGORITHM_ERROR, times=None)

    run = start_retrain(churn, {"Reason": "bad data"})

    assert (run["status"], run["error"]) == ("FAILED", "Failed")
    [message] = [m for m in read() if "retrain Failed" in m.get("Subject", "")]
    assert f"step Evaluate: {ALGORITHM_ERROR}" in message["Message"]
    assert len(pipeline_runs(churn)) == 1
    assert (
        churn.client("sagemaker").list_pipeline_execution_steps(
            PipelineExecutionArn=pipeline_runs(churn)[0]["PipelineExecutionArn"]
        )["PipelineExecutionSteps"][0]["AttemptCount"]
        == 1
    )


def test_a_missed_quality_gate_is_not_retried_and_says_both_figures(churn: SandboxWorld) -> None:
    read = inbox(churn)

    run = start_retrain(churn, {"Reason": "stricter", "PipelineParameters": {"AccuracyThreshold": 0.99}})

    assert (run["status"], run["error"]) == ("FAILED", "QualityGateNotMet")
    [message] = [m for m in read() if "QualityGateNotMet" in m.get("Subject", "")]
    assert "Quality gate: accuracy 0.891111 is below the threshold 0.99" in message["Message"]
    assert len(pipeline_runs(churn)) == 1
    assert len(churn.versions()) == 2


def test_a_run_that_fails_at_once_is_still_caught(churn: SandboxWorld) -> None:
    """The run may end before the workflow hands over its token: the recorded end is found."""
    churn.sandbox.fail_pipeline_step("Preprocess", ALGORITHM_ERROR, times=None)
    run = start_retrain(churn, {"Reason": "fast failure"})
    assert (run["status"], run["error"]) == ("FAILED", "Failed")
    assert "step Preprocess" in run["cause"]


@pytest.mark.parametrize(
    ("request_body", "problem"),
    [
        ({"PipelineParameters": {"LearningRate": 0.3}}, "declares no parameter LearningRate"),
        ({"PipelineParameters": "fast"}, "PipelineParameters"),
        ({"Reason": ""}, "Reason"),
    ],
)
def test_a_bad_manual_input_ends_at_once_and_starts_nothing(
    churn: SandboxWorld, request_body: dict[str, Any], problem: str
) -> None:
    run = start_retrain(churn, request_body)
    assert (run["status"], run["error"]) == ("FAILED", "InvalidInput")
    assert problem in run["cause"]
    assert pipeline_runs(churn) == []
    assert (
        churn.client("dynamodb")
        .get_item(TableName=churn.stack.ledger_table, Key={"pk": {"S": "PROJECT#churn"}, "sk": {"S": "RETRAIN-GATE"}})
        .get("Item")
        is None
    )


def test_the_retrain_passes_the_newest_data(churn: SandboxWorld) -> None:
    bucket = churn.stack.outputs["ArtifactBucketName"]
    newer = dataset.to_csv(dataset.generate(rows=2000, seed=7, shift=0.5))
    churn.client("s3").put_object(Bucket=bucket, Key="pipeline/data/churn-2026-11-26.csv", Body=newer.encode())

    run = start_retrain(churn, {"Reason": "fresh data"})

    assert run["status"] == "SUCCEEDED"
    [pipeline_run] = pipeline_runs(churn)
    parameters = churn.client("sagemaker").list_pipeline_parameters_for_execution(
        PipelineExecutionArn=pipeline_run["PipelineExecutionArn"]
    )["PipelineParameters"]
    assert {"Name": "InputDataUrl", "Value": f"s3://{bucket}/pipeline/data/churn-2026-11-26.csv"} in parameters


def test_auto_approval_ships_a_better_model_through_the_canary(sandbox: Sandbox) -> None:
    churn = world(sandbox, RetrainCooldownSeconds="0", AutoApprove="true", AutoApproveMargin="0.01")
    bucket = churn.stack.outputs["ArtifactBucketName"]
    newer = dataset.to_csv(dataset.generate(rows=3000, seed=11, shift=1.0))
    churn.client("s3").put_object(Bucket=bucket, Key="pipeline/data/churn-2026-11-27.csv", Body=newer.encode())
    create_drift_alarm(churn)

    set_alarm(churn, "ALARM")
    churn.sandbox.settle(timeout=180)

    [run] = retrains(churn)
    assert output(run)["Status"] == "AutoApproved", run.get("cause") or output(run)
    new = output(run)["ModelPackageArn"]
    package = churn.client("sagemaker").describe_model_package(ModelPackageName=new)
    assert package["ModelApprovalStatus"] == "Approved"
    assert package["ApprovalDescription"].startswith("[churn automation] auto-approved: accuracy")
    assert churn.live_model_package() == new  # the approval started the canary, which promoted it


def test_a_version_registered_with_bias_outside_the_bands_is_never_auto_approved(sandbox: Sandbox) -> None:
    # the same better model as above; bands this narrow put its registered DPPL (about -0.01) outside them
    churn = world(sandbox, RetrainCooldownSeconds="0", AutoApprove="true", BiasMaxAbsDPPL="0.001")
    bucket = churn.stack.outputs["ArtifactBucketName"]
    newer = dataset.to_csv(dataset.generate(rows=3000, seed=11, shift=1.0))
    churn.client("s3").put_object(Bucket=bucket, Key="pipeline/data/churn-2026-11-27.csv", Body=newer.encode())
    read = inbox(churn)

    start_retrain(churn, {"Reason": "fresh data"})

    [run] = retrains(churn)
    assert output(run)["Status"] == "Registered", output(run)
    package = churn.client("sagemaker").describe_model_package(ModelPackageName=output(run)["ModelPackageArn"])
    assert package["ModelApprovalStatus"] == "PendingManualApproval"
    [message] = [m for m in read() if "awaits approval" in m["Message"]]
    assert "registered bias outside the bands: DPPL" in message["Message"]
    assert "Not auto-approved: its registered bias is outside the bands" in message["Message"]


def test_a_failed_run_started_elsewhere_is_reported_and_not_retried(churn: SandboxWorld) -> None:
    read = inbox(churn)
    churn.sandbox.fail_pipeline_step("Train", ALGORITHM_ERROR, times=1)
    arn = churn.client("sagemaker").start_pipeline_execution(
        PipelineName=churn.stack.parameters["PipelineName"], ClientRequestToken=uuid.uuid4().hex
    )["PipelineExecutionArn"]
    churn.sandbox.settle(timeout=120)

    [message] = [m for m in read() if "pipeline run Failed" in m.get("Subject", "")]
    assert f"Failed step Train: {ALGORITHM_ERROR}" in message["Message"]
    assert arn.rsplit("/", 1)[-1] in message["Message"] and "console.aws.amazon.com/sagemaker" in message["Message"]
    assert retrains(churn) == []
    described = churn.client("sagemaker").describe_pipeline_execution(PipelineExecutionArn=arn)
    assert described["PipelineExecutionStatus"] == "Failed"


def test_a_stale_end_event_completes_nothing(churn: SandboxWorld) -> None:
    churn.sandbox.fail_pipeline_step("Train", CAPACITY_ERROR, times=1)
    run = start_retrain(churn, {"Reason": "retry me"})
    assert run["status"] == "SUCCEEDED"
    failed_event = next(
        e
        for e in churn.sandbox.state.emitted_events
        if e["detail-type"] == "SageMaker Model Building Pipeline Execution Status Change"
        and e["detail"]["currentPipelineExecutionStatus"] == "Failed"
    )
    arn = failed_event["detail"]["pipelineExecutionArn"]
    before = churn.ledger(f"PIPELINE#{arn}")

    copy = {**failed_event["detail"], "executionEndTime": "2026-11-26T23:59:59.000Z"}  # a late, different copy
    churn.client("events").put_events(
        Entries=[
            {
                "Source": "aws.sagemaker",
                "DetailType": failed_event["detail-type"],
                "Detail": json.dumps(copy),
                "Resources": [failed_event["detail"]["pipelineArn"], arn],
            }
        ]
    )
    churn.sandbox.settle()

    after = churn.ledger(f"PIPELINE#{arn}")
    terminal = [e for e in after if str(e["sk"]).startswith("TERMINAL#")]
    assert [e["status"] for e in terminal] == ["Failed", "Succeeded"]  # the stale copy added no end
    assert len(after) == len(before) + 1  # only its STATUS entry


def test_a_run_that_outlasts_the_timeout_ends_the_retrain_timed_out(sandbox: Sandbox) -> None:
    churn = world(sandbox, RetrainCooldownSeconds="0", PipelineTimeoutSeconds="300")  # 0.3 s here
    churn.sandbox.slow_pipeline_steps(1.0)

    run = start_retrain(churn, {"Reason": "slow"})

    assert (run["status"], run["error"]) == ("FAILED", "TimedOut")
    assert "did not end within 300 s" in run["cause"]
    gate = churn.client("dynamodb").get_item(
        TableName=churn.stack.ledger_table, Key={"pk": {"S": "PROJECT#churn"}, "sk": {"S": "RETRAIN-GATE"}}
    )["Item"]
    assert "holder" not in gate or gate["holder"]["S"] == ""  # released: the next retrain may start
