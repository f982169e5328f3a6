"""ServingKind Serverless in the sandbox: the endpoint is replaced all at once, baked, rolled back on a guard alarm.

Serverless endpoints support neither several production variants nor data capture (SageMaker developer guide,
serverless inference feature exclusions): no weighted canary, no capture, and the monitors say "not available".
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from sandbox.core import Sandbox
from sandbox.template import RuleRefused
from tests.conftest import SandboxWorld, seeded
from tests.test_canary import approve, ledger_item, run_of, wait_for_bake

SERVERLESS = {"ServingKind": "Serverless", "ServerlessMemorySizeInMB": "3072", "ServerlessMaxConcurrency": "5"}


@pytest.fixture
def serverless(sandbox: Sandbox) -> SandboxWorld:
    """The churn project served by a serverless endpoint: v1 live (its first deployment), v2 pending; bakes of
    3000 s (3 s here)."""
    return seeded(sandbox, BakeSeconds="3000", RetentionSeconds="60", MinCandidateInvocations="0", **SERVERLESS)


def serving_config(churn: SandboxWorld) -> dict[str, Any]:
    sagemaker = churn.client("sagemaker")
    name = sagemaker.describe_endpoint(EndpointName=churn.stack.endpoint_name)["EndpointConfigName"]
    return dict(sagemaker.describe_endpoint_config(EndpointConfigName=name))


def test_the_first_deployment_creates_a_serverless_endpoint_without_capture(serverless: SandboxWorld) -> None:
    config = serving_config(serverless)

    [variant] = config["ProductionVariants"]
    assert variant["ServerlessConfig"] == {"MemorySizeInMB": 3072, "MaxConcurrency": 5}
    assert "InstanceType" not in variant and "InitialInstanceCount" not in variant
    assert not config.get("DataCaptureConfig")
    assert serverless.live_model_package() == serverless.world.live_version_arn


def test_an_approval_replaces_the_config_at_once_bakes_it_and_keeps_no_capture(serverless: SandboxWorld) -> None:
    churn = serverless
    before = serving_config(churn)["EndpointConfigName"]
    churn.sandbox.start_traffic(churn.stack.endpoint_name, per_minute=600)

    approve(churn, churn.world.pending_version_arn)
    bake = wait_for_bake(churn, 100)
    assert bake["candidate_variant"] == "Green"
    [variant] = serving_config(churn)["ProductionVariants"]  # during the bake: the candidate alone
    assert variant["VariantName"] == "Green" and "ServerlessConfig" in variant
    churn.sandbox.settle()

    run = run_of(churn, 2)
    assert run["status"] == "SUCCEEDED", run.get("cause")
    assert churn.live_model_package() == churn.world.pending_version_arn
    [live] = ledger_item(churn, "LIVE")
    assert (live["variant"], live["previous_endpoint_config_name"]) == ("Green", before)
    [record] = [e for e in ledger_item(churn, "DEPLOYMENT#") if e["execution_arn"] == run["executionArn"]]
    assert record["outcome"] == "Deployed" and "serverless variant Green" in record["detail"]
    steps = [e for e in ledger_item(churn, "STEP#") if e["candidate_variant"] == "Green"]
    assert [s["percent"] for s in steps] == [100]  # one step: nothing to shift on one variant
    bucket = churn.stack.outputs["ArtifactBucketName"]
    churn.sandbox.flush_data_capture()
    listed = churn.client("s3").list_objects_v2(Bucket=bucket, Prefix="datacapture/")
    assert listed.get("KeyCount", 0) == 0  # requests were answered all along, none captured


def test_a_guard_alarm_during_the_bake_restores_the_previous_config_and_rejects(serverless: SandboxWorld) -> None:
    churn = serverless
    before = serving_config(churn)["EndpointConfigName"]
    approve(churn, churn.world.pending_version_arn)
    bake = wait_for_bake(churn, 100)

    churn.client("cloudwatch").set_alarm_state(
        AlarmName=f"churn-canary-model-setup-time-{bake['candidate_variant']}",
        StateValue="ALARM",
        StateReason="cold starts of 41 s",
    )
    churn.sandbox.settle()

    run = run_of(churn, 2)
    assert (run["status"], run["error"]) == ("FAILED", "RolledBack"), run.get("cause")
    assert serving_config(churn)["EndpointConfigName"] == before
    assert churn.live_model_package() == churn.world.live_version_arn
    package = churn.client("sagemaker").describe_model_package(ModelPackageName=churn.world.pending_version_arn)
    assert package["ModelApprovalStatus"] == "Rejected"
    assert "churn-canary-model-setup-time-Green: cold starts of 41 s" in package["ApprovalDescription"]
    assert not ledger_item(churn, "LOCK")[0].get("holder")


def test_a_rollback_by_hand_brings_the_previous_version_back_serverless(serverless: SandboxWorld) -> None:
    churn = serverless
    approve(churn, churn.world.pending_version_arn)
    churn.sandbox.settle()
    assert churn.live_model_package() == churn.world.pending_version_arn

    sfn = churn.client("stepfunctions")
    sfn.start_execution(
        stateMachineArn=churn.stack.outputs["RollbackStateMachineArn"],
        input=json.dumps({"Reason": "complaints", "RequestedBy": "jane@example.com"}),
    )
    churn.sandbox.settle()

    [rollback] = churn.executions("RollbackStateMachineArn")
    assert rollback["status"] == "SUCCEEDED", rollback.get("cause")
    assert churn.live_model_package() == churn.world.live_version_arn
    config = serving_config(churn)
    [variant] = config["ProductionVariants"]
    assert variant["ServerlessConfig"] == {"MemorySizeInMB": 3072, "MaxConcurrency": 5}
    assert not config.get("DataCaptureConfig")


def test_the_drift_monitor_says_monitoring_is_not_available(serverless: SandboxWorld) -> None:
    summary = serverless.sandbox.run_drift_monitor("churn")

    assert summary["Outcome"] == "not-available"
    assert "no data capture" in summary["Reason"]


@pytest.mark.parametrize(
    ("parameters", "refusal"),
    [
        ({"DeploymentStrategy": "Shadow"}, "no shadow variants"),
        ({"EnableNetworkIsolation": "true"}, "no network isolation"),
        ({"ModelSubnetIds": "subnet-0a1b", "ModelSecurityGroupIds": "sg-0a1b"}, "no VPC configuration"),
    ],
)
def test_serverless_refuses_what_aws_does_not_support_before_creating_anything(
    sandbox: Sandbox, parameters: dict[str, str], refusal: str
) -> None:
    with pytest.raises(RuleRefused, match=refusal):
        sandbox.deploy_stack("churn", **SERVERLESS, **parameters)

    assert sandbox.client("cloudformation").list_stacks()["StackSummaries"] == []


@pytest.mark.parametrize(
    ("parameters", "refusal"),
    [
        ({"ServerlessMemorySizeInMB": "1536"}, "ServerlessMemorySizeInMB"),
        ({"ServerlessMaxConcurrency": "201"}, "above MaxValue 200"),
        ({"ServerlessMaxConcurrency": "0"}, "below MinValue 1"),
        ({"ServingKind": "Lambda"}, "'Lambda' is not one of"),
    ],
)
def test_serverless_parameters_outside_sagemakers_limits_are_refused_by_the_stack(
    sandbox: Sandbox, parameters: dict[str, str], refusal: str
) -> None:
    with pytest.raises(RuleRefused, match=refusal):
        sandbox.deploy_stack("churn", **{**SERVERLESS, **parameters})


def test_provisioned_concurrency_above_the_maximum_fails_the_deployment_saying_why(sandbox: Sandbox) -> None:
    """Parameter rules cannot compare two numbers: the deployment's plan refuses it, before any change."""
    world = seeded(sandbox, ServerlessProvisionedConcurrency="30", **SERVERLESS)  # max 5

    [run] = world.executions()
    assert run["status"] == "FAILED"
    assert "ServerlessProvisionedConcurrency 30 must be 1-5 (ServerlessMaxConcurrency)" in run["cause"]
    assert world.client("sagemaker").list_endpoints()["Endpoints"] == []


