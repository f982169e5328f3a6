"""The sandbox behaves like AWS where the product depends on it."""

from __future__ import annotations

import json
import time

from tests.conftest import SandboxWorld

ROLE = "arn:aws:iam::123456789012:role/sandbox-test"


def token_waiter(churn: SandboxWorld, timeout_seconds: int) -> tuple[str, str]:
    """A state machine that hands its task token to a queue and waits for it."""
    sqs, sfn = churn.client("sqs"), churn.client("stepfunctions")
    url = sqs.create_queue(QueueName=f"tokens-{timeout_seconds}")["QueueUrl"]
    definition = {
        "StartAt": "WaitForAnswer",
        "States": {
            "WaitForAnswer": {
                "Type": "Task",
                "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
                "Parameters": {"QueueUrl": url, "MessageBody": {"token.$": "$$.Task.Token"}},
                "TimeoutSeconds": timeout_seconds,
                "End": True,
            }
        },
    }
    machine = sfn.create_state_machine(
        name=f"waiter-{timeout_seconds}", definition=json.dumps(definition), roleArn=ROLE
    )
    return machine["stateMachineArn"], url


def test_aws_sdk_task_errors_are_named_as_step_functions_names_them(churn: SandboxWorld) -> None:
    """A code SageMaker's model does not list (ValidationException) collapses into SageMakerException; the cause
    keeps the code (sandbox/sfn_errors.py names the sources)."""
    missing = churn.world.live_version_arn.rsplit("/", 1)[0] + "/99"
    sfn = churn.client("stepfunctions")
    sfn.start_execution(
        stateMachineArn=churn.stack.deploy_state_machine_arn,
        name="missing-version",
        input=json.dumps({"ModelPackageArn": missing}),
    )
    churn.sandbox.settle()

    result = sfn.describe_execution(
        executionArn=churn.stack.deploy_state_machine_arn.replace("stateMachine", "execution") + ":missing-version"
    )
    assert (result["status"], result["error"]) == ("FAILED", "DeploymentFailed")
    record = next(
        e for e in churn.ledger(f"ENDPOINT#{churn.stack.endpoint_name}") if e["sk"].endswith("#missing-version")
    )
    assert record["outcome"] == "Failed"
    assert record["detail"].startswith("DescribeModelVersion failed: SageMaker.SageMakerException: ")
    assert "Error Code: ValidationException" in record["detail"]


def test_send_task_failure_keeps_error_and_cause(churn: SandboxWorld) -> None:
    machine, url = token_waiter(churn, 3600)
    sfn, sqs = churn.client("stepfunctions"), churn.client("sqs")
    execution = sfn.start_execution(stateMachineArn=machine, name="answered", input="{}")
    [message] = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=5)["Messages"]

    sfn.send_task_failure(taskToken=json.loads(message["Body"])["token"], error="EndpointFailed", cause="capacity")
    churn.sandbox.settle()

    result = sfn.describe_execution(executionArn=execution["executionArn"])
    assert (result["status"], result["error"], result["cause"]) == ("FAILED", "EndpointFailed", "capacity")


def test_task_timeouts_run_on_compressed_time(churn: SandboxWorld) -> None:
    machine, _ = token_waiter(churn, 3600)
    sfn = churn.client("stepfunctions")
    started = time.monotonic()
    execution = sfn.start_execution(stateMachineArn=machine, name="unanswered", input="{}")
    churn.sandbox.settle(timeout=30)

    assert sfn.describe_execution(executionArn=execution["executionArn"])["error"] == "States.Timeout"
    assert time.monotonic() - started < 20  # an hour on AWS


def test_start_execution_without_a_name_gets_one(churn: SandboxWorld) -> None:
    sfn = churn.client("stepfunctions")
    execution = sfn.start_execution(stateMachineArn=churn.stack.outputs["RetrainStateMachineArn"], input="{}")
    churn.sandbox.settle()
    described = sfn.describe_execution(executionArn=execution["executionArn"])
    assert described["status"] == "SUCCEEDED"
    assert execution["executionArn"].endswith(":" + described["name"])


def create_alarm(churn: SandboxWorld, name: str) -> None:
    churn.client("cloudwatch").put_metric_alarm(
        AlarmName=name,
        Namespace="MLOps/churn",
        MetricName="feature_tenure_psi",
        Statistic="Maximum",
        Period=3600,
        EvaluationPeriods=1,
        Threshold=0.2,
        ComparisonOperator="GreaterThanThreshold",
    )


def test_an_alarm_changing_state_emits_its_event_to_the_alarm_function(churn: SandboxWorld) -> None:
    create_alarm(churn, "churn-drift-feature-tenure")
    cloudwatch = churn.client("cloudwatch")

    cloudwatch.set_alarm_state(AlarmName="churn-drift-feature-tenure", StateValue="ALARM", StateReason="psi 0.31 > 0.2")
    cloudwatch.set_alarm_state(AlarmName="churn-drift-feature-tenure", StateValue="ALARM", StateReason="still high")
    churn.sandbox.settle()

    [entry] = churn.ledger("ALARM#churn-drift-feature-tenure")  # no second event: the state did not change
    assert (entry["role"], entry["previous_state"], entry["state"]) == ("drift", "OK", "ALARM")
    assert entry["state_reason"] == "psi 0.31 > 0.2"


def test_a_failing_function_is_retried_then_dead_lettered(churn: SandboxWorld) -> None:
    create_alarm(churn, "churn-drift-feature-age")
    churn.client("dynamodb").delete_table(TableName=churn.stack.ledger_table)  # every ledger write now fails

    churn.client("cloudwatch").set_alarm_state(AlarmName="churn-drift-feature-age", StateValue="ALARM", StateReason="x")
    churn.sandbox.settle()

    attempts = [i for i in churn.sandbox.state.invocations if i.function_name == "churn-alarm"]
    assert [a.attempt for a in attempts] == [1, 2, 3]
    assert all(a.error and "ResourceNotFoundException" in a.error for a in attempts)
    [dead] = churn.queue_messages("DeadLetterQueueUrl")
    assert dead["detail"]["alarmName"] == "churn-drift-feature-age"
