"""`make demo`: the main job on the local sandbox, narrated.

1. A reviewer approves version 2: the approval event starts the deploy workflow, which moves traffic
   to the candidate in steps (10% -> 50% -> 100%), baking at each, and promotes it.
2. Version 3 is approved and misbehaves: with requests flowing, its 5XX errors trip its guard alarm
   during the first bake, all traffic goes back to the live variant, the previous configuration
   returns, version 3 is Rejected.
3. The same approval arrives twice more (duplicates are normal on AWS), and a malformed event too.
4. Drift: traffic from a shifted population reaches the endpoint, is captured, and the drift monitor
   measures it against the live version's baseline; the drift alarm starts the retrain workflow
   (another drift alarm meanwhile joins it); the reference training pipeline runs for real
   (preprocess, train, evaluate, accuracy gate, register) and a new version awaits approval, the
   team told with both versions' metrics side by side.
5. A transient pipeline failure is retried to success; a permanent one is reported with its step and
   reason; a threshold above what the model reaches fails the quality gate.
6. With auto-approval on (a second project): drift -> retrain on newer data -> the better version is
   approved -> the canary ships it.
7. Shadow deployments, then ground truth, bias and attribution (projects of their own).
8. Other ways to serve: a serverless project (the endpoint replaced at once and baked, a cold-start guard alarm
   rolls it back, nothing captured) and a batch project (a file put in the bucket is scored by a transform job,
   a shifted file raises the drift alarm and starts a retrain).
9. The operator's command line, `mlops`, on the first project: status, history, the lineage of the newest version
   (its data, code, hyperparameters, pipeline run, the retrain that made it), and the HTML report.
"""

from __future__ import annotations

import io
import json
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pipeline import dataset

from .core import ALGORITHM_ERROR, CAPACITY_ERROR, Sandbox, Stack
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


def inbox(sandbox: Sandbox, stack: Stack) -> Callable[[], list[dict[str, Any]]]:
    """An SQS queue subscribed to the notification topic: what the team's tooling would read."""
    sqs, sns = sandbox.client("sqs"), sandbox.client("sns")
    url = sqs.create_queue(QueueName=f"{stack.project}-inbox")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=stack.outputs["NotificationTopicArn"], Protocol="sqs", Endpoint=arn)

    def read() -> list[dict[str, Any]]:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        return [json.loads(m["Body"]) for m in messages]

    return read


def set_alarm(sandbox: Sandbox, name: str, state: str, reason: str) -> None:
    sandbox.client("cloudwatch").set_alarm_state(AlarmName=name, StateValue=state, StateReason=reason)


def retrain_runs(sandbox: Sandbox, stack: Stack) -> list[dict[str, Any]]:
    sfn = sandbox.client("stepfunctions")
    listed = sfn.list_executions(stateMachineArn=stack.outputs["RetrainStateMachineArn"])["executions"]
    return [sfn.describe_execution(executionArn=e["executionArn"]) for e in reversed(listed)]


def retrain_by_hand(sandbox: Sandbox, stack: Stack, request: dict[str, Any]) -> dict[str, Any]:
    sfn = sandbox.client("stepfunctions")
    started = sfn.start_execution(stateMachineArn=stack.outputs["RetrainStateMachineArn"], input=json.dumps(request))
    sandbox.settle(timeout=180)
    return dict(sfn.describe_execution(executionArn=started["executionArn"]))


def ended(execution: dict[str, Any]) -> str:
    if execution["status"] == "SUCCEEDED":
        result = json.loads(execution["output"])
        return f"{result['Status']}: {result['Reason']}"
    return f"{execution.get('error')}: {execution.get('cause')}"


def latest_pipeline_run(sandbox: Sandbox, stack: Stack) -> str:
    runs = sandbox.client("sagemaker").list_pipeline_executions(PipelineName=stack.parameters["PipelineName"])
    return str(runs["PipelineExecutionSummaries"][-1]["PipelineExecutionArn"])


