"""Deployments and rollbacks of an endpoint whose live variant autoscales, in the sandbox that enforces what
SageMaker and Application Auto Scaling do: an autoscaled variant cannot be removed, an update resets capacity
unless it is retained, registering a target moves capacity, and a change is refused while another is under way.

The live variant runs at least 2 instances (its scalable target's minimum), above the stack's InstanceCount (1);
it scales by target tracking and by a step policy whose CloudWatch alarm watches the variant.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from typing import Any

from sandbox.core import Sandbox
from sandbox.world import register_version, seed_world
from tests.conftest import SandboxWorld
from tests.test_canary import approve, run_of, wait_for_bake
from tests.test_rollback import start_rollback

DIMENSION = "sagemaker:variant:DesiredInstanceCount"
STEP = {
    "AdjustmentType": "ChangeInCapacity",
    "StepAdjustments": [{"MetricIntervalLowerBound": 0.0, "ScalingAdjustment": 2}],
    "Cooldown": 300,
}


def resource(churn: SandboxWorld, variant: str) -> str:
    return f"endpoint/{churn.stack.endpoint_name}/variant/{variant}"


def autoscale(churn: SandboxWorld, variant: str) -> None:
    """The user's scaling of the live variant: 2-8 instances, target tracking and a step policy with its alarm."""
    autoscaling = churn.client("application-autoscaling")
    autoscaling.register_scalable_target(
        ServiceNamespace="sagemaker",
        ResourceId=resource(churn, variant),
        ScalableDimension=DIMENSION,
        MinCapacity=2,
        MaxCapacity=8,
    )
    autoscaling.put_scaling_policy(
        PolicyName="invocations-per-instance",
        ServiceNamespace="sagemaker",
        ResourceId=resource(churn, variant),
        ScalableDimension=DIMENSION,
        PolicyType="TargetTrackingScaling",
        TargetTrackingScalingPolicyConfiguration={
            "TargetValue": 70.0,
            "PredefinedMetricSpecification": {"PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"},
        },
    )
    step = autoscaling.put_scaling_policy(
        PolicyName="burst",
        ServiceNamespace="sagemaker",
        ResourceId=resource(churn, variant),
        ScalableDimension=DIMENSION,
        PolicyType="StepScaling",
        StepScalingPolicyConfiguration=STEP,
    )
    churn.client("cloudwatch").put_metric_alarm(
        AlarmName=f"churn-burst-{variant}",
        MetricName="Invocations",
        Namespace="AWS/SageMaker",
        Dimensions=[
            {"Name": "EndpointName", "Value": churn.stack.endpoint_name},
            {"Name": "VariantName", "Value": variant},
        ],
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=5000.0,
        ComparisonOperator="GreaterThanThreshold",
        AlarmActions=[step["PolicyARN"]],
    )
    churn.sandbox.settle()  # registering the target brought the variant up to its minimum


def endpoint(churn: SandboxWorld) -> dict[str, Any]:
    return dict(churn.client("sagemaker").describe_endpoint(EndpointName=churn.stack.endpoint_name))


def serving_variant(churn: SandboxWorld) -> dict[str, Any]:
    variants = endpoint(churn)["ProductionVariants"]
    return dict(max(variants, key=lambda v: v["CurrentWeight"]))


@contextlib.contextmanager
def serving_capacity(churn: SandboxWorld) -> Iterator[list[int]]:
    """Samples, while the block runs, of how many instances the variant taking the traffic has."""
    samples: list[int] = []
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            samples.append(int(serving_variant(churn)["CurrentInstanceCount"]))
            time.sleep(0.01)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        yield samples
    finally:
        done.set()
        sampler.join()


def scaling_of(churn: SandboxWorld) -> dict[str, dict[str, Any]]:
    """Each registered variant: its bounds, suspended state, policies and the step alarms acting on them."""
    autoscaling = churn.client("application-autoscaling")
    cloudwatch = churn.client("cloudwatch")
    found = {}
    for target in autoscaling.describe_scalable_targets(ServiceNamespace="sagemaker")["ScalableTargets"]:
        variant = target["ResourceId"].rsplit("/", 1)[-1]
        policies = autoscaling.describe_scaling_policies(ServiceNamespace="sagemaker", ResourceId=target["ResourceId"])[
            "ScalingPolicies"
        ]
        step = [p for p in policies if p["PolicyType"] == "StepScaling"]
        alarms = cloudwatch.describe_alarms(ActionPrefix=step[0]["PolicyARN"])["MetricAlarms"] if step else []
        found[variant] = {
            "bounds": (target["MinCapacity"], target["MaxCapacity"]),
            "suspended": any((target.get("SuspendedState") or {}).values()),
            "policies": sorted(p["PolicyName"] for p in policies),
            "alarm_variants": sorted(
                d["Value"] for alarm in alarms for d in alarm["Dimensions"] if d["Name"] == "VariantName"
            ),
        }
    return found


