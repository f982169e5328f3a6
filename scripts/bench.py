"""`make bench`: measured in one run, printed as one markdown table (docs/benchmark.md takes it as is).

Rows, grouped:
- function: cold start (a fresh Python process imports the handler and handles its first event, AWS calls stubbed
  with botocore's Stubber, median of BENCH_RUNS) and its ratio to a bare `python -c "import boto3"`; the package
  `sam build` made for it (.aws-sam/build/<Function>); its memory size, as the template deploys it;
- workflow path: state transitions (Step Functions Standard bills each one, retries included) counted from the
  sandbox's execution histories, and what else the path asks of AWS, counted from the requests the functions and
  workflows make in the sandbox: Lambda requests, DynamoDB request units, notifications, custom events;
- alarm to rollback: from a guard alarm to all traffic on the live variant, in the sandbox;
- pipeline: one local run of the training pipeline on the shipped data (median of 3), and writing its definition
  with the SDK (a fresh process, as `make pipeline` runs it);
- drift monitor: records per second and peak memory when it tallies a million captured records streamed from disk;
  ground truth: labels per second and peak memory when it joins a million labels to a million captured requests;
- monthly cost: the automation's own AWS bill for BENCH_DEPLOYMENTS deployments and BENCH_RETRAINS retrains a month
  plus the scheduled drift monitor, from the counts above at the list prices below (no free tier applied).

Every figure also goes to .bench/bench.json.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import math
import os
import re
import statistics
import subprocess
import sys
import threading
import time
import zipfile
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / ".aws-sam" / "build"
OUTPUT = ROOT / ".bench" / "bench.json"
PIPELINE_PYTHON = ROOT / ".venv-pipeline" / "bin" / "python"
RUNS = int(os.environ.get("BENCH_RUNS", "7"))

# ------------------------------------------------------------------ the month priced
DEPLOYMENTS = int(os.environ.get("BENCH_DEPLOYMENTS", "30"))  # approved versions rolled out by canary, a month
RETRAINS = int(os.environ.get("BENCH_RETRAINS", "10"))  # drift alarms that start a retrain, a month
CAPTURED_RECORDS_PER_HOUR = int(os.environ.get("BENCH_CAPTURED_RECORDS_PER_HOUR", "100000"))  # drift monitor input
LABELS_PER_HOUR = int(os.environ.get("BENCH_LABELS_PER_HOUR", "10000"))  # ground truth the monitor joins an hour
BATCH_RECORDS = int(
    os.environ.get("BENCH_BATCH_RECORDS", "100000")
)  # customers in the file a batch project scores daily
BATCHES = 30  # a batch project scores one file a day
HOURS_A_MONTH = 720  # a 30-day month

# ------------------------------------------------------------------ list prices
# us-east-1, read on PRICES_READ from stored copies of the pricing pages (this machine has no internet). A price only
# third parties quote, or one not found at all, says so: check https://aws.amazon.com/<service>/pricing/ for yours.
REGION = "us-east-1"
PRICES_READ = "2026-11-26"
AWS_PAGE = "AWS pricing page"
THIRD_PARTY = "third-party copies of the AWS pricing page"
NOT_RECHECKED = "list price as known, not re-checked"


@dataclass(frozen=True)
class Price:
    usd: float  # per unit below
    quote: str  # as the pricing page states it
    source: str


LAMBDA_REQUEST = Price(0.20 / 1e6, "Lambda: $0.20 per 1M requests", THIRD_PARTY)
LAMBDA_ARM_GB_SECOND = Price(0.0000133334, "Lambda Arm: $0.0000133334 per GB-second (first 7.5 billion)", THIRD_PARTY)
LAMBDA_X86_GB_SECOND = Price(0.0000166667, "Lambda x86: $0.0000166667 per GB-second (first 6 billion)", THIRD_PARTY)
STATE_TRANSITION = Price(0.025 / 1000, "Step Functions Standard: $0.025 per 1,000 state transitions", AWS_PAGE)
DYNAMODB_WRITE_UNIT = Price(0.625 / 1e6, "DynamoDB on-demand: $0.625 per 1M write request units", THIRD_PARTY)
DYNAMODB_READ_UNIT = Price(0.125 / 1e6, "DynamoDB on-demand: $0.125 per 1M read request units", THIRD_PARTY)
CUSTOM_EVENT = Price(1.00 / 1e6, "EventBridge: $1.00 per 1M custom events (AWS service events free)", THIRD_PARTY)
ALARM_MONTH = Price(0.10, "CloudWatch: $0.10 per standard-resolution alarm metric a month", THIRD_PARTY)
HIGH_RESOLUTION_ALARM_MONTH = Price(0.30, "CloudWatch: $0.30 per high-resolution alarm metric a month", THIRD_PARTY)
CUSTOM_METRIC_MONTH = Price(0.30, "CloudWatch: $0.30 per custom metric a month, prorated by the hour", THIRD_PARTY)
SNS_PUBLISH = Price(0.50 / 1e6, "SNS: $0.50 per 1M publishes", NOT_RECHECKED)
SNS_EMAIL = Price(2.00 / 100_000, "SNS: $2.00 per 100,000 e-mail deliveries", NOT_RECHECKED)
SQS_REQUEST = Price(0.40 / 1e6, "SQS standard: $0.40 per 1M requests", NOT_RECHECKED)
CLOUDWATCH_REQUEST = Price(0.01 / 1000, "CloudWatch: $0.01 per 1,000 API requests or metrics read", NOT_RECHECKED)
LOG_INGESTION_GB = Price(0.50, "CloudWatch Logs: $0.50 per GB ingested", NOT_RECHECKED)
S3_READ_REQUEST = Price(0.0004 / 1000, "S3 Standard: $0.0004 per 1,000 GET", NOT_RECHECKED)
S3_WRITE_REQUEST = Price(0.005 / 1000, "S3 Standard: $0.005 per 1,000 PUT/LIST", NOT_RECHECKED)
XRAY_TRACE = Price(5.00 / 1e6, "X-Ray: $5.00 per 1M traces recorded", NOT_RECHECKED)
KMS_KEY_MONTH = Price(1.00, "KMS: $1.00 per customer managed key a month", NOT_RECHECKED)
# For comparison only: the managed data-quality monitoring job the drift monitor replaces.
MONITOR_INSTANCE = "ml.t3.medium"  # the smallest MonitoringClusterConfig instance (SageMaker API reference)
MONITOR_INSTANCE_HOUR = Price(0.05, "SageMaker Processing ml.t3.medium: $0.05 an hour", NOT_RECHECKED)
MONITOR_JOB_MINUTES = 10  # assumed: a monitoring job's container start, download and analysis
PRICES = (
    LAMBDA_REQUEST,
    LAMBDA_ARM_GB_SECOND,
    LAMBDA_X86_GB_SECOND,
    STATE_TRANSITION,
    DYNAMODB_WRITE_UNIT,
    DYNAMODB_READ_UNIT,
    CUSTOM_EVENT,
    ALARM_MONTH,
    HIGH_RESOLUTION_ALARM_MONTH,
    CUSTOM_METRIC_MONTH,
    SNS_PUBLISH,
    SNS_EMAIL,
    SQS_REQUEST,
    CLOUDWATCH_REQUEST,
    LOG_INGESTION_GB,
    S3_READ_REQUEST,
    S3_WRITE_REQUEST,
    XRAY_TRACE,
    KMS_KEY_MONTH,
    MONITOR_INSTANCE_HOUR,
)

# ------------------------------------------------------------------ cold starts and packages
FUNCTIONS = {
    "ApprovalFunction": (
        "approval.app",
        "approval/approved.json",
        ["sagemaker:describe_model_package", "sfn:start_execution", "dynamodb:put_item"],
    ),
    "AlarmFunction": ("alarm.app", "alarm/canary-guard-back-to-ok.json", ["dynamodb:put_item"]),
    "PipelineStatusFunction": (
        "pipeline_status.app",
        "pipeline_status/executing.json",
        ["sagemaker:describe_pipeline_execution", "dynamodb:put_item"],
    ),
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
    "BatchFunction": ("batch.app", "batch/transform-completed.json", ["dynamodb:get_item"]),
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
    "describe_pipeline_execution": {{"PipelineExecutionStatus": "Executing"}},
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
acted = result.get("action") in ("started", "recorded", "completed")
assert acted or result.get("requested") or result.get("Lock") or "Released" in result or "Outcome" in result, result
"""


