"""ServingKind Batch in the sandbox: a file put under batch/input/ is scored by one transform job with the live
version, its output joined to its input, its drift measured; a shifted file raises the drift alarm and retrains.

S3 sends "Object Created" to EventBridge (tests/aws_events/s3-object-created.json, the S3 user guide's example) and
SageMaker "SageMaker Transform Job State Change" (tests/aws_events/transform-job-state-change.json); the sandbox's
transform jobs run the version's own serving code over the file.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest

from pipeline import dataset
from sandbox.core import Sandbox
from tests.conftest import EVENTS, SandboxWorld, seeded

BATCH = {"ServingKind": "Batch", "DriftMinRecords": "100", "QualityMinRecords": "100"}


@pytest.fixture
def batch(sandbox: Sandbox) -> SandboxWorld:
    """The churn project scoring batches: v1 approved (the live batch model), v2 pending."""
    return seeded(sandbox, **BATCH)


def customers(rows: int = 300, shift: float = 0.0, label: bool = False, seed: int = 23) -> bytes:
    records = dataset.generate(rows=rows, seed=seed, shift=shift)
    return dataset.to_csv(records, header=False, label=label).encode()


def put_input(world: SandboxWorld, name: str, body: bytes) -> dict[str, Any]:
    bucket = world.stack.outputs["ArtifactBucketName"]
    response = world.client("s3").put_object(Bucket=bucket, Key=f"batch/input/{name}", Body=body)
    world.sandbox.settle()
    return dict(response)


def batch_runs(world: SandboxWorld) -> list[dict[str, Any]]:
    return world.executions("BatchStateMachineArn")


def transform_jobs(world: SandboxWorld) -> list[dict[str, Any]]:
    sagemaker = world.client("sagemaker")
    listed = sagemaker.list_transform_jobs(NameContains="churn-batch-")["TransformJobSummaries"]
    return [sagemaker.describe_transform_job(TransformJobName=job["TransformJobName"]) for job in listed]


def read_output(world: SandboxWorld, url: str) -> list[list[str]]:
    bucket, _, key = url.removeprefix("s3://").partition("/")
    body = world.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read().decode()
    return list(csv.reader(io.StringIO(body)))


def test_a_file_put_under_batch_input_is_scored_once_each_line_joined_to_its_input(batch: SandboxWorld) -> None:
    body = customers(300)

    put_input(batch, "2026/12/customers.csv", body)

    [run] = batch_runs(batch)
    assert run["status"] == "SUCCEEDED", run.get("cause")
    [job] = transform_jobs(batch)
    assert job["TransformJobStatus"] == "Completed"
    assert (
        job["ModelName"]
        == next(e for e in batch.ledger("ENDPOINT#churn-endpoint") if e["sk"] == "LIVE")["endpoint_config_name"]
    )
    output_url = json.loads(run["output"])["Job"]["OutputUrl"]
    assert output_url.endswith(f"/batch/output/{job['TransformJobName']}/customers.csv.out")
    inputs = list(csv.reader(io.StringIO(body.decode())))
    outputs = read_output(batch, output_url)
    assert len(outputs) == len(inputs) == 300
    for given, scored in zip(inputs, outputs, strict=True):
        assert scored[:-1] == given  # the input, whole, then the prediction
        assert 0.0 <= float(scored[-1]) <= 1.0
    [record] = [e for e in batch.ledger("BATCH#churn-endpoint") if str(e["sk"]).startswith("RUN#")]
    assert record["outcome"] == "Scored" and "300 records" in record["detail"]


def test_the_same_object_created_event_delivered_again_starts_no_second_job(batch: SandboxWorld) -> None:
    with batch.sandbox.holding_events() as held:
        put_input(batch, "customers.csv", customers(150))
    created = [e for e in held if e["Source"] == "aws.s3"]
    assert len(created) == 1
    events = batch.client("events")
    for _ in range(3):  # EventBridge delivers at least once: the same event, again and late
        events.put_events(Entries=created)
        batch.sandbox.settle()

    assert len(batch_runs(batch)) == 1
    assert len(transform_jobs(batch)) == 1
    # a new version of the same key is a new batch
    put_input(batch, "customers.csv", customers(150, seed=5))
    assert len(transform_jobs(batch)) == 2


def test_files_elsewhere_in_the_bucket_and_folder_markers_are_ignored(batch: SandboxWorld) -> None:
    bucket = batch.stack.outputs["ArtifactBucketName"]
    s3 = batch.client("s3")
    s3.put_object(Bucket=bucket, Key="batch/inputs-old/customers.csv", Body=customers(10))
    s3.put_object(Bucket=bucket, Key="pipeline/data/customers.csv", Body=customers(10))
    s3.put_object(Bucket=bucket, Key="batch/input/2026/", Body=b"")
    s3.create_bucket(Bucket="someone-elses-bucket")
    s3.put_object(Bucket="someone-elses-bucket", Key="batch/input/customers.csv", Body=customers(10))
    batch.sandbox.settle()

    assert batch_runs(batch) == []
    assert transform_jobs(batch) == []


def test_a_file_the_model_cannot_score_fails_its_job_and_says_why(batch: SandboxWorld) -> None:
    rows = customers(50).decode().splitlines()
    rows[20] = "2,110.0,6,3.0,month-to-month"  # a line cut short: the model refuses it
    put_input(batch, "broken.csv", ("\n".join(rows) + "\n").encode())

    [run] = batch_runs(batch)
    assert (run["status"], run["error"]) == ("FAILED", "BatchFailed")
    [job] = transform_jobs(batch)
    assert job["TransformJobStatus"] == "Failed"
    assert job["FailureReason"] in run["cause"]
    bucket = batch.stack.outputs["ArtifactBucketName"]
    listed = batch.client("s3").list_objects_v2(Bucket=bucket, Prefix="batch/output/")
    assert listed.get("KeyCount", 0) == 0  # no partial output


def test_a_file_of_the_wrong_width_starts_no_job_and_says_what_width_is_expected(batch: SandboxWorld) -> None:
    put_input(batch, "six-columns.csv", b"1,2,3,4,5,6\n")

    [run] = batch_runs(batch)
    assert run["status"] == "FAILED"
    assert "has 6 columns; the live version takes 7 (or 8 with the label last)" in run["cause"]
    assert transform_jobs(batch) == []


def test_lines_ending_with_their_label_are_scored_for_model_quality(batch: SandboxWorld) -> None:
    put_input(batch, "labelled.csv", customers(400, label=True))

    [run] = batch_runs(batch)
    assert run["status"] == "SUCCEEDED", run.get("cause")
    [job] = transform_jobs(batch)
    assert job["DataProcessing"]["InputFilter"] == "$[0,1,2,3,4,5,6]"  # the model never sees the label
    metrics = batch.client("cloudwatch").list_metrics(Namespace="MLOps/churn/Drift")["Metrics"]
    assert {"Accuracy", "AccuracyDrop", "AUC", "LabelsJoined", "DriftScore"} <= {m["MetricName"] for m in metrics}


def test_a_shifted_batch_raises_the_drift_alarm_and_starts_one_retrain(batch: SandboxWorld) -> None:
    put_input(batch, "like-training.csv", customers(500))
    batch.sandbox.evaluate_alarms()
    alarm = batch.client("cloudwatch").describe_alarms(AlarmNames=["churn-drift-score"])["MetricAlarms"][0]
    assert alarm["StateValue"] != "ALARM"

    put_input(batch, "shifted.csv", customers(500, shift=1.0, seed=29))
    batch.sandbox.evaluate_alarms()
    batch.sandbox.settle()

    alarm = batch.client("cloudwatch").describe_alarms(AlarmNames=["churn-drift-score"])["MetricAlarms"][0]
    assert alarm["StateValue"] == "ALARM"
    retrains = batch.executions("RetrainStateMachineArn")
    assert len(retrains) == 1, [r["name"] for r in retrains]


def test_without_an_approved_version_a_file_is_not_scored_and_people_are_told(sandbox: Sandbox) -> None:
    stack = sandbox.deploy_stack("churn", **BATCH)
    world = SandboxWorld(sandbox, stack, world=None)  # type: ignore[arg-type]
    put_input(world, "early.csv", customers(20))

    [run] = batch_runs(world)
    assert (run["status"], run["error"]) == ("FAILED", "NoLiveModel")
    assert "no approved version scores the batches" in run["cause"]


def test_rejecting_the_live_version_goes_back_to_the_previous_batch_model(batch: SandboxWorld) -> None:
    sagemaker = batch.client("sagemaker")
    sagemaker.update_model_package(ModelPackageArn=batch.world.pending_version_arn, ModelApprovalStatus="Approved")
    batch.sandbox.settle()
    live = next(e for e in batch.ledger("ENDPOINT#churn-endpoint") if e["sk"] == "LIVE")
    assert live["model_package_arn"] == batch.world.pending_version_arn

    sagemaker.update_model_package(ModelPackageArn=batch.world.pending_version_arn, ModelApprovalStatus="Rejected")
    batch.sandbox.settle()

    live = next(e for e in batch.ledger("ENDPOINT#churn-endpoint") if e["sk"] == "LIVE")
    assert live["model_package_arn"] == batch.world.live_version_arn
    model = sagemaker.describe_model(ModelName=str(live["endpoint_config_name"]))
    assert model["Containers"][0]["ModelPackageName"] == batch.world.live_version_arn
    put_input(batch, "after-rollback.csv", customers(20))
    [job] = transform_jobs(batch)
    assert job["ModelName"] == live["endpoint_config_name"]


def test_a_manual_start_scores_the_file_named(batch: SandboxWorld) -> None:
    bucket = batch.stack.outputs["ArtifactBucketName"]
    batch.client("s3").put_object(Bucket=bucket, Key="elsewhere/customers.csv", Body=customers(40))
    sfn = batch.client("stepfunctions")
    url = f"s3://{bucket}/elsewhere/customers.csv"
    for _ in range(2):  # a person asking twice gets two jobs
        sfn.start_execution(
            stateMachineArn=batch.stack.outputs["BatchStateMachineArn"], input=json.dumps({"InputUrl": url})
        )
    batch.sandbox.settle()

    runs = batch_runs(batch)
    assert [r["status"] for r in runs] == ["SUCCEEDED", "SUCCEEDED"]
    assert len(transform_jobs(batch)) == 2


@pytest.mark.parametrize("given", [{}, {"InputUrl": "https://bucket/key.csv"}, {"InputUrl": 3}, ["s3://b/k"]])
def test_a_bad_manual_start_ends_at_its_first_state(batch: SandboxWorld, given: object) -> None:
    sfn = batch.client("stepfunctions")
    sfn.start_execution(stateMachineArn=batch.stack.outputs["BatchStateMachineArn"], input=json.dumps(given))
    batch.sandbox.settle()

    [run] = batch_runs(batch)
    assert (run["status"], run["error"]) == ("FAILED", "InvalidInput")
    assert transform_jobs(batch) == []


def test_a_big_file_is_scored_by_the_job_not_the_function(batch: SandboxWorld) -> None:
    rows = 100_000
    body = customers(rows, seed=41)
    put_input(batch, "big.csv", body)

    [run] = batch_runs(batch)
    assert run["status"] == "SUCCEEDED", run.get("cause")
    scored = read_output(batch, json.loads(run["output"])["Job"]["OutputUrl"])
    assert len(scored) == rows
    transform_calls = [i for i in batch.sandbox.state.invocations if i.function_name == "churn-batch"]
    assert len(transform_calls) <= 4  # the event, the job's creation, its end, the measurement


BATCH_EVENTS = sorted(p for p in (EVENTS / "batch").glob("*.json") if "detail-type" in json.loads(p.read_text()))


@pytest.mark.parametrize("event_file", BATCH_EVENTS, ids=[p.name for p in BATCH_EVENTS])
def test_the_batch_function_handles_its_event_file_as_its_name_says(batch: SandboxWorld, event_file: Path) -> None:
    """events/batch/ for `sam local invoke`: ignored-* ignored, malformed-* rejected and kept, an object created
    starts the batch workflow, a job's end is completed (no workflow waits for the file's job here)."""
    expected = {"object-created.json": "started", "transform-completed.json": "completed"}.get(
        event_file.name, {"ignored": "ignored", "malformed": "rejected"}.get(event_file.name.split("-")[0], "completed")
    )

    response = batch.client("lambda").invoke(FunctionName="churn-batch", Payload=event_file.read_bytes())
    reaction = json.loads(response["Payload"].read())
    batch.sandbox.settle()

    assert "FunctionError" not in response, reaction
    assert reaction["action"] == expected, reaction
    if expected == "rejected":
        [kept] = batch.queue_messages("RejectedEventsQueueUrl")
        assert kept["reason"] == reaction["reason"]
    if expected == "started":
        [run] = batch_runs(batch)  # scoring a file that is not there: the run says so
        assert run["status"] == "FAILED" and "NoSuchKey" in run["cause"]
    else:
        assert batch_runs(batch) == []


def test_a_key_with_spaces_arrives_url_encoded_and_its_file_is_scored(batch: SandboxWorld) -> None:
    """S3 URL-encodes the key in its events ("red flower.jpg" as "red+flower.jpg"): the file itself is scored."""
    put_input(batch, "december customers+vip.csv", customers(30))

    [run] = batch_runs(batch)
    assert run["status"] == "SUCCEEDED", run.get("cause")
    assert json.loads(run["input"])["InputUrl"].endswith("/batch/input/december customers+vip.csv")
    assert json.loads(run["output"])["Job"]["OutputUrl"].endswith("/december customers+vip.csv.out")
