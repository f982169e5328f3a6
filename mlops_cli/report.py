"""`mlops report`: one self-contained HTML page about a deployment and the latest monitoring figures.

The page needs nothing at view time: inline CSS, SVG charts drawn here, no scripts, fonts or images.

Timeline of a deploy workflow execution (the newest by default):
  - Step Functions: DescribeExecution (start, stop, status, outcome) and GetExecutionHistory (when the workflow
    entered the states that change the endpoint: UpdateEndpoint, StartShadow, RollBackTraffic, ...);
  - the ledger (DynamoDB, pk ENDPOINT#<endpoint>): CANARY (candidate and live variants, strategy),
    STEP#<execution>#<i> (each traffic step), ABORT#<execution>, SHADOW#<execution>#... (shadow comparisons),
    DEPLOYMENT#<start>#<execution> (the outcome), LIVE;
  - CloudWatch GetMetricData, AWS/SageMaker Invocations, Invocation5XXErrors and ModelLatency per variant
    (dimensions EndpointName, VariantName: what the <project>-canary-* guard alarms watch);
  - the guard alarms' state changes: CloudWatch DescribeAlarmHistory, or, where it is not available, the state
    changes the alarm function recorded in the ledger (ALARM#<alarm> / STATE#...).

Monitoring: the latest drift run (CAPTURE#<endpoint> / RUN#..., kind drift-run: PSI per feature, bias DPPL and DI)
and ground-truth run (GROUNDTRUTH#<endpoint> / RUN#..., kind ground-truth-run: accuracy, AUC...) against the stack's
parameters (DriftThreshold, QualityMaxDrop, BiasMaxAbsDPPL, BiasMinDI, BiasMaxDI) and the version's registered
evaluation (its ModelMetrics.ModelQuality statistics in S3).
"""

from __future__ import annotations

import argparse
import contextlib
import html
import itertools
import json
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from .aws import Clients, UsageError
from .main import Result
from .project import Project
from .records import endpoint_pk, entries, entry, registered_metrics, stack_parameters, version_number

