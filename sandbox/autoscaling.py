# mypy: disable-error-code="method-assign,assignment,attr-defined"
# (this module replaces moto methods on purpose, as sandbox/patches.py does)
"""Application Auto Scaling of SageMaker endpoint variants, as AWS documents it (moto 5.2.5 keeps targets and
policies but never touches the resource they scale).

  - RegisterScalableTarget moves an active variant's instance count into [MinCapacity, MaxCapacity], as a
    capacity change SageMaker makes (UpdateEndpointWeightsAndCapacities: Updating, then InService, each
    with its "SageMaker Endpoint State Change" event).
  - DeregisterScalableTarget deletes the target's scaling policies and scheduled actions.
  - UpdateEndpoint is refused when it would remove a registered variant or change its instance type
    (`refuse_update`, called by sandbox/patches.py's UpdateEndpoint).
  - `autoscale` is the scaling activity a policy starts, for tests to ask for (Sandbox.autoscale).

A scalable target of a variant: namespace "sagemaker", ResourceId "endpoint/<endpoint>/variant/<variant>",
dimension "sagemaker:variant:DesiredInstanceCount" (Application Auto Scaling API reference,
RegisterScalableTarget, ResourceId and ScalableDimension).
"""

from __future__ import annotations

import re
from typing import Any

from moto.applicationautoscaling import models as aas_models
from moto.sagemaker import models as sagemaker_models

NAMESPACE = "sagemaker"
DIMENSION = "sagemaker:variant:DesiredInstanceCount"
_VARIANT_RESOURCE = re.compile(r"^endpoint/(?P<endpoint>[^/]+)/variant/(?P<variant>[^/]+)$")


def resource_id(endpoint_name: str, variant_name: str) -> str:
    return f"endpoint/{endpoint_name}/variant/{variant_name}"


def _aas_backend(account: str, region: str) -> Any:
    return aas_models.applicationautoscaling_backends[account][region]


def _sagemaker_backend(account: str, region: str) -> Any:
    return sagemaker_models.sagemaker_backends[account][region]


def scalable_target(account: str, region: str, endpoint_name: str, variant_name: str) -> Any | None:
    """The variant's registered scalable target (DesiredInstanceCount), or None."""
    backend = _aas_backend(account, region)
    target = backend.targets.get(DIMENSION, {}).get(resource_id(endpoint_name, variant_name))
    return target if target is not None and target.service_namespace == NAMESPACE else None


def _suspended(target: Any, attribute: str) -> bool:
    return bool((target.suspended_state or {}).get(attribute))


def _variant(endpoint: Any, variant_name: str) -> dict[str, Any] | None:
    return next((v for v in endpoint.production_variants if v.get("VariantName") == variant_name), None)


def _instance_count(variant: dict[str, Any]) -> int | None:
    count = variant.get("DesiredInstanceCount", variant.get("CurrentInstanceCount"))
    return None if count is None else int(count)


def _scale(backend: Any, endpoint_name: str, variant_name: str, instance_count: int) -> bool:
    """The capacity change Application Auto Scaling asks SageMaker for: UpdateEndpointWeightsAndCapacities with
    the variant's DesiredInstanceCount (the endpoint goes Updating, then InService, telling each change). False
    when SageMaker refuses it (another change started in the meantime)."""
    try:
        backend.update_endpoint_weights_and_capacities(
            endpoint_name, [{"VariantName": variant_name, "DesiredInstanceCount": instance_count}]
        )
    except sagemaker_models.ValidationError:
        return False
    return True


