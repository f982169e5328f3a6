"""State changes of this project's alarms (`<project>-canary-...`, `<project>-drift-...`, user-named)."""

from __future__ import annotations

from typing import Any, Literal

from .bakes import request_abort
from .events import AlarmStateChange
from .ledger import Ledger
from .reactions import Reaction
from .settings import Settings

AlarmRole = Literal["canary", "drift", "other"]


def alarm_role(alarm_name: str, project_name: str) -> AlarmRole | None:
    """What an alarm of this project guards; None for another project's alarm."""
    prefix = f"{project_name}-"
    if not alarm_name.startswith(prefix):
        return None
    kind = alarm_name[len(prefix) :].split("-", 1)[0]
    if kind == "canary":
        return "canary"
    if kind == "drift":
        return "drift"
    return "other"


def react_to_alarm(change: AlarmStateChange, event_id: str, settings: Settings, ledger: Ledger, sfn: Any) -> Reaction:
    role = alarm_role(change.alarmName, settings.project_name)
    if role is None:
        return Reaction("ignored", f"alarm {change.alarmName} does not belong to project {settings.project_name}")
    previous = change.previousState.value if change.previousState else "unknown"
    first = ledger.record_once(
        f"ALARM#{change.alarmName}",
        f"STATE#{change.state.timestamp}#{change.state.value}",
        kind="alarm",
        role=role,
        state=change.state.value,
        previous_state=previous,
        state_reason=change.state.reason,
        event_id=event_id,
    )
    if not first:
        return Reaction("duplicate", f"{change.alarmName} -> {change.state.value} already recorded")
    if role == "canary" and change.state.value == "ALARM":
        variant = change.alarmName.rsplit("-", 1)[-1]
        reason = f"alarm {change.alarmName}: {change.state.reason}"
        execution = request_abort(settings.endpoint_name, variant, reason, ledger, sfn)
        if execution:
            return Reaction("aborted", f"canary {execution} on variant {variant} aborted by {change.alarmName}")
    return Reaction("recorded", f"{role} alarm {change.alarmName}: {previous} -> {change.state.value}")