def scaled_like_the_user_asked(variant: str) -> dict[str, dict[str, Any]]:
    return {
        variant: {
            "bounds": (2, 8),
            "suspended": False,
            "policies": ["burst", "invocations-per-instance"],
            "alarm_variants": [variant],
        }
    }


def test_a_promoted_canary_leaves_the_new_version_scaled_as_the_old_one_was(churn: SandboxWorld) -> None:
    autoscale(churn, "Blue")
    assert serving_variant(churn)["CurrentInstanceCount"] == 2

    with serving_capacity(churn) as capacity:
        approve(churn, churn.world.pending_version_arn)
        churn.sandbox.settle()

    assert run_of(churn, 2)["status"] == "SUCCEEDED", run_of(churn, 2).get("cause")
    assert churn.live_model_package() == churn.world.pending_version_arn
    assert [v["VariantName"] for v in endpoint(churn)["ProductionVariants"]] == ["Green"]
    assert serving_variant(churn)["CurrentInstanceCount"] >= 2
    assert min(capacity) >= 2, capacity
    assert scaling_of(churn) == scaled_like_the_user_asked("Green")
    assert [
        a["AlarmName"]
        for a in churn.client("cloudwatch").describe_alarms(AlarmNamePrefix="churn-burst")["MetricAlarms"]
    ] == ["churn-burst-Green"]


def test_a_guard_alarm_while_autoscaling_acts_rolls_back_onto_the_scaled_live_variant(
    watched_churn: SandboxWorld,
) -> None:
    churn = watched_churn
    autoscale(churn, "Blue")

    with serving_capacity(churn) as capacity:
        approve(churn, churn.world.pending_version_arn)
        bake = wait_for_bake(churn, 10)
        # a scaling activity already under way (started before the deployment suspended scaling) ...
        assert churn.sandbox.autoscale(churn.stack.endpoint_name, "Blue", 3, under_way=True)
        # ... when the candidate's guard alarm fires
        churn.client("cloudwatch").set_alarm_state(
            AlarmName=f"churn-canary-5xx-{bake['candidate_variant']}", StateValue="ALARM", StateReason="5XX"
        )
        churn.sandbox.settle()

    run = run_of(churn, 2)
    assert (run["status"], run.get("error")) == ("FAILED", "RolledBack"), run.get("cause")
    assert churn.live_model_package() == churn.world.live_version_arn
    assert [v["VariantName"] for v in endpoint(churn)["ProductionVariants"]] == ["Blue"]
    assert serving_variant(churn)["CurrentInstanceCount"] >= 2
    assert min(capacity) >= 2, capacity
    assert scaling_of(churn) == scaled_like_the_user_asked("Blue")
    candidate = churn.client("sagemaker").describe_model_package(ModelPackageName=churn.world.pending_version_arn)
    assert candidate["ModelApprovalStatus"] == "Rejected"


def test_a_manual_rollback_puts_the_scaling_on_the_restored_variant(churn: SandboxWorld) -> None:
    autoscale(churn, "Blue")
    approve(churn, churn.world.pending_version_arn)
    churn.sandbox.settle()
    assert scaling_of(churn) == scaled_like_the_user_asked("Green")

    with serving_capacity(churn) as capacity:
        run = start_rollback(churn, "back-to-v1", {"Reason": "a customer complaint"})

    assert run["status"] == "SUCCEEDED", run.get("cause")
    assert churn.live_model_package() == churn.world.live_version_arn
    [restored] = endpoint(churn)["ProductionVariants"]
    assert restored["CurrentInstanceCount"] >= 2
    assert min(capacity) >= 2, capacity
    assert scaling_of(churn) == scaled_like_the_user_asked(restored["VariantName"])


def test_a_restore_of_a_named_version_keeps_capacity_and_scaling(churn: SandboxWorld) -> None:
    autoscale(churn, "Blue")
    approve(churn, churn.world.pending_version_arn)
    churn.sandbox.settle()

    with serving_capacity(churn) as capacity:
        run = start_rollback(churn, "restore-v1", {"ModelPackageArn": churn.world.live_version_arn})

    assert run["status"] == "SUCCEEDED", run.get("cause")
    assert churn.live_model_package() == churn.world.live_version_arn
    [restored] = endpoint(churn)["ProductionVariants"]
    assert restored["CurrentInstanceCount"] >= 2 and min(capacity) >= 2, capacity
    assert scaling_of(churn) == scaled_like_the_user_asked(restored["VariantName"])