# ------------------------------------------------------------------ RegisterScalableTarget moves capacity
# "If the specified resource is not active in the target service, this operation does not change the resource's
# current capacity. Otherwise, it changes the resource's current capacity to a value that is inside of this
# range." and, for an update of a registered target, "If it's below the minimum capacity or above the maximum
# capacity, Application Auto Scaling adjusts the capacity of the scalable target to place it within these
# bounds" (Application Auto Scaling API reference, RegisterScalableTarget,
# https://docs.aws.amazon.com/autoscaling/application/APIReference/API_RegisterScalableTarget.html; the same
# text in botocore's application-autoscaling model).
# Sandbox choices (AWS is silent): "active" is an endpoint InService (Creating, Updating, Failed... are not:
# the SageMaker guide says auto scaling is blocked while an update is in progress, "Update endpoints that use
# auto scaling", https://docs.aws.amazon.com/sagemaker/latest/dg/endpoint-scaling-update.html), and nothing is
# moved later when the endpoint becomes InService; a target naming an endpoint or variant that does not exist is
# registered without moving anything. The move is not subject to SuspendedState: AWS documents suspension for
# "scale-in activities that are triggered by a scaling policy", scale-out ones, and "scaling activities that
# involve scheduled actions" only (RegisterScalableTarget, SuspendedState; Application Auto Scaling user guide,
# "Suspend and resume scaling for Application Auto Scaling",
# https://docs.aws.amazon.com/autoscaling/application/userguide/application-auto-scaling-suspend-resume-scaling.html).
_original_register = aas_models.ApplicationAutoscalingBackend.register_scalable_target


def _register_scalable_target(self: Any, namespace: str, r_id: str, dimension: str, *args: Any, **kwargs: Any) -> Any:
    target = _original_register(self, namespace, r_id, dimension, *args, **kwargs)
    if namespace == NAMESPACE and dimension == DIMENSION:
        _bring_into_range(self.account_id, self.region_name, target)
    return target


def _bring_into_range(account: str, region: str, target: Any) -> None:
    match = _VARIANT_RESOURCE.match(target.resource_id)
    if match is None:
        return
    backend = _sagemaker_backend(account, region)
    endpoint = backend.endpoints.get(match["endpoint"])
    if endpoint is None or endpoint.endpoint_status != "InService":
        return
    variant = _variant(endpoint, match["variant"])
    count = None if variant is None else _instance_count(variant)
    if count is None:  # no such variant, or a serverless one (no instances)
        return
    low, high = target.min_capacity, target.max_capacity
    wanted = max(count, low) if low is not None else count
    wanted = min(wanted, high) if high is not None else wanted
    if wanted != count:
        _scale(backend, endpoint.endpoint_name, match["variant"], wanted)


# ------------------------------------------------------------------ DeregisterScalableTarget deletes policies
# "Deregistering a scalable target deletes the scaling policies and the scheduled actions that are associated
# with it." (Application Auto Scaling API reference, DeregisterScalableTarget,
# https://docs.aws.amazon.com/autoscaling/application/APIReference/API_DeregisterScalableTarget.html; botocore's
# application-autoscaling model). moto 5.2.5 deletes the target only.
_original_deregister = aas_models.ApplicationAutoscalingBackend.deregister_scalable_target


def _deregister_scalable_target(self: Any, namespace: str, r_id: str, dimension: str) -> None:
    _original_deregister(self, namespace, r_id, dimension)  # refuses a target that is not registered
    for key, policy in list(self.policies.items()):
        if (policy.service_namespace, policy.resource_id, policy.scalable_dimension) == (namespace, r_id, dimension):
            policy.delete_alarms(self.account_id, self.region_name)
            del self.policies[key]
    self.scheduled_actions = [
        action
        for action in self.scheduled_actions
        if (action.service_namespace, action.resource_id, action.scalable_dimension) != (namespace, r_id, dimension)
    ]


