"""Typed configuration of a function, read from the environment the template sets."""

from __future__ import annotations

import os
from dataclasses import dataclass


class MissingSetting(RuntimeError):
    """The function's environment lacks a variable the template should have set."""


def _require(name: str) -> str:
    value = os.environ.get(name, "")
    if not value:
        raise MissingSetting(f"environment variable {name} is not set (it comes from template.yaml)")
    return value


@dataclass(frozen=True)
class Settings:
    project_name: str
    model_package_group_name: str
    endpoint_name: str
    pipeline_name: str
    ledger_table_name: str
    rejected_events_queue_url: str
    deploy_state_machine_arn: str = ""
    rollback_state_machine_arn: str = ""
    retrain_state_machine_arn: str = ""
    notification_topic_arn: str = ""

    @classmethod
    def from_env(cls) -> Settings:
        return cls(
            project_name=_require("PROJECT_NAME"),
            model_package_group_name=_require("MODEL_PACKAGE_GROUP_NAME"),
            endpoint_name=_require("ENDPOINT_NAME"),
            pipeline_name=_require("PIPELINE_NAME"),
            ledger_table_name=_require("LEDGER_TABLE_NAME"),
            rejected_events_queue_url=_require("REJECTED_EVENTS_QUEUE_URL"),
            deploy_state_machine_arn=os.environ.get("DEPLOY_STATE_MACHINE_ARN", ""),
            rollback_state_machine_arn=os.environ.get("ROLLBACK_STATE_MACHINE_ARN", ""),
            retrain_state_machine_arn=os.environ.get("RETRAIN_STATE_MACHINE_ARN", ""),
            notification_topic_arn=os.environ.get("NOTIFICATION_TOPIC_ARN", ""),
        )


def automation_marker(project: str) -> str:
    """How this system signs the rejections it makes (the approval description's first words)."""
    return f"[{project} automation]"
