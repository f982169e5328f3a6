"""The EventBridge events this project reacts to, as typed models parsed by Powertools.

The models hold events to what AWS documents and to AWS's own limits: model package groups,
endpoints and endpoint configurations have names of at most 63 characters, pipelines 256, alarms
255, ARNs 2048, an event is at most 256 KB (EventBridge's maximum). A field of the wrong type is
refused, not converted ("2" is not a version number). The ARNs an event carries must agree with its
account and region and with the names beside them: an event that contradicts itself did not come
from the AWS service it names.

Where AWS's own examples disagree, the models accept both forms and normalise them once: the
envelope's `time` is ISO 8601 text in EventBridge's examples and epoch milliseconds in some of
SageMaker's; "SageMaker Endpoint State Change" carries `EndpointStatus` in UPPER_SNAKE (`IN_SERVICE`)
and its times as epoch-millisecond numbers (SageMaker developer guide, "Events that Amazon SageMaker AI
sends to Amazon EventBridge", endpoint state change), where the API's DescribeEndpoint says `InService`.
The model reads the event's spelling and hands on the API's, so that the two can be compared.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, NamedTuple, TypeVar
from urllib.parse import unquote_plus

from aws_lambda_powertools.utilities.parser import ValidationError, parse
from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from pydantic import BaseModel, Field, field_validator, model_validator

MODEL_PACKAGE_STATE_CHANGE = "SageMaker Model Package State Change"
ALARM_STATE_CHANGE = "CloudWatch Alarm State Change"
PIPELINE_EXECUTION_STATUS_CHANGE = "SageMaker Model Building Pipeline Execution Status Change"

MAX_EVENT_BYTES = 256 * 1024  # EventBridge refuses larger events
MAX_ARN = 2048
MAX_TIMESTAMP = 64
MAX_MODEL_PACKAGE_VERSION = 2**31 - 1  # an Integer in SageMaker's API
SAGEMAKER_NAME = r"^[a-zA-Z0-9](-*[a-zA-Z0-9])*$"  # groups, endpoints, configs, pipelines
PARTITION = r"arn:aws[a-z-]*"
REGION = r"[a-z]{2}(-[a-z]+)+-\d{1,2}"

Timestamp = Annotated[str, Field(min_length=1, max_length=MAX_TIMESTAMP)]
Status = Annotated[str, Field(min_length=1, max_length=64)]
ResourceArn = Annotated[str, Field(min_length=1, max_length=MAX_ARN)]


class MalformedEvent(ValueError):
    """An event that does not have the shape AWS documents; the message names the fields."""


class UnknownResource(LookupError):
    """A well-formed event of this project naming a resource that does not exist (a version never registered,
    a run never started): bad input, set aside like a malformed event."""


class Arn(NamedTuple):
    partition: str
    service: str
    region: str
    account: str
    resource: str


def split_arn(arn: str) -> Arn:
    partition, service, region, account, resource = (arn.split(":", 5) + [""] * 6)[1:6]
    return Arn(partition, service, region, account, resource)


class AwsEvent(EventBridgeModel):
    """The envelope of every event an AWS service sends, within AWS's limits."""

    version: str = Field(min_length=1, max_length=16)
    id: str = Field(min_length=1, max_length=128)
    account: str = Field(pattern=r"^\d{12}$")
    region: str = Field(pattern=f"^{REGION}$")
    resources: list[ResourceArn] = Field(max_length=100)
    replay_name: str | None = Field(None, alias="replay-name", max_length=256)

    @field_validator("time", mode="before")
    @classmethod
    def _time_is_a_time(cls, value: object) -> object:
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise ValueError(f"must be an ISO 8601 timestamp or epoch milliseconds, not {type(value).__name__}")
        if isinstance(value, str) and not 1 <= len(value) <= MAX_TIMESTAMP:
            raise ValueError(f"must be 1 to {MAX_TIMESTAMP} characters")
        return value

    def arn_problems(self, field: str, arn: str) -> list[str]:
        """How an ARN in this event disagrees with the account and region the event comes from."""
        parts = split_arn(arn)
        if (parts.account, parts.region) == (self.account, self.region):
            return []
        return [
            f"{field} names account {parts.account} in {parts.region}, "
            f"the event comes from account {self.account} in {self.region}"
        ]


