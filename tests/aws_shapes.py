"""AWS's documented example events (tests/aws_events/) and how an emitted event compares with them.

`problems(emitted, documented)` holds an event the sandbox emits to AWS's documented example of the same
detail-type:

- every key of the documented detail is there (at every depth), except the few listed in OPTIONAL with why;
- a key the example does not have is allowed only when it is a field of the matching API response in
  botocore's service model (DescribeModelPackage for a model package event, DescribeEndpoint for an endpoint
  event...), the event's camelCase spelling of it included (`failureReason` for `FailureReason`);
- every shared key has the example's JSON type (string, number, boolean, object, array);
- enum-like values are spelled as documented (`IN_SERVICE`, not `InService`);
- times have the example's format: ISO 8601 to the second in model package and pipeline events, epoch
  milliseconds (numbers) in endpoint events, `YYYY-MM-DDTHH:MM:SS.sss+0000` in alarm states.

The `pointed_*` helpers return a documented example aimed at one stack's resources (names, account, region),
everything else as documented.
"""

from __future__ import annotations

import copy
import functools
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

EXAMPLES = Path(__file__).resolve().parent / "aws_events"

MODEL_PACKAGE = "SageMaker Model Package State Change"
ENDPOINT = "SageMaker Endpoint State Change"
ENDPOINT_DEPLOYMENT = "SageMaker Endpoint Deployment State Change"
PIPELINE = "SageMaker Model Building Pipeline Execution Status Change"
PIPELINE_STEP = "SageMaker Model Building Pipeline Execution Step Status Change"
ALARM = "CloudWatch Alarm State Change"
SCHEDULE = "Scheduled Event"
TRANSFORM = "SageMaker Transform Job State Change"
S3_OBJECT_CREATED = "Object Created"


# ------------------------------------------------------------------ the documented examples
@functools.cache
def _texts() -> dict[str, str]:
    return {path.name: path.read_text() for path in sorted(EXAMPLES.glob("*.json"))}


def documented(name: str) -> dict[str, Any]:
    """The documented example in tests/aws_events/<name>, a fresh copy to change at will."""
    event: dict[str, Any] = json.loads(_texts()[name])
    return event


@functools.cache
def _by_detail_type() -> dict[str, dict[str, Any]]:
    examples = {}
    for text in _texts().values():
        event = json.loads(text)
        examples[event["detail-type"]] = event
    return examples


def documented_example(detail_type: str) -> dict[str, Any] | None:
    """AWS's documented example of this detail-type (not to be changed), or None when there is none here."""
    return _by_detail_type().get(detail_type)


def documented_detail_types() -> set[str]:
    return set(_by_detail_type())


# ------------------------------------------------------------------ what is checked, per detail-type
ENDPOINT_STATUSES = frozenset(  # DescribeEndpoint's statuses as the endpoint event spells them (IN_SERVICE)
    {"CREATING", "UPDATING", "SYSTEM_UPDATING", "ROLLING_BACK", "IN_SERVICE", "OUT_OF_SERVICE", "DELETING", "FAILED"}
)
APPROVAL_STATUSES = frozenset({"Approved", "Rejected", "PendingManualApproval"})
MODEL_PACKAGE_STATUSES = frozenset({"Pending", "InProgress", "Completed", "Failed", "Deleting"})
ALARM_STATES = frozenset({"OK", "ALARM", "INSUFFICIENT_DATA"})
PIPELINE_STATUSES = frozenset({"Executing", "Stopping", "Stopped", "Failed", "Succeeded"})
STEP_STATUSES = frozenset({"Starting", "Executing", "Stopping", "Stopped", "Failed", "Succeeded"})


@dataclass(frozen=True)
class Rules:
    """How one detail-type is held to its documented example."""

    api: tuple[str, str, tuple[str, ...]] | None = None  # service, operation, path to the shape in its output
    optional: frozenset[str] = frozenset()  # documented keys an event may lack (see OPTIONAL for why)
    names: frozenset[str] = frozenset()  # objects whose keys are names (tags, dimensions), not fields
    enums: dict[str, frozenset[str]] = field(default_factory=dict)