def median_seconds(argv: list[str], env: dict[str, str], runs: int = RUNS) -> float:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(argv, env=env, check=True, capture_output=True, cwd=ROOT)
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


@dataclass(frozen=True)
class Package:
    raw_bytes: int
    zipped_bytes: int
    digest: str  # of the files' names and contents: equal digests, one package


def package(logical_id: str) -> Package | None:
    directory = BUILD / logical_id
    if not directory.is_dir():
        return None
    files = sorted(path for path in directory.rglob("*") if path.is_file() and "__pycache__" not in path.parts)
    digest = hashlib.sha256()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in files:
            name = path.relative_to(directory).as_posix()
            digest.update(name.encode() + b"\0" + path.read_bytes())
            archive.write(path, name)
    return Package(sum(path.stat().st_size for path in files), len(buffer.getvalue()), digest.hexdigest())


@dataclass(frozen=True)
class FunctionSettings:
    memory_mb: int
    architecture: str


def function_settings() -> dict[str, FunctionSettings]:
    """Each function's memory and architecture as the template deploys it (its own, else the Globals', else
    Lambda's defaults); FUNCTIONS must name every function of the template: the table has a row for each."""
    sys.path.insert(0, str(ROOT))
    from sandbox.template import load_sam_template, sam_resources

    template = load_sam_template()
    defaults = template.get("Globals", {}).get("Function", {})
    functions = sam_resources(template, "AWS::Serverless::Function")
    if set(functions) != set(FUNCTIONS):
        raise SystemExit(
            f"scripts/bench.py: FUNCTIONS and template.yaml differ in {sorted(set(functions) ^ set(FUNCTIONS))}"
        )

    def setting(logical_id: str, name: str, default: Any) -> Any:
        value = functions[logical_id].get("Properties", {}).get(name, defaults.get(name, default))
        if isinstance(value, dict) and "Ref" in value:  # a parameter: as deployed with its default
            return template["Parameters"][value["Ref"]]["Default"]
        return value

    return {
        logical_id: FunctionSettings(
            int(setting(logical_id, "MemorySize", 128)), setting(logical_id, "Architectures", ["x86_64"])[0]
        )
        for logical_id in FUNCTIONS
    }


def cold_starts() -> tuple[float, dict[str, float]]:
    """Median seconds of `import boto3`, and of each function's cold start, in fresh processes."""
    env_vars = json.loads((ROOT / "events" / "env.json").read_text())
    base_env = {
        **os.environ,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
    }
    baseline = median_seconds([sys.executable, "-c", "import boto3"], base_env)
    seconds = {}
    for logical_id, (module, event, calls) in FUNCTIONS.items():
        env = {
            **base_env,
            **env_vars[logical_id],
            "PYTHONPATH": str(ROOT / "functions"),
            "POWERTOOLS_METRICS_DISABLED": "true",
        }
        code = COLD_START.format(module=module, calls=calls, event=str(ROOT / "events" / event))
        seconds[logical_id] = median_seconds([sys.executable, "-c", code], env)
    return baseline, seconds


# ------------------------------------------------------------------ what a request costs in billing units
def attribute_bytes(value: dict[str, Any]) -> int:
    """The size DynamoDB bills for one attribute value (developer guide, item sizes), near enough."""
    kind, content = next(iter(value.items()))
    if kind == "S":
        return len(str(content).encode())
    if kind == "N":
        return len(str(content).lstrip("-").replace(".", "")) // 2 + 2
    if kind == "B":
        return len(content)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind in ("SS", "NS", "BS"):
        return sum(attribute_bytes({kind[0]: element}) for element in content)
    if kind == "L":
        return 3 + sum(1 + attribute_bytes(element) for element in content)
    if kind == "M":
        return 3 + sum(1 + len(name.encode()) + attribute_bytes(element) for name, element in content.items())
    return 0


def item_bytes(item: dict[str, Any] | None) -> int:
    return sum(len(name.encode()) + attribute_bytes(value) for name, value in (item or {}).items())


def write_units(size: int, transactional: bool = False) -> float:
    """A standard write takes one unit per KB begun, at least one; a transactional one twice that."""
    return max(1, math.ceil(size / 1024)) * (2 if transactional else 1)


def read_units(size: int, consistent: bool, transactional: bool = False) -> float:
    """A strongly consistent read takes one unit per 4 KB begun, at least one; eventually consistent half of it."""
    units = max(1, math.ceil(size / 4096))
    return units * (2.0 if transactional else 1.0 if consistent else 0.5)


def chunks(payload: object, size: int = 64 * 1024) -> int:
    """SNS, SQS and EventBridge bill each 64 KB of a payload as one request."""
    text = payload if isinstance(payload, str) else json.dumps(payload, default=str)
    return max(1, math.ceil(len(text.encode()) / size))


def metric_name(namespace: str, name: str, dimensions: Iterable[tuple[str, str]]) -> str:
    """One custom metric: namespace, name and dimension values (each combination is billed as its own metric)."""
    return f"{namespace}/{name}{{{','.join(f'{k}={v}' for k, v in sorted(dimensions))}}}"


@dataclass(frozen=True)
class Request:
    """One request the automation made, in the units AWS bills it."""

    service: str
    operation: str
    billed: float = 1.0  # requests as billed (64 KB chunks, events in a batch)
    write_units: float = 0.0
    read_units: float = 0.0
    metrics: tuple[str, ...] = ()  # custom metrics it published
    metrics_read: int = 0  # metrics a GetMetricData request asked for


def billed_request(
    service: str,
    operation: str,
    params: dict[str, Any],
    response: dict[str, Any],
    item_now: Callable[[str, dict[str, Any]], dict[str, Any]],
) -> Request:
    """The billing units of one request, from its parameters and its response.

    `item_now(table, key)` reads an item as it is now: an UpdateItem is billed on the larger of the item before
    and after it, and its parameters tell neither.
    """
    if service == "dynamodb":
        consistent = bool(params.get("ConsistentRead"))
        if operation == "PutItem":
            return Request(service, operation, write_units=write_units(item_bytes(params.get("Item"))))
        if operation == "UpdateItem":
            after = item_now(params["TableName"], params["Key"]) or params["Key"]
            return Request(service, operation, write_units=write_units(item_bytes(after)))
        if operation == "DeleteItem":
            return Request(service, operation, write_units=write_units(item_bytes(response.get("Attributes"))))
        if operation == "GetItem":
            return Request(service, operation, read_units=read_units(item_bytes(response.get("Item")), consistent))
        if operation in ("Query", "Scan"):
            size = sum(item_bytes(item) for item in response.get("Items", []))
            return Request(service, operation, read_units=read_units(size, consistent))
        if operation == "TransactWriteItems":
            items = [next(iter(entry.values())) for entry in params.get("TransactItems", [])]
            units = sum(write_units(item_bytes(item.get("Item") or item.get("Key")), True) for item in items)
            return Request(service, operation, write_units=units)
        if operation == "TransactGetItems":
            got = [entry.get("Item") for entry in response.get("Responses", [])]
            return Request(service, operation, read_units=sum(read_units(item_bytes(i), True, True) for i in got))
        if operation == "BatchWriteItem":
            writes = [w for table in params.get("RequestItems", {}).values() for w in table]
            units = sum(
                write_units(item_bytes((w.get("PutRequest") or {}).get("Item") or (w.get("DeleteRequest") or {})))
                for w in writes
            )
            return Request(service, operation, write_units=units)
        if operation == "BatchGetItem":
            got = [item for table in response.get("Responses", {}).values() for item in table]
            return Request(service, operation, read_units=sum(read_units(item_bytes(i), False) for i in got))
        return Request(service, operation, billed=0)  # control plane: not billed per request
    if service == "sns":
        if operation == "Publish":
            return Request(service, operation, billed=chunks(params.get("Message", "")))
        if operation == "PublishBatch":
            entries = params.get("PublishBatchRequestEntries", [])
            return Request(service, operation, billed=sum(chunks(e.get("Message", "")) for e in entries))
        return Request(service, operation)
    if service == "sqs":
        if operation == "SendMessage":
            return Request(service, operation, billed=chunks(params.get("MessageBody", "")))
        if operation == "SendMessageBatch":
            bodies = [entry.get("MessageBody", "") for entry in params.get("Entries", [])]
            return Request(service, operation, billed=chunks("".join(bodies)))
        return Request(service, operation)
    if service == "events":
        if operation == "PutEvents":
            return Request(service, operation, billed=sum(chunks(entry) for entry in params.get("Entries", [])))
        return Request(service, operation, billed=0)
    if service == "cloudwatch":
        if operation == "PutMetricData":
            namespace = params.get("Namespace", "")
            published = tuple(
                metric_name(
                    namespace, datum["MetricName"], [(d["Name"], d["Value"]) for d in datum.get("Dimensions", [])]
                )
                for datum in params.get("MetricData", [])
            )
            return Request(service, operation, metrics=published)
        if operation == "GetMetricData":
            asked = sum(1 for query in params.get("MetricDataQueries", []) if "MetricStat" in query)
            return Request(service, operation, billed=0, metrics_read=asked)
        return Request(service, operation)
    if service == "s3":
        reads = operation.startswith(("Get", "Head"))
        return Request(service, "read" if reads else "write")
    return Request(service, operation, billed=0)