# CloudWatch periods a query may use (1-30 s: high-resolution metrics; SageMaker publishes per minute).
PERIODS = (1, 5, 10, 30, 60, 120, 300, 600, 900, 1800, 3600, 10800, 21600, 86400)
# Workflow states worth a mark on the timeline: what the endpoint or the decision does there.
STATES = {
    "CreateEndpoint": "endpoint created with the version",
    "UpdateEndpoint": "candidate variant added (0% of the traffic)",
    "StartShadow": "shadow variant added (copies of the live requests)",
    "ExtendBake": "analysis inconclusive: bake extended",
    "ExtendShadow": "comparison inconclusive: shadow extended",
    "RollBackTraffic": "traffic back to the live variant",
    "RestorePreviousConfig": "previous endpoint config restored",
    "RejectCandidate": "version rejected in the registry",
    "RemovePreviousVariant": "previous variant removed",
}
ROLLBACK_STATES = ("RollBackTraffic", "PrepareRollbackScaling", "RestorePreviousConfig")
SUCCESS = {"Deployed"}
COLOURS = {"Blue": "#2563eb", "Green": "#16a34a", "ShadowBlue": "#7c3aed", "ShadowGreen": "#d97706"}
PALETTE = ("#0891b2", "#db2777", "#65a30d", "#9333ea", "#ea580c")
STATE_COLOURS = {"OK": "#86efac", "ALARM": "#ef4444", "INSUFFICIENT_DATA": "#d1d5db"}
PLOT_WIDTH, LEFT, RIGHT = 1100, 70, 190


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _when(value: object) -> datetime | None:
    """A time from AWS or the ledger (datetime, ISO 8601 with Z, +00:00 or +0000); None when unreadable."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    text = str(value or "").strip()
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z") if moment else None


def _number(value: object) -> float | None:
    try:
        number = float(str(value))
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _colour(variant: str, index: int = 0) -> str:
    return COLOURS.get(variant, PALETTE[index % len(PALETTE)])


# ------------------------------------------------------------------ reading AWS and the ledger
def find_execution(clients: Clients, project: Project, wanted: str | None) -> dict[str, Any] | None:
    """DescribeExecution of the deploy workflow execution named (name or ARN), or of the newest one; None if none."""
    sfn = clients("stepfunctions")
    machine = project.workflow("deploy")
    if wanted:
        arn = wanted if wanted.startswith("arn:") else f"{machine.replace(':stateMachine:', ':execution:')}:{wanted}"
        try:
            return dict(sfn.describe_execution(executionArn=arn))
        except ClientError as error:
            raise UsageError(
                f"no deploy workflow execution {wanted}: {error.response['Error'].get('Message')}"
            ) from error
    listed = sfn.list_executions(stateMachineArn=machine, maxResults=100)["executions"]
    if not listed:
        return None
    newest = max(listed, key=lambda item: item["startDate"])
    return dict(sfn.describe_execution(executionArn=newest["executionArn"]))


def state_entries(clients: Clients, arn: str) -> tuple[list[tuple[str, datetime]], str | None]:
    """(state name, when entered) of the execution, oldest first, and why they are missing (None if not)."""
    found: list[tuple[str, datetime]] = []
    try:
        paginator = clients("stepfunctions").get_paginator("get_execution_history")
        for page in paginator.paginate(executionArn=arn, includeExecutionData=False):
            for event in page["events"]:
                details = event.get("stateEnteredEventDetails")
                if details and str(event.get("type", "")).endswith("StateEntered"):
                    found.append((str(details["name"]), _when(event["timestamp"]) or datetime.now(UTC)))
    except (ClientError, BotoCoreError) as error:
        return [], f"GetExecutionHistory failed: {error}"
    found.sort(key=lambda item: item[1])
    return found, None


def _period(seconds: float) -> int:
    """The smallest CloudWatch period giving at most ~120 points over `seconds`."""
    return next((p for p in PERIODS if p >= seconds / 120), PERIODS[-1])


def variant_metrics(
    clients: Clients, project: Project, variants: list[str], start: datetime, end: datetime
) -> tuple[dict[str, dict[str, list[tuple[datetime, float]]]], int]:
    """{variant: {metric: [(time, value)]}} of AWS/SageMaker Invocations, Invocation5XXErrors (Sum) and
    ModelLatency (Average), and the period (seconds) they were read at."""
    period = _period((end - start).total_seconds())
    start = start - timedelta(seconds=period)
    end = end + timedelta(seconds=period)
    queries, keys = [], {}
    for i, variant in enumerate(variants):
        for j, (metric, stat) in enumerate(
            (("Invocations", "Sum"), ("Invocation5XXErrors", "Sum"), ("ModelLatency", "Average"))
        ):
            query_id = f"m{i}x{j}"
            keys[query_id] = (variant, metric)
            dimensions = [
                {"Name": "EndpointName", "Value": project.endpoint},
                {"Name": "VariantName", "Value": variant},
            ]
            queries.append(
                {
                    "Id": query_id,
                    "MetricStat": {
                        "Metric": {"Namespace": "AWS/SageMaker", "MetricName": metric, "Dimensions": dimensions},
                        "Period": period,
                        "Stat": stat,
                    },
                    "ReturnData": True,
                }
            )
    found: dict[str, dict[str, list[tuple[datetime, float]]]] = {v: {} for v in variants}
    if not queries:
        return found, period
    kwargs: dict[str, Any] = {
        "MetricDataQueries": queries,
        "StartTime": start,
        "EndTime": end,
        "ScanBy": "TimestampAscending",
    }
    while True:
        page = clients("cloudwatch").get_metric_data(**kwargs)
        for result in page["MetricDataResults"]:
            variant, metric = keys[result["Id"]]
            points = [
                (_when(t) or start, float(v)) for t, v in zip(result["Timestamps"], result["Values"], strict=False)
            ]
            found[variant].setdefault(metric, []).extend(points)
        if not page.get("NextToken"):
            break
        kwargs["NextToken"] = page["NextToken"]
    for metrics in found.values():
        for points in metrics.values():
            points.sort(key=lambda point: point[0])
    return found, period


def guard_alarms(clients: Clients, project: Project, variants: list[str]) -> list[dict[str, Any]]:
    """The guard alarms (<project>-canary-<metric>-<variant>) of these variants, as DescribeAlarms tells them."""
    found = []
    for page in (
        clients("cloudwatch").get_paginator("describe_alarms").paginate(AlarmNamePrefix=f"{project.name}-canary-")
    ):
        for alarm in page["MetricAlarms"]:
            if any(alarm["AlarmName"].endswith(f"-{variant}") for variant in variants):
                found.append(alarm)
    return sorted(found, key=lambda alarm: str(alarm["AlarmName"]))


def alarm_changes(
    clients: Clients, project: Project, alarms: list[dict[str, Any]], start: datetime, end: datetime
) -> tuple[dict[str, list[dict[str, Any]]], str]:
    """{alarm: [{At, From, To, Reason}]} of the state changes between start and end, and where they come from:
    DescribeAlarmHistory, or the ledger's ALARM#<alarm> entries when the history cannot be read."""
    changes: dict[str, list[dict[str, Any]]] = {}
    try:
        for alarm in alarms:
            name = str(alarm["AlarmName"])
            paginator = clients("cloudwatch").get_paginator("describe_alarm_history")
            pages = paginator.paginate(AlarmName=name, HistoryItemType="StateUpdate", StartDate=start, EndDate=end)
            for page in pages:
                for item in page.get("AlarmHistoryItems", []):
                    data = json.loads(item.get("HistoryData") or "{}")
                    changes.setdefault(name, []).append(
                        {
                            "At": _when(item["Timestamp"]),
                            "From": (data.get("oldState") or {}).get("stateValue"),
                            "To": (data.get("newState") or {}).get("stateValue"),
                            "Reason": (data.get("newState") or {}).get("stateReason") or item.get("HistorySummary"),
                        }
                    )
        source = "CloudWatch DescribeAlarmHistory"
    except (ClientError, BotoCoreError, NotImplementedError) as error:
        changes = {}
        for alarm in alarms:
            name = str(alarm["AlarmName"])
            for item in entries(clients, project, f"ALARM#{name}", "STATE#"):
                at = _when(str(item["sk"]).split("#")[1])
                if at is not None and start <= at <= end:
                    changes.setdefault(name, []).append(
                        {
                            "At": at,
                            "From": item.get("previous_state"),
                            "To": item.get("state"),
                            "Reason": item.get("state_reason"),
                        }
                    )
        code = error.response["Error"].get("Code") if isinstance(error, ClientError) else type(error).__name__
        source = (
            f"the state changes the alarm function recorded in the ledger (ALARM#<alarm>): "
            f"DescribeAlarmHistory is not available here ({code})"
        )
    for found in changes.values():
        found.sort(key=lambda change: change["At"] or start)
    return changes, source


@dataclass
class Timeline:
    execution: dict[str, Any]
    start: datetime
    end: datetime
    strategy: str
    candidate: str | None
    live: str | None
    shadow: str | None
    traffic: dict[str, list[tuple[datetime, float]]]  # production variants: share in percent, a step function
    copies: dict[str, list[tuple[datetime, float]]]  # shadow variants: share of the live requests copied
    metrics: dict[str, dict[str, list[tuple[datetime, float]]]]
    period: int
    alarms: list[dict[str, Any]]
    changes: dict[str, list[dict[str, Any]]]
    alarm_source: str
    decisions: list[dict[str, Any]]
    outcome: dict[str, Any]
    steps: list[int]
    notes: list[str] = field(default_factory=list)


def _other(variant: str) -> str:
    return {"Blue": "Green", "Green": "Blue"}.get(variant, "")