RULES = {
    MODEL_PACKAGE: Rules(
        api=("sagemaker", "DescribeModelPackage", ()),
        optional=frozenset(
            {
                # SageMaker resolves and records the image digest for some images only; DescribeModelPackage
                # lists it as an optional field of a container.
                "InferenceSpecification.Containers[].ImageDigest",
                # Present when the version was registered with them (a pipeline's RegisterModel step sets
                # both; a version created by hand may have neither).
                "MetadataProperties",
                # none of its members is required (botocore's sagemaker model, MetadataProperties): a version
                # registered outside a pipeline run may name a commit and no execution
                "MetadataProperties.GeneratedBy",
                "ModelMetrics",
            }
        ),
        enums={"ModelApprovalStatus": APPROVAL_STATUSES, "ModelPackageStatus": MODEL_PACKAGE_STATUSES},
    ),
    ENDPOINT: Rules(
        api=("sagemaker", "DescribeEndpoint", ()),
        names=frozenset({"Tags"}),  # the endpoint's tags, by key
        enums={"EndpointStatus": ENDPOINT_STATUSES},
    ),
    ENDPOINT_DEPLOYMENT: Rules(
        api=("sagemaker", "DescribeEndpoint", ()),
        names=frozenset({"Tags"}),
        enums={"EndpointStatus": ENDPOINT_STATUSES},
    ),
    PIPELINE: Rules(
        api=("sagemaker", "DescribePipelineExecution", ()),
        optional=frozenset(
            {
                # A run's first event (Executing) has no earlier status, a running one no end time; the page
                # shows the last event of a run.
                "previousPipelineExecutionStatus",
                "executionEndTime",
            }
        ),
        enums={
            "currentPipelineExecutionStatus": PIPELINE_STATUSES,
            "previousPipelineExecutionStatus": PIPELINE_STATUSES,
        },
    ),
    PIPELINE_STEP: Rules(
        api=("sagemaker", "ListPipelineExecutionSteps", ("PipelineExecutionSteps",)),
        optional=frozenset(
            {
                # A step's first event has no earlier status, a running step no end time.
                "previousStepStatus",
                "stepEndTime",
                # metadata holds the member for the step's type (PipelineExecutionStepMetadata): the page's
                # example is a Processing step, and a step has none before its job exists.
                "metadata.processingJob",
            }
        ),
        enums={"currentStepStatus": STEP_STATUSES, "previousStepStatus": STEP_STATUSES},
    ),
    ALARM: Rules(
        optional=frozenset(
            {
                # The reason's data, when CloudWatch evaluated datapoints; AWS's own examples omit it for a
                # state that was not evaluated ("Unchecked: Initial alarm creation", same page, metric math
                # alarm), as SetAlarmState without StateReasonData does.
                "previousState.reasonData",
                "state.reasonData",
            }
        ),
        names=frozenset({"configuration.metrics[].metricStat.metric.dimensions"}),  # the metric's dimensions
        enums={"state.value": ALARM_STATES, "previousState.value": ALARM_STATES},
    ),
    SCHEDULE: Rules(),
    TRANSFORM: Rules(
        api=("sagemaker", "DescribeTransformJob", ()),
        optional=frozenset(
            {
                # "If the value of TransformJobStatus is Failed, the event contains the FailureReason field" (the
                # page); a job running has no end time, and no start time before its first request.
                "FailureReason",
                "TransformStartTime",
                "TransformEndTime",
                # Optional members of CreateTransformJob's request: a job that left them out has none (the page's
                # example sets them all).
                "MaxConcurrentTransforms",
                "MaxPayloadInMB",
                "BatchStrategy",
                "Environment",
                "TransformInput.ContentType",
                "TransformInput.CompressionType",
                "TransformInput.SplitType",
                "TransformOutput.Accept",
                "TransformOutput.AssembleWith",
                "TransformOutput.KmsKeyId",
            }
        ),
        names=frozenset({"Tags", "Environment"}),  # the job's tags and environment variables, by name
        # No enums: the page's example holds placeholders ("another status... GO", "Strategizing..."); the sandbox's
        # values are held to DescribeTransformJob's in tests/test_sandbox_transform.py.
    ),
    S3_OBJECT_CREATED: Rules(
        # "version-id" is there for a versioned bucket only (the page's example is of one).
        optional=frozenset({"object.version-id"}),
    ),
}

