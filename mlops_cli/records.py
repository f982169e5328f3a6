"""Reading the automation's ledger (DynamoDB, keys pk/sk) and the model registry, as the CLI needs them."""

from __future__ import annotations

import json
import re
from typing import Any

from botocore.exceptions import ClientError

from .aws import Clients, UsageError
from .project import Project


def _plain(attribute: dict[str, Any]) -> object:
    ((kind, value),) = attribute.items()
    if kind == "N":
        number = float(value)
        return int(number) if number.is_integer() else number
    if kind == "BOOL":
        return bool(value)
    return value


def plain(item: dict[str, Any]) -> dict[str, Any]:
    return {name: _plain(value) for name, value in item.items()}


def entries(
    clients: Clients, project: Project, pk: str, prefix: str = "", newest_first: bool = False, limit: int = 0
) -> list[dict[str, Any]]:
    """The entries of one subject (pk) whose sort key starts with `prefix`, in sort-key order (at most `limit`)."""
    found: list[dict[str, Any]] = []
    condition, values = "pk = :pk", {":pk": {"S": pk}}
    if prefix:
        condition, values = f"{condition} AND begins_with(sk, :prefix)", {**values, ":prefix": {"S": prefix}}
    kwargs: dict[str, Any] = {
        "TableName": project.ledger,
        "KeyConditionExpression": condition,
        "ExpressionAttributeValues": values,
        "ScanIndexForward": not newest_first,
        "ConsistentRead": True,
        **({"Limit": limit} if limit else {}),
    }
    while True:
        page = clients("dynamodb").query(**kwargs)
        found += [plain(item) for item in page["Items"]]
        if "LastEvaluatedKey" not in page or (limit and len(found) >= limit):
            return found[: limit or None]
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def registered_metrics(clients: Clients, package: dict[str, Any]) -> dict[str, float]:
    """{name: value} of the quality report a version was registered with (ModelMetrics.ModelQuality, SageMaker's
    model-quality shape: any *_metrics section); empty when it has none or it cannot be read."""
    uri = (((package.get("ModelMetrics") or {}).get("ModelQuality") or {}).get("Statistics") or {}).get("S3Uri")
    if not uri:
        return {}
    bucket, _, key = str(uri).removeprefix("s3://").partition("/")
    try:
        report = json.loads(clients("s3").get_object(Bucket=bucket, Key=key)["Body"].read())
    except (ClientError, ValueError):
        return {}
    values: dict[str, float] = {}
    for section, metrics in report.items():
        if section.endswith("_metrics") and isinstance(metrics, dict):
            for name, item in metrics.items():
                if isinstance(item, dict) and isinstance(item.get("value"), int | float):
                    values.setdefault(name, float(item["value"]))
    return values


def entry(clients: Clients, project: Project, pk: str, sk: str) -> dict[str, Any] | None:
    item = (
        clients("dynamodb")
        .get_item(TableName=project.ledger, Key={"pk": {"S": pk}, "sk": {"S": sk}}, ConsistentRead=True)
        .get("Item")
    )
    return plain(item) if item else None


def endpoint_pk(project: Project) -> str:
    return f"ENDPOINT#{project.endpoint}"


def versions(clients: Clients, project: Project) -> list[dict[str, Any]]:
    """The group's versions (ListModelPackages summaries), oldest first."""
    found: list[dict[str, Any]] = []
    paginator = clients("sagemaker").get_paginator("list_model_packages")
    try:
        for page in paginator.paginate(ModelPackageGroupName=project.group):
            found += page["ModelPackageSummaryList"]
    except clients("sagemaker").exceptions.ClientError as error:
        raise UsageError(f"cannot list the versions of {project.group}: {error}") from error
    return sorted(found, key=lambda item: int(item.get("ModelPackageVersion", 0)))


_ARN = re.compile(r"^arn:aws[a-z-]*:sagemaker:[a-z0-9-]+:\d{12}:model-package/(?P<group>[^/]+)/(?P<version>\d+)$")


def version_arn(clients: Clients, project: Project, version: str) -> str:
    """The ARN of a version of the project's group, named by its number or ARN; UsageError when it is not one."""
    match = _ARN.match(version)
    if match:
        if match["group"] != project.group:
            raise UsageError(f"{version} is not a version of {project.group}, the group of project {project.name}")
        number = int(match["version"])
    elif version.isdigit():
        number = int(version)
    else:
        raise UsageError(f"{version!r} is not a version: give its number (e.g. 3) or its model package ARN")
    for summary in versions(clients, project):
        if int(summary["ModelPackageVersion"]) == number:
            return str(summary["ModelPackageArn"])
    known = ", ".join(str(s["ModelPackageVersion"]) for s in versions(clients, project)) or "none"
    raise UsageError(f"{project.group} has no version {number} (versions: {known})")


def version_number(arn: str) -> str:
    match = _ARN.match(arn or "")
    return match["version"] if match else (arn or "-")


def live(clients: Clients, project: Project) -> dict[str, Any] | None:
    """The ledger's LIVE entry: the version the automation last put on the endpoint (or batch target)."""
    return entry(clients, project, endpoint_pk(project), "LIVE")


def stack_parameters(clients: Clients, project: Project) -> dict[str, str]:
    stack = clients("cloudformation").describe_stacks(StackName=project.stack_name)["Stacks"][0]
    return {p["ParameterKey"]: p.get("ParameterValue", "") for p in stack.get("Parameters", [])}