def timeline(clients: Clients, project: Project, parameters: dict[str, str], wanted: str | None) -> Timeline | None:
    execution = find_execution(clients, project, wanted)
    if execution is None:
        return None
    arn, name = str(execution["executionArn"]), str(execution["name"])
    now = datetime.now(UTC)
    start = _when(execution["startDate"]) or now
    end = _when(execution.get("stopDate")) or now
    pk = endpoint_pk(project)
    notes: list[str] = []
    states, missing = state_entries(clients, arn)
    if missing:
        notes.append(missing)
    entered: dict[str, datetime] = {}
    for state, at in states:
        entered.setdefault(state, at)

    canary = entry(clients, project, pk, "CANARY") or {}
    canary = canary if canary.get("execution_arn") == arn else {}
    live_entry = entry(clients, project, pk, "LIVE") or {}
    steps = sorted(
        entries(clients, project, pk, f"STEP#{name}#"), key=lambda step: int(str(step["sk"]).rsplit("#", 1)[-1])
    )
    abort = entry(clients, project, pk, f"ABORT#{name}")
    shadow_reports = entries(clients, project, pk, f"SHADOW#{name}#")
    outcome_entry = next(
        (e for e in entries(clients, project, pk, "DEPLOYMENT#") if str(e["sk"]).endswith(f"#{name}")), None
    )
    output = json.loads(execution.get("output") or "null")
    outcome_output = output.get("Outcome") if isinstance(output, dict) else None
    outcome_output = outcome_output if isinstance(outcome_output, dict) else {}
    request = json.loads(execution.get("input") or "{}")
    outcome = {
        "Status": execution["status"],
        "Outcome": (outcome_entry or {}).get("outcome") or outcome_output.get("Status") or execution.get("error"),
        "Detail": (outcome_entry or {}).get("detail") or outcome_output.get("Reason") or execution.get("cause"),
        "ModelPackageArn": (outcome_entry or {}).get("model_package_arn") or request.get("ModelPackageArn"),
        "RequestedBy": (outcome_entry or {}).get("requested_by") or request.get("RequestedBy"),
        "ApprovedBy": (outcome_entry or {}).get("approved_by") or request.get("ApprovedBy"),
        "Reason": (outcome_entry or {}).get("reason") or request.get("Reason"),
    }
    succeeded = outcome["Outcome"] in SUCCESS or execution["status"] == "SUCCEEDED"

    shadow = str(canary["candidate_variant"]) if canary.get("strategy") == "shadow" else None
    candidate = str(steps[-1].get("candidate_variant")) if steps else None
    if candidate is None and canary and not shadow:
        candidate = str(canary.get("candidate_variant") or "") or None
    live = str(canary.get("live_variant") or "") or (_other(candidate) if candidate else None) or None
    if shadow is None and "StartShadow" in entered:
        shadow = f"Shadow{candidate}" if candidate else None
        if shadow is None:
            notes.append("a shadow ran, but the ledger no longer names its variant (a later deployment replaced it)")
    strategy = "shadow" if shadow or "StartShadow" in entered else ("canary" if steps or canary else "direct")

    # traffic: the candidate's share at each step, the live variant the rest; back to 0 where the workflow rolled back
    traffic: dict[str, list[tuple[datetime, float]]] = {}
    rolled_back = next((entered[s] for s in ROLLBACK_STATES if s in entered), None)
    if candidate and steps:
        shares = [(start, 0.0)] + [(_when(s.get("at")) or start, float(s.get("percent") or 0)) for s in steps]
        if not succeeded:
            shares.append((rolled_back or end, 0.0))
        traffic[candidate] = shares
        if live:
            traffic[live] = [(at, 100.0 - share) for at, share in shares]
    elif succeeded and live_entry.get("execution_arn") == arn and live_entry.get("variant"):
        serving = str(live_entry["variant"])
        at = entered.get("CreateEndpoint") or entered.get("UpdateEndpoint") or start
        traffic[serving] = [(start, 0.0), (at, 100.0)]
        if live and live != serving:
            traffic[live] = [(start, 100.0), (at, 0.0)]
    elif live:
        traffic[live] = [(start, 100.0)]
    copies: dict[str, list[tuple[datetime, float]]] = {}
    if shadow:
        began = entered.get("StartShadow") or _when(canary.get("started_at")) or start
        later = [at for state, at in states if at > began and state in ("UpdateEndpoint", *ROLLBACK_STATES)]
        sampling = _number(parameters.get("ShadowSamplingPercentage")) or 100.0
        copies[shadow] = [(start, 0.0), (began, sampling), (min(later) if later else end, 0.0)]
        if live and live not in traffic:
            traffic[live] = [(start, 100.0)]
        notes.append(
            f"{shadow} is a shadow: it answers copies of {sampling:g}% of the live requests "
            "(ShadowSamplingPercentage, as the stack has it now); its answers never reach clients."
        )

    variants = [v for v in dict.fromkeys([*(x for x in (live, candidate) if x), *traffic, *copies]) if v]
    metrics, period = variant_metrics(clients, project, variants, start, end)
    alarms = guard_alarms(clients, project, [v for v in (candidate, shadow) if v] or variants)
    changes, alarm_source = alarm_changes(clients, project, alarms, start - timedelta(seconds=1), end)

    decisions: list[dict[str, Any]] = []
    for state, at in states:
        if state in STATES:
            decisions.append({"At": at, "Kind": "workflow", "Text": f"{state}: {STATES[state]}"})
    for i, step in enumerate(steps, 1):
        decisions.append(
            {
                "At": _when(step.get("at")) or start,
                "Kind": "traffic step",
                "Text": f"step {i}: {step.get('percent')}% of the traffic to {step.get('candidate_variant')}",
            }
        )
    for report_entry in shadow_reports:
        summary = ""
        with contextlib.suppress(ValueError, AttributeError):
            summary = str(json.loads(str(report_entry.get("report") or "{}")).get("Summary") or "")
        decisions.append(
            {
                "At": _when(report_entry.get("recorded_at")) or end,
                "Kind": "shadow comparison",
                "Text": f"verdict {report_entry.get('verdict')}" + (f": {summary}" if summary else ""),
            }
        )
    if abort:
        decisions.append(
            {"At": _when(abort.get("recorded_at")) or end, "Kind": "abort request", "Text": str(abort.get("reason"))}
        )
    for alarm_name, found in changes.items():
        for change in found:
            decisions.append(
                {
                    "At": change["At"] or end,
                    "Kind": "alarm",
                    "Text": f"{alarm_name}: {change['From']} -> {change['To']}"
                    + (f" ({change['Reason']})" if change.get("Reason") else ""),
                }
            )
    if execution["status"] != "RUNNING":
        decisions.append(
            {
                "At": _when((outcome_entry or {}).get("recorded_at")) or end,
                "Kind": "outcome",
                "Text": f"{outcome['Outcome'] or execution['status']}"
                + (f": {outcome['Detail']}" if outcome["Detail"] else ""),
            }
        )
    decisions.sort(key=lambda decision: decision["At"])
    if execution["status"] == "RUNNING":
        notes.append("the deployment is still running: the page shows it up to now")
    return Timeline(
        execution=execution,
        start=start,
        end=end,
        strategy=strategy,
        candidate=candidate,
        live=live,
        shadow=shadow,
        traffic=traffic,
        copies=copies,
        metrics=metrics,
        period=period,
        alarms=alarms,
        changes=changes,
        alarm_source=alarm_source,
        decisions=decisions,
        outcome=outcome,
        steps=[int(float(str(step.get("percent") or 0))) for step in steps],
        notes=notes,
    )


