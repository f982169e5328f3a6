"""`make demo`: the main job on the local sandbox, narrated.

A reviewer approves a model version in the registry; the event reaches the approval function,
which starts the deploy workflow; the workflow creates the model and endpoint config, updates
the endpoint and waits for it; the ledger and the notification topic record the outcome.
Then the same approval arrives again (duplicates are normal on AWS) and a malformed event too.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

from .core import Sandbox, Stack
from .world import World, seed_world

RULE = "-" * 78


def say(text: str = "") -> None:
    print(text, flush=True)


def step(number: int, title: str) -> None:
    say()
    say(f"[{number}] {title}")


def live_package(sandbox: Sandbox, stack: Stack) -> tuple[str, str, str]:
    sagemaker = sandbox.client("sagemaker")
    config_name = sagemaker.describe_endpoint(EndpointName=stack.endpoint_name)["EndpointConfigName"]
    weights = {v["VariantName"]: v.get("CurrentWeight", 1.0) for v in sagemaker.describe_endpoint(EndpointName=stack.endpoint_name)["ProductionVariants"]}
    variants = sagemaker.describe_endpoint_config(EndpointConfigName=config_name)["ProductionVariants"]
    variant = max(variants, key=lambda v: weights.get(v["VariantName"], 0.0))
    model = sagemaker.describe_model(ModelName=variant["ModelName"])
    return config_name, variant["ModelName"], model["Containers"][0]["ModelPackageName"]


def describe_event(event: dict[str, Any]) -> str:
    detail = event["detail"]
    if event["detail-type"] == "SageMaker Model Package State Change":
        what = f"v{detail['ModelPackageVersion']} {detail['ModelApprovalStatus']}"
    elif event["detail-type"] == "SageMaker Endpoint State Change":
        what = f"{detail['EndpointName']} {detail['EndpointStatus']} on {detail['EndpointConfigName']}"
    elif event["detail-type"] == "CloudWatch Alarm State Change":
        what = f"{detail['alarmName']} {detail['state']['value']}"
    else:
        what = ""
    return f"event  {event['detail-type']}: {what}"


def timeline(sandbox: Sandbox, since: float) -> list[str]:
    """What happened since `since`: service events and function invocations, in order."""
    entries = [(e["at"], describe_event(e)) for e in sandbox.state.emitted_events if e["at"] >= since]
    for invocation in sandbox.state.invocations:
        if invocation.at >= since:
            result = invocation.result or {}
            what = f"{result.get('action', 'requested')} - {result.get('reason', result.get('config', ''))}"
            entries.append((invocation.at, f"lambda {invocation.function_name}: {what}"))
    return [text for _, text in sorted(entries)]


def version_label(package_arn: str) -> str:
    """arn:...:model-package/churn-models/2 -> churn-models/v2"""
    group, version = package_arn.rsplit("/", 2)[-2:]
    return f"{group}/v{version}"


def workflow_path(sandbox: Sandbox, execution_arn: str) -> list[str]:
    history = sandbox.client("stepfunctions").get_execution_history(executionArn=execution_arn)["events"]
    return [e["stateEnteredEventDetails"]["name"] for e in history if "stateEnteredEventDetails" in e]


def ledger_entries(sandbox: Sandbox, stack: Stack, pk: str) -> list[dict[str, Any]]:
    items = sandbox.client("dynamodb").query(
        TableName=stack.ledger_table,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": pk}},
    )["Items"]
    return [{key: next(iter(value.values())) for key, value in item.items()} for item in items]


def subscribe_reader(sandbox: Sandbox, stack: Stack) -> str:
    sqs = sandbox.client("sqs")
    url = sqs.create_queue(QueueName="demo-notification-reader")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sandbox.client("sns").subscribe(TopicArn=stack.outputs["NotificationTopicArn"], Protocol="sqs", Endpoint=arn)
    return str(url)


def run() -> int:
    started = time.monotonic()
    say(RULE)
    say("Approval -> all-at-once deploy of a SageMaker model version, on the local sandbox (moto, no AWS account)")
    say(RULE)
    with Sandbox() as sandbox:
        step(1, "Deploy template.yaml into the sandbox (SAM transform offline, then CloudFormation)")
        stack = sandbox.deploy_stack("churn")
        kinds = {
            "Lambda functions": [v for k, v in stack.resources.items() if k.endswith("Function")],
            "State machines": [v.rsplit(":", 1)[-1] for k, v in stack.resources.items() if k.endswith("StateMachine")],
            "Ledger table": [stack.ledger_table],
            "Notification topic": [stack.outputs["NotificationTopicArn"].rsplit(":", 1)[-1]],
        }
        for kind, names in kinds.items():
            say(f"    {kind:<19} {', '.join(names)}")

        step(2, "Seed the world: a model package group with a live version and a pending one")
        world: World = seed_world(sandbox, stack)
        config, model, package = live_package(sandbox, stack)
        say(f"    {stack.endpoint_name} serves {version_label(package)} (config {config})")
        say(f"    pending approval: {world.pending_version_arn}")
        reader = subscribe_reader(sandbox, stack)
        since = time.monotonic()

        step(3, "A reviewer approves version 2 in the model registry")
        say(f"    sagemaker:UpdateModelPackage {world.pending_version_arn} -> Approved")
        sandbox.client("sagemaker").update_model_package(
            ModelPackageArn=world.pending_version_arn, ModelApprovalStatus="Approved"
        )
        sandbox.settle()
        for line in timeline(sandbox, since):
            say(f"    {line}")
        approval = next(e for e in sandbox.state.emitted_events if e["at"] >= since and e["source"] == "aws.sagemaker")
        started_by = next(
            i for i in sandbox.state.invocations if i.at >= since and i.function_name == f"{stack.project}-approval"
        )
        execution_arn = started_by.result["execution_arn"]

        step(4, "The deploy workflow ran (Step Functions; it waited for the endpoint's event, no polling)")
        sfn = sandbox.client("stepfunctions")
        execution = sfn.describe_execution(executionArn=execution_arn)
        say(f"    execution {execution['name']}: {execution['status']}")
        say("    " + " -> ".join(workflow_path(sandbox, execution_arn)))
        say(f"    output {execution.get('output')}")

        step(5, "The endpoint serves the approved version")
        config, model, package = live_package(sandbox, stack)
        say(f"    DescribeEndpoint({stack.endpoint_name}).EndpointConfigName = {config}")
        say(f"    DescribeEndpointConfig -> variant model {model}")
        say(f"    DescribeModel({model}) -> {package}")
        if package != world.pending_version_arn:
            say("    UNEXPECTED: the endpoint does not serve the approved version")
            return 1

        step(6, "The ledger records what was decided, when, why and by whom")
        for entry in ledger_entries(sandbox, stack, f"ENDPOINT#{stack.endpoint_name}"):
            if entry["sk"] == "LIVE":
                say(f"    LIVE  {entry['model_package_arn']} (before: {entry['previous_model_package_arn']})")
            elif entry["sk"].startswith("DEPLOYMENT#"):
                version = version_label(entry["model_package_arn"])
                say(f"    {entry['started_at']}  {entry['outcome']:<9} {version}  reason: {entry['reason']}")
        messages = sandbox.client("sqs").receive_message(QueueUrl=reader, MaxNumberOfMessages=10).get("Messages", [])
        for message in messages:
            body = json.loads(message["Body"])
            say(f"    notification: {body['Subject']}")

        step(7, "The same approval arrives twice more (SageMaker may repeat events)")
        before = len(sfn.list_executions(stateMachineArn=stack.deploy_state_machine_arn)["executions"])
        since = time.monotonic()
        for _ in range(2):
            sandbox.client("events").put_events(
                Entries=[
                    {
                        "Source": "aws.sagemaker",
                        "DetailType": approval["detail-type"],
                        "Detail": json.dumps(approval["detail"]),
                    }
                ]
            )
        sandbox.settle()
        for line in timeline(sandbox, since):
            say(f"    {line}")
        after = len(sfn.list_executions(stateMachineArn=stack.deploy_state_machine_arn)["executions"])
        say(f"    deploy executions: {before} before, {after} after")

        step(8, "A malformed event starts nothing and is kept with its reason")
        sandbox.client("events").put_events(
            Entries=[
                {
                    "Source": "aws.sagemaker",
                    "DetailType": approval["detail-type"],
                    "Detail": json.dumps(
                        {
                            "ModelPackageGroupName": stack.model_package_group,
                            "ModelPackageStatus": "Completed",
                            "ModelApprovalStatus": "Approved",
                        }
                    ),
                }
            ]
        )
        sandbox.settle()
        rejected = (
            sandbox.client("sqs").receive_message(QueueUrl=stack.outputs["RejectedEventsQueueUrl"]).get("Messages", [])
        )
        for message in rejected:
            say(f"    rejected-events queue: {json.loads(message['Body'])['reason']}")

    say()
    say(RULE)
    say(f"Done in {time.monotonic() - started:.1f}s: approval -> deploy -> endpoint -> ledger -> notification.")
    say(RULE)
    return 0


if __name__ == "__main__":
    sys.exit(run())
