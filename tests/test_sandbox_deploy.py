"""Approval -> deployment, end to end in the sandbox: the real template, functions and workflow."""

from __future__ import annotations

import json
import time

from tests.conftest import SandboxWorld, load_event


def subscribe_queue(churn: SandboxWorld) -> str:
    """An SQS queue subscribed to the notification topic, to read what people are told."""
    sqs, sns = churn.client("sqs"), churn.client("sns")
    url = sqs.create_queue(QueueName="notifications-reader")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=churn.stack.outputs["NotificationTopicArn"], Protocol="sqs", Endpoint=arn)
    return str(url)


def notifications(churn: SandboxWorld, url: str) -> list[dict[str, str]]:
    messages = churn.client("sqs").receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    return [json.loads(message["Body"]) for message in messages]


def approve(churn: SandboxWorld, arn: str) -> None:
    churn.client("sagemaker").update_model_package(ModelPackageArn=arn, ModelApprovalStatus="Approved")
    churn.sandbox.settle()


def test_seeded_world_serves_the_approved_version_and_keeps_one_pending(churn: SandboxWorld) -> None:
    assert churn.live_model_package() == churn.world.live_version_arn
    pending = churn.client("sagemaker").describe_model_package(ModelPackageName=churn.world.pending_version_arn)
    assert pending["ModelApprovalStatus"] == "PendingManualApproval"


def test_approving_the_pending_version_deploys_it_records_it_and_notifies(churn: SandboxWorld) -> None:
    reader = subscribe_queue(churn)

    approve(churn, churn.world.pending_version_arn)

    assert churn.live_model_package() == churn.world.pending_version_arn
    executions = [e for e in churn.executions() if "approved-v2-" in e["name"]]
    assert [e["status"] for e in executions] == ["SUCCEEDED"]
    deployments = [
        e for e in churn.ledger(f"ENDPOINT#{churn.stack.endpoint_name}") if e["sk"].startswith("DEPLOYMENT#")
    ]
    latest = max(deployments, key=lambda e: e["started_at"])
    assert latest["model_package_arn"] == churn.world.pending_version_arn
    assert latest["outcome"] == "Deployed"
    assert latest["requested_by"] == "model registry approval"
    live = next(e for e in churn.ledger(f"ENDPOINT#{churn.stack.endpoint_name}") if e["sk"] == "LIVE")
    assert live["model_package_arn"] == churn.world.pending_version_arn
    assert live["previous_model_package_arn"] == churn.world.live_version_arn
    [message] = notifications(churn, reader)
    assert message["Subject"] == "[churn] deployment Deployed"
    assert churn.world.pending_version_arn in message["Message"]


def test_duplicate_approval_events_start_one_deployment(churn: SandboxWorld) -> None:
    sagemaker = churn.client("sagemaker")
    sagemaker.update_model_package(ModelPackageArn=churn.world.pending_version_arn, ModelApprovalStatus="Approved")
    churn.sandbox.settle()
    emitted = [
        e
        for e in churn.sandbox.state.emitted_events
        if e["detail"].get("ModelPackageArn") == churn.world.pending_version_arn
    ]
    approval = emitted[-1]
    events = churn.client("events")
    for _ in range(3):  # SageMaker may deliver one state change several times, with new event ids
        events.put_events(
            Entries=[
                {
                    "Source": "aws.sagemaker",
                    "DetailType": approval["detail-type"],
                    "Detail": json.dumps(approval["detail"]),
                    "Resources": [approval["detail"]["ModelPackageArn"]],
                }
            ]
        )
    churn.sandbox.settle()

    started = [e for e in churn.executions() if "approved-v2-" in e["name"]]
    assert len(started) == 1
    [record] = churn.ledger(f"APPROVAL#{churn.world.pending_version_arn}")
    assert record["duplicates"] == 3
    assert record["execution_arn"] == started[0]["executionArn"]