def send_customers(sandbox: Sandbox, stack: Stack, shift: float, customers: int = 1000) -> None:
    runtime = sandbox.client("sagemaker-runtime")
    rows = dataset.generate(rows=customers, seed=17, shift=shift)
    for start in range(0, customers, 20):
        body = dataset.to_csv(rows[start : start + 20], header=False, label=False)
        runtime.invoke_endpoint(EndpointName=stack.endpoint_name, ContentType="text/csv", Body=body)


def wait_for_alarm(sandbox: Sandbox, name: str, timeout: float = 10) -> str:
    cloudwatch = sandbox.client("cloudwatch")
    deadline = time.monotonic() + timeout
    while True:
        state = str(cloudwatch.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]["StateValue"])
        if state == "ALARM" or time.monotonic() > deadline:
            return state
        time.sleep(0.05)


def monitor(sandbox: Sandbox, stack: Stack, label: str) -> None:
    summary = sandbox.run_drift_monitor(stack.project)
    worst = max(summary["FeaturePSI"].items(), key=lambda item: item[1] or 0)
    say(
        f"    {label}: drift monitor read {summary['Records']} captured customers in {summary['Files']} files: "
        f"drift score {summary['DriftScore']:.3f} (worst {worst[0]} PSI {worst[1]:.3f}, predictions "
        f"{summary['PredictionPSI']:.3f})"
    )


def retrain_on_drift(sandbox: Sandbox, stack: Stack, read: Callable[[], list[dict[str, Any]]]) -> None:
    send_customers(sandbox, stack, shift=0.0)
    monitor(sandbox, stack, "1,000 customers like the training data (beside the background traffic)")
    send_customers(sandbox, stack, shift=1.0)
    monitor(sandbox, stack, "1,000 customers of a shifted population (beside the background traffic)")
    alarm = f"{stack.project}-drift-score"
    sandbox.slow_pipeline_steps(0.5)  # training takes time: another drift alarm fires meanwhile
    say(f"    {alarm}: {wait_for_alarm(sandbox, alarm)} (threshold 0.2) -> the retrain workflow starts")
    predictions = f"{stack.project}-drift-predictions"
    set_alarm(sandbox, predictions, "ALARM", "PSI of the predictions 0.27")
    say(f"    {predictions}: ALARM while the retrain runs -> joins it")
    sandbox.settle(timeout=180)
    sandbox.slow_pipeline_steps(0)
    [run] = retrain_runs(sandbox, stack)
    joined = [e for e in ledger_of(sandbox, stack, f"RETRAIN#{run['name']}") if e["sk"].startswith("JOINED#")]
    say(f"    retrain workflows started: 1 ({run['name']}); alarms joined to it: {len(joined)}")
    for line in pipeline_steps(sandbox, latest_pipeline_run(sandbox, stack)):
        say(f"    {line}")
    say(f"    retrain: {ended(run)}")
    for message in read():
        say(f"    notified ({message['Subject']}):")
        for part in message["Message"].split(" | "):
            for line in textwrap.wrap(part, 100, subsequent_indent="  "):
                say(f"      {line}")


def ledger_of(sandbox: Sandbox, stack: Stack, pk: str) -> list[dict[str, Any]]:
    items = sandbox.client("dynamodb").query(
        TableName=stack.ledger_table,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": pk}},
        ConsistentRead=True,
    )["Items"]
    return [{key: next(iter(value.values())) for key, value in item.items()} for item in items]


