"""Starting a workflow once: its execution is named after what it acts on, so a repeated event starts nothing."""

from __future__ import annotations

import json
from typing import Any


def execution_arn(state_machine_arn: str, name: str) -> str:
    return state_machine_arn.replace(":stateMachine:", ":execution:", 1) + f":{name}"


def start_once(sfn: Any, state_machine_arn: str, name: str, payload: dict[str, str]) -> tuple[str, bool]:
    """Start the named execution; (its ARN, whether this call started it)."""
    try:
        response = sfn.start_execution(stateMachineArn=state_machine_arn, name=name, input=json.dumps(payload))
    except sfn.exceptions.ExecutionAlreadyExists:
        return execution_arn(state_machine_arn, name), False
    return response["executionArn"], True
