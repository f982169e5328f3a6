"""The drift monitor in the sandbox: captured traffic -> drift figures -> the drift alarm -> a retrain."""

from __future__ import annotations

import json
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from typing import Any

from pipeline import dataset
from sandbox.capture import capture_line
from sandbox.core import Sandbox
from tests.conftest import SandboxWorld, seeded


def world(sandbox: Sandbox) -> SandboxWorld:
    return seeded(sandbox, BakeSeconds="60", RetentionSeconds="60", MinCandidateInvocations="0")


def send_traffic(churn: SandboxWorld, shift: float, customers: int = 1000, per_request: int = 20) -> None:
    runtime = churn.client("sagemaker-runtime")
    rows = dataset.generate(rows=customers, seed=17, shift=shift)
    for start in range(0, customers, per_request):
        body = dataset.to_csv(rows[start : start + per_request], header=False, label=False)
        runtime.invoke_endpoint(EndpointName=churn.stack.endpoint_name, ContentType="text/csv", Body=body)


def drift_score_datapoints(churn: SandboxWorld) -> list[float]:
    now = datetime.now(UTC)
    stats = churn.client("cloudwatch").get_metric_statistics(
        Namespace="MLOps/churn/Drift",
        MetricName="DriftScore",
        Dimensions=[{"Name": "EndpointName", "Value": churn.stack.endpoint_name}],
        StartTime=now - timedelta(hours=1),
        EndTime=now + timedelta(minutes=5),
        Period=60,
        Statistics=["Maximum"],
    )
    return [point["Maximum"] for point in stats["Datapoints"]]


def alarm_state(churn: SandboxWorld, name: str = "churn-drift-score") -> str:
    alarms = churn.client("cloudwatch").describe_alarms(AlarmNames=[name])["MetricAlarms"]
    return str(alarms[0]["StateValue"])


def test_the_endpoint_captures_its_traffic_in_sagemakers_format(sandbox: Sandbox) -> None:
    churn = world(sandbox)
    sagemaker = churn.client("sagemaker")
    config = sagemaker.describe_endpoint_config(
        EndpointConfigName=sagemaker.describe_endpoint(EndpointName=churn.stack.endpoint_name)["EndpointConfigName"]
    )["DataCaptureConfig"]
    bucket = churn.stack.outputs["ArtifactBucketName"]
    assert config["EnableCapture"] is True and config["InitialSamplingPercentage"] == 100
    assert config["DestinationS3Uri"] == f"s3://{bucket}/datacapture"
    assert {o["CaptureMode"] for o in config["CaptureOptions"]} == {"Input", "Output"}

    send_traffic(churn, shift=0.0, customers=40)
    churn.sandbox.flush_data_capture()

    keys = [o["Key"] for o in churn.client("s3").list_objects_v2(Bucket=bucket, Prefix="datacapture/")["Contents"]]
    assert keys and all(k.startswith(f"datacapture/{churn.stack.endpoint_name}/Blue/") for k in keys)
    first = churn.client("s3").get_object(Bucket=bucket, Key=keys[0])["Body"].read().decode().splitlines()[0]
    record = json.loads(first)
    assert record["captureData"]["endpointInput"]["encoding"] == "CSV"
    assert record["captureData"]["endpointInput"]["data"].count("\n") == 20
    assert len(record["captureData"]["endpointOutput"]["data"].split()) == 20


def test_shifted_traffic_raises_the_drift_alarm_and_a_retrain_starts(sandbox: Sandbox) -> None:
    churn = world(sandbox)
    send_traffic(churn, shift=1.0)

    summary = churn.sandbox.run_drift_monitor("churn")

    assert summary["Outcome"] == "measured" and summary["Records"] == 1000, summary
    assert summary["DriftScore"] > 0.2
    assert drift_score_datapoints(churn) == [summary["DriftScore"]]
    churn.sandbox.start_traffic(churn.stack.endpoint_name)  # CloudWatch evaluates the alarms as data arrives
    deadline = time.monotonic() + 10
    while alarm_state(churn) != "ALARM" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert alarm_state(churn) == "ALARM"
    churn.sandbox.settle(timeout=180)
    [retrain] = churn.executions("RetrainStateMachineArn")
    assert retrain["name"].startswith("drift-churn-drift-score-")
    assert retrain["status"] == "SUCCEEDED" and json.loads(retrain["output"])["Status"] == "Registered"


def test_unshifted_traffic_stays_below_the_threshold(sandbox: Sandbox) -> None:
    churn = world(sandbox)
    send_traffic(churn, shift=0.0)

    summary = churn.sandbox.run_drift_monitor("churn")

    assert summary["Records"] == 1000 and summary["DriftScore"] < 0.2, summary
    churn.sandbox.start_traffic(churn.stack.endpoint_name)
    time.sleep(0.5)
    churn.sandbox.settle()
    assert alarm_state(churn) != "ALARM"
    assert churn.executions("RetrainStateMachineArn") == []