def retrain_failures(sandbox: Sandbox, stack: Stack) -> None:
    sandbox.fail_pipeline_step("Train", CAPACITY_ERROR, times=1)
    say(f"    next Train step fails once: {CAPACITY_ERROR[:60]}...")
    run = retrain_by_hand(sandbox, stack, {"Reason": "new labels", "RequestedBy": "demo"})
    steps = sandbox.client("sagemaker").list_pipeline_execution_steps(
        PipelineExecutionArn=latest_pipeline_run(sandbox, stack)
    )["PipelineExecutionSteps"]
    attempts = max(s["AttemptCount"] for s in steps if s["StepName"] == "Train")
    say(f"    retried (RetryPipelineExecution), Train attempts: {attempts} -> {ended(run)}")
    sandbox.fail_pipeline_step("Evaluate", ALGORITHM_ERROR, times=None)
    say(f"    every Evaluate step fails: {ALGORITHM_ERROR}")
    run = retrain_by_hand(sandbox, stack, {"Reason": "new labels, again", "RequestedBy": "demo"})
    say(f"    not retried -> {ended(run)}")
    sandbox.clear_pipeline_failures()
    run = retrain_by_hand(
        sandbox,
        stack,
        {"Reason": "stricter bar", "RequestedBy": "demo", "PipelineParameters": {"AccuracyThreshold": 0.95}},
    )
    say(f"    AccuracyThreshold 0.95 -> {ended(run)}")


def auto_approval_chain(sandbox: Sandbox) -> None:
    stack = sandbox.deploy_stack("churnauto", AutoApprove="true", AutoApproveMargin="0.01")
    world = seed_world(sandbox, stack)
    say(f"    stack churnauto (AutoApprove=true, margin 0.01): {stack.endpoint_name} = {serving(sandbox, stack)}")
    sandbox.start_traffic(stack.endpoint_name, per_minute=600)
    bucket = stack.outputs["ArtifactBucketName"]
    newer = dataset.to_csv(dataset.generate(rows=3000, seed=11, shift=1.0))
    sandbox.client("s3").put_object(Bucket=bucket, Key="pipeline/data/churn-2026-11-27.csv", Body=newer.encode())
    say(f"    newer data: s3://{bucket}/pipeline/data/churn-2026-11-27.csv (the customer base has shifted)")
    set_alarm(sandbox, f"{stack.project}-drift-score", "ALARM", "drift score 0.42 (contract)")
    sandbox.settle(timeout=180)
    [run] = retrain_runs(sandbox, stack)
    say(f"    retrain: {ended(run)}"[:220])
    deploys = sandbox.client("stepfunctions").list_executions(stateMachineArn=stack.deploy_state_machine_arn)
    latest = deploys["executions"][0]
    say(f"    deploy {latest['name']}: {outcome(sandbox, latest)}")
    say(f"    {stack.endpoint_name} = {serving(sandbox, stack)} (was {version_label(world.live_version_arn)})")


def shadow_deployments(sandbox: Sandbox) -> None:
    """A stack deploying by shadow: one version agrees and is promoted through the canary, one trained on
    flipped labels disagrees and is rejected with its report; clients are answered by the live version."""
    sandbox.stop_traffic()  # the other stacks' requests would take the machine from this one's
    stack = sandbox.deploy_stack("churnshadow", DeploymentStrategy="Shadow", ShadowSeconds="5000", BakeSeconds="60")
    world = seed_world(sandbox, stack)
    sandbox.start_traffic(stack.endpoint_name, per_minute=600)
    say(
        f"    stack churnshadow (DeploymentStrategy=Shadow, 5 s shadows): "
        f"{stack.endpoint_name} = {serving(sandbox, stack)}"
    )
    runtime, sagemaker = sandbox.client("sagemaker-runtime"), sandbox.client("sagemaker")
    customer = "2,110.0,6,3.0,month-to-month,electronic-check,under-65"
    flipped = register_version(sandbox, stack, 3, "PendingManualApproval", flip_labels=True)
    sandbox.settle()
    for arn, label in ((world.pending_version_arn, "agrees"), (flipped, "trained on flipped labels")):
        sagemaker.update_model_package(ModelPackageArn=arn, ModelApprovalStatus="Approved")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            endpoint = sagemaker.describe_endpoint(EndpointName=stack.endpoint_name)
            if endpoint.get("ShadowProductionVariants"):
                break
            time.sleep(0.05)
        live = [v["VariantName"] for v in endpoint["ProductionVariants"]]
        shadow = [v["VariantName"] for v in endpoint.get("ShadowProductionVariants", [])]
        answer = runtime.invoke_endpoint(EndpointName=stack.endpoint_name, ContentType="text/csv", Body=customer)
        say(
            f"    {version_label(arn)} ({label}) in shadow: production {live}, shadow {shadow}; a client's request "
            f"answered by {answer['InvokedProductionVariant']}: {answer['Body'].read().decode().strip()}"
        )
        sandbox.settle()
        sfn = sandbox.client("stepfunctions")
        execution = sfn.list_executions(stateMachineArn=stack.deploy_state_machine_arn)["executions"][0]
        say(f"    execution {execution['name']}: {outcome(sandbox, execution)}"[:400])
        package = sagemaker.describe_model_package(ModelPackageName=arn)
        say(
            f"    registry: {version_label(arn)} {package['ModelApprovalStatus']}"
            + (
                f": {package.get('ApprovalDescription', '')}"[:300]
                if package["ModelApprovalStatus"] == "Rejected"
                else ""
            )
        )
        say(f"    {stack.endpoint_name} = {serving(sandbox, stack)}")


