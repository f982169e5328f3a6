"""`mlops history`: the ledger's decisions about this project, newest first.

The ledger is read subject by subject (Query, never Scan): the endpoint (deployments, rollbacks, traffic steps,
aborts, scaling), the project (retrains, held-back or joined retrain requests), each version's approvals, each
of the project's alarms (state changes) and the batch target (Batch stacks).
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import Any

from .aws import Clients
from .project import Project
from .records import endpoint_pk, entries, version_arn, version_number, versions

# Entries that record a decision or an event (the others are working state: LOCK, LIVE, BAKE, WAIT, claims).
DECISIONS = {
    "deployment",
    "rollback",
    "approval",
    "abort-request",
    "retrain",
    "retrain-held-back",
    "retrain-joined",
    "alarm",
    "batch",
    "shadow-report",
}
# Recorded too, shown when asked for by --kind: many per deployment or per minute.
DETAIL = {
    "scaling",
    "traffic-step",
    "endpoint-state",
    "pipeline-status",
    "drift-run",
    "ground-truth-run",
    "batch-measure",
}


def _alarm_names(clients: Clients, project: Project) -> list[str]:
    names = []
    for page in clients("cloudwatch").get_paginator("describe_alarms").paginate(AlarmNamePrefix=f"{project.name}-"):
        names += [alarm["AlarmName"] for alarm in page["MetricAlarms"]]
    return names


def collect(clients: Clients, project: Project) -> list[dict[str, Any]]:
    """Every kind of entry of this project's subjects, oldest first (by the time each was recorded)."""
    subjects = [endpoint_pk(project), f"PROJECT#{project.name}"]
    subjects += [f"APPROVAL#{v['ModelPackageArn']}" for v in versions(clients, project)]
    subjects += [f"ALARM#{name}" for name in _alarm_names(clients, project)]
    if project.kind == "Batch":
        subjects.append(f"BATCH#{project.endpoint}")
    found = []
    for pk in subjects:
        for item in entries(clients, project, pk):
            if item.get("kind"):
                found.append(item)
    found.sort(key=lambda item: moment(item.get("recorded_at") or item.get("at")))
    return found


def moment(text: object) -> datetime:
    """An entry's time (the ledger holds ISO 8601 with Z or +00:00, milli- or microseconds); the epoch if none."""
    try:
        found = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return datetime.fromtimestamp(0, UTC)
    return found if found.tzinfo else found.replace(tzinfo=UTC)


def summary(item: dict[str, Any]) -> str:
    """One line about an entry, for people."""
    kind = str(item.get("kind"))
    version = version_number(str(item.get("model_package_arn") or ""))
    if kind in ("deployment", "rollback"):
        text = f"version {version}: {item.get('outcome')}" if version.isdigit() else f"{item.get('outcome')}"
        if item.get("detail"):
            text += f" ({item['detail']})"
        who = item.get("approved_by") or item.get("requested_by")
        return text + (f", by {who}" if who else "") + (f", because {item['reason']}" if item.get("reason") else "")
    if kind == "approval":
        return f"version {item.get('model_package_version') or version} approved: deploy {item.get('execution_arn')}"
    if kind == "abort-request":
        return f"abort requested: {item.get('reason')}"
    if kind == "retrain":
        text = f"{item.get('outcome')}"
        if version != "-" and version != "None":
            text += f", version {version}"
        return text + (f" ({item['detail']})" if item.get("detail") else "") + f", because {item.get('reason')}"
    if kind.startswith("retrain-"):
        return f"{kind.removeprefix('retrain-')}: {item.get('reason') or item.get('decision')}"
    if kind == "alarm":
        return f"{str(item['pk']).removeprefix('ALARM#')}: {item.get('previous_state')} -> {item.get('state')}"
    if kind == "traffic-step":
        return f"{item.get('percent')}% to {item.get('candidate_variant')}"
    if kind == "batch":
        detail = f" ({item['detail']})" if item.get("detail") else ""
        return f"{item.get('input_url')}: {item.get('outcome')}{detail}"
    skipped = {"pk", "sk", "kind", "recorded_at", "summary", "metric_data", "token"}
    return ", ".join(f"{k}={v}" for k, v in sorted(item.items()) if k not in skipped)[:200]


def select(
    found: list[dict[str, Any]], kind: str | None, version: str | None, since: str | None, limit: int
) -> list[dict[str, Any]]:
    chosen = [i for i in found if (i.get("kind") == kind if kind else i.get("kind") in DECISIONS)]
    if version:
        chosen = [i for i in chosen if version in (i.get("model_package_arn"), i.get("version"))]
    if since:
        chosen = [i for i in chosen if moment(i.get("recorded_at")) >= moment(since)]
    return list(reversed(chosen))[: max(0, limit)]


def history(args: argparse.Namespace, clients: Clients, project: Project) -> Any:
    from .aws import UsageError
    from .main import Result

    if args.kind and args.kind not in DECISIONS | DETAIL:
        raise UsageError(f"no kind {args.kind!r}: one of {', '.join(sorted(DECISIONS | DETAIL))}")
    if args.limit < 1:
        raise UsageError("--limit must be at least 1")
    arn = version_arn(clients, project, args.version) if args.version else None
    chosen = select(collect(clients, project), args.kind, arn, args.since, args.limit)
    data = [{k: v for k, v in item.items() if k not in ("token", "metric_data")} for item in chosen]
    lines = [f"{str(i.get('recorded_at'))[:23]:<24} {i.get('kind'):<18} {summary(i)}" for i in chosen]
    return Result(data, "\n".join(lines) if lines else "no entries")
