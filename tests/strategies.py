"""Hypothesis strategies that break the valid events in events/ the ways bad input arrives.

Each strategy yields a `BadEvent`: the broken event, what a handler must do with it (reject it, or
ignore it when it is well formed but not this project's) and the words one of which the handler's
reason must contain (the field it names, or the problem). The fields listed per function are the
ones AWS documents and the function reads: a handler that stops checking one of them fails.
"""

from __future__ import annotations

import copy
import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from tests.conftest import EVENTS

ACCOUNT = "123456789012"
REGION = "us-east-1"
OTHER_ACCOUNT = "210987654321"

# Sizing, for make test: FUZZ_EXAMPLES events per event-driven function (about 10 ms each here; the
# workflow-step functions get half as many payloads, events over EventBridge's 256 KB a fiftieth) and
# FUZZ_INPUT_EXAMPLES manual inputs per workflow (a tenth of them through the whole workflow). Set them
# higher for a deeper run. Derandomized, no example database: a failure is a failure on every run.
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "2000"))
INPUT_EXAMPLES = int(os.environ.get("FUZZ_INPUT_EXAMPLES", "100"))


def fuzz_settings(max_examples: int, **overrides: Any) -> settings:
    chosen: dict[str, Any] = {
        "max_examples": max_examples,
        "derandomize": True,
        "database": None,
        "deadline": None,
        "print_blob": False,
        "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large],
    }
    return settings(**{**chosen, **overrides})


Path_ = tuple[str, ...]


@dataclass(frozen=True)
class BadEvent:
    event: Any
    problem: str  # what was broken, as the failure report shows it
    reaction: str  # "rejected" or "ignored"
    mentions: tuple[str, ...]  # the reason names one of these

    def __repr__(self) -> str:  # a 300 KB event would drown the report
        return f"BadEvent({self.problem!r}, expect {self.reaction}, event {json.dumps(self.event, default=str)[:400]})"


@dataclass(frozen=True)
class Field:
    """A field the function reads: its JSON type, whether AWS always sends it, the longest value AWS allows."""

    path: Path_
    kind: str  # "str", "int", "obj", "list", "time" (ISO 8601 text or epoch milliseconds: AWS's examples use both)
    required: bool = True
    limit: int | None = None
    may_be_empty: bool = False
    detail_type: str = ""  # only in events of this detail-type ("": in every event the function takes)

    @property
    def name(self) -> str:
        return ".".join(self.path)


ENVELOPE = (
    Field(("version",), "str"),
    Field(("id",), "str"),
    Field(("source",), "str"),
    Field(("detail-type",), "str"),
    Field(("account",), "str"),
    Field(("time",), "time", limit=64),
    Field(("region",), "str"),
    Field(("resources",), "list"),
    Field(("detail",), "obj"),
)

OBJECT_CREATED = "Object Created"
TRANSFORM_JOB_CHANGE = "SageMaker Transform Job State Change"
DETAIL_FIELDS: dict[str, tuple[Field, ...]] = {
    "approval": (
        Field(("detail", "ModelPackageGroupName"), "str", limit=63),
        Field(("detail", "ModelPackageVersion"), "int"),
        Field(("detail", "ModelPackageArn"), "str", limit=2048),
        Field(("detail", "ModelPackageStatus"), "str"),
        Field(("detail", "ModelApprovalStatus"), "str"),
        Field(("detail", "LastModifiedTime"), "str", limit=64),
        Field(("detail", "CreationTime"), "str", required=False, limit=64),
    ),
    "alarm": (
        Field(("detail", "alarmName"), "str", limit=255),
        Field(("detail", "state"), "obj"),
        Field(("detail", "state", "value"), "str"),
        Field(("detail", "state", "timestamp"), "str", limit=64),
        Field(("detail", "state", "reason"), "str", required=False, limit=1023, may_be_empty=True),
        Field(("detail", "previousState"), "obj", required=False),
        Field(("detail", "previousState", "value"), "str"),
    ),
    "pipeline_status": (
        Field(("detail", "pipelineArn"), "str", limit=2048),
        Field(("detail", "pipelineExecutionArn"), "str", limit=2048),
        Field(("detail", "currentPipelineExecutionStatus"), "str"),
        Field(("detail", "previousPipelineExecutionStatus"), "str", required=False),
        Field(("detail", "executionStartTime"), "str", required=False, limit=64),
        Field(("detail", "executionEndTime"), "str", required=False, limit=64),
        Field(("detail", "pipelineExecutionDisplayName"), "str", required=False, limit=256, may_be_empty=True),
    ),
    "endpoint_status": (
        Field(("detail", "EndpointName"), "str", limit=63),
        Field(("detail", "EndpointConfigName"), "str", limit=63),
        Field(("detail", "EndpointStatus"), "str"),
        Field(("detail", "LastModifiedTime"), "time", limit=64),
        Field(("detail", "CreationTime"), "time", required=False, limit=64),
        Field(("detail", "EndpointArn"), "str", required=False, limit=2048),
    ),
    # Two kinds of events: a file landing ("version-id" only from a versioned bucket; S3 always sends the ETag and
    # sequencer, which the model takes as they come) and a transform job's end (FailureReason only when it failed).
    "batch": (
        Field(("detail", "bucket"), "obj", detail_type=OBJECT_CREATED),
        Field(("detail", "bucket", "name"), "str", limit=63, detail_type=OBJECT_CREATED),
        Field(("detail", "object"), "obj", detail_type=OBJECT_CREATED),
        Field(("detail", "object", "key"), "str", limit=1024, detail_type=OBJECT_CREATED),
        Field(("detail", "object", "size"), "int", required=False, detail_type=OBJECT_CREATED),
        Field(("detail", "object", "etag"), "str", False, 128, may_be_empty=True, detail_type=OBJECT_CREATED),
        Field(("detail", "object", "version-id"), "str", required=False, limit=1024, detail_type=OBJECT_CREATED),
        Field(("detail", "object", "sequencer"), "str", False, 64, may_be_empty=True, detail_type=OBJECT_CREATED),
        Field(("detail", "TransformJobName"), "str", limit=63, detail_type=TRANSFORM_JOB_CHANGE),
        Field(("detail", "TransformJobStatus"), "str", limit=64, detail_type=TRANSFORM_JOB_CHANGE),
        Field(("detail", "FailureReason"), "str", False, 1024, may_be_empty=True, detail_type=TRANSFORM_JOB_CHANGE),
        Field(("detail", "TransformJobArn"), "str", required=False, limit=2048, detail_type=TRANSFORM_JOB_CHANGE),
    ),
}

