"""Autoscaling across endpoint changes (functions/mlops/scaling.py) against moto's Application Auto Scaling,
CloudWatch and DynamoDB: what is retired before an update, put back after it, and resumed on every ending."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from mlops import scaling
from mlops.ledger import Ledger

ENDPOINT = "churn-endpoint"
EXECUTION = "arn:aws:states:us-east-1:123456789012:execution:churn-deploy:one"
OTHER_EXECUTION = "arn:aws:states:us-east-1:123456789012:execution:churn-rollback:two"
DIMENSION = "sagemaker:variant:DesiredInstanceCount"
STEP_CONFIGURATION = {
    "AdjustmentType": "ChangeInCapacity",
    "StepAdjustments": [{"MetricIntervalLowerBound": 0.0, "ScalingAdjustment": 1}],
    "Cooldown": 60,
}
CUSTOM_METRIC = {
    "TargetValue": 5.0,
    "CustomizedMetricSpecification": {
        "MetricName": "ModelLatency",
        "Namespace": "AWS/SageMaker",
        "Dimensions": [{"Name": "EndpointName", "Value": ENDPOINT}, {"Name": "VariantName", "Value": "Blue"}],
        "Statistic": "Average",
    },
}


class Clients:
    def __init__(self) -> None:
        self.autoscaling = boto3.client("application-autoscaling", region_name="us-east-1")
        self.cloudwatch = boto3.client("cloudwatch", region_name="us-east-1")
        dynamodb = boto3.client("dynamodb", region_name="us-east-1")
        dynamodb.create_table(
            TableName="ledger",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        self.ledger = Ledger(dynamodb, "ledger")

    def register(self, variant: str, suspended: dict[str, bool] | None = None) -> None:
        """The user's scaling: 2-8 instances, a target tracking policy on a custom metric and a step policy
        whose alarm watches the variant's latency."""
        resource = scaling.resource_id(ENDPOINT, variant)
        self.autoscaling.register_scalable_target(
            ServiceNamespace="sagemaker",
            ResourceId=resource,
            ScalableDimension=DIMENSION,
            MinCapacity=2,
            MaxCapacity=8,
            **({"SuspendedState": suspended} if suspended else {}),
        )
        self.autoscaling.put_scaling_policy(
            PolicyName="latency-target",
            ServiceNamespace="sagemaker",
            ResourceId=resource,
            ScalableDimension=DIMENSION,
            PolicyType="TargetTrackingScaling",
            TargetTrackingScalingPolicyConfiguration=json.loads(json.dumps(CUSTOM_METRIC).replace("Blue", variant)),
        )
        step = self.autoscaling.put_scaling_policy(
            PolicyName="burst",
            ServiceNamespace="sagemaker",
            ResourceId=resource,
            ScalableDimension=DIMENSION,
            PolicyType="StepScaling",
            StepScalingPolicyConfiguration=STEP_CONFIGURATION,
        )
        self.cloudwatch.put_metric_alarm(
            AlarmName=f"churn-burst-{variant}",
            MetricName="Invocations",
            Namespace="AWS/SageMaker",
            Dimensions=[{"Name": "EndpointName", "Value": ENDPOINT}, {"Name": "VariantName", "Value": variant}],
            Statistic="Sum",
            Period=60,
            EvaluationPeriods=1,
            Threshold=1000.0,
            ComparisonOperator="GreaterThanThreshold",
            AlarmActions=[step["PolicyARN"]],
        )

    def targets(self) -> dict[str, dict[str, Any]]:
        found = self.autoscaling.describe_scalable_targets(ServiceNamespace="sagemaker")["ScalableTargets"]
        return {target["ResourceId"].rsplit("/", 1)[-1]: target for target in found}

    def policies(self, variant: str) -> dict[str, dict[str, Any]]:
        found = self.autoscaling.describe_scaling_policies(
            ServiceNamespace="sagemaker", ResourceId=scaling.resource_id(ENDPOINT, variant)
        )["ScalingPolicies"]
        return {policy["PolicyName"]: policy for policy in found}

    def step_alarms(self) -> dict[str, dict[str, Any]]:
        alarms = self.cloudwatch.describe_alarms(AlarmNamePrefix="churn-burst")["MetricAlarms"]
        return {alarm["AlarmName"]: alarm for alarm in alarms}


@pytest.fixture
def aws() -> Iterator[Clients]:
    with mock_aws():
        yield Clients()


