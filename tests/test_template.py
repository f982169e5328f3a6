"""Promises the template makes, read from template.yaml itself (after the SAM transform)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from botocore import xform_name

from sandbox.core import project_parameters
from sandbox.template import load_sam_template, to_cloudformation
from scripts.check_iam import NamedPolicy, ResolvedStack, findings, stack_findings

BOUNDARY = "arn:aws:iam::123456789012:policy/team-boundary"


def transformed(**overrides: str) -> dict[str, Any]:
    return to_cloudformation(load_sam_template(), project_parameters("churn", **overrides), "us-east-1")


def statements(template: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Every role's statements; a statement a condition includes (Fn::If) counts as granted."""
    found = []
    for name, resource in template["Resources"].items():
        if resource["Type"] == "AWS::IAM::Role":
            for policy in resource["Properties"].get("Policies", []):
                for statement in policy["PolicyDocument"]["Statement"]:
                    options = statement["Fn::If"][1:] if set(statement) == {"Fn::If"} else [statement]
                    found += [(name, option) for option in options if option != {"Ref": "AWS::NoValue"}]
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


# ---------------------------------------------------------------------- the policies against the code
ROOT = Path(__file__).resolve().parent.parent
FUNCTIONS = ROOT / "functions"
IAM_PREFIX = {"stepfunctions": "states"}
# The API and the action it is authorised as differ. TransactWriteItems has no action of its own: each of its
# items is authorised as its operation (the ledger's transactions hold Puts only, Ledger.commit_claims).
# HeadObject is authorised as s3:GetObject (botocore's s3 model, HeadObject: "To use HEAD, you must have the
# s3:GetObject permission").
IAM_ACTION = {
    "s3:ListObjectsV2": "s3:ListBucket",
    "s3:HeadObject": "s3:GetObject",
    "dynamodb:TransactWriteItems": "dynamodb:PutItem",
}
# How the code names each service's client (a module gets it as a parameter of that name).
CLIENT_NAMES = {
    "sagemaker": "sagemaker",
    "dynamodb": "dynamodb",
    "stepfunctions": "sfn",
    "sqs": "sqs",
    "sns": "sns",
    "s3": "s3",
    "cloudwatch": "cloudwatch",
    "application-autoscaling": "autoscaling",
}
# Permissions a function needs without a call of that name.
IMPLIED = {
    "sagemaker:AddTags": "CreateEndpoint with tags",
    "iam:CreateServiceLinkedRole": "RegisterScalableTarget creates Application Auto Scaling's role once",
}
IMPLIED_FOR = {
    ("canary", "sagemaker:UpdateEndpointWeightsAndCapacities"): "Application Auto Scaling checks the caller may",
}
# Calls in modules a function imports that this function never makes (another function's path).
NOT_CALLED_BY = {
    "alarm": {"dynamodb:Query", "states:SendTaskFailure"},
    "approval": {"dynamodb:Query", "states:SendTaskFailure"},
    "batch": {"dynamodb:Query", "s3:ListBucket"},  # the monitor's capture listing: a batch names its output
    "canary": {"dynamodb:Query"},
    "drift_monitor": {"dynamodb:Query"},
    "endpoint_status": {
        "dynamodb:Query",
        "sagemaker:CreateEndpoint",
        "sagemaker:UpdateEndpoint",
        "sagemaker:UpdateEndpointWeightsAndCapacities",
    },
    "endpoint_update": {"dynamodb:GetItem", "dynamodb:Query", "states:SendTaskFailure"},
    "pipeline_status": {"states:SendTaskFailure"},
    "retrain": {"sagemaker:DescribePipelineExecution", "states:SendTaskFailure"},
}


def imported_modules(path: Path) -> set[str]:
    """The mlops modules a file imports (`from mlops.x import`, `from mlops import x`, `from .x import`)."""
    found: set[str] = set()
    for module, names in re.findall(r"^from\s+(\S+)\s+import\s+\(?([^)]+?)\)?$", path.read_text(), re.M):
        listed = [name.strip() for name in names.replace("\n", ",").split(",") if name.strip()]
        if module in ("mlops", "."):
            found.update(listed)
        elif module.startswith(("mlops.", ".")):
            found.add(module.removeprefix("mlops.").removeprefix("."))
    return {name for name in found if (FUNCTIONS / "mlops" / f"{name}.py").exists()}


