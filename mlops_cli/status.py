"""`mlops status` and `mlops watch`: what is live, what is deploying, the retrain gate, the latest monitoring."""

from __future__ import annotations

import argparse
import json
import time
from datetime import UTC, datetime
from typing import IO, Any

from .aws import Clients
from .project import Project
from .records import endpoint_pk, entries, entry, live, stack_parameters, version_number


def _when(text: object) -> datetime | None:
    try:
        moment = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _latest(clients: Clients, project: Project, pk: str, prefix: str) -> dict[str, Any] | None:
    found = entries(clients, project, pk, prefix, newest_first=True, limit=1)
    return found[0] if found else None


def serving(clients: Clients, project: Project) -> dict[str, Any]:
    """What the endpoint serves now (RealTime/Serverless) or the live batch model (Batch)."""
    if project.kind == "Batch":
        return {"Kind": "Batch"}
    sagemaker = clients("sagemaker")
    try:
        described = sagemaker.describe_endpoint(EndpointName=project.endpoint)
    except sagemaker.exceptions.ClientError:
        return {"Kind": project.kind, "EndpointStatus": "absent"}
    variants = [
        {
            "Variant": variant["VariantName"],
            "Weight": variant.get("CurrentWeight"),
            "DesiredWeight": variant.get("DesiredWeight"),
            "Instances": variant.get("CurrentInstanceCount"),
        }
        for variant in described.get("ProductionVariants", [])
    ]
    shadows = [{"Variant": v["VariantName"]} for v in described.get("ShadowProductionVariants", [])]
    return {
        "Kind": project.kind,
        "EndpointStatus": described["EndpointStatus"],
        "EndpointConfigName": described.get("EndpointConfigName"),
        "Variants": variants,
        "ShadowVariants": shadows,
    }


def deployment(clients: Clients, project: Project, parameters: dict[str, str], now: datetime) -> dict[str, Any] | None:
    """The deployment holding the endpoint's lock while its workflow runs; None when there is none."""
    pk = endpoint_pk(project)
    lock = entry(clients, project, pk, "LOCK") or {}
    holder = str(lock.get("holder") or "")
    if not holder:
        return None
    try:
        execution = clients("stepfunctions").describe_execution(executionArn=holder)
    except clients("stepfunctions").exceptions.ClientError:
        return None
    if execution["status"] != "RUNNING":
        return None
    name = execution["name"]
    canary = entry(clients, project, pk, "CANARY") or {}
    current = canary.get("execution_arn") == holder
    request = json.loads(execution.get("input") or "{}")
    steps = sorted(
        (
            {"Index": int(str(e["sk"]).rsplit("#", 1)[-1]), "Percent": int(str(e.get("percent", 0))), "At": e.get("at")}
            for e in entries(clients, project, pk)
            if str(e["sk"]).startswith(f"STEP#{name}#")
        ),
        key=lambda step: int(str(step["Index"])),
    )
    found: dict[str, Any] = {
        "Execution": holder,
        "ExecutionName": name,
        "StartedAt": execution["startDate"],
        "ModelPackageArn": request.get("ModelPackageArn") or canary.get("model_package_arn"),
        "Version": version_number(str(request.get("ModelPackageArn") or canary.get("model_package_arn") or "")),
        "Strategy": (canary.get("strategy") or "canary") if current else "preparing",
        "CandidateVariant": canary.get("candidate_variant") if current else None,
        "LiveVariant": canary.get("live_variant") if current else None,
        "PlannedSteps": parameters.get("CanarySteps", ""),
        "Steps": steps,
        "AbortRequested": bool(entry(clients, project, pk, f"ABORT#{name}")),
    }
    bake = entry(clients, project, pk, "BAKE") or {}
    if current and bake.get("execution_name") == name and not bake.get("completed_at"):
        started = _when(bake.get("started_at"))
        seconds = float(parameters.get("ShadowSeconds" if found["Strategy"] == "shadow" else "BakeSeconds") or 0)
        found["Bake"] = {
            "Percent": bake.get("percent"),
            "StartedAt": bake.get("started_at"),
            "Seconds": seconds,
            "SecondsLeft": max(0.0, seconds - (now - started).total_seconds()) if started else None,
        }
    if found["CandidateVariant"]:
        found["Guards"] = guard_states(clients, project, str(found["CandidateVariant"]))
    return found