def test_malformed_event_starts_nothing_and_is_kept_with_its_reason(churn: SandboxWorld) -> None:
    before = len(churn.executions())
    bad = load_event("approval/malformed-missing-arn.json")
    churn.client("events").put_events(
        Entries=[{"Source": bad["source"], "DetailType": bad["detail-type"], "Detail": json.dumps(bad["detail"])}]
    )
    churn.sandbox.settle()

    assert len(churn.executions()) == before
    [kept] = churn.queue_messages("RejectedEventsQueueUrl")
    assert "detail.ModelPackageArn: Field required" in kept["reason"]
    assert kept["event"]["detail"]["ModelPackageVersion"] == "two"
    attempts = [
        i
        for i in churn.sandbox.state.invocations
        if i.function_name == "churn-approval" and i.event.get("detail", {}).get("ModelPackageVersion") == "two"
    ]
    assert len(attempts) == 1, "a malformed event is not retried"


def test_two_projects_in_one_account_ignore_each_others_events(churn: SandboxWorld) -> None:
    fraud_stack = churn.sandbox.deploy_stack("fraud")
    from sandbox.world import seed_world

    fraud = seed_world(churn.sandbox, fraud_stack)
    churn_before = len(churn.executions())

    approve(churn, fraud.pending_version_arn)

    fraud_runs = churn.client("stepfunctions").list_executions(stateMachineArn=fraud_stack.deploy_state_machine_arn)[
        "executions"
    ]
    assert len(fraud_runs) == 2  # v1 at seeding, v2 now
    assert len(churn.executions()) == churn_before
    assert churn.live_model_package() == churn.world.live_version_arn


def test_manual_start_of_a_version_not_approved_changes_nothing(churn: SandboxWorld) -> None:
    sfn = churn.client("stepfunctions")
    execution = sfn.start_execution(
        stateMachineArn=churn.stack.deploy_state_machine_arn,
        name="manual-pending",
        input=json.dumps({"ModelPackageArn": churn.world.pending_version_arn}),
    )
    churn.sandbox.settle()

    result = sfn.describe_execution(executionArn=execution["executionArn"])
    assert result["status"] == "FAILED"
    assert result["error"] == "NotApproved"
    assert "PendingManualApproval" in result["cause"]
    assert churn.live_model_package() == churn.world.live_version_arn


def test_manual_start_with_bad_input_fails_clearly_and_starts_nothing(churn: SandboxWorld) -> None:
    sfn = churn.client("stepfunctions")
    configs_before = len(churn.client("sagemaker").list_endpoint_configs()["EndpointConfigs"])
    for name, payload in {
        "no-arn": {},
        "other-group": {"ModelPackageArn": "arn:aws:sagemaker:us-east-1:123456789012:model-package/fraud-models/1"},
    }.items():
        execution = sfn.start_execution(
            stateMachineArn=churn.stack.deploy_state_machine_arn, name=name, input=json.dumps(payload)
        )
        churn.sandbox.settle()
        result = sfn.describe_execution(executionArn=execution["executionArn"])
        assert (result["status"], result["error"]) == ("FAILED", "InvalidInput")
        assert "ModelPackageArn" in result["cause"]
    assert len(churn.client("sagemaker").list_endpoint_configs()["EndpointConfigs"]) == configs_before


def test_manual_redeploy_of_an_approved_version(churn: SandboxWorld) -> None:
    approve(churn, churn.world.pending_version_arn)
    sfn = churn.client("stepfunctions")
    execution = sfn.start_execution(
        stateMachineArn=churn.stack.deploy_state_machine_arn,
        name="redeploy-v1",
        input=json.dumps(
            {"ModelPackageArn": churn.world.live_version_arn, "Reason": "v2 misbehaves", "RequestedBy": "jane"}
        ),
    )
    churn.sandbox.settle()

    assert sfn.describe_execution(executionArn=execution["executionArn"])["status"] == "SUCCEEDED"
    assert churn.live_model_package() == churn.world.live_version_arn
    record = next(e for e in churn.ledger(f"ENDPOINT#{churn.stack.endpoint_name}") if e["sk"].endswith("#redeploy-v1"))
    assert (record["reason"], record["requested_by"], record["outcome"]) == ("v2 misbehaves", "jane", "Deployed")


