"""Deploy by canary in the sandbox: steps, promotion, guard alarms, rollback, the endpoint lock."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any

from sandbox.core import Sandbox
from sandbox.world import register_version
from tests.conftest import SandboxWorld


def ledger_item(churn: SandboxWorld, sk_prefix: str) -> list[dict[str, Any]]:
    return [e for e in churn.ledger(f"ENDPOINT#{churn.stack.endpoint_name}") if e["sk"].startswith(sk_prefix)]


def wait_for_bake(churn: SandboxWorld, percent: int, timeout: float = 30) -> dict[str, Any]:
    """The bake at `percent`, caught in the first half of its 3 s (so enough of it is still ahead)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for bake in ledger_item(churn, "BAKE"):
            started = datetime.fromisoformat(str(bake["started_at"]).replace("Z", "+00:00"))
            fresh = (datetime.now(UTC) - started).total_seconds() < 1.5
            if bake.get("percent") == percent and not bake.get("completed_at") and fresh:
                return bake
        time.sleep(0.05)  # (a tighter loop takes the interpreter from the workflows it waits for)
    raise AssertionError(f"no bake at {percent}%")


def run_of(churn: SandboxWorld, version: int) -> dict[str, Any]:
    [run] = [e for e in churn.executions() if e["name"].startswith(f"approved-v{version}-")]
    return run


def endpoint_weights(churn: SandboxWorld) -> dict[str, float]:
    endpoint = churn.client("sagemaker").describe_endpoint(EndpointName=churn.stack.endpoint_name)
    return {v["VariantName"]: v["CurrentWeight"] for v in endpoint["ProductionVariants"]}


def wait_for_waiter(churn: SandboxWorld, version: int, timeout: float = 10) -> None:
    """Until the endpoint lock names `version` as the deployment waiting for it."""
    deadline = time.monotonic() + timeout
    while not (ledger_item(churn, "LOCK") and ledger_item(churn, "LOCK")[0].get("waiter_version") == version):
        assert time.monotonic() < deadline, f"version {version} never waited"
        time.sleep(0.005)


def approve(churn: SandboxWorld, arn: str) -> None:
    churn.client("sagemaker").update_model_package(ModelPackageArn=arn, ModelApprovalStatus="Approved")


def test_an_approved_version_takes_traffic_in_steps_and_is_promoted(watched_churn: SandboxWorld) -> None:
    churn = watched_churn
    approve(churn, churn.world.pending_version_arn)
    wait_for_bake(churn, 50)
    assert endpoint_weights(churn) == {"Blue": 0.5, "Green": 0.5}  # an intermediate share, during the bake
    churn.sandbox.settle()

    assert run_of(churn, 2)["status"] == "SUCCEEDED", run_of(churn, 2).get("cause")
    steps = sorted(ledger_item(churn, "STEP#"), key=lambda e: e["at"])
    assert [(s["percent"], s["candidate_variant"]) for s in steps] == [(10, "Green"), (50, "Green"), (100, "Green")]
    assert churn.live_model_package() == churn.world.pending_version_arn
    config = churn.client("sagemaker").describe_endpoint_config(
        EndpointConfigName=churn.client("sagemaker").describe_endpoint(EndpointName=churn.stack.endpoint_name)[
            "EndpointConfigName"
        ]
    )
    assert [v["VariantName"] for v in config["ProductionVariants"]] == ["Green"]  # the retired variant is gone
    [live] = ledger_item(churn, "LIVE")
    assert (live["variant"], live["previous_model_package_arn"]) == ("Green", churn.world.live_version_arn)
    assert not ledger_item(churn, "LOCK")[0].get("holder")


def test_a_guard_alarm_during_a_bake_rolls_back_and_rejects_the_version(watched_churn: SandboxWorld) -> None:
    churn = watched_churn
    previous_config = churn.client("sagemaker").describe_endpoint(EndpointName=churn.stack.endpoint_name)[
        "EndpointConfigName"
    ]
    approve(churn, churn.world.pending_version_arn)
    bake = wait_for_bake(churn, 10)

    churn.client("cloudwatch").set_alarm_state(
        AlarmName=f"churn-canary-5xx-{bake['candidate_variant']}", StateValue="ALARM", StateReason="42 errors"
    )
    churn.sandbox.settle()

    run = run_of(churn, 2)
    assert (run["status"], run["error"]) == ("FAILED", "RolledBack")
    assert "churn-canary-5xx-Green" in run["cause"]
    endpoint = churn.client("sagemaker").describe_endpoint(EndpointName=churn.stack.endpoint_name)
    assert endpoint["EndpointConfigName"] == previous_config
    assert churn.live_model_package() == churn.world.live_version_arn
    package = churn.client("sagemaker").describe_model_package(ModelPackageName=churn.world.pending_version_arn)
    assert package["ModelApprovalStatus"] == "Rejected"
    assert "churn-canary-5xx-Green: 42 errors" in package["ApprovalDescription"]
    [record] = [e for e in ledger_item(churn, "DEPLOYMENT#") if e["execution_arn"] == run["executionArn"]]
    assert record["outcome"] == "RolledBack"
    assert not ledger_item(churn, "LOCK")[0].get("holder")