def guard_states(clients: Clients, project: Project, variant: str) -> list[dict[str, str]]:
    """The candidate's guard alarms, <project>-canary-<metric>-<variant>, and their states."""
    found = []
    paginator = clients("cloudwatch").get_paginator("describe_alarms")
    for page in paginator.paginate(AlarmNamePrefix=f"{project.name}-canary-"):
        for alarm in page["MetricAlarms"]:
            if alarm["AlarmName"].endswith(f"-{variant}"):
                found.append({"Alarm": alarm["AlarmName"], "State": alarm["StateValue"]})
    return found


def alarm_states(clients: Clients, project: Project) -> list[dict[str, str]]:
    """The project's monitoring alarms (everything named <project>-... but the canary guards)."""
    found = []
    for page in clients("cloudwatch").get_paginator("describe_alarms").paginate(AlarmNamePrefix=f"{project.name}-"):
        for alarm in page["MetricAlarms"]:
            if not alarm["AlarmName"].startswith(f"{project.name}-canary-"):
                found.append({"Alarm": alarm["AlarmName"], "State": alarm["StateValue"]})
    return found


def retrain_gate(clients: Clients, project: Project, parameters: dict[str, str], now: datetime) -> dict[str, Any]:
    gate = entry(clients, project, f"PROJECT#{project.name}", "RETRAIN-GATE") or {}
    holder = str(gate.get("holder") or "")
    cooldown = float(parameters.get("RetrainCooldownSeconds") or 0)
    last = float(str(gate.get("last_finished") or 0))
    left = max(0.0, last + cooldown - now.timestamp()) if last else 0.0
    day = now.strftime("%Y-%m-%d")
    started_today = int(str(gate.get("started_today") or 0)) if gate.get("day") == day else 0
    cap = int(parameters.get("MaxRetrainsPerDay") or 0)
    if holder:
        state = "running"
    elif left > 0:
        state = "cooling down"
    elif cap and started_today >= cap:
        state = "daily cap reached"
    else:
        state = "open"
    return {
        "State": state,
        "Running": holder or None,
        "CooldownSecondsLeft": round(left),
        "StartedToday": started_today,
        "MaxPerDay": cap,
    }


def monitoring(clients: Clients, project: Project) -> dict[str, Any]:
    drift = _latest(clients, project, f"CAPTURE#{project.endpoint}", "RUN#")
    quality = _latest(clients, project, f"GROUNDTRUTH#{project.endpoint}", "RUN#")
    batch = _latest(clients, project, f"BATCH#{project.endpoint}", "MEASURE#") if project.kind == "Batch" else None
    found: dict[str, Any] = {"Alarms": alarm_states(clients, project)}
    for name, item in (("Drift", drift), ("Quality", quality), ("Batch", batch)):
        if item:
            summary = json.loads(str(item.get("summary") or "{}"))
            found[name] = {"At": item.get("recorded_at"), **summary}
    return found


def collect(clients: Clients, project: Project, now: datetime | None = None) -> dict[str, Any]:
    now = now or datetime.now(UTC)
    parameters = stack_parameters(clients, project)
    current = live(clients, project) or {}
    return {
        "Project": project.name,
        "Stack": project.stack_name,
        "Kind": project.kind,
        "Endpoint": project.endpoint,
        "ModelPackageGroup": project.group,
        "Live": {
            "Version": version_number(str(current.get("model_package_arn") or "")) if current else None,
            "ModelPackageArn": current.get("model_package_arn"),
            "Variant": current.get("variant"),
            "EndpointConfigName": current.get("endpoint_config_name"),
            "DeployedAt": current.get("deployed_at"),
        },
        "Serving": serving(clients, project),
        "Deployment": deployment(clients, project, parameters, now),
        "RetrainGate": retrain_gate(clients, project, parameters, now),
        "Monitoring": monitoring(clients, project),
    }