DETAIL_TYPES = {
    "approval": "SageMaker Model Package State Change",
    "alarm": "CloudWatch Alarm State Change",
    "pipeline_status": "SageMaker Model Building Pipeline Execution Status Change",
    "endpoint_status": "SageMaker Endpoint State Change",
}
FOREIGN_DETAIL_TYPES = [
    *DETAIL_TYPES.values(),
    "SageMaker Endpoint Deployment State Change",
    "SageMaker Model Building Pipeline Execution Step Status Change",
    "EC2 Instance State-change Notification",
    "Scheduled Event",
    "MLOps Deployment Outcome",
    OBJECT_CREATED,
    TRANSFORM_JOB_CHANGE,
]
FOREIGN_SOURCES = ["aws.sagemaker", "aws.cloudwatch", "aws.ec2", "aws.events", "aws.s3", "churn.mlops", "AWS.SAGEMAKER"]


# ---------------------------------------------------------------- reading and changing events by path
def base_events(function: str) -> list[dict[str, Any]]:
    """The function's valid events (acted on or ignored), from events/<function>/ (its workflow's payloads, kept
    there too for a function that takes both, are no events: they carry no detail-type)."""
    files = [p for p in sorted((EVENTS / function).glob("*.json")) if not p.name.startswith("malformed-")]
    return [event for event in map(_read, files) if "detail-type" in event]


def acted_on(function: str) -> list[dict[str, Any]]:
    files = [p for p in sorted((EVENTS / function).glob("*.json")) if not p.name.startswith(("malformed-", "ignored-"))]
    return [event for event in map(_read, files) if "detail-type" in event]


def _read(path: Path) -> Any:
    return json.loads(path.read_text())


def has(event: Any, path: Path_) -> bool:
    for key in path:
        if not isinstance(event, dict) or key not in event:
            return False
        event = event[key]
    return True


def value_at(event: Any, path: Path_) -> Any:
    for key in path:
        event = event[key]
    return event


def with_value(event: dict[str, Any], path: Path_, value: Any) -> dict[str, Any]:
    changed = copy.deepcopy(event)
    node = changed
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return changed


def without(event: dict[str, Any], path: Path_) -> dict[str, Any]:
    changed = copy.deepcopy(event)
    node = changed
    for key in path[:-1]:
        node = node[key]
    del node[path[-1]]
    return changed


def replaced_everywhere(event: dict[str, Any], old: str, new: str) -> dict[str, Any]:
    changed: dict[str, Any] = json.loads(json.dumps(event).replace(old, new))
    return changed


# ---------------------------------------------------------------- values of the wrong kind
texts = st.text(max_size=40)
scalars = st.one_of(st.integers(), st.floats(allow_nan=False, allow_infinity=False), st.booleans(), texts, st.none())
small_json = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3)
)


