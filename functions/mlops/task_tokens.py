"""Completing a workflow's waiting task token, which may belong to an execution that has already ended."""

from __future__ import annotations

import json
from typing import Any


def complete(sfn: Any, token: str, *, output: dict[str, Any] | None = None, error: str = "", cause: str = "") -> bool:
    """Succeed the token with `output`, or fail it with `error` and `cause`; False when nobody waits on it anymore."""
    gone = (sfn.exceptions.TaskTimedOut, sfn.exceptions.TaskDoesNotExist, sfn.exceptions.InvalidToken)
    try:
        if error:
            sfn.send_task_failure(taskToken=token, error=error, cause=cause[:32768])
        else:
            sfn.send_task_success(taskToken=token, output=json.dumps(output or {}))
    except gone:
        return False
    return True