def _bar(percent: float, width: int = 20) -> str:
    filled = round(width * max(0.0, min(100.0, percent)) / 100)
    return "#" * filled + "." * (width - filled)


def _figure(value: object) -> str:
    return f"{value:.4g}" if isinstance(value, int | float) else str(value if value is not None else "-")


def render(found: dict[str, Any]) -> str:
    lines = [f"Project:     {found['Project']} (stack {found['Stack']}, {found['Kind']})"]
    live_version = found["Live"]
    if live_version["Version"]:
        what = "model" if found["Kind"] == "Batch" else "config"
        lines.append(
            f"Live:        version {live_version['Version']} on {found['Endpoint']} "
            f"(variant {live_version['Variant'] or '-'}, {what} {live_version['EndpointConfigName']}, "
            f"since {live_version['DeployedAt'] or '-'})"
        )
    else:
        lines.append(f"Live:        nothing deployed by this automation on {found['Endpoint']}")
    serving_now = found["Serving"]
    if serving_now.get("EndpointStatus"):
        config = serving_now.get("EndpointConfigName") or ""
        lines.append(f"Endpoint:    {serving_now['EndpointStatus']} {config}".rstrip())
    variants = serving_now.get("Variants") or []
    total = sum(float(v.get("Weight") or 0) for v in variants) or 1.0
    for variant in variants:
        share = 100 * float(variant.get("Weight") or 0) / total
        lines.append(f"  {variant['Variant']:<12} {_bar(share)} {share:5.1f}%  weight {variant.get('Weight')}")
    for shadow in serving_now.get("ShadowVariants") or []:
        lines.append(f"  {shadow['Variant']:<12} (shadow: copies of the live requests)")
    deploying = found["Deployment"]
    if deploying:
        lines.append(
            f"Deploying:   version {deploying['Version']} by {deploying['Strategy']} "
            f"({deploying['ExecutionName']}, started {deploying['StartedAt']})"
        )
        if deploying.get("CandidateVariant"):
            lines.append(f"  candidate {deploying['CandidateVariant']}, live {deploying['LiveVariant']}")
        if deploying["Steps"]:
            done = ", ".join(f"{s['Percent']}%" for s in deploying["Steps"])
            lines.append(f"  steps so far: {done} (planned {deploying['PlannedSteps'] or '-'})")
        bake = deploying.get("Bake")
        if bake:
            left = bake.get("SecondsLeft")
            lines.append(
                f"  baking at {bake['Percent']}%: {left:.0f} s of {bake['Seconds']:.0f} s left"
                if left is not None
                else f"  baking at {bake['Percent']}%"
            )
        for guard in deploying.get("Guards") or []:
            lines.append(f"  guard {guard['Alarm']}: {guard['State']}")
        if deploying["AbortRequested"]:
            lines.append("  abort requested: traffic goes back to the live version")
    else:
        lines.append("Deploying:   nothing in progress")
    gate = found["RetrainGate"]
    lines.append(
        f"Retrain:     {gate['State']}"
        + (f" ({gate['Running']})" if gate["Running"] else "")
        + (f", cooldown {gate['CooldownSecondsLeft']} s left" if gate["CooldownSecondsLeft"] else "")
        + f", {gate['StartedToday']} of {gate['MaxPerDay']} today"
    )
    monitored = found["Monitoring"]
    drift = monitored.get("Drift")
    if drift:
        lines.append(
            f"Drift:       score {_figure(drift.get('DriftScore'))} over {drift.get('Records')} records "
            f"({drift.get('At')})"
        )
        for feature, psi in sorted((drift.get("FeaturePSI") or {}).items()):
            lines.append(f"  PSI {feature:<22} {_figure(psi)}")
        if drift.get("Bias"):
            lines.append(f"  bias {json.dumps(drift['Bias'], sort_keys=True)}")
    quality = monitored.get("Quality")
    if quality:
        lines.append(f"Quality:     {json.dumps(quality.get('Figures') or {}, sort_keys=True)} ({quality.get('At')})")
    if not drift and not quality:
        lines.append("Monitoring:  no figures yet")
    for alarm in monitored["Alarms"]:
        lines.append(f"  alarm {alarm['Alarm']}: {alarm['State']}")
    return "\n".join(lines)


