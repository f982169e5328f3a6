"""Faults injected into the AWS calls that workflows and functions make in the sandbox.

A fault plan looks at each call (which service and operation, who makes it: a workflow's own service
integration or a function's SDK client, in which state attempt of which execution) and decides whether
it fails, and how:

- "throttle": the service's own throttling error, with its real code and HTTP status;
- "5xx": the service's internal error (500/503);
- "timeout": botocore's ReadTimeoutError (no answer; the request never reached the service);
- "invalid": the service's validation error (400), which no retry mends;
- "lost-timeout", "lost-5xx": the service applies the call, then its answer is lost (a timeout or a 5xx
  after the change): what makes a retried create meet "already existing" and a retried update meet
  "in progress" on AWS;
- "die": the call goes through, then the process running the function dies (the Lambda runtime exits).

A throttled PutEvents is answered as EventBridge documents it for a throttled entry: HTTP 200 with
FailedEntryCount 1 and the entry's ErrorCode ThrottlingException (EventBridge user guide, "Sending events
with PutEvents": retryable entry errors are InternalFailure and ThrottlingException).

Error bodies follow each service's protocol (JSON, REST-JSON, query XML, REST-XML), so that
botocore parses the same error code and retries it (or not) as it would against AWS.
Calls the test makes itself and calls the sandbox makes for its own machinery are never faulted:
patches.py only asks a plan about calls made by a running function or by a workflow's state.

    with faults.inject(faults.FaultInState("churn-deploy", "CreateModel", "throttle")) as injection:
        ...run the workflow, sandbox.settle()...
    assert injection.injected   # the fault really happened
"""

from __future__ import annotations

import contextlib
import json
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal, Protocol

Kind = Literal["throttle", "5xx", "timeout", "invalid"]
Verdict = Literal["throttle", "5xx", "timeout", "invalid", "lost-timeout", "lost-5xx", "die"]
KINDS: tuple[Kind, ...] = ("throttle", "5xx", "timeout")  # the transient ones: a retry mends them
LOST: tuple[Verdict, ...] = ("lost-timeout", "lost-5xx")
# The calls that change something: their retry after a lost answer meets the change already made.
CHANGES = frozenset(
    {"CreateModel", "CreateEndpointConfig", "CreateEndpoint", "UpdateEndpoint", "UpdateEndpointWeightsAndCapacities"}
)
Origin = Literal["workflow", "function"]


class ProcessDied(BaseException):
    """The process running a function died mid-way. A BaseException: no handler code can catch it."""


@dataclass(frozen=True)
class StateAttempt:
    """One attempt at one state of one workflow execution (attempt 1 is the first, 2 the first retry...)."""

    state_machine: str
    execution: str
    state: str
    attempt: int


@dataclass(frozen=True)
class Call:
    """One request to an AWS service, as a fault plan sees it."""

    service: str  # botocore's service id: "sagemaker", "dynamodb", "sns", "eventbridge", "lambda", ...
    operation: str  # "DescribeModelPackage", "PutItem", ...
    origin: Origin  # a workflow's own service integration, or a function's SDK client
    state: StateAttempt | None  # the state attempt it is made in (None: a function run by an event)
    function: str = ""  # the function making it ("" for a workflow's own call)
    sdk_attempt: int = 1  # 1 for the SDK's first try, 2.. for its own retries
    delivery: int = 1  # the function's delivery attempt (an event redelivered after a failure is 2, 3)
    index: int = 0  # the function invocation's n-th request (1-based; 0 for a workflow's own call)


class FaultPlan(Protocol):
    def verdict(self, call: Call) -> Verdict | None: ...


@dataclass(frozen=True)
class FaultInState:
    """Every call made while `state` of `state_machine` is attempted fails with `kind`.

    By default only the first attempt fails, each time the state is entered, so that the state's Retry is
    what has to absorb it; a Lambda task fails at two layers, one attempt each: its invoke on the first
    attempt, then the function's own calls (past the SDK's retries) on the second.
    `every_attempt` makes the state keep failing, so that its Catch has to: the service a task calls
    stays down (for a Lambda task, the services its function calls: Lambda itself still answers).
    """

    state_machine: str
    state: str
    kind: Kind
    every_attempt: bool = False

    def verdict(self, call: Call) -> Verdict | None:
        at = call.state
        if at is None or (at.state_machine, at.state) != (self.state_machine, self.state):
            return None
        if self.every_attempt:
            return None if (call.origin, call.service) == ("workflow", "lambda") else self.kind
        layer_attempt = at.attempt if call.origin == "workflow" else at.attempt - 1
        return self.kind if layer_attempt == 1 else None


