"""Autoscaling across endpoint changes, as SageMaker and Application Auto Scaling require.

- SageMaker refuses an UpdateEndpoint that removes a variant registered as a scalable target or changes its
  instance type: its policies are deleted and the target deregistered first (SageMaker developer guide, "Update
  an endpoint that uses automatic scaling"), and the same scaling is registered again after the change, on the
  variant that takes the traffic.
- Autoscaling changes capacity whenever it likes, and SageMaker refuses a change while another is under way. For
  the length of a deployment, scaling is suspended (RegisterScalableTarget's SuspendedState, Application Auto
  Scaling user guide, "Suspend and resume scaling"), then put back as it was on every ending.
- A step scaling policy acts through CloudWatch alarms of the user's that name the policy in their actions
  (Application Auto Scaling user guide, "Step scaling policies"): they move with the policy, their VariantName
  dimension rewritten; so does a target tracking policy's customized metric.

What a deployment changed is kept in the ledger (ENDPOINT#<endpoint> / SCALING) before it is changed, so a retry,
a crash or the next deployment that takes the endpoint over puts it back.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from .ledger import Ledger, now_iso

NAMESPACE = "sagemaker"
DIMENSION = "sagemaker:variant:DesiredInstanceCount"
SCALING_SK = "SCALING"
POLICY_CONFIGURATIONS = ("TargetTrackingScalingPolicyConfiguration", "StepScalingPolicyConfiguration")
SUSPENDED = {"DynamicScalingInSuspended": True, "DynamicScalingOutSuspended": True, "ScheduledScalingSuspended": True}
RESUMED = {"DynamicScalingInSuspended": False, "DynamicScalingOutSuspended": False, "ScheduledScalingSuspended": False}
# What PutMetricAlarm takes of what DescribeAlarms returns (botocore's monitoring model).
ALARM_FIELDS = (
    "AlarmName",
    "AlarmDescription",
    "ActionsEnabled",
    "OKActions",
    "AlarmActions",
    "InsufficientDataActions",
    "MetricName",
    "Namespace",
    "Statistic",
    "ExtendedStatistic",
    "Dimensions",
    "Period",
    "Unit",
    "EvaluationPeriods",
    "DatapointsToAlarm",
    "Threshold",
    "ComparisonOperator",
    "TreatMissingData",
    "EvaluateLowSampleCountPercentile",
    "Metrics",
    "ThresholdMetricId",
)
# What makes SageMaker refuse to update a scaled variant in place (the guide names the instance type).
PLACEMENT = ("InstanceType", "ServerlessConfig")


def resource_id(endpoint: str, variant: str) -> str:
    return f"endpoint/{endpoint}/variant/{variant}"


def _rewritten(value: Any, old: str, new: str) -> Any:
    """`value` with every VariantName dimension naming `old` naming `new` (alarms, customized metrics)."""
    if isinstance(value, list):
        return [_rewritten(item, old, new) for item in value]
    if isinstance(value, dict):
        if value.get("Name") == "VariantName" and value.get("Value") == old:
            return {**value, "Value": new}
        return {key: _rewritten(item, old, new) for key, item in value.items()}
    return value


def alarm_name_for(name: str, old: str, new: str) -> str:
    """The copy of a variant's alarm for another variant: the variant's name in it replaced, else appended."""
    head, found, tail = name.rpartition(old)
    return f"{head}{new}{tail}" if found else f"{name}-{new}"


@dataclass
class Scaling:
    """A variant's scaling as Application Auto Scaling and CloudWatch describe it: enough to register it again."""

    variant: str
    min_capacity: int
    max_capacity: int
    policies: list[dict[str, Any]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "Variant": self.variant,
            "MinCapacity": self.min_capacity,
            "MaxCapacity": self.max_capacity,
            "Policies": self.policies,
        }

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> Scaling:
        return cls(value["Variant"], int(value["MinCapacity"]), int(value["MaxCapacity"]), list(value["Policies"]))