def variants(*names: str, instance_type: str = "ml.m5.large") -> list[dict[str, Any]]:
    return [{"VariantName": name, "ModelName": f"model-{name}", "InstanceType": instance_type} for name in names]


def serving(**weights: float) -> list[dict[str, Any]]:
    return [{"VariantName": name, "CurrentWeight": weight} for name, weight in weights.items()]


def variant_of(alarm: dict[str, Any]) -> str:
    return next(d["Value"] for d in alarm["Dimensions"] if d["Name"] == "VariantName")


def test_the_candidate_scales_like_the_live_variant_with_its_own_step_alarm(aws: Clients) -> None:
    aws.register("Blue")

    scaling.copy_scaling(aws.autoscaling, aws.cloudwatch, aws.ledger, ENDPOINT, "Blue", "Green", EXECUTION)

    green = aws.policies("Green")
    assert (aws.targets()["Green"]["MinCapacity"], aws.targets()["Green"]["MaxCapacity"]) == (2, 8)
    custom = green["latency-target"]["TargetTrackingScalingPolicyConfiguration"]["CustomizedMetricSpecification"]
    assert {"Name": "VariantName", "Value": "Green"} in custom["Dimensions"]
    alarms = aws.step_alarms()
    assert set(alarms) == {"churn-burst-Blue", "churn-burst-Green"}
    assert variant_of(alarms["churn-burst-Green"]) == "Green"
    assert alarms["churn-burst-Green"]["AlarmActions"] == [green["burst"]["PolicyARN"]]
    assert alarms["churn-burst-Blue"]["AlarmActions"] == [aws.policies("Blue")["burst"]["PolicyARN"]]


def test_an_update_that_drops_a_scaled_variant_retires_it_first_and_the_serving_variant_gets_it_after(
    aws: Clients,
) -> None:
    aws.register("Green")

    scaling.prepare_update(
        aws.autoscaling, aws.cloudwatch, aws.ledger, ENDPOINT, variants("Green"), variants("Blue"), EXECUTION
    )
    assert aws.targets() == {} and aws.policies("Green") == {} and aws.step_alarms() == {}

    scaling.restore_scaling(aws.autoscaling, aws.cloudwatch, aws.ledger, ENDPOINT, serving(Blue=1.0), EXECUTION)

    assert set(aws.targets()) == {"Blue"}
    assert (aws.targets()["Blue"]["MinCapacity"], aws.targets()["Blue"]["MaxCapacity"]) == (2, 8)
    assert aws.targets()["Blue"]["SuspendedState"] == scaling.RESUMED
    assert set(aws.policies("Blue")) == {"latency-target", "burst"}
    [alarm] = aws.step_alarms().values()
    assert (alarm["AlarmName"], variant_of(alarm)) == ("churn-burst-Blue", "Blue")
    assert alarm["AlarmActions"] == [aws.policies("Blue")["burst"]["PolicyARN"]]


def test_an_instance_type_change_retires_the_variant_too_and_it_gets_its_own_scaling_back(aws: Clients) -> None:
    aws.register("Blue")

    scaling.prepare_update(
        aws.autoscaling,
        aws.cloudwatch,
        aws.ledger,
        ENDPOINT,
        variants("Blue"),
        variants("Blue", instance_type="ml.c5.xlarge"),
        EXECUTION,
    )
    assert aws.targets() == {}

    scaling.restore_scaling(aws.autoscaling, aws.cloudwatch, aws.ledger, ENDPOINT, serving(Blue=1.0), EXECUTION)
    assert set(aws.targets()) == {"Blue"} and set(aws.policies("Blue")) == {"latency-target", "burst"}
    assert set(aws.step_alarms()) == {"churn-burst-Blue"}


def test_an_update_that_keeps_the_scaled_variant_only_suspends_it_until_the_end(aws: Clients) -> None:
    aws.register("Blue", suspended={"ScheduledScalingSuspended": True})  # the user's own choice, kept

    scaling.prepare_update(
        aws.autoscaling, aws.cloudwatch, aws.ledger, ENDPOINT, variants("Blue"), variants("Blue", "Green"), EXECUTION
    )
    assert aws.targets()["Blue"]["SuspendedState"] == scaling.SUSPENDED
    assert set(aws.policies("Blue")) == {"latency-target", "burst"}

    scaling.restore_scaling(
        aws.autoscaling, aws.cloudwatch, aws.ledger, ENDPOINT, serving(Blue=1.0, Green=0.0), EXECUTION
    )
    assert aws.targets()["Blue"]["SuspendedState"] == {**scaling.RESUMED, "ScheduledScalingSuspended": True}