ISO_SECONDS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")
ALARM_TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000")
EPOCH_MS = "epoch milliseconds (a number)"
TIME_FORMATS = {
    "YYYY-MM-DDTHH:MM:SSZ": ISO_SECONDS,
    "YYYY-MM-DDTHH:MM:SS.sss+0000": ALARM_TIMESTAMP,
}


def time_format(key: str, value: object) -> str | None:
    """The format of a documented time value, or None when the value is not a time."""
    if isinstance(value, str):
        return next((name for name, pattern in TIME_FORMATS.items() if pattern.fullmatch(value)), None)
    if isinstance(value, int | float) and not isinstance(value, bool) and key.endswith("Time"):
        return EPOCH_MS
    return None


def has_format(value: object, fmt: str) -> bool:
    if fmt == EPOCH_MS:
        return (
            isinstance(value, int | float)
            and not isinstance(value, bool)
            and float(value).is_integer()
            and 10**12 <= value < 10**14  # 2001 to 5138, in milliseconds
        )
    return isinstance(value, str) and TIME_FORMATS[fmt].fullmatch(value) is not None


def json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object" if isinstance(value, dict) else type(value).__name__


API_JSON_TYPES = {
    "structure": "object",
    "map": "object",
    "list": "array",
    "string": "string",
    "blob": "string",
    "boolean": "boolean",
    "integer": "number",
    "long": "number",
    "float": "number",
    "double": "number",
}


@functools.cache
def _service_model(service: str) -> Any:
    import botocore.session

    return botocore.session.get_session().get_service_model(service)


def _api_shape(api: tuple[str, str, tuple[str, ...]] | None) -> Any:
    if api is None:
        return None
    service, operation, path = api
    shape = _service_model(service).operation_model(operation).output_shape
    for member in path:
        shape = shape.members[member]
        if shape.type_name == "list":
            shape = shape.member
    return shape


def _api_member(shape: Any, key: str) -> Any:
    """The field `key` names in an API structure: its own name, or the event's camelCase spelling of it."""
    if shape is None or shape.type_name != "structure":
        return None
    for name in (key, key[:1].upper() + key[1:]):
        if name in shape.members:
            return shape.members[name]
    return None


