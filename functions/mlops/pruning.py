"""Old models and endpoint configs this project created go after a successful deployment.

Kept: the newest `keep` endpoint configs, the one the endpoint serves, the rollback target recorded in the
ledger, and every model one of them uses (in a batch project, the live and previous models the ledger names).
Only resources named `<project>-...` and tagged `mlops:project=<project>` are ever deleted.
"""

from __future__ import annotations

from typing import Any


def _paged(call: Any, key: str, **kwargs: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    while True:
        page = call(**kwargs)
        items += page.get(key, [])
        if not page.get("NextToken"):
            return items
        kwargs["NextToken"] = page["NextToken"]


def _ours(sagemaker: Any, arn: str, project: str) -> bool:
    tags = sagemaker.list_tags(ResourceArn=arn).get("Tags", [])
    return any(tag["Key"] == "mlops:project" and tag["Value"] == project for tag in tags)


def prune(
    sagemaker: Any, project: str, keep: int, in_use: set[str], models_in_use: frozenset[str] = frozenset()
) -> dict[str, list[str]]:
    """`models_in_use`: models kept whatever the configs say (a batch project's live and previous models)."""
    prefix = f"{project}-"
    configs = [
        c
        for c in _paged(sagemaker.list_endpoint_configs, "EndpointConfigs", NameContains=prefix)
        if c["EndpointConfigName"].startswith(prefix)
    ]
    configs.sort(key=lambda c: c["CreationTime"], reverse=True)
    kept = {c["EndpointConfigName"] for c in configs[:keep]} | in_use
    used_models: set[str] = set(models_in_use)
    for name in kept:
        try:
            variants = sagemaker.describe_endpoint_config(EndpointConfigName=name)["ProductionVariants"]
        except sagemaker.exceptions.ClientError as error:
            if error.response.get("Error", {}).get("Code") != "ValidationException":
                raise  # a config not read (throttled, denied) could still use a model this run would delete
            continue  # gone already
        used_models |= {variant["ModelName"] for variant in variants}
    deleted: dict[str, list[str]] = {"EndpointConfigs": [], "Models": []}
    for config in configs:
        name = config["EndpointConfigName"]
        if name not in kept and _ours(sagemaker, config["EndpointConfigArn"], project):
            sagemaker.delete_endpoint_config(EndpointConfigName=name)
            deleted["EndpointConfigs"].append(name)
    for model in _paged(sagemaker.list_models, "Models", NameContains=prefix):
        name = model["ModelName"]
        if name.startswith(prefix) and name not in used_models and _ours(sagemaker, model["ModelArn"], project):
            sagemaker.delete_model(ModelName=name)
            deleted["Models"].append(name)
    return deleted