@dataclass(frozen=True)
class EveryCallOnce:
    """Every call fails once: a function's call on the SDK's first try (its retry must absorb it), a
    workflow's own call on the first attempt of each state (Step Functions does not retry it by itself:
    the state's Retry must)."""

    kind: Kind

    def verdict(self, call: Call) -> Verdict | None:
        if call.origin == "function":
            return self.kind if call.sdk_attempt == 1 else None
        return self.kind if call.state is not None and call.state.attempt == 1 else None


@dataclass(frozen=True)
class AppliedThenLost:
    """In `state` of `state_machine`, the first try of each call that changes something (CHANGES) is applied
    by the service, then its answer is lost (`lost`: a timeout or a 5xx); whoever made it (the workflow's
    own integration or the function the state invokes) only sees the failure."""

    state_machine: str
    state: str
    lost: Verdict = "lost-timeout"

    def verdict(self, call: Call) -> Verdict | None:
        at = call.state
        if at is None or (at.state_machine, at.state) != (self.state_machine, self.state):
            return None
        first = call.operation in CHANGES and call.sdk_attempt == 1 and at.attempt == 1
        return self.lost if first else None


@dataclass(frozen=True)
class DeathAfterCall:
    """The function's first delivery dies right after its `index`-th call went through."""

    function: str
    index: int

    def verdict(self, call: Call) -> Verdict | None:
        hit = call.origin == "function" and call.function == self.function and call.delivery == 1
        return "die" if hit and call.index == self.index else None


@dataclass
class Injection:
    """A plan in force, and the calls it failed (a test checks that its fault really happened)."""

    plan: FaultPlan
    injected: list[tuple[Call, Verdict]] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)  # every call the plan was asked about
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def decide(self, call: Call) -> Verdict | None:
        verdict = self.plan.verdict(call)
        with self._lock:
            self.calls.append(call)
            if verdict is not None:
                self.injected.append((call, verdict))
        return verdict


_active: Injection | None = None


@contextlib.contextmanager
def inject(plan: FaultPlan) -> Iterator[Injection]:
    """Put `plan` in force for the block (one plan at a time, for the whole process)."""
    global _active
    if _active is not None:
        raise RuntimeError("a fault plan is already in force")
    _active = Injection(plan)
    try:
        yield _active
    finally:
        _active = None


def decide(call: Call) -> Verdict | None:
    """What the plan in force does to this call (None: it goes through)."""
    active = _active
    return active.decide(call) if active is not None else None


# ------------------------------------------------------------------ what each service answers
@dataclass(frozen=True)
class ServiceError:
    code: str
    status: int
    message: str


