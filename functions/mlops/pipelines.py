"""Status changes of this project's SageMaker pipeline executions."""

from __future__ import annotations

from .events import PipelineExecutionStatusChange
from .ledger import Ledger
from .reactions import Reaction
from .settings import Settings


def pipeline_name(pipeline_arn: str) -> str:
    return pipeline_arn.rsplit("/", 1)[-1]


def react_to_pipeline_status(
    change: PipelineExecutionStatusChange, event_id: str, settings: Settings, ledger: Ledger
) -> Reaction:
    name = pipeline_name(change.pipelineArn)
    if name != settings.pipeline_name.lower():
        return Reaction("ignored", f"pipeline {name} is not this project's pipeline {settings.pipeline_name}")
    status = change.currentPipelineExecutionStatus
    moment = change.executionEndTime or change.executionStartTime or "unknown"
    first = ledger.record_once(
        f"PIPELINE#{change.pipelineExecutionArn}",
        f"STATUS#{status}#{moment}",
        kind="pipeline-status",
        status=status,
        previous_status=change.previousPipelineExecutionStatus,
        display_name=change.pipelineExecutionDisplayName,
        event_id=event_id,
    )
    if not first:
        return Reaction("duplicate", f"{change.pipelineExecutionArn} {status} already recorded")
    return Reaction("recorded", f"pipeline execution {change.pipelineExecutionArn.rsplit('/', 1)[-1]} is {status}")