def code_of(function_dir: str) -> str:
    """app.py and every mlops module it reaches through imports."""
    seen: set[str] = set()
    pending = imported_modules(FUNCTIONS / function_dir / "app.py")
    while pending:
        module = pending.pop()
        if module not in seen:
            seen.add(module)
            pending |= imported_modules(FUNCTIONS / "mlops" / f"{module}.py")
    files = [FUNCTIONS / function_dir / "app.py", *(FUNCTIONS / "mlops" / f"{m}.py" for m in sorted(seen))]
    return "\n".join(file.read_text() for file in files)


def calls_in(function_dir: str) -> set[str]:
    """IAM actions of the boto3 calls the function's code reaches, on the clients its app.py creates."""
    app = (FUNCTIONS / function_dir / "app.py").read_text()
    code = code_of(function_dir)
    session = botocore.session.get_session()
    actions = set()
    for service in re.findall(r'boto3\.client\("([\w-]+)"\)', app):
        name = CLIENT_NAMES[service]
        for operation in session.get_service_model(service).operation_names:
            method = xform_name(operation)
            receiver = rf"(?<![\w.])(?:self\._)?{name}(?:\(\))?"
            if re.search(rf"{receiver}\.{method}\b", code) or re.search(
                rf'{receiver}\.get_paginator\("{method}"\)', code
            ):
                action = f"{IAM_PREFIX.get(service, service)}:{operation}"
                actions.add(IAM_ACTION.get(action, action))
    return actions


def granted(template: dict[str, Any], role: str) -> set[str]:
    return {
        action
        for name, statement in statements(template)
        if name == role and statement["Effect"] == "Allow"
        for action in actions(statement)
    }


def function_dirs() -> dict[str, str]:
    """Logical id -> functions/<dir> of every function in the template."""
    return {
        name: resource["Properties"]["Handler"].split(".", 1)[0]
        for name, resource in load_sam_template()["Resources"].items()
        if resource["Type"] == "AWS::Serverless::Function"
    }


@pytest.mark.parametrize("function", sorted(function_dirs()))
def test_each_function_may_make_exactly_the_calls_its_code_makes(function: str) -> None:
    directory = function_dirs()[function]
    allowed = granted(transformed(), f"{function}Role")
    calls = calls_in(directory)
    implied = set(IMPLIED) | {action for (where, action) in IMPLIED_FOR if where == directory}

    assert calls - NOT_CALLED_BY.get(directory, set()) <= allowed, "calls the role does not allow"
    assert allowed - implied <= calls, "permissions no call of the code uses"
    assert NOT_CALLED_BY.get(directory, set()) <= calls, "NOT_CALLED_BY names a call the code no longer has"


def workflow_actions(definition: dict[str, Any]) -> set[str]:
    """IAM actions of a workflow's tasks (aws-sdk and optimised integrations), with what they imply."""
    optimised = {"lambda:invoke": "lambda:InvokeFunction", "lambda:invoke.waitForTaskToken": "lambda:InvokeFunction"}
    needed = set()
    for state in definition["States"].values():
        resource = state.get("Resource", "")
        if not resource.startswith("arn:aws:states:::"):
            continue
        integration = resource.removeprefix("arn:aws:states:::").removeprefix("aws-sdk:")
        service, action = integration.split(":", 1)
        needed.add(optimised.get(integration) or f"{service}:{action[0].upper()}{action[1:]}")
        parameters = state.get("Parameters", {})
        if "Tags" in parameters and service == "sagemaker":
            needed.add("sagemaker:AddTags")
        if "ExecutionRoleArn" in parameters:
            needed.add("iam:PassRole")
    return needed