@st.composite
def deeply_nested(draw: st.DrawFn, objects: bool = True) -> Any:
    depth = draw(st.integers(min_value=50, max_value=300))
    value: Any = draw(scalars)
    as_list = draw(st.booleans()) if objects else True
    for _ in range(depth):
        value = [value] if as_list else {"nested": value}
    return value


WRONG_FOR: dict[str, Callable[[], st.SearchStrategy[Any]]] = {
    "str": lambda: st.one_of(
        st.integers(),
        st.floats(allow_nan=False, allow_infinity=False),
        st.booleans(),
        st.lists(small_json, max_size=3),
        st.dictionaries(texts, small_json, max_size=3),
        deeply_nested(),
    ),
    "int": lambda: st.one_of(
        st.from_regex(r"\A[0-9]{1,6}\Z"),  # "2" is not a version number
        texts,
        st.floats(allow_nan=False, allow_infinity=False),
        st.booleans(),
        st.lists(small_json, max_size=3),
        st.dictionaries(texts, small_json, max_size=3),
    ),
    "time": lambda: st.one_of(
        st.booleans(),
        st.lists(small_json, max_size=3),
        st.dictionaries(texts, small_json, max_size=3),
        deeply_nested(),
    ),
    "obj": lambda: st.one_of(
        st.integers(), texts, st.booleans(), st.lists(small_json, max_size=3), deeply_nested(objects=False)
    ),
    "list": lambda: st.one_of(
        st.integers(),
        texts,
        st.booleans(),
        st.dictionaries(texts, small_json, max_size=3),
        st.lists(st.one_of(st.integers(), st.booleans(), st.dictionaries(texts, scalars, max_size=2)), min_size=1),
    ),
}