# ------------------------------------------------------------------ UpdateEndpoint and registered variants
# "When you update an endpoint, Application Auto Scaling checks to see whether any of the models on that endpoint
# are targets for auto scaling. If the update would change the instance type for any model that is a target for
# auto scaling, the update fails. ... If you are trying to update the endpoint by calling the UpdateEndpoint API,
# the call fails." The deregistration first is needed when "Changing the instance type for a production variant
# that has auto scaling configured" or "Removing a production variant that has auto scaling configured"; changing
# the variant's model is allowed (SageMaker developer guide, "Update endpoints that use auto scaling",
# https://docs.aws.amazon.com/sagemaker/latest/dg/endpoint-scaling-update.html).
# No public source quotes the error SageMaker answers: the sandbox answers ValidationException (the code
# SageMaker gives an UpdateEndpoint it refuses) with a message of its own, naming each variant and why.
# Sandbox choices: a serverless variant's ServerlessConfig counts as its instance type (a change of it, or a move
# between instances and serverless, is refused); when the endpoint's current config is gone (DeleteEndpointConfig
# on a config in use is allowed), the instance types cannot be compared and only removals are refused. A shadow
# variant (ShadowProductionVariants) is a variant of the endpoint like the others here: a registered variant that
# the new config keeps as its shadow, or a shadow kept as a production variant, is not removed (AWS is silent).
def refuse_update(backend: Any, endpoint: Any, config_name: str, config: dict[str, Any]) -> None:
    """Raise SageMaker's ValidationException when the config would remove or re-type a registered variant."""
    current = backend.endpoint_configs.get(endpoint.endpoint_config_name)
    present = (
        [*current.production_variants, *(getattr(current, "shadow_production_variants", None) or [])] if current else []
    )
    now = {v["VariantName"]: v for v in present}
    new = {
        v["VariantName"]: v
        for v in [*(config.get("ProductionVariants") or []), *(config.get("ShadowProductionVariants") or [])]
    }
    problems = []
    for variant in [*endpoint.production_variants, *(getattr(endpoint, "shadow_production_variants", None) or [])]:
        name = variant["VariantName"]
        if scalable_target(backend.account_id, backend.region_name, endpoint.endpoint_name, name) is None:
            continue
        if name not in new:
            problems.append(f'variant "{name}" is a scalable target and the new configuration removes it')
            continue
        before, after = now.get(name), new[name]
        if before is None:
            continue
        if before.get("InstanceType") != after.get("InstanceType"):
            problems.append(
                f'variant "{name}" is a scalable target and the new configuration changes its instance type '
                f"from {before.get('InstanceType') or 'serverless'} to {after.get('InstanceType') or 'serverless'}"
            )
        elif before.get("ServerlessConfig") != after.get("ServerlessConfig"):
            problems.append(
                f'variant "{name}" is a scalable target and the new configuration changes its ServerlessConfig'
            )
    if problems:
        raise sagemaker_models.ValidationError(
            message=f'Cannot update endpoint "{endpoint.arn}" to endpoint configuration "{config_name}": '
            + "; ".join(problems)
            + ". Deregister the variant from Application Auto Scaling (DeregisterScalableTarget) before such an"
            " update, and register it again afterwards."
        )


# ------------------------------------------------------------------ a scaling activity, on request
# A scaling policy's activity changes the variant's instance count within [MinCapacity, MaxCapacity] ("Application
# Auto Scaling scaling policies will not scale capacity to values that are outside of the minimum and maximum
# range", RegisterScalableTarget), unless scaling in that direction is suspended ("For DynamicScalingInSuspended,
# while a suspension is in effect, all scale-in activities that are triggered by a scaling policy are suspended",
# likewise DynamicScalingOutSuspended for scale-out: RegisterScalableTarget, SuspendedState), and not while the
# endpoint updates ("auto scaling is blocked while the update operation is in progress", "Update endpoints that
# use auto scaling"). Sandbox choices: a count equal to the variant's present one is no activity (False); an
# activity triggered before a suspension (`under_way`) is not stopped by it (AWS documents what a suspension stops
# from starting, not what it does to an activity already started).
def autoscale(
    account: str, region: str, endpoint_name: str, variant_name: str, instance_count: int, under_way: bool = False
) -> bool:
    target = scalable_target(account, region, endpoint_name, variant_name)
    if target is None:
        return False
    if target.min_capacity is not None and instance_count < target.min_capacity:
        return False
    if target.max_capacity is not None and instance_count > target.max_capacity:
        return False
    backend = _sagemaker_backend(account, region)
    endpoint = backend.endpoints.get(endpoint_name)
    if endpoint is None or endpoint.endpoint_status != "InService":
        return False
    variant = _variant(endpoint, variant_name)
    count = None if variant is None else _instance_count(variant)
    if count is None or instance_count == count:
        return False
    direction = "DynamicScalingOutSuspended" if instance_count > count else "DynamicScalingInSuspended"
    if not under_way and _suspended(target, direction):
        return False
    return _scale(backend, endpoint_name, variant_name, instance_count)


def install() -> None:
    aas_models.ApplicationAutoscalingBackend.register_scalable_target = _register_scalable_target
    aas_models.ApplicationAutoscalingBackend.deregister_scalable_target = _deregister_scalable_target
