"""A create that SageMaker already applied, recognised by what the resource holds.

Step Functions reports every SageMaker error its model does not list as `SageMaker.SageMakerException`:
throttling, an internal error, and the ValidationException of a create whose name is taken alike. So a
workflow retries a failed create, and when the first try was applied but its answer lost, the retry meets
"Cannot create already existing model". The workflow then asks here: does the resource of that name hold
what this request asked for? Then it was made by this request and the workflow goes on; otherwise the
create really failed, under its own error.
"""

from __future__ import annotations

from typing import Any, Literal

from .transient import is_transient

# The variant fields a deployment sets; a config made from the same request has the same ones.
VARIANT_FIELDS = ("ModelName", "InstanceType", "InitialInstanceCount", "InitialVariantWeight")


class NotMadeByThisRequest(RuntimeError):
    """The resource is missing, or holds something else than the request asked for."""


def _same(asked: object, held: object) -> bool:
    if isinstance(asked, int | float) and isinstance(held, int | float):
        return float(asked) == float(held)
    return asked == held


def model_difference(described: dict[str, Any], package_arn: str) -> str | None:
    containers = described.get("Containers") or [described.get("PrimaryContainer") or {}]
    served = [str(container.get("ModelPackageName", "")) for container in containers]
    return None if served == [package_arn] else f"serves {', '.join(served) or 'nothing'}, not {package_arn}"


def config_difference(described: dict[str, Any], variants: list[dict[str, Any]]) -> str | None:
    held = {variant.get("VariantName"): variant for variant in described.get("ProductionVariants", [])}
    if set(held) != {variant.get("VariantName") for variant in variants}:
        return f"has variants {sorted(map(str, held))}, not {sorted(str(v.get('VariantName')) for v in variants)}"
    for asked in variants:
        have = held[asked.get("VariantName")]
        for field in VARIANT_FIELDS:
            if field in asked and not _same(asked[field], have.get(field)):
                return f"variant {asked['VariantName']} has {field} {have.get(field)}, not {asked[field]}"
    return None


def confirm_made(
    sagemaker: Any,
    kind: Literal["model", "endpoint-config"],
    name: str,
    package_arn: str | None = None,
    variants: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """{"Made": name} when the resource holds what the request asked for; NotMadeByThisRequest otherwise."""
    try:
        if kind == "model":
            difference = model_difference(sagemaker.describe_model(ModelName=name), str(package_arn))
        else:
            described = sagemaker.describe_endpoint_config(EndpointConfigName=name)
            difference = config_difference(described, variants or [])
    except sagemaker.exceptions.ClientError as error:
        if is_transient(error):
            raise
        raise NotMadeByThisRequest(f"{kind} {name} was not made: {error}") from None
    if difference:
        raise NotMadeByThisRequest(f"{kind} {name} exists but {difference}")
    return {"Made": name}
