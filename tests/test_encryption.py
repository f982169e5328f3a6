"""Encryption at rest, checked end to end: whoever writes to an encrypted resource can use its key.

A key the sender cannot use does not fail the deployment: deliveries just stop (EventBridge's dead letters,
the alarms' notifications, the captured traffic). For each encrypted resource of the stack this finds its
senders in the template (roles by their policies, services by the rules and alarms that deliver to it, the
SageMaker execution role for the bucket and the data capture) and checks that each may use the key: by the
key policy (the stack's own key, or docs/security.md's example for a key of your own) and, for the stack's roles,
by their IAM policies.
"""

from __future__ import annotations

import copy
import fnmatch
import json
import re
from dataclasses import dataclass
from typing import Any

import pytest

from sandbox.core import ACCOUNT_ID, REGION
from scripts.check_iam import USER_KEY_ARN, ResolvedStack, statements_of
from tests.conftest import ROOT, SandboxWorld, seeded

SQS_SEND = ("sqs", {"kms:GenerateDataKey", "kms:Decrypt"})
SNS_PUBLISH = ("sns", {"kms:GenerateDataKey", "kms:Decrypt"})
TABLE_ACCESS = ("dynamodb", {"kms:Decrypt"})
OBJECT_READ = ("s3", {"kms:Decrypt"})
OBJECT_WRITE = ("s3", {"kms:GenerateDataKey", "kms:Decrypt"})


@dataclass(frozen=True)
class Sender:
    """Who writes to (or reads from) an encrypted resource: a role of the stack, the SageMaker execution role,
    or an AWS service acting for a resource of the stack (source)."""

    principal: str  # a role's logical id, an IAM role ARN, or a service principal
    kind: str  # "role", "external role" or "service"
    service: str  # the service holding the data (kms:ViaService)
    needs: frozenset[str]
    source: str = ""  # the source ARN of a service's request (an alarm's ARN)


@dataclass(frozen=True)
class Destination:
    name: str
    key: str | None  # a key ARN, an AWS-managed key alias, or None (no KMS key involved)
    senders: tuple[Sender, ...]


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def role_statements(stack: ResolvedStack, role: str) -> list[dict[str, Any]]:
    """The role's inline statements and those of the stack's managed policies attached to it."""
    properties = stack.resources("AWS::IAM::Role")[role]["Properties"]
    found = [s for p in properties.get("Policies", []) for s in statements_of(p["PolicyDocument"])]
    role_name = stack.physical_name(role)
    for policy in stack.resources("AWS::IAM::ManagedPolicy").values():
        if role_name in policy["Properties"].get("Roles", []):
            found += statements_of(policy["Properties"]["PolicyDocument"])
    return found


def roles_allowed(stack: ResolvedStack, actions: set[str], resource: str) -> list[str]:
    """Roles of the stack with an Allow statement for one of these actions on this resource."""
    return [
        role
        for role in stack.resources("AWS::IAM::Role")
        if any(
            s["Effect"] == "Allow"
            and set(as_list(s["Action"])) & actions
            and any(fnmatch.fnmatchcase(resource, pattern) for pattern in as_list(s.get("Resource", [])))
            for s in role_statements(stack, role)
        )
    ]


def role_senders(stack: ResolvedStack, actions: set[str], resource: str, needs: tuple[str, set[str]]) -> list[Sender]:
    service, kms_actions = needs
    return [Sender(role, "role", service, frozenset(kms_actions)) for role in roles_allowed(stack, actions, resource)]