def send_labelled(sandbox: Sandbox, stack: Stack, records: list[dict[str, object]], tag: str) -> dict[str, int]:
    """One request per customer with its InferenceId, then each customer's true outcome uploaded as ground truth in
    Model Monitor's format (under the hour it was collected); returns {InferenceId: label}."""
    runtime = sandbox.client("sagemaker-runtime")
    labels = {}
    for i, record in enumerate(records):
        body = dataset.to_csv([record], header=False, label=False)
        runtime.invoke_endpoint(
            EndpointName=stack.endpoint_name, ContentType="text/csv", Body=body, InferenceId=f"{tag}-{i}"
        )
        labels[f"{tag}-{i}"] = int(str(record[dataset.LABEL]))
    lines = [
        json.dumps(
            {
                "groundTruthData": {"data": str(v), "encoding": "CSV"},
                "eventMetadata": {"eventId": k},
                "eventVersion": "0",
            }
        )
        for k, v in labels.items()
    ]
    key = f"groundtruth/{time.strftime('%Y/%m/%d/%H', time.gmtime())}/{tag}.jsonl"
    sandbox.client("s3").put_object(
        Bucket=stack.outputs["ArtifactBucketName"], Key=key, Body=("\n".join(lines) + "\n").encode()
    )
    return labels


def monitor_figures(sandbox: Sandbox, stack: Stack) -> dict[str, Any]:
    summary = sandbox.run_drift_monitor(stack.project)
    quality = summary.get("GroundTruth", {}).get("Figures", {})
    bias, attribution = summary.get("Bias", {}), summary.get("Attribution", {})
    if quality:
        say(
            f"    quality on {summary['GroundTruth']['Joined']} labelled predictions: "
            f"accuracy {quality['Accuracy']:.3f} "
            f"(registered {quality['Accuracy'] + quality['AccuracyDrop']:.3f}), AUC {quality['AUC']:.3f}, "
            f"F1 {quality['F1']:.3f}; data drift score {summary['DriftScore']:.3f}"
        )
    if "DPPL" in bias:
        say(
            f"    bias across {bias['Facet']} ({bias['Groups'][0]} vs {bias['Groups'][1]} customers): "
            f"DPPL {bias['DPPL']:+.3f} (band +/-0.1), DI {bias['DI']:.3f} (band 0.8..1.25)"
        )
    if attribution.get("NDCG") is not None:
        top = sorted(attribution["Live"], key=lambda name: -(attribution["Live"][name] or 0))[:3]
        say(
            f"    attribution: NDCG {attribution['NDCG']:.3f} against the registered ranking; "
            f"live top 3: {', '.join(top)}"
        )
    return summary


