"""What the workflows send to the functions they call, and what the schedule sends to the drift monitor.

A payload that is not what the state machine sends (not an object, an unknown action, a field missing,
of the wrong type, beyond AWS's limits, an execution of another workflow, another endpoint or pipeline)
fails the call with one InvalidPayload error naming each wrong field, before any AWS call: the
execution's history keeps the error. Fields a step does not read are let through, so that a workflow
can send more than a function needs.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator, model_validator

from .events import (
    MAX_ARN,
    MAX_MODEL_PACKAGE_VERSION,
    PARTITION,
    REGION,
    SAGEMAKER_NAME,
    AwsEvent,
    MalformedEvent,
    parse_event,
    split_arn,
)
from .settings import Settings

SageMakerName = Annotated[str, Field(max_length=63, pattern=SAGEMAKER_NAME)]
WorkflowExecutionName = Annotated[str, Field(min_length=1, max_length=80, pattern=r"^[^\s:/]+$")]
WorkflowExecutionArn = Annotated[
    str,
    Field(
        max_length=MAX_ARN, pattern=rf"^{PARTITION}:states:{REGION}:\d{{12}}:execution:[^\s:/]{{1,80}}:[^\s:/]{{1,80}}$"
    ),
]
PipelineRunArn = Annotated[
    str,
    Field(
        max_length=MAX_ARN,
        pattern=rf"^{PARTITION}:sagemaker:{REGION}:\d{{12}}:pipeline/[a-zA-Z0-9-]{{1,256}}/execution/[A-Za-z0-9_-]{{1,64}}$",
    ),
]
VersionArn = Annotated[
    str,
    Field(
        max_length=MAX_ARN, pattern=rf"^{PARTITION}:sagemaker:{REGION}:\d{{12}}:model-package/[a-zA-Z0-9-]{{1,63}}/\d+$"
    ),
]
Token = Annotated[str, Field(min_length=1, max_length=2048)]
MAX_STATE_PAYLOAD = 256 * 1024  # Step Functions passes at most 256 KiB between states
VersionNumber = Annotated[int, Field(strict=True, ge=1, le=MAX_MODEL_PACKAGE_VERSION)]


class InvalidPayload(ValueError):
    """A function was called with a payload its workflow (or schedule) does not send; nothing was done."""


class StepPayload(BaseModel):
    """A workflow's call; the validation context names this project's workflows, endpoint and pipeline."""

    model_config = ConfigDict(extra="ignore")

    Action: str
    ExecutionArn: WorkflowExecutionArn | None = None

    @field_validator("ExecutionArn")
    @classmethod
    def _of_this_project(cls, arn: str | None, info: ValidationInfo) -> str | None:
        workflows = (info.context or {}).get("workflows")
        if arn is None or not workflows:
            return arn
        machine = split_arn(arn).resource.split(":")[1]
        if machine not in workflows:
            raise ValueError(f"is an execution of {machine}, not of {' or '.join(sorted(workflows))}")
        return arn


def _own(field: str, value: str, info: ValidationInfo) -> str:
    expected = (info.context or {}).get(field)
    if expected and value.lower() != str(expected).lower():
        raise ValueError(f"is {value}, not this project's {expected}")
    return value


def _own_pipeline_run(arn: str, info: ValidationInfo) -> str:
    pipeline = arn.split(":pipeline/", 1)[1].split("/", 1)[0]
    _own("pipeline", pipeline, info)
    return arn


# ---------------------------------------------------------------- the canary function (deploy and rollback)
class LockRequest(StepPayload):
    ExecutionArn: WorkflowExecutionArn
    Version: VersionNumber
    TaskToken: Token


class LockRelease(StepPayload):
    ExecutionArn: WorkflowExecutionArn


class PlanRequest(StepPayload):
    ModelPackageArn: VersionArn
    Version: VersionNumber
    ResourceName: SageMakerName
    Strategy: Literal["Canary", "Shadow"] = "Canary"


class RestoreRequest(StepPayload):
    ModelPackageArn: VersionArn | Literal["none"]
    ResourceName: SageMakerName


class VariantPair(StepPayload):
    CandidateVariant: SageMakerName
    LiveVariant: SageMakerName
    Kind: Literal["Canary", "Replace"] = "Canary"  # Replace: the candidate took the live variant's place


class ShadowComparison(VariantPair):
    ExecutionArn: WorkflowExecutionArn  # the report is kept in the ledger under its execution


class GuardReset(StepPayload):
    CandidateVariant: SageMakerName


class ScalingPreparation(StepPayload):
    ExecutionArn: WorkflowExecutionArn  # whose changes to autoscaling are recorded, to be put back
    ConfigName: SageMakerName  # the config the endpoint is about to change to


class ScalingRestoration(StepPayload):
    ExecutionArn: WorkflowExecutionArn


class ScalingCopy(VariantPair):
    ExecutionArn: WorkflowExecutionArn


class BakeStart(StepPayload):
    ExecutionName: WorkflowExecutionName
    CandidateVariant: SageMakerName
    Percent: float = Field(strict=True, ge=0, le=100)  # 0: a shadow's bake (it answers no user)
    TaskToken: Token


class MadeCheck(StepPayload):
    """Was the model or endpoint config of this name made from this request (a create retried after its
    answer was lost)?"""

    Kind: Literal["model", "endpoint-config"]
    Name: SageMakerName
    ModelPackageArn: VersionArn | None = None
    ProductionVariants: list[dict[str, Any]] = Field(default_factory=list, max_length=10)

    @model_validator(mode="after")
    def _what_to_compare(self) -> MadeCheck:
        if self.Kind == "model" and self.ModelPackageArn is None:
            raise ValueError("a model check needs ModelPackageArn")
        if self.Kind == "endpoint-config" and not self.ProductionVariants:
            raise ValueError("an endpoint-config check needs ProductionVariants")
        return self


class CandidateRejection(StepPayload):
    """Reject the candidate rolled back for what it did, with the reason (any length: the function cuts it
    to what the registry keeps)."""

    ModelPackageArn: VersionArn
    Reason: str = Field(max_length=MAX_STATE_PAYLOAD)

    @field_validator("ModelPackageArn")
    @classmethod
    def _this_group(cls, arn: str, info: ValidationInfo) -> str:
        group = arn.split(":model-package/", 1)[1].rsplit("/", 1)[0]
        _own("model_package_group", group, info)
        return arn


# ---------------------------------------------------------------- the batch function (batch workflow)
S3Url = Annotated[str, Field(max_length=1100, pattern=r"^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/\S.*$")]


class TransformRequest(StepPayload):
    """Score one file with the live model: keep the token, create the job (its end completes the token)."""

    ExecutionArn: WorkflowExecutionArn
    InputUrl: S3Url
    ObjectVersion: str = Field(min_length=1, max_length=1100)  # "none": a manual start
    ModelName: SageMakerName
    TaskToken: Token


class BatchMeasurement(StepPayload):
    """Measure a finished job's joined output against the version that scored it."""

    OutputUrl: S3Url
    Labelled: bool = Field(strict=True)  # what the transform step answered: true or false, not "yes" or 1
    ModelPackageArn: VersionArn
    JobName: SageMakerName