# The codes and statuses each service documents (botocore's service models). S3 throttles with a 503.
SERVICE_ERRORS: dict[str, dict[Kind, ServiceError]] = {
    "sagemaker": {
        "throttle": ServiceError("ThrottlingException", 400, "Rate exceeded"),
        "5xx": ServiceError("InternalFailure", 500, "An internal error occurred. Try again."),
        "invalid": ServiceError("ValidationException", 400, "1 validation error detected: the request is invalid"),
    },
    "dynamodb": {
        "throttle": ServiceError(
            "ProvisionedThroughputExceededException",
            400,
            "The level of configured provisioned throughput for the table was exceeded.",
        ),
        "5xx": ServiceError("InternalServerError", 500, "Internal server error"),
    },
    "sns": {  # Publish models no throttling error: AWS's common one (API reference, "Common Errors")
        "throttle": ServiceError("Throttling", 400, "Rate exceeded"),
        "5xx": ServiceError("InternalError", 500, "Request could not be completed"),
    },
    "eventbridge": {
        "throttle": ServiceError("ThrottlingException", 400, "Rate exceeded"),
        "5xx": ServiceError("InternalException", 500, "An internal error occurred"),
    },
    "lambda": {
        "throttle": ServiceError("TooManyRequestsException", 429, "Rate Exceeded."),
        "5xx": ServiceError("ServiceException", 500, "The AWS Lambda service encountered an internal error."),
    },
    "sfn": {
        "throttle": ServiceError("ThrottlingException", 400, "Rate exceeded"),
        "5xx": ServiceError("ServiceUnavailable", 503, "Service is unavailable"),
    },
    "cloudwatch": {
        "throttle": ServiceError("Throttling", 400, "Rate exceeded"),
        "5xx": ServiceError("InternalServiceError", 500, "Internal service error"),
    },
    "application-auto-scaling": {
        "throttle": ServiceError("ThrottlingException", 400, "Rate exceeded"),
        "5xx": ServiceError("InternalServiceException", 500, "Internal service error"),
    },
    "s3": {
        "throttle": ServiceError("SlowDown", 503, "Please reduce your request rate."),
        "5xx": ServiceError("InternalError", 500, "We encountered an internal error. Please try again."),
    },
}
DEFAULT_ERRORS: dict[Kind, ServiceError] = {
    "throttle": ServiceError("ThrottlingException", 400, "Rate exceeded"),
    "5xx": ServiceError("InternalFailure", 500, "An internal error occurred"),
    "invalid": ServiceError("ValidationException", 400, "1 validation error detected: the request is invalid"),
}
# Services that moved from the query protocol tell the old code in a header (botocore reads it).
QUERY_COMPATIBLE = {"cloudwatch", "sqs"}


def service_error(service: str, kind: Kind) -> ServiceError:
    return SERVICE_ERRORS.get(service, {}).get(kind) or DEFAULT_ERRORS[kind]


def header_text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)  # botocore keeps header values as bytes


def failed_entry_response(kind: Kind) -> tuple[int, dict[str, str], bytes]:
    """PutEvents' answer when its one entry failed: 200, FailedEntryCount 1, the entry's error code."""
    code = "ThrottlingException" if kind == "throttle" else "InternalFailure"
    body = json.dumps({"FailedEntryCount": 1, "Entries": [{"ErrorCode": code, "ErrorMessage": "Rate exceeded"}]})
    return 200, {"x-amzn-RequestId": str(uuid.uuid4()), "Content-Type": "application/x-amz-json-1.1"}, body.encode()


def error_response(service: str, kind: Kind, headers: dict[str, object]) -> tuple[int, dict[str, str], bytes]:
    """(status, headers, body) of the service's error for this kind, in the protocol the request used."""
    error = service_error(service, kind)
    request_id = str(uuid.uuid4())
    fault = "Sender" if error.status < 500 else "Receiver"
    lowered = {key.lower(): header_text(value) for key, value in headers.items()}
    answer: dict[str, str] = {"x-amzn-RequestId": request_id}
    if service in QUERY_COMPATIBLE:
        answer["x-amzn-query-error"] = f"{error.code};{fault}"
    if "x-amz-target" in lowered:  # JSON protocol
        answer["Content-Type"] = "application/x-amz-json-1.1"
        return error.status, answer, json.dumps({"__type": error.code, "message": error.message}).encode()
    if lowered.get("content-type", "").startswith("application/x-www-form-urlencoded"):  # query protocol
        answer["Content-Type"] = "text/xml"
        body = (
            f"<ErrorResponse><Error><Type>{fault}</Type><Code>{error.code}</Code>"
            f"<Message>{error.message}</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>"
        )
        return error.status, answer, body.encode()
    if service == "s3":  # REST-XML
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>'
            f"<Error><Code>{error.code}</Code><Message>{error.message}</Message>"
            f"<RequestId>{request_id}</RequestId></Error>"
        )
        return error.status, {"x-amz-request-id": request_id, "Content-Type": "application/xml"}, body.encode()
    answer.update({"x-amzn-ErrorType": error.code, "Content-Type": "application/json"})  # REST-JSON
    kind_of_fault = "User" if error.status < 500 else "Service"
    return error.status, answer, json.dumps({"Type": kind_of_fault, "message": error.message}).encode()