@pytest.mark.parametrize("machine", ["DeployStateMachine", "RollbackStateMachine", "RetrainStateMachine"])
def test_each_workflow_may_make_exactly_the_calls_its_definition_makes(machine: str) -> None:
    resource = load_sam_template()["Resources"][machine]["Properties"]
    definition = json.loads((ROOT / resource["DefinitionUri"]).read_text())
    log_delivery = {a for a in granted(transformed(), f"{machine}Role") if a.startswith("logs:")}

    assert granted(transformed(), f"{machine}Role") - log_delivery == workflow_actions(definition)


def test_workflows_invoke_only_the_functions_they_name() -> None:
    template = transformed()
    for machine in ("DeployStateMachine", "RollbackStateMachine", "RetrainStateMachine"):
        resource = load_sam_template()["Resources"][machine]["Properties"]
        text = (ROOT / resource["DefinitionUri"]).read_text()
        named = {
            resource["DefinitionSubstitutions"][key]["Fn::GetAtt"][0]
            for key in set(re.findall(r"\$\{(\w+FunctionArn)\}", text))
        }
        invoked = {
            statement["Resource"]["Fn::GetAtt"][0]
            for role, statement in statements(template)
            if role == f"{machine}Role" and "lambda:InvokeFunction" in actions(statement)
        }
        assert invoked == named, machine


# ---------------------------------------------------------------------- the policy linter
def test_every_policy_of_every_variant_passes_the_linter() -> None:
    for overrides in ({}, {"KmsKey": "create", "SubnetIds": "subnet-0a1", "SecurityGroupIds": "sg-0a1"}):
        assert stack_findings(ResolvedStack.of(**overrides)) == []


def test_the_linter_fails_on_an_over_broad_policy() -> None:
    everything = {"Sid": "Everything", "Effect": "Allow", "Action": "sagemaker:*", "Resource": "*"}

    problems = findings(NamedPolicy("SomeRole/SomePolicy", {"Statement": [everything]}))

    issues = {problem.split("] ", 1)[1].split(":", 1)[0] for problem in problems}
    assert {"RESOURCE_STAR", "WILDCARD_ACTION", "SAGEMAKER_MUTATION_ON_EVERY_RESOURCE"} <= issues


def test_the_linter_fails_on_the_stack_when_a_role_gets_too_much() -> None:
    stack = ResolvedStack.of()
    policies = stack.template["Resources"]["CanaryFunctionRole"]["Properties"]["Policies"]
    policies[0]["PolicyDocument"]["Statement"].append(
        {"Sid": "PassAnyRole", "Effect": "Allow", "Action": "iam:PassRole", "Resource": "*"}
    )

    problems = stack_findings(stack)

    assert any("CanaryFunctionRole" in p and "[PassAnyRole] PASSROLE_WITHOUT_SERVICE" in p for p in problems)
    assert any("CanaryFunctionRole" in p and "[PassAnyRole] PERMISSIONS_MANAGEMENT_ACTIONS" in p for p in problems)


def test_an_accepted_finding_stays_confined_to_what_it_names() -> None:
    """SendTaskSuccess scoped to a workflow is accepted; DescribeEndpointConfig on an endpoint is not."""
    workflow = "arn:aws:states:us-east-1:123456789012:stateMachine:churn-deploy"
    endpoint = "arn:aws:sagemaker:us-east-1:123456789012:endpoint/churn-endpoint"
    callback = {"Sid": "Callback", "Effect": "Allow", "Action": "states:SendTaskSuccess", "Resource": workflow}
    mismatch = {
        "Sid": "Mismatch",
        "Effect": "Allow",
        "Action": "sagemaker:DescribeEndpointConfig",
        "Resource": endpoint,
    }

    problems = findings(NamedPolicy("SomeRole/SomePolicy", {"Statement": [callback, mismatch]}))

    assert [p.split(" ", 1)[1].split(":", 1)[0] for p in problems] == ["[Mismatch] RESOURCE_MISMATCH"]


# ---------------------------------------------------------------------- operations: queues' alarms, dashboard
def breaches(alarm: dict[str, Any], value: float) -> bool:
    threshold = float(alarm["Threshold"])
    return {
        "GreaterThanThreshold": value > threshold,
        "GreaterThanOrEqualToThreshold": value >= threshold,
        "LessThanThreshold": value < threshold,
        "LessThanOrEqualToThreshold": value <= threshold,
    }[alarm["ComparisonOperator"]]


