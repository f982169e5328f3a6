# mypy: disable-error-code="method-assign,assignment,attr-defined"
# (this module replaces moto methods on purpose; see the docstring)
"""Every change to moto's private code that the sandbox needs, in one place.

Written against moto 5.2.5 (pinned in requirements/dev.txt). Each patch fills one gap between
moto and AWS that the product meets; the product code itself never imports the sandbox.

  1. Lambda runs the real handler in-process (moto wants Docker), with the function's own
     environment, its stdout captured into the function's log group.
  2. EventBridge rules deliver to Lambda (asynchronously, retried, then dead-lettered) and to
     Step Functions targets (moto raises NotImplementedError), events shaped as AWS delivers them
     (an ISO 8601 `time`, no moto-only fields) to every target; a schedule rule receives no events.
  3. AWS services emit their events: a model package created or changing approval emits
     "SageMaker Model Package State Change"; an alarm changing state emits
     "CloudWatch Alarm State Change".
  4. SageMaker endpoints take time and tell: CreateEndpoint, UpdateEndpoint (missing in moto) and
     UpdateEndpointWeightsAndCapacities go Creating/Updating, then InService (or fail, when a test
     asks), each change emitting "SageMaker Endpoint State Change" in AWS's documented shape
     (UPPER_SNAKE status, epoch-millisecond times); DescribeEndpoint names the config an update is
     heading to (PendingDeploymentSummary); a model, endpoint config or endpoint whose name is taken
     is refused ("Cannot create already existing ...": moto overwrites models and configs). UpdateEndpoint
     honours RetainAllVariantProperties / ExcludeRetainedVariantProperties and is refused when it would
     remove or re-type a variant registered with Application Auto Scaling; a weights/capacities change
     shows the desired values at once and makes them current when InService. A network-isolated model
     whose container fetches its code from S3 (SAGEMAKER_SUBMIT_DIRECTORY s3://...) never starts: the
     endpoint's creation fails, an update fails leaving the previous config serving. Endpoint configs keep
     their ShadowProductionVariants (moto drops them; one production and one shadow variant at most, none
     for serverless, asynchronous, Inf1, Elastic Inference, multi-container or multi-model endpoints), and
     DescribeEndpoint shows the endpoint's shadow variant, changed by UpdateEndpoint as the others are.
     Serverless variants (ServerlessConfig) are refused with what Serverless Inference does not support (data
     capture, several variants, VPC, network isolation, ...) or outside its limits; an instance-based endpoint
     cannot be updated to serverless; their concurrency changes with ServerlessUpdateConfig, not instance counts.
  4b. Application Auto Scaling (sandbox/autoscaling.py): registering a variant moves its instance count into
     [MinCapacity, MaxCapacity]; deregistering deletes the target's policies and scheduled actions; a test
     can ask for a policy's scaling activity (Sandbox.autoscale).
  5. State machines created by CloudFormation live where the executing API finds them, with
     their DefinitionSubstitutions applied (moto ignores them).
  6. Step Functions: StartExecution without a name gets a UUID name; SendTaskFailure keeps its
     cause; Wait states, retry intervals and endpoint transitions run on compressed time.
  7. CloudWatch alarms and SageMaker pipelines created by CloudFormation (moto has neither).
  8. Endpoints answer InvokeEndpoint with the served model's real predictions
     (sandbox/serving.py) from a production variant, copying a share of the requests to a shadow variant
     whose answers and errors never reach the client; a version can be made to fail, to be slow, or to
     disagree (1 - p). Each variant publishes per-variant metrics; alarms evaluate them. Background traffic
     (Traffic) publishes synthetic per-minute metrics and sends real requests of the shipped dataset.
  8b. Endpoint configs with DataCaptureConfig capture a sample of requests and answers to S3 in
     SageMaker's JSON Lines format (sandbox/capture.py), each variant under its own name, a shadow's too.
  9. SageMaker Pipelines run for real (sandbox/pipeline_runner.py): StartPipelineExecution
     (idempotent per ClientRequestToken) runs the definition's steps locally;
     DescribePipelineExecution tells the outcome and its FailureReason; ListPipelineExecutionSteps
     and RetryPipelineExecution (missing in moto) answer.
  10. Faults (sandbox/faults.py): every call a function or a workflow state makes passes a fault plan
     first (moto's before-send stubber is wrapped); which state attempt of which execution is running
     follows the state's worker thread; botocore's retry sleeps run on the compressed clock; a function
     whose process dies fails its invocation (Runtime.ExitError) and its event is redelivered; the
     errors Step Functions reports for its own calls are named as AWS names them (sandbox/sfn_errors.py:
     `SageMaker.SageMakerException` for any code SageMaker's model does not list,
     `DynamoDB.AmazonDynamoDBException`, `EventBridge.FailedEntry`, `<Service>.SdkClientException` for a
     call that got no answer, `Lambda.Unknown` for a function's runtime failure, ...).
     Workflows share one client per service and one parsed program per definition (moto made both
     anew for every call and every execution: about half of a workflow's CPU time); CreateStateMachine
     validates a definition by parsing it once, and CloudFormation reads a JSON template as JSON (moto's
     PyYAML parse of it and the validation took 8 of the 10 seconds a test's stack needed).
  11. KMS keys created by CloudFormation take the template's tags and a key policy given as an
     object, as AWS does (moto 5.2.5 fails on the tags and stores the policy where DescribeKey wants
     text); alarms created by CloudFormation (7.) answer Fn::GetAtt Arn. An element of a list resolved to
     AWS::NoValue leaves the list (moto kept a None).
  12. S3 buckets created by CloudFormation apply their EventBridgeConfiguration and versioning; with EventBridge
     enabled, a new object sends "Object Created" as S3 documents it (the key URL-encoded, version-id on a
     versioned bucket, an increasing sequencer, the API as the reason).
  13. Batch transform jobs run (sandbox/transform.py): CreateTransformJob goes InProgress, runs the model's own
     serving code over the input (split, batched, filtered and joined as DataProcessing says), writes
     <file>.out per object, ends Completed or Failed (ClientError, the cause in the job's log), each status an
     "SageMaker Transform Job State Change"; StopTransformJob (missing in moto) stops it without output.
  14. Model package versions' CustomerMetadataProperties: CreateModelPackage and UpdateModelPackage refuse what
     botocore's model refuses (keys 1-128 and values 1-256 characters of its pattern, 1-50 entries, also after an
     update) with a ValidationException worded as AWS words it; UpdateModelPackage adds to a version's properties
     (moto 5.2.5 replaces them, and clears them when an update gives none). AddTags overwrites a tag whose key a
     resource already has (moto 5.2.5 appends a second one).
"""

from __future__ import annotations

import contextlib
import contextvars
import csv
import functools
import importlib
import io
import json
import logging
import os
import random
import re
import sys
import threading
import time
import traceback
import unicodedata
import uuid
import warnings
from collections.abc import Callable, Iterator, MutableMapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import botocore.endpoint
import moto
from botocore.awsrequest import AWSResponse
from botocore.exceptions import BotoCoreError, ClientError, ReadTimeoutError

MOTO_VERSION = "5.2.5"
if moto.__version__ != MOTO_VERSION:  # pragma: no cover - guards the pin
    raise RuntimeError(f"sandbox patches are written against moto {MOTO_VERSION}, found {moto.__version__}")

from moto.awslambda import models as lambda_models  # noqa: E402
from moto.awslambda import utils as lambda_utils  # noqa: E402
from moto.cloudformation import models as cfn_models  # noqa: E402
from moto.cloudformation import parsing as cfn_parsing  # noqa: E402
from moto.cloudwatch import models as cloudwatch_models  # noqa: E402
from moto.core.botocore_stubber import BotocoreStubber, MockRawResponse  # noqa: E402
from moto.core.common_models import CloudFormationModel  # noqa: E402
from moto.core.exceptions import JsonRESTError  # noqa: E402
from moto.core.models import botocore_stubber  # noqa: E402
from moto.events import models as events_models  # noqa: E402
from moto.kms import models as kms_models  # noqa: E402
from moto.sagemaker import models as sagemaker_models  # noqa: E402
from moto.sagemaker import responses as sagemaker_responses  # noqa: E402
from moto.sagemakerruntime import models as sagemakerruntime_models  # noqa: E402
from moto.sagemakerruntime import responses as sagemakerruntime_responses  # noqa: E402
from moto.settings import moto_server_port  # noqa: E402
from moto.stepfunctions import models as sfn_models  # noqa: E402
from moto.stepfunctions import responses as sfn_responses  # noqa: E402
from moto.stepfunctions.parser import models as sfn_parser_models  # noqa: E402
from moto.stepfunctions.parser.api import HistoryEventType, TaskFailedEventDetails  # noqa: E402
from moto.stepfunctions.parser.asl.component.common.error_name.custom_error_name import CustomErrorName  # noqa: E402
from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import FailureEvent  # noqa: E402
from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl  # noqa: E402
from moto.stepfunctions.parser.asl.component.common.timeouts import heartbeat as sfn_heartbeat  # noqa: E402
from moto.stepfunctions.parser.asl.component.common.timeouts import timeout as sfn_timeout  # noqa: E402
from moto.stepfunctions.parser.asl.component.state.exec import execute_state  # noqa: E402
from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils  # noqa: E402
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (  # noqa: E402
    state_task_service_aws_sdk,
    state_task_service_dynamodb,
    state_task_service_events,
    state_task_service_lambda,
    state_task_service_sns,
)
from moto.stepfunctions.parser.asl.component.state.wait.wait_function import wait_function  # noqa: E402
from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails  # noqa: E402
from moto.stepfunctions.parser.asl.utils import boto_client  # noqa: E402
from moto.stepfunctions.parser.backend import execution_worker as sfn_execution_worker  # noqa: E402

from pipeline import dataset  # noqa: E402

from . import autoscaling, capture, faults, pipeline_runner, serving, sfn_errors  # noqa: E402


# ------------------------------------------------------------------ shared sandbox state
@dataclass
class Invocation:
    function_name: str
    event: Any
    result: Any = None
    error: str | None = None
    logs: list[str] = field(default_factory=list)
    attempt: int = 1
    at: float = field(default_factory=time.monotonic)


@dataclass(frozen=True)
class Behaviour:
    """How a model version answers in the sandbox.

    error_rate: the share of its requests it fails (ModelError, HTTP 500 from the variant);
    latency_ms: its ModelLatency in the published metrics;
    invert: its real answers become 1 - p for every probability p the served model answers (text/csv lines,
    application/json lists; serving.inverted), so it disagrees with a normal version on every request;
    setup_ms: its cold start on a serverless variant, published as ModelSetupTime (publish_minute; 0: no cold
    start, nothing published); an instance-based variant publishes no ModelSetupTime whatever its value.
    """

    error_rate: float = 0.0
    latency_ms: float = 20.0
    invert: bool = False
    setup_ms: float = 2000.0  # Sandbox choice: AWS documents no typical cold start


HEALTHY = Behaviour()


@dataclass
class SandboxState:
    """What the patched services need to know about the running sandbox."""

    time_scale: float = 0.001
    function_code: dict[str, Path] = field(default_factory=dict)
    function_dead_letters: dict[str, str] = field(default_factory=dict)
    endpoint_failures: dict[str, str] = field(default_factory=dict)  # endpoint -> reason its next change fails
    behaviours: dict[str, Behaviour] = field(default_factory=dict)  # model package ARN -> how it answers
    invocations: list[Invocation] = field(default_factory=list)
    emitted_events: list[dict[str, Any]] = field(default_factory=list)
    endpoint_transition_seconds: float = 60.0
    capturing: bool = False  # a sandbox runs: its endpoints' data capture is flushed to S3 every second
    _inflight: int = 0
    _inflight_lock: threading.Condition = field(default_factory=threading.Condition)

    @contextlib.contextmanager
    def tracking(self) -> Iterator[None]:
        with self._inflight_lock:
            self._inflight += 1
        try:
            yield
        finally:
            with self._inflight_lock:
                self._inflight -= 1
                self._inflight_lock.notify_all()

    def wait_deliveries(self, timeout: float) -> bool:
        with self._inflight_lock:
            return self._inflight_lock.wait_for(lambda: self._inflight == 0, timeout=timeout)


STATE = SandboxState()
_ENV_LOCK = threading.RLock()
_installed = False


# ------------------------------------------------------------------ 1. Lambda in-process
class _ThreadStdout(io.TextIOBase):
    """sys.stdout stand-in: a thread running a handler writes into that invocation's log."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.local = threading.local()

    def write(self, text: str) -> int:
        sink = getattr(self.local, "sink", None)
        if sink is None:
            return int(self.real.write(text))
        sink.append(text)
        return len(text)

    def flush(self) -> None:
        self.real.flush()


_STDOUT: _ThreadStdout | None = None


class _FunctionEnviron(MutableMapping[str, str]):
    """os.environ as each thread sees it: the running function's variables over the process's own.

    Lambda gives every function its own environment; in one process they would share os.environ.
    Swapping os.environ for each run raced with threads reading it meanwhile (botocore iterates it
    when it makes a client), so a function's variables live in its thread only.
    """

    def __init__(self, base: Any) -> None:
        self._base = base
        self._local = threading.local()

    def overlay(self, variables: dict[str, str] | None) -> None:
        self._local.variables = variables

    def _variables(self) -> dict[str, str] | None:
        return getattr(self._local, "variables", None)

    def __getitem__(self, key: str) -> str:
        variables = self._variables()
        if variables is not None and key in variables:
            return variables[key]
        return str(self._base[key])

    def __setitem__(self, key: str, value: str) -> None:
        variables = self._variables()
        if variables is not None:
            variables[key] = value
        else:
            self._base[key] = value

    def __delitem__(self, key: str) -> None:
        variables = self._variables()
        if variables is not None and key in variables:
            del variables[key]
        else:
            del self._base[key]

    def __iter__(self) -> Iterator[str]:
        variables = self._variables() or {}
        base = list(self._base)
        return iter(base + [key for key in variables if key not in self._base])

    def __len__(self) -> int:
        return len(list(iter(self)))

    def copy(self) -> dict[str, str]:
        return dict(self)


@contextlib.contextmanager
def _function_environment(variables: dict[str, str]) -> Iterator[None]:
    """Functions take turns (one at a time, as moto's Lambda would queue them), each with its variables."""
    with _ENV_LOCK:
        environ = os.environ
        assert isinstance(environ, _FunctionEnviron), "patches.install() wraps os.environ"
        environ.overlay(dict(variables))
        try:
            yield
        finally:
            environ.overlay(None)


class _LambdaContext:
    def __init__(self, fn: Any) -> None:
        self.function_name = fn.function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = fn.function_arn
        self.memory_limit_in_mb = int(fn.memory_size)
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{fn.function_name}"
        self.log_stream_name = datetime.now(UTC).strftime("%Y/%m/%d/[$LATEST]") + uuid.uuid4().hex
        self._deadline = time.time() + int(fn.timeout)

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.time()) * 1000))


def _load_handler(fn: Any) -> Callable[..., Any]:
    code_dir = STATE.function_code.get(fn.function_name)
    if code_dir is None:
        raise RuntimeError(f"the sandbox has no code for function {fn.function_name}")
    if str(code_dir) not in sys.path:
        sys.path.insert(0, str(code_dir))
    module_name, _, attribute = fn.handler.rpartition(".")
    module = importlib.import_module(module_name)
    return getattr(module, attribute)


def run_function(fn: Any, event: Any, attempt: int = 1) -> Invocation:
    """Run a function's handler as Lambda would: its environment, a context, logs captured."""
    invocation = Invocation(fn.function_name, event, attempt=attempt)
    variables = {
        **{k: str(v) for k, v in (fn.environment_vars or {}).items()},
        "AWS_LAMBDA_FUNCTION_NAME": fn.function_name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(fn.memory_size),
        "AWS_REGION": fn.region,
        "AWS_DEFAULT_REGION": fn.region,
        "POWERTOOLS_TRACE_DISABLED": "true",
    }
    sink: list[str] = []
    assert _STDOUT is not None
    with _function_environment(variables), _running_function(fn.function_name, attempt):
        _STDOUT.local.sink = sink
        try:
            handler = _load_handler(fn)
            invocation.result = handler(event, _LambdaContext(fn))
        except Exception as error:  # the function failed: Lambda reports it, it does not crash
            invocation.error = f"{type(error).__name__}: {error}"
            sink.append(traceback.format_exc())
        except faults.ProcessDied as death:  # the runtime exited: the invocation fails, nothing more
            invocation.error = f"Runtime.ExitError: {death}"
            sink.append(f"RequestId: {invocation.function_name} Error: Runtime exited ({death})")
        finally:
            _STDOUT.local.sink = None
    # lines end at "\n" only, as Lambda's log capture splits them (splitlines would also cut at U+0085, U+2028...)
    invocation.logs = [line for line in "".join(sink).split("\n") if line.strip()]
    STATE.invocations.append(invocation)
    _write_logs(fn, invocation)
    return invocation


