"""`make sandbox`: real clients (the AWS CLI) drive the sandbox over HTTP on 127.0.0.1."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT

VERSION = "arn:aws:sagemaker:us-east-1:123456789012:model-package/churn-models/{}"
PENDING = VERSION.format(2)
DEPLOY = "arn:aws:states:us-east-1:123456789012:stateMachine:churn-deploy"
AWS_CLI = shutil.which("aws", path=str(Path(sys.executable).parent)) or shutil.which("aws")


@contextlib.contextmanager
def running_server(log: Path, **settings: str) -> Iterator[str]:
    """`python -m sandbox.server` with these SANDBOX_* settings (a free port), until the block ends: its URL."""
    env = {**os.environ, "SANDBOX_PORT": "0", "PYTHONUNBUFFERED": "1", **settings}
    with log.open("w") as output:  # a file, not a pipe: a pipe nobody reads fills and stalls the server
        process = subprocess.Popen(
            [sys.executable, "-m", "sandbox.server"], cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + 90
        url = None
        while url is None and time.monotonic() < deadline and process.poll() is None:
            match = re.search(r"Sandbox listening on (http://127\.0\.0\.1:\d+)", log.read_text())
            url = match.group(1) if match else None
            time.sleep(0.2)
        assert url, f"the sandbox server did not start: {log.read_text()[-2000:]}"
        yield url
    finally:
        process.terminate()
        process.wait(timeout=20)


@pytest.fixture(scope="module")
def server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with running_server(
        tmp_path_factory.mktemp("server") / "server.log",
        SANDBOX_BAKE_SECONDS="3",
        SANDBOX_RETRAIN_COOLDOWN_SECONDS="0",  # tests retrain one after the other
        SANDBOX_MAX_RETRAINS_PER_DAY="20",
    ) as url:
        yield url


def aws(url: str, *args: str) -> Any:
    assert AWS_CLI, "the AWS CLI comes with requirements/dev.txt"
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "sandbox",
        "AWS_SECRET_ACCESS_KEY": "sandbox",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    done = subprocess.run(
        [AWS_CLI, "--endpoint-url", url, "--output", "json", *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout) if done.stdout.strip() else None


def wait_for(condition: Any, timeout: float = 20) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError("condition not met in time")


def deploy_runs(url: str) -> list[dict[str, str]]:
    return list(aws(url, "stepfunctions", "list-executions", "--state-machine-arn", DEPLOY)["executions"])


def test_events_that_are_not_ours_start_nothing(server_url: str, tmp_path: Path) -> None:
    before = len(deploy_runs(server_url))
    entries = []
    for name in ("ignored-other-group.json", "ignored-pending-approval.json", "ignored-rejected.json"):
        event = json.loads((ROOT / "events" / "approval" / name).read_text())
        entries.append(
            {"Source": event["source"], "DetailType": event["detail-type"], "Detail": json.dumps(event["detail"])}
        )
    (tmp_path / "entries.json").write_text(json.dumps(entries))
    result = aws(server_url, "events", "put-events", "--entries", f"file://{tmp_path / 'entries.json'}")
    assert result["FailedEntryCount"] == 0
    time.sleep(1)
    assert len(deploy_runs(server_url)) == before


def weights(url: str) -> dict[str, float]:
    endpoint = aws(url, "sagemaker", "describe-endpoint", "--endpoint-name", "churn-endpoint")
    return {v["VariantName"]: v["CurrentWeight"] for v in endpoint["ProductionVariants"]}


def serving(url: str) -> str:
    """DescribeEndpoint -> its EndpointConfig -> the variant taking traffic -> DescribeModel -> the package."""
    endpoint = aws(url, "sagemaker", "describe-endpoint", "--endpoint-name", "churn-endpoint")
    config = aws(url, "sagemaker", "describe-endpoint-config", "--endpoint-config-name", endpoint["EndpointConfigName"])
    current = {v["VariantName"]: v["CurrentWeight"] for v in endpoint["ProductionVariants"]}
    variant = max(config["ProductionVariants"], key=lambda v: current.get(v["VariantName"], 0))
    model = aws(url, "sagemaker", "describe-model", "--model-name", variant["ModelName"])
    return str(model["Containers"][0]["ModelPackageName"])


def deploy_run(url: str, version: int) -> dict[str, str]:
    runs = [run for run in deploy_runs(url) if run["name"].startswith(f"approved-v{version}-")]
    return runs[0] if runs else {}


def test_approving_through_the_aws_api_deploys_the_version_by_canary(server_url: str) -> None:
    aws(
        server_url,
        "sagemaker",
        "update-model-package",
        "--model-package-arn",
        PENDING,
        "--model-approval-status",
        "Approved",
    )

    partial = wait_for(lambda: (w := weights(server_url)).get("Green", 0) in (0.1, 0.5) and w)
    assert partial["Blue"] == round(1 - partial["Green"], 4)  # the candidate holds an intermediate share
    wait_for(lambda: deploy_run(server_url, 2).get("status") == "SUCCEEDED", timeout=60)
    assert serving(server_url) == PENDING


def test_a_guard_alarm_during_a_bake_puts_traffic_back_on_the_live_variant(server_url: str) -> None:
    aws(
        server_url,
        "sagemaker",
        "update-model-package",
        "--model-package-arn",
        VERSION.format(3),
        "--model-approval-status",
        "Approved",
    )
    wait_for(lambda: weights(server_url).get("Blue") == 0.1)

    started = time.monotonic()
    aws(
        server_url,
        "cloudwatch",
        "set-alarm-state",
        "--alarm-name",
        "churn-canary-5xx-Blue",
        "--state-value",
        "ALARM",
        "--state-reason",
        "5XX errors",
    )
    wait_for(lambda: weights(server_url).get("Blue", 0.0) == 0.0)
    assert time.monotonic() - started < 10  # within seconds

    wait_for(lambda: deploy_run(server_url, 3).get("status") == "FAILED", timeout=30)
    described = aws(
        server_url, "stepfunctions", "describe-execution", "--execution-arn", deploy_run(server_url, 3)["executionArn"]
    )
    assert described["error"] == "RolledBack"
    package = aws(server_url, "sagemaker", "describe-model-package", "--model-package-name", VERSION.format(3))
    assert package["ModelApprovalStatus"] == "Rejected"
    assert "churn-canary-5xx-Blue" in package["ApprovalDescription"]
    assert serving(server_url) == PENDING


def start_by_hand(url: str, workflow: str, input_file: str) -> str:
    """Start a workflow with an input from events/ and wait for its end; its final status."""
    arn = DEPLOY.replace("deploy", workflow)
    started = aws(
        url, "stepfunctions", "start-execution", "--state-machine-arn", arn, "--input", f"file://{input_file}"
    )

    def finished() -> str | None:
        status = str(
            aws(url, "stepfunctions", "describe-execution", "--execution-arn", started["executionArn"])["status"]
        )
        return None if status == "RUNNING" else status

    return str(wait_for(finished))


def test_the_manual_rollback_input_restores_the_previous_version(server_url: str) -> None:
    assert start_by_hand(server_url, "rollback", "events/statemachines/rollback.json") == "SUCCEEDED"
    assert serving(server_url) == VERSION.format(1)


def test_rejecting_the_live_version_rolls_back(server_url: str) -> None:
    aws(
        server_url,
        "sagemaker",
        "update-model-package",
        "--model-package-arn",
        VERSION.format(1),
        "--model-approval-status",
        "Rejected",
        "--approval-description",
        "data leak",
    )

    wait_for(lambda: serving(server_url) == PENDING, timeout=30)


def test_a_workflow_starts_by_hand_with_an_input_from_events(server_url: str) -> None:
    assert start_by_hand(server_url, "retrain", "events/statemachines/retrain.json") == "SUCCEEDED"


def pipeline_run(url: str, *parameters: str) -> dict[str, Any]:
    extra = ["--pipeline-parameters", *parameters] if parameters else []
    started = aws(url, "sagemaker", "start-pipeline-execution", "--pipeline-name", "churn-pipeline", *extra)
    arn = started["PipelineExecutionArn"]

    def finished() -> dict[str, Any] | None:
        described = aws(url, "sagemaker", "describe-pipeline-execution", "--pipeline-execution-arn", arn)
        return described if described["PipelineExecutionStatus"] in ("Succeeded", "Failed") else None

    return dict(wait_for(finished, timeout=120))


def test_starting_the_pipeline_registers_a_version_evaluated_for_real(server_url: str, tmp_path: Path) -> None:
    run = pipeline_run(server_url)

    assert run["PipelineExecutionStatus"] == "Succeeded"
    listed = aws(server_url, "sagemaker", "list-model-packages", "--model-package-group-name", "churn-models")
    packages = [
        aws(server_url, "sagemaker", "describe-model-package", "--model-package-name", item["ModelPackageArn"])
        for item in listed["ModelPackageSummaryList"]
    ]
    (new,) = [p for p in packages if p.get("MetadataProperties", {}).get("GeneratedBy") == run["PipelineExecutionArn"]]
    assert new["ModelApprovalStatus"] == "PendingManualApproval"
    bucket, _, key = new["ModelMetrics"]["ModelQuality"]["Statistics"]["S3Uri"].removeprefix("s3://").partition("/")
    aws(server_url, "s3api", "get-object", "--bucket", bucket, "--key", key, str(tmp_path / "evaluation.json"))
    evaluation = json.loads((tmp_path / "evaluation.json").read_text())
    assert 0.85 <= evaluation["binary_classification_metrics"]["accuracy"]["value"] < 1.0


def test_a_threshold_above_the_model_fails_the_run_with_both_figures(server_url: str) -> None:
    before = aws(server_url, "sagemaker", "list-model-packages", "--model-package-group-name", "churn-models")

    run = pipeline_run(server_url, "Name=AccuracyThreshold,Value=0.97")

    assert run["PipelineExecutionStatus"] == "Failed"
    assert re.fullmatch(r"Quality gate: accuracy 0\.\d+ is below the threshold 0\.97", run["FailureReason"])
    after = aws(server_url, "sagemaker", "list-model-packages", "--model-package-group-name", "churn-models")
    assert len(after["ModelPackageSummaryList"]) == len(before["ModelPackageSummaryList"])


def test_publish_uploads_what_the_definition_refers_to(server_url: str) -> None:
    env = {
        **os.environ,
        "AWS_ENDPOINT_URL": server_url,
        "AWS_ACCESS_KEY_ID": "sandbox",
        "AWS_SECRET_ACCESS_KEY": "sandbox",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    done = subprocess.run(
        [sys.executable, "-m", "pipeline.publish", "--stack", "churn"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    written = done.stdout.split()
    definition = (ROOT / "pipeline" / "definition.json").read_text()
    bucket = written[0].removeprefix("s3://").split("/")[0]
    for uri in ("s3://${ArtifactBucket}/pipeline/code/", "sourcedir.tar.gz", "pipeline/data/churn.csv"):
        assert uri in definition
    assert f"s3://{bucket}/pipeline/code/sourcedir.tar.gz" in written
    assert f"s3://{bucket}/pipeline/data/churn.csv" in written
    assert f"s3://{bucket}/pipeline/code/train.py" in written
    archive = aws(server_url, "s3api", "head-object", "--bucket", bucket, "--key", "pipeline/code/sourcedir.tar.gz")
    assert archive["ContentLength"] > 1000


RETRAIN = "arn:aws:states:us-east-1:123456789012:stateMachine:churn-retrain"
CONTROL = ("sandbox-control", "pipeline-failures.json")


def retrain_runs(url: str) -> list[dict[str, Any]]:
    return list(aws(url, "stepfunctions", "list-executions", "--state-machine-arn", RETRAIN)["executions"])


def finished_retrain(url: str, arn: str) -> dict[str, Any]:
    def done() -> dict[str, Any] | None:
        described = aws(url, "stepfunctions", "describe-execution", "--execution-arn", arn)
        return described if described["status"] != "RUNNING" else None

    return dict(wait_for(done, timeout=120))


@pytest.fixture(scope="module")
def inbox(server_url: str) -> Any:
    """A queue subscribed to the notification topic, read with the AWS CLI."""
    url = aws(server_url, "sqs", "create-queue", "--queue-name", "inbox")["QueueUrl"]
    topic = "arn:aws:sns:us-east-1:123456789012:churn-notifications"
    queue = "arn:aws:sqs:us-east-1:123456789012:inbox"
    aws(server_url, "sns", "subscribe", "--topic-arn", topic, "--protocol", "sqs", "--notification-endpoint", queue)

    def read(subject: str) -> list[str]:
        found = []
        for _ in range(5):
            received = aws(server_url, "sqs", "receive-message", "--queue-url", url, "--max-number-of-messages", "10")
            for message in (received or {}).get("Messages", []):
                body = json.loads(message["Body"])
                if subject in body.get("Subject", ""):
                    found.append(body["Message"])
            if found:
                return found
            time.sleep(0.2)
        return found

    return read


def fail_next_step(url: str, tmp_path: Path, step: str, reason: str, times: int | None) -> None:
    (tmp_path / "failures.json").write_text(json.dumps([{"step": step, "reason": reason, "times": times}]))
    aws(
        url,
        "s3api",
        "put-object",
        "--bucket",
        CONTROL[0],
        "--key",
        CONTROL[1],
        "--body",
        str(tmp_path / "failures.json"),
    )


def test_a_flapping_drift_alarm_during_a_retrain_starts_one_retrain(server_url: str, inbox: Any) -> None:
    before = {run["executionArn"] for run in retrain_runs(server_url)}

    def set_drift(state: str) -> None:
        aws(
            server_url,
            *("cloudwatch", "set-alarm-state", "--alarm-name", "churn-drift-feature-psi"),
            *("--state-value", state, "--state-reason", f"PSI test {state}"),
        )

    set_drift("ALARM")
    started = wait_for(lambda: [run for run in retrain_runs(server_url) if run["executionArn"] not in before])
    for state in ("OK", "ALARM", "OK", "ALARM"):  # while the retrain runs (its pipeline steps take 2 s each)
        set_drift(state)
    run = finished_retrain(server_url, started[0]["executionArn"])
    assert run["status"] == "SUCCEEDED", run.get("cause")
    assert len([r for r in retrain_runs(server_url) if r["executionArn"] not in before]) == 1
    joined = aws(
        server_url,
        *("dynamodb", "query", "--table-name", "churn-ledger", "--key-condition-expression", "pk = :pk"),
        *("--expression-attribute-values", json.dumps({":pk": {"S": f"RETRAIN#{started[0]['name']}"}})),
    )["Items"]
    assert len([item for item in joined if item["sk"]["S"].startswith("JOINED#")]) == 2
    outcome = json.loads(run["output"])
    package = aws(server_url, "sagemaker", "describe-model-package", "--model-package-name", outcome["ModelPackageArn"])
    assert package["ModelApprovalStatus"] == "PendingManualApproval"
    generated_by = package["MetadataProperties"]["GeneratedBy"]
    described = aws(server_url, "sagemaker", "describe-pipeline-execution", "--pipeline-execution-arn", generated_by)
    assert described["PipelineExecutionDisplayName"].startswith("churn-retrain-drift-churn-drift-feature-psi-")
    [message] = inbox("retrain Registered")
    assert re.search(r"accuracy 0\.\d{4} \(live 0\.\d{4}, [+-]0\.\d{4}\)", message), message
    assert "vs live version" in message and outcome["ModelPackageArn"] in message


def test_a_transient_pipeline_failure_is_retried_to_success(server_url: str, tmp_path: Path) -> None:
    fail_next_step(
        server_url, tmp_path, "Train", "CapacityError: Unable to provision requested ML compute capacity.", 1
    )
    started = aws(
        server_url,
        *("stepfunctions", "start-execution", "--state-machine-arn", RETRAIN),
        *("--input", "file://events/statemachines/retrain.json"),
    )
    run = finished_retrain(server_url, started["executionArn"])

    assert run["status"] == "SUCCEEDED", run.get("cause")
    package = aws(
        server_url,
        "sagemaker",
        "describe-model-package",
        "--model-package-name",
        json.loads(run["output"])["ModelPackageArn"],
    )
    steps = aws(
        server_url,
        *("sagemaker", "list-pipeline-execution-steps", "--pipeline-execution-arn"),
        package["MetadataProperties"]["GeneratedBy"],
    )["PipelineExecutionSteps"]
    assert max(s["AttemptCount"] for s in steps if s["StepName"] == "Train") == 2


def test_a_permanent_pipeline_failure_is_reported_with_its_step_and_reason(
    server_url: str, tmp_path: Path, inbox: Any
) -> None:
    reason = "AlgorithmError: ValueError: Input contains NaN"
    fail_next_step(server_url, tmp_path, "Evaluate", reason, None)
    started = aws(
        server_url,
        *("stepfunctions", "start-execution", "--state-machine-arn", RETRAIN),
        *("--input", json.dumps({"Reason": "permanent failure test"})),
    )
    run = finished_retrain(server_url, started["executionArn"])

    assert (run["status"], run["error"]) == ("FAILED", "Failed")
    [message] = inbox("retrain Failed")
    assert f"at step Evaluate: {reason}" in message


def runtime_client(url: str) -> Any:
    import boto3

    return boto3.client(
        "sagemaker-runtime",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="sandbox",
        aws_secret_access_key="sandbox",
    )


def send_customers(url: str, shift: float, customers: int = 1000) -> None:
    from pipeline import dataset

    runtime = runtime_client(url)
    rows = dataset.generate(rows=customers, seed=23, shift=shift)
    for start in range(0, customers, 25):
        body = dataset.to_csv(rows[start : start + 25], header=False, label=False)
        runtime.invoke_endpoint(EndpointName="churn-endpoint", ContentType="text/csv", Body=body)


def run_monitor(url: str, tmp_path: Path) -> dict[str, Any]:
    time.sleep(1.5)  # the endpoint writes its capture files every second
    out = tmp_path / "monitor.json"
    aws(url, "lambda", "invoke", "--function-name", "churn-drift-monitor", str(out))
    return dict(json.loads(out.read_text()))


def drift_alarm(url: str) -> str:
    alarms = aws(url, "cloudwatch", "describe-alarms", "--alarm-names", "churn-drift-score")["MetricAlarms"]
    return str(alarms[0]["StateValue"])


def test_unshifted_traffic_keeps_the_drift_score_below_the_threshold(server_url: str, tmp_path: Path) -> None:
    before = len(retrain_runs(server_url))
    send_customers(server_url, shift=0.0)

    summary = run_monitor(server_url, tmp_path)

    assert summary["Records"] >= 1000 and summary["DriftScore"] < 0.2, summary
    time.sleep(0.5)  # the alarms are evaluated as data arrives
    assert drift_alarm(server_url) != "ALARM"
    assert len(retrain_runs(server_url)) == before


def test_shifted_traffic_raises_the_drift_alarm_and_starts_a_retrain(server_url: str, tmp_path: Path) -> None:
    before = {run["executionArn"] for run in retrain_runs(server_url)}
    send_customers(server_url, shift=1.0)

    summary = run_monitor(server_url, tmp_path)

    assert summary["DriftScore"] > 0.2, summary
    assert wait_for(lambda: drift_alarm(server_url) == "ALARM")
    started = wait_for(lambda: [r for r in retrain_runs(server_url) if r["executionArn"] not in before])
    assert started[0]["name"].startswith("drift-churn-drift-score-")
    assert finished_retrain(server_url, started[0]["executionArn"])["status"] in ("SUCCEEDED", "FAILED")


def send_labelled_customers(url: str, tag: str, requests: int = 30, per_request: int = 5) -> dict[str, list[float]]:
    """Requests of `per_request` customers, each with its InferenceId: {id: the churn probabilities answered}."""
    from pipeline import dataset

    runtime = runtime_client(url)
    rows = dataset.generate(rows=requests * per_request, seed=29)
    answered = {}
    for i in range(requests):
        body = dataset.to_csv(rows[i * per_request : (i + 1) * per_request], header=False, label=False)
        response = runtime.invoke_endpoint(
            EndpointName="churn-endpoint", ContentType="text/csv", Body=body, InferenceId=f"{tag}-{i}"
        )
        answered[f"{tag}-{i}"] = [float(line) for line in response["Body"].read().decode().split()]
    return answered


def upload_labels(url: str, tmp_path: Path, labels: dict[str, list[int]], name: str) -> None:
    """Model Monitor's ground-truth records, uploaded with the AWS CLI under this hour."""
    lines = [
        json.dumps(
            {
                "groundTruthData": {"data": ",".join(map(str, values)), "encoding": "CSV"},
                "eventMetadata": {"eventId": event},
                "eventVersion": "0",
            }
        )
        for event, values in labels.items()
    ]
    file = tmp_path / f"{name}.jsonl"
    file.write_text("\n".join(lines) + "\n")
    bucket = aws(url, "s3api", "list-buckets")["Buckets"]
    [artifacts] = [b["Name"] for b in bucket if b["Name"].startswith("churn-artifacts-")]
    hour = time.strftime("%Y/%m/%d/%H", time.gmtime())
    aws(
        url,
        "s3api",
        "put-object",
        "--bucket",
        artifacts,
        "--key",
        f"groundtruth/{hour}/{name}.jsonl",
        "--body",
        str(file),
    )