def test_an_instance_endpoint_is_not_turned_serverless_in_place(sandbox: Sandbox) -> None:
    """The project moves from RealTime to Serverless on the same endpoint: AWS refuses that update, so the
    deployment changes nothing and says how to go on."""
    instances = seeded(sandbox)  # v1 live on instances
    # the same endpoint and model group, now in a serverless project's stack
    stack = sandbox.deploy_stack(
        "churn-two", EndpointName="churn-endpoint", ModelPackageGroupName="churn-models", **SERVERLESS
    )
    before = serving_config(instances)["EndpointConfigName"]
    arn = instances.world.pending_version_arn
    sagemaker = sandbox.client("sagemaker")
    with sandbox.holding_events():  # approved in the registry, deployed by the new stack's workflow only
        sagemaker.update_model_package(ModelPackageArn=arn, ModelApprovalStatus="Approved")
    sfn = sandbox.client("stepfunctions")
    sfn.start_execution(stateMachineArn=stack.deploy_state_machine_arn, input=json.dumps({"ModelPackageArn": arn}))
    sandbox.settle()

    [run] = [
        sfn.describe_execution(executionArn=e["executionArn"])
        for e in sfn.list_executions(stateMachineArn=stack.deploy_state_machine_arn)["executions"]
    ]
    assert (run["status"], run["error"]) == ("FAILED", "CannotServe")
    assert "cannot update an instance-based endpoint to a serverless one" in run["cause"]
    assert serving_config(instances)["EndpointConfigName"] == before