@pytest.mark.parametrize("queue", ["DeadLetterQueue", "RejectedEventsQueue"])
def test_one_message_waiting_in_either_queue_raises_its_alarm_which_notifies(queue: str) -> None:
    stack = ResolvedStack.of()
    dimension = {"Name": "QueueName", "Value": stack.physical_name(queue)}

    [alarm] = [
        a["Properties"]
        for a in stack.resources("AWS::CloudWatch::Alarm").values()
        if dimension in a["Properties"].get("Dimensions", [])
    ]

    assert (alarm["Namespace"], alarm["MetricName"]) == ("AWS/SQS", "ApproximateNumberOfMessagesVisible")
    assert breaches(alarm, 1) and not breaches(alarm, 0)
    assert (alarm["Statistic"], alarm["EvaluationPeriods"]) == ("Maximum", 1)  # one period with one message
    assert alarm["AlarmActions"] == [stack.ref("NotificationTopic")]


def dashboard_of(stack: ResolvedStack) -> dict[str, Any]:
    [resource] = stack.resources("AWS::CloudWatch::Dashboard").values()
    return dict(json.loads(resource["Properties"]["DashboardBody"]))


def metric_rows(body: dict[str, Any], metric: str) -> list[list[Any]]:
    return [
        row
        for widget in body["widgets"]
        if widget["type"] == "metric"
        for row in widget["properties"]["metrics"]
        if len(row) > 1 and row[1] == metric
    ]


def test_the_dashboard_shows_the_projects_own_workflows_functions_queues_and_alarms() -> None:
    stack = ResolvedStack.of()
    [dashboard] = stack.resources("AWS::CloudWatch::Dashboard").values()

    body = dashboard_of(stack)

    assert dashboard["Properties"]["DashboardName"] == "churn-mlops"
    workflows = {stack.ref(name) for name in stack.resources("AWS::StepFunctions::StateMachine")}
    assert len(workflows) == 3
    for metric in ("ExecutionsStarted", "ExecutionsSucceeded", "ExecutionsFailed", "ExecutionsTimedOut"):
        assert {row[3] for row in metric_rows(body, metric)} == workflows, metric
    functions = {stack.physical_name(name) for name in stack.resources("AWS::Lambda::Function")}
    assert {row[3] for row in metric_rows(body, "Errors")} == functions
    assert {row[3] for row in metric_rows(body, "Throttles")} == functions
    queues = {stack.physical_name(name) for name in stack.resources("AWS::SQS::Queue")}
    assert {row[3] for row in metric_rows(body, "ApproximateNumberOfMessagesVisible")} == queues
    assert {row[3] for row in metric_rows(body, "NumberOfMessagesSent")} == {"churn-rejected-events"}
    [alarms] = [w["properties"]["alarms"] for w in body["widgets"] if w["type"] == "alarm"]
    assert set(alarms) == {stack.get_att(name, "Arn") for name in stack.resources("AWS::CloudWatch::Alarm")}
    [query] = [w["properties"]["query"] for w in body["widgets"] if w["type"] == "log"]
    assert set(re.findall(r"SOURCE '([^']+)'", query)) == {
        stack.physical_name(name) for name in stack.resources("AWS::Logs::LogGroup") if "StateMachine" in name
    }
    assert all(w["x"] + w["width"] <= 24 for w in body["widgets"])