def _refuse(problems: list[str]) -> None:
    if problems:
        raise ValueError("; ".join(problems))


class ModelPackageStateChange(BaseModel):
    ModelPackageGroupName: str = Field(max_length=63, pattern=SAGEMAKER_NAME)
    ModelPackageVersion: int = Field(strict=True, ge=1, le=MAX_MODEL_PACKAGE_VERSION)
    ModelPackageArn: str = Field(
        max_length=MAX_ARN, pattern=rf"^{PARTITION}:sagemaker:{REGION}:\d{{12}}:model-package/[a-zA-Z0-9-]{{1,63}}/\d+$"
    )
    ModelPackageStatus: Status
    ModelApprovalStatus: Status
    LastModifiedTime: Timestamp
    CreationTime: Timestamp | None = None


class ModelPackageEvent(AwsEvent):
    source: Literal["aws.sagemaker"]
    detail_type: Literal["SageMaker Model Package State Change"] = Field(alias="detail-type")
    detail: ModelPackageStateChange

    @model_validator(mode="after")
    def _consistent(self) -> ModelPackageEvent:
        change = self.detail
        problems = self.arn_problems("detail.ModelPackageArn", change.ModelPackageArn)
        group, _, version = split_arn(change.ModelPackageArn).resource.removeprefix("model-package/").rpartition("/")
        if group.lower() != change.ModelPackageGroupName.lower():  # SageMaker lowercases names in ARNs
            problems.append(f"detail.ModelPackageArn names group {group}, not {change.ModelPackageGroupName}")
        if int(version) != change.ModelPackageVersion:
            problems.append(f"detail.ModelPackageArn names version {version}, not {change.ModelPackageVersion}")
        _refuse(problems)
        return self


class AlarmState(BaseModel):
    value: Literal["OK", "ALARM", "INSUFFICIENT_DATA"]
    reason: str = Field(default="", max_length=1023)
    timestamp: Timestamp


class AlarmStateChange(BaseModel):
    alarmName: str = Field(min_length=1, max_length=255, pattern=r"^[^\x00-\x1f\x7f]+$")  # no ASCII controls
    state: AlarmState
    previousState: AlarmState | None = None


class AlarmEvent(AwsEvent):
    source: Literal["aws.cloudwatch"]
    detail_type: Literal["CloudWatch Alarm State Change"] = Field(alias="detail-type")
    detail: AlarmStateChange

    @model_validator(mode="after")
    def _consistent(self) -> AlarmEvent:
        problems = []
        for index, arn in enumerate(self.resources):
            parts = split_arn(arn)
            if parts.service != "cloudwatch" or not parts.resource.startswith("alarm:"):
                continue
            problems += self.arn_problems(f"resources.{index}", arn)
            if parts.resource.removeprefix("alarm:") != self.detail.alarmName:
                problems.append(f"resources.{index} names another alarm than {self.detail.alarmName}")
        _refuse(problems)
        return self


class PipelineExecutionStatusChange(BaseModel):
    pipelineArn: str = Field(
        max_length=MAX_ARN, pattern=rf"^{PARTITION}:sagemaker:{REGION}:\d{{12}}:pipeline/[a-zA-Z0-9-]{{1,256}}$"
    )
    pipelineExecutionArn: str = Field(
        max_length=MAX_ARN,
        pattern=rf"^{PARTITION}:sagemaker:{REGION}:\d{{12}}:pipeline/[a-zA-Z0-9-]{{1,256}}/execution/[A-Za-z0-9_-]{{1,64}}$",
    )
    currentPipelineExecutionStatus: Literal["Executing", "Stopping", "Stopped", "Failed", "Succeeded"]
    previousPipelineExecutionStatus: Status | None = None
    executionStartTime: Timestamp | None = None
    executionEndTime: Timestamp | None = None
    pipelineExecutionDisplayName: str | None = Field(default=None, max_length=256)


