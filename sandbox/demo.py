"""`make demo`: the main job on the local sandbox, narrated.

1. A reviewer approves version 2: the approval event starts the deploy workflow, which moves traffic
   to the candidate in steps (10% -> 50% -> 100%), baking at each, and promotes it.
2. Version 3 is approved and misbehaves: with requests flowing, its 5XX errors trip its guard alarm
   during the first bake, all traffic goes back to the live variant, the previous configuration
   returns, version 3 is Rejected.
3. The same approval arrives twice more (duplicates are normal on AWS), and a malformed event too.
4. Retrain now: the retrain workflow starts the reference training pipeline, which runs for real
   (preprocess, train, evaluate, accuracy gate, register) and leaves a new version pending approval;
   with the accuracy threshold above what the model reaches, the quality gate fails the run.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

from .core import Sandbox, Stack
from .world import World, register_version, seed_world

RULE = "-" * 78


def say(text: str = "") -> None:
    print(text, flush=True)


def step(number: int, title: str) -> None:
    say()
    say(f"[{number}] {title}")


def version_label(package_arn: str) -> str:
    """arn:...:model-package/churn-models/2 -> churn-models/v2"""
    group, version = package_arn.rsplit("/", 2)[-2:]
    return f"{group}/v{version}"


def serving(sandbox: Sandbox, stack: Stack) -> str:
    """Who answers on the endpoint now: variant -> weight -> model package."""
    sagemaker = sandbox.client("sagemaker")
    endpoint = sagemaker.describe_endpoint(EndpointName=stack.endpoint_name)
    config = sagemaker.describe_endpoint_config(EndpointConfigName=endpoint["EndpointConfigName"])
    weights = {v["VariantName"]: v.get("CurrentWeight", 1.0) for v in endpoint["ProductionVariants"]}
    parts = []
    for variant in config["ProductionVariants"]:
        model = sagemaker.describe_model(ModelName=variant["ModelName"])
        package = (model.get("Containers") or [model.get("PrimaryContainer", {})])[0].get("ModelPackageName", "?")
        parts.append(f"{variant['VariantName']} {weights.get(variant['VariantName'], 0):.0%} {version_label(package)}")
    return f"{endpoint['EndpointConfigName']}: " + ", ".join(parts)


def ledger_entries(sandbox: Sandbox, stack: Stack, prefix: str) -> list[dict[str, Any]]:
    items = sandbox.client("dynamodb").query(
        TableName=stack.ledger_table,
        KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
        ExpressionAttributeValues={":pk": {"S": f"ENDPOINT#{stack.endpoint_name}"}, ":prefix": {"S": prefix}},
        ConsistentRead=True,
    )["Items"]
    return [{key: next(iter(value.values())) for key, value in item.items()} for item in items]


def weights_timeline(sandbox: Sandbox, stack: Stack, execution_name: str, since: float) -> list[str]:
    """The traffic steps the ledger recorded, and the endpoint changes SageMaker reported."""
    lines = [
        f"{e['at'][11:23]}  step: {e['percent']}% of traffic to {e['candidate_variant']}"
        for e in ledger_entries(sandbox, stack, f"STEP#{execution_name}#")
    ]
    for event in sandbox.state.emitted_events:
        if event["at"] < since:
            continue
        detail = event["detail"]
        if event["detail-type"] == "CloudWatch Alarm State Change" and detail["state"]["value"] == "ALARM":
            lines.append(f"{detail['state']['timestamp'][11:23]}  alarm: {detail['alarmName']} -> ALARM")
    return sorted(lines)


def approve_and_follow(sandbox: Sandbox, stack: Stack, arn: str) -> dict[str, Any]:
    say(f"    sagemaker:UpdateModelPackage {version_label(arn)} -> Approved")
    sandbox.client("sagemaker").update_model_package(ModelPackageArn=arn, ModelApprovalStatus="Approved")
    return latest_execution(sandbox, stack)


def latest_execution(sandbox: Sandbox, stack: Stack) -> dict[str, Any]:
    sfn = sandbox.client("stepfunctions")
    for _ in range(500):
        runs = sfn.list_executions(stateMachineArn=stack.deploy_state_machine_arn)["executions"]
        if runs and runs[0]["status"] == "RUNNING":
            return dict(runs[0])
        time.sleep(0.01)
    return dict(runs[0])


def outcome(sandbox: Sandbox, execution: dict[str, Any]) -> str:
    described = sandbox.client("stepfunctions").describe_execution(executionArn=execution["executionArn"])
    if described["status"] == "SUCCEEDED":
        return f"{described['status']}: {json.loads(described['output'])['Reason']}"
    return f"{described['status']} ({described.get('error')}): {described.get('cause')}"


def pipeline_steps(sandbox: Sandbox, execution_arn: str) -> list[str]:
    listed = sandbox.client("sagemaker").list_pipeline_execution_steps(
        PipelineExecutionArn=execution_arn, SortOrder="Ascending"
    )["PipelineExecutionSteps"]
    lines = []
    for item in listed:
        seconds = (item["EndTime"] - item["StartTime"]).total_seconds()
        note = item.get("FailureReason") or ""
        if "Condition" in item["Metadata"]:
            note = f"outcome {item['Metadata']['Condition']['Outcome']}"
        lines.append(f"{item['StepName']:<18} {item['StepStatus']:<10} {seconds:5.1f}s  {note}".rstrip())
    return lines


def retrain(sandbox: Sandbox, stack: Stack) -> None:
    sagemaker = sandbox.client("sagemaker")
    sfn = sandbox.client("stepfunctions")
    started = sfn.start_execution(
        stateMachineArn=stack.outputs["RetrainStateMachineArn"],
        input=json.dumps({"Reason": "new customer data", "RequestedBy": "demo"}),
    )
    sandbox.settle(timeout=180)
    output = json.loads(sfn.describe_execution(executionArn=started["executionArn"])["output"])
    say(f"    retrain workflow: {output['Reason']}")
    run = sagemaker.list_pipeline_executions(PipelineName=stack.parameters["PipelineName"])
    execution_arn = run["PipelineExecutionSummaries"][0]["PipelineExecutionArn"]
    for line in pipeline_steps(sandbox, execution_arn):
        say(f"    {line}")
    packages = sagemaker.list_model_packages(
        ModelPackageGroupName=stack.model_package_group, SortBy="CreationTime", SortOrder="Descending"
    )["ModelPackageSummaryList"]
    newest = sagemaker.describe_model_package(ModelPackageName=packages[0]["ModelPackageArn"])
    bucket, _, key = newest["ModelMetrics"]["ModelQuality"]["Statistics"]["S3Uri"].removeprefix("s3://").partition("/")
    metrics = json.loads(sandbox.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())
    accuracy = metrics["binary_classification_metrics"]["accuracy"]["value"]
    say(
        f"    registry: {version_label(newest['ModelPackageArn'])} {newest['ModelApprovalStatus']}, "
        f"accuracy {accuracy:.3f} on the test set, generated by {newest['MetadataProperties']['GeneratedBy'][-12:]}"
    )
    say("    the same pipeline with AccuracyThreshold=0.95 (above what the model reaches):")
    failed = sagemaker.start_pipeline_execution(
        PipelineName=stack.parameters["PipelineName"],
        PipelineParameters=[{"Name": "AccuracyThreshold", "Value": "0.95"}],
    )["PipelineExecutionArn"]
    sandbox.settle(timeout=180)
    described = sagemaker.describe_pipeline_execution(PipelineExecutionArn=failed)
    say(f"    {described['PipelineExecutionStatus']}: {described['FailureReason']}")
    after = sagemaker.list_model_packages(ModelPackageGroupName=stack.model_package_group)["ModelPackageSummaryList"]
    say(f"    registry: {len(after)} versions, none added")


def run() -> int:
    started = time.monotonic()
    say(RULE)
    say("Approval -> canary deployment -> promotion or rollback, on the local sandbox (moto, no AWS account)")
    say(RULE)
    # A bake of 600 s on AWS lasts 0.6 s here (time is compressed 1000x), long enough to watch.
    with Sandbox() as sandbox:
        step(1, "Deploy template.yaml into the sandbox (SAM transform offline, then CloudFormation)")
        stack = sandbox.deploy_stack("churn")
        functions = [v for k, v in stack.resources.items() if k.endswith("Function")]
        machines = [v.rsplit(":", 1)[-1] for k, v in stack.resources.items() if k.endswith("StateMachine")]
        guards = sorted(v for k, v in stack.resources.items() if k.startswith("Guard"))
        say(f"    functions      {', '.join(functions)}")
        say(f"    workflows      {', '.join(machines)}")
        say(f"    guard alarms   {', '.join(guards)}")

        step(2, "Seed the world: version 1 live (deployed through the real approval path), version 2 pending")
        world: World = seed_world(sandbox, stack)
        say(f"    {stack.endpoint_name} = {serving(sandbox, stack)}")
        say(f"    pending approval: {version_label(world.pending_version_arn)}")
        customers = "60,30.0,0,25.0,two-year,credit-card\n2,110.0,6,3.0,month-to-month,electronic-check\n"
        answer = sandbox.client("sagemaker-runtime").invoke_endpoint(
            EndpointName=stack.endpoint_name, ContentType="text/csv", Body=customers
        )
        loyal, leaving = answer["Body"].read().decode().split()
        say(f"    InvokeEndpoint: churn probability {loyal} (two-year contract), {leaving} (month-to-month)")

        step(3, "A reviewer approves version 2: canary in steps, baked, promoted")
        sandbox.start_traffic(stack.endpoint_name, per_minute=600)
        say("    requests flow: 600 a minute, per-variant metrics feed the guard alarms")
        since = time.monotonic()
        execution = approve_and_follow(sandbox, stack, world.pending_version_arn)
        sandbox.settle()
        for line in weights_timeline(sandbox, stack, execution["name"], since):
            say(f"    {line}")
        say(f"    execution {execution['name']}: {outcome(sandbox, execution)}")
        say(f"    {stack.endpoint_name} = {serving(sandbox, stack)}")

        step(4, "Version 3 is approved and misbehaves: half its answers are 5XX errors")
        v3 = register_version(sandbox, stack, 3, "PendingManualApproval")
        sandbox.behave(v3, error_rate=0.5)
        sandbox.settle()
        since = time.monotonic()
        execution = approve_and_follow(sandbox, stack, v3)
        sandbox.settle()
        for line in weights_timeline(sandbox, stack, execution["name"], since):
            say(f"    {line}")
        say(f"    execution {execution['name']}: {outcome(sandbox, execution)}")
        say(f"    {stack.endpoint_name} = {serving(sandbox, stack)}")
        package = sandbox.client("sagemaker").describe_model_package(ModelPackageName=v3)
        say(f"    registry: {version_label(v3)} {package['ModelApprovalStatus']}: {package.get('ApprovalDescription')}")

        step(5, "The ledger records what was decided, when, why and by whom")
        for entry in sorted(ledger_entries(sandbox, stack, "DEPLOYMENT#"), key=lambda e: e["started_at"]):
            say(f"    {entry['started_at'][11:23]}  {entry['outcome']:<10} {version_label(entry['model_package_arn'])}")
        [live] = ledger_entries(sandbox, stack, "LIVE")
        target = live["previous_endpoint_config_name"]
        say(f"    LIVE {version_label(live['model_package_arn'])} (rollback target {target})")

        step(6, "The approval of version 2 arrives twice more (SageMaker may repeat events)")
        sfn = sandbox.client("stepfunctions")
        before = len(sfn.list_executions(stateMachineArn=stack.deploy_state_machine_arn)["executions"])
        approval = next(
            e
            for e in sandbox.state.emitted_events
            if e["detail-type"] == "SageMaker Model Package State Change"
            and e["detail"]["ModelPackageArn"] == world.pending_version_arn
            and e["detail"]["ModelApprovalStatus"] == "Approved"
        )
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
        after = len(sfn.list_executions(stateMachineArn=stack.deploy_state_machine_arn)["executions"])
        say(f"    deploy executions: {before} before, {after} after")

        step(7, "A malformed event starts nothing and is kept with its reason")
        sandbox.client("events").put_events(
            Entries=[
                {
                    "Source": "aws.sagemaker",
                    "DetailType": "SageMaker Model Package State Change",
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
        for message in (
            sandbox.client("sqs").receive_message(QueueUrl=stack.outputs["RejectedEventsQueueUrl"]).get("Messages", [])
        ):
            say(f"    rejected-events queue: {json.loads(message['Body'])['reason']}")

        step(8, "Retrain now: the retrain workflow runs the training pipeline, for real")
        retrain(sandbox, stack)

    say()
    say(RULE)
    say(f"Done in {time.monotonic() - started:.1f}s.")
    say(RULE)
    return 0


if __name__ == "__main__":
    sys.exit(run())