def _write_logs(fn: Any, invocation: Invocation) -> None:
    if not invocation.logs:
        return
    group = f"/aws/lambda/{fn.function_name}"
    stream = datetime.now(UTC).strftime("%Y/%m/%d/[$LATEST]") + uuid.uuid4().hex
    backend = fn.logs_backend
    backend.ensure_log_group(group)
    backend.create_log_stream(group, stream)
    now = int(time.time() * 1000)
    backend.put_log_events(group, stream, [{"timestamp": now, "message": line} for line in invocation.logs])


def _invoke_lambda(self: Any, event: Any = None) -> tuple[str, bool, str]:
    payload = json.loads(event) if isinstance(event, str) and event else (event or {})
    invocation = run_function(self, payload)
    if invocation.error:
        error_type = invocation.error.split(":", 1)[0]
        body = {"errorMessage": invocation.error.split(": ", 1)[-1], "errorType": error_type}
        return json.dumps(body), True, "\n".join(invocation.logs)
    return json.dumps(invocation.result), False, "\n".join(invocation.logs)


# ------------------------------------------------------------------ 2. rule targets
ASYNC_RETRIES = 2  # Lambda's default for asynchronous invocations


def _deliver_to_lambda(account: str, region: str, function_arn: str, event: dict[str, Any]) -> None:
    backend = lambda_utils.get_backend(account, region)
    fn = backend.get_function(function_arn.split(":function:", 1)[-1].split(":", 1)[0])
    for attempt in range(1, ASYNC_RETRIES + 2):
        invocation = run_function(fn, event, attempt)
        if invocation.error is None:
            return
    dead_letter = STATE.function_dead_letters.get(fn.function_name)
    if dead_letter:
        from moto.sqs.models import sqs_backends

        queue_name = dead_letter.rsplit(":", 1)[-1]
        sqs_backends[account][region].send_message(
            queue_name,
            json.dumps(event),
            message_attributes={
                "ErrorMessage": {"DataType": "String", "StringValue": invocation.error or "unknown"},
            },
        )


def _in_background(target: Callable[[], None]) -> None:
    def run() -> None:
        with STATE.tracking():
            target()

    with STATE.tracking():  # counted before the thread starts, so settle() cannot miss it
        thread = threading.Thread(target=run, daemon=True)
        thread.start()


_original_send_to_targets = events_models.Rule.send_to_targets


