"""`make bench`: measured in one run, printed as one table.

- cold start of each function: a fresh Python process imports the handler and handles its first
  event (AWS calls stubbed with botocore's Stubber), as a ratio to a bare `python -c "import boto3"`;
- the size of each function package built by `sam build` (.aws-sam/build), unzipped and zipped;
- state transitions of each workflow path (Step Functions Standard bills per transition), counted in
  the sandbox from the execution history;
- the wall time of `make demo`'s job (python -m sandbox.demo);
- the drift monitor: records per second and peak memory (max RSS of a fresh process) when it tallies one
  million captured records streamed from capture files, the cost of such a run in Lambda terms, and the
  cost of the hourly data-quality monitoring job it replaces;
- the training pipeline: wall time of one local run on the shipped data (start to Succeeded, in the
  sandbox, median of 3, each step's share), and of writing its definition with the SDK (a fresh
  process, as `make pipeline` runs it).
"""

from __future__ import annotations

import io
import json
import os
import statistics
import subprocess
import sys
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / ".aws-sam" / "build"
RUNS = int(os.environ.get("BENCH_RUNS", "7"))

FUNCTIONS = {
    "ApprovalFunction": (
        "approval.app",
        "approval/approved.json",
        ["sagemaker:describe_model_package", "sfn:start_execution", "dynamodb:put_item"],
    ),
    "AlarmFunction": ("alarm.app", "alarm/canary-guard-back-to-ok.json", ["dynamodb:put_item"]),
    "PipelineStatusFunction": ("pipeline_status.app", "pipeline_status/executing.json", ["dynamodb:put_item"]),
    "EndpointStatusFunction": (
        "endpoint_status.app",
        "endpoint_status/in-service.json",
        ["dynamodb:put_item", "dynamodb:get_item"],
    ),
    "CanaryFunction": ("canary.app", "canary/release-lock.json", ["dynamodb:get_item"]),
    "EndpointUpdateFunction": (
        "endpoint_update.app",
        "endpoint_update/update.json",
        ["dynamodb:put_item", "sagemaker:update_endpoint"],
    ),
    "RetrainFunction": ("retrain.app", "retrain/release.json", ["dynamodb:get_item"]),
    "DriftMonitorFunction": ("drift_monitor.app", "drift_monitor/scheduled.json", ["dynamodb:get_item"]),
}

COLD_START = """
import datetime, json, sys
from botocore.stub import Stubber
import {module} as app
responses = {{
    "start_execution": {{
        "executionArn": "arn:aws:states:us-east-1:123456789012:execution:churn-deploy:bench",
        "startDate": datetime.datetime.now(),
    }},
    "put_item": {{}},
    "get_item": {{}},
    "describe_model_package": {{
        "ModelPackageName": "churn-models",
        "ModelPackageArn": "arn:aws:sagemaker:us-east-1:123456789012:model-package/churn-models/2",
        "CreationTime": datetime.datetime.now(),
        "ModelPackageStatus": "Completed",
        "ModelPackageStatusDetails": {{"ValidationStatuses": []}},
    }},
    "update_endpoint": {{"EndpointArn": "arn:aws:sagemaker:us-east-1:123456789012:endpoint/churn-endpoint"}},
}}
stubbers = {{}}
for spec in {calls!r}:
    client_name, operation = spec.split(":")
    if client_name not in stubbers:
        client = getattr(app, client_name)
        client = client() if callable(client) and not hasattr(client, "meta") else client  # clients made on first use
        stubbers[client_name] = Stubber(client)
        stubbers[client_name].activate()
    stubbers[client_name].add_response(operation, responses[operation])
class Context:
    function_name = "bench"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:bench"
    aws_request_id = "bench"
result = app.handler(json.load(open({event!r})), Context())
assert result.get("action") in ("started", "recorded") or result.get("requested") or result.get("Lock") or (
    "Released" in result or "Outcome" in result
), result
"""


def median_seconds(argv: list[str], env: dict[str, str], runs: int = RUNS) -> float:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(argv, env=env, check=True, capture_output=True, cwd=ROOT)
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def package_size(logical_id: str) -> tuple[int, int]:
    directory = BUILD / logical_id
    files = [path for path in directory.rglob("*") if path.is_file()]
    raw = sum(path.stat().st_size for path in files)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in files:
            archive.write(path, path.relative_to(directory).as_posix())
    return raw, len(buffer.getvalue())