def quality_alarms(url: str) -> dict[str, str]:
    alarms = aws(url, "cloudwatch", "describe-alarms", "--alarm-name-prefix", "churn-drift-quality-")["MetricAlarms"]
    return {alarm["AlarmName"]: alarm["StateValue"] for alarm in alarms}


def test_ground_truth_that_disagrees_raises_the_quality_alarm_and_starts_a_retrain(
    server_url: str, tmp_path: Path
) -> None:
    agreeing = send_labelled_customers(server_url, "agree")
    upload_labels(server_url, tmp_path, {k: [int(p >= 0.5) for p in v] for k, v in agreeing.items()}, "agree")
    summary = run_monitor(server_url, tmp_path)
    assert summary["GroundTruth"]["Joined"] == 150 and summary["GroundTruth"]["Figures"]["Accuracy"] == 1.0, summary
    assert set(quality_alarms(server_url)) == {"churn-drift-quality-accuracy", "churn-drift-quality-auc"}
    assert wait_for(lambda: set(quality_alarms(server_url).values()) == {"OK"}, timeout=60)

    before = {run["executionArn"] for run in retrain_runs(server_url)}
    disagreeing = send_labelled_customers(server_url, "disagree")
    upload_labels(server_url, tmp_path, {k: [int(p < 0.5) for p in v] for k, v in disagreeing.items()}, "disagree")
    summary = run_monitor(server_url, tmp_path)

    assert summary["GroundTruth"]["Figures"]["Accuracy"] == 0.0, summary["GroundTruth"]
    assert wait_for(lambda: quality_alarms(server_url)["churn-drift-quality-accuracy"] == "ALARM", timeout=60)
    started = wait_for(lambda: [r for r in retrain_runs(server_url) if r["executionArn"] not in before], timeout=60)
    assert started[0]["name"].startswith("drift-churn-drift-quality-")
    names = {
        m["MetricName"]
        for m in aws(server_url, "cloudwatch", "list-metrics", "--namespace", "MLOps/churn/Drift")["Metrics"]
    }
    assert {"DPPL", "DI", "AbsDPPL", "AttributionNDCG", "Accuracy", "AccuracyDrop", "AUC"} <= names, names


