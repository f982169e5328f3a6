"""`make bench`: measured in one run, printed as one table.

- cold start of each function: a fresh Python process imports the handler and handles its first
  event (AWS calls stubbed with botocore's Stubber), as a ratio to a bare `python -c "import boto3"`;
- the size of each function package built by `sam build` (.aws-sam/build), unzipped and zipped;
- the wall time of `make demo`'s job (python -m sandbox.demo).
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
    "ApprovalFunction": ("approval.app", "approval/approved.json", ["sfn:start_execution", "dynamodb:put_item"]),
    "AlarmFunction": ("alarm.app", "alarm/drift-alarm.json", ["dynamodb:put_item"]),
    "PipelineStatusFunction": ("pipeline_status.app", "pipeline_status/failed.json", ["dynamodb:put_item"]),
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
}}
for spec in {calls!r}:
    client_name, operation = spec.split(":")
    client = getattr(app, client_name)
    stubber = Stubber(client)
    stubber.add_response(operation, responses[operation])
    stubber.activate()
class Context:
    function_name = "bench"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:bench"
    aws_request_id = "bench"
result = app.handler(json.load(open({event!r})), Context())
assert result["action"] in ("started", "recorded"), result
"""


def median_seconds(argv: list[str], env: dict[str, str]) -> float:
    samples = []
    for _ in range(RUNS):
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
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "sandbox.demo"], check=True, capture_output=True, cwd=ROOT)
    demo = time.perf_counter() - started

    print(f"Benchmark ({RUNS} runs per cold start, median; Python {sys.version.split()[0]})")
    print(f"{'function':<24}{'cold start':>12}{'x import boto3':>16}{'package':>12}{'zipped':>10}")
    for logical_id, cold, ratio, raw, zipped in rows:
        print(f"{logical_id:<24}{cold * 1000:>10.0f}ms{ratio:>16.2f}{raw / 1024:>10.1f}KB{zipped / 1024:>8.1f}KB")
    print(f"{'import boto3 (baseline)':<24}{baseline * 1000:>10.0f}ms{1:>16.2f}")
    print(f"{'demo wall time':<24}{demo:>11.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