def workflow_transitions() -> tuple[dict[str, int], dict[str, float]]:
    """States entered by each workflow path, and the alarm-to-rollback figures, from a sandbox run."""
    sys.path.insert(0, str(ROOT))
    from sandbox.core import Sandbox
    from sandbox.world import register_version, seed_world

    def entered(sandbox: Sandbox, execution_arn: str) -> list[dict]:
        history = sandbox.client("stepfunctions").get_execution_history(executionArn=execution_arn, maxResults=1000)
        return [event for event in history["events"] if event["type"].endswith("StateEntered")]

    def latest(sandbox: Sandbox, machine: str) -> str:
        return sandbox.client("stepfunctions").list_executions(stateMachineArn=machine)["executions"][0]["executionArn"]

    counts: dict[str, int] = {}
    alarm: dict[str, float] = {}
    with Sandbox() as sandbox:
        stack = sandbox.deploy_stack("bench")
        world = seed_world(sandbox, stack)
        sandbox.start_traffic(stack.endpoint_name, per_minute=600)  # the analysis needs candidate invocations
        sagemaker, sfn = sandbox.client("sagemaker"), sandbox.client("stepfunctions")
        deploy = stack.deploy_state_machine_arn
        counts["deploy: first deployment (creates the endpoint)"] = len(entered(sandbox, latest(sandbox, deploy)))
        sagemaker.update_model_package(ModelPackageArn=world.pending_version_arn, ModelApprovalStatus="Approved")
        sandbox.settle()
        promoted = latest(sandbox, deploy)
        assert sfn.describe_execution(executionArn=promoted)["status"] == "SUCCEEDED", "the canary was not promoted"
        counts["deploy: 3-step canary, promoted"] = len(entered(sandbox, promoted))

        v3 = register_version(sandbox, stack, 3, "PendingManualApproval")
        sandbox.settle()
        sagemaker.update_model_package(ModelPackageArn=v3, ModelApprovalStatus="Approved")
        dynamodb = sandbox.client("dynamodb")
        key = {"pk": {"S": f"ENDPOINT#{stack.endpoint_name}"}, "sk": {"S": "BAKE"}}

        def baking(execution_name: str) -> bool:
            item = dynamodb.get_item(TableName=stack.ledger_table, Key=key, ConsistentRead=True).get("Item", {})
            return item.get("execution_name", {}).get("S") == execution_name

        while not (runs := sfn.list_executions(stateMachineArn=deploy)["executions"])[0]["name"].startswith(
            "approved-v3"
        ):
            time.sleep(0.002)
        while not baking(runs[0]["name"]):
            time.sleep(0.002)
        variant = dynamodb.get_item(TableName=stack.ledger_table, Key=key)["Item"]["candidate_variant"]["S"]
        started = time.perf_counter()
        sandbox.client("cloudwatch").set_alarm_state(
            AlarmName=f"bench-canary-5xx-{variant}", StateValue="ALARM", StateReason="bench"
        )
        while True:
            endpoint = sagemaker.describe_endpoint(EndpointName=stack.endpoint_name)
            weights = {v["VariantName"]: v.get("CurrentWeight", 1.0) for v in endpoint["ProductionVariants"]}
            if endpoint["EndpointStatus"] == "InService" and weights.get(variant, 0.0) == 0.0:
                break
            time.sleep(0.001)
        alarm["seconds"] = time.perf_counter() - started
        sandbox.settle()
        states = entered(sandbox, latest(sandbox, deploy))
        counts["deploy: canary rolled back by a guard alarm"] = len(states)
        names = [s["stateEnteredEventDetails"]["name"] for s in states]
        alarm["transitions"] = names.index("RollBackTraffic") - names.index("Bake") + 1

        run = sfn.start_execution(stateMachineArn=stack.outputs["RollbackStateMachineArn"], input="{}")
        sandbox.settle()
        counts["rollback: by hand"] = len(entered(sandbox, run["executionArn"]))

        def retrain(request: dict[str, object]) -> int:
            started = sfn.start_execution(
                stateMachineArn=stack.outputs["RetrainStateMachineArn"], input=json.dumps(request)
            )
            sandbox.settle(timeout=300)
            return len(entered(sandbox, started["executionArn"]))

        counts["retrain: new version registered (pipeline steps 0 s)"] = retrain({})
        sandbox.slow_pipeline_steps(2.0)
        counts["retrain: new version registered (pipeline steps 2 s)"] = retrain({})
        sandbox.slow_pipeline_steps(0)
        sandbox.fail_pipeline_step("Train", "CapacityError: bench", times=1)
        counts["retrain: one transient failure retried, registered"] = retrain({})
        counts["retrain: quality gate missed"] = retrain({"PipelineParameters": {"AccuracyThreshold": 0.99}})
    return counts, alarm