def put_capture_file(churn: SandboxWorld, key: str, lines: list[str]) -> None:
    bucket = churn.stack.outputs["ArtifactBucketName"]
    churn.client("s3").put_object(Bucket=bucket, Key=key, Body=("\n".join(lines) + "\n").encode())


def capture_lines(rows: list[dict[str, Any]]) -> list[str]:
    now = datetime.now(UTC)
    return [
        capture_line(dataset.to_csv([row], header=False, label=False).encode(), "text/csv", b"0.5\n", "text/csv", now)
        for row in rows
    ]


def test_every_file_is_counted_once_even_when_it_lands_late(sandbox: Sandbox) -> None:
    churn = world(sandbox)
    send_traffic(churn, shift=0.0, customers=200)
    first = churn.sandbox.run_drift_monitor("churn")
    again = churn.sandbox.run_drift_monitor("churn")
    assert (first["Records"], again["Records"], again["Files"]) == (200, 0, 0)

    three_hours_ago = (datetime.now(UTC) - timedelta(hours=3)).strftime("%Y/%m/%d/%H")
    late = f"datacapture/{churn.stack.endpoint_name}/Blue/{three_hours_ago}/late-arrival.jsonl"
    put_capture_file(churn, late, capture_lines(dataset.generate(rows=150, seed=4)))

    later = churn.sandbox.run_drift_monitor("churn")
    assert (later["Files"], later["Records"]) == (1, 150)


def test_malformed_capture_lines_are_counted_and_reported_not_fatal(sandbox: Sandbox) -> None:
    churn = world(sandbox)
    hour = datetime.now(UTC).strftime("%Y/%m/%d/%H")
    good = capture_lines(dataset.generate(rows=120, seed=6))
    put_capture_file(churn, f"datacapture/{churn.stack.endpoint_name}/Blue/{hour}/mixed.jsonl", [*good, "{oops", "[]"])

    summary = churn.sandbox.run_drift_monitor("churn")

    assert (summary["Records"], summary["Malformed"]) == (120, 2)
    assert summary["Problems"] and "JSONDecodeError" in summary["Problems"][0]
    runs = [e for e in churn.ledger(f"CAPTURE#{churn.stack.endpoint_name}") if str(e["sk"]).startswith("RUN#")]
    assert json.loads(str(runs[-1]["summary"]))["Malformed"] == 2


def test_too_few_records_publish_no_drift_figure(sandbox: Sandbox) -> None:
    churn = world(sandbox)
    send_traffic(churn, shift=1.0, customers=40)
    summary = churn.sandbox.run_drift_monitor("churn")
    assert summary["Outcome"] == "too-few-records" and summary["DriftScore"] is None
    assert drift_score_datapoints(churn) == []


def test_memory_does_not_grow_with_the_number_of_records() -> None:
    """The tally streams: ten times the records, about the same peak memory."""
    from mlops.drift import DriftTally
    from tests.test_drift_measure import baseline

    def peak(records: int) -> int:
        lines = capture_lines(dataset.generate(rows=200, seed=9))
        tally = DriftTally(baseline())
        tracemalloc.start()
        for _ in range(records // 200):
            tally.add_lines(iter(lines))
        _, top = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert tally.report().records == records
        return top

    assert peak(20_000) < 2 * peak(2_000) + 64_000


def test_a_run_short_of_time_leaves_the_rest_to_the_next_run(sandbox: Sandbox) -> None:
    from mlops.ledger import Ledger
    from mlops.monitoring import MonitorConfig, run_monitor

    churn = world(sandbox)
    hour = datetime.now(UTC).strftime("%Y/%m/%d/%H")
    for i in range(3):
        key = f"datacapture/{churn.stack.endpoint_name}/Blue/{hour}/part-{i}.jsonl"
        put_capture_file(churn, key, capture_lines(dataset.generate(rows=50, seed=i)))
    config = MonitorConfig(
        project="churn",
        endpoint=churn.stack.endpoint_name,
        bucket=churn.stack.outputs["ArtifactBucketName"],
        namespace="MLOps/churn/Drift",
        min_records=100,
        lookback_hours=2,
        reserve_seconds=60,
    )
    clients = {
        "ledger": Ledger(churn.client("dynamodb"), churn.stack.ledger_table),
        "sagemaker": churn.client("sagemaker"),
        "s3": churn.client("s3"),
        "cloudwatch": churn.client("cloudwatch"),
    }
    time_left = iter([900.0, 900.0])  # two files' worth of time, then under the reserve

    first = run_monitor(config, seconds_left=lambda: next(time_left, 10.0), **clients)
    second = run_monitor(config, seconds_left=lambda: 900.0, **clients)

    assert (first["Files"], first["FilesLeftForNextRun"], first["Records"]) == (2, 1, 100)
    assert (second["Files"], second["FilesLeftForNextRun"], second["Records"]) == (1, 0, 50)