def _state_of(target: dict[str, Any]) -> dict[str, bool]:
    """A target's SuspendedState with every flag spelled out (AWS omits the false ones)."""
    return {**RESUMED, **(target.get("SuspendedState") or {})}


def _target(autoscaling: Any, endpoint: str, variant: str) -> dict[str, Any] | None:
    targets = autoscaling.describe_scalable_targets(
        ServiceNamespace=NAMESPACE, ResourceIds=[resource_id(endpoint, variant)], ScalableDimension=DIMENSION
    )["ScalableTargets"]
    return targets[0] if targets else None


def _policies(autoscaling: Any, endpoint: str, variant: str) -> list[dict[str, Any]]:
    policies: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {
        "ServiceNamespace": NAMESPACE,
        "ResourceId": resource_id(endpoint, variant),
        "ScalableDimension": DIMENSION,
    }
    while True:
        page = autoscaling.describe_scaling_policies(**kwargs)
        policies.extend(page["ScalingPolicies"])
        if not page.get("NextToken"):
            return policies
        kwargs["NextToken"] = page["NextToken"]


def _step_alarms(cloudwatch: Any, policy_arn: str) -> list[dict[str, Any]]:
    """The alarms that act on a step scaling policy: those naming its ARN among their actions."""
    alarms: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"ActionPrefix": policy_arn, "AlarmTypes": ["MetricAlarm"]}
    while True:
        page = cloudwatch.describe_alarms(**kwargs)
        alarms.extend(
            {key: alarm[key] for key in ALARM_FIELDS if key in alarm}
            for alarm in page.get("MetricAlarms", [])
            if policy_arn in alarm.get("AlarmActions", [])
        )
        if not page.get("NextToken"):
            return alarms
        kwargs["NextToken"] = page["NextToken"]


def read_scaling(autoscaling: Any, cloudwatch: Any, endpoint: str, variant: str) -> Scaling | None:
    target = _target(autoscaling, endpoint, variant)
    if target is None:
        return None
    policies = []
    for policy in _policies(autoscaling, endpoint, variant):
        kept = {
            key: policy[key]
            for key in ("PolicyName", "PolicyType", "PolicyARN", *POLICY_CONFIGURATIONS)
            if key in policy
        }
        if policy["PolicyType"] == "StepScaling":
            kept["StepAlarms"] = _step_alarms(cloudwatch, policy["PolicyARN"])
        policies.append(kept)
    return Scaling(variant, int(target["MinCapacity"]), int(target["MaxCapacity"]), policies)


def apply_scaling(
    autoscaling: Any, cloudwatch: Any, endpoint: str, scaling: Scaling, variant: str, suspended: dict[str, bool]
) -> str:
    """Register `variant` with `scaling` (another variant's, or its own as it was), its policies and step alarms."""
    autoscaling.register_scalable_target(
        ServiceNamespace=NAMESPACE,
        ResourceId=resource_id(endpoint, variant),
        ScalableDimension=DIMENSION,
        MinCapacity=scaling.min_capacity,
        MaxCapacity=scaling.max_capacity,
        SuspendedState=suspended,
    )
    for policy in scaling.policies:
        configuration = {
            key: _rewritten(policy[key], scaling.variant, variant) for key in POLICY_CONFIGURATIONS if key in policy
        }
        made = autoscaling.put_scaling_policy(
            PolicyName=policy["PolicyName"],
            ServiceNamespace=NAMESPACE,
            ResourceId=resource_id(endpoint, variant),
            ScalableDimension=DIMENSION,
            PolicyType=policy["PolicyType"],
            **configuration,
        )
        for alarm in policy.get("StepAlarms", []):
            copy = _rewritten(alarm, scaling.variant, variant)
            copy["AlarmName"] = (
                alarm["AlarmName"]
                if variant == scaling.variant
                else alarm_name_for(alarm["AlarmName"], scaling.variant, variant)
            )
            copy["AlarmActions"] = [
                made["PolicyARN"] if action == policy.get("PolicyARN") else action
                for action in alarm.get("AlarmActions", [])
            ]
            cloudwatch.put_metric_alarm(**copy)
    bounds = f"{scaling.min_capacity}-{scaling.max_capacity}"
    return f"variant {variant} scales {bounds} like {scaling.variant} ({len(scaling.policies)} policies)"


