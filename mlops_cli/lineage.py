"""`mlops lineage`: everything that made the live version (or a named one), from AWS's APIs and the ledger.

endpoint -> endpoint config -> model -> version -> pipeline run -> training job -> data (URI, version, digest)
and code (digest, commit) -> hyperparameters and metrics -> approvals -> every deployment and rollback of it.
The data, code and hyperparameters are the version's CustomerMetadataProperties, which the reference pipeline's
RegisterModel step writes (pipeline/definition.py). SageMaker's own lineage entities (made by pipelines on AWS)
are linked when they exist, never required.
"""

from __future__ import annotations

import argparse
import re
from typing import Any

from .aws import Clients, UsageError
from .project import Project
from .records import endpoint_pk, entries, live, registered_metrics, version_arn, version_number

HYPERPARAMETER = "hyperparameter-"
_ARN = re.compile(r"arn:aws[a-z-]*:sagemaker:[a-z0-9-]+:\d{12}:model-package/[^/\s]+/\d+")


def _served_version(model: dict[str, Any]) -> str | None:
    containers = model.get("Containers") or [model.get("PrimaryContainer") or {}]
    for container in containers:
        if container.get("ModelPackageName"):
            return str(container["ModelPackageName"])
    return None


def serving_chain(clients: Clients, project: Project) -> dict[str, Any]:
    """endpoint -> config -> model -> version (or, in a Batch stack, the live batch model -> version)."""
    sagemaker = clients("sagemaker")
    chain: dict[str, Any] = {}
    if project.kind == "Batch":
        current = live(clients, project)
        if not current:
            raise UsageError(f"project {project.name} has no live batch model yet: name a version")
        model_name = str(current.get("endpoint_config_name"))
    else:
        try:
            endpoint = sagemaker.describe_endpoint(EndpointName=project.endpoint)
        except sagemaker.exceptions.ClientError as error:
            raise UsageError(f"no endpoint {project.endpoint}: name a version instead ({error})") from error
        config = sagemaker.describe_endpoint_config(EndpointConfigName=endpoint["EndpointConfigName"])
        weights = {v["VariantName"]: float(v.get("CurrentWeight", 0)) for v in endpoint.get("ProductionVariants", [])}
        variants = sorted(config["ProductionVariants"], key=lambda v: -weights.get(v["VariantName"], 0.0))
        variant = variants[0]
        chain.update(
            Endpoint={"Name": project.endpoint, "Status": endpoint["EndpointStatus"], "Arn": endpoint["EndpointArn"]},
            EndpointConfig={"Name": endpoint["EndpointConfigName"], "Variant": variant["VariantName"]},
        )
        model_name = str(variant["ModelName"])
    model = sagemaker.describe_model(ModelName=model_name)
    chain["Model"] = {"Name": model_name, "Arn": model.get("ModelArn"), "CreatedAt": model.get("CreationTime")}
    arn = _served_version(model)
    if not arn:
        raise UsageError(f"model {model_name} names no model package version: it was not deployed by this automation")
    chain["VersionArn"] = arn
    return chain


def _who(by: dict[str, Any] | None) -> str | None:
    by = by or {}
    identity = by.get("IamIdentity") or {}
    return by.get("UserProfileName") or identity.get("Arn") or identity.get("PrincipalId")


def _pipeline_run(clients: Clients, run_arn: str | None, training_job: str | None) -> dict[str, Any] | None:
    if not run_arn:
        return None
    sagemaker = clients("sagemaker")
    run: dict[str, Any] = {"Arn": run_arn}
    try:
        described = sagemaker.describe_pipeline_execution(PipelineExecutionArn=run_arn)
        run.update(
            Status=described.get("PipelineExecutionStatus"),
            DisplayName=described.get("PipelineExecutionDisplayName"),
            StartedAt=described.get("CreationTime"),
        )
        steps = sagemaker.list_pipeline_execution_steps(PipelineExecutionArn=run_arn)["PipelineExecutionSteps"]
        for step in steps:
            job = (step.get("Metadata") or {}).get("TrainingJob")
            if job:
                run["TrainingJobArn"] = job.get("Arn")
    except sagemaker.exceptions.ClientError as error:
        run["Error"] = error.response.get("Error", {}).get("Message", str(error))
    if training_job and not run.get("TrainingJobArn"):
        run["TrainingJobArn"] = None
    return run