def _as_aws_delivers(event: dict[str, Any]) -> dict[str, Any]:
    """moto 5.2.5 puts `time` as epoch seconds and adds "ingestion-time"; AWS delivers ISO 8601 and no such field."""
    delivered = json.loads(json.dumps(event, default=str))
    if isinstance(delivered.get("time"), int | float):
        delivered["time"] = datetime.fromtimestamp(delivered["time"], UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    delivered.pop("ingestion-time", None)
    return delivered


def _send_to_targets(self: Any, original_event: dict[str, Any], transform_input: bool = True) -> None:
    if self.scheduled_expression and self.event_pattern._raw_pattern is None:
        return  # moto 5.2.5 matches every event to a schedule rule; AWS only runs it on its schedule
    if not self.event_pattern.matches_event(original_event):
        return
    handled = []
    for target in self.targets:
        service = target["Arn"].split(":")[2]
        if service == "lambda":
            event = _as_aws_delivers(original_event)
            _in_background(
                functools.partial(_deliver_to_lambda, self.account_id, self.region_name, target["Arn"], event)
            )
            handled.append(target)
        elif service == "states":
            from moto.stepfunctions.responses import get_backend

            backend = get_backend(self.account_id, self.region_name)
            backend.start_execution(
                target["Arn"], name=str(uuid.uuid4()), execution_input=json.dumps(_as_aws_delivers(original_event))
            )
            handled.append(target)
    others = [target for target in self.targets if target not in handled]
    if others:
        saved = self.targets
        self.targets = others
        try:  # a user's own targets (a queue, a log group) get the event as AWS delivers it too
            if transform_input and not any(target.get("InputTransformer") for target in others):
                # moto turns `time` into ISO 8601 itself on the way to a queue; "ingestion-time" is its own
                without_moto_fields = {k: v for k, v in original_event.items() if k != "ingestion-time"}
                _original_send_to_targets(self, without_moto_fields, False)  # type: ignore[arg-type]
            else:  # moto's input transformer reads its own fields
                _original_send_to_targets(self, original_event, transform_input)  # type: ignore[arg-type]
        finally:
            self.targets = saved


# ------------------------------------------------------------------ 3. service events
def _iso(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def emit_event(
    account: str, region: str, source: str, detail_type: str, detail: dict[str, Any], resources: list[str]
) -> None:
    """Publish an event on the default bus the way the AWS service itself would."""
    body = json.dumps(detail, default=_iso)
    entry = {"Source": source, "DetailType": detail_type, "Detail": body, "Resources": resources}
    STATE.emitted_events.append(
        {"source": source, "detail-type": detail_type, "detail": json.loads(body), "at": time.monotonic()}
    )
    events_models.events_backends[account][region].put_events([entry])


_MODEL_PACKAGE_EVENT_FIELDS = (
    "ModelPackageGroupName",
    "ModelPackageVersion",
    "ModelPackageArn",
    "ModelPackageDescription",
    "CreationTime",
    "InferenceSpecification",
    "ModelPackageStatus",
    "ModelPackageStatusDetails",
    "CertifyForMarketplace",
    "ModelApprovalStatus",
    "MetadataProperties",
    "ModelMetrics",
    "LastModifiedTime",
    "CustomerMetadataProperties",
    "DriftCheckBaselines",
)


def _emit_model_package_change(backend: Any, model_package: Any) -> None:
    described = model_package.gen_response_object()
    detail = {key: described[key] for key in _MODEL_PACKAGE_EVENT_FIELDS if described.get(key) is not None}
    detail.setdefault("LastModifiedTime", model_package.last_modified_time or model_package.creation_time)
    emit_event(
        backend.account_id,
        backend.region_name,
        "aws.sagemaker",
        "SageMaker Model Package State Change",
        detail,
        [model_package.arn],
    )


_original_update_model_package = sagemaker_models.SageMakerModelBackend.update_model_package
_original_create_model_package = sagemaker_models.SageMakerModelBackend.create_model_package


def _update_model_package(
    self: Any,
    model_package_arn: str,
    model_approval_status: str | None,
    approval_description: str | None,
    customer_metadata_properties: dict[str, str] | None,
    customer_metadata_properties_to_remove: list[str],
    *args: Any,
    **kwargs: Any,
) -> str:
    package = self.describe_model_package(model_package_arn)
    before = package.model_approval_status
    if model_approval_status is None:  # moto would clear the status; AWS leaves it
        model_approval_status = before
    # An update adds to (or changes) the version's properties, CustomerMetadataPropertiesToRemove takes some away
    # (the member exists for that: botocore's UpdateModelPackageInput); moto 5.2.5 replaces them all, even by None.
    _require_customer_metadata(customer_metadata_properties)
    merged = {**(package.customer_metadata_properties or {}), **(customer_metadata_properties or {})}
    for key in customer_metadata_properties_to_remove or []:
        merged.pop(key, None)
    limit = sfn_errors.service_model("sagemaker").shape_for("CustomerMetadataMap").metadata["max"]
    if len(merged) > limit:
        # (AWS documents no wording for the total; the sandbox says what the model's limit is)
        raise sagemaker_models.ValidationError(
            message=f"The model package would have {len(merged)} CustomerMetadataProperties after this update: "
            f"a model package has at most {limit}."
        )
    arn = _original_update_model_package(
        self,
        model_package_arn,
        model_approval_status,
        approval_description,
        merged or None,
        [],
        *args,
        **kwargs,
    )
    model_package = self.describe_model_package(arn)
    # AWS stamps the change; moto keeps the creation time at second precision.
    model_package.last_modified_time = datetime.now(UTC)
    if model_package.model_approval_status != before:
        _emit_model_package_change(self, model_package)
    return arn


def _create_model_package(self: Any, *args: Any, **kwargs: Any) -> Any:
    _require_customer_metadata(kwargs.get("customer_metadata_properties"))  # (moto's responses pass keywords)
    arn = _original_create_model_package(self, *args, **kwargs)
    model_package = self.describe_model_package(arn)
    if getattr(model_package, "model_package_group_name", None):
        _emit_model_package_change(self, model_package)
    return arn


# ------------------------------------------------------------------ model package metadata and tags
# CustomerMetadataProperties limits, from botocore's sagemaker model (2017-07-24 service-2.json):
# CustomerMetadataMap min 1, max 50; CustomerMetadataKey 1-128 and CustomerMetadataValue 1-256 characters of
# ([\p{L}\p{Z}\p{N}_.:\/=+\-@]*). moto 5.2.5 checks none of them. AWS states a broken constraint as
# "1 validation error detected: Value '<value>' at '<member>' failed to satisfy constraint: <constraint>", a map
# as "{key=value, ...}", its keys' and its values' constraints as "Map keys must satisfy constraint: [...]" and
# "Map value must satisfy constraint: [...]", one error for all the keys and one for all the values, several joined
# by "; " under "N validation errors detected" (the wording LocalStack reproduces from AWS in
# localstack-core/localstack/services/lambda_/provider.py, _create_routing_config_model, and moto in
# moto/resourcegroups/models.py, FakeResourceGroup._validate_tags).
_METADATA_SYMBOLS = set("_.:/=+-@")


def _metadata_text(value: str) -> bool:
    r"""Only letters, separators (spaces), numbers and _.:/=+-@ (\p{L}\p{Z}\p{N} in the model's pattern)."""
    return all(c in _METADATA_SYMBOLS or unicodedata.category(c)[0] in "LZN" for c in value)


def _metadata_problems(properties: dict[str, str], member: str) -> list[str]:
    model = sfn_errors.service_model("sagemaker")
    key_shape, value_shape = model.shape_for("CustomerMetadataKey"), model.shape_for("CustomerMetadataValue")
    limits = model.shape_for("CustomerMetadataMap").metadata
    shown = "{" + ", ".join(f"{k}={v}" for k, v in properties.items()) + "}"

    def constraint(shape: Any) -> str:
        meta = shape.metadata
        return (
            f"[Member must have length less than or equal to {meta['max']}, "
            f"Member must have length greater than or equal to {meta['min']}, "
            f"Member must satisfy regular expression pattern: {meta['pattern']}]"
        )

    def fits(text: str, shape: Any) -> bool:
        return shape.metadata["min"] <= len(text) <= shape.metadata["max"] and _metadata_text(text)

    problems = []
    if not limits["min"] <= len(properties) <= limits["max"]:
        bound = "less than or equal to" if len(properties) > limits["max"] else "greater than or equal to"
        limit = limits["max"] if len(properties) > limits["max"] else limits["min"]
        problems.append(
            f"Value '{shown}' at '{member}' failed to satisfy constraint: Member must have length {bound} {limit}"
        )
    if not all(fits(str(k), key_shape) for k in properties):
        problems.append(
            f"Value '{shown}' at '{member}' failed to satisfy constraint: "
            f"Map keys must satisfy constraint: {constraint(key_shape)}"
        )
    if not all(isinstance(v, str) and fits(v, value_shape) for v in properties.values()):
        problems.append(
            f"Value '{shown}' at '{member}' failed to satisfy constraint: "
            f"Map value must satisfy constraint: {constraint(value_shape)}"
        )
    return problems


def _require_customer_metadata(properties: dict[str, str] | None) -> None:
    if properties is None:
        return
    problems = _metadata_problems(properties, "customerMetadataProperties")
    if problems:
        count = f"{len(problems)} validation error{'s' if len(problems) > 1 else ''} detected"
        raise sagemaker_models.ValidationError(message=f"{count}: {'; '.join(problems)}")


_original_add_tags = sagemaker_models.SageMakerModelBackend.add_tags


def _add_tags(self: Any, arn: str, tags: list[dict[str, str]]) -> list[dict[str, str]]:
    """AddTags "Adds or overwrites one or more tags" and "Tag keys must be unique per resource" (botocore's
    sagemaker model, AddTags); moto 5.2.5 appends, so adding a tag twice listed it twice."""
    resource = self._get_resource_from_arn(arn)
    given = {tag["Key"] for tag in tags}
    resource.tags[:] = [tag for tag in resource.tags if tag["Key"] not in given]
    return list(_original_add_tags(self, arn, tags))


_original_set_alarm_state = cloudwatch_models.CloudWatchBackend.set_alarm_state


def _set_alarm_state(self: Any, alarm_name: str, reason: str, reason_data: str, state_value: str) -> None:
    alarm = self.alarms.get(alarm_name)
    before = (alarm.state_value, alarm.state_reason, alarm.state_updated_timestamp) if alarm else None
    _original_set_alarm_state(self, alarm_name, reason, reason_data, state_value)
    alarm = self.alarms[alarm_name]
    if before is None or before[0] == alarm.state_value:
        return  # AWS emits only on a change of state
    configuration: dict[str, Any] = {"description": alarm.description or ""}
    if alarm.metric_name:
        configuration["metrics"] = [
            {
                "id": str(uuid.uuid4()),
                "metricStat": {
                    "metric": {
                        "name": alarm.metric_name,
                        "namespace": alarm.namespace,
                        "dimensions": {d.name: d.value for d in alarm.dimensions},
                    },
                    "period": alarm.period,
                    "stat": alarm.statistic,
                },
                "returnData": True,
            }
        ]
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "+0000"
    emit_event(
        self.account_id,
        self.region_name,
        "aws.cloudwatch",
        "CloudWatch Alarm State Change",
        {
            "alarmName": alarm_name,
            "configuration": configuration,
            "previousState": {"value": before[0], "reason": before[1] or "", "timestamp": stamp},
            "state": {"value": alarm.state_value, "reason": reason, "timestamp": stamp},
        },
        [alarm.alarm_arn],
    )


# ------------------------------------------------------------------ 4. endpoints take time and tell
# "SageMaker Endpoint State Change" as AWS documents it (SageMaker developer guide, "Events that Amazon SageMaker
# AI sends to Amazon EventBridge", endpoint state change; tests/aws_events/ keeps the example): EndpointStatus
# in UPPER_SNAKE from the documented list, CreationTime and LastModifiedTime as epoch-millisecond numbers, the
# variants' desired weights and counts as numbers, Tags as an object. Sandbox choice: the event lists the
# production variants only, as the documented example does; a shadow variant appears in DescribeEndpoint
# (ShadowProductionVariants), not in the event (AWS documents no shadow member for it).
EVENT_ENDPOINT_STATUS = {
    "Creating": "CREATING",
    "Updating": "UPDATING",
    "SystemUpdating": "SYSTEM_UPDATING",
    "RollingBack": "ROLLING_BACK",
    "InService": "IN_SERVICE",
    "OutOfService": "OUT_OF_SERVICE",
    "Deleting": "DELETING",
    "Failed": "FAILED",
}


def _epoch_ms(moment: datetime) -> float:
    return float(int(moment.timestamp() * 1000))


def _emit_endpoint_state(backend: Any, endpoint: Any) -> None:
    def desired(variant: dict[str, Any], field: str) -> float:
        values = (variant.get(f"Desired{field}"), variant.get(f"Current{field}"), 1.0)
        return float(next(value for value in values if value is not None))

    variants = [
        {"DesiredWeight": desired(variant, "Weight"), "DesiredInstanceCount": desired(variant, "InstanceCount")}
        for variant in endpoint.production_variants
    ]
    emit_event(
        backend.account_id,
        backend.region_name,
        "aws.sagemaker",
        "SageMaker Endpoint State Change",
        {
            "EndpointName": endpoint.endpoint_name,
            "EndpointArn": endpoint.arn,
            "EndpointConfigName": endpoint.endpoint_config_name,
            "ProductionVariants": variants,
            "EndpointStatus": EVENT_ENDPOINT_STATUS[endpoint.endpoint_status],
            "CreationTime": _epoch_ms(endpoint.creation_time),
            "LastModifiedTime": _epoch_ms(endpoint.last_modified_time),
            "Tags": {tag["Key"]: tag["Value"] for tag in endpoint.tags or []},
        },
        [endpoint.arn],
    )


def _transition(
    backend: Any,
    endpoint: Any,
    status: str,
    finish: Callable[[], str | None],
    undo: Callable[[], None] | None = None,
) -> None:
    """Status now, an event; after the (compressed) provisioning time, InService and another event.

    `finish` applies the change and returns a failure reason when the change fails: the endpoint then
    stays on what it served before, InService, with that FailureReason (as SageMaker does). A failure a test
    injected (STATE.endpoint_failures) applies nothing: `undo` then takes back what the request already
    showed (the desired weights and counts of UpdateEndpointWeightsAndCapacities).
    """
    endpoint.endpoint_status = status
    endpoint.failure_reason = None
    endpoint.last_modified_time = datetime.now(UTC)
    _emit_endpoint_state(backend, endpoint)

    def complete() -> None:
        time.sleep(STATE.endpoint_transition_seconds * STATE.time_scale)
        failure = STATE.endpoint_failures.pop(endpoint.endpoint_name, None)
        if failure is None:
            failure = finish()
        elif undo is not None:
            undo()
        endpoint.failure_reason = failure
        endpoint.endpoint_status = "Failed" if failure and status == "Creating" else "InService"
        endpoint.pending_deployment_summary = None
        endpoint.last_modified_time = datetime.now(UTC)
        _emit_endpoint_state(backend, endpoint)

    _in_background(complete)


_original_process_variants = sagemaker_models.FakeEndpoint._process_production_variants


def _process_production_variants(self: Any, production_variants: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """moto drops a variant weight of 0 (falsy); SageMaker keeps it: a variant can join without traffic."""
    processed = _original_process_variants(self, production_variants)
    for given, variant in zip(production_variants, processed, strict=True):
        if "InitialVariantWeight" in given:
            variant["CurrentWeight"] = variant["DesiredWeight"] = float(given["InitialVariantWeight"])
    return processed


def _require_in_service(endpoint: Any) -> None:
    if endpoint.endpoint_status != "InService":
        raise sagemaker_models.ValidationError(message=f'Cannot update in-progress endpoint "{endpoint.arn}".')


_original_create_endpoint = sagemaker_models.SageMakerModelBackend.create_endpoint
_original_create_model = sagemaker_models.SageMakerModelBackend.create_model
_original_create_endpoint_config = sagemaker_models.SageMakerModelBackend.create_endpoint_config
_original_create_model_response = sagemaker_responses.SageMakerResponse.create_model


# SageMaker refuses a name already taken, with a ValidationException whose message names the resource
# (recorded in public reports: 'Cannot create already existing endpoint "arn:...:endpoint/..."',
# ministryofjustice/modernisation-platform-environments#9383; 'Cannot create already existing endpoint
# configuration "arn:...:endpoint-config/..."', awslabs/spot-tagging-bot-for-digital-assets#2). moto 5.2.5
# overwrites models and endpoint configs silently.
def _refuse_existing(kind: str, arn: str) -> None:
    raise sagemaker_models.ValidationError(message=f'Cannot create already existing {kind} "{arn}".')


def _create_model(self: Any, *args: Any, **kwargs: Any) -> Any:
    name = kwargs.get("model_name", args[0] if args else "")
    if name in self._models:
        _refuse_existing("model", self._models[name].arn)
    return _original_create_model(self, *args, **kwargs)


def _create_model_response(self: Any) -> Any:
    """moto 5.2.5 ignores CreateModel's EnableNetworkIsolation (DescribeModel always says false): keep it."""
    result = _original_create_model_response(self)
    model = self.sagemaker_backend._models[self._get_param("ModelName")]
    model.enable_network_isolation = bool(self._get_param("EnableNetworkIsolation", False))
    return result


def _create_endpoint_config(
    self: Any,
    *args: Any,
    shadow_production_variants: list[dict[str, Any]] | None = None,
    vpc_config: dict[str, Any] | None = None,
    enable_network_isolation: bool = False,
    **kwargs: Any,
) -> Any:
    name = kwargs.get("endpoint_config_name", args[0] if args else "")
    if name in self.endpoint_configs:
        _refuse_existing("endpoint configuration", self.endpoint_configs[name].endpoint_config_arn)
    shadows = list(shadow_production_variants or [])
    production = kwargs.get("production_variants", args[1] if len(args) > 1 else None) or []
    if shadows:
        _refuse_shadow_config(production, shadows, kwargs.get("async_inference_config"))
    capture = kwargs.get("data_capture_config", args[2] if len(args) > 2 else None)
    _refuse_serverless_config(self, production, capture, vpc_config, enable_network_isolation)
    config = _original_create_endpoint_config(self, *args, **kwargs)
    if shadows:
        try:  # the shadow variants pass what moto checks of a production variant: instance type, model
            config.validate_production_variants(shadows)
            self.validate_production_variants(shadows)
            _refuse_shadow_models(self, [*config.production_variants, *shadows])
        except Exception:
            del self.endpoint_configs[name]
            raise
    # moto 5.2.5 drops ShadowProductionVariants; kept here, DescribeEndpointConfig answers them (moto's response
    # object is the config's attributes, camel-cased; None is left out, as for a config without a shadow)
    config.shadow_production_variants = shadows or None
    return config


# CreateEndpointConfig's ShadowProductionVariants: "If you use this field, you can only specify one variant for
# ProductionVariants and one variant for ShadowProductionVariants." (botocore's sagemaker model,
# CreateEndpointConfigInput); "SageMaker AI supports a maximum of one shadow variant per endpoint. For an endpoint
# with a shadow variant, there can be a maximum of one production variant." (SageMaker developer guide, "Create a
# shadow test", https://docs.aws.amazon.com/sagemaker/latest/dg/shadow-tests-create.html). "If your endpoint uses
# any of the following features you cannot use shadow tests on your endpoint, and your request to setup shadow
# tests will lead to validation errors": serverless inference, asynchronous inference, Marketplace containers,
# multiple-containers endpoints, multi-model endpoints, Inf1 (Inferentia-based) instances, Amazon Elastic
# Inference (SageMaker developer guide, shadow tests, "Exclusions",
# https://docs.aws.amazon.com/sagemaker/latest/dg/shadow-tests-exclusions.html). The sandbox refuses each of them
# it can tell from the request and the models (not Marketplace containers), with a ValidationException.
# Sandbox choices: the messages are the sandbox's own (no public source quotes SageMaker's); a shadow variant named
# like the production variant is refused too (AWS is silent; the two would share metrics and capture paths).
def _refuse_shadow_config(
    production: list[dict[str, Any]], shadows: list[dict[str, Any]], async_inference_config: Any
) -> None:
    def refuse(reason: str) -> None:
        raise sagemaker_models.ValidationError(message=f"Invalid ShadowProductionVariants: {reason}")

    if len(shadows) > 1:
        refuse(f"{len(shadows)} shadow variants given; an endpoint config supports a maximum of one shadow variant.")
    if len(production) > 1:
        refuse(
            f"{len(production)} production variants given; an endpoint config with a shadow variant can have a "
            "maximum of one production variant."
        )
    names = [variant.get("VariantName") for variant in [*production, *shadows]]
    if len(set(names)) < len(names):
        refuse(f'the shadow variant "{shadows[0].get("VariantName")}" has the name of the production variant.')
    if async_inference_config:
        refuse("asynchronous inference (AsyncInferenceConfig) does not support shadow variants.")
    for variant in [*production, *shadows]:
        if variant.get("ServerlessConfig"):
            refuse(
                f'variant "{variant.get("VariantName")}" is serverless; serverless inference does not support '
                "shadow variants."
            )
        if str(variant.get("InstanceType", "")).startswith("ml.inf1."):
            refuse(f'variant "{variant.get("VariantName")}" uses Inf1 instances, which do not support shadow variants.')
        if variant.get("AcceleratorType"):
            refuse(
                f'variant "{variant.get("VariantName")}" uses Elastic Inference, which does not support shadow '
                "variants."
            )


def _refuse_shadow_models(backend: Any, variants: list[dict[str, Any]]) -> None:
    for variant in variants:
        model = backend._models.get(variant.get("ModelName", ""))
        containers = (model.containers or [model.primary_container or {}]) if model else [{}]
        if len(containers) > 1:
            problem = "hosts several containers (a multiple-containers endpoint)"
        elif (containers[0] or {}).get("Mode") == "MultiModel":
            problem = "is a multi-model container (Mode MultiModel)"
        else:
            continue
        raise sagemaker_models.ValidationError(
            message=f'Invalid ShadowProductionVariants: the model of variant "{variant.get("VariantName")}" {problem}, '
            "which does not support shadow variants."
        )


# Serverless endpoints (ProductionVariant.ServerlessConfig). "Some of the features currently available for SageMaker
# AI Real-time Inference are not supported for Serverless Inference, including GPUs, AWS marketplace model packages,
# private Docker registries, Multi-Model Endpoints, VPC configuration, network isolation, data capture, multiple
# production variants, Model Monitor, and inference pipelines." (SageMaker developer guide, "Deploy models with
# Amazon SageMaker Serverless Inference", Feature exclusions,
# https://docs.aws.amazon.com/sagemaker/latest/dg/serverless-endpoints.html#serverless-endpoints-how-it-works-exclusions).
# ServerlessConfig "Specifies a serverless endpoint configuration instead of an instance-based endpoint
# configuration" (ProductionVariant.ServerlessConfig); MemorySizeInMB: "Valid values are in 1 GB increments: 1024 MB,
# 2048 MB, 3072 MB, 4096 MB, 5120 MB, or 6144 MB"; MaxConcurrency 1 to 200 (required, as MemorySizeInMB is);
# ProvisionedConcurrency 1 to 200, "Should be less than or equal to MaxConcurrency" (botocore's sagemaker model,
# ProductionVariantServerlessConfig). botocore checks on the client only the minimums (botocore/validate.py,
# range_check), and a request reaching the sandbox's HTTP server from another SDK is not checked at all, so the sandbox
# checks every limit itself (moto 5.2.5 checks MemorySizeInMB only, and only for a variant without InstanceType).
# The sandbox refuses at CreateEndpointConfig, with a ValidationException, a config with a serverless variant and:
# DataCaptureConfig, another production variant (a shadow: _refuse_shadow_config), a config-level VpcConfig or
# EnableNetworkIsolation, a model with VpcConfig, EnableNetworkIsolation, several containers (an inference pipeline),
# a multi-model container (Mode MultiModel) or an image from a private registry (ImageConfig.RepositoryAccessMode
# Vpc); and a serverless variant with InstanceType or InitialInstanceCount, or a ServerlessConfig outside its limits.
# Sandbox choices (AWS names neither the call that refuses nor the message): the messages are the sandbox's own; the
# refusal comes at CreateEndpointConfig, the first call that sees both the serverless variant and its models (moto
# 5.2.5 refuses a config whose model does not exist), and a model replaced under the same name afterwards is not
# checked again; a DataCaptureConfig is refused even with EnableCapture false (AWS lists data capture as unsupported
# without distinguishing a disabled configuration: the stricter reading); a model's container naming a model package
# is judged by the model's own fields.
SERVERLESS_MEMORY_MB = (1024, 2048, 3072, 4096, 5120, 6144)
SERVERLESS_CONCURRENCY = (1, 200)


def serverless_config_problem(serverless: dict[str, Any]) -> str | None:
    """What is wrong with a ServerlessConfig (or a ServerlessConfig with a ServerlessUpdateConfig applied), or None."""
    low, high = SERVERLESS_CONCURRENCY
    memory, maximum = serverless.get("MemorySizeInMB"), serverless.get("MaxConcurrency")
    provisioned = serverless.get("ProvisionedConcurrency")
    if memory is None or maximum is None:
        return "MemorySizeInMB and MaxConcurrency are required"
    if memory not in SERVERLESS_MEMORY_MB:
        return f"MemorySizeInMB {memory} is not one of {', '.join(map(str, SERVERLESS_MEMORY_MB))} (1 GB increments)"
    if not low <= maximum <= high:
        return f"MaxConcurrency {maximum} is outside {low}-{high}"
    if provisioned is not None and not low <= provisioned <= high:
        return f"ProvisionedConcurrency {provisioned} is outside {low}-{high}"
    if provisioned is not None and provisioned > maximum:
        return f"ProvisionedConcurrency {provisioned} is above MaxConcurrency {maximum}"
    return None


def _serverless_model_problem(backend: Any, model_name: str) -> str | None:
    model = backend._models.get(model_name)
    if model is None:
        return None  # moto refuses the config: "Could not find model"
    containers = [container or {} for container in model.containers or [model.primary_container or {}]]
    if model.vpc_config:
        return "has a VpcConfig (VPC configuration)"
    if getattr(model, "enable_network_isolation", False):
        return "has EnableNetworkIsolation (network isolation)"
    if len(containers) > 1:
        return "hosts several containers (an inference pipeline)"
    if containers[0].get("Mode") == "MultiModel":
        return "is a multi-model container (Mode MultiModel)"
    if (containers[0].get("ImageConfig") or {}).get("RepositoryAccessMode") == "Vpc":
        return "pulls its image from a private Docker registry (ImageConfig.RepositoryAccessMode Vpc)"
    return None


def _refuse_serverless_config(
    backend: Any,
    production: list[dict[str, Any]],
    data_capture_config: dict[str, Any] | None,
    vpc_config: dict[str, Any] | None,
    enable_network_isolation: bool,
) -> None:
    serverless = [variant for variant in production if "ServerlessConfig" in variant]
    if not serverless:
        return
    named = f'variant "{serverless[0].get("VariantName")}" is serverless'
    problems = [
        f'{named} and variant "{variant.get("VariantName")}" is another production variant (serverless endpoints '
        "support one production variant)"
        for variant in production
        if variant is not serverless[0]
    ][:1]
    if data_capture_config:
        problems.append(f"{named} and the config has a DataCaptureConfig (data capture)")
    if vpc_config:
        problems.append(f"{named} and the config has a VpcConfig (VPC configuration)")
    if enable_network_isolation:
        problems.append(f"{named} and the config has EnableNetworkIsolation (network isolation)")
    for variant in serverless:
        name = variant.get("VariantName")
        instances = [key for key in ("InstanceType", "InitialInstanceCount") if key in variant]
        if instances:
            problems.append(
                f'variant "{name}" has ServerlessConfig and {" and ".join(instances)}: a serverless variant has no '
                "instances"
            )
        limits = serverless_config_problem(variant["ServerlessConfig"] or {})
        if limits:
            problems.append(f'variant "{name}" has an invalid ServerlessConfig: {limits}')
        model = _serverless_model_problem(backend, str(variant.get("ModelName", "")))
        if model:
            problems.append(f'variant "{name}" is serverless and its model "{variant.get("ModelName")}" {model}')
    if problems:
        raise sagemaker_models.ValidationError(
            message="Invalid endpoint configuration for Serverless Inference: "
            + "; ".join(problems)
            + ". Serverless Inference does not support data capture, multiple production variants, VPC "
            "configuration, network isolation, multi-model endpoints, inference pipelines or private Docker registries."
        )


def _create_endpoint_config_response(self: Any) -> Any:
    """moto 5.2.5 reads no ShadowProductionVariants: passed on to the backend."""
    config = self.sagemaker_backend.create_endpoint_config(
        endpoint_config_name=self._get_param("EndpointConfigName"),
        async_inference_config=self._get_param("AsyncInferenceConfig"),
        production_variants=self._get_param("ProductionVariants"),
        data_capture_config=self._get_param("DataCaptureConfig"),
        tags=self._get_param("Tags"),
        kms_key_id=self._get_param("KmsKeyId"),
        shadow_production_variants=self._get_param("ShadowProductionVariants"),
        vpc_config=self._get_param("VpcConfig"),  # (read for the serverless checks; moto keeps neither)
        enable_network_isolation=bool(self._get_param("EnableNetworkIsolation", False)),
    )
    return sagemaker_responses.ActionResult({"EndpointConfigArn": config.endpoint_config_arn})


def shadow_variants(config: Any) -> list[dict[str, Any]]:
    """An endpoint config's ShadowProductionVariants (the config object or its DescribeEndpointConfig shape)."""
    if isinstance(config, dict):
        return list(config.get("ShadowProductionVariants") or [])
    return list(getattr(config, "shadow_production_variants", None) or [])


# A model with network isolation cannot fetch its code from S3. "If you enable network isolation, the containers
# can't make any outbound network calls, even to other AWS services such as Amazon S3" (SageMaker developer
# guide, "Run training and inference containers in internet-free mode",
# https://docs.aws.amazon.com/sagemaker/latest/dg/mkt-algo-model-internet-free.html); SageMaker itself still
# downloads the ModelDataUrl artifact. A serving container whose SAGEMAKER_SUBMIT_DIRECTORY is an s3:// URI
# downloads its code at start-up, so it never answers the health check and the deployment fails with SageMaker's
# FailureReason for that ("The primary container for production variant <variant> did not pass the ping health
# check. Please check CloudWatch logs for this endpoint.", quoted in many public reports), followed here by the
# cause a CloudWatch log would show. Code packed in the model artifact (SAGEMAKER_SUBMIT_DIRECTORY a local path,
# e.g. /opt/ml/model/code, or absent) starts fine.
# Sandbox choice: a container naming ModelPackageName runs the package's InferenceSpecification containers, with
# the container's own Environment entries over the package's. Sandbox choice: a shadow variant's model is
# provisioned with the endpoint as a production variant's is, so the same failure applies, naming the shadow
# variant in the same words (AWS documents no message of its own for a shadow variant).
def _containers_of(backend: Any, model: Any) -> list[dict[str, Any]]:
    containers = []
    for container in model.containers or [model.primary_container or {}]:
        container = container or {}
        package_name = container.get("ModelPackageName")
        if not package_name:
            containers.append(container)
            continue
        try:
            package = backend.describe_model_package(package_name)
        except Exception:  # a package gone: nothing more to know about its containers
            containers.append(container)
            continue
        for packaged in (package.inference_specification or {}).get("Containers") or [{}]:
            environment = {**(packaged.get("Environment") or {}), **(container.get("Environment") or {})}
            containers.append({**packaged, "Environment": environment})
    return containers


def _isolation_failure(backend: Any, config: dict[str, Any]) -> str | None:
    """Why a deployment of this endpoint config cannot start (a network-isolated model fetching code from S3)."""
    for variant in [*(config.get("ProductionVariants") or []), *shadow_variants(config)]:
        model = backend._models.get(variant.get("ModelName", ""))
        if model is None or not getattr(model, "enable_network_isolation", False):
            continue
        for container in _containers_of(backend, model):
            code = str((container.get("Environment") or {}).get("SAGEMAKER_SUBMIT_DIRECTORY", ""))
            if code.startswith("s3://"):
                return (
                    f"The primary container for production variant {variant['VariantName']} did not pass the ping "
                    f"health check. Please check CloudWatch logs for this endpoint. (Model {model.model_name} runs "
                    f"with network isolation, so its container cannot download its code from {code}: no outbound "
                    "call, not even to Amazon S3, leaves a network-isolated container. Pack the code into the model "
                    "artifact and set SAGEMAKER_SUBMIT_DIRECTORY to its path there, such as /opt/ml/model/code.)"
                )
    return None


def _create_endpoint(self: Any, endpoint_name: str, endpoint_config_name: str, tags: list[dict[str, str]]) -> Any:
    if endpoint_name in self.endpoints:
        _refuse_existing("endpoint", self.endpoints[endpoint_name].arn)
    endpoint = _original_create_endpoint(self, endpoint_name, endpoint_config_name, tags)
    endpoint.pending_deployment_summary = None
    config = self.describe_endpoint_config(endpoint_config_name)
    # DescribeEndpoint's ShadowProductionVariants: ProductionVariantSummary objects, "one for each model that you want
    # to host at this endpoint in shadow mode" (botocore's sagemaker model, DescribeEndpointOutput); None (left out
    # of the answer) without a shadow
    endpoint.shadow_production_variants = endpoint._process_production_variants(shadow_variants(config)) or None
    failure = _isolation_failure(self, config)
    _transition(self, endpoint, "Creating", lambda: failure)
    return endpoint


# UpdateEndpoint's capacity: "To retain the variant properties of an endpoint when updating it, set
# RetainAllVariantProperties to true. To use the variant properties specified in a new EndpointConfig call when
# updating an endpoint, set RetainAllVariantProperties to false. The default is false."; with it,
# ExcludeRetainedVariantProperties lists the VariantProperty types "to override with the values provided by
# EndpointConfig": DesiredInstanceCount (from InitialInstanceCount), DesiredWeight (from InitialVariantWeight),
# DataCaptureConfig "(Not currently supported.)" (botocore's sagemaker model, UpdateEndpointInput and
# VariantProperty). A retained variant is one of the same name on the endpoint and in the new config; it keeps
# "the latest DesiredInstanceCount from the response from the call to DescribeEndpoint, regardless of the value
# of the InitialInstanceCount field in the new EndpointConfig" (SageMaker developer guide, "Update endpoints that
# use auto scaling", https://docs.aws.amazon.com/sagemaker/latest/dg/endpoint-scaling-update.html).
# Sandbox choice: the data capture configuration always comes from the new config (AWS documents no retention of
# it), whatever RetainAllVariantProperties and ExcludeRetainedVariantProperties say. Sandbox choice: a shadow
# variant is retained by the same rule, from the endpoint's shadow variant of the same name (AWS documents
# retention for variants without distinguishing shadows).
def _variants_after_update(
    endpoint: Any, config: dict[str, Any], retain: bool, excluded: set[str], shadow: bool = False
) -> list[dict[str, Any]]:
    given = shadow_variants(config) if shadow else config["ProductionVariants"]
    variants = endpoint._process_production_variants(given)
    if not retain:
        return variants
    present = (getattr(endpoint, "shadow_production_variants", None) or []) if shadow else endpoint.production_variants
    now = {variant["VariantName"]: variant for variant in present}
    for variant in variants:
        kept = now.get(variant["VariantName"])
        if kept is None:
            continue  # new in the config: the config's values
        for prop, field_ in (("DesiredInstanceCount", "InstanceCount"), ("DesiredWeight", "Weight")):
            value = kept.get(f"Desired{field_}", kept.get(f"Current{field_}"))
            serverless = field_ == "InstanceCount" and "CurrentServerlessConfig" in variant  # no instances to keep
            if prop not in excluded and value is not None and not serverless:
                variant[f"Current{field_}"] = variant[f"Desired{field_}"] = value
    return variants


# "You cannot convert your instance-based, real-time endpoint to a serverless endpoint. If you try to update your
# real-time endpoint to serverless, you receive a ValidationError message. You can convert a serverless endpoint to
# real-time, but once you make the update, you cannot roll it back to serverless." (SageMaker developer guide, "Deploy
# models with Amazon SageMaker Serverless Inference", Feature exclusions, above). The sandbox refuses UpdateEndpoint
# to a config with a serverless variant while the endpoint's variants run on instances (ValidationException, the
# endpoint unchanged); serverless to instances, and serverless to serverless (a new fleet, Updating then InService
# as any update), go ahead. Sandbox choice: the message is the sandbox's own.
def _refuse_serverless_conversion(endpoint: Any, config_name: str, config: dict[str, Any]) -> None:
    instances = [v["VariantName"] for v in endpoint.production_variants if "CurrentServerlessConfig" not in v]
    serverless = [v["VariantName"] for v in config.get("ProductionVariants") or [] if "ServerlessConfig" in v]
    if instances and serverless:
        raise sagemaker_models.ValidationError(
            message=f'Cannot update endpoint "{endpoint.arn}" to endpoint configuration "{config_name}": the '
            f'endpoint is instance-based (variant "{instances[0]}") and the configuration\'s variant "{serverless[0]}" '
            "is serverless. An instance-based real-time endpoint cannot be converted to a serverless endpoint; "
            "create a new endpoint for the serverless configuration."
        )


def _update_endpoint_backend(
    self: Any,
    endpoint_name: str,
    endpoint_config_name: str,
    retain_all_variant_properties: bool = False,
    exclude_retained_variant_properties: list[dict[str, str]] | None = None,
) -> str:
    endpoint = self.endpoints.get(endpoint_name)
    if endpoint is None:
        arn = sagemaker_models.FakeEndpoint.arn_formatter(endpoint_name, self.account_id, self.region_name)
        raise sagemaker_models.ValidationError(message=f"Could not find endpoint '{arn}'.")
    _require_in_service(endpoint)
    config = self.describe_endpoint_config(endpoint_config_name)
    _refuse_serverless_conversion(endpoint, endpoint_config_name, config)
    autoscaling.refuse_update(self, endpoint, endpoint_config_name, config)
    excluded = {p.get("VariantPropertyType", "") for p in exclude_retained_variant_properties or []}
    variants = _variants_after_update(endpoint, config, retain_all_variant_properties, excluded)
    shadows = _variants_after_update(endpoint, config, retain_all_variant_properties, excluded, shadow=True)
    failure = _isolation_failure(self, config)

    def finish() -> str | None:
        if failure:
            return failure  # the new fleet never came up: the endpoint keeps serving its previous config
        endpoint.endpoint_config_name = endpoint_config_name
        endpoint.production_variants = variants
        endpoint.shadow_production_variants = shadows or None  # a config without a shadow ends the shadow
        endpoint.data_capture_config = config.get("DataCaptureConfig")
        return None

    # DescribeEndpoint names the config being deployed while an update is under way (botocore's sagemaker
    # model, DescribeEndpointOutput.PendingDeploymentSummary: "returned when the endpoint is creating or
    # updating with a new endpoint configuration"), with each variant's desired capacity and weight, a serverless
    # variant's DesiredServerlessConfig ("The serverless configuration requested for this deployment")
    # (PendingProductionVariantSummary), the shadow variants' in ShadowProductionVariants (PendingDeploymentSummary:
    # "one for each model hosted behind this endpoint in shadow mode ... for the in-progress deployment").
    def pending(summaries: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [
            {
                "VariantName": variant["VariantName"],
                **{
                    key: variant[key]
                    for key in ("DesiredInstanceCount", "DesiredWeight", "DesiredServerlessConfig")
                    if key in variant
                },
            }
            for variant in summaries
        ]

    endpoint.pending_deployment_summary = {
        "EndpointConfigName": endpoint_config_name,
        "ProductionVariants": pending(variants),
        **({"ShadowProductionVariants": pending(shadows)} if shadows else {}),
        "StartTime": datetime.now(UTC),
    }
    _transition(self, endpoint, "Updating", finish)
    return str(endpoint.arn)


def _update_endpoint_response(self: Any) -> Any:
    arn = self.sagemaker_backend.update_endpoint(
        endpoint_name=self._get_param("EndpointName"),
        endpoint_config_name=self._get_param("EndpointConfigName"),
        retain_all_variant_properties=bool(self._get_param("RetainAllVariantProperties", False)),
        exclude_retained_variant_properties=self._get_param("ExcludeRetainedVariantProperties") or [],
    )
    return sagemaker_responses.ActionResult({"EndpointArn": arn})


_original_update_weights = sagemaker_models.SageMakerModelBackend.update_endpoint_weights_and_capacities
_CAPACITY_FIELDS = ("Weight", "InstanceCount")


# UpdateEndpointWeightsAndCapacities: "When it receives the request, SageMaker sets the endpoint status to
# Updating. After updating the endpoint, it sets the status to InService." DescribeEndpoint's DesiredWeight and
# DesiredInstanceCount are the requested values, CurrentWeight and CurrentInstanceCount what serves (botocore's
# sagemaker model, UpdateEndpointWeightsAndCapacities and ProductionVariantSummary). moto 5.2.5 applies both at
# once and sets to None the one a request leaves out (a capacity-only change loses the weight): the sandbox keeps
# what the request does not name, shows the desired values at once and makes them current when InService.
# Sandbox choice: a shadow variant named in DesiredWeightsAndCapacities is refused with a ValidationException. AWS
# documents the operation for "variants associated with an existing endpoint" and DesiredWeightAndCapacity as
# "weight and capacity values for a production variant", saying nothing of shadow variants (botocore's sagemaker
# model); a shadow's share and capacity change with UpdateEndpoint to another config.
# A serverless variant's capacity: DesiredWeightAndCapacity.ServerlessUpdateConfig "Specifies the serverless update
# concurrency configuration for an endpoint variant": MaxConcurrency 1 to 200, ProvisionedConcurrency 1 to 200,
# "Should be less than or equal to MaxConcurrency" (botocore's sagemaker model,
# ProductionVariantServerlessUpdateConfig); DescribeEndpoint shows it as DesiredServerlessConfig at once and as
# CurrentServerlessConfig when InService, as the other desired values. Sandbox choices (AWS is silent):
# DesiredInstanceCount ("The variant's capacity") for a serverless variant, which has no instances, and
# ServerlessUpdateConfig for an instance-based variant are refused with a ValidationException, as is a
# ServerlessUpdateConfig whose result breaks the limits (serverless_config_problem).
def _serverless_capacity(endpoint: Any, desired: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The DesiredServerlessConfig each serverless variant is asked for (its ServerlessUpdateConfig applied)."""
    variants = {variant["VariantName"]: variant for variant in endpoint.production_variants}
    wanted: dict[str, dict[str, Any]] = {}
    for item in desired:
        name, update = str(item.get("VariantName")), item.get("ServerlessUpdateConfig")
        variant = variants.get(name)
        if variant is None:
            continue  # moto refuses a variant the endpoint does not have
        current = variant.get("DesiredServerlessConfig", variant.get("CurrentServerlessConfig"))
        problem = None
        if current is None and update:
            problem = "is instance-based: ServerlessUpdateConfig changes serverless variants only"
        elif current is not None and item.get("DesiredInstanceCount") is not None:
            problem = (
                "is serverless and has no instances: change its concurrency with ServerlessUpdateConfig "
                "(MaxConcurrency, ProvisionedConcurrency) instead of DesiredInstanceCount"
            )
        elif current is not None and update:
            wanted[name] = {**current, **update}
            limits = serverless_config_problem(wanted[name])
            problem = f"is serverless and its ServerlessUpdateConfig is invalid: {limits}" if limits else None
        if problem:
            raise sagemaker_models.ValidationError(
                message=f'The variant "{name}" of endpoint "{endpoint.arn}" {problem}.'
            )
    return wanted


def _update_weights(self: Any, endpoint_name: str, desired_weights_and_capacities: list[dict[str, Any]]) -> str:
    endpoint = self.endpoints.get(endpoint_name)
    if endpoint is not None:
        _require_in_service(endpoint)
        shadows = {variant["VariantName"] for variant in shadow_variants(endpoint)}
        named = [i.get("VariantName") for i in desired_weights_and_capacities if i.get("VariantName") in shadows]
        if named:
            raise sagemaker_models.ValidationError(
                message=f'The variant "{named[0]}" is a shadow variant of endpoint "{endpoint.arn}": '
                "UpdateEndpointWeightsAndCapacities changes production variants only. Update the endpoint to an "
                "endpoint configuration with the shadow variant's new weight or instance count instead."
            )
    serverless = _serverless_capacity(endpoint, desired_weights_and_capacities) if endpoint is not None else {}
    before = [dict(variant) for variant in endpoint.production_variants] if endpoint is not None else []
    arn = _original_update_weights(self, endpoint_name, desired_weights_and_capacities)  # validates
    requested = {item.get("VariantName"): item for item in desired_weights_and_capacities}
    for variant, was in zip(endpoint.production_variants, before, strict=True):
        variant.clear()
        variant.update(was)
        for field_ in _CAPACITY_FIELDS:
            value = requested.get(variant["VariantName"], {}).get(f"Desired{field_}")
            if value is not None:
                variant[f"Desired{field_}"] = value
        if variant["VariantName"] in serverless:
            variant["DesiredServerlessConfig"] = serverless[variant["VariantName"]]

    def settle(source: str, target: str) -> None:
        for variant in endpoint.production_variants:
            for field_ in (*_CAPACITY_FIELDS, "ServerlessConfig"):
                if f"{source}{field_}" in variant:
                    value = variant[f"{source}{field_}"]
                    variant[f"{target}{field_}"] = dict(value) if isinstance(value, dict) else value

    def finish() -> None:
        settle("Desired", "Current")

    _transition(self, endpoint, "Updating", finish, undo=lambda: settle("Current", "Desired"))
    return str(arn)


_original_list_endpoints = sagemaker_models.SageMakerModelBackend.list_endpoints


def _list_endpoints(self: Any, *args: Any, sort_order: str | None = None, **kwargs: Any) -> Any:
    return _original_list_endpoints(self, *args, sort_order=sort_order or "Descending", **kwargs)


# ------------------------------------------------------------------ 8. endpoints answer and are measured
@dataclass(frozen=True)
class ServingVariant:
    """A variant of an endpoint as it serves: its current weight and the model package its model runs."""

    name: str
    weight: float
    package: str  # model package ARN, or ''
    shadow: bool = False
    serverless: bool = False  # a serverless variant (ServerlessConfig): no data capture, ModelSetupTime published


def _serving_variants(account: str, region: str, endpoint_name: str) -> list[ServingVariant]:
    """The endpoint's production variants, then its shadow variant (if any)."""
    backend = sagemaker_models.sagemaker_backends[account][region]
    endpoint = backend.endpoints.get(endpoint_name)
    if endpoint is None:
        raise sagemaker_models.ValidationError(message=f"Endpoint {endpoint_name} not found.")
    config = backend.endpoint_configs[endpoint.endpoint_config_name]
    models = {v["VariantName"]: v["ModelName"] for v in [*config.production_variants, *shadow_variants(config)]}
    variants = []
    for shadow, summaries in ((False, endpoint.production_variants), (True, shadow_variants(endpoint))):
        for variant in summaries:
            model = backend._models.get(models.get(variant["VariantName"], ""))
            containers = (model.containers or [model.primary_container or {}]) if model else [{}]
            package = (containers[0] or {}).get("ModelPackageName", "")
            # InitialVariantWeight "If unspecified, it defaults to 1.0" (botocore's sagemaker model, ProductionVariant)
            weight = float(variant.get("CurrentWeight", 1.0))
            serverless = "CurrentServerlessConfig" in variant
            variants.append(ServingVariant(variant["VariantName"], weight, package, shadow, serverless))
    return variants


# The share of requests copied to a shadow variant. A shadow variant "receives a percentage of the incoming
# requests, replicated from the production variant, but does not return any responses" (SageMaker developer
# guide, "Create a shadow test", https://docs.aws.amazon.com/sagemaker/latest/dg/shadow-tests-create.html); the
# shadow test API names that percentage (ShadowModelVariantConfig.SamplingPercentage, botocore's sagemaker model),
# an endpoint config's ShadowProductionVariants has no such field.
# Sandbox choice: as public guides describe it, the shadow's variant weight relative to the production variant's
# is the share mirrored (production 1 and shadow 0.1: 10%; equal weights: every request), so a request is copied
# with probability min(1, shadow weight / production weight).
def sampling_share(production: ServingVariant, shadow: ServingVariant) -> float:
    if production.weight <= 0:
        return 1.0 if shadow.weight > 0 else 0.0
    return min(1.0, max(0.0, shadow.weight / production.weight))


def create_client(service: str, region: str = "us-east-1") -> Any:
    """A boto3 client for the sandbox's own use (outside any function)."""
    import boto3

    return boto3.client(service, region_name=region)


SERVED = serving.ServedModels(lambda: create_client("s3"))
CAPTURES = capture.CaptureWriter(lambda: create_client("s3"))


def _flush_captures_every_second() -> None:
    while True:
        time.sleep(1.0)
        if STATE.capturing:
            with contextlib.suppress(Exception):  # the sandbox may be stopping
                CAPTURES.flush()


def _serving_container(backend: Any, package_arn: str) -> dict[str, Any]:
    if not package_arn:
        return {}
    package = backend.describe_model_package(package_arn)
    containers = (package.inference_specification or {}).get("Containers") or [{}]
    return dict(containers[0])


# InvokeEndpoint on an endpoint with a shadow variant: the production variant "receives and responds to 100
# percent of the incoming inference requests"; the shadow variant receives its share of them, "replicated from the
# production variant, but does not return any responses"; "You can also optionally turn on Data Capture to log
# requests and responses of your production and shadow variants" ("Create a shadow test", above). The answer's
# x-Amzn-Invoked-Production-Variant ("Identifies the production variant that was invoked", botocore's
# sagemaker-runtime model, InvokeEndpointOutput) names the production variant; the shadow's errors and latency
# never reach the client. Data capture writes each variant's records under its own name
# (<DestinationS3Uri>/<endpoint>/<variant>/yyyy/mm/dd/hh/, sandbox/capture.py), each at InitialSamplingPercentage.
# Sandbox choices (AWS documents none of these):
#   - the copy is made whether or not the production variant answers (the request reached the endpoint), and is
#     answered in the request's own thread before the answer returns (a few milliseconds of the emulator's own
#     work; the shadow's Behaviour.latency_ms is never added);
#   - a shadow's failure (its Behaviour's error_rate, or its model refusing the request) never reaches the client
#     and writes no capture record; its metrics count the error_rate's share (publish_minute, synthetic);
#   - AWS documents no field linking a production record to its shadow copy: each record has its own eventId; the
#     copy's record holds the same endpointInput and the same inferenceTime (the request's time), and does not
#     carry the client's InferenceId, which only the production variant's record has.
def _invoke_endpoint(
    self: Any,
    endpoint_name: str,
    body: bytes,
    content_type: str = "text/csv",
    accept: str = "text/csv",
    inference_id: str | None = None,
) -> tuple[bytes, str, str]:
    backend = sagemaker_models.sagemaker_backends[self.account_id][self.region_name]
    variants = _serving_variants(self.account_id, self.region_name, endpoint_name)
    production = [v for v in variants if not v.shadow and v.weight > 0]
    if not production:
        raise sagemaker_models.ValidationError(message=f"Endpoint {endpoint_name} has no variant taking traffic.")
    chosen = random.choices(production, weights=[v.weight for v in production])[0]
    config = backend.endpoint_configs[backend.endpoints[endpoint_name].endpoint_config_name]
    capture_config = config.data_capture_config or {}
    at = datetime.now(UTC)
    try:
        answer, answer_type = _answer(
            backend, capture_config, endpoint_name, chosen, body, content_type, accept, at, inference_id
        )
        return answer, answer_type, chosen.name
    finally:
        for shadow in (v for v in variants if v.shadow):
            if random.random() < sampling_share(chosen, shadow):
                with contextlib.suppress(Exception):  # never reaches the client
                    _answer(backend, capture_config, endpoint_name, shadow, body, content_type, accept, at, None)


def _answer(
    backend: Any,
    capture_config: dict[str, Any],
    endpoint_name: str,
    variant: ServingVariant,
    body: bytes,
    content_type: str,
    accept: str,
    at: datetime,
    inference_id: str | None,
) -> tuple[bytes, str]:
    """One variant's answer to the request, captured when the endpoint captures."""
    behaviour = STATE.behaviours.get(variant.package, HEALTHY)
    if random.random() < behaviour.error_rate:
        raise JsonRESTError("ModelError", f"Received server error (500) from variant {variant.name}")
    container = _serving_container(backend, variant.package)
    if not SERVED.servable(container):
        return json.dumps({"variant": variant.name, "model_package": variant.package}).encode(), "application/json"
    try:
        answer, answer_type = SERVED.invoke(container, body, content_type, accept)
    except serving.ModelError as error:
        message = f"Received client error (400) from variant {variant.name}: {error}"
        raise JsonRESTError("ModelError", message) from error
    if behaviour.invert:
        answer = serving.inverted(answer, answer_type)
    if not variant.serverless:  # Serverless Inference does not support data capture (_refuse_serverless_config)
        CAPTURES.record(
            capture_config, endpoint_name, variant.name, body, content_type, answer, answer_type, at, inference_id
        )
    return answer, answer_type


def _invoke_endpoint_response(self: Any) -> Any:
    """moto reads the endpoint name from the body; the REST API carries it in the path. InferenceId comes in the
    X-Amzn-SageMaker-Inference-Id header (botocore's sagemaker-runtime model, InvokeEndpointInput.InferenceId: "If
    you provide a value, it is added to the captured data when you enable data capture on the endpoint")."""
    endpoint_name = self.path.split("/")[2]
    body = self.body if isinstance(self.body, bytes) else str(self.body or "").encode()
    content_type = self.headers.get("Content-Type") or "text/csv"
    accept = self.headers.get("Accept") or content_type
    inference_id = self.headers.get("X-Amzn-SageMaker-Inference-Id") or None
    answer, answer_type, variant = self.sagemakerruntime_backend.invoke_endpoint(
        endpoint_name, body, content_type, accept, inference_id
    )
    return 200, {"Content-Type": answer_type, "x-Amzn-Invoked-Production-Variant": variant}, answer


# A serverless variant publishes ModelSetupTime besides the invocation metrics: "The time it takes to launch new
# compute resources for a serverless endpoint", in Microseconds (SageMaker developer guide, "SageMaker AI endpoint
# invocation metrics", https://docs.aws.amazon.com/sagemaker/latest/dg/monitoring-cloudwatch.html); "Serverless
# endpoints can also use the Invocations4XXErrors, Invocations5XXErrors, Invocations, ModelLatency, ModelSetupTime
# and MemoryUtilization metrics" (SageMaker developer guide, "Monitor a serverless endpoint",
# https://docs.aws.amazon.com/sagemaker/latest/dg/serverless-endpoints-monitoring.html), under the same dimensions
# (EndpointName, VariantName). An instance-based variant publishes none.
# Sandbox choices: each compressed minute with requests meets one cold start, published as one ModelSetupTime
# datapoint of the version's Behaviour.setup_ms (none when it is 0), provisioned concurrency or not; the other
# serverless-only metrics (MemoryUtilization, ServerlessConcurrentExecutionsUtilization...) are not published.
def _datapoints(weight: float, behaviour: Behaviour, per_minute: int, serverless: bool = False) -> dict[str, float]:
    requests = round(per_minute * weight)
    values = {
        "Invocations": requests,
        "Invocation5XXErrors": round(requests * behaviour.error_rate),
        "ModelLatency": behaviour.latency_ms * 1000.0,
    }
    if serverless and requests and behaviour.setup_ms > 0:
        values["ModelSetupTime"] = behaviour.setup_ms * 1000.0
    return values


_UNITS = {"ModelSetupTime": "Microseconds"}


def publish_minute(account: str, region: str, endpoint_name: str, per_minute: int) -> None:
    """One (compressed) minute of traffic: each variant's AWS/SageMaker metrics, then alarm evaluation.

    A production variant's requests are `per_minute` x its weight; a shadow variant's, the requests copied to it:
    `per_minute` x its sampling share (sampling_share), with errors and latency from its own Behaviour. A shadow
    variant has its own endpoint invocation metrics (Invocations, ModelLatency, Invocation5XXErrors...: "a live
    dashboard comparing the operational metrics like model latency, and error rate aggregated, of the production
    and shadow variants", "CloudWatch metrics that you can use to analyse the performance of your variant";
    SageMaker developer guide, "Monitor a shadow test",
    https://docs.aws.amazon.com/sagemaker/latest/dg/shadow-tests-view-monitor-edit-dashboard.html), under the
    same dimensions as any variant's (EndpointName, VariantName). Variants that receive nothing (weight or share 0)
    publish nothing. A serverless variant also publishes ModelSetupTime (_datapoints).
    """
    cloudwatch = cloudwatch_models.cloudwatch_backends[account][region]
    now = datetime.now(UTC).replace(tzinfo=None)  # moto keeps metric timestamps as naive UTC
    variants = _serving_variants(account, region, endpoint_name)
    production = [v for v in variants if not v.shadow]
    for variant in variants:
        share = variant.weight
        if variant.shadow:
            share = max((sampling_share(p, variant) for p in production if p.weight > 0), default=0.0)
        if share <= 0:
            continue
        values = _datapoints(share, STATE.behaviours.get(variant.package, HEALTHY), per_minute, variant.serverless)
        dimensions = [
            {"Name": "EndpointName", "Value": endpoint_name},
            {"Name": "VariantName", "Value": variant.name},
        ]
        cloudwatch.put_metric_data(
            "AWS/SageMaker",
            [
                {
                    "MetricName": name,
                    "Value": value,
                    "Dimensions": dimensions,
                    "Timestamp": now,
                    **({"Unit": _UNITS[name]} if name in _UNITS else {}),
                }
                for name, value in values.items()
            ],
        )
    evaluate_alarms(cloudwatch)


_COMPARE = {
    "GreaterThanThreshold": lambda value, threshold: value > threshold,
    "GreaterThanOrEqualToThreshold": lambda value, threshold: value >= threshold,
    "LessThanThreshold": lambda value, threshold: value < threshold,
    "LessThanOrEqualToThreshold": lambda value, threshold: value <= threshold,
}


_RECENT_MARGIN_SECONDS = 2.0
_RECENT_LOCK = threading.Lock()


def _recent_metric_data(cloudwatch: Any, seconds: float) -> list[Any]:
    """The datapoints put in the last `seconds` (real time, plus a margin), oldest first.

    moto keeps every datapoint ever put, in the order put: scanning them all for every alarm every compressed
    minute cost a growing share of a core (4% more every 10 s of background traffic, a whole core after a few
    minutes). A datapoint put earlier than that is older than any alarm's window (its timestamp is never later
    than when it was put), so it is skipped: the backend remembers how many datapoints it held at each evaluation.
    """
    with _RECENT_LOCK:  # (one traffic thread per endpoint evaluates)
        now, data = time.monotonic(), cloudwatch.metric_data
        checkpoints: list[tuple[float, int]] = cloudwatch.__dict__.setdefault("_sandbox_checkpoints", [])
        cutoff = now - seconds - _RECENT_MARGIN_SECONDS
        start = 0
        while checkpoints and checkpoints[0][0] <= cutoff:
            start = checkpoints.pop(0)[1]  # held before the cutoff: put earlier than the window reaches
        if start:
            checkpoints.insert(0, (cutoff, start))
        checkpoints.append((now, len(data)))
        return list(data[start:])


def evaluate_alarms(cloudwatch: Any) -> None:
    """Metric alarms over their last period (compressed), as CloudWatch would: state changes emit events."""
    horizon = datetime.now(UTC).timestamp()

    def age(moment: datetime) -> float:
        return horizon - (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()

    alarms = [a for a in cloudwatch.alarms.values() if a.metric_name and a.comparison_operator in _COMPARE]
    windows = [float(a.period) * int(a.evaluation_periods) * STATE.time_scale for a in alarms]
    recent = _recent_metric_data(cloudwatch, max(windows, default=0.0))
    for alarm, window in zip(alarms, windows, strict=True):
        wanted = {(d.name, d.value) for d in alarm.dimensions}
        values = [
            datum.value
            for datum in recent
            if datum.namespace == alarm.namespace
            and datum.name == alarm.metric_name
            and hasattr(datum, "value")
            and {(d.name, d.value) for d in datum.dimensions} == wanted
            and age(datum.timestamp) <= window
        ]
        if not values:
            continue  # missing data: notBreaching, the state stays
        statistics: dict[str, Callable[[list[float]], float]] = {"Sum": sum, "Maximum": max, "Minimum": min}
        statistic = statistics.get(alarm.statistic, lambda v: sum(v) / len(v))
        breaching = _COMPARE[alarm.comparison_operator](statistic(values), float(alarm.threshold))
        state = "ALARM" if breaching else "OK"
        if alarm.state_value != state:
            reason = (
                f"Threshold Crossed: {alarm.statistic} {statistic(values):g} vs threshold {float(alarm.threshold):g}"
            )
            cloudwatch.set_alarm_state(alarm.name, reason, None, state)


@functools.cache
def traffic_bodies() -> tuple[bytes, ...]:
    """The shipped dataset's customers as a client sends them (pipeline/data/churn.csv): one text/csv row each,
    every column but the label, in the file's order, no header (the serving code's text/csv input)."""
    with dataset.DATA_PATH.open(newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        keep = [i for i, column in enumerate(header) if column != dataset.LABEL]
        bodies = []
        for row in reader:
            line = io.StringIO()
            csv.writer(line, lineterminator="\n").writerow([row[i] for i in keep])
            bodies.append(line.getvalue().encode())
    return tuple(bodies)


# Real requests per compressed minute: one per REQUESTS_PER_REAL_REQUEST of the traffic's nominal requests.
# Measured on the project's 2-core machine, with a shadow variant (two predictions a request): one real request per
# 100 nominal ones (100 a second at the defaults) saturated a core and reached only ~35 a second; one per 300 (33 a
# second) reaches ~32 a second for 0.4-0.6 of a core while the models predict (12-17 ms of CPU a request), ~0.15
# once their answers are kept (serving.ANSWERS_KEPT: after one pass over the 3,000 customers, 90 s), and gives a
# 5-second shadow ~160 pairs of captured records.
REQUESTS_PER_REAL_REQUEST = 300


class Traffic:
    """Requests reaching an endpoint, until stopped: per-minute metrics and real requests, on the compressed clock.

    Every compressed minute (60 s x the time scale) publishes each variant's synthetic metrics for `per_minute`
    requests (publish_minute). Meanwhile real requests go through the patched InvokeEndpoint, as a client's do
    (sagemaker-runtime client, text/csv, one customer of the shipped dataset each, in the file's order): max(1,
    per_minute // REQUESTS_PER_REAL_REQUEST) per compressed minute, evenly spaced, so the production variant
    answers, a shadow variant gets its copies and data capture records them for real. With the defaults (600 a
    minute, time scale 0.001) that is 2 every 60 ms, 33 a second, or fewer: a request is never sent before the
    previous one is answered, and time lost is not made up. The metrics do not count the real requests (they are
    synthetic, per compressed minute).
    """

    def __init__(self, account: str, region: str, endpoint_name: str, per_minute: int) -> None:
        self._args = (account, region, endpoint_name, per_minute)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name=f"traffic-metrics-{endpoint_name}")
        self._requests = threading.Thread(target=self._send, daemon=True, name=f"traffic-requests-{endpoint_name}")
        self.sent = 0  # real requests sent (answered or not)

    @property
    def requests_per_minute(self) -> int:
        """Real requests per compressed minute."""
        return max(1, self._args[3] // REQUESTS_PER_REAL_REQUEST)

    def _run(self) -> None:
        while not self._stop.wait(60 * STATE.time_scale):
            with contextlib.suppress(Exception):  # an endpoint being replaced answers nothing for a moment
                publish_minute(*self._args)

    def _send(self) -> None:
        _, region, endpoint_name, _ = self._args
        runtime = create_client("sagemaker-runtime", region)
        bodies = traffic_bodies()
        interval = 60 * STATE.time_scale / self.requests_per_minute
        due = time.monotonic()
        while not self._stop.is_set():
            body = bodies[self.sent % len(bodies)]
            with contextlib.suppress(Exception):  # a model error, an endpoint being created or replaced...
                runtime.invoke_endpoint(EndpointName=endpoint_name, ContentType="text/csv", Body=body)
            self.sent += 1
            due = max(due + interval, time.monotonic())  # late: the next one now, no catching up
            if self._stop.wait(max(0.0, due - time.monotonic())):
                return

    def start(self) -> Traffic:
        self._thread.start()
        self._requests.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._requests.join(timeout=5)


# ------------------------------------------------------------------ 5. state machines from CloudFormation
def _substitute(definition: str, substitutions: dict[str, Any]) -> str:
    for key, value in substitutions.items():
        definition = definition.replace("${" + key + "}", str(value))
    return definition


def _state_machine_from_cloudformation(
    cls: Any, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
) -> Any:
    properties = cloudformation_json["Properties"]
    definition = properties.get("Definition")
    text = json.dumps(definition) if definition is not None else properties.get("DefinitionString", "")
    text = _substitute(text, properties.get("DefinitionSubstitutions", {}))
    backend = sfn_parser_models.stepfunctions_parser_backends[account_id][region_name]
    return backend.create_state_machine(
        properties.get("StateMachineName", resource_name),
        text,
        properties.get("RoleArn", ""),
        tags=[{"key": tag["Key"], "value": tag["Value"]} for tag in properties.get("Tags", [])],
    )


# ------------------------------------------------------------------ 6. Step Functions fidelity
_original_start_execution = sfn_parser_models.StepFunctionsParserBackend.start_execution


def _start_execution(
    self: Any, state_machine_arn: str, name: Any = None, execution_input: Any = None, trace_header: Any = None
) -> Any:
    return _original_start_execution(self, state_machine_arn, name or str(uuid.uuid4()), execution_input, trace_header)


def _send_task_failure_response(self: Any) -> Any:
    self.stepfunction_backend.send_task_failure(
        self._get_param("taskToken"), error=self._get_param("error"), cause=self._get_param("cause")
    )
    return sfn_responses.EmptyResult()


_original_evaluation_environment = sfn_execution_worker.ExecutionWorker._get_evaluation_environment


def _evaluation_environment(self: Any) -> Any:
    """$$.Execution.StartTime is an ISO 8601 string on AWS; moto hands over a datetime."""
    env = _original_evaluation_environment(self)
    execution = env.states.context_object.context_object_data["Execution"]
    start = execution.get("StartTime")
    if isinstance(start, datetime):
        execution["StartTime"] = start.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return env


def _scaled_wait_interval(self: Any, env: Any, wait_seconds: int) -> None:
    if wait_seconds > 0:
        env.program_state_event.wait(wait_seconds * STATE.time_scale)


def _scaled_timeout(self: Any, env: Any) -> None:
    """A task's TimeoutSeconds/HeartbeatSeconds on the same compressed clock as Wait states."""
    env.stack.append(self._eval_seconds(env=env) * STATE.time_scale)


class _ScaledTime:
    """The retrier's view of `time`: sleeps are compressed, everything else is real."""

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)

    @staticmethod
    def sleep(seconds: float) -> None:
        time.sleep(seconds * STATE.time_scale)


# ------------------------------------------------------------------ 7. CloudFormation creates alarms
class _CloudFormationAlarm(CloudFormationModel):
    """AWS::CloudWatch::Alarm, which moto's CloudFormation skips."""

    def __init__(self, alarm: Any) -> None:
        self.alarm = alarm
        self.physical_resource_id = alarm.name

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::CloudWatch::Alarm"

    @staticmethod
    def cloudformation_name_type() -> str:
        return "AlarmName"

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
    ) -> _CloudFormationAlarm:
        p = cloudformation_json["Properties"]
        backend = cloudwatch_models.cloudwatch_backends[account_id][region_name]
        alarm = backend.put_metric_alarm(
            name=p.get("AlarmName", resource_name),
            namespace=p.get("Namespace"),
            metric_name=p.get("MetricName"),
            comparison_operator=p["ComparisonOperator"],
            evaluation_periods=int(p["EvaluationPeriods"]),
            period=int(p.get("Period", 60)),
            threshold=float(p.get("Threshold", 0)),
            statistic=p.get("Statistic"),
            description=p.get("AlarmDescription", ""),
            dimensions=p.get("Dimensions", []),
            alarm_actions=p.get("AlarmActions", []),
            treat_missing_data=p.get("TreatMissingData"),
        )
        return cls(alarm)

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr == "Arn"

    def get_cfn_attribute(self, attribute_name: str) -> str:
        return str(self.alarm.alarm_arn)


class _CloudFormationPipeline(CloudFormationModel):
    """AWS::SageMaker::Pipeline, which moto's CloudFormation skips."""

    def __init__(self, pipeline: Any) -> None:
        self.pipeline = pipeline
        self.physical_resource_id = pipeline.pipeline_name

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::SageMaker::Pipeline"

    @staticmethod
    def cloudformation_name_type() -> str:
        return "PipelineName"

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
    ) -> _CloudFormationPipeline:
        p = cloudformation_json["Properties"]
        definition = p["PipelineDefinition"]
        backend = sagemaker_models.sagemaker_backends[account_id][region_name]
        pipeline = backend.create_pipeline(
            pipeline_name=p.get("PipelineName", resource_name),
            pipeline_display_name=p.get("PipelineDisplayName"),
            pipeline_definition=definition.get("PipelineDefinitionBody"),
            pipeline_definition_s3_location=definition.get("PipelineDefinitionS3Location"),
            pipeline_description=p.get("PipelineDescription", ""),
            role_arn=p["RoleArn"],
            tags=p.get("Tags", []),
            parallelism_configuration=p.get("ParallelismConfiguration"),
        )
        return cls(pipeline)


# ------------------------------------------------------------------ 9. pipelines run for real
def _emit_pipeline_event(detail_type: str, detail: dict[str, Any], resources: list[str]) -> None:
    _, _, _, region, account, _ = resources[0].split(":", 5)
    if detail_type == pipeline_runner.PIPELINE_EVENT:  # keep moto's own record in step
        backend = sagemaker_models.sagemaker_backends[account][region]
        pipeline = backend.pipelines.get(resources[0].rsplit("/", 1)[-1])
        fake = pipeline.pipeline_executions.get(resources[1]) if pipeline else None
        if fake is not None:
            fake.pipeline_execution_status = detail["currentPipelineExecutionStatus"]
            fake.last_modified_time = datetime.now(UTC)
    emit_event(account, region, "aws.sagemaker", detail_type, detail, resources)


PIPELINES = pipeline_runner.LocalPipelines(
    lambda: create_client("s3"), lambda: create_client("sagemaker"), _emit_pipeline_event
)

_PARAMETER_TYPES: dict[str, Callable[[str], Any]] = {
    "Float": float,
    "Integer": int,
    "Boolean": lambda v: v.lower() == "true",
    "String": str,
}


def _execution_parameters(definition: dict[str, Any], given: list[dict[str, str]]) -> dict[str, Any]:
    declared = {p["Name"]: p for p in definition.get("Parameters", [])}
    unknown = [item["Name"] for item in given if item["Name"] not in declared]
    if unknown:
        raise sagemaker_models.ValidationError(message=f"Pipeline parameters {unknown} are not declared.")
    values = {name: p.get("DefaultValue") for name, p in declared.items()}
    for item in given:
        convert = _PARAMETER_TYPES.get(declared[item["Name"]].get("Type", "String"), str)
        try:
            values[item["Name"]] = convert(item["Value"])
        except ValueError as error:
            raise sagemaker_models.ValidationError(message=f"Pipeline parameter {item['Name']}: {error}") from error
    return values


_original_start_pipeline_execution = sagemaker_models.SageMakerModelBackend.start_pipeline_execution


def _require_pattern(operation: str, member: str, value: str | None) -> None:
    """SageMaker refuses a value outside its member's pattern (botocore's sagemaker model); moto checks none."""
    if value is None:
        return
    shape = sfn_errors.service_model("sagemaker").operation_model(operation).input_shape.members[member]
    pattern = shape.metadata.get("pattern")
    if pattern and not re.fullmatch(pattern, value):
        field = member[0].lower() + member[1:]
        raise sagemaker_models.ValidationError(
            message=f"1 validation error detected: Value '{value}' at '{field}' failed to satisfy constraint: "
            f"Member must satisfy regular expression pattern: {pattern}"
        )


def _start_pipeline_execution(
    self: Any,
    pipeline_name: str,
    pipeline_execution_display_name: str,
    pipeline_parameters: list[dict[str, Any]],
    pipeline_execution_description: str,
    parallelism_configuration: dict[str, int],
    client_request_token: str,
) -> dict[str, str]:
    _require_pattern("StartPipelineExecution", "PipelineExecutionDisplayName", pipeline_execution_display_name)
    pipeline = sagemaker_models.get_pipeline_from_name(self.pipelines, pipeline_name)
    for arn, existing in pipeline.pipeline_executions.items():  # the token makes a retried call idempotent
        if client_request_token and existing.client_request_token == client_request_token:
            return {"PipelineExecutionArn": arn}
    definition = json.loads(pipeline.pipeline_definition)
    parameters = _execution_parameters(definition, pipeline_parameters or [])
    response = _original_start_pipeline_execution(
        self,
        pipeline.pipeline_name,
        pipeline_execution_display_name,
        pipeline_parameters,
        pipeline_execution_description,
        parallelism_configuration,
        client_request_token,
    )
    arn = response["PipelineExecutionArn"]
    fake = pipeline.pipeline_executions[arn]
    fake.pipeline_execution_status = "Executing"
    execution = pipeline_runner.Execution(
        arn=arn,
        pipeline_arn=pipeline.arn,
        definition=definition,
        parameters=parameters,
        display_name=pipeline_execution_display_name or arn.rsplit("/", 1)[-1],
        description=pipeline_execution_description or "",
    )
    PIPELINES.start(execution)
    _in_background(functools.partial(PIPELINES.run, execution))
    return response


def _local_execution(arn: str) -> pipeline_runner.Execution:
    execution = PIPELINES.executions.get(arn)
    if execution is None:
        raise sagemaker_models.ValidationError(message=f"Pipeline execution {arn} does not exist.")
    return execution


_original_describe_pipeline_execution = sagemaker_models.SageMakerModelBackend.describe_pipeline_execution


def _describe_pipeline_execution(self: Any, pipeline_execution_arn: str) -> dict[str, Any]:
    described = _original_describe_pipeline_execution(self, pipeline_execution_arn)
    execution = PIPELINES.executions.get(pipeline_execution_arn)
    if execution is not None:
        described["PipelineExecutionStatus"] = execution.status
        described["FailureReason"] = execution.failure_reason or ""
        if not execution.failure_reason:
            described.pop("FailureReason")
    return described


def _list_pipeline_execution_steps_response(self: Any) -> Any:
    execution = _local_execution(self._get_param("PipelineExecutionArn"))
    steps = [record.summary() for record in execution.steps]
    if self._get_param("SortOrder") == "Ascending":
        steps.reverse()
    return sagemaker_responses.ActionResult({"PipelineExecutionSteps": steps})


# RetryPipelineExecution's ClientRequestToken: "an idempotent operation completes no more than once"
# (botocore's sagemaker model): a retried call with the same token answers as the first did.
_RETRY_TOKENS: dict[str, str] = {}


def _retry_pipeline_execution_response(self: Any) -> Any:
    arn = self._get_param("PipelineExecutionArn")
    token = self._get_param("ClientRequestToken")
    if token and _RETRY_TOKENS.get(token) == arn:
        return sagemaker_responses.ActionResult({"PipelineExecutionArn": arn})
    execution = _local_execution(arn)
    if execution.status != "Failed":
        raise JsonRESTError(
            "ConflictException", f"Pipeline execution {arn} is {execution.status}: only a Failed one can be retried."
        )
    if token:
        _RETRY_TOKENS[token] = arn
    PIPELINES.retry(execution)
    _in_background(functools.partial(PIPELINES.run, execution))
    return sagemaker_responses.ActionResult({"PipelineExecutionArn": arn})


# ------------------------------------------------------------------ 10. faults
# Who is making a call, as the thread (or the state attempt's thread) knows it: a workflow's state
# attempt, a function run inside it or by an event, or the emulator itself serving a request.
_STATE_ATTEMPT: contextvars.ContextVar[faults.StateAttempt | None] = contextvars.ContextVar(
    "sandbox_state_attempt", default=None
)
_LAYER: contextvars.ContextVar[str] = contextvars.ContextVar("sandbox_layer", default="")


@dataclass
class _RunningFunction:
    name: str
    delivery: int
    requests: int = 0


_FUNCTION: contextvars.ContextVar[_RunningFunction | None] = contextvars.ContextVar("sandbox_function", default=None)


@contextlib.contextmanager
def _running_function(name: str, delivery: int) -> Iterator[None]:
    layer, running = _LAYER.set("function"), _FUNCTION.set(_RunningFunction(name, delivery))
    try:
        yield
    finally:
        _FUNCTION.reset(running)
        _LAYER.reset(layer)


class _StateAttemptThread(threading.Thread):
    """The thread a state attempt runs in (moto starts one per attempt) keeps the attempt's context."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._context = contextvars.copy_context()

    def run(self) -> None:
        self._context.run(super().run)


_original_evaluate_with_timeout = execute_state.ExecutionState._evaluate_with_timeout


def _evaluate_with_timeout(self: Any, env: Any) -> None:
    data = env.states.context_object.context_object_data
    execution = str(data["Execution"]["Id"])
    attempt = faults.StateAttempt(
        state_machine=execution.split(":")[6],
        execution=execution,
        state=self.name,
        attempt=int(data["State"].get("RetryCount", 0)) + 1,
    )
    token = _STATE_ATTEMPT.set(attempt)
    try:
        _original_evaluate_with_timeout(self, env)
    finally:
        _STATE_ATTEMPT.reset(token)


_SDK_ATTEMPT = re.compile(r"attempt=(\d+)")


def _call_of(event_name: str, request: Any) -> faults.Call | None:
    """The call as a fault plan sees it; None for calls no plan may fault (the test's, the emulator's)."""
    layer, state = _LAYER.get(), _STATE_ATTEMPT.get()
    running = _FUNCTION.get()
    if layer == "emulator" or (layer != "function" and state is None):
        return None
    _, service, operation, *_ = [*event_name.split("."), "", ""]
    found = _SDK_ATTEMPT.search(faults.header_text(request.headers.get("amz-sdk-request", b"")))
    sdk_attempt = int(found.group(1)) if found else 1
    if layer == "function" and running is not None:
        running.requests += 1
        return faults.Call(
            service, operation, "function", state, running.name, sdk_attempt, running.delivery, running.requests
        )
    return faults.Call(service, operation, "workflow", state, sdk_attempt=sdk_attempt)


_original_stubber_call = BotocoreStubber.__call__


def _stubber_call(self: Any, event_name: str, request: Any, **kwargs: Any) -> Any:
    """moto answers every botocore request here: a fault plan gets its say first."""
    if not self.enabled:
        return None
    call = _call_of(event_name, request)
    verdict = faults.decide(call) if call is not None else None
    if verdict == "timeout":
        raise ReadTimeoutError(endpoint_url=request.url)
    if verdict == "throttle" and call is not None and (call.service, call.operation) == ("eventbridge", "PutEvents"):
        status, headers, body = faults.failed_entry_response(verdict)
        return AWSResponse(request.url, status, headers, MockRawResponse(body))
    if verdict in ("throttle", "5xx", "invalid"):
        assert call is not None
        status, headers, body = faults.error_response(call.service, verdict, dict(request.headers))
        return AWSResponse(request.url, status, headers, MockRawResponse(body))
    layer = _LAYER.set("emulator")  # calls the emulator makes while serving this one are its own
    try:
        response = _original_stubber_call(self, event_name, request, **kwargs)
    finally:
        _LAYER.reset(layer)
    if verdict == "die":
        raise faults.ProcessDied(f"after {call.operation if call else 'a call'}")
    if verdict == "lost-timeout":  # applied, then no answer
        raise ReadTimeoutError(endpoint_url=request.url)
    if verdict == "lost-5xx":  # applied, then the service's internal error
        assert call is not None
        status, headers, body = faults.error_response(call.service, "5xx", dict(request.headers))
        return AWSResponse(request.url, status, headers, MockRawResponse(body))
    return response


# The errors of the workflows' own calls, named as Step Functions names them on AWS (sandbox/sfn_errors.py
# says from which sources): a modelled code keeps its exception's name, any other is the integration's base
# exception; a call that got no answer is `<Service>.SdkClientException`; a Lambda function's own error is
# its errorType, except the runtime's (an exit, out of memory), which are Lambda.Unknown.
def _task_failure(task: Any, env: Any, error: str, cause: str) -> Any:
    failed = TaskFailedEventDetails(
        resource=task._get_sfn_resource(), resourceType=task._get_sfn_resource_type(), error=error, cause=cause
    )
    details: EventDetails = {"taskFailedEventDetails": failed}  # type: ignore[typeddict-item]
    return FailureEvent(
        env=env, error_name=CustomErrorName(error), event_type=HistoryEventType.TaskFailed, event_details=details
    )


def _optimized(integration: sfn_errors.Integration, task: Any) -> sfn_errors.Integration:
    return integration


def _name_integration_errors(cls: Any, integration: Callable[[Any], sfn_errors.Integration]) -> None:
    original = cls._from_error

    def _from_error(self: Any, env: Any, ex: Exception) -> Any:
        if isinstance(ex, BotoCoreError):
            return _task_failure(
                self, env, sfn_errors.no_answer(integration(self)), f"Unable to execute HTTP request: {ex}"
            )
        if isinstance(ex, ClientError):
            error = ex.response.get("Error", {})
            code = str(error.get("Code", "Unknown"))
            meta = ex.response.get("ResponseMetadata", {})
            named = integration(self)
            cause = (
                f"{error.get('Message', '')} (Service: {named.prefix}, Status Code: {meta.get('HTTPStatusCode')}, "
                f"Error Code: {code}, Request ID: {meta.get('RequestId')})"
            )
            return _task_failure(self, env, sfn_errors.error_name(named, code), cause)
        if isinstance(ex, lambda_eval_utils.LambdaFunctionErrorException):
            with contextlib.suppress(ValueError, TypeError, AttributeError):
                if str(json.loads(ex.payload).get("errorType", "")).startswith("Runtime."):
                    return _task_failure(self, env, sfn_errors.LAMBDA_UNHANDLED, str(ex.payload))
        return original(self, env, ex)

    cls._from_error = _from_error


# moto makes a new boto3 client for every service call of a workflow (about 10 ms of CPU each, more than
# the call); the sandbox keeps one per service and endpoint, as a long-lived service would.
_original_boto_client_for = boto_client.boto_client_for
_WORKFLOW_CLIENTS: dict[tuple[str, str, bool, int], Any] = {}
_WORKFLOW_CLIENTS_LOCK = threading.Lock()


def _shared_boto_client_for(region: str, service: str, state_credentials: Any = None) -> Any:
    key = (region, service, bool(botocore_stubber.enabled), int(moto_server_port()))
    with _WORKFLOW_CLIENTS_LOCK:
        if key not in _WORKFLOW_CLIENTS:
            _WORKFLOW_CLIENTS[key] = _original_boto_client_for(region, service, state_credentials)
        return _WORKFLOW_CLIENTS[key]


# moto parses a state machine's definition (ANTLR) again for every execution: a quarter of a second of CPU
# for the deploy workflow. The parsed program keeps no execution's state (that lives in each execution's
# environment), so executions of one definition share it.
_original_evaluation_entrypoint = sfn_execution_worker.ExecutionWorker._get_evaluation_entrypoint
_PROGRAMS: dict[str, Any] = {}


def _shared_evaluation_entrypoint(self: Any) -> Any:
    definition = self._evaluation_details.state_machine_details.definition
    with _WORKFLOW_CLIENTS_LOCK:
        if definition not in _PROGRAMS:
            _PROGRAMS[definition] = _original_evaluation_entrypoint(self)
        return _PROGRAMS[definition]


# CreateStateMachine parses the definition too, only to validate it (two seconds for the deploy workflow, for
# every stack a test deploys): a definition that parsed once is valid, and its program is the one executions use.
_original_validate_definition = sfn_parser_models.StepFunctionsParserBackend._validate_definition


def _validate_definition_once(definition: str) -> None:
    with _WORKFLOW_CLIENTS_LOCK:
        if definition in _PROGRAMS:
            return
    try:
        program = sfn_parser_models.AmazonStateLanguageParser.parse(definition)[0]
    except Exception:
        _original_validate_definition(definition=definition)  # moto's InvalidDefinition for it
        raise
    with _WORKFLOW_CLIENTS_LOCK:
        _PROGRAMS.setdefault(definition, program)


# "AWS::NoValue ... Removes the corresponding resource property when specified as a return value in the Fn::If
# intrinsic function" (CloudFormation user guide, pseudo parameters): an element of a list (a policy's Roles, say)
# given as Fn::If [condition, x, AWS::NoValue] is left out of the list. moto 5.2.5 resolves it to None and keeps it
# (IAM then looks for the role "None"). Sandbox choice: every None a list resolves to is dropped (a template's JSON
# null is the only other way to get one, and CloudFormation refuses a null in a resource's properties).
_original_clean_json = cfn_parsing.clean_json


def _clean_json(resource_json: Any, resources_map: Any) -> Any:
    if isinstance(resource_json, list):
        return [value for value in (_clean_json(item, resources_map) for item in resource_json) if value is not None]
    return _original_clean_json(resource_json, resources_map)


# moto reads every template with PyYAML's pure-Python loader, JSON ones too (two seconds for this stack's, for
# every stack a test deploys); the sandbox sends JSON: read as JSON first, as YAML when it is not.
_original_parse_template = cfn_models.Stack.parse_template


def _parse_template(template: str) -> dict[str, Any]:
    try:
        parsed = json.loads(template)
    except ValueError:
        return dict(_original_parse_template(template))
    return parsed if isinstance(parsed, dict) else dict(_original_parse_template(template))


def _install_fault_injection() -> None:
    sfn_execution_worker.ExecutionWorker._get_evaluation_entrypoint = _shared_evaluation_entrypoint
    sfn_parser_models.StepFunctionsParserBackend._validate_definition = staticmethod(_validate_definition_once)
    for module in (
        lambda_eval_utils,
        state_task_service_aws_sdk,
        state_task_service_dynamodb,
        state_task_service_events,
        state_task_service_sns,
    ):
        module.boto_client_for = _shared_boto_client_for
    BotocoreStubber.__call__ = _stubber_call
    execute_state.Thread = _StateAttemptThread  # type: ignore[misc]
    execute_state.ExecutionState._evaluate_with_timeout = _evaluate_with_timeout
    botocore.endpoint.time = _ScaledTime()  # the SDK's retry backoff, on the compressed clock
    aws_sdk = state_task_service_aws_sdk.StateTaskServiceAwsSdk
    _name_integration_errors(aws_sdk, lambda task: sfn_errors.aws_sdk(task.resource.api_name))
    for cls, service in (
        (state_task_service_lambda.StateTaskServiceLambda, "lambda"),
        (state_task_service_dynamodb.StateTaskServiceDynamoDB, "dynamodb"),
        (state_task_service_sns.StateTaskServiceSns, "sns"),
        (state_task_service_events.StateTaskServiceEvents, "events"),  # moto: States.Runtime, uncatchable
    ):
        _name_integration_errors(cls, functools.partial(_optimized, sfn_errors.OPTIMIZED[service]))


# ------------------------------------------------------------------ 11. KMS keys from CloudFormation
_original_key_from_cloudformation = kms_models.Key.create_from_cloudformation_json.__func__


def _key_from_cloudformation(cls: Any, resource_name: str, cloudformation_json: Any, *args: Any, **kwargs: Any) -> Any:
    """moto 5.2.5 passes AWS::KMS::Key Tags ({Key, Value}) to KMS's tagger, which wants {TagKey, TagValue},
    and keeps a KeyPolicy given as an object where DescribeKey and GetKeyPolicy expect JSON text."""
    properties = dict(cloudformation_json["Properties"])
    if not isinstance(properties["KeyPolicy"], str):
        properties["KeyPolicy"] = json.dumps(properties["KeyPolicy"])
    properties["Tags"] = [{"TagKey": tag["Key"], "TagValue": tag["Value"]} for tag in properties.get("Tags", [])]
    template = {**cloudformation_json, "Properties": properties}
    return _original_key_from_cloudformation(cls, resource_name, template, *args, **kwargs)


# ------------------------------------------------------------------ 12. S3 buckets send their events to EventBridge
from moto.s3 import models as s3_models  # noqa: E402
from moto.s3 import notifications as s3_notifications  # noqa: E402

# AWS::S3::Bucket's NotificationConfiguration.EventBridgeConfiguration.EventBridgeEnabled ("Enables delivery of events
# to Amazon EventBridge", a boolean, default true) and VersioningConfiguration.Status (Enabled | Suspended), as the
# CloudFormation resource schema of AWS::S3::Bucket defines them (the schema cfn-lint ships, typeName
# AWS::S3::Bucket). moto 5.2.5 creates and updates a bucket from CloudFormation with its encryption and tags only.
# Sandbox choice: the schema's other notification targets (Lambda, queue and topic configurations) are not applied.
_original_bucket_from_cloudformation = s3_models.FakeBucket.create_from_cloudformation_json.__func__
_original_bucket_update_from_cloudformation = s3_models.FakeBucket.update_from_cloudformation_json.__func__


def _apply_bucket_properties(bucket: Any, properties: dict[str, Any]) -> None:
    notification = properties.get("NotificationConfiguration") or {}  # None: Fn::If resolved to AWS::NoValue
    event_bridge = notification.get("EventBridgeConfiguration") or {}
    enabled = str(event_bridge.get("EventBridgeEnabled", "true")).lower() == "true" if event_bridge else False
    if enabled:
        bucket.notification_configuration = s3_models.NotificationConfiguration(event_bridge={})
    elif bucket.notification_configuration is not None:
        bucket.notification_configuration.event_bridge = None
    status = (properties.get("VersioningConfiguration") or {}).get("Status")
    if status:
        bucket.versioning_status = status


def _bucket_from_cloudformation(
    cls: Any, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
) -> Any:
    bucket = _original_bucket_from_cloudformation(
        cls, resource_name, cloudformation_json, account_id, region_name, **kwargs
    )
    _apply_bucket_properties(bucket, cloudformation_json.get("Properties") or {})
    return bucket


def _bucket_update_from_cloudformation(
    cls: Any, original_resource: Any, new_resource_name: str, cloudformation_json: Any, *args: Any, **kwargs: Any
) -> Any:
    bucket = _original_bucket_update_from_cloudformation(
        cls, original_resource, new_resource_name, cloudformation_json, *args, **kwargs
    )
    _apply_bucket_properties(bucket, cloudformation_json.get("Properties") or {})
    return bucket


# "Object Created" as S3 sends it to EventBridge (Amazon S3 User Guide, "EventBridge event message structure",
# https://docs.aws.amazon.com/AmazonS3/latest/userguide/ev-events.html; tests/aws_events/s3-object-created.json keeps
# the example): detail.version "0", bucket.name, object key / size / etag / version-id / sequencer, request-id,
# requester, source-ip-address, and reason, the API that created the object ("PutObject, POST Object, CopyObject, or
# CompleteMultipartUpload", "Using EventBridge",
# https://docs.aws.amazon.com/AmazonS3/latest/userguide/EventBridge.html).
# "version-id" only for a versioned bucket: LocalStack's snapshot recorded against AWS for an unversioned bucket
# (localstack/localstack, tests/aws/services/s3/test_s3_notifications_eventbridge.snapshot.json) has none. The key is
# URL-encoded: "S3 object keys in EventBridge events are URL-encoded" (AWS's own sample handling them,
# aws-samples/s3-to-lambda-patterns, eventbridge/2-existing-bucket/eventConsumer/app.js, which decodes "+" as a space
# and the rest with decodeURIComponent), as in S3's direct notifications ("red flower.jpg" becomes "red+flower.jpg",
# Amazon S3 User Guide, "Event message structure"); "/" stays, as a recorded event's key shows ("imap/spice/spin/...",
# IMAP-Science-Operations-Center/sds-data-manager, sds_data_manager/lambda_code/SDSCode/pipeline_lambdas/
# spice_indexer.py). The sequencer is upper-case hexadecimal, 18 digits, as there ("006539AA6D7936ACF5"); "a greater
# hex value indicates that the sequence came later" (the direct notification's sequencer, "Event message structure"),
# so the sandbox's comes from a clock that only goes forward: a later event on a key has a greater one. The event goes
# onto the bucket's Region's default bus like any service's (emit_event), so rules match it and its deliveries are
# tracked. moto 5.2.5 sends "eTag", `time` as a number, reason "ObjectCreated", a constant sequencer, straight to
# every rule.
# Sandbox choices:
#   - request-id ("Request ID in S3 response", the page's "Event message detail field") is 16 random upper-case
#     letters and digits, the example's form; requester ("AWS account ID or AWS service principal of requester") is
#     the bucket owner's account, the sandbox's only one; source-ip-address is 127.0.0.1 (its clients are local);
#   - POST Object's reason is "PostObject"; S3's other EventBridge events (Object Deleted, Object Tags Added, ...) are
#     not sent.
_S3_REASONS = {
    "s3:ObjectCreated:Put": "PutObject",
    "s3:ObjectCreated:Post": "PostObject",
    "s3:ObjectCreated:Copy": "CopyObject",
    "s3:ObjectCreated:CompleteMultipartUpload": "CompleteMultipartUpload",
}
_SEQUENCER_LOCK = threading.Lock()
_last_sequencer = 0


def _next_sequencer() -> str:
    global _last_sequencer
    with _SEQUENCER_LOCK:
        _last_sequencer = max(_last_sequencer + 1, time.time_ns())
        return f"{_last_sequencer:018X}"


def _send_event_bridge_message(account_id: str, bucket: Any, event_name: str, key: Any) -> None:
    reason = _S3_REASONS.get(str(getattr(event_name, "value", event_name)))
    if reason is None or (reason == "PutObject" and getattr(key, "multipart", None) is not None):
        return  # moto 5.2.5 completes a multipart upload with a PutObject, then sends CompleteMultipartUpload
    from urllib.parse import quote_plus

    obj: dict[str, Any] = {"key": quote_plus(key.name, safe="/"), "size": key.size, "etag": key.etag.strip('"')}
    if bucket.is_versioned:
        obj["version-id"] = key.version_id
    obj["sequencer"] = _next_sequencer()
    detail = {
        "version": "0",
        "bucket": {"name": bucket.name},
        "object": obj,
        "request-id": "".join(random.choices("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", k=16)),
        "requester": account_id,
        "source-ip-address": "127.0.0.1",
        "reason": reason,
    }
    try:
        emit_event(account_id, bucket.region_name, "aws.s3", "Object Created", detail, [bucket.arn])
    except Exception:  # the object is stored whatever becomes of its event, as on AWS
        logging.getLogger(__name__).exception("S3 event for s3://%s/%s not sent", bucket.name, key.name)


# ------------------------------------------------------------------ 13. batch transform jobs run for real
from moto.logs import models as logs_models  # noqa: E402

from . import transform  # noqa: E402

# CreateTransformJob (moto 5.2.5 marks the job Completed at once and writes nothing) runs the job in the background
# (sandbox/transform.py says how, and from which sources): TransformJobStatus "InProgress", then "Completed" or
# "Failed" with a FailureReason ("If the transform job failed, FailureReason describes why it failed",
# DescribeTransformJobResponse); StopTransformJob (missing in moto): "the status of the job changes to Stopping. After
# Amazon SageMaker stops the job, the status is set to Stopped" (botocore's sagemaker model). Each status emits
# "SageMaker Transform Job State Change" as the SageMaker developer guide shows it ("Events that Amazon SageMaker AI
# sends to Amazon EventBridge", transform job state change; tests/aws_events/ keeps the example): DescribeTransformJob's
# members, times as ISO 8601 text, Tags as an object, FailureReason when Failed ("If the value of TransformJobStatus is
# Failed, the event contains the FailureReason field").
# Refusals with SageMaker's words: a name taken (CreateTransformJob's errors list ResourceInUse, botocore's sagemaker
# model; Sandbox choice: the message in the words SageMaker answers a training job's, "Training job names must be
# unique within an AWS account and region, and a training job with this name already exists (arn:...)",
# aws/amazon-sagemaker-examples#3108: no transform job's is recorded); a model missing ('Could not find model
# "arn:aws:sagemaker:us-west-2:123456789098:model/test-model".', recorded in a public test of CreateTransformJob); no
# object under the input ('No S3 objects found under S3 URL "s3://..." given in input data source. Please ensure that
# the bucket exists in the selected region (us-west-2), that objects exist under that S3 prefix, and that the role
# "arn:aws:iam::...:role/..." has "s3:ListBucket" permissions on bucket "..."', CreateTransformJob's
# ValidationException in aws/amazon-sagemaker-examples#2414); a filter with a character outside
# the documented operators (transform.FILTER_OPERATORS); MaxPayloadInMB over 100 ("cannot be greater than 100 MB").
# A failed object fails the job with "ClientError: See job logs for more information" (a transform job's
# FailureReason, recorded in public reports, e.g. "21 transform jobs [...] went Failed with ClientError: See job logs
# for more information"), its cause in the job's data log, /aws/sagemaker/TransformJobs, in the form SageMaker writes
# it ("2020-10-14T04:08:19.666:[sagemaker logs]: <bucket>/<key>: ClientError: 400", then "Message:" and the container's
# answer; the first line names "MaxConcurrentTransforms=1, MaxPayloadInMB=6, BatchStrategy=MULTI_RECORD", the defaults
# of a job that set none: aws/amazon-sagemaker-examples#1620). A container the sandbox cannot serve (no ModelDataUrl and
# SAGEMAKER_PROGRAM) fails the job with "AlgorithmError: Model container failed to respond to ping" (a transform job's
# FailureReason recorded in the same kind of report).
# Sandbox choices:
#   - the InProgress event is sent at creation, without TransformStartTime (stamped when the first request is made,
#     after transform.PROVISIONING_SECONDS of compressed time) and TransformEndTime; members the request left out are
#     left out of DescribeTransformJob and of the events (MaxPayloadInMB 6, BatchStrategy MultiRecord, SplitType None
#     and CompressionType None apply all the same);
#   - the refusals SageMaker's words are not known for: S3DataType AugmentedManifestFile or Converse ("not compatible"
#     with batch transform), SplitType RecordIO or TFRecord, DataProcessing on data other than text/csv or without
#     SplitType and AssembleWith Line ("If you set input and output formats to text/csv, you must also set the
#     SplitType and AssemblyType parameters to line", developer guide), a JsonPath that is not index-based on CSV,
#     StopTransformJob on a job that is not InProgress (ValidationException), a job missing (ResourceNotFound, the
#     error botocore's model lists, in the words moto uses for DescribeTransformJob);
#   - the data log stream is <job>/<instance id>-<epoch seconds>/data-log; an error of the sandbox itself fails the job
#     with "InternalServerError: We encountered an internal error. Please try again." and its traceback in the log;
#   - Behaviour (Sandbox.behave) shapes endpoints' answers only, not a transform job's.
TRANSFORM_LOG_GROUP = "/aws/sagemaker/TransformJobs"
TRANSFORM_CLIENT_ERROR = "ClientError: See job logs for more information"
TRANSFORM_PING_ERROR = "AlgorithmError: Model container failed to respond to ping"
TRANSFORM_INTERNAL_ERROR = "InternalServerError: We encountered an internal error. Please try again."
MAX_PAYLOAD_LIMIT_MB = 100  # "The value of MaxPayloadInMB cannot be greater than 100 MB" (CreateTransformJobRequest)


def _invoke_served(container: dict[str, Any], body: bytes, content_type: str, accept: str) -> tuple[bytes, str]:
    return SERVED.invoke(container, body, content_type, accept, remember=False)


TRANSFORMS = transform.Transformer(lambda: create_client("s3"), _invoke_served)
_TRANSFORM_RUNS: dict[str, transform.Run] = {}  # job ARN -> what it does, while it runs
_TRANSFORM_LOCK = threading.Lock()


class _TransformLog:
    """The job's data log in CloudWatch Logs, lines as SageMaker writes them."""

    def __init__(self, job: Any) -> None:
        self.group = TRANSFORM_LOG_GROUP
        self.stream = f"{job.transform_job_name}/i-{uuid.uuid4().hex[:17]}-{int(time.time())}/data-log"
        _, _, _, self.region, self.account, _ = job.arn.split(":", 5)

    def write(self, *lines: str) -> None:
        backend = logs_models.logs_backends[self.account][self.region]
        backend.ensure_log_group(self.group)
        backend.ensure_log_stream(self.group, self.stream)
        now = datetime.now(UTC)
        stamp = now.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]
        events = [
            {"timestamp": int(now.timestamp() * 1000), "message": f"{stamp}:[sagemaker logs]: {line}"} for line in lines
        ]
        backend.put_log_events(self.group, self.stream, events)


def _emit_transform_state(backend: Any, job: Any) -> None:
    described = job.response_object
    members = sfn_errors.service_model("sagemaker").operation_model("DescribeTransformJob").output_shape.members
    detail = {name: described[name] for name in members if described.get(name) is not None}
    detail["Tags"] = {tag["Key"]: tag["Value"] for tag in job.tags or []}
    emit_event(
        backend.account_id,
        backend.region_name,
        "aws.sagemaker",
        "SageMaker Transform Job State Change",
        detail,
        [job.arn],
    )


def _set_transform_status(backend: Any, job: Any, status: str, failure_reason: str | None = None) -> None:
    job.transform_job_status = status
    job.failure_reason = failure_reason
    job.last_modified_time = datetime.now(UTC)
    if status in ("Completed", "Failed", "Stopped"):
        job.transform_end_time = job.last_modified_time
    _emit_transform_state(backend, job)


def _transform_refusal(message: str) -> Exception:
    return sagemaker_models.ValidationError(message=message)


def _transform_run(backend: Any, model: Any, request: dict[str, Any]) -> transform.Run:
    """What the job will do, read from its request; a request SageMaker refuses raises its ValidationException."""
    given_input = request["transform_input"] or {}
    source = ((given_input.get("DataSource") or {}).get("S3DataSource")) or {}
    data_type, uri = str(source.get("S3DataType", "")), str(source.get("S3Uri", ""))
    if data_type not in ("S3Prefix", "ManifestFile"):
        raise _transform_refusal(
            f"S3DataType {data_type} is not compatible with batch transform: use S3Prefix or ManifestFile."
        )
    split_type = given_input.get("SplitType") or "None"
    if split_type not in ("None", "Line"):
        raise _transform_refusal(f"SplitType {split_type}: the sandbox's batch transform splits Line or None only.")
    output = request["transform_output"] or {}
    content_type = str(given_input.get("ContentType") or "")
    processing = request.get("data_processing") or {}
    try:
        input_filter = transform.parse_filter("InputFilter", processing.get("InputFilter"), content_type)
        output_filter = transform.parse_filter("OutputFilter", processing.get("OutputFilter"), content_type)
    except transform.FilterError as error:
        raise _transform_refusal(str(error)) from error
    join = processing.get("JoinSource") == "Input"
    assemble_with = output.get("AssembleWith") or "None"
    if input_filter or output_filter or join:
        if not content_type.startswith("text/csv"):
            raise _transform_refusal(
                f"DataProcessing on {content_type or 'data without a ContentType'}: the sandbox's batch transform "
                "filters and joins text/csv only."
            )
        if split_type != "Line" or assemble_with != "Line":
            raise _transform_refusal(
                "DataProcessing on text/csv needs SplitType Line and AssembleWith Line: each CSV line is a record."
            )
    max_payload = request.get("max_payload_in_mb")
    max_payload = transform.DEFAULT_MAX_PAYLOAD_MB if max_payload is None else int(max_payload)
    if max_payload > MAX_PAYLOAD_LIMIT_MB:
        raise _transform_refusal(f"MaxPayloadInMB {max_payload} is greater than {MAX_PAYLOAD_LIMIT_MB} MB.")
    try:
        inputs = transform.list_inputs(create_client("s3", backend.region_name), data_type, uri)
    except Exception:
        inputs = []
    if not inputs:
        bucket = transform.split_uri(uri)[0]
        raise _transform_refusal(
            f'No S3 objects found under S3 URL "{uri}" given in input data source. Please ensure that the bucket '
            f"exists in the selected region ({backend.region_name}), that objects exist under that S3 prefix, and "
            f'that the role "{model.execution_role_arn}" has "s3:ListBucket" permissions on bucket "{bucket}".'
        )
    return transform.Run(
        containers=_containers_of(backend, model),
        inputs=inputs,
        content_type=content_type,
        accept=str(output.get("Accept") or ""),
        split_type=split_type,
        compression=given_input.get("CompressionType") or "None",
        batch_strategy=request.get("batch_strategy") or "MultiRecord",
        max_payload_mb=max_payload,
        input_filter=input_filter,
        output_filter=output_filter,
        join=join,
        output_path=str(output.get("S3OutputPath", "")),
        assemble_with=assemble_with,
        kms_key_id=output.get("KmsKeyId") or None,
    )


_original_create_transform_job = sagemaker_models.SageMakerModelBackend.create_transform_job


def _create_transform_job(self: Any, **request: Any) -> Any:
    name = request["transform_job_name"]
    if name in self.transform_jobs:
        raise JsonRESTError(
            "ResourceInUse",
            "Transform job names must be unique within an AWS account and region, and a transform job with this name "
            f"already exists ({self.transform_jobs[name].arn})",
        )
    model = self._models.get(request["model_name"])
    if model is None:
        arn = sagemaker_models.arn_formatter("model", request["model_name"], self.account_id, self.region_name)
        raise _transform_refusal(f'Could not find model "{arn}".')
    run = _transform_run(self, model, request)
    job = _original_create_transform_job(self, **request)
    job.creation_time = job.last_modified_time = datetime.now(UTC)
    job.transform_start_time = job.transform_end_time = None
    job.labeling_job_arn = job.auto_ml_job_arn = None
    _TRANSFORM_RUNS[job.arn] = run
    _set_transform_status(self, job, "InProgress")
    _in_background(functools.partial(_run_transform_job, self, job, run))
    return job


def _run_transform_job(backend: Any, job: Any, run: transform.Run) -> None:
    try:
        status, reason = _transform_outcome(job, run)
    finally:
        with _TRANSFORM_LOCK:
            _TRANSFORM_RUNS.pop(job.arn, None)
    with _TRANSFORM_LOCK:
        if run.stop.is_set():  # stopped while its last object was being uploaded
            status, reason = "Stopped", None
        _set_transform_status(backend, job, status, reason)


def _transform_outcome(job: Any, run: transform.Run) -> tuple[str, str | None]:
    """Runs the job's objects through its model; its final status and FailureReason."""
    if run.stop.wait(transform.PROVISIONING_SECONDS * STATE.time_scale):
        return "Stopped", None
    job.transform_start_time = datetime.now(UTC)
    log = _TransformLog(job)
    strategy = "SINGLE_RECORD" if run.batch_strategy == "SingleRecord" else "MULTI_RECORD"
    concurrent = job.max_concurrent_transforms or 1
    log.write(f"MaxConcurrentTransforms={concurrent}, MaxPayloadInMB={run.max_payload_mb}, BatchStrategy={strategy}")
    unservable = [container for container in run.containers if not SERVED.servable(container)]
    if unservable:
        log.write(
            f"the sandbox cannot start the container {unservable[0].get('Image', '')}: it serves only containers "
            "naming a ModelDataUrl and the SAGEMAKER_PROGRAM of their serving code"
        )
        return "Failed", TRANSFORM_PING_ERROR
    done: list[tuple[transform.InputObject, Any]] = []
    failed = False
    try:
        for item in run.inputs:
            try:
                done.append((item, TRANSFORMS.transform(run, item)))
            except transform.ObjectFailed as error:
                log.write(*error.lines)
                failed = True
        if run.stop.is_set():
            return "Stopped", None
        for item, output in done:  # only what was transformed whole, once every object was tried
            TRANSFORMS.upload(run, item, output)
    except transform.Stopped:
        return "Stopped", None
    except Exception:
        log.write(*traceback.format_exc().splitlines())
        return "Failed", TRANSFORM_INTERNAL_ERROR
    finally:
        for _, output in done:
            output.close()
    return ("Failed", TRANSFORM_CLIENT_ERROR) if failed else ("Completed", None)


def _stop_transform_job_response(self: Any) -> Any:
    name = self._get_param("TransformJobName")
    backend = self.sagemaker_backend
    job = backend.transform_jobs.get(name)
    if job is None:
        arn = sagemaker_models.FakeTransformJob.arn_formatter(name, backend.account_id, backend.region_name)
        raise JsonRESTError("ResourceNotFound", f"Could not find transform job '{arn}'.")
    with _TRANSFORM_LOCK:  # the job's own end waits: Stopping is told before Stopped
        if job.transform_job_status != "InProgress":
            raise _transform_refusal(
                f"Transform job {name} is {job.transform_job_status}: only an InProgress job can be stopped."
            )
        _set_transform_status(backend, job, "Stopping")
        run = _TRANSFORM_RUNS.get(job.arn)
        if run is not None:
            run.stop.set()
    return sagemaker_responses.ActionResult({})


# ------------------------------------------------------------------ install
def install() -> SandboxState:
    """Apply every patch once per process; returns the shared sandbox state."""
    global _installed, _STDOUT
    if _installed:
        return STATE
    _STDOUT = _ThreadStdout(sys.stdout)
    sys.stdout = _STDOUT
    os.environ = _FunctionEnviron(os.environ)  # noqa: B003 - wraps the environment, keeps all of it
    lambda_models.LambdaFunction._invoke_lambda = _invoke_lambda
    events_models.Rule.send_to_targets = _send_to_targets
    sagemaker_models.SageMakerModelBackend.update_model_package = _update_model_package
    sagemaker_models.SageMakerModelBackend.create_model_package = _create_model_package
    sagemaker_models.SageMakerModelBackend.add_tags = _add_tags
    sagemaker_models.SageMakerModelBackend.update_endpoint = _update_endpoint_backend
    sagemakerruntime_models.SageMakerRuntimeBackend.invoke_endpoint = _invoke_endpoint
    sagemaker_models.SageMakerModelBackend.start_pipeline_execution = _start_pipeline_execution
    sagemaker_models.SageMakerModelBackend.describe_pipeline_execution = _describe_pipeline_execution
    sagemaker_responses.SageMakerResponse.list_pipeline_execution_steps = _list_pipeline_execution_steps_response
    sagemaker_responses.SageMakerResponse.retry_pipeline_execution = _retry_pipeline_execution_response
    sagemakerruntime_responses.SageMakerRuntimeResponse.invoke_endpoint = _invoke_endpoint_response
    sagemaker_models.SageMakerModelBackend.create_endpoint = _create_endpoint
    sagemaker_models.SageMakerModelBackend.create_model = _create_model
    sagemaker_models.SageMakerModelBackend.create_endpoint_config = _create_endpoint_config
    sagemaker_models.FakeEndpoint._process_production_variants = _process_production_variants
    sagemaker_models.SageMakerModelBackend.update_endpoint_weights_and_capacities = _update_weights
    sagemaker_responses.SageMakerResponse.update_endpoint = _update_endpoint_response
    sagemaker_responses.SageMakerResponse.create_model = _create_model_response
    sagemaker_responses.SageMakerResponse.create_endpoint_config = _create_endpoint_config_response
    autoscaling.install()
    cloudwatch_models.CloudWatchBackend.set_alarm_state = _set_alarm_state
    sfn_models.StateMachine.create_from_cloudformation_json = classmethod(_state_machine_from_cloudformation)
    kms_models.Key.create_from_cloudformation_json = classmethod(_key_from_cloudformation)
    s3_models.FakeBucket.create_from_cloudformation_json = classmethod(_bucket_from_cloudformation)
    s3_models.FakeBucket.update_from_cloudformation_json = classmethod(_bucket_update_from_cloudformation)
    s3_notifications._send_event_bridge_message = _send_event_bridge_message
    sagemaker_models.SageMakerModelBackend.create_transform_job = _create_transform_job
    sagemaker_responses.SageMakerResponse.stop_transform_job = _stop_transform_job_response
    cfn_models.Stack.parse_template = staticmethod(_parse_template)
    sfn_parser_models.StepFunctionsParserBackend.start_execution = _start_execution
    sfn_responses.StepFunctionResponse.send_task_failure = _send_task_failure_response
    sfn_execution_worker.ExecutionWorker._get_evaluation_environment = _evaluation_environment
    wait_function.WaitFunction._wait_interval = _scaled_wait_interval
    sfn_timeout.Timeout._eval_body = _scaled_timeout
    sfn_heartbeat.Heartbeat._eval_body = _scaled_timeout
    retrier_decl.time = _ScaledTime()
    _install_fault_injection()
    # ListEndpoints' MaxResults "defaults to 10", newest first (SortBy "The default is CreationTime", SortOrder
    # "The default is Descending": botocore's sagemaker model); moto answers 100 a page, oldest first
    sagemaker_models.PAGINATION_MODEL["list_endpoints"]["limit_default"] = 10
    sagemaker_models.SageMakerModelBackend.list_endpoints = _list_endpoints
    cfn_parsing.clean_json = _clean_json  # (its own recursion goes through the module's name)
    cfn_parsing.get_model_map.cache_clear()
    cfn_parsing.get_name_type_map.cache_clear()
    logging.getLogger("moto").setLevel(logging.CRITICAL if not os.environ.get("SANDBOX_DEBUG") else logging.DEBUG)
    warnings.filterwarnings("ignore", message=".*not supported by moto's CloudFormation implementation")
    threading.Thread(target=_flush_captures_every_second, daemon=True, name="data-capture").start()
    _installed = True
    return STATE