def status(args: argparse.Namespace, clients: Clients, project: Project) -> Any:
    from .main import Result

    found = collect(clients, project)
    return Result(found, render(found))


def _outcome(clients: Clients, execution_arn: str) -> dict[str, Any]:
    described = clients("stepfunctions").describe_execution(executionArn=execution_arn)
    output = json.loads(described.get("output") or "{}")
    outcome = output.get("Outcome", output) if isinstance(output, dict) else None  # {"Status", "Reason"}
    return {
        "Execution": execution_arn,
        "Status": described["status"],
        "Outcome": (outcome or {}).get("Status") if isinstance(outcome, dict) else None,
        "Detail": (outcome or {}).get("Reason") if isinstance(outcome, dict) else described.get("cause"),
    }


def newest_deployment(clients: Clients, project: Project, since: datetime | None = None) -> str | None:
    """The newest deploy workflow execution (started at or after `since`), running or not."""
    executions = clients("stepfunctions").list_executions(stateMachineArn=project.workflow("deploy"), maxResults=20)
    found = [e for e in executions["executions"] if since is None or e["startDate"] >= since]
    found.sort(key=lambda e: e["startDate"], reverse=True)
    return str(found[0]["executionArn"]) if found else None


def watch(args: argparse.Namespace, clients: Clients, project: Project, out: IO[str]) -> int:
    """status, again and again, until the deployment in progress ends (one started within --start-wait if none
    is in progress yet: right after an approval the deploy workflow has not started); then its outcome."""
    began = datetime.now(UTC)
    deadline = time.monotonic() + args.timeout
    start_deadline = time.monotonic() + args.start_wait
    followed: str | None = None
    while True:
        found = collect(clients, project)
        running = found["Deployment"]
        if running:
            followed = str(running["Execution"])
        elif followed is None:
            # a deployment that started after we began but is not holding the lock yet, or already ended
            followed = newest_deployment(clients, project, since=began)
        if args.json:
            out.write(json.dumps(found, default=str, sort_keys=True) + "\n")
        else:
            out.write(f"--- {datetime.now(UTC).strftime('%H:%M:%S')}\n{render(found)}\n")
        out.flush()
        if followed and not running:
            state = _outcome(clients, followed)
            if state["Status"] != "RUNNING":
                ending = {"Ended": state}
                out.write(
                    (
                        json.dumps(ending, default=str)
                        if args.json
                        else f"=== {state['Execution'].rsplit(':', 1)[-1]}: {state['Status']}"
                        f"{' ' + str(state['Outcome']) if state['Outcome'] else ''}"
                        f"{': ' + str(state['Detail']) if state['Detail'] else ''}"
                    )
                    + "\n"
                )
                return 0 if state["Status"] == "SUCCEEDED" else 1
        if not followed and time.monotonic() > start_deadline:
            out.write("no deployment in progress, and none started: nothing to watch\n")
            return 0
        if time.monotonic() > deadline:
            out.write(f"still deploying after {args.timeout:.0f} s: stopped watching (the deployment goes on)\n")
            return 3
        time.sleep(args.interval)