def _training_job(clients: Clients, name: str | None) -> dict[str, Any] | None:
    """DescribeTrainingJob when SageMaker still has the job (its hyperparameters as it ran); None otherwise."""
    if not name:
        return None
    sagemaker = clients("sagemaker")
    try:
        job = sagemaker.describe_training_job(TrainingJobName=name)
    except Exception:  # a job SageMaker no longer lists, or an endpoint that has none
        return None
    return {
        "Status": job.get("TrainingJobStatus"),
        "HyperParameters": {
            k: v for k, v in (job.get("HyperParameters") or {}).items() if not k.startswith("sagemaker")
        },
        "StartedAt": job.get("TrainingStartTime"),
        "EndedAt": job.get("TrainingEndTime"),
    }


def _lineage_entities(clients: Clients, arn: str) -> list[str]:
    """SageMaker's lineage artifacts for the version (pipelines make them on AWS); empty where there are none."""
    try:
        found = clients("sagemaker").list_artifacts(SourceUri=arn).get("ArtifactSummaries", [])
    except Exception:  # not offered by every endpoint: the sandbox has no lineage entities
        return []
    return [str(item["ArtifactArn"]) for item in found if item.get("ArtifactArn")]


def _mentions(item: dict[str, Any], arn: str) -> bool:
    """Whether an entry names the version (a field equal to its ARN, or its ARN in a sentence; /1 is not /10)."""
    named = re.compile(re.escape(arn) + r"(?![0-9])")
    return any(str(value) == arn or named.search(str(value)) for value in item.values())


def history_of(clients: Clients, project: Project, arn: str) -> dict[str, list[dict[str, Any]]]:
    """The ledger about one version: its approvals, the retrain that made it, its deployments, and the rollbacks
    to it and away from it (a rollback that ended while it was live, which the endpoint's entries tell in order)."""
    keep = ("recorded_at", "kind", "outcome", "detail", "reason", "requested_by", "approved_by", "execution_arn")
    changes = sorted(
        (e for e in entries(clients, project, endpoint_pk(project)) if e.get("kind") in ("deployment", "rollback")),
        key=lambda e: str(e.get("started_at") or e.get("recorded_at") or ""),
    )
    retrains = [e for e in entries(clients, project, f"PROJECT#{project.name}") if e.get("kind") == "retrain"]
    approvals = [e for e in entries(clients, project, f"APPROVAL#{arn}") if e.get("kind") == "approval"]
    deployments, rollbacks = [], []
    live_now = ""
    for change in changes:
        if change["kind"] == "deployment":
            if _mentions(change, arn):
                deployments.append(change)
            if change.get("outcome") == "Deployed":
                live_now = str(change.get("model_package_arn") or "")
        elif change.get("outcome") == "RolledBack":
            if live_now == arn:
                rollbacks.append({**change, "direction": "away"})
            elif _mentions(change, arn):
                rollbacks.append({**change, "direction": "to"})
            restored = _ARN.search(str(change.get("detail") or ""))
            live_now = restored.group(0) if restored else ""
        elif _mentions(change, arn):
            rollbacks.append({**change, "direction": "to"})

    def trim(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{k: item[k] for k in (*keep, "direction") if item.get(k) not in (None, "")} for item in items]

    return {
        "Approvals": trim(approvals),
        "Deployments": trim(deployments),
        "Rollbacks": trim(rollbacks),
        "MadeBy": trim([e for e in retrains if _mentions(e, arn)]),
    }


def collect(clients: Clients, project: Project, version: str | None) -> dict[str, Any]:
    chain = serving_chain(clients, project) if version is None else {}
    arn = version_arn(clients, project, version) if version else str(chain.pop("VersionArn"))
    chain.pop("VersionArn", None)
    package = clients("sagemaker").describe_model_package(ModelPackageName=arn)
    metadata = dict(package.get("CustomerMetadataProperties") or {})
    properties = dict(package.get("MetadataProperties") or {})
    training_job = metadata.get("training-job")
    container = (package.get("InferenceSpecification") or {}).get("Containers", [{}])[0]
    found: dict[str, Any] = {
        **chain,
        "Version": {
            "Arn": arn,
            "Number": version_number(arn),
            "Status": package.get("ModelApprovalStatus"),
            "RegisteredAt": package.get("CreationTime"),
            "ModelDataUrl": container.get("ModelDataUrl"),
            "Image": container.get("Image"),
            "Owner": metadata.get("owner"),
            "UseCase": metadata.get("use-case"),
            "Compliance": metadata.get("compliance"),
        },
        "PipelineRun": _pipeline_run(clients, properties.get("GeneratedBy"), training_job),
        "TrainingJob": {
            "Name": training_job,
            "HyperParameters": {
                k.removeprefix(HYPERPARAMETER): v for k, v in sorted(metadata.items()) if k.startswith(HYPERPARAMETER)
            },
            "Described": _training_job(clients, training_job),
        },
        "Data": {
            "Uri": metadata.get("data-uri"),
            "Version": metadata.get("data-version"),
            "Sha256": metadata.get("data-sha256"),
        },
        "Code": {
            "Sha256": metadata.get("code-sha256"),
            "CommitId": properties.get("CommitId") or None,
            "Repository": properties.get("Repository") or None,
        },
        "Metrics": registered_metrics(clients, package),
        # who set the status last, when (LastModifiedBy/Time); a version registered Approved has only CreatedBy/Time
        "Approval": {
            "Status": package.get("ModelApprovalStatus"),
            "By": _who(package.get("LastModifiedBy")) or _who(package.get("CreatedBy")),
            "At": package.get("LastModifiedTime") or package.get("CreationTime"),
            "Description": package.get("ApprovalDescription"),
        },
        "OtherMetadata": {
            k: v
            for k, v in sorted(metadata.items())
            if not k.startswith(HYPERPARAMETER)
            and k not in ("owner", "use-case", "compliance", "training-job", "data-uri", "data-version", "data-sha256")
            and k != "code-sha256"
        },
        "SageMakerLineage": _lineage_entities(clients, arn),
        **history_of(clients, project, arn),
    }
    return found