def test_a_failed_update_gives_the_variant_still_there_its_own_scaling_back(aws: Clients) -> None:
    aws.register("Blue")
    scaling.copy_scaling(aws.autoscaling, aws.cloudwatch, aws.ledger, ENDPOINT, "Blue", "Green", EXECUTION)
    scaling.prepare_update(  # the promotion removes Blue ...
        aws.autoscaling,
        aws.cloudwatch,
        aws.ledger,
        ENDPOINT,
        variants("Blue", "Green"),
        variants("Green"),
        EXECUTION,
    )
    assert set(aws.targets()) == {"Green"}

    # ... but SageMaker could not make the change: both variants are still there
    scaling.restore_scaling(
        aws.autoscaling, aws.cloudwatch, aws.ledger, ENDPOINT, serving(Blue=0.0, Green=1.0), EXECUTION
    )

    assert set(aws.targets()) == {"Blue", "Green"}
    assert all(target["SuspendedState"] == scaling.RESUMED for target in aws.targets().values())
    assert set(aws.step_alarms()) == {"churn-burst-Blue", "churn-burst-Green"}


def test_what_an_execution_left_suspended_is_inherited_by_the_next_and_put_back_as_the_user_had_it(
    aws: Clients,
) -> None:
    aws.register("Blue")
    scaling.prepare_update(
        aws.autoscaling, aws.cloudwatch, aws.ledger, ENDPOINT, variants("Blue"), variants("Blue", "Green"), EXECUTION
    )  # ... and that execution never ended (stopped by hand)

    assert "nothing" in scaling.restore_scaling(
        aws.autoscaling, aws.cloudwatch, aws.ledger, ENDPOINT, serving(Blue=1.0), OTHER_EXECUTION
    )
    assert aws.targets()["Blue"]["SuspendedState"] == scaling.SUSPENDED  # not another execution's to resume

    scaling.prepare_update(
        aws.autoscaling, aws.cloudwatch, aws.ledger, ENDPOINT, variants("Blue"), variants("Blue"), OTHER_EXECUTION
    )
    scaling.restore_scaling(aws.autoscaling, aws.cloudwatch, aws.ledger, ENDPOINT, serving(Blue=1.0), OTHER_EXECUTION)
    assert aws.targets()["Blue"]["SuspendedState"] == scaling.RESUMED


def test_restoring_twice_changes_nothing_more(aws: Clients) -> None:
    aws.register("Green")
    scaling.prepare_update(
        aws.autoscaling, aws.cloudwatch, aws.ledger, ENDPOINT, variants("Green"), variants("Blue"), EXECUTION
    )
    scaling.restore_scaling(aws.autoscaling, aws.cloudwatch, aws.ledger, ENDPOINT, serving(Blue=1.0), EXECUTION)
    before = (aws.targets(), aws.policies("Blue"), aws.step_alarms())

    assert scaling.restore_scaling(
        aws.autoscaling, aws.cloudwatch, aws.ledger, ENDPOINT, serving(Blue=1.0), EXECUTION
    ) == ("nothing to restore")
    assert (aws.targets(), aws.policies("Blue"), aws.step_alarms()) == before


def test_a_retried_prepare_keeps_what_the_first_try_saved(aws: Clients) -> None:
    aws.register("Green")
    for _ in range(2):  # the second try finds Green already retired: the record keeps the first's copy
        scaling.prepare_update(
            aws.autoscaling, aws.cloudwatch, aws.ledger, ENDPOINT, variants("Green"), variants("Blue"), EXECUTION
        )
    scaling.restore_scaling(aws.autoscaling, aws.cloudwatch, aws.ledger, ENDPOINT, serving(Blue=1.0), EXECUTION)
    assert set(aws.policies("Blue")) == {"latency-target", "burst"}
    assert aws.targets()["Blue"]["SuspendedState"] == scaling.RESUMED


@pytest.mark.parametrize(
    ("name", "copy"),
    [("churn-burst-Blue", "churn-burst-Green"), ("scale-out", "scale-out-Green"), ("Blue-x-Blue", "Blue-x-Green")],
)
def test_an_alarm_copy_is_named_for_its_variant_without_growing(name: str, copy: str) -> None:
    assert scaling.alarm_name_for(name, "Blue", "Green") == copy
    assert scaling.alarm_name_for(copy, "Green", "Blue").count("Green") == 0