def huge_text() -> st.SearchStrategy[str]:
    """256 KB to 300 KB of UTF-8, however many characters that takes: bigger than any event EventBridge delivers."""
    return st.builds(
        lambda char, size: char * (size // len(char.encode())), st.sampled_from("x9-é€"), st.integers(262_200, 300_000)
    )


# ---------------------------------------------------------------- the ways an event goes bad
def fields_of(function: str, event: dict[str, Any]) -> tuple[Field, ...]:
    """The fields the function reads in this event (of its detail-type, for a function that takes several)."""
    detail_type = event.get("detail-type")
    return ENVELOPE + tuple(f for f in DETAIL_FIELDS[function] if f.detail_type in ("", detail_type))


def detail_types(function: str) -> set[str]:
    """The detail-types of the function's several kinds of events (none for a function of one kind)."""
    return {f.detail_type for f in DETAIL_FIELDS[function]} - {""}


@st.composite
def not_an_object(draw: st.DrawFn) -> BadEvent:
    value = draw(st.one_of(st.lists(small_json, max_size=4), scalars))
    return BadEvent(value, f"a {type(value).__name__} instead of an event", "rejected", ("not a JSON object",))


@st.composite
def field_missing(draw: st.DrawFn, function: str) -> BadEvent:
    base = draw(st.sampled_from(base_events(function)))
    field = draw(st.sampled_from([f for f in fields_of(function, base) if f.required and has(base, f.path[:-1])]))
    if not has(base, field.path):
        base = with_value(base, field.path[:-1], {})  # an optional object present, its required field absent
    return BadEvent(without(base, field.path), f"{field.name} missing", "rejected", (field.name,))


@st.composite
def field_mistyped(draw: st.DrawFn, function: str) -> BadEvent:
    base = draw(st.sampled_from(base_events(function)))
    field = draw(st.sampled_from([f for f in fields_of(function, base) if has(base, f.path[:-1])]))
    wrong = draw(WRONG_FOR[field.kind]() | (st.none() if field.required else st.nothing()))
    return BadEvent(with_value(base, field.path, wrong), f"{field.name} mistyped", "rejected", (field.name,))


@st.composite
def foreign_kind(draw: st.DrawFn, function: str) -> BadEvent:
    base = draw(st.sampled_from(base_events(function)))
    key = draw(st.sampled_from(["detail-type", "source"]))
    ours = base[key]
    value = draw(st.sampled_from(FOREIGN_DETAIL_TYPES if key == "detail-type" else FOREIGN_SOURCES) | texts)
    if value == ours:
        value = f"{ours} "
    # another kind of event the function takes: read as that kind, refused for the detail it lacks
    mentions = (key, "detail.") if value in detail_types(function) else (key,)
    return BadEvent(with_value(base, (key,), value), f"{key} {value!r}", "rejected", mentions)


@st.composite
def field_emptied(draw: st.DrawFn, function: str) -> BadEvent:
    base = draw(st.sampled_from(base_events(function)))
    texts_read = [f for f in fields_of(function, base) if f.kind in ("str", "time") and not f.may_be_empty]
    field = draw(st.sampled_from([f for f in texts_read if has(base, f.path)]))
    return BadEvent(with_value(base, field.path, ""), f"{field.name} empty", "rejected", (field.name,))


@st.composite
def field_too_long(draw: st.DrawFn, function: str) -> BadEvent:
    base = draw(st.sampled_from(base_events(function)))
    field = draw(st.sampled_from([f for f in fields_of(function, base) if f.limit and has(base, f.path[:-1])]))
    assert field.limit is not None
    size = draw(st.integers(field.limit + 1, field.limit + 300))
    original = str(value_at(base, field.path) if has(base, field.path) else "")
    value = (original + "9" * size)[:size] if original.startswith("arn:") else "a" * size  # still the right shape
    return BadEvent(
        with_value(base, field.path, value), f"{field.name} of {size} characters", "rejected", (field.name,)
    )


@st.composite
def event_too_big(draw: st.DrawFn, function: str) -> BadEvent:
    base = draw(st.sampled_from(base_events(function)))
    field = draw(st.sampled_from([("detail", "Description"), ("detail", "pipelineExecutionDescription"), ("id",)]))
    value = draw(huge_text())
    return BadEvent(
        with_value(base, field, value), f"{'.'.join(field)} of {len(value)} characters", "rejected", ("bytes",)
    )


@st.composite
def version_out_of_range(draw: st.DrawFn) -> BadEvent:
    base = draw(st.sampled_from(base_events("approval")))
    version = draw(st.sampled_from([0, -1, 2**31, 10**30]) | st.integers(max_value=0))
    arn = re.sub(r"/\d+$", f"/{version}", base["detail"]["ModelPackageArn"])
    event = with_value(with_value(base, ("detail", "ModelPackageVersion"), version), ("detail", "ModelPackageArn"), arn)
    return BadEvent(event, f"version {version}", "rejected", ("ModelPackageVersion", "ModelPackageArn"))


# ---------------------------------------------------------------- unknown resources and foreign events
ARN_FIELDS = {
    "approval": ("detail", "ModelPackageArn"),
    "pipeline_status": ("detail", "pipelineArn"),
    "endpoint_status": ("detail", "EndpointArn"),
    "batch": ("detail", "TransformJobArn"),
}


@st.composite
def from_elsewhere(draw: st.DrawFn, function: str) -> BadEvent:
    """The whole event from another account or region (a forwarded bus): well formed, not this project's."""
    base = draw(st.sampled_from(base_events(function)))
    if draw(st.booleans()):
        event, where = replaced_everywhere(base, ACCOUNT, OTHER_ACCOUNT), f"account {OTHER_ACCOUNT}"
    else:
        region = draw(st.sampled_from(["eu-west-1", "us-west-2", "ap-southeast-2"]))
        event, where = replaced_everywhere(base, f":{REGION}:", f":{region}:"), f"region {region}"
        event["region"] = region
    return BadEvent(event, f"from {where}", "ignored", ("account",))


@st.composite
def arn_contradicting_envelope(draw: st.DrawFn, function: str) -> BadEvent:
    """One ARN in the detail names another account or region than the event comes from."""
    base = draw(
        st.sampled_from([e for e in base_events(function) if function == "alarm" or has(e, ARN_FIELDS[function])])
    )
    path = ("resources", 0) if function == "alarm" else ARN_FIELDS[function]
    arn = base[path[0]][path[1]]
    other = draw(st.sampled_from([f":{OTHER_ACCOUNT}:", ":eu-west-1:"]))
    changed = arn.replace(f":{ACCOUNT}:", other) if "eu" not in other else arn.replace(f":{REGION}:", other)
    event = copy.deepcopy(base)
    event[path[0]][path[1]] = changed
    name = ".".join(str(part) for part in path)
    return BadEvent(event, f"{name} -> {changed}", "rejected", (name,))


@st.composite
def unknown_version(draw: st.DrawFn) -> BadEvent:
    """An approval of a version the registry does not hold."""
    base = draw(st.sampled_from(acted_on("approval")))
    if base["detail"]["ModelApprovalStatus"] != "Approved":
        base = json.loads((EVENTS / "approval" / "approved.json").read_text())
    version = draw(st.integers(min_value=3, max_value=2**31 - 1))
    arn = re.sub(r"/\d+$", f"/{version}", base["detail"]["ModelPackageArn"])
    event = with_value(with_value(base, ("detail", "ModelPackageVersion"), version), ("detail", "ModelPackageArn"), arn)
    event["resources"] = [arn]
    return BadEvent(event, f"unknown version {version}", "rejected", ("not in the model registry",))


@st.composite
def unknown_run(draw: st.DrawFn) -> BadEvent:
    """A status change of a run of this project's pipeline that SageMaker never started."""
    base = draw(st.sampled_from(acted_on("pipeline_status")))
    run = draw(st.from_regex(r"\A[a-z0-9]{12}\Z"))
    arn = re.sub(r"/execution/[^/]+$", f"/execution/{run}", base["detail"]["pipelineExecutionArn"])
    event = with_value(base, ("detail", "pipelineExecutionArn"), arn)
    event["resources"] = [base["detail"]["pipelineArn"], arn]
    return BadEvent(event, f"unknown run {run}", "rejected", ("does not exist",))


@st.composite
def other_alarm_in_resources(draw: st.DrawFn) -> BadEvent:
    base = draw(st.sampled_from(base_events("alarm")))
    name = draw(st.from_regex(r"\Achurn-[a-z0-9-]{1,30}\Z").filter(lambda n: n != base["detail"]["alarmName"]))
    event = copy.deepcopy(base)
    event["resources"] = [f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{name}"]
    return BadEvent(event, f"resources name alarm {name}", "rejected", ("resources.0",))


def bad_events(function: str) -> st.SearchStrategy[BadEvent]:
    """Every way this project knows an event to `function` can be bad, but size (event_too_big: the emulator
    keeps every message it was sent until the module ends, so those few run apart)."""
    ways = [
        not_an_object(),
        field_missing(function),
        field_mistyped(function),
        foreign_kind(function),
        field_emptied(function),
        field_too_long(function),
        from_elsewhere(function),
    ]
    if function in ARN_FIELDS or function == "alarm":
        ways.append(arn_contradicting_envelope(function))
    ways += {
        "approval": [unknown_version(), version_out_of_range()],
        "pipeline_status": [unknown_run()],
        "alarm": [other_alarm_in_resources()],
    }.get(function, [])
    return st.one_of(ways)


def sample_files(function: str) -> list[Path]:
    return sorted((EVENTS / function).glob("*.json"))


# ---------------------------------------------------------------- payloads the workflows never send
def step_payloads(function: str) -> dict[str, dict[str, Any]]:
    """The valid payloads in events/<function>/, by action (what the state machines send; the drift monitor's
    schedule as "schedule"). A function that takes events too keeps them beside its payloads: they are left out."""
    payloads = [json.loads(path.read_text()) for path in sample_files(function)]
    if function != "drift_monitor":
        payloads = [payload for payload in payloads if "Action" in payload]
    return {str(payload.get("Action", "schedule")): payload for payload in payloads}


_EXECUTION = Field(("ExecutionArn",), "str", limit=2048)
_TOKEN = Field(("TaskToken",), "str", limit=2048)
STEP_FIELDS: dict[str, dict[str, tuple[Field, ...]]] = {
    "canary": {
        "acquire-lock": (_EXECUTION, Field(("Version",), "int"), _TOKEN),
        "release-lock": (_EXECUTION,),
        "plan": (
            Field(("ModelPackageArn",), "str", limit=2048),
            Field(("Version",), "int"),
            Field(("ResourceName",), "str", limit=63),
            Field(("Strategy",), "str", required=False),
        ),
        "plan-restore": (Field(("ModelPackageArn",), "str", limit=2048), Field(("ResourceName",), "str", limit=63)),
        "analyse": (Field(("CandidateVariant",), "str", limit=63), Field(("LiveVariant",), "str", limit=63)),
        "compare-shadow": (
            _EXECUTION,
            Field(("CandidateVariant",), "str", limit=63),
            Field(("LiveVariant",), "str", limit=63),
        ),
        "prune": (),
        "confirm-made": (
            Field(("Kind",), "str"),
            Field(("Name",), "str", limit=63),
            Field(("ModelPackageArn",), "str", limit=2048),
        ),
        "copy-scaling": (Field(("CandidateVariant",), "str", limit=63), Field(("LiveVariant",), "str", limit=63)),
        "prepare-scaling": (Field(("ConfigName",), "str", limit=63),),
        "restore-scaling": (),
        "reset-guards": (Field(("CandidateVariant",), "str", limit=63),),
        "start-bake": (
            Field(("ExecutionName",), "str", limit=80),
            Field(("CandidateVariant",), "str", limit=63),
            Field(("Percent",), "num"),
            _TOKEN,
        ),
        "reject-candidate": (
            Field(("ModelPackageArn",), "str", limit=2048),
            Field(("Reason",), "str", limit=256 * 1024, may_be_empty=True),  # Step Functions' payload limit
        ),
    },
    "endpoint_update": {
        action: (
            Field(("EndpointName",), "str", limit=63),
            Field(("EndpointConfigName",), "str", limit=63),
            _TOKEN,
            _EXECUTION,
            Field(("Tags",), "list", required=False),
            Field(("Weights",), "list", required=action == "weights"),
        )
        for action in ("create", "update", "weights")
    },
    "retrain": {
        "admit": (Field(("Request",), "obj"), Field(("ExecutionName",), "str", limit=80)),
        "await": (
            Field(("PipelineExecutionArn",), "str", limit=2048),
            Field(("Attempt",), "int"),
            _TOKEN,
            _EXECUTION,
        ),
        "assess": (
            Field(("Run",), "obj"),
            Field(("Run", "PipelineExecutionArn"), "str", limit=2048),
            Field(("Run", "Attempt"), "int"),
            Field(("Run", "Status"), "str"),
        ),
        "release": (Field(("ExecutionName",), "str", limit=80),),
    },
    "drift_monitor": {"schedule": ENVELOPE},
    "batch": {
        "transform": (
            _EXECUTION,
            Field(("InputUrl",), "str", limit=1100),
            Field(("ObjectVersion",), "str", limit=1100),
            Field(("ModelName",), "str", limit=63),
            _TOKEN,
        ),
        "measure": (
            Field(("ExecutionArn",), "str", required=False, limit=2048),
            Field(("OutputUrl",), "str", limit=1100),
            Field(("Labelled",), "bool"),
            Field(("ModelPackageArn",), "str", limit=2048),
            Field(("JobName",), "str", limit=63),
        ),
    },
}
OUT_OF_RANGE: dict[str, list[Any]] = {
    "Version": [0, -1, 2**31, 10**20],
    "Attempt": [0, -3, 101],
    "Percent": [-0.5, -10, 100.5, 1e9],  # 0 is a shadow's bake
}
WRONG_FOR["bool"] = lambda: st.one_of(
    st.sampled_from([0, 1, 0.0, 1.0, "true", "false", "yes", "1", "on"]),  # what a lax check takes for a boolean
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    texts,
    st.lists(small_json, max_size=3),
    st.dictionaries(texts, scalars, max_size=3),
)
WRONG_FOR["num"] = lambda: st.one_of(
    st.from_regex(r"\A[0-9]{1,3}\Z"),
    texts,
    st.booleans(),
    st.lists(small_json, max_size=3),
    st.dictionaries(texts, scalars),
)


@st.composite
def unknown_action(draw: st.DrawFn, function: str) -> BadEvent:
    base = draw(st.sampled_from(list(step_payloads(function).values())))
    action = draw(st.one_of(texts, st.integers(), st.none(), st.lists(texts, max_size=2), st.just("deploy")))
    if isinstance(action, str) and action in STEP_FIELDS[function]:
        action = f"{action}-now"
    return BadEvent(with_value(base, ("Action",), action), f"Action {action!r}", "rejected", ("Action",))


@st.composite
def step_field_broken(draw: st.DrawFn, function: str) -> BadEvent:
    """A field the step reads: missing, of the wrong type, empty, too long or out of range."""
    action, base = draw(st.sampled_from(sorted(step_payloads(function).items())))
    fields = [f for f in STEP_FIELDS[function][action] if has(base, f.path[:-1])]
    if not fields:
        return draw(unknown_action(function))
    field = draw(st.sampled_from(fields))
    way = draw(st.sampled_from(["missing", "mistyped", "empty", "too long", "out of range"]))
    if way == "missing" and field.required:
        return BadEvent(without(base, field.path), f"{action}: {field.name} missing", "rejected", (field.name,))
    if way == "empty" and field.kind == "str" and not field.may_be_empty:
        return BadEvent(with_value(base, field.path, ""), f"{action}: {field.name} empty", "rejected", (field.name,))
    if way == "too long" and field.limit:
        size = draw(st.integers(field.limit + 1, field.limit + 200))
        original = str(value_at(base, field.path)) if has(base, field.path) else ""
        value = (original + "9" * size)[:size] if original.startswith("arn:") else "a" * size
        return BadEvent(
            with_value(base, field.path, value), f"{action}: {field.name} too long", "rejected", (field.name,)
        )
    if way == "out of range" and field.path[-1] in OUT_OF_RANGE:
        value = draw(st.sampled_from(OUT_OF_RANGE[field.path[-1]]))
        return BadEvent(
            with_value(base, field.path, value), f"{action}: {field.name}={value}", "rejected", (field.name,)
        )
    wrong = draw(WRONG_FOR[field.kind]() | (st.none() if field.required else st.nothing()))
    return BadEvent(with_value(base, field.path, wrong), f"{action}: {field.name} mistyped", "rejected", (field.name,))


def _run_by(machine: str) -> Callable[[str], str]:
    return lambda arn: re.sub(r":execution:[^:]+:", f":execution:{machine}:", arn)


def _other_endpoint(_: str) -> str:
    return "fraud-endpoint"


def _other_pipeline(arn: str) -> str:
    return arn.replace("pipeline/churn-pipeline/", "pipeline/fraud-pipeline/")


@st.composite
def not_this_project(draw: st.DrawFn, function: str) -> BadEvent:
    """An execution of another workflow, another project's endpoint or pipeline run."""
    choices: list[tuple[str, Path_, Callable[[str], str]]] = []
    run_paths: tuple[Path_, ...] = (("PipelineExecutionArn",), ("Run", "PipelineExecutionArn"))
    for action, payload in step_payloads(function).items():
        if "ExecutionArn" in payload:
            others = {"retrain": ["fraud-retrain", "churn-deploy"], "batch": ["fraud-batch", "churn-deploy"]}.get(
                function, ["fraud-deploy", "churn-retrain"]
            )
            choices.append((action, ("ExecutionArn",), _run_by(draw(st.sampled_from(others)))))
        if "EndpointName" in payload:
            choices.append((action, ("EndpointName",), _other_endpoint))
        choices += [(action, path, _other_pipeline) for path in run_paths if has(payload, path)]
    if not choices:
        return draw(step_field_broken(function))
    action, path, change = draw(st.sampled_from(choices))
    base = step_payloads(function)[action]
    value = change(str(value_at(base, path)))
    name = ".".join(path)
    return BadEvent(with_value(base, path, value), f"{action}: {name} -> {value}", "rejected", (name,))


@st.composite
def schedule_broken(draw: st.DrawFn) -> BadEvent:
    base = step_payloads("drift_monitor")["schedule"]
    way = draw(st.sampled_from(["field", "kind", "garbage"]))
    if way == "kind":
        key = draw(st.sampled_from(["detail-type", "source"]))
        value = draw(
            st.sampled_from(FOREIGN_DETAIL_TYPES[:4] if key == "detail-type" else ["aws.sagemaker", "churn.mlops"])
        )
        return BadEvent(with_value(base, (key,), value), f"{key} {value!r}", "rejected", (key,))
    if way == "garbage":
        garbage = draw(st.dictionaries(texts.filter(bool), small_json, min_size=1, max_size=4))
        return BadEvent(garbage, "an object that is no scheduled event", "rejected", ("Field required",))
    return draw(step_field_broken("drift_monitor"))


def bad_payloads(function: str) -> st.SearchStrategy[BadEvent]:
    """Every way this project knows a payload to a workflow-step function (or the drift monitor) can be bad."""
    if function == "drift_monitor":
        return st.one_of(not_an_object(), schedule_broken())
    if function == "batch":  # it takes events too: what is no object is no step's, but a malformed event (rejected)
        return st.one_of(unknown_action(function), step_field_broken(function), not_this_project(function))
    return st.one_of(not_an_object(), unknown_action(function), step_field_broken(function), not_this_project(function))


# ---------------------------------------------------------------- manual workflow inputs
PIPELINE_DEFINITION = Path(__file__).resolve().parent.parent / "pipeline" / "definition.json"
GROUP_ARN_GLOB = "arn:aws*:sagemaker:*:model-package/churn-models/*"  # what the deploy workflow's first state admits
INPUT_URL_GLOB = "s3://*/*"  # what the batch workflow's first state admits


def manual_input(workflow: str) -> dict[str, Any]:
    """The documented manual start of a workflow (events/statemachines/)."""
    good: dict[str, Any] = json.loads((EVENTS / "statemachines" / f"{workflow}.json").read_text())
    return good


def _matches_glob(text: str, glob: str) -> bool:
    return re.fullmatch(".*".join(re.escape(part) for part in glob.split("*")), text, flags=re.DOTALL) is not None


finite_floats = st.floats(allow_nan=False, allow_infinity=False)
not_an_input_object = st.one_of(
    texts, st.integers(), finite_floats, st.booleans(), st.none(), st.lists(small_json, min_size=1, max_size=3)
)
not_text = st.one_of(
    st.integers(),
    finite_floats,
    st.booleans(),
    st.none(),
    st.lists(small_json, max_size=3),
    st.dictionaries(texts, small_json, max_size=3),
)
not_an_object_value = st.one_of(
    texts, st.integers(), finite_floats, st.booleans(), st.none(), st.lists(small_json, min_size=1, max_size=3)
)
foreign_version_arns = st.one_of(
    st.sampled_from(
        [
            "",
            "churn-models/2",
            "arn:aws:sagemaker:us-east-1:123456789012:model-package/fraud-models/2",
            "arn:aws:sagemaker:us-east-1:123456789012:model-package/churn-models-v2/2",
            "arn:aws:sagemaker:us-east-1:123456789012:model-package-group/churn-models",
        ]
    ),
    texts,
).filter(lambda text: not _matches_glob(text, GROUP_ARN_GLOB))
not_s3_urls = st.one_of(
    st.sampled_from(
        [
            "",
            "https://churn-artifacts-123456789012-us-east-1/batch/input/customers.csv",
            "S3://churn-artifacts-123456789012-us-east-1/batch/input/customers.csv",
            "s3:/churn-artifacts-123456789012-us-east-1/batch/input/customers.csv",
            "s3://churn-artifacts-123456789012-us-east-1",
            "churn-artifacts-123456789012-us-east-1/batch/input/customers.csv",
            "arn:aws:s3:::churn-artifacts-123456789012-us-east-1/batch/input/customers.csv",
        ]
    ),
    texts,
).filter(lambda text: not _matches_glob(text, INPUT_URL_GLOB))


@st.composite
def bad_manual_inputs(draw: st.DrawFn, workflow: str) -> BadEvent:
    """Inputs a person might start the workflow with that its first state must refuse."""
    good = manual_input(workflow)
    text_fields = {
        "deploy": ["Reason", "RequestedBy", "ApprovedBy"],
        "batch": ["RequestedBy", "ObjectVersion"],
    }.get(workflow, ["Reason", "RequestedBy"])
    ways = ["not an object", "text field"]
    ways += {
        "deploy": ["version missing", "version mistyped", "version of another group"],
        "rollback": ["another endpoint", "version mistyped", "version of another group"],
        "retrain": ["text field empty", "parameters not an object"],
        "batch": ["url missing", "url mistyped", "url not s3"],
    }[workflow]
    way = draw(st.sampled_from(ways))
    if way == "not an object":
        value: Any = draw(not_an_input_object)
        return BadEvent(value, f"input {value!r}", "rejected", ())
    if way == "text field":
        field = draw(st.sampled_from(text_fields))
        return BadEvent({**good, field: draw(not_text)}, f"{field} not a string", "rejected", ())
    if way == "text field empty":
        field = draw(st.sampled_from(text_fields))
        return BadEvent({**good, field: ""}, f"{field} empty", "rejected", ())
    if way == "parameters not an object":
        return BadEvent({**good, "PipelineParameters": draw(not_an_object_value)}, way, "rejected", ())
    if way == "version missing":
        return BadEvent({k: v for k, v in good.items() if k != "ModelPackageArn"}, way, "rejected", ())
    if way == "version mistyped":
        return BadEvent({**good, "ModelPackageArn": draw(not_text)}, way, "rejected", ())
    if way == "version of another group":
        return BadEvent({**good, "ModelPackageArn": draw(foreign_version_arns)}, way, "rejected", ())
    if way == "url missing":
        return BadEvent({k: v for k, v in good.items() if k != "InputUrl"}, way, "rejected", ())
    if way == "url mistyped":
        return BadEvent({**good, "InputUrl": draw(not_text)}, way, "rejected", ())
    if way == "url not s3":
        url = draw(not_s3_urls)
        return BadEvent({**good, "InputUrl": url}, f"InputUrl {url!r}", "rejected", ())
    endpoint = draw(not_text | texts.filter(lambda name: name != "churn-endpoint"))
    return BadEvent({**good, "EndpointName": endpoint}, f"EndpointName {endpoint!r}", "rejected", ())


@st.composite
def retrain_inputs_the_pipeline_refuses(draw: st.DrawFn) -> BadEvent:
    """Well-typed retrain inputs the admit step refuses: checked against the pipeline and the limits."""
    good = manual_input("retrain")
    way = draw(st.sampled_from(["unknown parameter", "parameter value", "reason too long", "parameters a list"]))
    if way == "unknown parameter":
        declared = {p["Name"] for p in json.loads(PIPELINE_DEFINITION.read_text())["Parameters"]}
        name = draw(st.from_regex(r"\A[A-Z][A-Za-z]{2,20}\Z").filter(lambda n: n not in declared))
        return BadEvent(
            {**good, "PipelineParameters": {name: "1"}}, f"parameter {name}", "rejected", ("declares no parameter",)
        )
    if way == "parameter value":
        value = draw(st.one_of(st.lists(scalars, max_size=2), st.dictionaries(texts, scalars, max_size=2)))
        return BadEvent(
            {**good, "PipelineParameters": {"AccuracyThreshold": value}}, way, "rejected", ("AccuracyThreshold",)
        )
    if way == "parameters a list":
        return BadEvent({**good, "PipelineParameters": []}, way, "rejected", ("PipelineParameters",))
    reason = "r" * draw(st.integers(1001, 5000))
    return BadEvent({**good, "Reason": reason}, f"Reason of {len(reason)} characters", "rejected", ("Reason",))