BATCH_PAYLOADS: dict[str, type[StepPayload]] = {"transform": TransformRequest, "measure": BatchMeasurement}


CANARY_PAYLOADS: dict[str, type[StepPayload]] = {
    "acquire-lock": LockRequest,
    "release-lock": LockRelease,
    "plan": PlanRequest,
    "plan-restore": RestoreRequest,
    "analyse": VariantPair,
    "compare-shadow": ShadowComparison,
    "prune": StepPayload,
    "prepare-scaling": ScalingPreparation,
    "copy-scaling": ScalingCopy,
    "restore-scaling": ScalingRestoration,
    "reset-guards": GuardReset,
    "start-bake": BakeStart,
    "confirm-made": MadeCheck,
    "reject-candidate": CandidateRejection,
}


# ---------------------------------------------------------------- the endpoint-update function
class Weight(BaseModel):
    VariantName: SageMakerName
    DesiredWeight: float = Field(strict=True, ge=0, le=1)  # the workflows shift fractions of the traffic


class Tag(BaseModel):
    Key: str = Field(min_length=1, max_length=128)
    Value: str = Field(max_length=256)


class EndpointChange(StepPayload):
    Action: Literal["create", "update", "weights"]
    EndpointName: SageMakerName
    EndpointConfigName: SageMakerName
    TaskToken: Token
    ExecutionArn: WorkflowExecutionArn
    Weights: list[Weight] = Field(default_factory=list, max_length=10)
    Tags: list[Tag] = Field(default_factory=list, max_length=50)

    @field_validator("EndpointName")
    @classmethod
    def _this_endpoint(cls, name: str, info: ValidationInfo) -> str:
        return _own("endpoint", name, info)

    @model_validator(mode="after")
    def _weights_to_shift(self) -> EndpointChange:
        if self.Action == "weights" and not self.Weights:
            raise ValueError("Weights: a weights change needs at least one variant")
        return self