# ---------------------------------------------------------------- SANDBOX_SERVING_KIND
def test_serverless_sandbox_deploys_from_a_serverless_config_and_a_guard_rolls_back(tmp_path: Path) -> None:
    # a bake long enough for the AWS CLI calls below (each a process of its own) to land inside it
    with running_server(tmp_path / "server.log", SANDBOX_SERVING_KIND="Serverless", SANDBOX_BAKE_SECONDS="10") as url:
        aws(
            url,
            "sagemaker",
            "update-model-package",
            "--model-package-arn",
            PENDING,
            "--model-approval-status",
            "Approved",
        )
        wait_for(lambda: deploy_run(url, 2).get("status") == "SUCCEEDED", timeout=60)
        assert serving(url) == PENDING
        endpoint = aws(url, "sagemaker", "describe-endpoint", "--endpoint-name", "churn-endpoint")
        config = aws(
            url, "sagemaker", "describe-endpoint-config", "--endpoint-config-name", endpoint["EndpointConfigName"]
        )
        [variant] = config["ProductionVariants"]
        assert "ServerlessConfig" in variant and not config.get("DataCaptureConfig")
        serving_config = endpoint["EndpointConfigName"]

        aws(
            url,
            "sagemaker",
            "update-model-package",
            "--model-package-arn",
            VERSION.format(3),
            "--model-approval-status",
            "Approved",
        )
        wait_for(lambda: deploy_run(url, 3).get("status") == "RUNNING")
        candidate = "Blue" if variant["VariantName"] == "Green" else "Green"
        key = json.dumps({"pk": {"S": "ENDPOINT#churn-endpoint"}, "sk": {"S": "BAKE"}})

        def baking() -> bool:  # the bake of v3's run has begun (its guards were reset just before)
            item = aws(url, "dynamodb", "get-item", "--table-name", "churn-ledger", "--key", key).get("Item", {})
            run = deploy_run(url, 3).get("name")
            return item.get("execution_name", {}).get("S") == run and "completed_at" not in item

        wait_for(baking, timeout=30)
        alarm = f"churn-canary-model-setup-time-{candidate}"
        aws(
            url,
            "cloudwatch",
            "set-alarm-state",
            "--alarm-name",
            alarm,
            "--state-value",
            "ALARM",
            "--state-reason",
            "cold starts",
        )

        wait_for(lambda: deploy_run(url, 3).get("status") == "FAILED", timeout=60)
        back = aws(url, "sagemaker", "describe-endpoint", "--endpoint-name", "churn-endpoint")
        assert back["EndpointConfigName"] == serving_config
        package = aws(url, "sagemaker", "describe-model-package", "--model-package-name", VERSION.format(3))
        assert package["ModelApprovalStatus"] == "Rejected" and alarm in package["ApprovalDescription"]