def test_the_dashboard_reads_the_metrics_the_functions_and_the_drift_monitor_publish() -> None:
    stack = ResolvedStack.of()
    body = dashboard_of(stack)
    environment = stack.resources("AWS::Lambda::Function")["DriftMonitorFunction"]["Properties"]["Environment"]
    namespace = environment["Variables"]["POWERTOOLS_METRICS_NAMESPACE"]
    handling = (FUNCTIONS / "mlops" / "handling.py").read_text()

    [search] = [
        row[0]["expression"]
        for w in body["widgets"]
        if w["type"] == "metric"
        for row in w["properties"]["metrics"]
        if isinstance(row[0], dict)
    ]

    assert search.startswith(f"SEARCH('{{{namespace},project,service}} project=\"churn\"'")
    assert 'add_dimension(name="project"' in handling  # the reactions' metrics carry the project
    drift_alarms = [
        a["Properties"]
        for a in stack.resources("AWS::CloudWatch::Alarm").values()
        if "Drift" in a["Properties"]["Namespace"]
    ]
    namespace = environment["Variables"]["DRIFT_NAMESPACE"]
    assert {a["Namespace"] for a in drift_alarms} == {namespace}
    monitor_rows = [
        row
        for w in body["widgets"]
        if w["type"] == "metric"
        for row in w["properties"]["metrics"]
        if row and row[0] == namespace
    ]
    # every figure shown is one the monitor publishes; every one an alarm reads is shown, or is what the alarm
    # compares (a drop below the registered figure, |DPPL|) beside the figure itself
    published = set(re.findall(r'\bdatum\(\s*"(\w+)"', (FUNCTIONS / "mlops" / "monitoring.py").read_text()))
    shown = {row[1] for row in monitor_rows}
    assert shown <= published | {"Accuracy", "Precision", "Recall", "F1", "AUC", "DPPL", "DI", "RD", "AD"}, (
        shown - published
    )
    compared = {"AccuracyDrop": "Accuracy", "AUCDrop": "AUC", "AbsDPPL": "DPPL"}
    for alarm in drift_alarms:
        assert compared.get(alarm["MetricName"], alarm["MetricName"]) in shown, alarm["MetricName"]


# ---------------------------------------------------------------------- parameters: names and URLs
def sagemaker_max(operation: str, member: str) -> int:
    """A request member's maximum length in botocore's model of the SageMaker API."""
    model = botocore.session.get_session().get_service_model("sagemaker")
    return int(model.operation_model(operation).input_shape.members[member].metadata["max"])


# Each parameter whose value becomes a SageMaker name, and the requests that take it as one.
SAGEMAKER_NAME_PARAMETERS = {
    "ModelPackageGroupName": [("CreateModelPackageGroup", "ModelPackageGroupName")],
    "EndpointName": [("CreateEndpoint", "EndpointName"), ("CreateEndpointConfig", "EndpointConfigName")],
    "PipelineName": [("CreatePipeline", "PipelineName"), ("CreatePipeline", "PipelineDisplayName")],
}


def test_every_sagemaker_name_parameter_is_listed_with_the_requests_that_take_it() -> None:
    """A parameter with SageMaker's name pattern (whose `-*` bounds nothing) is checked below."""
    parameters = load_sam_template()["Parameters"]
    named = {name for name, spec in parameters.items() if "(-*[" in str(spec.get("AllowedPattern", ""))}
    assert named == set(SAGEMAKER_NAME_PARAMETERS)


@pytest.mark.parametrize("parameter", sorted(SAGEMAKER_NAME_PARAMETERS))
def test_a_sagemaker_name_parameter_is_no_longer_than_sagemaker_takes(parameter: str) -> None:
    spec = load_sam_template()["Parameters"][parameter]
    limit = min(sagemaker_max(operation, member) for operation, member in SAGEMAKER_NAME_PARAMETERS[parameter])

    assert "MaxLength" in spec, f"{parameter}: its AllowedPattern alone lets a name of any length through"
    assert int(spec["MaxLength"]) <= limit
    longest = "a" * int(spec["MaxLength"])
    assert re.fullmatch(spec["AllowedPattern"], longest)  # the limit can be reached


def sagemaker_names_from_the_project(definition: Any) -> list[str]:
    """The States.Format templates of the SageMaker names a workflow makes from ${ProjectName}."""
    found = []
    if isinstance(definition, dict):
        for key, value in definition.items():
            if key.endswith("Name.$") and isinstance(value, str) and "${ProjectName}-" in value:
                found += re.findall(r"States\.Format\('(\$\{ProjectName\}-[^']*)'", value)
            else:
                found += sagemaker_names_from_the_project(value)
    elif isinstance(definition, list):
        for item in definition:
            found += sagemaker_names_from_the_project(item)
    return found