def alarms_now(sandbox: Sandbox, stack: Stack, *names: str) -> str:
    sandbox.evaluate_alarms()  # CloudWatch evaluates its alarms as the figures arrive
    alarms = sandbox.client("cloudwatch").describe_alarms(AlarmNames=[f"{stack.project}-{n}" for n in names])
    return ", ".join(f"{a['AlarmName']} {a['StateValue']}" for a in alarms["MetricAlarms"])


def model_monitoring(sandbox: Sandbox) -> None:
    """Ground truth, bias and attribution on a stack of their own: labels that agree, concept drift -> the quality
    alarm -> a retrain on newer labelled data; biased traffic -> the bias alarms; a new segment -> attribution."""
    sandbox.stop_traffic()  # only this step's requests are captured
    stack = sandbox.deploy_stack("churnquality", QualityMinRecords="100", DriftMinRecords="100")
    seed_world(sandbox, stack)
    bucket = stack.outputs["ArtifactBucketName"]
    say(f"    stack churnquality: {stack.endpoint_name} = {serving(sandbox, stack)}")
    send_labelled(sandbox, stack, dataset.generate(rows=500, seed=51), "agree")
    say("    500 customers like the training data; their true outcomes arrive as ground truth")
    monitor_figures(sandbox, stack)
    say(f"    -> {alarms_now(sandbox, stack, 'drift-quality-accuracy', 'drift-score', 'bias-dppl')}")

    send_labelled(sandbox, stack, dataset.generate(rows=500, seed=52, concept=1.0), "concept")
    say("    500 customers drawn as before, who now churn for other reasons (concept drift: same inputs, new labels)")
    monitor_figures(sandbox, stack)
    newer = dataset.to_csv(dataset.generate(rows=3000, seed=55, concept=1.0))
    sandbox.client("s3").put_object(Bucket=bucket, Key="pipeline/data/churn-labelled-2026-12.csv", Body=newer.encode())
    say(f"    newer labelled data: s3://{bucket}/pipeline/data/churn-labelled-2026-12.csv")
    say(f"    -> {alarms_now(sandbox, stack, 'drift-quality-accuracy', 'drift-quality-auc', 'drift-score')}")
    sandbox.settle(timeout=180)
    [run] = retrain_runs(sandbox, stack)
    say(f"    retrain {run['name']}: {ended(run)}"[:400])

    send_labelled(sandbox, stack, dataset.grouped_by_risk(dataset.generate(rows=500, seed=53)), "biased")
    say("    500 customers whose 65-plus members are the least likely to churn (the model never sees the group)")
    monitor_figures(sandbox, stack)
    say(f"    -> {alarms_now(sandbox, stack, 'bias-dppl', 'bias-di-low')} (notifies; no retrain)")

    segment = [r for r in dataset.generate(rows=2000, seed=54) if r["contract"] == "month-to-month"][:500]
    send_labelled(sandbox, stack, segment, "campaign")
    say("    500 customers of a campaign for monthly contracts: the contract no longer tells customers apart")
    monitor_figures(sandbox, stack)
    say(f"    -> {alarms_now(sandbox, stack, 'attribution-ndcg', 'drift-score')}")
    sandbox.settle(timeout=180)
    held = [e for e in ledger_of(sandbox, stack, f"PROJECT#{stack.project}") if str(e["sk"]).startswith("HELD")]
    say(f"    retrains: {len(retrain_runs(sandbox, stack))}; drift alarms held back by the cooldown: {len(held)}")


