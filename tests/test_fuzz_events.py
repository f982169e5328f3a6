"""Property-based: bad events and payloads, thousands per function, start nothing and change nothing.

The event-driven functions (approval, alarm, pipeline status, endpoint status), given events that
tests/strategies.py derives from the valid ones in events/ and breaks, must react "rejected"
(malformed, or naming a resource of this project that does not exist) or "ignored" (well formed, but
another project's, account's or region's), raise nothing, log exactly one line naming the problem,
make no AWS call but reads and, for a rejection, keep the event with its reason in the
rejected-events queue. The functions the workflows call, and the drift monitor, given payloads their
workflow (or schedule) never sends, fail with one InvalidPayload error naming the problem before any
AWS call: the execution's history keeps it.

The stack is deployed once for the module; handlers run in-process as the sandbox's Lambda runs them
(the function's environment and context, its stdout as its log). The batch function exists in a batch
project only: its tests run on a Batch stack, deployed once after the others (pytest groups the tests by
stack). FUZZ_EXAMPLES sizes the runs.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from botocore.client import BaseClient
from hypothesis import Phase, given
from hypothesis import strategies as st
from moto.awslambda import utils as lambda_utils
from moto.sqs.models import sqs_backends

from sandbox import patches
from sandbox.core import ACCOUNT_ID, REGION, Sandbox
from tests.conftest import SandboxWorld, seeded
from tests.strategies import (
    EXAMPLES,
    BadEvent,
    bad_events,
    bad_payloads,
    event_too_big,
    fuzz_settings,
    step_payloads,
)

EVENT_FUNCTIONS = {
    "approval": "churn-approval",
    "alarm": "churn-alarm",
    "pipeline_status": "churn-pipeline-status",
    "endpoint_status": "churn-endpoint-status",
    "batch": "churn-batch",  # S3's "Object Created" and the transform jobs' ends
}
STEP_FUNCTIONS = {
    "canary": "churn-canary",
    "endpoint_update": "churn-endpoint-update",
    "retrain": "churn-retrain",
    "drift_monitor": "churn-drift-monitor",
    "batch": "churn-batch",  # the batch workflow's steps
}
SERVING_KINDS = {"batch": "Batch"}  # functions only a stack of that kind has (the others: every stack has them)
READS = ("Describe", "List", "Get", "Query", "Scan", "BatchGet", "Head")


@dataclass(frozen=True)
class Call:
    service: str
    operation: str
    params: dict[str, Any]

    @property
    def reads(self) -> bool:
        return self.operation.startswith(READS)


class AwsCalls:
    """Every botocore call this thread makes while recording (the handlers run in the test's thread)."""

    def __init__(self) -> None:
        self._local = threading.local()

    def wrap(self, make_api_call: Callable[..., Any]) -> Callable[..., Any]:
        def recorded(client: Any, operation: str, params: dict[str, Any]) -> Any:
            calls = getattr(self._local, "calls", None)
            if calls is not None:
                calls.append(Call(client.meta.service_model.service_name, operation, params))
            return make_api_call(client, operation, params)

        return recorded

    @contextlib.contextmanager
    def recording(self) -> Iterator[list[Call]]:
        calls: list[Call] = []
        self._local.calls = calls
        try:
            yield calls
        finally:
            self._local.calls = None


@dataclass(frozen=True)
class Handled:
    result: Any
    error: str | None
    log_lines: list[Any]  # the function's own lines (JSON ones parsed), without the metrics (EMF) lines
    calls: list[Call]


def on_its_stack(functions: dict[str, str]) -> list[Any]:
    """(serving kind, function) parameters, each function on a stack that has it."""
    return [pytest.param(SERVING_KINDS.get(function, "RealTime"), function, id=function) for function in functions]


@pytest.fixture(scope="module", params=["RealTime"])
def world(request: pytest.FixtureRequest) -> Iterator[SandboxWorld]:
    """The project deployed and seeded with the serving kind a test asks for (one sandbox at a time: the emulator
    is the process's), kept for the module's next tests of that kind."""
    with Sandbox() as sandbox:
        yield seeded(sandbox, ServingKind=request.param)


@pytest.fixture(scope="module")
def aws_calls() -> Iterator[AwsCalls]:
    calls = AwsCalls()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(BaseClient, "_make_api_call", calls.wrap(BaseClient._make_api_call))
        yield calls


def _parsed(line: str) -> Any:
    try:
        return json.loads(line)
    except ValueError:
        return line


class FunctionStdout(io.TextIOBase):
    """What a function writes while it runs: its log lines and its metrics. Lambda splits lines at "\\n" only."""

    def __init__(self) -> None:
        self.parts: list[str] = []

    def write(self, text: str) -> int:
        self.parts.append(text)
        return len(text)

    def lines(self) -> list[Any]:
        return [_parsed(line) for line in "".join(self.parts).split("\n") if line.strip()]


@contextlib.contextmanager
def stdout_of(service: str) -> Iterator[FunctionStdout]:
    """The function's stdout, whatever pytest's capture did to sys.stdout when its logger was made."""
    stdout = FunctionStdout()
    handlers = [h for h in logging.getLogger(service).handlers if isinstance(h, logging.StreamHandler)]
    previous = [handler.setStream(stdout) for handler in handlers]
    try:
        with contextlib.redirect_stdout(stdout):  # print()ed metrics, and a logger made on this call
            yield stdout
    finally:
        for handler, stream in zip(handlers, previous, strict=True):
            handler.setStream(stream)


def handle(aws_calls: AwsCalls, function_name: str, event: Any) -> Handled:
    """Run the function's handler on one event, as the sandbox's Lambda would."""
    function = lambda_utils.get_backend(ACCOUNT_ID, REGION).get_function(function_name)
    with stdout_of(function.environment_vars["POWERTOOLS_SERVICE_NAME"]) as stdout, aws_calls.recording() as calls:
        invocation = patches.run_function(function, event)
    patches.STATE.invocations.remove(invocation)  # thousands of events, some of 300 KB: not kept for the run
    own = [line for line in stdout.lines() if not (isinstance(line, dict) and "_aws" in line)]  # not the metrics
    return Handled(invocation.result, invocation.error, own, calls)


def kept_events(world: SandboxWorld) -> list[dict[str, Any]]:
    """Take everything the rejected-events queue holds (from the emulator's queue itself: thousands of
    ReceiveMessage calls through HTTP would take most of the run)."""
    queue = world.stack.outputs["RejectedEventsQueueUrl"].rsplit("/", 1)[-1]
    backend = sqs_backends[ACCOUNT_ID][REGION]
    messages = backend.receive_message(queue, count=10, wait_seconds_timeout=0, visibility_timeout=30)
    for message in messages:
        backend.delete_message(queue, str(message.receipt_handle))
    return [json.loads(message.body) for message in messages]


def check_bad_event(world: SandboxWorld, aws_calls: AwsCalls, function: str, bad: BadEvent) -> None:
    handled = handle(aws_calls, EVENT_FUNCTIONS[function], bad.event)
    kept = kept_events(world)

    assert handled.error is None, f"{bad}: the handler raised {handled.error}"
    reaction = handled.result
    assert reaction["action"] == bad.reaction, f"{bad}: {reaction}"
    assert any(word.lower() in reaction["reason"].lower() for word in bad.mentions), f"{bad}: {reaction}"
    assert len(handled.log_lines) == 1, f"{bad}: {handled.log_lines}"
    [line] = handled.log_lines
    assert (line["level"], line["message"]) == ("ERROR" if bad.reaction == "rejected" else "INFO", reaction["reason"])
    changes = [call for call in handled.calls if not call.reads]
    if bad.reaction == "ignored":
        assert (changes, kept) == ([], []), f"{bad}: {changes}"
        return
    queue = world.stack.outputs["RejectedEventsQueueUrl"]
    assert [(c.service, c.operation, c.params["QueueUrl"]) for c in changes] == [("sqs", "SendMessage", queue)], bad
    [message] = kept
    assert message["reason"] == reaction["reason"]
    assert message["event"] == json.loads(json.dumps(bad.event)), bad


def check_bad_payload(aws_calls: AwsCalls, function: str, bad: BadEvent) -> None:
    handled = handle(aws_calls, STEP_FUNCTIONS[function], bad.event)

    assert handled.error is not None, f"{bad}: the handler returned {handled.result}"
    error, _, message = handled.error.partition(": ")
    assert error == "InvalidPayload", f"{bad}: {handled.error[:500]}"
    assert any(word in message for word in bad.mentions), f"{bad}: {message[:500]}"
    assert handled.calls == [], f"{bad}: {handled.calls[:3]}"
    assert [line for line in handled.log_lines if isinstance(line, dict)] == [], bad  # the error is the report


def run_bad_events(
    world: SandboxWorld,
    aws_calls: AwsCalls,
    function: str,
    examples: int,
    events: st.SearchStrategy[BadEvent] | None = None,
    **overrides: Any,
) -> None:
    @fuzz_settings(examples, **overrides)
    @given(bad=bad_events(function) if events is None else events)
    def every_bad_event_is_set_aside_or_ignored(bad: BadEvent) -> None:
        check_bad_event(world, aws_calls, function, bad)

    every_bad_event_is_set_aside_or_ignored()


def run_bad_payloads(aws_calls: AwsCalls, function: str, examples: int, **overrides: Any) -> None:
    @fuzz_settings(examples, **overrides)
    @given(bad=bad_payloads(function))
    def every_bad_payload_fails_before_any_call(bad: BadEvent) -> None:
        check_bad_payload(aws_calls, function, bad)

    every_bad_payload_fails_before_any_call()


def what_users_see(world: SandboxWorld) -> dict[str, Any]:
    """Workflows started, ledger entries, the endpoint's configuration (a batch project has none: its transform
    jobs), pipeline runs."""
    sfn = world.client("stepfunctions")
    sagemaker = world.client("sagemaker")
    seen = {
        "executions": sum(
            len(sfn.list_executions(stateMachineArn=machine["stateMachineArn"])["executions"])
            for machine in sfn.list_state_machines()["stateMachines"]
        ),
        "ledger": world.client("dynamodb").scan(TableName=world.stack.ledger_table, Select="COUNT")["Count"],
        "transform jobs": len(sagemaker.list_transform_jobs()["TransformJobSummaries"]),
        "runs": len(sagemaker.list_pipeline_executions(PipelineName="churn-pipeline")["PipelineExecutionSummaries"]),
    }
    if world.stack.parameters["ServingKind"] != "Batch":
        seen["endpoint"] = sagemaker.describe_endpoint(EndpointName=world.stack.endpoint_name)["EndpointConfigName"]
    return seen


@pytest.mark.parametrize(("world", "function"), on_its_stack(EVENT_FUNCTIONS), indirect=["world"], scope="module")
def test_bad_events_are_set_aside_or_ignored_and_change_nothing(
    world: SandboxWorld, aws_calls: AwsCalls, function: str
) -> None:
    before = what_users_see(world)

    run_bad_events(world, aws_calls, function, EXAMPLES)

    assert what_users_see(world) == before


@pytest.mark.parametrize(("world", "function"), on_its_stack(EVENT_FUNCTIONS), indirect=["world"], scope="module")
def test_events_bigger_than_eventbridge_delivers_are_set_aside_whole(
    world: SandboxWorld, aws_calls: AwsCalls, function: str
) -> None:
    before = what_users_see(world)

    run_bad_events(world, aws_calls, function, max(1, EXAMPLES // 50), event_too_big(function))

    assert what_users_see(world) == before


@pytest.mark.parametrize(("world", "function"), on_its_stack(STEP_FUNCTIONS), indirect=["world"], scope="module")
def test_payloads_no_workflow_sends_fail_before_any_aws_call(
    world: SandboxWorld, aws_calls: AwsCalls, function: str
) -> None:
    before = what_users_see(world)

    run_bad_payloads(aws_calls, function, max(1, EXAMPLES // 2))

    assert what_users_see(world) == before


@pytest.mark.parametrize(
    ("function", "action"), [(function, action) for function in STEP_FUNCTIONS for action in step_payloads(function)]
)
def test_what_the_workflows_and_the_schedule_send_passes_the_check(function: str, action: str) -> None:
    from mlops import payloads
    from mlops.settings import Settings

    sent = step_payloads(function)[action]
    settings = Settings("churn", "churn-models", "churn-endpoint", "churn-pipeline", "churn-ledger", "unused")
    if function == "drift_monitor":
        payloads.check_schedule(sent)
        payloads.check_schedule({})  # a run by hand
        return
    checked = {
        "canary": (payloads.CANARY_PAYLOADS, ("deploy", "rollback")),
        "endpoint_update": (payloads.ENDPOINT_UPDATE_PAYLOADS, ("deploy", "rollback")),
        "retrain": (payloads.RETRAIN_PAYLOADS, ("retrain",)),
        "batch": (payloads.BATCH_PAYLOADS, ("batch",)),
    }[function]
    assert payloads.check_payload(sent, checked[0], settings, checked[1]).Action == action


@pytest.mark.parametrize(
    ("function", "module", "runs"),
    [("canary", "canary.app", "ACTIONS"), ("retrain", "retrain.app", "ACTIONS"), ("batch", "batch.app", "STEPS")],
)
def test_every_action_a_function_runs_has_a_payload_check(
    function: str, module: str, runs: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlops import payloads

    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")  # the app makes its clients on import
    app = importlib.import_module(module)
    checked = {
        "canary": payloads.CANARY_PAYLOADS,
        "retrain": payloads.RETRAIN_PAYLOADS,
        "batch": payloads.BATCH_PAYLOADS,
    }[function]
    assert set(getattr(app, runs)) == set(checked)


# ---------------------------------------------------------------- the properties can fail
QUICK: dict[str, Any] = {"phases": [Phase.generate], "report_multiple_bugs": False}


def test_the_event_property_fails_for_a_handler_that_raises_on_a_well_formed_event(
    world: SandboxWorld, aws_calls: AwsCalls, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlops.events import MalformedEvent, ModelPackageEvent, parse_event

    approval = importlib.import_module("approval.app")
    working = approval.handler

    def broken(event: Any, context: Any) -> Any:
        try:
            parse_event(event, ModelPackageEvent)
        except MalformedEvent:
            return working(event, context)
        raise RuntimeError("cannot handle a well-formed event")

    monkeypatch.setattr(approval, "handler", broken)

    with pytest.raises(AssertionError, match="the handler raised RuntimeError"):
        run_bad_events(world, aws_calls, "approval", 300, **QUICK)


def test_the_payload_property_fails_for_a_handler_without_its_payload_check(
    world: SandboxWorld, aws_calls: AwsCalls, monkeypatch: pytest.MonkeyPatch
) -> None:
    canary = importlib.import_module("canary.app")
    monkeypatch.setattr(canary, "check_payload", lambda *args, **kwargs: None)

    with pytest.raises(AssertionError):
        run_bad_payloads(aws_calls, "canary", 100, **QUICK)