def test_the_names_made_from_the_longest_project_name_fit() -> None:
    """The workflows name models and endpoint configs <project>-...; the stack names its resources so too."""
    project = "p" * int(load_sam_template()["Parameters"]["ProjectName"]["MaxLength"])
    widest = "9" * 9  # a model package version has at most 9 digits, a short id 8 characters
    formats = [
        name
        for machine in ("deploy", "rollback")
        for name in sagemaker_names_from_the_project(
            json.loads((ROOT / f"statemachines/{machine}.asl.json").read_text())
        )
    ]
    assert len(formats) >= 3
    limit = min(sagemaker_max("CreateModel", "ModelName"), sagemaker_max("CreateEndpointConfig", "EndpointConfigName"))
    for name in formats:
        assert len(name.replace("${ProjectName}", project).replace("{}", widest)) <= limit, name

    stack = ResolvedStack.of(ProjectName=project)
    longest_region = len("ap-southeast-1") - len("us-east-1")  # the stack's sample region is us-east-1
    # Documented name limits: S3 bucket 63, Lambda function 64, SQS queue 80, state machine 80, alarm 255.
    limits = {
        "AWS::S3::Bucket": 63 - longest_region,
        "AWS::Lambda::Function": 64,
        "AWS::SQS::Queue": 80,
        "AWS::StepFunctions::StateMachine": 80,
        "AWS::CloudWatch::Alarm": 255,
    }
    for kind, limit in limits.items():
        for name in stack.resources(kind):
            assert len(stack.physical_name(name)) <= limit, (kind, stack.physical_name(name))


OTHER_DATA = "s3://other-bucket/data/"


def retrain_statements(stack: ResolvedStack) -> list[dict[str, Any]]:
    role = stack.resources("AWS::IAM::Role")["RetrainFunctionRole"]
    return [s for policy in role["Properties"]["Policies"] for s in policy["PolicyDocument"]["Statement"]]


def listable_buckets(stack: ResolvedStack) -> set[str]:
    found = set()
    for statement in retrain_statements(stack):
        if statement["Effect"] == "Allow" and "s3:ListBucket" in actions(statement):
            resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
            found |= {r.removeprefix("arn:aws:s3:::") for r in resources if "/" not in r}
    return found


def test_the_retrain_may_list_training_data_in_another_bucket() -> None:
    """newest_data lists TrainingDataUrl (ListObjectsV2): that bucket may be any, and only that one is added."""
    default = ResolvedStack.of()
    elsewhere = ResolvedStack.of(TrainingDataUrl=OTHER_DATA)
    artifacts = default.physical_name("ArtifactBucket")

    assert listable_buckets(default) == {artifacts}
    assert listable_buckets(elsewhere) == {artifacts, "other-bucket"}
    assert stack_findings(elsewhere) == []
    environment = elsewhere.resources("AWS::Lambda::Function")["RetrainFunction"]["Properties"]["Environment"]
    assert environment["Variables"]["TRAINING_DATA_URL"] == OTHER_DATA


def test_the_training_data_url_is_empty_or_an_s3_url_whose_bucket_the_policy_can_name() -> None:
    pattern = re.compile(load_sam_template()["Parameters"]["TrainingDataUrl"]["AllowedPattern"])
    for good in ("", OTHER_DATA, "s3://other-bucket", "s3://my.data-bucket/2026/churn.csv"):
        assert pattern.fullmatch(good), good
    for bad in ("other-bucket/data/", "https://other-bucket.s3.amazonaws.com/data/", "s3://", "s3:///data/", "s3://A/"):
        assert not pattern.fullmatch(bad), bad


def test_the_canary_knows_whether_models_run_with_network_isolation() -> None:
    for value in ("true", "false"):
        stack = ResolvedStack.of(EnableNetworkIsolation=value)
        environment = stack.resources("AWS::Lambda::Function")["CanaryFunction"]["Properties"]["Environment"]
        assert environment["Variables"]["ENABLE_NETWORK_ISOLATION"] == value