def serverless_project(sandbox: Sandbox) -> None:
    """ServingKind Serverless: one variant, no capture; an approval replaces the config at once and bakes it."""
    sandbox.stop_traffic()
    stack = sandbox.deploy_stack(
        "churnsls", ServingKind="Serverless", ServerlessMemorySizeInMB="2048", BakeSeconds="2000", RetentionSeconds="60"
    )
    world = seed_world(sandbox, stack)
    sagemaker = sandbox.client("sagemaker")

    def config_now() -> str:
        name = sagemaker.describe_endpoint(EndpointName=stack.endpoint_name)["EndpointConfigName"]
        [variant] = sagemaker.describe_endpoint_config(EndpointConfigName=name)["ProductionVariants"]
        memory = variant["ServerlessConfig"]["MemorySizeInMB"]
        return f"{name} ({variant['VariantName']}, serverless {memory} MB)"

    say(f"    stack churnsls: {stack.endpoint_name} = {serving(sandbox, stack)} on {config_now()}")
    sandbox.start_traffic(stack.endpoint_name, per_minute=600)
    execution = approve_and_follow(sandbox, stack, world.pending_version_arn)
    sandbox.settle()
    say(f"    approve v2: {outcome(sandbox, execution)}")
    say(f"    {stack.endpoint_name} = {serving(sandbox, stack)} on {config_now()}")
    v3 = register_version(sandbox, stack, 3, "PendingManualApproval")
    sandbox.behave(v3, setup_ms=45_000)
    sandbox.settle()
    execution = approve_and_follow(sandbox, stack, v3)
    sandbox.settle()
    say(f"    approve v3 (cold starts of 45 s): {outcome(sandbox, execution)}"[:400])
    say(f"    {stack.endpoint_name} = {serving(sandbox, stack)} on {config_now()}")
    sandbox.flush_data_capture()
    captured = sandbox.client("s3").list_objects_v2(Bucket=stack.outputs["ArtifactBucketName"], Prefix="datacapture/")
    summary = sandbox.run_drift_monitor(stack.project)
    say(f"    captured objects: {captured.get('KeyCount', 0)}; drift monitor: {summary['Outcome']}")
    sandbox.stop_traffic()


def batch_project(sandbox: Sandbox) -> None:
    """ServingKind Batch: files under batch/input/ -> one transform job each -> outputs joined -> drift measured."""
    stack = sandbox.deploy_stack("churnbatch", ServingKind="Batch", DriftMinRecords="100")
    seed_world(sandbox, stack)
    bucket = stack.outputs["ArtifactBucketName"]
    s3, sfn = sandbox.client("s3"), sandbox.client("stepfunctions")
    [live] = ledger_entries(sandbox, stack, "LIVE")
    say(f"    stack churnbatch: no endpoint; the live batch model is v1 ({live['endpoint_config_name']})")
    for name, shift in (("customers-monday.csv", 0.0), ("customers-tuesday.csv", 1.0)):
        body = dataset.to_csv(dataset.generate(rows=2000, seed=61, shift=shift), header=False, label=False)
        s3.put_object(Bucket=bucket, Key=f"batch/input/{name}", Body=body.encode())
        sandbox.settle(timeout=180)
        [run] = sfn.list_executions(stateMachineArn=stack.outputs["BatchStateMachineArn"], maxResults=1)["executions"]
        described = sfn.describe_execution(executionArn=run["executionArn"])
        output = json.loads(described.get("output") or "{}")
        say(f"    put s3://{bucket}/batch/input/{name} (2,000 customers{', shifted' if shift else ''})")
        if described["status"] != "SUCCEEDED":
            say(f"    -> {described['status']}: {described.get('cause')}"[:400])
            continue
        out_bucket, _, out_key = output["Job"]["OutputUrl"].removeprefix("s3://").partition("/")
        first = s3.get_object(Bucket=out_bucket, Key=out_key)["Body"].read().decode().splitlines()[0]
        say(f"    -> transform job {output['Job']['JobName']}: s3://{out_bucket}/{out_key}")
        say(f"       first line (input, then churn probability): {first}")
        say(f"       drift score {output['Measure']['DriftScore']:.3f} over {output['Measure']['Records']} records")
        say(f"       {alarms_now(sandbox, stack, 'drift-score')}")
    sandbox.settle(timeout=180)
    runs = retrain_runs(sandbox, stack)
    say(f"    retrains started by the drift alarm: {len(runs)}" + (f" ({ended(runs[0])})"[:300] if runs else ""))