def remove_scaling(autoscaling: Any, cloudwatch: Any, endpoint: str, scaling: Scaling) -> None:
    """Delete the variant's policies (and the step alarms that act only on them), then deregister it."""
    for policy in scaling.policies:
        autoscaling.delete_scaling_policy(
            PolicyName=policy["PolicyName"],
            ServiceNamespace=NAMESPACE,
            ResourceId=resource_id(endpoint, scaling.variant),
            ScalableDimension=DIMENSION,
        )
        alone = [
            alarm["AlarmName"]
            for alarm in policy.get("StepAlarms", [])
            if set(alarm.get("AlarmActions", [])) == {policy.get("PolicyARN")}
        ]
        if alone:
            cloudwatch.delete_alarms(AlarmNames=alone)
    autoscaling.deregister_scalable_target(
        ServiceNamespace=NAMESPACE, ResourceId=resource_id(endpoint, scaling.variant), ScalableDimension=DIMENSION
    )


@dataclass
class Record:
    """What one execution changed: each variant's SuspendedState before, and the scaling it carries across."""

    execution_arn: str
    suspended_before: dict[str, dict[str, bool]] = field(default_factory=dict)
    carried: dict[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def read(cls, ledger: Ledger, endpoint: str) -> Record | None:
        item = ledger.get(f"ENDPOINT#{endpoint}", SCALING_SK)
        if not item:
            return None
        return cls(
            str(item["execution_arn"]),
            json.loads(str(item.get("suspended_before", "{}"))),
            json.loads(str(item.get("carried", "{}"))),
        )

    def write(self, ledger: Ledger, endpoint: str) -> None:
        ledger.put(
            f"ENDPOINT#{endpoint}",
            SCALING_SK,
            kind="scaling",
            execution_arn=self.execution_arn,
            suspended_before=json.dumps(self.suspended_before, sort_keys=True),
            carried=json.dumps(self.carried, sort_keys=True),
            updated_at=now_iso(),
        )


def _taken_over(ledger: Ledger, endpoint: str, execution_arn: str) -> Record:
    """This execution's record; one left by an execution that never restored is inherited, not forgotten."""
    record = Record.read(ledger, endpoint) or Record(execution_arn)
    record.execution_arn = execution_arn
    return record


def _suspend(autoscaling: Any, ledger: Ledger, endpoint: str, variants: Iterable[str], record: Record) -> list[str]:
    found = {variant: _target(autoscaling, endpoint, variant) for variant in variants}
    targets = {variant: target for variant, target in found.items() if target is not None}
    for variant, target in targets.items():
        record.suspended_before.setdefault(variant, _state_of(target))
    record.write(ledger, endpoint)  # before anything changes
    for variant, target in targets.items():
        if _state_of(target) != SUSPENDED:
            autoscaling.register_scalable_target(
                ServiceNamespace=NAMESPACE,
                ResourceId=resource_id(endpoint, variant),
                ScalableDimension=DIMENSION,
                SuspendedState=SUSPENDED,
            )
    return sorted(targets)


def _changed(before: dict[str, Any] | None, after: dict[str, Any] | None) -> bool:
    if before is None or after is None:
        return True
    return any(before.get(key) != after.get(key) for key in PLACEMENT)


def prepare_update(
    autoscaling: Any,
    cloudwatch: Any,
    ledger: Ledger,
    endpoint: str,
    current_variants: list[dict[str, Any]],
    new_variants: list[dict[str, Any]],
    execution_arn: str,
) -> str:
    """Before an update to `new_variants`: scaling suspended, and retired from each variant it drops or moves."""
    record = _taken_over(ledger, endpoint, execution_arn)
    present = [variant["VariantName"] for variant in current_variants]
    suspended = _suspend(autoscaling, ledger, endpoint, present, record)
    after = {variant["VariantName"]: variant for variant in new_variants}
    before = {variant["VariantName"]: variant for variant in current_variants}
    retired = []
    for name in present:
        if name in after and not _changed(before.get(name), after[name]):
            continue
        scaling = read_scaling(autoscaling, cloudwatch, endpoint, name)
        if scaling is None:
            continue
        record.carried[name] = scaling.as_json()
        record.write(ledger, endpoint)  # kept before it is removed
        remove_scaling(autoscaling, cloudwatch, endpoint, scaling)
        retired.append(name)
    return f"suspended {suspended or 'nothing'}; retired {retired or 'nothing'} before the update"


def suspend_scaling(autoscaling: Any, ledger: Ledger, endpoint: str, variants: list[str], execution_arn: str) -> str:
    record = _taken_over(ledger, endpoint, execution_arn)
    suspended = _suspend(autoscaling, ledger, endpoint, variants, record)
    return f"suspended {suspended or 'nothing'}"


def copy_scaling(
    autoscaling: Any, cloudwatch: Any, ledger: Ledger, endpoint: str, live: str, candidate: str, execution_arn: str
) -> str:
    """The candidate scales like the live variant (suspended like it, for now) before it takes traffic."""
    scaling = read_scaling(autoscaling, cloudwatch, endpoint, live)
    if scaling is None:
        return f"variant {live} does not autoscale"
    record = _taken_over(ledger, endpoint, execution_arn)
    record.suspended_before.setdefault(candidate, record.suspended_before.get(live, RESUMED))
    record.write(ledger, endpoint)
    state = _target(autoscaling, endpoint, live) or {}
    return apply_scaling(autoscaling, cloudwatch, endpoint, scaling, candidate, _state_of(state))


def _serving(variants: list[dict[str, Any]]) -> str | None:
    """The variant taking the traffic: the heaviest current weight (ties: the first)."""
    if not variants:
        return None
    return str(max(variants, key=lambda v: (float(v.get("CurrentWeight", 1.0)), -variants.index(v)))["VariantName"])


def restore_scaling(
    autoscaling: Any, cloudwatch: Any, ledger: Ledger, endpoint: str, variants: list[dict[str, Any]], execution_arn: str
) -> str:
    """On every ending: scaling carried across an update registered again, and everything resumed as it was.

    A carried variant still on the endpoint (the update failed) gets its own scaling back; the variant taking
    the traffic, if it has none, gets the scaling of the variant it replaced. Nothing is registered for a
    variant that is gone.
    """
    record = Record.read(ledger, endpoint)
    if record is None or record.execution_arn != execution_arn:
        return "nothing to restore"
    present = {variant["VariantName"] for variant in variants}
    serving = _serving(variants)
    done = []
    for name, carried in sorted(record.carried.items()):
        scaling = Scaling.from_json(carried)
        if name in present and _target(autoscaling, endpoint, name) is None:
            apply_scaling(autoscaling, cloudwatch, endpoint, scaling, name, SUSPENDED)
            done.append(f"{name} registered again")
    gone = [Scaling.from_json(carried) for name, carried in sorted(record.carried.items()) if name not in present]
    if serving and gone and _target(autoscaling, endpoint, serving) is None:
        scaling = gone[0]
        record.suspended_before.setdefault(serving, record.suspended_before.get(scaling.variant, RESUMED))
        record.write(ledger, endpoint)
        done.append(apply_scaling(autoscaling, cloudwatch, endpoint, scaling, serving, SUSPENDED))
    for name, before in sorted(record.suspended_before.items()):
        target = _target(autoscaling, endpoint, name) if name in present else None
        if target is not None and _state_of(target) != before:
            autoscaling.register_scalable_target(
                ServiceNamespace=NAMESPACE,
                ResourceId=resource_id(endpoint, name),
                ScalableDimension=DIMENSION,
                SuspendedState=before,
            )
            done.append(f"{name} resumed")
    Record(execution_arn).write(ledger, endpoint)  # restored: nothing left to put back
    return "; ".join(done) or "nothing to restore"