def scored(url: str, name: str) -> bool:
    """Whether the batch workflow ran for the file `name` and ended Scored."""
    batch = DEPLOY.replace("deploy", "batch")
    for run in aws(url, "stepfunctions", "list-executions", "--state-machine-arn", batch)["executions"]:
        described = aws(url, "stepfunctions", "describe-execution", "--execution-arn", run["executionArn"])
        if name in described["input"]:
            assert described["status"] in ("RUNNING", "SUCCEEDED"), described
            return bool(described["status"] == "SUCCEEDED")
    return False


def test_batch_sandbox_scores_a_csv_put_through_the_api_and_a_shifted_one_retrains(tmp_path: Path) -> None:
    from pipeline import dataset

    with running_server(tmp_path / "server.log", SANDBOX_SERVING_KIND="Batch") as url:
        buckets = aws(url, "s3api", "list-buckets")["Buckets"]
        [bucket] = [b["Name"] for b in buckets if b["Name"].startswith("churn-artifacts-")]
        for name, shift in (("customers.csv", 0.0), ("shifted.csv", 1.0)):
            file = tmp_path / name
            file.write_text(dataset.to_csv(dataset.generate(rows=500, seed=7, shift=shift), header=False, label=False))
            aws(url, "s3api", "put-object", "--bucket", bucket, "--key", f"batch/input/{name}", "--body", str(file))
            wait_for(lambda name=name: scored(url, name), timeout=90)
        jobs = aws(url, "sagemaker", "list-transform-jobs")["TransformJobSummaries"]
        assert len(jobs) == 2  # one per object
        listed = aws(url, "s3api", "list-objects-v2", "--bucket", bucket, "--prefix", "batch/output/")["Contents"]
        assert sorted(item["Key"].rsplit("/", 1)[-1] for item in listed) == ["customers.csv.out", "shifted.csv.out"]
        key = next(item["Key"] for item in listed if item["Key"].endswith("customers.csv.out"))
        aws(url, "s3api", "get-object", "--bucket", bucket, "--key", key, str(tmp_path / "out.csv"))
        first_in = (tmp_path / "customers.csv").read_text().splitlines()[0]
        first_out = (tmp_path / "out.csv").read_text().splitlines()[0]
        assert first_out.startswith(first_in + ",")  # each line: its input, then the prediction

        def drift_state() -> str:
            alarms = aws(url, "cloudwatch", "describe-alarms", "--alarm-names", "churn-drift-score")["MetricAlarms"]
            return str(alarms[0]["StateValue"])

        wait_for(lambda: drift_state() == "ALARM", timeout=60)
        wait_for(lambda: retrain_runs(url), timeout=60)