class PipelineExecutionEvent(AwsEvent):
    source: Literal["aws.sagemaker"]
    detail_type: Literal["SageMaker Model Building Pipeline Execution Status Change"] = Field(alias="detail-type")
    detail: PipelineExecutionStatusChange

    @model_validator(mode="after")
    def _consistent(self) -> PipelineExecutionEvent:
        change = self.detail
        problems = self.arn_problems("detail.pipelineArn", change.pipelineArn)
        if not change.pipelineExecutionArn.lower().startswith(f"{change.pipelineArn.lower()}/execution/"):
            problems.append("detail.pipelineExecutionArn is not an execution of detail.pipelineArn")
        _refuse(problems)
        return self


# DescribeEndpoint's EndpointStatus values (botocore's sagemaker service model, EndpointStatus enum).
EndpointStatusName = Literal[
    "OutOfService",
    "Creating",
    "Updating",
    "SystemUpdating",
    "RollingBack",
    "InService",
    "Deleting",
    "Failed",
    "UpdateRollbackFailed",
]
LATEST_EPOCH_MS = 253402300799999  # 9999-12-31T23:59:59.999Z


def api_status(value: object) -> object:
    """An endpoint status as DescribeEndpoint spells it: `IN_SERVICE` (the event's) -> `InService`."""
    if isinstance(value, str) and value.isupper():
        return "".join(word.capitalize() for word in value.split("_"))
    return value


def iso_time(value: object) -> object:
    """A time as ISO 8601 text: epoch milliseconds (the endpoint event's numbers) are converted, text kept."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return value
    if not math.isfinite(value) or not 0 <= value <= LATEST_EPOCH_MS:
        raise ValueError("must be epoch milliseconds between 1970 and 9999")
    moment = datetime.fromtimestamp(value / 1000, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class EndpointStateChange(BaseModel):
    EndpointName: str = Field(max_length=63, pattern=SAGEMAKER_NAME)
    EndpointConfigName: str = Field(max_length=63, pattern=SAGEMAKER_NAME)
    EndpointStatus: EndpointStatusName  # normalised from the event's UPPER_SNAKE
    LastModifiedTime: Timestamp  # normalised from the event's epoch milliseconds
    CreationTime: Timestamp | None = None
    EndpointArn: str | None = Field(
        default=None, max_length=MAX_ARN, pattern=rf"^{PARTITION}:sagemaker:{REGION}:\d{{12}}:endpoint/[a-zA-Z0-9-]+$"
    )

    @field_validator("EndpointStatus", mode="before")
    @classmethod
    def _api_status(cls, value: object) -> object:
        return api_status(value)

    @field_validator("LastModifiedTime", "CreationTime", mode="before")
    @classmethod
    def _iso_time(cls, value: object) -> object:
        return iso_time(value)


class EndpointEvent(AwsEvent):
    source: Literal["aws.sagemaker"]
    detail_type: Literal["SageMaker Endpoint State Change"] = Field(alias="detail-type")
    detail: EndpointStateChange

    @model_validator(mode="after")
    def _consistent(self) -> EndpointEvent:
        arn = self.detail.EndpointArn
        if arn is None:
            return self
        problems = self.arn_problems("detail.EndpointArn", arn)
        if split_arn(arn).resource.removeprefix("endpoint/").lower() != self.detail.EndpointName.lower():
            problems.append(f"detail.EndpointArn names another endpoint than {self.detail.EndpointName}")
        _refuse(problems)
        return self


T = TypeVar("T", bound=BaseModel)


def event_size(event: dict[str, Any]) -> int:
    """The event's size as EventBridge counts it: its JSON text, in bytes."""
    return len(json.dumps(event, separators=(",", ":"), ensure_ascii=False, default=str).encode())