# ------------------------------------------------------------------ the comparison
@dataclass
class _Comparison:
    detail_type: str
    rules: Rules
    operation: str
    time_format: str | None
    found: list[str] = field(default_factory=list)

    def problem(self, path: str, what: str) -> None:
        self.found.append(f"{self.detail_type}: {path or 'detail'}: {what}")

    def example(self, emitted: object, documented: object, api: Any, path: str) -> None:
        key = path.rsplit(".", 1)[-1].removesuffix("[]")
        fmt = time_format(key, documented)
        if fmt is not None:
            if not has_format(emitted, fmt):
                self.problem(path, f"{emitted!r} is not a time as documented ({fmt}, e.g. {documented!r})")
            return
        if json_type(emitted) != json_type(documented):
            self.problem(path, f"is {json_type(emitted)} {emitted!r}, documented as {json_type(documented)}")
            return
        allowed = self.rules.enums.get(path)
        if allowed is not None and emitted not in allowed:
            self.problem(path, f"{emitted!r} is not a documented value ({', '.join(sorted(allowed))})")
        if isinstance(emitted, dict) and isinstance(documented, dict):
            self.fields(emitted, documented, api, path)
        elif isinstance(emitted, list) and isinstance(documented, list):
            element = api.member if api is not None and api.type_name == "list" else None
            for item in emitted:
                if documented:
                    self.example(item, documented[0], element, f"{path}[]")
                elif element is not None:
                    self.against_api(item, element, f"{path}[]")

    def fields(self, emitted: dict[str, Any], documented: dict[str, Any], api: Any, path: str) -> None:
        if path in self.rules.names or (api is not None and api.type_name == "map"):
            return
        for key, value in documented.items():
            where = f"{path}.{key}" if path else key
            if key in emitted:
                self.example(emitted[key], value, _api_member(api, key), where)
            elif where not in self.rules.optional:
                self.problem(where, "missing (the documented example has it)")
        for key in emitted.keys() - documented.keys():
            where = f"{path}.{key}" if path else key
            member = _api_member(api, key)
            if member is None:
                self.problem(where, f"not in the documented example nor a field of {self.operation}'s response")
            else:
                self.against_api(emitted[key], member, where)

    def against_api(self, emitted: object, shape: Any, path: str) -> None:
        """A value the example does not show, held to the API's shape of it."""
        if shape.type_name == "timestamp":
            if self.time_format is None or not has_format(emitted, self.time_format):
                self.problem(path, f"{emitted!r} is not a time in this event's documented format ({self.time_format})")
            return
        expected = API_JSON_TYPES.get(shape.type_name)
        if expected is not None and json_type(emitted) != expected:
            self.problem(path, f"is {json_type(emitted)} {emitted!r}, {shape.name} is {expected}")
            return
        if getattr(shape, "enum", None) and emitted not in shape.enum:
            self.problem(path, f"{emitted!r} is not one of {shape.name}'s values")
        if shape.type_name == "structure" and isinstance(emitted, dict):
            for key, value in emitted.items():
                member = _api_member(shape, key)
                if member is None:
                    self.problem(f"{path}.{key}", f"not a field of {shape.name}")
                else:
                    self.against_api(value, member, f"{path}.{key}")
        elif shape.type_name == "list" and isinstance(emitted, list):
            for item in emitted:
                self.against_api(item, shape.member, f"{path}[]")
        elif shape.type_name == "map" and isinstance(emitted, dict):
            for key, value in emitted.items():
                self.against_api(value, shape.value, f"{path}.{key}")


def _first_time_format(value: object, key: str = "") -> str | None:
    if isinstance(value, dict):
        for child_key, child in value.items():
            found = _first_time_format(child, child_key)
            if found:
                return found
        return None
    if isinstance(value, list):
        return next((f for f in (_first_time_format(item, key) for item in value) if f), None)
    return time_format(key, value)


def problems(emitted: dict[str, Any], documented: dict[str, Any]) -> list[str]:
    """How an emitted event (a whole event, or the sandbox's record of one) differs from AWS's example."""
    detail_type = str(documented["detail-type"])
    rules = RULES.get(detail_type, Rules())
    comparison = _Comparison(
        detail_type,
        rules,
        operation=rules.api[1] if rules.api else "no API",
        time_format=_first_time_format(documented["detail"]),
    )
    if emitted.get("detail-type") != detail_type:
        comparison.problem("detail-type", f"{emitted.get('detail-type')!r} is not {detail_type!r}")
        return comparison.found
    if "source" in emitted and emitted["source"] != documented["source"]:
        comparison.problem("source", f"{emitted['source']!r} is not {documented['source']!r}")
    detail = emitted.get("detail")
    if not isinstance(detail, dict):
        comparison.problem("", f"is {json_type(detail)}, not an object")
        return comparison.found
    api = _api_shape(rules.api) if _needs_api(detail, documented["detail"]) else None
    comparison.fields(detail, documented["detail"], api, "")
    return comparison.found