def _newest(clients: Clients, project: Project, pk: str, kind: str, measured: bool) -> dict[str, Any] | None:
    """The newest RUN# entry of `pk` (one with figures, when `measured`), its summary decoded."""
    for item in entries(clients, project, pk, "RUN#", newest_first=True):
        if item.get("kind") != kind:
            continue
        try:
            summary = json.loads(str(item.get("summary") or "{}"))
        except ValueError:
            continue
        if not measured or summary.get("Outcome") == "measured":
            return {**item, "Summary": summary}
    return None


def registered_quality(clients: Clients, arn: str) -> dict[str, float]:
    """The version's registered evaluation ({metric: value}), read from its ModelMetrics.ModelQuality statistics."""
    if not arn:
        return {}
    try:
        package = clients("sagemaker").describe_model_package(ModelPackageName=arn)
    except (ClientError, BotoCoreError):
        return {}
    return registered_metrics(clients, package)


def monitoring(clients: Clients, project: Project, parameters: dict[str, str]) -> dict[str, Any]:
    drift = _newest(clients, project, f"CAPTURE#{project.endpoint}", "drift-run", measured=True)
    last_drift = _newest(clients, project, f"CAPTURE#{project.endpoint}", "drift-run", measured=False)
    quality = _newest(clients, project, f"GROUNDTRUTH#{project.endpoint}", "ground-truth-run", measured=True)
    registered = registered_quality(clients, str((quality or {}).get("version") or "")) if quality else {}
    alarms = []
    for page in clients("cloudwatch").get_paginator("describe_alarms").paginate(AlarmNamePrefix=f"{project.name}-"):
        for alarm in page["MetricAlarms"]:
            if not alarm["AlarmName"].startswith(f"{project.name}-canary-"):
                alarms.append(
                    {
                        "Alarm": alarm["AlarmName"],
                        "State": alarm["StateValue"],
                        "Since": _iso(_when(alarm.get("StateUpdatedTimestamp"))),
                    }
                )
    limits = {
        name: _number(parameters.get(name))
        for name in ("DriftThreshold", "QualityMaxDrop", "BiasMaxAbsDPPL", "BiasMinDI", "BiasMaxDI")
    }
    return {
        "Drift": drift,
        "LastDriftRun": last_drift,
        "Quality": quality,
        "Registered": registered,
        "Limits": limits,
        "Alarms": alarms,
        "Namespace": f"MLOps/{project.name}/Drift",
    }


# ------------------------------------------------------------------ drawing
@dataclass
class Axis:
    start: datetime
    end: datetime
    width: int = PLOT_WIDTH

    @property
    def seconds(self) -> float:
        return max((self.end - self.start).total_seconds(), 1e-3)

    def x(self, moment: datetime) -> float:
        fraction = (moment - self.start).total_seconds() / self.seconds
        return LEFT + max(0.0, min(1.0, fraction)) * (self.width - LEFT - RIGHT)

    def ticks(self) -> list[tuple[float, str]]:
        steps = (0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600, 86400)
        step = next((s for s in steps if self.seconds / s <= 10), steps[-1])
        first = math.ceil(self.start.timestamp() / step) * step
        found = []
        moment = first
        while moment <= self.end.timestamp() + 1e-9:
            at = datetime.fromtimestamp(moment, UTC)
            label = at.strftime("%H:%M:%S") + (f".{at.microsecond // 100000}" if step < 1 else "")
            found.append((self.x(at), label))
            moment += step
        return found


def _svg_open(width: int, height: int, label: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" aria-label="{_e(label)}">'
    )


def _frame(axis: Axis, top: int, height: int, marks: list[tuple[float, str]], y_labels: list[tuple[float, str]]) -> str:
    """Axes, grid, the time ticks under the plot and the numbered decision marks."""
    right = axis.width - RIGHT
    parts = [f'<rect x="{LEFT}" y="{top}" width="{right - LEFT}" height="{height}" class="plot"/>']
    for y, label in y_labels:
        parts.append(f'<line x1="{LEFT}" x2="{right}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>')
        parts.append(f'<text x="{LEFT - 6}" y="{y + 4:.1f}" class="ylabel">{_e(label)}</text>')
    for x, label in axis.ticks():
        parts.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top + height}" y2="{top + height + 4}" class="axis"/>')
        parts.append(f'<text x="{x:.1f}" y="{top + height + 16}" class="xlabel">{_e(label)}</text>')
    for x, label in marks:
        parts.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top}" y2="{top + height}" class="mark"/>')
        parts.append(f'<text x="{x:.1f}" y="{top - 3}" class="marklabel">{_e(label)}</text>')
    return "".join(parts)


def _legend(axis: Axis, top: int, items: list[tuple[str, str, bool]]) -> str:
    x = axis.width - RIGHT + 14
    parts = []
    for i, (label, colour, dashed) in enumerate(items):
        y = top + 12 + 18 * i
        dash = ' stroke-dasharray="5 3"' if dashed else ""
        parts.append(f'<line x1="{x}" x2="{x + 22}" y1="{y}" y2="{y}" stroke="{colour}" stroke-width="3"{dash}/>')
        parts.append(f'<text x="{x + 28}" y="{y + 4}" class="legend">{_e(label)}</text>')
    return "".join(parts)


