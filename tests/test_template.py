"""Promises the template makes, read from template.yaml itself (after the SAM transform)."""

from __future__ import annotations

import re
from typing import Any

from sandbox.core import project_parameters
from sandbox.template import load_sam_template, to_cloudformation

BOUNDARY = "arn:aws:iam::123456789012:policy/team-boundary"


def transformed(**overrides: str) -> dict[str, Any]:
    return to_cloudformation(load_sam_template(), project_parameters("churn", **overrides), "us-east-1")


def statements(template: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    found = []
    for name, resource in template["Resources"].items():
        if resource["Type"] == "AWS::IAM::Role":
            for policy in resource["Properties"].get("Policies", []):
                for statement in policy["PolicyDocument"]["Statement"]:
                    found.append((name, statement))
    return found


def actions(statement: dict[str, Any]) -> list[str]:
    value = statement["Action"]
    return [value] if isinstance(value, str) else list(value)


def test_no_sagemaker_mutation_on_every_resource() -> None:
    for role, statement in statements(transformed()):
        mutating = [a for a in actions(statement) if re.match(r"sagemaker:(Create|Update|Delete|Start|Stop|Add)", a)]
        if mutating:
            resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
            assert "*" not in resources, (role, mutating)


def test_pass_role_only_for_the_execution_role_and_only_to_sagemaker() -> None:
    passing = [(role, s) for role, s in statements(transformed()) if "iam:PassRole" in actions(s)]
    assert sorted(role for role, _ in passing) == ["DeployStateMachineRole", "RollbackStateMachineRole"]
    for _, statement in passing:
        assert statement["Resource"] == {"Ref": "SageMakerExecutionRoleArn"}
        assert statement["Condition"] == {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}


def test_functions_write_the_ledger_but_cannot_delete_or_scan_it() -> None:
    for role, statement in statements(transformed()):
        ledger_actions = [a for a in actions(statement) if a.startswith("dynamodb:")]
        assert not {"dynamodb:DeleteItem", "dynamodb:Scan", "dynamodb:BatchWriteItem"} & set(ledger_actions), role


def test_the_permissions_boundary_applies_to_every_role() -> None:
    roles = [
        r for r in transformed(PermissionsBoundaryArn=BOUNDARY)["Resources"].values() if r["Type"] == "AWS::IAM::Role"
    ]
    sam = load_sam_template()["Resources"].values()
    assert len(roles) == sum(r["Type"] in ("AWS::Serverless::Function", "AWS::Serverless::StateMachine") for r in sam)
    assert all(
        role["Properties"]["PermissionsBoundary"]
        == {"Fn::If": ["HasPermissionsBoundary", {"Ref": "PermissionsBoundaryArn"}, {"Ref": "AWS::NoValue"}]}
        for role in roles
    )


def test_functions_run_a_supported_python_on_arm64() -> None:
    functions = [r for r in transformed()["Resources"].values() if r["Type"] == "AWS::Lambda::Function"]
    assert len(functions) == sum(
        r["Type"] == "AWS::Serverless::Function" for r in load_sam_template()["Resources"].values()
    )
    for function in functions:
        major, minor = function["Properties"]["Runtime"].removeprefix("python").split(".")
        assert (int(major), int(minor)) >= (3, 12)
        assert function["Properties"]["Architectures"] == ["arm64"]


def test_the_artifact_bucket_outlives_the_stack() -> None:
    bucket = load_sam_template()["Resources"]["ArtifactBucket"]
    assert (bucket["DeletionPolicy"], bucket["UpdateReplacePolicy"]) == ("Retain", "Retain")


def test_project_names_must_be_lowercase() -> None:
    pattern = re.compile(load_sam_template()["Parameters"]["ProjectName"]["AllowedPattern"])
    assert pattern.match("churn")
    assert pattern.match("churn-2")
    for bad in ("Churn", "churn_model", "c", "-churn", "churn-"):
        assert not pattern.match(bad), bad