def test_an_alarm_on_the_live_variant_does_not_abort_the_canary(watched_churn: SandboxWorld) -> None:
    churn = watched_churn
    approve(churn, churn.world.pending_version_arn)
    bake = wait_for_bake(churn, 10)
    live_colour = "Blue" if bake["candidate_variant"] == "Green" else "Green"

    churn.client("cloudwatch").set_alarm_state(
        AlarmName=f"churn-canary-5xx-{live_colour}", StateValue="ALARM", StateReason="x"
    )
    churn.sandbox.settle()

    assert run_of(churn, 2)["status"] == "SUCCEEDED", run_of(churn, 2).get("cause")
    assert churn.live_model_package() == churn.world.pending_version_arn


def test_the_version_already_live_ends_already_live_and_changes_nothing(churn: SandboxWorld) -> None:
    sfn = churn.client("stepfunctions")
    config_before = churn.client("sagemaker").describe_endpoint(EndpointName=churn.stack.endpoint_name)[
        "EndpointConfigName"
    ]
    run = sfn.start_execution(
        stateMachineArn=churn.stack.deploy_state_machine_arn,
        name="redeploy-live",
        input=json.dumps({"ModelPackageArn": churn.world.live_version_arn}),
    )
    churn.sandbox.settle()

    result = sfn.describe_execution(executionArn=run["executionArn"])
    assert result["status"] == "SUCCEEDED"
    assert json.loads(result["output"])["Status"] == "AlreadyLive"
    assert (
        churn.client("sagemaker").describe_endpoint(EndpointName=churn.stack.endpoint_name)["EndpointConfigName"]
        == config_before
    )


def test_while_a_canary_runs_the_newest_waiting_version_wins(watched_churn: SandboxWorld) -> None:
    churn = watched_churn
    v3 = register_version(churn.sandbox, churn.stack, 3, "PendingManualApproval")
    v4 = register_version(churn.sandbox, churn.stack, 4, "PendingManualApproval")
    approve(churn, churn.world.pending_version_arn)
    wait_for_bake(churn, 10)

    approve(churn, v3)
    wait_for_waiter(churn, 3)
    approve(churn, v4)
    churn.sandbox.settle()

    assert run_of(churn, 2)["status"] == "SUCCEEDED", run_of(churn, 2).get("cause")
    superseded = run_of(churn, 3)
    assert (superseded["status"], superseded["error"]) == ("FAILED", "Superseded")
    assert "version 4 is newer" in superseded["cause"]
    assert run_of(churn, 4)["status"] == "SUCCEEDED"
    assert churn.live_model_package() == v4
    outcomes = {e["model_package_arn"].rsplit("/", 1)[-1]: e["outcome"] for e in ledger_item(churn, "DEPLOYMENT#")}
    assert outcomes == {"1": "Deployed", "2": "Deployed", "3": "Superseded", "4": "Deployed"}


def test_a_misbehaving_candidate_trips_its_guard_alarm_and_is_rolled_back(churn: SandboxWorld) -> None:
    churn.sandbox.behave(churn.world.pending_version_arn, error_rate=0.5)
    churn.sandbox.start_traffic(churn.stack.endpoint_name, per_minute=600)

    approve(churn, churn.world.pending_version_arn)
    churn.sandbox.settle()

    run = run_of(churn, 2)
    assert (run["status"], run["error"]) == ("FAILED", "RolledBack")
    assert "churn-canary-5xx-Green" in run["cause"]
    assert churn.live_model_package() == churn.world.live_version_arn
    sagemaker = churn.client("sagemaker")
    config = sagemaker.describe_endpoint_config(
        EndpointConfigName=sagemaker.describe_endpoint(EndpointName=churn.stack.endpoint_name)["EndpointConfigName"]
    )
    customer = b"12,80.5,3,10.0,month-to-month,electronic-check,under-65"
    answers = {
        churn.client("sagemaker-runtime").invoke_endpoint(
            EndpointName=churn.stack.endpoint_name, ContentType="text/csv", Body=customer
        )["InvokedProductionVariant"]
        for _ in range(20)
    }
    # InvokeEndpoint is answered by the live version's variant only
    assert answers == {v["VariantName"] for v in config["ProductionVariants"]} and len(answers) == 1


def test_healthy_traffic_keeps_the_guards_quiet_and_the_canary_is_promoted(churn: SandboxWorld) -> None:
    churn.sandbox.start_traffic(churn.stack.endpoint_name, per_minute=600)

    approve(churn, churn.world.pending_version_arn)
    churn.sandbox.settle()

    assert run_of(churn, 2)["status"] == "SUCCEEDED", run_of(churn, 2).get("cause")
    assert churn.live_model_package() == churn.world.pending_version_arn