def test_manual_rollback_restores_the_previous_version(churn: SandboxWorld) -> None:
    approve(churn, churn.world.pending_version_arn)
    sfn = churn.client("stepfunctions")
    execution = sfn.start_execution(
        stateMachineArn=churn.stack.outputs["RollbackStateMachineArn"],
        name="rollback-by-hand",
        input=json.dumps({"Reason": "complaints"}),
    )
    churn.sandbox.settle()

    result = sfn.describe_execution(executionArn=execution["executionArn"])
    assert result["status"] == "SUCCEEDED", result.get("cause")
    assert churn.live_model_package() == churn.world.live_version_arn
    live = next(e for e in churn.ledger(f"ENDPOINT#{churn.stack.endpoint_name}") if e["sk"] == "LIVE")
    assert live["model_package_arn"] == churn.world.live_version_arn
    assert live["previous_model_package_arn"] == churn.world.pending_version_arn


def test_retrain_now_runs_the_pipeline_once_and_records_it(churn: SandboxWorld) -> None:
    sfn = churn.client("stepfunctions")
    execution = sfn.start_execution(
        stateMachineArn=churn.stack.outputs["RetrainStateMachineArn"],
        name="retrain-now",
        input=json.dumps(load_event("statemachines/retrain.json")),
    )
    churn.sandbox.settle(timeout=120)

    result = sfn.describe_execution(executionArn=execution["executionArn"])
    assert result["status"] == "SUCCEEDED", result.get("cause")
    runs = churn.client("sagemaker").list_pipeline_executions(PipelineName=churn.stack.parameters["PipelineName"])[
        "PipelineExecutionSummaries"
    ]
    assert len(runs) == 1
    [record] = [e for e in churn.ledger(f"PROJECT#{churn.stack.project}") if e["sk"].startswith("RETRAIN#")]
    assert record["reason"] == "new labelled data arrived"
    assert record["requested_by"] == "jane@example.com"
    assert record["outcome"] == "Registered"
    parameters = churn.client("sagemaker").list_pipeline_parameters_for_execution(
        PipelineExecutionArn=runs[0]["PipelineExecutionArn"]
    )["PipelineParameters"]
    assert {"Name": "AccuracyThreshold", "Value": "0.85"} in parameters  # the manual input's parameters


def test_wait_states_run_on_compressed_time(churn: SandboxWorld) -> None:
    started = time.monotonic()
    approve(churn, churn.world.pending_version_arn)
    # EndpointWaitSeconds is 30 s per check on AWS; the sandbox compresses it a thousandfold.
    assert time.monotonic() - started < 10


def test_a_failed_endpoint_update_leaves_the_live_version_serving(churn: SandboxWorld) -> None:
    churn.sandbox.state.endpoint_failures[churn.stack.endpoint_name] = "ResourceLimitExceeded: no ml.m5.large capacity"

    approve(churn, churn.world.pending_version_arn)

    [execution] = [e for e in churn.executions() if "approved-v2-" in e["name"]]
    assert (execution["status"], execution["error"]) == ("FAILED", "DeploymentFailed")
    assert "no ml.m5.large capacity" in execution["cause"]
    assert churn.live_model_package() == churn.world.live_version_arn
    live = next(e for e in churn.ledger(f"ENDPOINT#{churn.stack.endpoint_name}") if e["sk"] == "LIVE")
    assert live["model_package_arn"] == churn.world.live_version_arn


def test_the_workflow_waits_for_the_endpoint_event_instead_of_polling(churn: SandboxWorld) -> None:
    approve(churn, churn.world.pending_version_arn)

    [execution] = [e for e in churn.executions() if "approved-v2-" in e["name"]]
    history = churn.client("stepfunctions").get_execution_history(executionArn=execution["executionArn"])["events"]
    entered = [e["stateEnteredEventDetails"]["name"] for e in history if "stateEnteredEventDetails" in e]
    assert "UpdateEndpoint" in entered
    assert not any("Wait" in name for name in entered)
    assert entered.count("UpdateEndpoint") == 1