def _marks(axis: Axis, decisions: list[dict[str, Any]]) -> list[tuple[float, str]]:
    """(x, label) of each decision point, numbered as in the table; marks closer than 24 px share one label."""
    marks: list[tuple[float, str]] = []
    for i, decision in enumerate(decisions, 1):
        x = axis.x(decision["At"])
        if marks and x - marks[-1][0] < 24:
            first = marks[-1][1].split("-")[0]
            marks[-1] = (marks[-1][0], f"{first}-{i}")
        else:
            marks.append((x, str(i)))
    return marks


def traffic_chart(line: Timeline, axis: Axis, marks: list[tuple[float, str]]) -> str:
    top, height = 22, 160
    y = lambda share: top + height - height * max(0.0, min(100.0, share)) / 100  # noqa: E731
    parts = [_svg_open(axis.width, top + height + 26, "traffic share per variant")]
    parts.append(_frame(axis, top, height, marks, [(y(v), f"{v}%") for v in (0, 25, 50, 75, 100)]))
    legend = []
    for i, (variant, shares) in enumerate([*line.traffic.items(), *line.copies.items()]):
        shadow = variant in line.copies
        colour = _colour(variant, i)
        ordered = sorted(shares, key=lambda point: point[0])
        points = [*ordered, (axis.end, ordered[-1][1])]
        path = f"M{axis.x(points[0][0]):.1f},{y(points[0][1]):.1f}"
        for _, (at, following) in itertools.pairwise(points):
            path += f" H{axis.x(at):.1f} V{y(following):.1f}"
        dash = ' stroke-dasharray="6 4"' if shadow else ""
        title = ", ".join(f"{_iso(at)}: {share:g}%" for at, share in shares)
        parts.append(
            f'<g class="series" data-series="traffic:{_e(variant)}" data-points="{len(shares)}">'
            f"<title>{_e(variant)}: {_e(title)}</title>"
            f'<path d="{path}" fill="none" stroke="{colour}" stroke-width="2.5"{dash}/></g>'
        )
        legend.append((f"{variant} copies" if shadow else variant, colour, shadow))
    parts.append(_legend(axis, top, legend))
    parts.append("</svg>")
    return "".join(parts)


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1.0
    magnitude = 10 ** math.floor(math.log10(value))
    return next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= value)


def line_chart(
    axis: Axis,
    marks: list[tuple[float, str]],
    kind: str,
    unit: str,
    series: dict[str, list[tuple[datetime, float]]],
    label: str,
) -> str:
    top, height = 22, 130
    peak = _nice_max(max((v for points in series.values() for _, v in points), default=0.0))
    y = lambda value: top + height - height * value / peak  # noqa: E731
    parts = [_svg_open(axis.width, top + height + 26, label)]
    parts.append(_frame(axis, top, height, marks, [(y(peak * f), f"{peak * f:g}{unit}") for f in (0, 0.5, 1)]))
    legend = []
    for i, (variant, points) in enumerate(series.items()):
        colour = _colour(variant, i)
        shown = sorted(points, key=lambda point: point[0])
        coordinates = " ".join(f"{axis.x(at):.1f},{y(value):.1f}" for at, value in shown)
        dots = "".join(
            f'<circle cx="{axis.x(at):.1f}" cy="{y(value):.1f}" r="2.5" fill="{colour}">'
            f"<title>{_e(variant)} {_e(_iso(at))}: {value:.4g}{_e(unit)}</title></circle>"
            for at, value in shown
        )
        parts.append(
            f'<g class="series" data-series="{_e(kind)}:{_e(variant)}" data-points="{len(shown)}">'
            f'<polyline points="{coordinates}" fill="none" stroke="{colour}" stroke-width="2"/>{dots}</g>'
        )
        legend.append((variant, colour, False))
    parts.append(_legend(axis, top, legend))
    parts.append("</svg>")
    return "".join(parts)