def emf_metrics(log_lines: Iterable[str]) -> set[str]:
    """Custom metrics published through CloudWatch embedded metric format log lines (Powertools' Metrics)."""
    found = set()
    for line in log_lines:
        if '"_aws"' not in line:
            continue
        try:
            record = json.loads(line)
        except ValueError:
            continue
        for directive in record.get("_aws", {}).get("CloudWatchMetrics", []):
            for dimension_set in directive.get("Dimensions", []) or [[]]:
                dimensions = [(name, str(record.get(name, ""))) for name in dimension_set]
                for metric in directive.get("Metrics", []):
                    found.add(metric_name(directive.get("Namespace", ""), metric["Name"], dimensions))
    return found


def billed_transitions(events: list[dict[str, Any]]) -> int:
    """State transitions Step Functions bills for one execution: every state entered, plus every retry of a task."""
    entered = sum(1 for event in events if event["type"].endswith("StateEntered"))
    tasks = sum(1 for event in events if event["type"] == "TaskStateEntered")
    scheduled = sum(1 for event in events if event["type"] in ("TaskScheduled", "LambdaFunctionScheduled"))
    return entered + max(0, scheduled - tasks)


# ------------------------------------------------------------------ usage of one path, and of a month
@dataclass
class Usage:
    """What one workflow path (or a month of them) asks of AWS, in billing units."""

    executions: float = 0
    transitions: float = 0
    lambda_requests: dict[str, float] = field(default_factory=dict)  # per function (logical id)
    log_bytes: float = 0
    write_units: float = 0
    read_units: float = 0
    sns_publishes: float = 0
    sqs_requests: float = 0
    custom_events: float = 0
    cloudwatch_requests: float = 0
    metrics_read: float = 0
    s3_reads: float = 0
    s3_writes: float = 0
    metric_hours: dict[str, float] = field(default_factory=dict)  # custom metric -> hours it has data

    def add(self, other: Usage, times: float = 1) -> Usage:
        """This usage plus `times` runs of `other` (each run lasts under an hour: one hour of data per metric)."""
        for name in (
            "executions",
            "transitions",
            "log_bytes",
            "write_units",
            "read_units",
            "sns_publishes",
            "sqs_requests",
            "custom_events",
            "cloudwatch_requests",
            "metrics_read",
            "s3_reads",
            "s3_writes",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name) * times)
        for function, count in other.lambda_requests.items():
            self.lambda_requests[function] = self.lambda_requests.get(function, 0) + count * times
        for metric, hours in other.metric_hours.items():
            self.metric_hours[metric] = min(HOURS_A_MONTH, self.metric_hours.get(metric, 0) + hours * times)
        return self

    @classmethod
    def of(cls, requests: Iterable[Request]) -> Usage:
        usage = cls()
        for request in requests:
            usage.write_units += request.write_units
            usage.read_units += request.read_units
            usage.metrics_read += request.metrics_read
            if request.service == "sns" and request.operation.startswith("Publish"):
                usage.sns_publishes += request.billed
            elif request.service == "sqs":
                usage.sqs_requests += request.billed
            elif request.service == "events":
                usage.custom_events += request.billed
            elif request.service == "cloudwatch":
                usage.cloudwatch_requests += request.billed
            elif request.service == "s3":
                usage.s3_reads += request.operation == "read"
                usage.s3_writes += request.operation == "write"
            for metric in request.metrics:
                usage.metric_hours[metric] = 1
        return usage

    def summary(self) -> str:
        def count(amount: float, one: str, many: str) -> str:
            return f"{amount:g} {one if amount == 1 else many}"

        parts = [
            count(sum(self.lambda_requests.values()), "Lambda request", "Lambda requests"),
            f"{self.write_units:g} DynamoDB WRU",
            f"{self.read_units:g} RRU",
        ]
        if self.sns_publishes:
            parts.append(count(self.sns_publishes, "SNS publish", "SNS publishes"))
        if self.custom_events:
            parts.append(count(self.custom_events, "custom event", "custom events"))
        if self.sqs_requests:
            parts.append(count(self.sqs_requests, "SQS request", "SQS requests"))
        return ", ".join(parts)