def test_the_live_variant_keeps_its_settings_and_the_config_its_volume_key_through_a_canary(sandbox: Sandbox) -> None:
    stack = sandbox.deploy_stack("churn", BakeSeconds="60", RetentionSeconds="60", MinCandidateInvocations="0")
    sagemaker = sandbox.client("sagemaker")
    sagemaker.create_model_package_group(ModelPackageGroupName=stack.model_package_group)
    hand_made = register_version(sandbox, stack, 1, "PendingManualApproval")
    sagemaker.create_model(
        ModelName="hand-made",
        ExecutionRoleArn=stack.parameters["SageMakerExecutionRoleArn"],
        Containers=[{"ModelPackageName": hand_made}],
    )
    tuned = {  # settings of the user's own, which a clone must not drop
        "VolumeSizeInGB": 64,
        "ModelDataDownloadTimeoutInSeconds": 1200,
        "ContainerStartupHealthCheckTimeoutInSeconds": 600,
    }
    key = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    sagemaker.create_endpoint_config(
        EndpointConfigName="hand-made",
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": "hand-made",
                "InstanceType": "ml.m5.large",
                "InitialInstanceCount": 1,
                **tuned,
            }
        ],
        KmsKeyId=key,
    )
    sagemaker.create_endpoint(EndpointName=stack.endpoint_name, EndpointConfigName="hand-made")
    sandbox.settle()

    register_version(sandbox, stack, 2, "Approved")
    sandbox.settle()

    [run] = sandbox.client("stepfunctions").list_executions(stateMachineArn=stack.deploy_state_machine_arn)[
        "executions"
    ]
    assert run["status"] == "SUCCEEDED"
    configs = [c["EndpointConfigName"] for c in sagemaker.list_endpoint_configs(MaxResults=100)["EndpointConfigs"]]
    [canary_config] = [name for name in configs if name.startswith("churn-v2-") and not name.endswith("-solo")]
    described = sagemaker.describe_endpoint_config(EndpointConfigName=canary_config)
    [live] = [v for v in described["ProductionVariants"] if v["VariantName"] == "AllTraffic"]
    assert {name: live.get(name) for name in tuned} == tuned
    assert described.get("KmsKeyId") == key
    solo = sagemaker.describe_endpoint_config(EndpointConfigName=f"{canary_config}-solo")
    assert solo.get("KmsKeyId") == key


def test_an_isolated_stack_refuses_a_version_whose_code_is_on_s3_and_serves_one_that_carries_it(
    sandbox: Sandbox,
) -> None:
    stack = sandbox.deploy_stack(
        "churn", BakeSeconds="60", RetentionSeconds="60", MinCandidateInvocations="0", EnableNetworkIsolation="true"
    )
    world = seed_world(sandbox, stack)  # v1 (code in its artifact) went live through the isolated stack
    assert world.live_version_arn
    sagemaker = sandbox.client("sagemaker")
    package = sagemaker.describe_model_package(ModelPackageName=world.pending_version_arn)
    container = dict(package["InferenceSpecification"]["Containers"][0])
    bucket = stack.outputs["ArtifactBucketName"]
    container["Environment"] = {
        **container.get("Environment", {}),
        "SAGEMAKER_SUBMIT_DIRECTORY": f"s3://{bucket}/pipeline/code/sourcedir.tar.gz",  # as older pipelines did
    }
    old_style = sagemaker.create_model_package(
        ModelPackageGroupName=stack.model_package_group,
        InferenceSpecification={**package["InferenceSpecification"], "Containers": [container]},
        ModelApprovalStatus="Approved",
    )["ModelPackageArn"]
    sandbox.settle()

    runs = sandbox.client("stepfunctions").list_executions(stateMachineArn=stack.deploy_state_machine_arn)
    [run] = [r for r in runs["executions"] if r["name"].startswith(f"approved-v{old_style.rsplit('/', 1)[-1]}-")]
    described = sandbox.client("stepfunctions").describe_execution(executionArn=run["executionArn"])
    assert (described["status"], described.get("error")) == ("FAILED", "CannotServe"), described.get("cause")
    assert "network isolation" in described["cause"] and "sourcedir.tar.gz" in described["cause"]
    endpoint = sagemaker.describe_endpoint(EndpointName=stack.endpoint_name)
    served = sagemaker.describe_endpoint_config(EndpointConfigName=endpoint["EndpointConfigName"])
    assert len(served["ProductionVariants"]) == 1  # nothing was changed

    approve_arn = world.pending_version_arn
    sagemaker.update_model_package(ModelPackageArn=approve_arn, ModelApprovalStatus="Approved")
    sandbox.settle()
    answer = sandbox.client("sagemaker-runtime").invoke_endpoint(
        EndpointName=stack.endpoint_name,
        ContentType="text/csv",
        Body=b"2,110.0,6,3.0,month-to-month,electronic-check,under-65",
    )
    assert float(answer["Body"].read().decode().strip().split(",")[0]) >= 0.0
