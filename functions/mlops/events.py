"""The EventBridge events this project reacts to, as typed models parsed by Powertools."""

from __future__ import annotations

from typing import Literal, TypeVar

from aws_lambda_powertools.utilities.parser import ValidationError, parse
from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from pydantic import BaseModel, Field

MODEL_PACKAGE_STATE_CHANGE = "SageMaker Model Package State Change"
ALARM_STATE_CHANGE = "CloudWatch Alarm State Change"
PIPELINE_EXECUTION_STATUS_CHANGE = "SageMaker Model Building Pipeline Execution Status Change"


class MalformedEvent(ValueError):
    """An event that does not have the shape AWS documents; the message names the fields."""


class ModelPackageStateChange(BaseModel):
    ModelPackageGroupName: str = Field(min_length=1)
    ModelPackageVersion: int = Field(ge=1)
    ModelPackageArn: str = Field(pattern=r"^arn:aws[a-z-]*:sagemaker:[a-z0-9-]+:\d{12}:model-package/.+/\d+$")
    ModelPackageStatus: str
    ModelApprovalStatus: str
    LastModifiedTime: str = Field(min_length=1)
    CreationTime: str | None = None


class ModelPackageEvent(EventBridgeModel):
    source: Literal["aws.sagemaker"]
    detail_type: Literal["SageMaker Model Package State Change"] = Field(alias="detail-type")
    detail: ModelPackageStateChange


class AlarmState(BaseModel):
    value: Literal["OK", "ALARM", "INSUFFICIENT_DATA"]
    reason: str = ""
    timestamp: str = Field(min_length=1)


class AlarmStateChange(BaseModel):
    alarmName: str = Field(min_length=1)
    state: AlarmState
    previousState: AlarmState | None = None


class AlarmEvent(EventBridgeModel):
    source: Literal["aws.cloudwatch"]
    detail_type: Literal["CloudWatch Alarm State Change"] = Field(alias="detail-type")
    detail: AlarmStateChange


class PipelineExecutionStatusChange(BaseModel):
    pipelineArn: str = Field(pattern=r"^arn:aws[a-z-]*:sagemaker:[a-z0-9-]+:\d{12}:pipeline/[^/]+$")
    pipelineExecutionArn: str = Field(
        pattern=r"^arn:aws[a-z-]*:sagemaker:[a-z0-9-]+:\d{12}:pipeline/[^/]+/execution/.+$"
    )
    currentPipelineExecutionStatus: Literal["Executing", "Stopping", "Stopped", "Failed", "Succeeded"]
    previousPipelineExecutionStatus: str | None = None
    executionStartTime: str | None = None
    executionEndTime: str | None = None
    pipelineExecutionDisplayName: str | None = None


class PipelineExecutionEvent(EventBridgeModel):
    source: Literal["aws.sagemaker"]
    detail_type: Literal["SageMaker Model Building Pipeline Execution Status Change"] = Field(alias="detail-type")
    detail: PipelineExecutionStatusChange


class EndpointStateChange(BaseModel):
    EndpointName: str = Field(min_length=1)
    EndpointConfigName: str = Field(min_length=1)
    EndpointStatus: Literal[
        "OutOfService", "Creating", "Updating", "SystemUpdating", "RollingBack", "InService", "Deleting", "Failed"
    ]
    LastModifiedTime: str = Field(min_length=1)
    EndpointArn: str | None = None


class EndpointEvent(EventBridgeModel):
    source: Literal["aws.sagemaker"]
    detail_type: Literal["SageMaker Endpoint State Change"] = Field(alias="detail-type")
    detail: EndpointStateChange


T = TypeVar("T", bound=BaseModel)


def parse_event(event: object, model: type[T]) -> T:
    """Parse an event into `model`, or raise MalformedEvent naming every wrong field in one line."""
    if not isinstance(event, dict):
        raise MalformedEvent(f"event is a {type(event).__name__}, not a JSON object")
    try:
        return parse(event=event, model=model)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in issue['loc']) or 'event'}: {issue['msg']}" for issue in error.errors()
        )
        raise MalformedEvent(problems) from None
