"""The stack's IAM policies as CloudFormation would create them, linted by parliament (make lint).

template.yaml goes through the SAM transform offline (sandbox/template.py), then every intrinsic function
is resolved for a sample project (`Ref`, `Fn::GetAtt`, `Fn::Sub`, `Fn::If` with the template's conditions,
...): resources get the names and ARNs CloudFormation would give them, so that parliament can match each
action with the resource types it accepts. The stack is resolved once per way it can be deployed
(AWS-managed keys, a key of its own, the user's key; functions and models in a VPC or not).

Every policy is checked: the roles' inline policies, the managed policies of the stack, and the resource
policies (bucket, queue, key). Any finding fails the check, except the ones in ACCEPTED, each with its
reason. AWS-managed policies SAM attaches (AWSLambdaBasicExecutionRole, AWSXrayWriteOnlyAccess,
AWSLambdaVPCAccessExecutionRole) are AWS's and not linted here.

Usage: python scripts/check_iam.py   (exit 1 on any finding)
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from parliament import analyze_policy_string  # noqa: E402

from sandbox.core import ACCOUNT_ID, REGION, project_parameters  # noqa: E402
from sandbox.template import load_sam_template, to_cloudformation  # noqa: E402

PARTITION = "aws"
SAMPLE_KEY_ID = "1234abcd-12ab-34cd-56ef-1234567890ab"
USER_KEY_ARN = f"arn:aws:kms:{REGION}:{ACCOUNT_ID}:key/0987dcba-09fe-87dc-65ba-0987654321fe"

# The ways the stack can be deployed, as parameter overrides of the sample project.
VARIANTS: dict[str, dict[str, str]] = {
    "AWS-managed keys, no VPC": {},
    "a key of its own, functions and models in a VPC": {
        "KmsKey": "create",
        "SubnetIds": "subnet-0a1b2c3d4e5f60001,subnet-0a1b2c3d4e5f60002",
        "SecurityGroupIds": "sg-0a1b2c3d4e5f60001",
        "ModelSubnetIds": "subnet-0a1b2c3d4e5f60001,subnet-0a1b2c3d4e5f60002",
        "ModelSecurityGroupIds": "sg-0a1b2c3d4e5f60002",
        "EnableNetworkIsolation": "true",
    },
    "the user's key": {"KmsKey": USER_KEY_ARN},
}


@dataclass(frozen=True)
class Accepted:
    """A kind of finding accepted on purpose: the issue, where (statement Sids, policies, or the actions
    a finding names), and why."""

    issue: str
    reason: str
    sids: frozenset[str] = frozenset()
    policies: frozenset[str] = frozenset()
    actions: frozenset[str] = frozenset()

    def covers(self, policy: str, sid: str, issue: str, detail: str) -> bool:
        if issue != self.issue:
            return False
        if self.sids and sid not in self.sids:
            return False
        if self.policies and policy.split("/", 1)[0] not in self.policies:
            return False
        if self.actions:
            named = {str(item.get("action")) for item in json.loads(detail or "[]") if isinstance(item, dict)}
            return bool(named) and named <= self.actions
        return True


ACCEPTED = (
    Accepted(
        "RESOURCE_MISMATCH",
        "The IAM reference lists no resource type for SendTaskSuccess/SendTaskFailure, yet AWS authorises them "
        "against the state machine whose task token they complete (its ARN is the resource in AccessDenied "
        "messages), which is what SAM's StepFunctionsCallbackPolicy grants: scoped to this project's workflows.",
        actions=frozenset({"states:SendTaskSuccess", "states:SendTaskFailure"}),
    ),
    Accepted(
        "PERMISSIONS_MANAGEMENT_ACTIONS",
        "iam:PassRole of the SageMaker execution role only, only to sagemaker.amazonaws.com (CreateModel).",
        sids=frozenset({"PassTheExecutionRoleToSageMakerOnly"}),
    ),
    Accepted(
        "PERMISSIONS_MANAGEMENT_ACTIONS",
        "iam:CreateServiceLinkedRole of Application Auto Scaling's SageMaker role only, which registering the "
        "candidate's scalable target needs once per account.",
        sids=frozenset({"AutoscalingServiceLinkedRole"}),
    ),
    Accepted(
        "PERMISSIONS_MANAGEMENT_ACTIONS",
        "logs:PutResourcePolicy is part of what Step Functions needs to deliver execution logs to CloudWatch Logs.",
        sids=frozenset({"DeliverExecutionLogs"}),
    ),
    Accepted(
        "RESOURCE_STAR",
        "A scalable target's ARN is generated at registration; the statement is confined by conditions to the "
        "instance counts of SageMaker variants.",
        sids=frozenset({"GiveTheCandidateTheLiveVariantsAutoscaling"}),
    ),
    Accepted(
        "RESOURCE_STAR",
        'In a key policy, "*" is the key itself.',
        policies=frozenset({"ProjectKey"}),
    ),
    Accepted(
        "PERMISSIONS_MANAGEMENT_ACTIONS",
        "The default key policy: the account administers its key and delegates its use to IAM policies.",
        policies=frozenset({"ProjectKey"}),
        sids=frozenset({"AdministeredByTheAccount"}),
    ),
)

NO_VALUE = object()  # what Ref AWS::NoValue resolves to: the enclosing key or list item disappears

# Per resource type: the property holding its physical name, what Ref returns, and its attributes.
NAME_PROPERTIES = {
    "AWS::DynamoDB::Table": "TableName",
    "AWS::SQS::Queue": "QueueName",
    "AWS::SNS::Topic": "TopicName",
    "AWS::S3::Bucket": "BucketName",
    "AWS::Lambda::Function": "FunctionName",
    "AWS::StepFunctions::StateMachine": "StateMachineName",
    "AWS::Logs::LogGroup": "LogGroupName",
    "AWS::CloudWatch::Alarm": "AlarmName",
    "AWS::SageMaker::Pipeline": "PipelineName",
    "AWS::IAM::Role": "RoleName",
    "AWS::IAM::ManagedPolicy": "ManagedPolicyName",
    "AWS::CloudWatch::Dashboard": "DashboardName",
}


class UnresolvedIntrinsic(ValueError):
    """The template uses an intrinsic function or attribute this resolver does not know."""


@dataclass
class ResolvedStack:
    """template.yaml transformed and resolved for one set of parameters."""

    template: dict[str, Any]
    parameters: dict[str, str]
    conditions: dict[str, bool]

    @classmethod
    def of(cls, **overrides: str) -> ResolvedStack:
        parameters = project_parameters("churn", **overrides)
        template = to_cloudformation(load_sam_template(), parameters, REGION)
        values = {name: str(spec.get("Default", "")) for name, spec in template.get("Parameters", {}).items()}
        values.update(parameters)
        stack = cls(template, values, {})
        for name in template.get("Conditions", {}):
            stack.condition(name)
        return stack

    # ------------------------------------------------------------------ conditions
    def condition(self, name: str) -> bool:
        if name not in self.conditions:
            self.conditions[name] = self._evaluate(self.template["Conditions"][name])
        return self.conditions[name]

    def _evaluate(self, node: Any) -> bool:
        ((function, args),) = node.items()
        if function == "Condition":
            return self.condition(args)
        if function == "Fn::Equals":
            left, right = (self.resolve(arg) for arg in args)
            return bool(left == right)
        if function == "Fn::Not":
            return not self._evaluate(args[0])
        if function == "Fn::And":
            return all(self._evaluate(arg) for arg in args)
        if function == "Fn::Or":
            return any(self._evaluate(arg) for arg in args)
        raise UnresolvedIntrinsic(function)

    def resource_exists(self, logical_id: str) -> bool:
        resource = self.template["Resources"][logical_id]
        return "Condition" not in resource or self.condition(resource["Condition"])

    def resources(self, resource_type: str) -> dict[str, dict[str, Any]]:
        """The stack's resources of this type (those whose condition holds), resolved."""
        return {
            name: self.resolve(resource)
            for name, resource in self.template["Resources"].items()
            if resource["Type"] == resource_type and self.resource_exists(name)
        }

    # ------------------------------------------------------------------ names, Ref and GetAtt
    def physical_name(self, logical_id: str) -> str:
        resource = self.template["Resources"][logical_id]
        prop = NAME_PROPERTIES.get(resource["Type"])
        name = resource.get("Properties", {}).get(prop) if prop else None
        if name is None:  # CloudFormation names it <stack>-<logical id>-<suffix>
            return f"{self.parameters['ProjectName']}-{logical_id}-SUFFIX"
        return str(self.resolve(name))

    def ref(self, name: str) -> Any:
        pseudo = {
            "AWS::AccountId": ACCOUNT_ID,
            "AWS::Region": REGION,
            "AWS::Partition": PARTITION,
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": self.parameters["ProjectName"],
            "AWS::NoValue": NO_VALUE,
        }
        if name in pseudo:
            return pseudo[name]
        if name in self.parameters:
            spec = self.template.get("Parameters", {}).get(name, {})
            value = self.parameters[name]
            if spec.get("Type") == "CommaDelimitedList" or spec.get("Type", "").startswith("List<"):
                return [item for item in value.split(",") if item] if value else []
            return value
        if name not in self.template["Resources"]:
            raise UnresolvedIntrinsic(f"Ref {name}")
        kind = self.template["Resources"][name]["Type"]
        physical = self.physical_name(name)
        refs = {
            "AWS::SQS::Queue": f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT_ID}/{physical}",
            "AWS::SNS::Topic": f"arn:{PARTITION}:sns:{REGION}:{ACCOUNT_ID}:{physical}",
            "AWS::StepFunctions::StateMachine": f"arn:{PARTITION}:states:{REGION}:{ACCOUNT_ID}:stateMachine:{physical}",
            "AWS::KMS::Key": SAMPLE_KEY_ID,
            "AWS::IAM::ManagedPolicy": f"arn:{PARTITION}:iam::{ACCOUNT_ID}:policy/{physical}",
        }
        return refs.get(kind, physical)

    def get_att(self, name: str, attribute: str) -> str:
        kind = self.template["Resources"][name]["Type"]
        physical = self.physical_name(name)
        arns = {
            "AWS::DynamoDB::Table": f"arn:{PARTITION}:dynamodb:{REGION}:{ACCOUNT_ID}:table/{physical}",
            "AWS::SQS::Queue": f"arn:{PARTITION}:sqs:{REGION}:{ACCOUNT_ID}:{physical}",
            "AWS::SNS::Topic": f"arn:{PARTITION}:sns:{REGION}:{ACCOUNT_ID}:{physical}",
            "AWS::S3::Bucket": f"arn:{PARTITION}:s3:::{physical}",
            "AWS::Lambda::Function": f"arn:{PARTITION}:lambda:{REGION}:{ACCOUNT_ID}:function:{physical}",
            "AWS::StepFunctions::StateMachine": (
                f"arn:{PARTITION}:states:{REGION}:{ACCOUNT_ID}:stateMachine:{physical}"
            ),
            "AWS::Logs::LogGroup": f"arn:{PARTITION}:logs:{REGION}:{ACCOUNT_ID}:log-group:{physical}:*",
            "AWS::IAM::Role": f"arn:{PARTITION}:iam::{ACCOUNT_ID}:role/{physical}",
            "AWS::KMS::Key": f"arn:{PARTITION}:kms:{REGION}:{ACCOUNT_ID}:key/{SAMPLE_KEY_ID}",
            "AWS::CloudWatch::Alarm": f"arn:{PARTITION}:cloudwatch:{REGION}:{ACCOUNT_ID}:alarm:{physical}",
        }
        if attribute == "Arn" and kind in arns:
            return arns[kind]
        if attribute in ("QueueName", "TopicName", "Name"):
            return physical
        raise UnresolvedIntrinsic(f"Fn::GetAtt {name}.{attribute}")

    # ------------------------------------------------------------------ resolving
    def resolve(self, node: Any) -> Any:
        """The value CloudFormation would give this node (NO_VALUE for AWS::NoValue)."""
        if isinstance(node, list):
            return [item for item in (self.resolve(item) for item in node) if item is not NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            ((key, args),) = node.items()
            if key == "Ref":
                return self.ref(args)
            if key == "Fn::GetAtt":
                name, attribute = args.split(".", 1) if isinstance(args, str) else args
                return self.get_att(name, attribute)
            if key == "Fn::Sub":
                return self._sub(args)
            if key == "Fn::If":
                condition, when_true, when_false = args
                return self.resolve(when_true if self.condition(condition) else when_false)
            if key == "Fn::Join":
                separator, items = args
                return separator.join(str(item) for item in self.resolve(items))
            if key == "Fn::Split":
                separator, text = args
                return str(self.resolve(text)).split(separator)
            if key == "Fn::Select":
                index, items = args
                return self.resolve(items)[int(self.resolve(index))]
            if key == "Fn::FindInMap":
                mapping, first, second = (self.resolve(arg) for arg in args)
                return self.template["Mappings"][mapping][first][second]
            if key.startswith("Fn::"):
                raise UnresolvedIntrinsic(key)
        return {key: value for key, value in ((k, self.resolve(v)) for k, v in node.items()) if value is not NO_VALUE}

    def _sub(self, args: Any) -> str:
        text, variables = (args, {}) if isinstance(args, str) else (args[0], args[1])
        values = {name: self.resolve(value) for name, value in variables.items()}

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in values:
                return str(values[name])
            if "." in name and not name.startswith("AWS::"):
                resource, attribute = name.split(".", 1)
                return self.get_att(resource, attribute)
            value = self.ref(name)
            return ",".join(value) if isinstance(value, list) else str(value)

        return re.sub(r"\$\{([^}]+)\}", replace, text)


# ---------------------------------------------------------------------- the policies of a stack
@dataclass(frozen=True)
class NamedPolicy:
    name: str  # <resource>/<policy>, e.g. CanaryFunctionRole/CanaryFunctionRolePolicy0
    document: dict[str, Any]


def identity_policies(stack: ResolvedStack) -> Iterator[NamedPolicy]:
    for role_name, role in stack.resources("AWS::IAM::Role").items():
        for policy in role["Properties"].get("Policies", []):
            yield NamedPolicy(f"{role_name}/{policy['PolicyName']}", policy["PolicyDocument"])
    for name, policy in stack.resources("AWS::IAM::ManagedPolicy").items():
        yield NamedPolicy(name, policy["Properties"]["PolicyDocument"])


def resource_policies(stack: ResolvedStack) -> Iterator[NamedPolicy]:
    for kind, document_key in (
        ("AWS::S3::BucketPolicy", "PolicyDocument"),
        ("AWS::SQS::QueuePolicy", "PolicyDocument"),
        ("AWS::SNS::TopicPolicy", "PolicyDocument"),
        ("AWS::KMS::Key", "KeyPolicy"),
    ):
        for name, resource in stack.resources(kind).items():
            document = resource["Properties"].get(document_key)
            if document:
                yield NamedPolicy(name, document)


def statements_of(document: dict[str, Any]) -> list[dict[str, Any]]:
    statements = document.get("Statement", [])
    return [statements] if isinstance(statements, dict) else list(statements)


def parliament_issues(document: dict[str, Any]) -> list[tuple[str, str]]:
    """(issue, detail) of parliament's findings, community auditors included."""
    analysed = analyze_policy_string(json.dumps({"Version": "2012-10-17", **document}), include_community_auditors=True)
    return [(finding.issue, json.dumps(finding.detail, default=str)) for finding in analysed.findings]


def findings(policy: NamedPolicy) -> list[str]:
    """parliament's findings on one policy, each named by its statement, minus the accepted ones.

    parliament locates a finding by line and column only: each statement is analysed on its own to name
    the statement; the whole policy once more for what only a combination of statements shows.
    """
    found: list[tuple[str, str, str]] = []
    for index, statement in enumerate(statements_of(policy.document)):
        sid = str(statement.get("Sid") or f"#{index}")
        found += [(sid, issue, detail) for issue, detail in parliament_issues({"Statement": [statement]})]
    attributed = {issue for _, issue, _ in found}
    found += [("*", issue, detail) for issue, detail in parliament_issues(policy.document) if issue not in attributed]
    found += [(sid, issue, detail) for sid, issue, detail in project_rule_findings(policy)]
    return [
        f"{policy.name} [{sid}] {issue}: {detail}"
        for sid, issue, detail in found
        if not any(accepted.covers(policy.name, sid, issue, detail) for accepted in ACCEPTED)
    ]


SAGEMAKER_MUTATION = re.compile(r"^sagemaker:(Create|Update|Delete|Start|Stop|Retry|Add|Put|Register)")


def project_rule_findings(policy: NamedPolicy) -> Iterator[tuple[str, str, str]]:
    """This project's rules, which parliament does not check: no wildcard actions, no SageMaker mutation on
    every resource, iam:PassRole only with the service it passes to."""
    for index, statement in enumerate(statements_of(policy.document)):
        if statement.get("Effect") != "Allow":
            continue
        sid = str(statement.get("Sid") or f"#{index}")
        actions = statement.get("Action", [])
        actions = [actions] if isinstance(actions, str) else list(actions)
        resources = statement.get("Resource", [])
        resources = [resources] if isinstance(resources, str) else list(resources)
        wildcards = [a for a in actions if "*" in a.split(":", 1)[-1] and not a.startswith("kms:GenerateDataKey")]
        if wildcards and "Principal" not in statement:
            yield sid, "WILDCARD_ACTION", json.dumps(wildcards)
        mutations = [a for a in actions if SAGEMAKER_MUTATION.match(a) or a in ("sagemaker:*", "*")]
        if mutations and "*" in resources:
            yield sid, "SAGEMAKER_MUTATION_ON_EVERY_RESOURCE", json.dumps(mutations)
        if any(a in ("iam:PassRole", "iam:*", "*") for a in actions):
            condition = statement.get("Condition", {}).get("StringEquals", {})
            if "iam:PassedToService" not in condition or "*" in resources:
                yield sid, "PASSROLE_WITHOUT_SERVICE", json.dumps(resources)


def stack_findings(stack: ResolvedStack) -> list[str]:
    """Every finding on every policy of one resolved stack."""
    return [
        problem for policy in [*identity_policies(stack), *resource_policies(stack)] for problem in findings(policy)
    ]


def check(variants: dict[str, dict[str, str]] | None = None) -> list[str]:
    """Every finding on every policy of the stack, for each way it can be deployed."""
    problems: list[str] = []
    for variant, overrides in (VARIANTS if variants is None else variants).items():
        problems += [f"{variant}: {problem}" for problem in stack_findings(ResolvedStack.of(**overrides))]
    return sorted(set(problems))


def main() -> int:
    problems = check()
    for problem in problems:
        print(problem)
    print(f"check_iam: {len(problems)} finding(s)" if problems else "check_iam: every policy passes parliament")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
