"""Autoscaling follows the traffic: the candidate gets the live variant's scaling before it takes traffic,
and a variant that leaves the endpoint leaves its scalable target behind it."""

from __future__ import annotations

from typing import Any

NAMESPACE = "sagemaker"
DIMENSION = "sagemaker:variant:DesiredInstanceCount"
POLICY_CONFIGURATIONS = ("TargetTrackingScalingPolicyConfiguration", "StepScalingPolicyConfiguration")


def resource_id(endpoint: str, variant: str) -> str:
    return f"endpoint/{endpoint}/variant/{variant}"


def copy_scaling(autoscaling: Any, endpoint: str, live: str, candidate: str) -> str:
    """Register the candidate like the live variant, with the same policies; what was done, in words."""
    source, target = resource_id(endpoint, live), resource_id(endpoint, candidate)
    targets = autoscaling.describe_scalable_targets(
        ServiceNamespace=NAMESPACE, ResourceIds=[source], ScalableDimension=DIMENSION
    )["ScalableTargets"]
    if not targets:
        return f"variant {live} does not autoscale"
    autoscaling.register_scalable_target(
        ServiceNamespace=NAMESPACE,
        ResourceId=target,
        ScalableDimension=DIMENSION,
        MinCapacity=targets[0]["MinCapacity"],
        MaxCapacity=targets[0]["MaxCapacity"],
    )
    policies = autoscaling.describe_scaling_policies(ServiceNamespace=NAMESPACE, ResourceId=source)["ScalingPolicies"]
    for policy in policies:
        configuration = {key: policy[key] for key in POLICY_CONFIGURATIONS if key in policy}
        autoscaling.put_scaling_policy(
            PolicyName=policy["PolicyName"],
            ServiceNamespace=NAMESPACE,
            ResourceId=target,
            ScalableDimension=DIMENSION,
            PolicyType=policy["PolicyType"],
            **configuration,
        )
    bounds = f"{targets[0]['MinCapacity']}-{targets[0]['MaxCapacity']}"
    return f"variant {candidate} scales {bounds} like {live} ({len(policies)} policies)"


def retire_scaling(autoscaling: Any, endpoint: str, variant: str) -> str:
    source = resource_id(endpoint, variant)
    targets = autoscaling.describe_scalable_targets(
        ServiceNamespace=NAMESPACE, ResourceIds=[source], ScalableDimension=DIMENSION
    )["ScalableTargets"]
    if not targets:
        return f"variant {variant} had no scalable target"
    for policy in autoscaling.describe_scaling_policies(ServiceNamespace=NAMESPACE, ResourceId=source)[
        "ScalingPolicies"
    ]:
        autoscaling.delete_scaling_policy(
            PolicyName=policy["PolicyName"], ServiceNamespace=NAMESPACE, ResourceId=source, ScalableDimension=DIMENSION
        )
    autoscaling.deregister_scalable_target(ServiceNamespace=NAMESPACE, ResourceId=source, ScalableDimension=DIMENSION)
    return f"variant {variant}'s scalable target removed"