def alarm_chart(line: Timeline, axis: Axis, marks: list[tuple[float, str]]) -> str:
    row = 22
    top = 22
    height = row * max(1, len(line.alarms))
    parts = [_svg_open(axis.width, top + height + 26, "guard alarm states")]
    parts.append(_frame(axis, top, height, marks, []))
    right = axis.width - RIGHT
    for i, alarm in enumerate(line.alarms):
        name = str(alarm["AlarmName"])
        changes = line.changes.get(name, [])
        state = str(changes[0]["From"] if changes and changes[0]["From"] else alarm["StateValue"])
        segments: list[tuple[datetime, str]] = [(axis.start, state)] + [
            (change["At"] or axis.start, str(change["To"])) for change in changes
        ]
        y0 = top + i * row + 3
        bars = []
        for (at, value), following in zip(segments, [*segments[1:], (axis.end, "")], strict=False):
            x0, x1 = axis.x(at), axis.x(following[0])
            bars.append(
                f'<rect x="{x0:.1f}" y="{y0}" width="{max(x1 - x0, 1.0):.1f}" height="{row - 6}" '
                f'fill="{STATE_COLOURS.get(value, "#e5e7eb")}"><title>{_e(name)}: {_e(value)} from {_e(_iso(at))}'
                f"</title></rect>"
            )
        parts.append(
            f'<g class="series" data-series="alarm:{_e(name)}" data-changes="{len(changes)}">{"".join(bars)}'
            f'<text x="{right + 8}" y="{y0 + row - 10}" class="legend">{_e(name.split("-canary-", 1)[-1])}</text></g>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _table(headers: list[str], rows: list[list[str]], css: str = "") -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    return f'<table class="{css}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _fmt(value: object, digits: int = 3) -> str:
    number = _number(value) if value is not None else None
    return "-" if number is None else f"{number:.{digits}f}"


def _badge(text: str, good: bool | None) -> str:
    css = "neutral" if good is None else ("good" if good else "bad")
    return f'<span class="badge {css}">{_e(text)}</span>'


def timeline_section(line: Timeline | None, project: Project, parameters: dict[str, str]) -> str:
    if line is None:
        return (
            '<section id="timeline"><h2>Deployment</h2>'
            f'<p class="empty">No deployment yet: the deploy workflow of {_e(project.name)} has not run. '
            "Approve a version of the model package group to start one.</p></section>"
        )
    execution = line.execution
    outcome = line.outcome
    good = None if execution["status"] == "RUNNING" else outcome["Outcome"] in SUCCESS
    duration = (line.end - line.start).total_seconds()
    facts = [
        ("Execution", _e(execution["name"])),
        ("Version", _e(version_number(str(outcome["ModelPackageArn"] or "")))),
        ("Strategy", _e(line.strategy)),
        (
            "Variants",
            _e(f"candidate {line.candidate or '-'}, live {line.live or '-'}")
            + (f", shadow {_e(line.shadow)}" if line.shadow else ""),
        ),
        ("Status", _e(execution["status"])),
        ("Outcome", _badge(str(outcome["Outcome"] or execution["status"]), good)),
        ("Detail", _e(outcome["Detail"] or "-")),
        ("Started", _e(_iso(line.start))),
        ("Ended", _e(_iso(_when(execution.get("stopDate"))) or "running")),
        ("Duration", _e(f"{duration:.1f} s")),
        (
            "Requested by",
            _e(outcome["RequestedBy"] or "-")
            + (f", approved by {_e(outcome['ApprovedBy'])}" if outcome["ApprovedBy"] else ""),
        ),
        ("Reason", _e(outcome["Reason"] or "-")),
        ("Planned steps", _e(parameters.get("CanarySteps") or "-")),
    ]
    summary = "".join(f"<dt>{_e(k)}</dt><dd>{v}</dd>" for k, v in facts)
    axis = Axis(line.start, line.end)
    marks = _marks(axis, line.decisions)
    errors: dict[str, list[tuple[datetime, float]]] = {}
    latency: dict[str, list[tuple[datetime, float]]] = {}
    requests: dict[str, list[tuple[datetime, float]]] = {}
    half = timedelta(seconds=line.period / 2)
    for variant, raw in line.metrics.items():
        metrics = {
            name: [(at + half, value) for at, value in points if at + 2 * half > line.start and at < line.end]
            for name, points in raw.items()
        }
        invocations = dict(metrics.get("Invocations", []))
        failed = metrics.get("Invocation5XXErrors", [])
        errors[variant] = [(at, 100.0 * n / invocations[at]) for at, n in failed if invocations.get(at)]
        latency[variant] = [(at, value / 1000.0) for at, value in metrics.get("ModelLatency", [])]
        requests[variant] = list(metrics.get("Invocations", []))
    period = f"{line.period} s" if line.period < 60 else f"{line.period // 60} min"
    decision_rows = [
        [
            _e(i),
            _e((_iso(d["At"]) or "")[11:]),
            _e(f"+{(d['At'] - line.start).total_seconds():.1f} s"),
            f'<span class="kind {_e(d["Kind"].replace(" ", "-"))}">{_e(d["Kind"])}</span>',
            _e(d["Text"]),
        ]
        for i, d in enumerate(line.decisions, 1)
    ]
    notes = "".join(f"<li>{_e(n)}</li>" for n in line.notes)
    guards = (
        alarm_chart(line, axis, marks)
        if line.alarms
        else '<p class="empty">No guard alarms found for these variants.</p>'
    )
    return (
        '<section id="timeline"><h2>Deployment timeline</h2>'
        f'<dl class="facts">{summary}</dl>'
        + (f'<ul class="notes">{notes}</ul>' if notes else "")
        + '<h3>Traffic share</h3><p class="hint">The candidate\'s share at each traffic step (ledger STEP# entries); '
        "the live variant has the rest. Numbered marks are the decision points listed below.</p>"
        + traffic_chart(line, axis, marks)
        + f'<h3>5XX error rate</h3><p class="hint">AWS/SageMaker Invocation5XXErrors / Invocations per variant, '
        f"per {_e(period)} (CloudWatch GetMetricData).</p>"
        + line_chart(axis, marks, "errors", "%", errors, "5XX error rate per variant")
        + f'<h3>Model latency</h3><p class="hint">AWS/SageMaker ModelLatency, average per {_e(period)}, in ms.</p>'
        + line_chart(axis, marks, "latency", " ms", latency, "model latency per variant")
        + f'<h3>Requests</h3><p class="hint">AWS/SageMaker Invocations per {_e(period)}.</p>'
        + line_chart(axis, marks, "requests", "", requests, "requests per variant")
        + f'<h3>Guard alarms</h3><p class="hint">State of each guard alarm (green OK, red ALARM, grey '
        f"insufficient data); state changes from {_e(line.alarm_source)}.</p>"
        + guards
        + '<h3>Decision points</h3><div id="decisions">'
        + _table(["#", f"Time (UTC, {line.start:%Y-%m-%d})", "After", "Kind", "What"], decision_rows, "decisions")
        + "</div></section>"
    )


def psi_chart(psi: dict[str, float | None], prediction: float | None, threshold: float | None) -> str:
    rows = [(f"{name}", value, f"psi:{name}") for name, value in sorted(psi.items())]
    if prediction is not None:
        rows.append(("(predictions)", prediction, "psi:(predictions)"))
    width, label_width, bar_width, row = 760, 200, 440, 22
    peak = _nice_max(max([v or 0.0 for _, v, _ in rows] + [(threshold or 0.0) * 1.25]))
    x = lambda value: label_width + bar_width * value / peak  # noqa: E731
    height = row * len(rows) + 30
    parts = [_svg_open(width, height, "PSI per feature")]
    for i, (name, value, key) in enumerate(rows):
        y = 6 + i * row
        over = value is not None and threshold is not None and value > threshold
        colour = "#ef4444" if over else "#60a5fa"
        bar = (
            f'<rect x="{label_width}" y="{y}" width="{max(x(value) - label_width, 1):.1f}" height="{row - 6}" '
            f'fill="{colour}"><title>{_e(name)}: {value:.4f}</title></rect>'
            if value is not None
            else ""
        )
        parts.append(
            f'<g class="series" data-series="{_e(key)}" data-value="{_e(_fmt(value, 4))}">'
            f'<text x="{label_width - 8}" y="{y + row - 10}" class="ylabel">{_e(name)}</text>{bar}'
            f'<text x="{(x(value) if value is not None else label_width) + 6:.1f}" y="{y + row - 10}" class="value">'
            f"{_e(_fmt(value, 3) if value is not None else 'not measured')}</text></g>"
        )
    if threshold is not None:
        tx = x(threshold)
        parts.append(
            f'<g class="threshold" data-threshold="{threshold:g}"><line x1="{tx:.1f}" x2="{tx:.1f}" y1="0" '
            f'y2="{height - 22}" class="limit"/><text x="{tx:.1f}" y="{height - 8}" class="xlabel">'
            f"DriftThreshold {threshold:g}</text></g>"
        )
    parts.append("</svg>")
    return "".join(parts)


def band_chart(name: str, value: float | None, low: float | None, high: float | None, span: tuple[float, float]) -> str:
    """One figure on a scale, with its allowed band shaded."""
    width, height, left, right = 420, 44, 20, 400
    lo, hi = span
    x = lambda v: left + (right - left) * (max(lo, min(hi, v)) - lo) / (hi - lo)  # noqa: E731
    parts = [_svg_open(width, height, f"{name} against its band")]
    parts.append(f'<line x1="{left}" x2="{right}" y1="18" y2="18" class="axis"/>')
    if low is not None and high is not None:
        parts.append(f'<rect x="{x(low):.1f}" y="10" width="{x(high) - x(low):.1f}" height="16" class="band"/>')
        for edge in (low, high):
            parts.append(f'<text x="{x(edge):.1f}" y="40" class="xlabel">{edge:g}</text>')
    if value is not None:
        inside = low is None or high is None or low <= value <= high
        parts.append(
            f'<g class="series" data-series="bias:{_e(name)}" data-value="{value:.4f}">'
            f'<circle cx="{x(value):.1f}" cy="18" r="6" fill="{"#16a34a" if inside else "#ef4444"}">'
            f"<title>{_e(name)} {value:.4f}</title></circle></g>"
        )
    parts.append("</svg>")
    return "".join(parts)


def _verdict(value: float | None, low: float | None, high: float | None) -> str:
    if value is None or low is None or high is None:
        return ""
    return _badge("within", True) if low <= value <= high else _badge("outside", False)


def monitoring_section(found: dict[str, Any]) -> str:
    limits = found["Limits"]
    parts = ['<section id="monitoring"><h2>Monitoring</h2>']
    drift, quality = found["Drift"], found["Quality"]
    if not drift and not quality:
        parts.append('<p class="empty">No figures yet: the drift monitor has measured nothing on this endpoint.</p>')
    last = found["LastDriftRun"]
    if drift:
        summary = drift["Summary"]
        threshold = limits["DriftThreshold"]
        score = _number(summary.get("DriftScore"))
        parts.append(
            f"<h3>Data drift</h3><p>Run of {_e(drift.get('recorded_at'))} over {_e(summary.get('Records'))} captured "
            f"records of version {_e(version_number(str(summary.get('Version') or '')))}: drift score "
            f"{_badge(_fmt(score), None if score is None or threshold is None else score <= threshold)} "
            f"against DriftThreshold {_e(threshold if threshold is not None else '-')} (the largest PSI of a "
            "feature or of the predictions).</p>"
        )
        if last and last.get("sk") != drift.get("sk"):
            parts.append(
                f'<p class="hint">The latest run ({_e(last.get("recorded_at"))}) measured nothing: '
                f"{_e(last['Summary'].get('Outcome'))}.</p>"
            )
        psi = {str(k): _number(v) for k, v in (summary.get("FeaturePSI") or {}).items()}
        parts.append(psi_chart(psi, _number(summary.get("PredictionPSI")), threshold))
        bias = summary.get("Bias") or {}
        parts.append("<h3>Bias of the predictions</h3>")
        if "DPPL" in bias or "DI" in bias:
            dppl, di = _number(bias.get("DPPL")), _number(bias.get("DI"))
            groups = [*(bias.get("Groups") or []), "?", "?"]
            max_dppl, min_di, max_di = limits["BiasMaxAbsDPPL"], limits["BiasMinDI"], limits["BiasMaxDI"]
            rows = [
                [
                    "DPPL",
                    _e(_fmt(dppl)),
                    _e(f"|DPPL| <= {max_dppl:g}" if max_dppl is not None else "-")
                    + " "
                    + _verdict(dppl, -max_dppl if max_dppl is not None else None, max_dppl),
                    band_chart("DPPL", dppl, -max_dppl if max_dppl is not None else None, max_dppl, (-1.0, 1.0)),
                ],
                [
                    "DI",
                    _e(_fmt(di)),
                    _e(f"{min_di:g} <= DI <= {max_di:g}" if min_di is not None and max_di is not None else "-")
                    + " "
                    + _verdict(di, min_di, max_di),
                    band_chart("DI", di, min_di, max_di, (0.0, max(2.0, (max_di or 0) * 1.2, (di or 0) * 1.1))),
                ],
            ]
            parts.append(
                f"<p>Facet {_e(bias.get('Facet'))}: {_e(groups[0])} records of the other groups, {_e(groups[1])} "
                "of the disfavoured group.</p>" + _table(["Figure", "Value", "Allowed", ""], rows, "bias")
            )
        else:
            parts.append(f'<p class="empty">No bias figures in this run ({_e(bias.get("Outcome") or "no facet")}).</p>')
    if quality:
        summary = quality["Summary"]
        figures = summary.get("Figures") or {}
        registered = found["Registered"]
        max_drop = limits["QualityMaxDrop"]
        rows = []
        for name in ("Accuracy", "Precision", "Recall", "F1", "AUC", "RD", "AD"):
            value = _number(figures.get(name))
            if value is None:
                continue
            was = registered.get(name.lower())
            if was is None and _number(figures.get(f"{name}Drop")) is not None:
                was = value + float(figures[f"{name}Drop"])
            drop = None if was is None else was - value
            guarded = name in ("Accuracy", "AUC") and max_drop is not None and drop is not None
            verdict = (
                _badge("within" if drop <= max_drop else "dropped", drop <= max_drop)
                if guarded and drop is not None and max_drop is not None
                else ""
            )
            rows.append(
                [
                    f'<span class="series" data-series="quality:{_e(name)}" data-value="{value:.4f}">{_e(name)}</span>',
                    _e(_fmt(value)),
                    _e(_fmt(was)),
                    _e(_fmt(drop)),
                    _e(f"{max_drop:g}" if guarded and max_drop is not None else "-") + " " + verdict,
                ]
            )
        parts.append(
            f"<h3>Model quality on ground truth</h3><p>Run of {_e(quality.get('recorded_at'))}: "
            f"{_e(summary.get('Joined'))} labelled predictions of version "
            f"{_e(version_number(str(quality.get('version') or '')))}, against its registered evaluation.</p>"
            + _table(["Figure", "Measured", "Registered", "Drop", "QualityMaxDrop"], rows, "quality")
        )
    elif drift:
        parts.append('<h3>Model quality on ground truth</h3><p class="empty">No figures yet: no labels joined.</p>')
    alarms = found["Alarms"]
    if alarms:
        rows = [
            [
                _e(a["Alarm"]),
                _badge(str(a["State"]), {"OK": True, "ALARM": False}.get(str(a["State"]))),
                _e(a["Since"] or "-"),
            ]
            for a in alarms
        ]
        parts.append("<h3>Monitoring alarms now</h3>" + _table(["Alarm", "State", "Since"], rows, "alarms"))
    parts.append(
        f'<p class="hint">Sources: the ledger\'s drift-run and ground-truth-run entries (also published to CloudWatch '
        f"namespace {_e(found['Namespace'])}); limits are the stack's parameters.</p></section>"
    )
    return "".join(parts)


CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;color:#1f2937;
margin:0;background:#f3f4f6}
header{background:#111827;color:#f9fafb;padding:16px 28px}header h1{margin:0;font-size:20px}
header p{margin:4px 0 0;color:#d1d5db}
main{max-width:1160px;margin:0 auto;padding:8px 20px 40px}
section{background:#fff;border:1px solid #e5e7eb;border-radius:8px;padding:8px 20px 16px;margin:18px 0}
h2{font-size:18px;margin:10px 0}h3{font-size:15px;margin:18px 0 2px}
.hint{color:#6b7280;margin:2px 0 6px;font-size:12.5px}.empty{color:#6b7280;font-style:italic}
dl.facts{display:grid;grid-template-columns:130px 1fr;gap:3px 12px;margin:6px 0}dt{color:#6b7280}dd{margin:0}
.badge{display:inline-block;padding:1px 8px;border-radius:10px;font-weight:600;font-size:12.5px}
.badge.good{background:#dcfce7;color:#166534}.badge.bad{background:#fee2e2;color:#991b1b}
.badge.neutral{background:#e5e7eb;color:#374151}
svg.chart{display:block;max-width:100%;height:auto}
.plot{fill:#fafafa;stroke:#d1d5db}.grid{stroke:#e5e7eb}.axis{stroke:#9ca3af}
.mark{stroke:#6b7280;stroke-dasharray:2 3}.limit{stroke:#111827;stroke-dasharray:4 3;stroke-width:1.5}
.band{fill:#dcfce7;stroke:#86efac}
text{font-family:inherit;font-size:11px;fill:#374151}.ylabel{text-anchor:end}.xlabel{text-anchor:middle}
.marklabel{text-anchor:middle;font-weight:700;fill:#111827}.legend{font-size:12px}.value{fill:#111827}
table{border-collapse:collapse;width:100%;margin:6px 0}th,td{text-align:left;padding:4px 8px;
border-bottom:1px solid #e5e7eb;vertical-align:middle}th{color:#6b7280;font-weight:600;font-size:12.5px}
table.decisions td:nth-child(-n+4){white-space:nowrap}
.kind{font-size:12px;padding:1px 6px;border-radius:4px;background:#e5e7eb;white-space:nowrap}
.kind.traffic-step{background:#dbeafe}.kind.alarm{background:#fee2e2}.kind.abort-request{background:#fef3c7}
.kind.outcome{background:#111827;color:#fff}.kind.shadow-comparison{background:#ede9fe}
ul.notes{color:#92400e;background:#fffbeb;border:1px solid #fde68a;border-radius:6px;padding:6px 24px}
footer{color:#6b7280;font-size:12px;text-align:center;padding:10px}
"""


def render(
    project: Project,
    region: str,
    line: Timeline | None,
    found: dict[str, Any],
    parameters: dict[str, str],
    now: datetime,
) -> str:
    title = f"{project.name}: deployment and monitoring report"
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)}</title><style>{CSS}</style></head><body>"
        f"<header><h1>{_e(title)}</h1><p>Stack {_e(project.stack_name)}, endpoint {_e(project.endpoint)} "
        f"({_e(project.kind)}), model package group {_e(project.group)}, region {_e(region)}. "
        f"Generated {_e(_iso(now))}.</p></header><main>"
        + timeline_section(line, project, parameters)
        + monitoring_section(found)
        + "</main><footer>mlops report: a snapshot of AWS and the ledger at the time above.</footer></body></html>\n"
    )


def report(args: argparse.Namespace, clients: Clients, project: Project) -> Result:
    now = datetime.now(UTC)
    parameters = stack_parameters(clients, project)
    line = timeline(clients, project, parameters, args.execution)
    found = monitoring(clients, project, parameters)
    page = render(project, clients.region_name, line, found, parameters, now)
    path = Path(args.out).expanduser().resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
    data: dict[str, Any] = {
        "Path": str(path),
        "Project": project.name,
        "Deployment": None,
        "Monitoring": {
            "Drift": (found["Drift"] or {}).get("recorded_at"),
            "Quality": (found["Quality"] or {}).get("recorded_at"),
        },
    }
    if line is not None:
        data["Deployment"] = {
            "Execution": line.execution["executionArn"],
            "Status": line.execution["status"],
            "Outcome": line.outcome["Outcome"],
            "Detail": line.outcome["Detail"],
            "Strategy": line.strategy,
            "CandidateVariant": line.candidate,
            "LiveVariant": line.live,
            "ShadowVariant": line.shadow,
            "Steps": line.steps,
            "Decisions": len(line.decisions),
            "AlarmHistory": line.alarm_source,
        }
    return Result(data, str(path))
