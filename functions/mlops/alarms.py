"""State changes of this project's alarms (`<project>-canary-...`, `<project>-drift-...`, user-named).

A canary guard going to ALARM aborts the running canary on its variant. A drift alarm going to ALARM
asks the retrain gate (retrain_rules.py) and starts the retrain workflow when admitted; otherwise the
alarm is recorded as joined to the running retrain, or as held back by the cooldown or the daily cap.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any, Literal

from .bakes import request_abort
from .events import AlarmStateChange
from .ledger import Ledger
from .reactions import Reaction
from .retrain_rules import RetrainGate
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


def retrain_execution_name(alarm_name: str, timestamp: str) -> str:
    """The retrain one drift alarm transition starts: the same name for every copy of its event."""
    digest = hashlib.sha256(f"{alarm_name}|{timestamp}".encode()).hexdigest()[:16]
    readable = re.sub(r"[^A-Za-z0-9_-]", "-", alarm_name)[-40:]
    return f"drift-{readable}-{digest}"


def retrain_on_drift(
    change: AlarmStateChange, entry: tuple[str, str], settings: Settings, ledger: Ledger, gate: RetrainGate, sfn: Any
) -> Reaction:
    name = retrain_execution_name(change.alarmName, change.state.timestamp)
    admission = gate.admit(name, forced=False)
    if admission.outcome == "admitted":
        request = {
            "Reason": f"drift alarm {change.alarmName}: {change.state.reason}"[:1000],
            "RequestedBy": f"alarm {change.alarmName}",
            "Trigger": {"Alarm": change.alarmName, "State": change.state.value, "Timestamp": change.state.timestamp},
        }
        try:
            started = sfn.start_execution(
                stateMachineArn=settings.retrain_state_machine_arn, name=name, input=json.dumps(request)
            )["executionArn"]
        except sfn.exceptions.ExecutionAlreadyExists:
            started = f"{settings.retrain_state_machine_arn.replace(':stateMachine:', ':execution:')}:{name}"
        ledger.annotate(*entry, retrain="started", retrain_execution=name)
        return Reaction("started", f"drift alarm {change.alarmName}: retrain {name} started", started)
    holder_pk = f"RETRAIN#{admission.holder}" if admission.outcome == "joined" else f"PROJECT#{settings.project_name}"
    ledger.record_once(
        holder_pk,
        f"{admission.outcome.upper()}#{change.state.timestamp}#{change.alarmName}",
        kind=f"retrain-{admission.outcome}",
        alarm=change.alarmName,
        state_reason=change.state.reason,
        reason=admission.reason,
    )
    ledger.annotate(*entry, retrain=admission.outcome, retrain_reason=admission.reason)
    return Reaction("recorded", f"drift alarm {change.alarmName}: {admission.outcome}, {admission.reason}")


def react_to_alarm(
    change: AlarmStateChange,
    event_id: str,
    settings: Settings,
    ledger: Ledger,
    sfn: Any,
    gate: RetrainGate | None = None,
) -> Reaction:
    role = alarm_role(change.alarmName, settings.project_name)
    if role is None:
        return Reaction("ignored", f"alarm {change.alarmName} does not belong to project {settings.project_name}")
    previous = change.previousState.value if change.previousState else "unknown"
    entry = (f"ALARM#{change.alarmName}", f"STATE#{change.state.timestamp}#{change.state.value}")
    first = ledger.record_once(
        *entry,
        kind="alarm",
        role=role,
        state=change.state.value,
        previous_state=previous,
        state_reason=change.state.reason,
        event_id=event_id,
    )
    drift = role == "drift" and change.state.value == "ALARM" and gate is not None
    if not first and not (drift and "retrain" not in (ledger.get(*entry) or {})):
        return Reaction("duplicate", f"{change.alarmName} -> {change.state.value} already recorded")
    if drift and gate is not None:  # (also when an earlier delivery stopped before deciding)
        return retrain_on_drift(change, entry, settings, ledger, gate, sfn)
    if role == "canary" and change.state.value == "ALARM":
        variant = change.alarmName.rsplit("-", 1)[-1]
        reason = f"alarm {change.alarmName}: {change.state.reason}"
        execution = request_abort(settings.endpoint_name, variant, reason, ledger, sfn, change.state.timestamp)
        if execution:
            return Reaction("aborted", f"canary {execution} on variant {variant} aborted by {change.alarmName}")
    return Reaction("recorded", f"{role} alarm {change.alarmName}: {previous} -> {change.state.value}")