def mlops(sandbox: Sandbox, *argv: str) -> list[str]:
    """`.venv/bin/mlops <argv>` on the sandbox's clients: the lines it prints."""
    from mlops_cli.aws import Clients
    from mlops_cli.main import main

    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), clients=Clients(factory=sandbox.client), out=out, err=err)
    if code != 0:
        raise RuntimeError(f"mlops {' '.join(argv)} exited {code}: {err.getvalue()}")
    return out.getvalue().splitlines()


def operator_view(sandbox: Sandbox, stack: Stack) -> None:
    project = ("--project", stack.project)  # the sandbox holds several projects by now
    say(f"    $ mlops --project {stack.project} status")
    for line in mlops(sandbox, *project, "status")[:8]:
        say(f"      {line}")
    say(f"    $ mlops --project {stack.project} history -n 5")
    for line in mlops(sandbox, *project, "history", "-n", "5"):
        say(f"      {line[:150]}")
    newest = max(
        sandbox.client("sagemaker").list_model_packages(ModelPackageGroupName=stack.model_package_group)[
            "ModelPackageSummaryList"
        ],
        key=lambda item: int(item["ModelPackageVersion"]),
    )
    version = str(newest["ModelPackageVersion"])
    say(f"    $ mlops --project {stack.project} lineage {version}     # the newest version, registered by a retrain")
    for line in mlops(sandbox, *project, "lineage", version):
        say(f"      {line[:150]}")
    page = Path(tempfile.gettempdir()) / f"{stack.project}-mlops-report.html"
    say(f"    $ mlops --project {stack.project} report --out {page}")
    for line in mlops(sandbox, *project, "report", "--out", str(page)):
        say(f"      {line}")


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
        customers = (
            "60,30.0,0,25.0,two-year,credit-card,65-plus\n2,110.0,6,3.0,month-to-month,electronic-check,under-65\n"
        )
        answer = sandbox.client("sagemaker-runtime").invoke_endpoint(
            EndpointName=stack.endpoint_name, ContentType="text/csv", Body=customers
        )
        loyal, leaving = answer["Body"].read().decode().split()
        say(f"    InvokeEndpoint: churn probability {loyal} (two-year contract), {leaving} (month-to-month)")

        step(3, "A reviewer approves version 2: canary in steps, baked, promoted")
        sandbox.start_traffic(stack.endpoint_name, per_minute=600)
        say("    requests flow: 600 a minute, per-variant metrics feed the guard alarms")
        say("    33 a second are real requests: answered by the model and captured")
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

        step(8, "Drift: captured traffic measured, the drift alarm fires, a retrain runs, a version awaits approval")
        read = inbox(sandbox, stack)
        retrain_on_drift(sandbox, stack, read)

        step(9, "Retrains that fail: a transient failure retried, a permanent one reported, a quality gate missed")
        retrain_failures(sandbox, stack)

        step(10, "Auto-approval on: drift -> retrain on newer data -> registered -> approved -> canary -> promoted")
        auto_approval_chain(sandbox)

        step(11, "Shadow deployments: compared on copies of live requests before any user sees the version")
        shadow_deployments(sandbox)

        step(12, "Ground truth, bias and attribution: concept drift -> quality alarm -> retrain; bias; attribution")
        model_monitoring(sandbox)

        step(13, "Serverless endpoint: replaced at once and baked; a cold-start guard alarm rolls it back")
        serverless_project(sandbox)

        step(14, "Batch: a file put in the bucket is scored by a transform job; a shifted file starts a retrain")
        batch_project(sandbox)

        step(15, "The operator's command line on the first project: mlops status, history, lineage, report")
        operator_view(sandbox, stack)

    say()
    say(RULE)
    say(f"Done in {time.monotonic() - started:.1f}s.")
    say(RULE)
    return 0


if __name__ == "__main__":
    sys.exit(run())