def destinations(stack: ResolvedStack) -> list[Destination]:
    """Every encrypted resource of the stack, its key and its senders."""
    found = []
    rules = stack.resources("AWS::Events::Rule").values()
    for name, queue in stack.resources("AWS::SQS::Queue").items():
        properties = queue["Properties"]
        arn = stack.get_att(name, "Arn")
        senders = role_senders(stack, {"sqs:SendMessage"}, arn, SQS_SEND)
        if any(t.get("DeadLetterConfig", {}).get("Arn") == arn for r in rules for t in r["Properties"]["Targets"]):
            senders.append(Sender("events.amazonaws.com", "service", "sqs", frozenset(SQS_SEND[1])))
        found.append(Destination(name, properties.get("KmsMasterKeyId"), tuple(senders)))
    for name, topic in stack.resources("AWS::SNS::Topic").items():
        arn = stack.ref(name)
        senders = role_senders(stack, {"sns:Publish"}, arn, SNS_PUBLISH)
        for alarm_name, alarm in stack.resources("AWS::CloudWatch::Alarm").items():
            if arn in alarm["Properties"].get("AlarmActions", []):
                source = stack.get_att(alarm_name, "Arn")
                senders.append(Sender("cloudwatch.amazonaws.com", "service", "sns", frozenset(SNS_PUBLISH[1]), source))
        found.append(Destination(name, topic["Properties"].get("KmsMasterKeyId"), tuple(senders)))
    for name, table in stack.resources("AWS::DynamoDB::Table").items():
        sse = table["Properties"].get("SSESpecification", {})
        key = sse.get("KMSMasterKeyId") or ("alias/aws/dynamodb" if sse.get("SSEType") == "KMS" else None)
        arn = stack.get_att(name, "Arn")
        table_actions = {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:Query"}
        found.append(Destination(name, key, tuple(role_senders(stack, table_actions, arn, TABLE_ACCESS))))
    execution_role = stack.parameters["SageMakerExecutionRoleArn"]
    for name, bucket in stack.resources("AWS::S3::Bucket").items():
        [rule] = bucket["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        default = rule["ServerSideEncryptionByDefault"]
        key = default.get("KMSMasterKeyID") or ("alias/aws/s3" if default["SSEAlgorithm"] == "aws:kms" else None)
        objects = f"{stack.get_att(name, 'Arn')}/any/object"
        senders = role_senders(stack, {"s3:GetObject"}, objects, OBJECT_READ)
        pipelines = stack.resources("AWS::SageMaker::Pipeline").values()
        if any(p["Properties"]["RoleArn"] == execution_role for p in pipelines):
            senders.append(Sender(execution_role, "external role", "s3", frozenset(OBJECT_WRITE[1])))
        found.append(Destination(name, key, tuple(senders)))
    for name, machine in stack.resources("AWS::StepFunctions::StateMachine").items():
        substitutions = machine["Properties"].get("DefinitionSubstitutions", {})
        if "DataCaptureKmsKeyId" in substitutions:  # the models' role writes what the endpoint captures
            writer = Sender(
                substitutions["SageMakerExecutionRoleArn"], "external role", "s3", frozenset(OBJECT_WRITE[1])
            )
            found.append(Destination(f"{name} data capture", substitutions["DataCaptureKmsKeyId"], (writer,)))
    return found


# ---------------------------------------------------------------------- can a sender use a key?
def condition_holds(condition: dict[str, Any], context: dict[str, str]) -> bool:
    """A statement's Condition for a request carrying `context` (a key it lacks fails the condition)."""
    for operator, tests in condition.items():
        for key, expected in tests.items():
            if key not in context:
                return False
            value = context[key]
            if operator in ("StringEquals", "ArnEquals") and value not in as_list(expected):
                return False
            if operator in ("StringLike", "ArnLike") and not any(
                fnmatch.fnmatchcase(value, e) for e in as_list(expected)
            ):
                return False
            if operator not in ("StringEquals", "ArnEquals", "StringLike", "ArnLike"):
                return False
    return True


def allows(statement: dict[str, Any], action: str, context: dict[str, str]) -> bool:
    return (
        statement.get("Effect") == "Allow"
        and any(fnmatch.fnmatchcase(action, pattern) for pattern in as_list(statement.get("Action", [])))
        and condition_holds(statement.get("Condition", {}), context)
    )


def principal_of(statement: dict[str, Any]) -> set[str]:
    principal = statement.get("Principal", {})
    return {str(p) for values in principal.values() for p in as_list(values)} if isinstance(principal, dict) else set()


def context_of(stack: ResolvedStack, sender: Sender) -> dict[str, str]:
    """What a sender's request to KMS carries: a role's goes through the service (kms:ViaService); CloudWatch
    says which alarm it acts for; EventBridge says nothing (AWS documents no source keys for it)."""
    if sender.kind != "service":
        return {"kms:ViaService": f"{sender.service}.{REGION}.amazonaws.com", "aws:SourceAccount": ACCOUNT_ID}
    if sender.principal == "cloudwatch.amazonaws.com":
        return {"aws:SourceAccount": ACCOUNT_ID, "aws:SourceArn": sender.source}
    return {}


def refusals(stack: ResolvedStack, key_policy: dict[str, Any] | None, destination: Destination) -> list[str]:
    """Why each sender that cannot use the destination's key cannot."""
    key = destination.key
    if key is None:
        return []
    problems = []
    for sender in destination.senders:
        where = f"{destination.name}: {sender.principal}"
        context = context_of(stack, sender)
        if key.startswith("alias/aws/"):  # an AWS-managed key admits the account's principals through the service
            if sender.kind == "service":
                problems.append(f"{where} cannot use the AWS-managed {key} (its key policy admits no service)")
            continue
        if key_policy is None:
            problems.append(f"{where}: no key policy known for {key}")
            continue
        key_statements = statements_of(key_policy)
        by_iam = any(
            f"arn:aws:iam::{ACCOUNT_ID}:root" in principal_of(s) and allows(s, "kms:Decrypt", {})
            for s in key_statements
        )
        if sender.kind == "role":
            arn = stack.get_att(sender.principal, "Arn")
            iam = role_statements(stack, sender.principal)
            for action in sorted(sender.needs):
                in_key_policy = any(arn in principal_of(s) and allows(s, action, context) for s in key_statements)
                in_iam = by_iam and any(
                    allows(s, action, context) and key in as_list(s.get("Resource", [])) for s in iam
                )
                if not (in_key_policy or in_iam):
                    problems.append(f"{where} may not {action} with the key")
            continue
        for action in sorted(sender.needs):
            if not any(sender.principal in principal_of(s) and allows(s, action, context) for s in key_statements):
                problems.append(f"{where} may not {action} with the key (key policy)")
    return problems


def documented_key_policy(stack: ResolvedStack) -> dict[str, Any]:
    """The key policy docs/security.md gives for a key of your own, with this stack's values filled in."""
    page = (ROOT / "docs" / "security.md").read_text()
    [example] = re.findall(r"```json\n(\{\n  \"Version\".*?\n\})\n```", page, re.S)
    values = {
        "ACCOUNT": ACCOUNT_ID,
        "REGION": REGION,
        "PARTITION": "aws",
        "PROJECT": stack.parameters["ProjectName"],
        "EXECUTION_ROLE_ARN": stack.parameters["SageMakerExecutionRoleArn"],
    }
    return dict(json.loads(re.sub(r"<([A-Z_]+)>", lambda m: values[m.group(1)], example)))


def key_policy_of(stack: ResolvedStack) -> dict[str, Any] | None:
    keys = stack.resources("AWS::KMS::Key")
    if keys:
        return dict(next(iter(keys.values()))["Properties"]["KeyPolicy"])
    return documented_key_policy(stack) if stack.parameters.get("KmsKey") else None


def undeliverable(stack: ResolvedStack, key_policy: dict[str, Any] | None = None) -> list[str]:
    policy = key_policy_of(stack) if key_policy is None else key_policy
    return [problem for destination in destinations(stack) for problem in refusals(stack, policy, destination)]


VARIANTS = {
    "AWS-managed keys": {},
    "the stack's own key": {"KmsKey": "create"},
    "your key, with the documented key policy": {"KmsKey": USER_KEY_ARN},
}


# ---------------------------------------------------------------------- the checks
@pytest.mark.parametrize("variant", VARIANTS)
def test_every_sender_can_use_the_key_of_what_it_writes_to(variant: str) -> None:
    stack = ResolvedStack.of(**VARIANTS[variant])

    found = destinations(stack)

    assert undeliverable(stack) == []
    senders = {d.name: {s.principal for s in d.senders} for d in found}
    assert "events.amazonaws.com" in senders["DeadLetterQueue"]
    assert "cloudwatch.amazonaws.com" in senders["NotificationTopic"]
    assert {"DeployStateMachineRole", "PipelineStatusFunctionRole"} <= senders["NotificationTopic"]
    assert {"ApprovalFunctionRole", "AlarmFunctionRole"} <= senders["RejectedEventsQueue"]
    assert stack.parameters["SageMakerExecutionRoleArn"] in senders["DeployStateMachine data capture"]
    assert len(senders["Ledger"]) == 11  # every function and workflow records in the ledger


@pytest.mark.parametrize("variant", ["the stack's own key", "your key, with the documented key policy"])
def test_with_a_customer_managed_key_everything_is_encrypted_with_it(variant: str) -> None:
    stack = ResolvedStack.of(**VARIANTS[variant])
    key = stack.get_att("ProjectKey", "Arn") if stack.resources("AWS::KMS::Key") else USER_KEY_ARN

    keys = {d.name: d.key for d in destinations(stack)}

    assert keys == {
        "RejectedEventsQueue": key,
        "DeadLetterQueue": key,
        "NotificationTopic": key,
        "Ledger": key,
        "ArtifactBucket": key,
        "DeployStateMachine data capture": key,
        "RollbackStateMachine data capture": key,
    }


def test_without_one_aws_managed_keys_and_no_key_on_the_topic() -> None:
    stack = ResolvedStack.of()

    keys = {d.name: d.key for d in destinations(stack)}
    queues = stack.resources("AWS::SQS::Queue").values()

    assert keys["Ledger"] == "alias/aws/dynamodb"
    assert keys["ArtifactBucket"] == "alias/aws/s3"
    assert keys["DeployStateMachine data capture"] == keys["RollbackStateMachine data capture"] == "alias/aws/s3"
    assert all(q["Properties"]["SqsManagedSseEnabled"] is True for q in queues)
    assert keys["NotificationTopic"] is None  # aws/sns would drop the alarms' notifications (next test)


def test_the_documented_key_policy_for_your_key_is_the_one_the_stacks_own_key_has() -> None:
    stack = ResolvedStack.of(KmsKey="create")

    assert documented_key_policy(stack) == stack.resources("AWS::KMS::Key")["ProjectKey"]["Properties"]["KeyPolicy"]


def test_the_aws_managed_sns_key_would_drop_the_alarms_notifications() -> None:
    stack = ResolvedStack.of()
    stack.template["Resources"]["NotificationTopic"]["Properties"]["KmsMasterKeyId"] = "alias/aws/sns"

    problems = undeliverable(stack)

    assert problems == [
        f"NotificationTopic: cloudwatch.amazonaws.com cannot use the AWS-managed alias/aws/sns {why}"
        for why in ["(its key policy admits no service)"] * 6  # the two operations alarms, bias and attribution
    ]


def without_statement(policy: dict[str, Any], sid: str) -> dict[str, Any]:
    changed = copy.deepcopy(policy)
    changed["Statement"] = [s for s in changed["Statement"] if s.get("Sid") != sid]
    assert len(changed["Statement"]) == len(policy["Statement"]) - 1, sid
    return changed


@pytest.mark.parametrize(
    ("sid", "expected"),
    [
        ("EventBridgeDeliversToTheDeadLetterQueue", "DeadLetterQueue: events.amazonaws.com may not kms:Decrypt"),
        ("ProjectAlarmsNotifyTheTopic", "NotificationTopic: cloudwatch.amazonaws.com may not kms:Decrypt"),
        (
            "SageMakerWritesArtifactsAndCapturedTraffic",
            "DeployStateMachine data capture: arn:aws:iam::123456789012:role/churn-sagemaker-execution may not",
        ),
        ("AdministeredByTheAccount", "Ledger: ApprovalFunctionRole may not kms:Decrypt"),
    ],
)
def test_the_check_fails_when_the_key_policy_leaves_a_sender_out(sid: str, expected: str) -> None:
    stack = ResolvedStack.of(KmsKey="create")
    policy = key_policy_of(stack)
    assert policy is not None

    problems = undeliverable(stack, without_statement(policy, sid))

    assert any(problem.startswith(expected) for problem in problems), problems


def test_a_source_condition_on_eventbridge_would_drop_every_dead_letter() -> None:
    stack = ResolvedStack.of(KmsKey="create")
    policy = copy.deepcopy(key_policy_of(stack))
    assert policy is not None
    [events] = [s for s in policy["Statement"] if s.get("Sid") == "EventBridgeDeliversToTheDeadLetterQueue"]
    events["Condition"] = {"StringEquals": {"aws:SourceAccount": ACCOUNT_ID}}

    assert "DeadLetterQueue: events.amazonaws.com may not kms:Decrypt with the key (key policy)" in undeliverable(
        stack, policy
    )


def test_the_check_fails_when_a_role_loses_the_key() -> None:
    stack = ResolvedStack.of(KmsKey="create")
    use = stack.template["Resources"]["ProjectKeyUse"]["Properties"]
    use["Roles"] = [role for role in use["Roles"] if role != {"Ref": "PipelineStatusFunctionRole"}]

    problems = undeliverable(stack)

    assert "NotificationTopic: PipelineStatusFunctionRole may not kms:GenerateDataKey with the key" in problems
    assert "RejectedEventsQueue: PipelineStatusFunctionRole may not kms:GenerateDataKey with the key" in problems
    assert all("PipelineStatusFunctionRole" in problem for problem in problems)


def test_every_endpoint_config_the_workflows_create_encrypts_its_capture_with_the_key() -> None:
    for workflow in ("deploy", "rollback"):
        definition = json.loads((ROOT / "statemachines" / f"{workflow}.asl.json").read_text())
        configs = [
            state
            for state in definition["States"].values()
            if state.get("Resource", "").endswith(":sagemaker:createEndpointConfig")
        ]
        assert configs, workflow
        for state in configs:
            if "DataCaptureConfig" not in state["Parameters"]:  # a serverless config: AWS supports no capture there
                assert state["Parameters"]["ProductionVariants.$"].endswith("ProductionVariants"), state
                assert "serverless" in state["Comment"].lower(), state
                continue
            assert state["Parameters"]["DataCaptureConfig"]["KmsKeyId"] == "${DataCaptureKmsKeyId}"


def test_the_stacks_own_key_is_rotated_and_outlives_the_stack_like_the_bucket() -> None:
    stack = ResolvedStack.of(KmsKey="create")
    key = stack.template["Resources"]["ProjectKey"]

    assert key["Properties"]["EnableKeyRotation"] is True
    assert (key["DeletionPolicy"], key["UpdateReplacePolicy"]) == ("Retain", "Retain")
    assert stack.template["Resources"]["ArtifactBucket"]["DeletionPolicy"] == "Retain"


# ---------------------------------------------------------------------- in the sandbox
@pytest.fixture
def encrypted_churn(sandbox: Any) -> SandboxWorld:
    return seeded(sandbox, KmsKey="create", BakeSeconds="60", RetentionSeconds="60", MinCandidateInvocations="0")


def test_a_deployment_with_the_stacks_own_key_captures_traffic_under_it(encrypted_churn: SandboxWorld) -> None:
    key_arn = encrypted_churn.client("kms").describe_key(KeyId=f"alias/{encrypted_churn.stack.project}-mlops")[
        "KeyMetadata"
    ]["Arn"]
    sagemaker = encrypted_churn.client("sagemaker")

    sagemaker.update_model_package(
        ModelPackageArn=encrypted_churn.world.pending_version_arn, ModelApprovalStatus="Approved"
    )
    encrypted_churn.sandbox.settle()

    assert encrypted_churn.live_model_package() == encrypted_churn.world.pending_version_arn
    config_name = sagemaker.describe_endpoint(EndpointName=encrypted_churn.stack.endpoint_name)["EndpointConfigName"]
    capture = sagemaker.describe_endpoint_config(EndpointConfigName=config_name)["DataCaptureConfig"]
    assert capture["KmsKeyId"] == key_arn
    queue = encrypted_churn.client("sqs").get_queue_attributes(
        QueueUrl=encrypted_churn.stack.outputs["DeadLetterQueueUrl"], AttributeNames=["KmsMasterKeyId"]
    )
    assert queue["Attributes"]["KmsMasterKeyId"] == key_arn