def test_the_candidate_inherits_the_live_variants_autoscaling_and_the_retired_variant_loses_it(
    churn: SandboxWorld,
) -> None:
    autoscaling = churn.client("application-autoscaling")
    blue = f"endpoint/{churn.stack.endpoint_name}/variant/Blue"
    dimension = "sagemaker:variant:DesiredInstanceCount"
    autoscaling.register_scalable_target(
        ServiceNamespace="sagemaker", ResourceId=blue, ScalableDimension=dimension, MinCapacity=2, MaxCapacity=8
    )
    autoscaling.put_scaling_policy(
        PolicyName="invocations-per-instance",
        ServiceNamespace="sagemaker",
        ResourceId=blue,
        ScalableDimension=dimension,
        PolicyType="TargetTrackingScaling",
        TargetTrackingScalingPolicyConfiguration={
            "TargetValue": 70.0,
            "PredefinedMetricSpecification": {"PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"},
        },
    )

    approve(churn, churn.world.pending_version_arn)
    churn.sandbox.settle()

    assert run_of(churn, 2)["status"] == "SUCCEEDED", run_of(churn, 2).get("cause")
    targets = autoscaling.describe_scalable_targets(ServiceNamespace="sagemaker")["ScalableTargets"]
    assert [(t["ResourceId"].rsplit("/", 1)[-1], t["MinCapacity"], t["MaxCapacity"]) for t in targets] == [
        ("Green", 2, 8)
    ]
    [policy] = autoscaling.describe_scaling_policies(ServiceNamespace="sagemaker")["ScalingPolicies"]
    assert (policy["ResourceId"].rsplit("/", 1)[-1], policy["PolicyName"]) == ("Green", "invocations-per-instance")
    assert policy["TargetTrackingScalingPolicyConfiguration"]["TargetValue"] == 70.0


def test_an_endpoint_the_ledger_does_not_know_is_adopted(sandbox: Sandbox) -> None:
    stack = sandbox.deploy_stack("churn", BakeSeconds="60", RetentionSeconds="60", MinCandidateInvocations="0")
    sagemaker = sandbox.client("sagemaker")
    sagemaker.create_model_package_group(ModelPackageGroupName=stack.model_package_group)
    hand_made = register_version(sandbox, stack, 1, "PendingManualApproval")  # deployed by hand, not by this stack
    sagemaker.create_model(
        ModelName="hand-made",
        ExecutionRoleArn=stack.parameters["SageMakerExecutionRoleArn"],
        Containers=[{"ModelPackageName": hand_made}],
    )
    variant = {
        "VariantName": "AllTraffic",
        "ModelName": "hand-made",
        "InstanceType": "ml.m5.large",
        "InitialInstanceCount": 1,
    }
    sagemaker.create_endpoint_config(EndpointConfigName="hand-made", ProductionVariants=[variant])
    sagemaker.create_endpoint(EndpointName=stack.endpoint_name, EndpointConfigName="hand-made")
    sandbox.settle()

    candidate = register_version(sandbox, stack, 2, "Approved")
    sandbox.settle()

    [run] = sandbox.client("stepfunctions").list_executions(stateMachineArn=stack.deploy_state_machine_arn)[
        "executions"
    ]
    assert run["status"] == "SUCCEEDED"
    dynamodb = sandbox.client("dynamodb")
    live = dynamodb.get_item(
        TableName=stack.ledger_table, Key={"pk": {"S": f"ENDPOINT#{stack.endpoint_name}"}, "sk": {"S": "LIVE"}}
    )["Item"]
    assert live["model_package_arn"]["S"] == candidate
    assert live["variant"]["S"] == "Blue"  # beside the adopted AllTraffic variant
    assert live["previous_model_package_arn"]["S"] == hand_made  # what the endpoint served became the live version
    assert live["previous_endpoint_config_name"]["S"] == "hand-made"


def test_old_models_and_configs_are_deleted_beyond_the_kept_ones(sandbox: Sandbox) -> None:
    from tests.conftest import seeded

    churn = seeded(
        sandbox, BakeSeconds="60", RetentionSeconds="60", MinCandidateInvocations="0", KeepEndpointConfigs="2"
    )
    sagemaker = churn.client("sagemaker")
    first_config = sagemaker.describe_endpoint(EndpointName=churn.stack.endpoint_name)["EndpointConfigName"]
    approve(churn, churn.world.pending_version_arn)
    churn.sandbox.settle()
    for version in (3, 4):
        approve(churn, register_version(churn.sandbox, churn.stack, version, "PendingManualApproval"))
        churn.sandbox.settle()

    configs = {c["EndpointConfigName"] for c in sagemaker.list_endpoint_configs(MaxResults=100)["EndpointConfigs"]}
    models = {m["ModelName"] for m in sagemaker.list_models(MaxResults=100)["Models"]}
    [live] = ledger_item(churn, "LIVE")
    assert first_config not in configs
    assert {
        live["endpoint_config_name"],
        live["previous_endpoint_config_name"],
    } <= configs  # serving, and the rollback target
    assert len(configs) <= 3
    in_use = {
        v["ModelName"]
        for name in configs
        for v in sagemaker.describe_endpoint_config(EndpointConfigName=name)["ProductionVariants"]
    }
    assert models == in_use
    assert churn.live_model_package().endswith("/4")