PIPELINE_PYTHON = ROOT / ".venv-pipeline" / "bin" / "python"

# Prices used below (us-east-1 list prices, from the AWS pricing pages; check yours):
LAMBDA_ARM_GB_SECOND = 0.0000133334  # AWS Lambda, Arm, per GB-second
LAMBDA_REQUEST = 0.0000002  # AWS Lambda, per request
MONITOR_INSTANCE = "ml.t3.medium"  # the smallest MonitoringClusterConfig instance (SageMaker API reference)
MONITOR_INSTANCE_HOUR = 0.05  # SageMaker Processing, ml.t3.medium, per hour (assumed list price)
MONITOR_JOB_MINUTES = 10  # assumed: a monitoring job's container start, download and analysis
DRIFT_FUNCTION_MEMORY_MB = 1024  # template.yaml, DriftMonitorFunction

DRIFT_RUN = """
import sys, time
sys.path.insert(0, {functions!r})
import json
from mlops.drift import DriftTally
baseline = json.load(open({baseline!r}))
tally = DriftTally(baseline)
started = time.perf_counter()
with open({capture!r}, "rb") as stream:
    tally.add_lines(stream)
elapsed = time.perf_counter() - started
report = tally.report()
# VmHWM: this process's peak resident memory (ru_maxrss would keep the forking parent's across exec)
peak_kb = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))
measured = {{"records": report.records, "seconds": elapsed, "score": report.score, "max_rss_mb": peak_kb / 1024}}
print(json.dumps(measured))
"""