def _needs_api(emitted: object, documented: object) -> bool:
    """Whether the emitted detail has a key the example lacks (botocore's service model is then loaded)."""
    if isinstance(emitted, dict) and isinstance(documented, dict):
        if emitted.keys() - documented.keys():
            return True
        return any(_needs_api(emitted[k], documented[k]) for k in emitted.keys() & documented.keys())
    if isinstance(emitted, list) and isinstance(documented, list):
        if not documented:
            return bool(emitted)
        return any(_needs_api(item, documented[0]) for item in emitted)
    return False


def emitted_problems(emitted: dict[str, Any]) -> list[str]:
    """`problems` against the documented example of the event's own detail-type; having none is one too."""
    detail_type = str(emitted.get("detail-type"))
    example = documented_example(detail_type)
    if example is None:
        return [f"{detail_type}: no documented example of this detail-type in tests/aws_events/"]
    return problems(emitted, example)


# ------------------------------------------------------------------ examples pointed at a stack
def _envelope(event: dict[str, Any], account: str, region: str, resources: list[str]) -> dict[str, Any]:
    event.update(account=account, region=region, resources=resources)
    return event


def pointed_model_package(account: str, region: str, group: str, version: int, approval: str) -> dict[str, Any]:
    """The documented model package example for `group`'s version `version`, with this approval status."""
    event = documented("model-package-state-change.json")
    arn = f"arn:aws:sagemaker:{region}:{account}:model-package/{group.lower()}/{version}"
    event["detail"].update(
        ModelPackageGroupName=group, ModelPackageVersion=version, ModelPackageArn=arn, ModelApprovalStatus=approval
    )
    return _envelope(event, account, region, [arn])


def pointed_alarm(account: str, region: str, alarm_name: str) -> dict[str, Any]:
    """The documented alarm example (OK -> ALARM) for the alarm `alarm_name`."""
    event = documented("cloudwatch-alarm-state-change.json")
    event["detail"]["alarmName"] = alarm_name
    return _envelope(event, account, region, [f"arn:aws:cloudwatch:{region}:{account}:alarm:{alarm_name}"])


def pointed_pipeline(execution_arn: str) -> dict[str, Any]:
    """The documented pipeline example (Executing -> Succeeded) for the run `execution_arn`."""
    event = documented("pipeline-execution-status-change.json")
    pipeline_arn = execution_arn.split("/execution/")[0]
    _, _, _, region, account, _ = pipeline_arn.split(":", 5)
    event["detail"].update(pipelineArn=pipeline_arn, pipelineExecutionArn=execution_arn)
    return _envelope(event, account, region, [pipeline_arn, execution_arn])


def pointed_endpoint(
    account: str, region: str, endpoint: str, config: str, modified_ms: float | None = None
) -> dict[str, Any]:
    """The documented endpoint example (IN_SERVICE) for `endpoint` serving `config`, last modified at `modified_ms`
    (epoch milliseconds, as documented) when given."""
    event = documented("endpoint-state-change.json")
    arn = f"arn:aws:sagemaker:{region}:{account}:endpoint/{endpoint.lower()}"
    event["detail"].update(EndpointName=endpoint, EndpointArn=arn, EndpointConfigName=config)
    if modified_ms is not None:
        event["detail"]["LastModifiedTime"] = modified_ms
    return _envelope(event, account, region, [arn])


def pointed_schedule(account: str, region: str, rule: str) -> dict[str, Any]:
    """The documented Scheduled Event of the rule `rule`."""
    event = documented("scheduled-event.json")
    return _envelope(event, account, region, [f"arn:aws:events:{region}:{account}:rule/{rule}"])


def put_entry(event: dict[str, Any]) -> dict[str, Any]:
    """A PutEvents entry carrying the event's source, detail-type, resources and detail as they are."""
    return {
        "Source": event["source"],
        "DetailType": event["detail-type"],
        "Detail": json.dumps(event["detail"]),
        "Resources": copy.deepcopy(event["resources"]),
    }