class Meter:
    """The requests the automation makes in the sandbox, in billing units.

    A request counts when a function makes it (the thread's environment names the function), or a workflow does
    (a Step Functions task on the emulator's threads: DynamoDB, SNS and EventBridge are the services the state
    machines call directly). The bench's own requests, and a person's, are made on the main thread outside any
    function; those of the emulated SageMaker (pipeline steps on their threads) are no part of the automation.
    """

    BILLED = frozenset({"dynamodb", "sns", "sqs", "events", "cloudwatch", "s3"})
    WORKFLOW_SERVICES = frozenset({"dynamodb", "sns", "events"})

    def __init__(self) -> None:
        # (the function that made it, or "" for a workflow; whether on the main thread; the request)
        self.requests: list[tuple[str, bool, Request]] = []
        self._lock = threading.Lock()
        self._local = threading.local()
        self._dynamodb: Any = None

    def install(self, session: Any) -> None:
        """Count every request of the clients `session` makes from now on (functions make theirs on first use)."""
        session.events.register("before-parameter-build", self._remember_params)
        session.events.register("after-call", self._count)
        self._dynamodb = session.client("dynamodb")

    def uninstall(self, session: Any) -> None:
        session.events.unregister("before-parameter-build", self._remember_params)
        session.events.unregister("after-call", self._count)

    def _remember_params(self, params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["bench_params"] = params

    def _item_now(self, table: str, key: dict[str, Any]) -> dict[str, Any]:
        self._local.reading = True  # the meter's own read is not the automation's
        try:
            return dict(self._dynamodb.get_item(TableName=table, Key=key, ConsistentRead=True).get("Item", {}))
        finally:
            self._local.reading = False

    def _count(self, model: Any, parsed: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        service = model.service_model.service_name
        if service not in self.BILLED or getattr(self._local, "reading", False):
            return
        function = os.environ.get("AWS_LAMBDA_FUNCTION_NAME")
        in_workflow = threading.current_thread() is not threading.main_thread() and service in self.WORKFLOW_SERVICES
        if function is None and not in_workflow:
            return
        request = billed_request(service, model.name, context.get("bench_params") or {}, parsed, self._item_now)
        with self._lock:
            self.requests.append((function or "", threading.current_thread() is threading.main_thread(), request))


# ------------------------------------------------------------------ the sandbox run
@dataclass
class SandboxFigures:
    paths: dict[str, Usage]
    drift_run: Usage
    drift_run_summary: dict[str, Any]
    alarm_to_rollback_seconds: float
    alarm_to_rollback_transitions: int
    alarms: list[int]  # the period (seconds) of each alarm the stack creates
    kms_keys: int  # customer managed keys the stack creates
    drift_schedule: str
    kinds: ServingKindFigures  # the serverless and batch projects' paths


DEPLOYMENT_PATH = "deploy: canary promoted"
RETRAIN_PATH = "retrain: drift alarm, new version registered"


def runs_a_month(schedule: str) -> int:
    """How often an EventBridge rate() schedule fires in a 30-day month."""
    found = re.fullmatch(r"rate\((\d+) (minute|minutes|hour|hours|day|days)\)", schedule.strip())
    if not found:
        raise ValueError(f"the bench prices rate() schedules only, not {schedule!r}")
    minutes = int(found.group(1)) * {"minute": 1, "hour": 60, "day": 1440}[found.group(2).rstrip("s")]
    return HOURS_A_MONTH * 60 // minutes


@dataclass
class Measured:
    usage: Usage = field(default_factory=Usage)


class Recorder:
    """What a stack in the sandbox asks of AWS within a window, once the sandbox has settled.

    The drift monitor runs on its schedule, never as part of a workflow path: a path's window leaves it out. The
    drift run's window (`schedule=True`) holds only the run the bench asks for, on the main thread (the sandbox
    also runs the function for events on the bus: there, its schedule rule matches every event).
    """

    def __init__(self, sandbox: Any, stack: Any, meter: Meter) -> None:
        self.sandbox, self.meter = sandbox, meter
        self.sfn = sandbox.client("stepfunctions")
        self.machines = [stack.outputs[key] for key in stack.outputs if key.endswith("StateMachineArn")]
        self.function_ids = {stack.resources[i]: i for i in FUNCTIONS if i in stack.resources}  # (Batch: its own)
        self.scheduled = stack.resources["DriftMonitorFunction"]

    def executions(self) -> set[str]:
        return {
            run["executionArn"]
            for machine in self.machines
            for page in self.sfn.get_paginator("list_executions").paginate(stateMachineArn=machine)
            for run in page["executions"]
        }

    def history(self, execution_arn: str) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        token: dict[str, str] = {}
        while True:
            page = self.sfn.get_execution_history(executionArn=execution_arn, maxResults=1000, **token)
            events += page["events"]
            if not page.get("nextToken"):
                return events
            token = {"nextToken": page["nextToken"]}

    @contextlib.contextmanager
    def window(self, schedule: bool = False) -> Iterator[Measured]:
        def ours(function_name: str, on_main_thread: bool) -> bool:
            if schedule:
                return function_name == self.scheduled and on_main_thread
            # a workflow's request ("") or this stack's functions but its schedule's (other stacks may be deployed)
            return function_name != self.scheduled and (function_name == "" or function_name in self.function_ids)

        requests, invocations = len(self.meter.requests), len(self.sandbox.state.invocations)
        before = self.executions()
        measured = Measured()
        yield measured
        self.sandbox.settle(timeout=300)
        usage = Usage.of(request for origin, main, request in self.meter.requests[requests:] if ours(origin, main))
        for invocation in self.sandbox.state.invocations[invocations:]:
            if not ours(invocation.function_name, invocation.event == {}):  # the bench's run has an empty event
                continue
            function = self.function_ids[invocation.function_name]
            usage.lambda_requests[function] = usage.lambda_requests.get(function, 0) + 1
            usage.log_bytes += sum(len(line.encode()) + 1 for line in invocation.logs)
            for metric in emf_metrics(invocation.logs):
                usage.metric_hours[metric] = 1
        for arn in self.executions() - before:
            usage.executions += 1
            usage.transitions += billed_transitions(self.history(arn))
        measured.usage = usage


def measure_sandbox() -> SandboxFigures:
    """Every workflow path once in the sandbox, each in its own window; then one scheduled drift run."""
    import boto3

    sys.path.insert(0, str(ROOT))
    from pipeline import dataset
    from sandbox.core import Sandbox
    from sandbox.template import load_sam_template
    from sandbox.world import register_version, seed_world

    meter = Meter()
    paths: dict[str, Usage] = {}
    with Sandbox() as sandbox:
        boto3.setup_default_session(region_name=REGION)  # the session every client made from now on comes from
        meter.install(boto3.DEFAULT_SESSION)
        sfn, sagemaker = sandbox.client("stepfunctions"), sandbox.client("sagemaker")
        cloudwatch, dynamodb = sandbox.client("cloudwatch"), sandbox.client("dynamodb")
        stack = sandbox.deploy_stack("bench")
        recorder = Recorder(sandbox, stack, meter)
        deploy = stack.deploy_state_machine_arn

        def latest(machine: str) -> dict[str, Any]:
            return dict(sfn.list_executions(stateMachineArn=machine)["executions"][0])

        with recorder.window() as first:
            world = seed_world(sandbox, stack)  # v1 approved and deployed (creates the endpoint), v2 pending
        paths["deploy: first deployment (creates the endpoint)"] = first.usage
        sandbox.start_traffic(stack.endpoint_name, per_minute=600)  # the analysis needs candidate invocations

        with recorder.window() as promoted:
            sagemaker.update_model_package(ModelPackageArn=world.pending_version_arn, ModelApprovalStatus="Approved")
        if sfn.describe_execution(executionArn=latest(deploy)["executionArn"])["status"] != "SUCCEEDED":
            raise RuntimeError("the canary was not promoted")
        paths[DEPLOYMENT_PATH] = promoted.usage

        v3 = register_version(sandbox, stack, 3, "PendingManualApproval")
        sandbox.settle()
        key = {"pk": {"S": f"ENDPOINT#{stack.endpoint_name}"}, "sk": {"S": "BAKE"}}

        def baking(execution_name: str) -> bool:
            item = dynamodb.get_item(TableName=stack.ledger_table, Key=key, ConsistentRead=True).get("Item", {})
            return item.get("execution_name", {}).get("S") == execution_name

        with recorder.window() as rolled_back:
            sagemaker.update_model_package(ModelPackageArn=v3, ModelApprovalStatus="Approved")
            while not latest(deploy)["name"].startswith("approved-v3"):
                time.sleep(0.002)
            while not baking(latest(deploy)["name"]):
                time.sleep(0.002)
            variant = dynamodb.get_item(TableName=stack.ledger_table, Key=key)["Item"]["candidate_variant"]["S"]
            started = time.perf_counter()
            cloudwatch.set_alarm_state(AlarmName=f"bench-canary-5xx-{variant}", StateValue="ALARM", StateReason="bench")
            while True:
                endpoint = sagemaker.describe_endpoint(EndpointName=stack.endpoint_name)
                weights = {v["VariantName"]: v.get("CurrentWeight", 1.0) for v in endpoint["ProductionVariants"]}
                if endpoint["EndpointStatus"] == "InService" and weights.get(variant, 0.0) == 0.0:
                    break
                time.sleep(0.001)
            alarm_seconds = time.perf_counter() - started
        paths["deploy: canary rolled back by a guard alarm"] = rolled_back.usage
        states = [e for e in recorder.history(latest(deploy)["executionArn"]) if e["type"].endswith("StateEntered")]
        names = [state["stateEnteredEventDetails"]["name"] for state in states]
        alarm_transitions = names.index("RollBackTraffic") - names.index("Bake") + 1

        with recorder.window() as by_hand:
            sfn.start_execution(stateMachineArn=stack.outputs["RollbackStateMachineArn"], input="{}")
        paths["rollback: by hand"] = by_hand.usage

        # Shadow deployments started by hand (the approvals' own events held back: no canary starts by itself):
        # one agreeing with the live version (then the canary), one trained on flipped labels. A shadow waits on
        # one task token whatever ShadowSeconds is: its transitions do not grow with it.
        def shadow_of(arn: str, name: str) -> Usage:
            sandbox.settle()
            with sandbox.holding_events():
                sagemaker.update_model_package(ModelPackageArn=arn, ModelApprovalStatus="Approved")
            with recorder.window() as shadow:
                request = {"ModelPackageArn": arn, "Strategy": "Shadow", "Reason": "bench"}
                sfn.start_execution(stateMachineArn=deploy, name=name, input=json.dumps(request))
            return shadow.usage

        agreeing = register_version(sandbox, stack, 4, "PendingManualApproval")
        paths["deploy: shadow passed, then the canary"] = shadow_of(agreeing, "bench-shadow-passed")
        flipped = register_version(sandbox, stack, 5, "PendingManualApproval", flip_labels=True)
        paths["deploy: shadow rejected"] = shadow_of(flipped, "bench-shadow-rejected")
        for name, wanted in (("bench-shadow-passed", "SUCCEEDED"), ("bench-shadow-rejected", "FAILED")):
            arn = f"{deploy.replace(':stateMachine:', ':execution:')}:{name}"
            if sfn.describe_execution(executionArn=arn)["status"] != wanted:
                raise RuntimeError(f"{name} did not end {wanted}")

        drift_alarm = f"{stack.project}-drift-score"
        with recorder.window() as retrained:
            cloudwatch.set_alarm_state(AlarmName=drift_alarm, StateValue="ALARM", StateReason="bench: drift")
        paths[RETRAIN_PATH] = retrained.usage
        cloudwatch.set_alarm_state(AlarmName=drift_alarm, StateValue="OK", StateReason="bench: measured")
        sandbox.settle()

        def retrain_by_hand(request: dict[str, Any]) -> Usage:
            with recorder.window() as retrain:
                sfn.start_execution(stateMachineArn=stack.outputs["RetrainStateMachineArn"], input=json.dumps(request))
            return retrain.usage

        sandbox.fail_pipeline_step("Train", "CapacityError: bench", times=1)
        paths["retrain: one transient pipeline failure retried, registered"] = retrain_by_hand({})
        paths["retrain: quality gate missed"] = retrain_by_hand({"PipelineParameters": {"AccuracyThreshold": 0.99}})

        # One scheduled monitor run over 1,000 captured customers (requests of 20, as a client would send them, each
        # with its InferenceId) and their labels in one ground-truth file (Model Monitor's format, 20 labels a line).
        runtime = sandbox.client("sagemaker-runtime")
        rows = dataset.generate(rows=1000, seed=17, shift=0.0)
        truth = []
        for start in range(0, len(rows), 20):
            body = dataset.to_csv(rows[start : start + 20], header=False, label=False)
            runtime.invoke_endpoint(
                EndpointName=stack.endpoint_name, ContentType="text/csv", Body=body, InferenceId=f"bench-{start}"
            )
            labels = ",".join(str(row[dataset.LABEL]) for row in rows[start : start + 20])
            record = {
                "groundTruthData": {"data": labels, "encoding": "CSV"},
                "eventMetadata": {"eventId": f"bench-{start}"},
            }
            truth.append(json.dumps({**record, "eventVersion": "0"}))
        hour = time.strftime("%Y/%m/%d/%H", time.gmtime())
        sandbox.client("s3").put_object(
            Bucket=stack.outputs["ArtifactBucketName"],
            Key=f"groundtruth/{hour}/bench.jsonl",
            Body=("\n".join(truth) + "\n").encode(),
        )
        with recorder.window(schedule=True) as drift_run:
            drift_summary = sandbox.run_drift_monitor(stack.project)
        kinds = measure_serving_kinds(sandbox, meter)
        meter.uninstall(boto3.DEFAULT_SESSION)

        # the stack's own keys (the emulated DynamoDB makes one of its own for the table's encryption)
        keys = {key["KeyId"] for key in sandbox.client("kms").list_keys()["Keys"]}
        made = sandbox.client("cloudformation").describe_stack_resources(StackName=stack.name)["StackResources"]
        alarms = [
            int(alarm["Period"])
            for page in cloudwatch.get_paginator("describe_alarms").paginate()
            for alarm in page["MetricAlarms"]
            if alarm["AlarmName"].startswith(f"{stack.project}-")  # the first stack's (the others are priced apart)
        ]
    return SandboxFigures(
        paths=paths,
        drift_run=drift_run.usage,
        drift_run_summary=drift_summary,
        alarm_to_rollback_seconds=alarm_seconds,
        alarm_to_rollback_transitions=alarm_transitions,
        alarms=alarms,
        kms_keys=len(keys & {resource.get("PhysicalResourceId") for resource in made}),
        drift_schedule=str(load_sam_template()["Parameters"]["DriftMonitorSchedule"]["Default"]),
        kinds=kinds,
    )


SERVERLESS_PATH = "deploy: serverless, replaced at once and baked"
BATCH_DEPLOYMENT_PATH = "deploy: batch, the approved version's model made live"
BATCH_PATH = "batch: a file of {rows:,} customers scored and measured"


@dataclass
class ServingKindFigures:
    paths: dict[str, Usage]
    batch_rows: tuple[int, int]  # the two batch files' sizes: their paths cost the same
    not_available_run: Usage  # the scheduled drift monitor in a project with no captured traffic


def measure_serving_kinds(sandbox: Any, meter: Meter) -> ServingKindFigures:
    """A serverless project's deployment, and a batch project's deployment and two files of very different sizes
    (the workflow waits for the transform job's event with one task token: what it asks of AWS does not grow with
    the job's duration), each in its own window, in the sandbox (and under the meter) of the other paths."""
    from pipeline import dataset
    from sandbox.world import seed_world

    paths: dict[str, Usage] = {}
    sfn, sagemaker = sandbox.client("stepfunctions"), sandbox.client("sagemaker")
    sandbox.stop_traffic()  # the first stack's: nothing of it runs in these windows

    serverless = sandbox.deploy_stack("benchsls", ServingKind="Serverless")
    recorder = Recorder(sandbox, serverless, meter)
    world = seed_world(sandbox, serverless)
    sandbox.start_traffic(serverless.endpoint_name, per_minute=600)  # the analysis needs candidate invocations
    with recorder.window() as replaced:
        sagemaker.update_model_package(ModelPackageArn=world.pending_version_arn, ModelApprovalStatus="Approved")
    sandbox.stop_traffic()
    latest = sfn.list_executions(stateMachineArn=serverless.deploy_state_machine_arn)["executions"][0]
    if sfn.describe_execution(executionArn=latest["executionArn"])["status"] != "SUCCEEDED":
        raise RuntimeError("the serverless deployment did not succeed")
    paths[SERVERLESS_PATH] = replaced.usage

    batch = sandbox.deploy_stack("benchbatch", ServingKind="Batch")
    recorder = Recorder(sandbox, batch, meter)
    world = seed_world(sandbox, batch)
    with recorder.window() as made_live:
        sagemaker.update_model_package(ModelPackageArn=world.pending_version_arn, ModelApprovalStatus="Approved")
    paths[BATCH_DEPLOYMENT_PATH] = made_live.usage
    sizes = (1_000, 100_000)
    for rows in sizes:
        body = dataset.to_csv(dataset.generate(rows=rows, seed=31), header=False, label=False).encode()
        with recorder.window() as scored:
            sandbox.client("s3").put_object(
                Bucket=batch.outputs["ArtifactBucketName"], Key=f"batch/input/bench-{rows}.csv", Body=body
            )
        runs = sfn.list_executions(stateMachineArn=batch.outputs["BatchStateMachineArn"])["executions"]
        if sfn.describe_execution(executionArn=runs[0]["executionArn"])["status"] != "SUCCEEDED":
            raise RuntimeError(f"the batch of {rows} customers was not scored")
        paths[BATCH_PATH.format(rows=rows)] = scored.usage
    with recorder.window(schedule=True) as not_available:
        summary = sandbox.run_drift_monitor(batch.project)
    if summary.get("Outcome") != "not-available":
        raise RuntimeError(f"a batch project's scheduled monitor measured something: {summary}")
    return ServingKindFigures(paths=paths, batch_rows=sizes, not_available_run=not_available.usage)


BATCH_MEASURE_RUN = """
import sys, time
sys.path.insert(0, {functions!r})
import json
from mlops.batch_monitoring import measure_output
from mlops.monitoring import LiveVersion, MonitorConfig
baseline = json.load(open({baseline!r}))
live = LiveVersion(arn="bench", baseline=baseline, evaluation={{"accuracy": 0.89, "auc": 0.93}}, attributions={{}})
config = MonitorConfig(project="bench", endpoint="bench", bucket="b", namespace="n", min_records=100,
                       lookback_hours=48, reserve_seconds=60, facet="age_group", disfavoured=("65-plus",))
started = time.perf_counter()
with open({output!r}, "rb") as stream:
    summary, data = measure_output(stream, config, live, labelled=True)
elapsed = time.perf_counter() - started
peak_kb = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print(json.dumps({{"records": summary["Records"], "seconds": elapsed, "max_rss_mb": peak_kb / 1024}}))
"""


def batch_measure_throughput(records: int = 1_000_000) -> dict[str, float]:
    """Measure a transform job's joined output of a million labelled customers (inputs, label, prediction per line)
    streamed from disk in a fresh process, as the batch function does: rate and peak memory."""
    import tempfile

    sys.path.insert(0, str(ROOT))
    from pipeline import dataset
    from sandbox.world import trained_model

    rows = dataset.to_csv(dataset.generate(rows=10_000, seed=33, shift=0.3), header=False).splitlines()
    with tempfile.TemporaryDirectory() as work:
        output = Path(work) / "batch.csv.out"
        with output.open("w") as out:
            for i in range(records):
                out.write(f"{rows[i % len(rows)]},0.{(i * 7919) % 1000:03d}\n")
        baseline = Path(work) / "baseline.json"
        baseline.write_bytes(trained_model().baseline)
        code = BATCH_MEASURE_RUN.format(functions=str(ROOT / "functions"), baseline=str(baseline), output=str(output))
        done = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
        measured: dict[str, float] = json.loads(done.stdout)
        measured["file_mb"] = output.stat().st_size / 1e6
    return measured


def batch_month(figures: SandboxFigures, kinds: ServingKindFigures, deployments: int, retrains: int) -> Usage:
    """A batch project's month: its deployments, its retrains, a file a day, and its hourly monitor saying "not
    available" (its schedule still fires)."""
    month = Usage()
    month.add(kinds.paths[BATCH_DEPLOYMENT_PATH], deployments)
    month.add(figures.paths[RETRAIN_PATH], retrains)
    month.add(kinds.paths[BATCH_PATH.format(rows=kinds.batch_rows[-1])], BATCHES)
    month.add(kinds.not_available_run, runs_a_month(figures.drift_schedule))
    return month


# ------------------------------------------------------------------ pipeline and drift monitor
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
    """Tally a million captured records streamed from disk in a fresh process: rate and peak memory."""
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
        measured: dict[str, float] = json.loads(done.stdout)
        measured["file_mb"] = capture.stat().st_size / 1e6
    return measured


JOIN_RUN = """
import sys, time
sys.path.insert(0, {functions!r})
import json
from datetime import datetime
from mlops.ground_truth import LabelJoin
from mlops.model_quality import binary_quality
from mlops.bias import BiasTally
order = json.load(open({baseline!r}))["feature_order"]
started = time.perf_counter()
join = LabelJoin(window_hours=72, facet="age_group")
with open({labels!r}, "rb") as stream:
    join.add_labels(stream, datetime(2026, 12, 3, 12))
with open({capture!r}, "rb") as stream:
    join.add_capture(stream, order, datetime(2026, 12, 3, 10))
figures = binary_quality(join.joined.labels, join.joined.scores, 0.5)
bias = BiasTally.of("age_group", ["65-plus"])
for group, label, score in zip(join.joined.groups, join.joined.labels, join.joined.scores):
    bias.add(group, int(score >= 0.5), label)
bias.figures()
elapsed = time.perf_counter() - started
peak_kb = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print(json.dumps({{"joined": figures.count, "seconds": elapsed, "max_rss_mb": peak_kb / 1024}}))
"""


def join_throughput(records: int = 1_000_000) -> dict[str, float]:
    """Join a million labels (Model Monitor's ground-truth records) to a million captured requests of one customer
    each and score them (quality and bias with labels), in a fresh process: rate and peak memory."""
    import json as json_module
    import tempfile
    from datetime import UTC, datetime

    sys.path.insert(0, str(ROOT))
    from pipeline import dataset
    from sandbox.capture import capture_line
    from sandbox.world import trained_model

    rows = dataset.generate(rows=5_000, seed=25)
    bodies = [dataset.to_csv([row], header=False, label=False).encode() for row in rows]
    now = datetime.now(UTC)
    with tempfile.TemporaryDirectory() as work:
        capture, labels = Path(work) / "capture.jsonl", Path(work) / "labels.jsonl"
        with capture.open("w") as out, labels.open("w") as truth:
            for i in range(records):
                answer = f"{(i % 97) / 97:.4f}\n".encode()
                line = capture_line(bodies[i % len(bodies)], "text/csv", answer, "text/csv", now, inference_id=f"r-{i}")
                out.write(line + "\n")
                record = {
                    "groundTruthData": {"data": str(i % 2), "encoding": "CSV"},
                    "eventMetadata": {"eventId": f"r-{i}"},
                }
                truth.write(json_module.dumps({**record, "eventVersion": "0"}) + "\n")
        baseline = Path(work) / "baseline.json"
        baseline.write_bytes(trained_model().baseline)
        code = JOIN_RUN.format(
            functions=str(ROOT / "functions"), baseline=str(baseline), capture=str(capture), labels=str(labels)
        )
        done = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
        measured: dict[str, float] = json.loads(done.stdout)
        measured["file_mb"] = (capture.stat().st_size + labels.stat().st_size) / 1e6
    return measured


SHADOW_RUN = """
import sys, time
sys.path.insert(0, {functions!r})
import json
from datetime import timedelta
from mlops import shadows
started = time.perf_counter()
def answers(path):
    with open(path, "rb") as stream:
        return [a for a in map(shadows.parse_capture_line, stream) if a is not None]
live, shadow = answers({live!r}), answers({shadow!r})
comparison = shadows.compare(shadows.pair(live, shadow, timedelta(seconds=60)), 0.5)
elapsed = time.perf_counter() - started
peak_kb = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print(json.dumps({{"pairs": comparison.compared, "seconds": elapsed, "max_rss_mb": peak_kb / 1024}}))
"""


def shadow_throughput(pairs: int = 100_000) -> dict[str, float]:
    """Read, pair and compare 100,000 captured live records and their shadow copies, in a fresh process (as the
    canary function's compare-shadow step does after reading them from S3): rate and peak memory."""
    import random
    import tempfile
    from datetime import UTC, datetime, timedelta

    sys.path.insert(0, str(ROOT))
    from pipeline import dataset
    from sandbox.capture import capture_line

    rows = dataset.generate(rows=5_000, seed=23, shift=0.0)
    bodies = [dataset.to_csv([row], header=False, label=False).encode() for row in rows]
    start = datetime.now(UTC)
    rng = random.Random(5)
    with tempfile.TemporaryDirectory() as work:
        live_path, shadow_path = Path(work) / "live.jsonl", Path(work) / "shadow.jsonl"
        with live_path.open("w") as live, shadow_path.open("w") as shadow:
            for i in range(pairs):
                at = start + timedelta(milliseconds=10 * i)
                body, p = bodies[i % len(bodies)], rng.random()
                live.write(capture_line(body, "text/csv", f"{p}\n".encode(), "text/csv", at) + "\n")
                copy = at + timedelta(milliseconds=rng.randint(0, 50))
                shadow.write(capture_line(body, "text/csv", f"{p}\n".encode(), "text/csv", copy) + "\n")
        code = SHADOW_RUN.format(functions=str(ROOT / "functions"), live=str(live_path), shadow=str(shadow_path))
        done = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
        measured: dict[str, float] = json.loads(done.stdout)
        measured["file_mb"] = (live_path.stat().st_size + shadow_path.stat().st_size) / 1e6
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


# ------------------------------------------------------------------ the month's bill
@dataclass(frozen=True)
class Cost:
    item: str
    usd: float
    basis: str


def monthly_usage(figures: SandboxFigures, deployments: int, retrains: int) -> Usage:
    month = Usage()
    month.add(figures.paths[DEPLOYMENT_PATH], deployments)
    month.add(figures.paths[RETRAIN_PATH], retrains)
    month.add(figures.drift_run, runs_a_month(figures.drift_schedule))
    return month


def monthly_costs(
    month: Usage,
    seconds_per_request: dict[str, float],
    settings: dict[str, FunctionSettings],
    alarm_periods: list[int],
    kms_keys: int = 0,
) -> list[Cost]:
    """The month's bill, service by service, at the list prices above (no free tier)."""
    requests = sum(month.lambda_requests.values())
    gb_seconds = {
        function: count * settings[function].memory_mb / 1024 * seconds_per_request[function]
        for function, count in month.lambda_requests.items()
    }
    compute = sum(
        seconds * (LAMBDA_ARM_GB_SECOND if settings[function].architecture == "arm64" else LAMBDA_X86_GB_SECOND).usd
        for function, seconds in gb_seconds.items()
    )
    standard = sum(1 for period in alarm_periods if period >= 60)
    high_resolution = len(alarm_periods) - standard
    metrics = len(month.metric_hours)
    metric_months = sum(month.metric_hours.values()) / HOURS_A_MONTH
    log_gb = month.log_bytes / 1e9
    traces = requests + month.executions  # at most: one per execution and one per event a function handles
    costs = [
        Cost(
            "Lambda",
            requests * LAMBDA_REQUEST.usd + compute,
            f"{requests:,.0f} requests, {sum(gb_seconds.values()):,.0f} GB-s (each request billed as a cold start)",
        ),
        Cost(
            "Step Functions Standard",
            month.transitions * STATE_TRANSITION.usd,
            f"{month.transitions:,.0f} state transitions in {month.executions:,.0f} executions",
        ),
        Cost(
            "DynamoDB on-demand",
            month.write_units * DYNAMODB_WRITE_UNIT.usd + month.read_units * DYNAMODB_READ_UNIT.usd,
            f"{month.write_units:,.0f} write and {month.read_units:,.0f} read request units",
        ),
        Cost(
            "SNS",
            month.sns_publishes * (SNS_PUBLISH.usd + SNS_EMAIL.usd),
            f"{month.sns_publishes:,.0f} notifications, each to one e-mail subscriber",
        ),
        Cost("SQS", month.sqs_requests * SQS_REQUEST.usd, f"{month.sqs_requests:,.0f} requests (rejected events)"),
        Cost(
            "EventBridge",
            month.custom_events * CUSTOM_EVENT.usd,
            f"{month.custom_events:,.0f} custom events; AWS service events and the schedule are free",
        ),
        Cost(
            "CloudWatch alarms",
            standard * ALARM_MONTH.usd + high_resolution * HIGH_RESOLUTION_ALARM_MONTH.usd,
            f"{standard} standard-resolution alarms"
            + (f", {high_resolution} high-resolution" if high_resolution else ""),
        ),
        Cost(
            "CloudWatch metrics",
            metric_months * CUSTOM_METRIC_MONTH.usd
            + (month.cloudwatch_requests + month.metrics_read) * CLOUDWATCH_REQUEST.usd,
            f"{metrics} custom metrics ({metric_months:.1f} metric-months of data), "
            f"{month.cloudwatch_requests:,.0f} API requests, {month.metrics_read:,.0f} metrics read",
        ),
        Cost("CloudWatch Logs", log_gb * LOG_INGESTION_GB.usd, f"{log_gb * 1000:,.1f} MB of function logs ingested"),
        Cost(
            "S3 requests",
            month.s3_reads * S3_READ_REQUEST.usd + month.s3_writes * S3_WRITE_REQUEST.usd,
            f"{month.s3_reads:,.0f} GET, {month.s3_writes:,.0f} LIST/PUT (the drift monitor's reads of captured data)",
        ),
        Cost("X-Ray", traces * XRAY_TRACE.usd, f"at most {traces:,.0f} traces"),
    ]
    if kms_keys:
        costs.append(
            Cost("KMS", kms_keys * KMS_KEY_MONTH.usd, f"{kms_keys} customer managed keys (their requests not counted)")
        )
    return costs


# ------------------------------------------------------------------ the table
def usd(amount: float) -> str:
    """Cents, or four decimals for what costs less than a dime."""
    if 0 < amount < 0.0001:
        return "< $0.0001"
    return f"${amount:,.2f}" if amount >= 0.1 or not amount else f"${amount:.4f}"


def render(results: dict[str, Any]) -> str:
    rows: list[tuple[str, str, str, str]] = []
    baseline = results["import_boto3_seconds"]
    packages: dict[str, Package | None] = results["packages"]
    digests = Counter(p.digest for p in packages.values() if p)
    for function, seconds in results["cold_start_seconds"].items():
        built = packages[function]
        if built is None:
            size = "package not built (make build)"
        else:
            shared = digests[built.digest]
            if shared == len(packages):
                sharing = f"one package for all {shared} functions"
            else:
                sharing = f"the same package as {shared - 1} other functions" if shared > 1 else "its own package"
            size = f"package {built.raw_bytes / 1024:.1f} KB ({built.zipped_bytes / 1024:.1f} KB zipped), {sharing}"
        settings: FunctionSettings = results["functions"][function]
        memory = f"{settings.memory_mb} MB, {settings.architecture}"
        rows.append(
            (
                "function",
                function,
                f"{seconds * 1000:.0f} ms, {seconds / baseline:.2f}x import boto3",
                f"{size}; {memory}",
            )
        )
    rows.append(("function", "`import boto3` (baseline)", f"{baseline * 1000:.0f} ms", "a bare `python -c`"))
    paths: dict[str, Usage] = results["paths"]
    for path, usage in paths.items():
        rows.append(("workflow path", path, f"{usage.transitions:.0f} state transitions", usage.summary()))
    rows.append(
        (
            "alarm to rollback",
            "guard alarm -> all traffic on the live variant",
            f"{results['alarm_to_rollback_seconds'] * 1000:.0f} ms",
            f"sandbox, endpoint changes compressed 1000x; {results['alarm_to_rollback_transitions']} state "
            "transitions (Bake -> RollBackTraffic), on AWS plus one UpdateEndpointWeightsAndCapacities",
        )
    )
    steps = ", ".join(f"{name} {seconds:.2f} s" for name, seconds in results["pipeline_steps"].items())
    rows.append(
        (
            "pipeline",
            "one local run on the shipped data",
            f"{results['pipeline_seconds']:.1f} s",
            f"median of 3: {steps}",
        )
    )
    if results["definition_seconds"] is not None:
        rows.append(
            (
                "pipeline",
                "definition written by the SDK",
                f"{results['definition_seconds']:.1f} s",
                "python -m pipeline.definition, a fresh process, median of 3",
            )
        )
    drift = results["drift"]
    rows.append(
        (
            "drift monitor",
            "throughput",
            f"{drift['records'] / drift['seconds']:,.0f} records/s",
            f"{drift['records']:,} captured records ({drift['file_mb']:.0f} MB) in {drift['seconds']:.1f} s, "
            f"peak memory {drift['max_rss_mb']:.0f} MB of the function's "
            f"{results['functions']['DriftMonitorFunction'].memory_mb} MB",
        )
    )
    if "join" in results:
        join = results["join"]
        rows.append(
            (
                "ground truth",
                "join + quality throughput",
                f"{join['joined'] / join['seconds']:,.0f} labels/s",
                f"{join['joined']:,} labels joined to {join['joined']:,} captured requests ({join['file_mb']:.0f} MB) "
                f"and scored (quality, bias) in {join['seconds']:.1f} s, peak memory {join['max_rss_mb']:.0f} MB of "
                f"the function's {results['functions']['DriftMonitorFunction'].memory_mb} MB",
            )
        )
    if "shadow" in results:
        shadow = results["shadow"]
        rows.append(
            (
                "shadow comparison",
                "throughput",
                f"{shadow['pairs'] / shadow['seconds']:,.0f} compared requests/s",
                f"{shadow['pairs']:,} live records and their shadow copies ({shadow['file_mb']:.0f} MB) read, paired "
                f"and compared in {shadow['seconds']:.1f} s, peak memory {shadow['max_rss_mb']:.0f} MB of the canary "
                f"function's {results['functions']['CanaryFunction'].memory_mb} MB",
            )
        )
    run: Usage = results["drift_run"]
    summary = results["drift_run_summary"]
    rows.append(
        (
            "drift monitor",
            "one scheduled run, in the sandbox",
            f"{summary.get('Records', 0):,} records in {summary.get('Files', 0)} capture file"
            + ("" if summary.get("Files", 0) == 1 else "s")
            + f", {summary.get('Joined', 0):,} labels joined",
            f"{run.summary()}, {len(run.metric_hours)} custom metrics published, "
            f"{run.s3_writes:.0f} S3 LIST/PUT and {run.s3_reads:.0f} GET",
        )
    )
    month: Usage = results["month"]
    costs: list[Cost] = results["costs"]
    for cost in costs:
        rows.append(("monthly cost", cost.item, usd(cost.usd), cost.basis))
    rows.append(
        (
            "monthly cost",
            "**total**",
            f"**{usd(sum(cost.usd for cost in costs))}**",
            f"{results['deployments']} deployments (`BENCH_DEPLOYMENTS`), {results['retrains']} retrains "
            f"(`BENCH_RETRAINS`), {results['drift_runs']} drift monitor runs ({results['drift_schedule']}) "
            f"over {CAPTURED_RECORDS_PER_HOUR:,} captured records and {LABELS_PER_HOUR:,} labels an hour; "
            f"{sum(month.lambda_requests.values()):,.0f} Lambda requests",
        )
    )
    rows.append(
        (
            "monthly cost",
            "for comparison: hourly data-quality monitoring jobs",
            usd(results["monitor_jobs_usd"]),
            f"{results['drift_runs']} jobs on {MONITOR_INSTANCE}, {MONITOR_JOB_MINUTES} min each (assumed); "
            "what the drift monitor replaces, not in the total",
        )
    )
    if "batch_costs" in results:
        measure = results["batch_measure"]
        rows.append(
            (
                "batch monitor",
                "throughput",
                f"{measure['records'] / measure['seconds']:,.0f} records/s",
                f"{measure['records']:,} scored customers with labels ({measure['file_mb']:.0f} MB of joined output) "
                f"measured (drift, quality, bias) in {measure['seconds']:.1f} s, peak memory "
                f"{measure['max_rss_mb']:.0f} MB of the batch function's "
                f"{results['functions']['BatchFunction'].memory_mb} MB",
            )
        )
        batch_costs: list[Cost] = results["batch_costs"]
        batch_usage: Usage = results["batch_month"]
        rows.append(
            (
                "monthly cost, batch",
                "**total** (ServingKind Batch)",
                f"**{usd(sum(cost.usd for cost in batch_costs))}**",
                f"a file of {BATCH_RECORDS:,} customers a day (`BENCH_BATCH_RECORDS`), {results['deployments']} "
                f"deployments, {results['retrains']} retrains; "
                + "; ".join(f"{cost.item} {usd(cost.usd)}" for cost in batch_costs if cost.usd >= 0.01)
                + f"; {sum(batch_usage.lambda_requests.values()):,.0f} Lambda requests; transform job instances not "
                "included (SageMaker's bill for the scoring itself)",
            )
        )
    machine = results["machine"]
    lines = [
        f"Measured {machine['date']} on {machine['cpus']} cores, Python {machine['python']} "
        f"(cold starts: median of {machine['runs']} fresh processes).",
        "",
        "| group | item | value | basis |",
        "|---|---|---|---|",
    ]
    lines += [f"| {' | '.join(cell.replace('|', '/') for cell in row)} |" for row in rows]
    lines.append("")
    lines.append(f"Prices: {REGION} list prices, read {PRICES_READ}, no free tier applied:")
    for source in (AWS_PAGE, THIRD_PARTY, NOT_RECHECKED):
        quoted = [price.quote for price in PRICES if price.source == source]
        if quoted:
            lines.append(f"- {source}: " + "; ".join(quoted))
    return "\n".join(lines)


def as_json(value: Any) -> Any:
    if isinstance(value, Usage | Package | Cost | Price | FunctionSettings):
        return as_json(asdict(value))
    if isinstance(value, dict):
        return {str(k): as_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [as_json(v) for v in value]
    return value


def main() -> int:
    settings = function_settings()
    baseline, cold = cold_starts()
    packages = {logical_id: package(logical_id) for logical_id in FUNCTIONS}
    figures = measure_sandbox()
    kinds = figures.kinds
    pipeline_total, pipeline_steps = pipeline_run_times()
    generation = definition_time()
    drift = drift_throughput()
    shadow = shadow_throughput()
    join = join_throughput()
    batch_measure = batch_measure_throughput()

    # Every request billed as a cold start: at tens of runs a month most execution environments are new, and Lambda
    # bills the INIT phase (since 2025-08-01). The drift monitor also tallies an hour of captured records.
    seconds_per_request = dict(cold)
    seconds_per_request["DriftMonitorFunction"] += CAPTURED_RECORDS_PER_HOUR / (drift["records"] / drift["seconds"])
    seconds_per_request["DriftMonitorFunction"] += LABELS_PER_HOUR / (join["joined"] / join["seconds"])
    month = monthly_usage(figures, DEPLOYMENTS, RETRAINS)
    costs = monthly_costs(month, seconds_per_request, settings, figures.alarms, figures.kms_keys)
    drift_runs = runs_a_month(figures.drift_schedule)
    # A batch project: the batch function measures each day's file; its monitor's schedule finds nothing to measure.
    batch_seconds = dict(cold)
    per_run = kinds.paths[BATCH_PATH.format(rows=kinds.batch_rows[-1])].lambda_requests["BatchFunction"]
    measuring = BATCH_RECORDS / (batch_measure["records"] / batch_measure["seconds"])  # one of a run's requests
    batch_seconds["BatchFunction"] += measuring / per_run
    batch_usage = batch_month(figures, kinds, DEPLOYMENTS, RETRAINS)
    batch_costs = monthly_costs(batch_usage, batch_seconds, settings, figures.alarms, figures.kms_keys)
    results: dict[str, Any] = {
        "machine": {
            "date": time.strftime("%Y-%m-%d"),
            "python": sys.version.split()[0],
            "cpus": os.cpu_count(),
            "runs": RUNS,
        },
        "import_boto3_seconds": baseline,
        "cold_start_seconds": cold,
        "packages": packages,
        "functions": settings,
        "paths": {**figures.paths, **kinds.paths},
        "batch_measure": batch_measure,
        "batch_month": batch_usage,
        "batch_costs": batch_costs,
        "alarm_to_rollback_seconds": figures.alarm_to_rollback_seconds,
        "alarm_to_rollback_transitions": figures.alarm_to_rollback_transitions,
        "pipeline_seconds": pipeline_total,
        "pipeline_steps": pipeline_steps,
        "definition_seconds": generation,
        "drift": drift,
        "shadow": shadow,
        "join": join,
        "drift_run": figures.drift_run,
        "drift_run_summary": {
            **{k: v for k, v in figures.drift_run_summary.items() if isinstance(v, int | float | str)},
            "Joined": int((figures.drift_run_summary.get("GroundTruth") or {}).get("Joined") or 0),
        },
        "drift_schedule": figures.drift_schedule,
        "drift_runs": drift_runs,
        "deployments": DEPLOYMENTS,
        "retrains": RETRAINS,
        "seconds_per_request": seconds_per_request,
        "month": month,
        "costs": costs,
        "monitor_jobs_usd": drift_runs * MONITOR_INSTANCE_HOUR.usd * MONITOR_JOB_MINUTES / 60,
        "prices": {"region": REGION, "read": PRICES_READ, "list": PRICES},
    }
    table = render(results)
    OUTPUT.parent.mkdir(exist_ok=True)
    OUTPUT.write_text(json.dumps(as_json({**results, "table": table}), indent=2, default=str) + "\n")
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