def _line(label: str, value: object) -> str:
    return f"{label:<16}{value if value not in (None, '', {}, []) else '-'}"


def render(found: dict[str, Any]) -> str:
    lines = []
    if found.get("Endpoint"):
        endpoint, config = found["Endpoint"], found["EndpointConfig"]
        lines.append(_line("Endpoint", f"{endpoint['Name']} ({endpoint['Status']})"))
        lines.append(_line("  config", f"{config['Name']}, variant {config['Variant']}"))
    if found.get("Model"):
        lines.append(_line("  model", found["Model"]["Name"]))
    version = found["Version"]
    lines.append(_line("Version", f"{version['Number']} ({version['Status']}), registered {version['RegisteredAt']}"))
    lines.append(_line("  arn", version["Arn"]))
    lines.append(_line("  artifact", version["ModelDataUrl"]))
    lines.append(
        _line("  owner", f"{version['Owner']}, use case {version['UseCase']}, compliance {version['Compliance']}")
    )
    run = found["PipelineRun"]
    if run:
        lines.append(_line("Pipeline run", f"{run['Arn']} ({run.get('Status', '-')})"))
    else:
        lines.append(_line("Pipeline run", "not recorded (no MetadataProperties.GeneratedBy)"))
    job = found["TrainingJob"]
    lines.append(_line("Training job", job["Name"]))
    hyper = job["HyperParameters"] or (job["Described"] or {}).get("HyperParameters") or {}
    lines.append(_line("  hyperparams", ", ".join(f"{k}={v}" for k, v in sorted(hyper.items()))))
    data = found["Data"]
    lines.append(_line("Data", data["Uri"]))
    lines.append(_line("  version", data["Version"]))
    lines.append(_line("  sha256", data["Sha256"]))
    code = found["Code"]
    lines.append(_line("Code sha256", code["Sha256"]))
    lines.append(_line("  commit", f"{code['CommitId'] or '-'} {code['Repository'] or ''}".strip()))
    metrics = found["Metrics"]
    lines.append(_line("Metrics", ", ".join(f"{k}={v:.4g}" for k, v in sorted(metrics.items()))))
    approval = found["Approval"]
    verb = "Approved" if approval["Status"] == "Approved" else f"{approval['Status']}, set"
    lines.append(
        _line("Approval", f"{verb} by {approval['By'] or 'unknown'} at {approval['At']}")
        + (f": {approval['Description']}" if approval["Description"] else "")
    )
    for item in found["Approvals"]:
        lines.append(_line("  approved", f"{item.get('recorded_at')} -> {item.get('execution_arn', '-')}"))
    for item in found["MadeBy"]:
        lines.append(
            _line("Made by retrain", f"{item.get('recorded_at')}: {item.get('reason')} ({item.get('outcome')})")
        )
    for title, key in (("Deployment", "Deployments"), ("Rollback", "Rollbacks")):
        for item in found[key]:
            who = item.get("approved_by") or item.get("requested_by") or "-"
            what = {"away": "away from it", "to": "to it"}.get(str(item.get("direction")), "")
            lines.append(
                _line(
                    title,
                    f"{item.get('recorded_at')} {item.get('outcome')} {what} by {who}: {item.get('reason', '')}",
                )
            )
    for arn in found["SageMakerLineage"]:
        lines.append(_line("SageMaker lineage", arn))
    return "\n".join(lines)


def lineage(args: argparse.Namespace, clients: Clients, project: Project) -> Any:
    from .main import Result

    found = collect(clients, project, args.version)
    return Result(found, render(found))