ENDPOINT_UPDATE_PAYLOADS: dict[str, type[StepPayload]] = {
    "create": EndpointChange,
    "update": EndpointChange,
    "weights": EndpointChange,
}


# ---------------------------------------------------------------- the retrain function
class Admission(StepPayload):
    Request: dict[str, Any]  # its fields are checked by the admit step itself (InvalidRetrainRequest)
    ExecutionName: WorkflowExecutionName


class RunAwait(StepPayload):
    PipelineExecutionArn: PipelineRunArn
    Attempt: int = Field(strict=True, ge=1, le=100)
    TaskToken: Token
    ExecutionArn: WorkflowExecutionArn

    @field_validator("PipelineExecutionArn")
    @classmethod
    def _this_pipeline(cls, arn: str, info: ValidationInfo) -> str:
        return _own_pipeline_run(arn, info)


class FinishedRun(BaseModel):
    PipelineExecutionArn: PipelineRunArn
    Attempt: int = Field(strict=True, ge=1, le=100)
    Status: Literal["Succeeded", "Failed", "Stopped"]
    FailureReason: str = Field(default="", max_length=4096)

    @field_validator("PipelineExecutionArn")
    @classmethod
    def _this_pipeline(cls, arn: str, info: ValidationInfo) -> str:
        return _own_pipeline_run(arn, info)


class Assessment(StepPayload):
    Run: FinishedRun


class GateRelease(StepPayload):
    ExecutionName: WorkflowExecutionName


RETRAIN_PAYLOADS: dict[str, type[StepPayload]] = {
    "admit": Admission,
    "await": RunAwait,
    "assess": Assessment,
    "release": GateRelease,
}


def _problems(error: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(part) for part in issue['loc']) or 'payload'}: {issue['msg']}"
        for issue in error.errors(include_url=False)
    )


def check_payload(
    event: object, payloads: dict[str, type[StepPayload]], settings: Settings, workflows: Collection[str]
) -> StepPayload:
    """The workflow's payload for its action, or InvalidPayload naming every wrong field in one line."""
    if not isinstance(event, dict):
        raise InvalidPayload(f"payload is a {type(event).__name__}, not a JSON object")
    action = event.get("Action")
    if not isinstance(action, str) or action not in payloads:
        shown = repr(action)[:80] if isinstance(action, str) else f"a {type(action).__name__}"
        raise InvalidPayload(f"Action: {shown} is not one of {', '.join(payloads)}")
    context = {
        "workflows": {f"{settings.project_name}-{workflow}" for workflow in workflows},
        "endpoint": settings.endpoint_name,
        "pipeline": settings.pipeline_name,
        "model_package_group": settings.model_package_group_name,
    }
    try:
        return payloads[action].model_validate(event, context=context)
    except ValidationError as error:
        raise InvalidPayload(f"{action}: {_problems(error)}") from None


class ScheduledEvent(AwsEvent):
    source: Literal["aws.events", "aws.scheduler"]
    detail_type: Literal["Scheduled Event"] = Field(alias="detail-type")


def check_schedule(event: object) -> None:
    """The drift monitor runs on its schedule's event, or on {} (a run by hand); InvalidPayload otherwise."""
    if event == {}:
        return
    try:
        parse_event(event, ScheduledEvent)
    except MalformedEvent as error:
        raise InvalidPayload(f"not a scheduled event nor {{}}: {error}") from None
