"""Optional VPC: the functions in your subnets with only the network rights they need, the models the workflows
create with the project's network settings, and the endpoint list of docs/security.md in step with the calls made."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from sandbox.template import load_sam_template, rule_failures
from scripts.check_iam import ResolvedStack
from tests.conftest import ROOT, SandboxWorld, seeded
from tests.test_template import calls_in, function_dirs

SUBNETS = "subnet-0a1b2c3d4e5f60001,subnet-0a1b2c3d4e5f60002"
FUNCTION_VPC = {"SubnetIds": SUBNETS, "SecurityGroupIds": "sg-0a1b2c3d4e5f60001"}
BATCH = {"ServingKind": "Batch"}  # every function the template has (the batch function only in a batch project)
MODEL_VPC = {
    "ModelSubnetIds": SUBNETS,
    "ModelSecurityGroupIds": "sg-0a1b2c3d4e5f60002",
    "EnableNetworkIsolation": "true",
}
ENDPOINTS = {  # IAM prefix of what the functions call -> the VPC endpoint it goes through
    "sagemaker": "sagemaker.api",
    "states": "states",
    "sqs": "sqs",
    "sns": "sns",
    "cloudwatch": "monitoring",
    "application-autoscaling": "application-autoscaling",
    "dynamodb": "dynamodb",
    "s3": "s3",
}


def functions(stack: ResolvedStack) -> dict[str, dict[str, Any]]:
    return {name: f["Properties"] for name, f in stack.resources("AWS::Lambda::Function").items()}


def test_functions_join_a_vpc_only_when_given_subnets() -> None:
    outside = functions(ResolvedStack.of(**BATCH))
    inside = functions(ResolvedStack.of(**FUNCTION_VPC, **BATCH))

    assert len(inside) == len(outside) == len(function_dirs())
    assert all("VpcConfig" not in f for f in outside.values())
    assert all(
        f["VpcConfig"] == {"SubnetIds": SUBNETS.split(","), "SecurityGroupIds": ["sg-0a1b2c3d4e5f60001"]}
        for f in inside.values()
    )


def network_guard(stack: ResolvedStack) -> dict[str, Any]:
    return dict(stack.resources("AWS::IAM::ManagedPolicy")["FunctionNetworkGuard"]["Properties"])


def test_functions_create_network_interfaces_only_in_the_given_subnets_and_groups() -> None:
    stack = ResolvedStack.of(**FUNCTION_VPC, **BATCH)
    guard = network_guard(stack)

    [statement] = guard["PolicyDocument"]["Statement"]

    assert (statement["Effect"], statement["Action"]) == ("Deny", "ec2:CreateNetworkInterface")
    assert sorted(statement["NotResource"]) == sorted(
        [
            "arn:aws:ec2:us-east-1:123456789012:network-interface/*",
            "arn:*:ec2:*:*:subnet/subnet-0a1b2c3d4e5f60001",
            "arn:*:ec2:*:*:subnet/subnet-0a1b2c3d4e5f60002",
            "arn:*:ec2:*:*:security-group/sg-0a1b2c3d4e5f60001",
        ]
    )
    assert sorted(guard["Roles"]) == sorted(stack.physical_name(f"{name}Role") for name in function_dirs())


def test_functions_outside_a_vpc_create_no_network_interfaces() -> None:
    [statement] = network_guard(ResolvedStack.of())["PolicyDocument"]["Statement"]

    assert statement == {
        "Sid": "NoNetworkInterfacesOutsideAVpc",
        "Effect": "Deny",
        "Action": ["ec2:CreateNetworkInterface", "ec2:AssignPrivateIpAddresses"],
        "Resource": "*",
    }


def refused(parameters: dict[str, str]) -> list[str]:
    """The assertions of template.yaml's Rules these parameters fail (as CloudFormation evaluates them)."""
    return rule_failures(load_sam_template(), parameters)


def test_subnets_without_security_groups_are_refused_before_anything_is_created() -> None:
    assert refused({}) == []
    assert refused({**FUNCTION_VPC, **MODEL_VPC}) == []
    assert refused({"SubnetIds": SUBNETS}) == ["SubnetIds needs SecurityGroupIds."]
    assert refused({"ModelSubnetIds": SUBNETS}) == ["ModelSubnetIds needs ModelSecurityGroupIds."]


