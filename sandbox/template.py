"""template.yaml -> plain CloudFormation the emulator can create, offline.

The SAM transform runs locally (aws-sam-translator). Local artefacts become what `sam deploy`
would upload: the functions' code goes to the emulator's S3, each state machine's ASL file is
inlined as its definition. The public Powertools layer cannot be reached offline: the sandbox
runs the functions against the Powertools installed beside it, so the layer reference is dropped.
"""

from __future__ import annotations

import copy
import io
import json
import logging
import os
import re
import zipfile
from pathlib import Path
from typing import Any

from samtranslator.translator.managed_policy_translator import ManagedPolicyLoader
from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE_PATH = ROOT / "template.yaml"
CODE_BUCKET = "sandbox-function-code"


class _OfflinePolicyLoader(ManagedPolicyLoader):
    """Managed policies named by ARN resolve without IAM."""

    def __init__(self) -> None:
        super().__init__(iam_client=None)

    def load(self) -> dict[str, str]:
        return {}


def load_sam_template(path: Path = TEMPLATE_PATH) -> dict[str, Any]:
    return yaml_parse(path.read_text())


def sam_resources(template: dict[str, Any], sam_type: str) -> dict[str, dict[str, Any]]:
    return {name: res for name, res in template["Resources"].items() if res["Type"] == sam_type}


def function_code_dir(template: dict[str, Any], logical_id: str) -> Path:
    properties = template["Resources"][logical_id].get("Properties", {})
    code_uri = properties.get("CodeUri") or template.get("Globals", {}).get("Function", {}).get("CodeUri")
    return (ROOT / code_uri).resolve()


def zip_directory(directory: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for file in sorted(directory.rglob("*.py")):
            archive.write(file, file.relative_to(directory).as_posix())
    return buffer.getvalue()


def to_cloudformation(sam_template: dict[str, Any], parameters: dict[str, str], region: str) -> dict[str, Any]:
    """The SAM template with local artefacts resolved, transformed to plain CloudFormation."""
    template = copy.deepcopy(sam_template)
    template.get("Globals", {}).get("Function", {}).pop("Layers", None)
    template.get("Globals", {}).get("Function", {}).pop("CodeUri", None)
    for name, resource in sam_resources(template, "AWS::Serverless::Function").items():
        resource["Properties"]["CodeUri"] = f"s3://{CODE_BUCKET}/{name}.zip"
        resource["Properties"].pop("Layers", None)
    for resource in sam_resources(template, "AWS::Serverless::StateMachine").values():
        uri = resource["Properties"].pop("DefinitionUri")
        resource["Properties"]["Definition"] = json.loads((ROOT / uri).read_text())
    os.environ.setdefault("AWS_DEFAULT_REGION", region)  # the translator looks up partitions by region
    logging.getLogger("samtranslator").setLevel(logging.ERROR)  # (its own usage metrics, unpublished offline)
    return transform(template, parameters, _OfflinePolicyLoader())


class RuleRefused(ValueError):
    """A parameter's constraint or a template rule's assertion failed: CloudFormation creates nothing."""


# CloudFormation checks each parameter value against its declared constraints before it creates anything
# (AllowedValues, AllowedPattern, MinLength/MaxLength, MinValue/MaxValue; CloudFormation user guide, "Parameters
# syntax"), and answers with the parameter's ConstraintDescription when it has one. moto 5.2.5 checks none.
def parameter_problem(name: str, value: str, declared: dict[str, Any]) -> str | None:
    def refused(default: str) -> str:
        return f"Parameter '{name}' failed to satisfy constraint: {declared.get('ConstraintDescription') or default}"

    if not declared:
        return None
    if "AllowedValues" in declared and value not in [str(v) for v in declared["AllowedValues"]]:
        return refused(f"{value!r} is not one of {declared['AllowedValues']}")
    if declared.get("Type") == "Number":
        try:
            number = float(value)
        except ValueError:
            return refused(f"{value!r} is not a number")
        if "MinValue" in declared and number < float(declared["MinValue"]):
            return refused(f"{value} is below MinValue {declared['MinValue']}")
        if "MaxValue" in declared and number > float(declared["MaxValue"]):
            return refused(f"{value} is above MaxValue {declared['MaxValue']}")
        return None
    if "MaxLength" in declared and len(value) > int(declared["MaxLength"]):
        return refused(f"longer than MaxLength {declared['MaxLength']}")
    if "MinLength" in declared and len(value) < int(declared["MinLength"]):
        return refused(f"shorter than MinLength {declared['MinLength']}")
    pattern = declared.get("AllowedPattern") if declared.get("Type", "String") == "String" else None
    if pattern and not re.fullmatch(str(pattern), value):
        return refused(f"{value!r} does not match AllowedPattern {declared['AllowedPattern']}")
    return None


# CloudFormation evaluates a template's Rules before it creates anything: "If a rule condition evaluates to true,
# CloudFormation evaluates the rule's assertions ... If an assertion evaluates to false, CloudFormation returns the
# assertion description and doesn't create the stack" (CloudFormation user guide, "Rules syntax",
# https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/rules-section-structure.html). moto 5.2.5 ignores
# Rules. The rule functions evaluated here are the ones that page lists that this template uses: Fn::And, Fn::Or,
# Fn::Not, Fn::Equals, Fn::Contains, Fn::EachMemberEquals, Ref.
def check_rules(sam_template: dict[str, Any], parameters: dict[str, str]) -> None:
    """RuleRefused when a parameter breaks its own constraints, or the parameters break a rule."""
    declared = sam_template.get("Parameters", {})
    for name, given in parameters.items():
        problem = parameter_problem(name, given, declared.get(name, {}))
        if problem:
            raise RuleRefused(problem)

    failed = rule_failures(sam_template, parameters)
    if failed:
        raise RuleRefused(failed[0])


def rule_failures(sam_template: dict[str, Any], parameters: dict[str, str]) -> list[str]:
    """The descriptions of the rule assertions these parameters fail, in the template's order."""
    declared = sam_template.get("Parameters", {})

    def value(name: str) -> Any:
        given = parameters.get(name, str(declared.get(name, {}).get("Default", "")))
        if declared.get(name, {}).get("Type") == "CommaDelimitedList":
            return [part.strip() for part in given.split(",")] if given else [""]
        return given

    def evaluate(node: Any) -> Any:
        if isinstance(node, dict) and len(node) == 1:
            ((function, argument),) = node.items()
            if function == "Ref":
                return value(argument)
            arguments = [evaluate(item) for item in argument] if isinstance(argument, list) else evaluate(argument)
            if function == "Fn::Equals":
                return str(arguments[0]) == str(arguments[1])
            if function == "Fn::Not":
                return not arguments[0]
            if function == "Fn::And":
                return all(arguments)
            if function == "Fn::Or":
                return any(arguments)
            if function == "Fn::Contains":
                return str(arguments[1]) in [str(item) for item in arguments[0]]
            if function == "Fn::EachMemberEquals":
                return all(str(item) == str(arguments[1]) for item in arguments[0])
            raise NotImplementedError(f"rule function {function}")
        return node

    failed = []
    for rule in sam_template.get("Rules", {}).values():
        if "RuleCondition" in rule and not evaluate(rule["RuleCondition"]):
            continue
        for assertion in rule.get("Assertions", []):
            if not evaluate(assertion["Assert"]):
                failed.append(str(assertion.get("AssertDescription", "a template rule refused the parameters")))
    return failed