def drift_throughput(records: int = 1_000_000, per_request: int = 10) -> dict[str, float]:
    """Tally a million captured records streamed from disk in a fresh process: rate, peak memory, cost."""
    import tempfile
    from datetime import UTC, datetime

    sys.path.insert(0, str(ROOT))
    from pipeline import dataset
    from sandbox.capture import capture_line
    from sandbox.world import trained_model

    rows = dataset.generate(rows=10_000, seed=21, shift=0.5)
    now = datetime.now(UTC)
    pool = []
    for start in range(0, len(rows), per_request):
        body = dataset.to_csv(rows[start : start + per_request], header=False, label=False).encode()
        answer = "".join("0.42\n" for _ in range(per_request)).encode()
        pool.append(capture_line(body, "text/csv", answer, "text/csv", now))
    with tempfile.TemporaryDirectory() as work:
        capture = Path(work) / "capture.jsonl"
        with capture.open("w") as out:
            for i in range(records // per_request):
                out.write(pool[i % len(pool)] + "\n")
        baseline = Path(work) / "baseline.json"
        baseline.write_bytes(trained_model().baseline)
        code = DRIFT_RUN.format(functions=str(ROOT / "functions"), baseline=str(baseline), capture=str(capture))
        done = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
        measured = json.loads(done.stdout)
        measured["file_mb"] = capture.stat().st_size / 1e6
    seconds = float(measured["seconds"])
    measured["lambda_cost"] = seconds * DRIFT_FUNCTION_MEMORY_MB / 1024 * LAMBDA_ARM_GB_SECOND + LAMBDA_REQUEST
    measured["monitor_job_cost"] = MONITOR_INSTANCE_HOUR * MONITOR_JOB_MINUTES / 60
    return measured


def pipeline_run_times(runs: int = 3) -> tuple[float, dict[str, float]]:
    """Median wall time of a local pipeline run, and the median duration of each step."""
    from sandbox.core import Sandbox
    from sandbox.world import seed_world

    totals: list[float] = []
    per_step: dict[str, list[float]] = {}
    with Sandbox() as sandbox:
        stack = sandbox.deploy_stack("bench")
        seed_world(sandbox, stack)
        sagemaker = sandbox.client("sagemaker")
        for _ in range(runs):
            started = time.perf_counter()
            arn = sagemaker.start_pipeline_execution(PipelineName=stack.parameters["PipelineName"])[
                "PipelineExecutionArn"
            ]
            sandbox.settle(timeout=300)
            totals.append(time.perf_counter() - started)
            status = sagemaker.describe_pipeline_execution(PipelineExecutionArn=arn)["PipelineExecutionStatus"]
            if status != "Succeeded":
                raise RuntimeError(f"pipeline run {arn} ended {status}")
            for step in sagemaker.list_pipeline_execution_steps(PipelineExecutionArn=arn)["PipelineExecutionSteps"]:
                seconds = (step["EndTime"] - step["StartTime"]).total_seconds()
                per_step.setdefault(step["StepName"], []).append(seconds)
    return statistics.median(totals), {name: statistics.median(v) for name, v in reversed(per_step.items())}


def definition_time() -> float | None:
    if not PIPELINE_PYTHON.exists():
        return None
    return median_seconds([str(PIPELINE_PYTHON), "-m", "pipeline.definition", "--check"], {**os.environ}, runs=3)


def main() -> int:
    env_vars = json.loads((ROOT / "events" / "env.json").read_text())
    base_env = {
        **os.environ,
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
    }
    baseline = median_seconds([sys.executable, "-c", "import boto3"], base_env)
    rows = []
    for logical_id, (module, event, calls) in FUNCTIONS.items():
        env = {
            **base_env,
            **env_vars[logical_id],
            "PYTHONPATH": str(ROOT / "functions"),
            "POWERTOOLS_METRICS_DISABLED": "true",
        }
        code = COLD_START.format(module=module, calls=calls, event=str(ROOT / "events" / event))
        cold = median_seconds([sys.executable, "-c", code], env)
        raw, zipped = package_size(logical_id) if (BUILD / logical_id).exists() else (0, 0)
        rows.append((logical_id, cold, cold / baseline, raw, zipped))
    counts, alarm = workflow_transitions()
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "sandbox.demo"], check=True, capture_output=True, cwd=ROOT)
    demo = time.perf_counter() - started
    pipeline_total, pipeline_steps = pipeline_run_times()
    drift = drift_throughput()
    generation = definition_time()

    print(f"Benchmark ({RUNS} runs per cold start, median; Python {sys.version.split()[0]})")
    print(f"{'function':<24}{'cold start':>12}{'x import boto3':>16}{'package':>12}{'zipped':>10}")
    for logical_id, cold, ratio, raw, zipped in rows:
        print(f"{logical_id:<24}{cold * 1000:>10.0f}ms{ratio:>16.2f}{raw / 1024:>10.1f}KB{zipped / 1024:>8.1f}KB")
    print(f"{'import boto3 (baseline)':<24}{baseline * 1000:>10.0f}ms{1:>16.2f}")
    print(f"{'demo wall time':<24}{demo:>11.1f}s")
    print()
    steps = ", ".join(f"{name} {seconds:.2f}s" for name, seconds in pipeline_steps.items())
    print(f"training pipeline, one local run on the shipped data: {pipeline_total:.1f}s ({steps})")
    if generation is not None:
        print(f"pipeline definition written by the SDK (python -m pipeline.definition): {generation:.1f}s")
    print()
    print(
        f"drift monitor, {drift['records']:,} captured records ({drift['file_mb']:.0f} MB of capture files): "
        f"{drift['seconds']:.1f}s, {drift['records'] / drift['seconds']:,.0f} records/s, "
        f"peak memory {drift['max_rss_mb']:.0f} MB of the function's {DRIFT_FUNCTION_MEMORY_MB} MB"
    )
    print(
        f"one such run as Lambda ({DRIFT_FUNCTION_MEMORY_MB} MB, Arm, ${LAMBDA_ARM_GB_SECOND}/GB-s): "
        f"${drift['lambda_cost']:.5f}; one data-quality monitoring job on {MONITOR_INSTANCE} "
        f"(${MONITOR_INSTANCE_HOUR}/h, {MONITOR_JOB_MINUTES} min assumed): ${drift['monitor_job_cost']:.5f}; "
        f"hourly for 30 days: ${drift['lambda_cost'] * 720:.2f} vs ${drift['monitor_job_cost'] * 720:.2f}"
    )
    print()
    print(f"{'workflow path':<52}{'state transitions':>18}")
    for path, count in counts.items():
        print(f"{path:<52}{count:>18}")
    print()
    print(
        f"guard alarm -> all traffic on the live variant: {alarm['seconds'] * 1000:.0f} ms in the sandbox "
        f"(endpoint transitions compressed 1000x), {alarm['transitions']:.0f} state transitions "
        "(Bake -> RollBackTraffic)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