def parse_event(event: object, model: type[T]) -> T:
    """Parse an event into `model`, or raise MalformedEvent naming every wrong field in one line."""
    if not isinstance(event, dict):
        raise MalformedEvent(f"event is a {type(event).__name__}, not a JSON object")
    try:
        size = event_size(event)
    except (RecursionError, ValueError):
        raise MalformedEvent("event is nested too deeply to be JSON") from None
    if size > MAX_EVENT_BYTES:
        raise MalformedEvent(f"event is {size} bytes, more than EventBridge's maximum of {MAX_EVENT_BYTES}")
    try:
        return parse(event=event, model=model)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in issue['loc']) or 'event'}: {issue['msg']}" for issue in error.errors()
        )
        raise MalformedEvent(problems) from None


# ---------------------------------------------------------------- batch: S3 objects and transform jobs
# "Object Created" as Amazon S3 sends it to EventBridge (Amazon S3 User Guide, "EventBridge event message
# structure", https://docs.aws.amazon.com/AmazonS3/latest/userguide/ev-events.html; tests/aws_events keeps the
# example): "version-id" only from a versioned bucket. The key comes URL-encoded, as in S3's own notifications ("red
# flower.jpg" as "red+flower.jpg"; AWS's sample aws-samples/s3-to-lambda-patterns decodes EventBridge's keys the
# same way): the model hands on the key as stored. Bucket names are 3-63 characters, keys at most 1,024 bytes (S3
# User Guide, naming).
class S3Bucket(BaseModel):
    name: str = Field(min_length=3, max_length=63, pattern=r"^[a-z0-9][a-z0-9.-]*[a-z0-9]$")


class S3Object(BaseModel):
    key: str = Field(min_length=1, max_length=1024)
    size: int | None = Field(default=None, strict=True, ge=0)
    etag: str | None = Field(default=None, max_length=128)
    version_id: str | None = Field(default=None, alias="version-id", min_length=1, max_length=1024)
    sequencer: str | None = Field(default=None, max_length=64)

    @field_validator("key")
    @classmethod
    def _stored_key(cls, value: str) -> str:
        key = unquote_plus(value)
        if not key or len(key.encode()) > 1024:
            raise ValueError("must name a key of 1 to 1,024 bytes (S3's limit) once URL-decoded")
        return key


class ObjectCreated(BaseModel):
    bucket: S3Bucket
    object: S3Object
    reason: str | None = Field(default=None, max_length=64)


class ObjectCreatedEvent(AwsEvent):
    source: Literal["aws.s3"]
    detail_type: Literal["Object Created"] = Field(alias="detail-type")
    detail: ObjectCreated


# "SageMaker Transform Job State Change" (SageMaker developer guide, "Events that Amazon SageMaker AI sends to
# Amazon EventBridge", transform job state change; tests/aws_events keeps the example). The documented example's
# status and ARN are placeholders ("another status... GO", an ARN naming another job than TransformJobName): the
# status is any text (only Completed, Failed and Stopped end a job: DescribeTransformJob's TransformJobStatus) and
# the name is taken from TransformJobName. "If the value of TransformJobStatus is Failed, the event contains the
# FailureReason field". Transform job names: 1-63 characters, ^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62} (botocore).
class TransformJobStateChange(BaseModel):
    TransformJobName: str = Field(max_length=63, pattern=SAGEMAKER_NAME)
    TransformJobStatus: Status
    FailureReason: str | None = Field(default=None, max_length=1024)
    TransformJobArn: str | None = Field(
        default=None, max_length=MAX_ARN, pattern=rf"^{PARTITION}:sagemaker:{REGION}:\d{{12}}:transform-job/\S+$"
    )


class TransformJobEvent(AwsEvent):
    source: Literal["aws.sagemaker"]
    detail_type: Literal["SageMaker Transform Job State Change"] = Field(alias="detail-type")
    detail: TransformJobStateChange

    @model_validator(mode="after")
    def _consistent(self) -> TransformJobEvent:
        if self.detail.TransformJobArn:
            _refuse(self.arn_problems("detail.TransformJobArn", self.detail.TransformJobArn))
        return self