@pytest.mark.parametrize("workflow", ["deploy", "rollback"])
def test_models_in_a_vpc_differ_from_the_others_only_by_their_vpc_config(workflow: str) -> None:
    states = json.loads((ROOT / "statemachines" / f"{workflow}.asl.json").read_text())["States"]
    plain, in_vpc = dict(states["CreateModel"]), dict(states["CreateModelInVpc"])

    vpc = in_vpc["Parameters"].pop("VpcConfig")
    in_vpc.pop("Comment")

    assert in_vpc == plain  # the same retries, catch and next state
    assert vpc == {
        "Subnets.$": "States.StringSplit('${ModelSubnetIds}', ',')",
        "SecurityGroupIds.$": "States.StringSplit('${ModelSecurityGroupIds}', ',')",
    }
    assert plain["Parameters"]["EnableNetworkIsolation.$"] == "States.StringToJson('${EnableNetworkIsolation}')"
    rules = [
        c for s in states.values() if s["Type"] == "Choice" for c in s["Choices"] if c["Next"] == "CreateModelInVpc"
    ]
    assert rules
    assert all('{"Variable": "$.Settings.ModelInVpc", "BooleanEquals": true' in json.dumps(rule) for rule in rules)


def test_the_workflows_are_told_the_models_network_settings() -> None:
    stack = ResolvedStack.of(**MODEL_VPC)
    default = ResolvedStack.of()
    machines = stack.resources("AWS::StepFunctions::StateMachine")
    defaults = default.resources("AWS::StepFunctions::StateMachine")

    for name in ("DeployStateMachine", "RollbackStateMachine"):
        given = machines[name]["Properties"]["DefinitionSubstitutions"]
        assert given["ModelInVpc"] == "true"
        assert given["ModelSubnetIds"] == SUBNETS
        assert given["ModelSecurityGroupIds"] == "sg-0a1b2c3d4e5f60002"
        assert given["EnableNetworkIsolation"] == "true"
        assert defaults[name]["Properties"]["DefinitionSubstitutions"]["ModelInVpc"] == "false"


def test_the_security_page_lists_the_vpc_endpoints_of_every_service_the_functions_call() -> None:
    services = {action.split(":", 1)[0] for d in function_dirs().values() for action in calls_in(d)}
    page = (ROOT / "docs" / "security.md").read_text()
    section = page.split("\n## VPC\n", 1)[1].split("\n## ", 1)[0]

    listed = set(re.findall(r"`com\.amazonaws\.<region>\.([a-z0-9.-]+)`", section))

    assert {ENDPOINTS[service] for service in services} | {"xray"} == listed


# ---------------------------------------------------------------------- in the sandbox
@pytest.fixture
def churn_in_a_vpc(sandbox: Any) -> SandboxWorld:
    parameters = {**MODEL_VPC, "BakeSeconds": "60", "RetentionSeconds": "60", "MinCandidateInvocations": "0"}
    return seeded(sandbox, **parameters)


def test_a_deployed_version_runs_in_the_projects_subnets_isolated(churn_in_a_vpc: SandboxWorld) -> None:
    world = churn_in_a_vpc
    sagemaker, sfn = world.client("sagemaker"), world.client("stepfunctions")

    sagemaker.update_model_package(ModelPackageArn=world.world.pending_version_arn, ModelApprovalStatus="Approved")
    world.sandbox.settle()

    assert world.live_model_package() == world.world.pending_version_arn
    config = sagemaker.describe_endpoint(EndpointName=world.stack.endpoint_name)["EndpointConfigName"]
    variant = sagemaker.describe_endpoint_config(EndpointConfigName=config)["ProductionVariants"][0]
    model = sagemaker.describe_model(ModelName=variant["ModelName"])
    assert model["VpcConfig"] == {"Subnets": SUBNETS.split(","), "SecurityGroupIds": ["sg-0a1b2c3d4e5f60002"]}
    [execution] = [e for e in world.executions() if "approved-v2-" in e["name"]]
    history = sfn.get_execution_history(executionArn=execution["executionArn"])["events"]
    [request] = [
        json.loads(e["taskScheduledEventDetails"]["parameters"])
        for e in history
        if e.get("taskScheduledEventDetails", {}).get("resource") == "createModel"
    ]
    assert request["EnableNetworkIsolation"] is True
