"""Property-based: a bad manual start ends its workflow at the first state, with a clear error, changing nothing.

The deploy, rollback, retrain and batch workflows, started by hand (as docs/try-it.md shows) with inputs of
the wrong shape (tests/strategies.py), must fail with "InvalidInput" and a cause that shows a good input,
having entered only their first state (the ValidateInput choice) and its Fail state: no ledger entry, no
lock, no pipeline run, no endpoint change, no transform job, no notification. Retrain inputs of the right
shape that the pipeline refuses (a parameter it does not declare, a value that is no scalar, a reason too
long) end at the admit step, with the same error and no change either.

The stack is deployed once for the module (the batch workflow exists in a batch project only: a Batch
stack, deployed once after the others); the workflows run in the sandbox's Step Functions. Starting
a whole workflow costs the emulator about half a second (it parses the definition on every start), so
the many examples run the deployed workflow's first state alone (the same Choice, its Fail states, the
rest replaced by one Succeed), and a few run the whole workflow to show that nothing else happens.
FUZZ_INPUT_EXAMPLES sizes the runs.
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given

from sandbox.core import ACCOUNT_ID, Sandbox
from tests.conftest import SandboxWorld, seeded
from tests.strategies import (
    INPUT_EXAMPLES,
    BadEvent,
    bad_manual_inputs,
    fuzz_settings,
    retrain_inputs_the_pipeline_refuses,
)

MACHINES = {
    "deploy": "DeployStateMachineArn",
    "rollback": "RollbackStateMachineArn",
    "retrain": "RetrainStateMachineArn",
    "batch": "BatchStateMachineArn",
}
FIRST_STATE_FAILS = {
    "deploy": "InvalidInput",
    "rollback": "InvalidInput",
    "retrain": "MalformedInput",
    "batch": "InvalidInput",
}
SERVING_KINDS = {"batch": "Batch"}  # workflows only a stack of that kind has (the others: every stack has them)
NAMES = itertools.count()
WHOLE_WORKFLOW_EXAMPLES = max(3, INPUT_EXAMPLES // 10)


def on_its_stack(workflows: dict[str, str]) -> list[Any]:
    """(serving kind, workflow) parameters, each workflow on a stack that has it."""
    return [pytest.param(SERVING_KINDS.get(workflow, "RealTime"), workflow, id=workflow) for workflow in workflows]


@pytest.fixture(scope="module", params=["RealTime"])
def world(request: pytest.FixtureRequest) -> Iterator[SandboxWorld]:
    """The project deployed and seeded with the serving kind a test asks for (one sandbox at a time: the emulator
    is the process's), kept for the module's next tests of that kind."""
    with Sandbox() as sandbox:
        yield seeded(sandbox, ServingKind=request.param)


@pytest.fixture(scope="module")
def notifications(world: SandboxWorld) -> str:
    """A queue subscribed to the notification topic: what people would be told."""
    sqs = world.client("sqs")
    url = sqs.create_queue(QueueName="fuzz-notifications")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    world.client("sns").subscribe(TopicArn=world.stack.outputs["NotificationTopicArn"], Protocol="sqs", Endpoint=arn)
    return str(url)


def what_users_see(world: SandboxWorld, notifications: str) -> dict[str, Any]:
    sagemaker = world.client("sagemaker")
    told = world.client("sqs").get_queue_attributes(QueueUrl=notifications, AttributeNames=["All"])["Attributes"]
    seen = {
        "ledger": world.client("dynamodb").scan(TableName=world.stack.ledger_table, Select="COUNT")["Count"],
        "transform jobs": len(sagemaker.list_transform_jobs()["TransformJobSummaries"]),
        "runs": len(sagemaker.list_pipeline_executions(PipelineName="churn-pipeline")["PipelineExecutionSummaries"]),
        "told": int(told["ApproximateNumberOfMessages"]) + int(told["ApproximateNumberOfMessagesNotVisible"]),
    }
    if world.stack.parameters["ServingKind"] != "Batch":  # a batch project has no endpoint
        seen["endpoint"] = sagemaker.describe_endpoint(EndpointName=world.stack.endpoint_name)["EndpointConfigName"]
    return seen


def first_state_alone(world: SandboxWorld, workflow: str) -> str:
    """A state machine of the deployed workflow's first state, its Fail states, and a Succeed for the rest."""
    sfn = world.client("stepfunctions")
    name = f"{workflow}-first-state"
    existing = [m["stateMachineArn"] for m in sfn.list_state_machines()["stateMachines"] if m["name"] == name]
    if existing:
        return str(existing[0])
    deployed = json.loads(
        sfn.describe_state_machine(stateMachineArn=world.stack.outputs[MACHINES[workflow]])["definition"]
    )
    first = deployed["StartAt"]
    choice = deployed["States"][first]
    targets = {rule["Next"] for rule in choice["Choices"]} | {choice["Default"]}
    states = {first: choice}
    for target in targets:
        state = deployed["States"][target]
        states[target] = state if state["Type"] == "Fail" else {"Type": "Succeed"}
    definition = json.dumps({"StartAt": first, "States": states})
    role = f"arn:aws:iam::{ACCOUNT_ID}:role/{name}"
    return str(sfn.create_state_machine(name=name, definition=definition, roleArn=role)["stateMachineArn"])


def start_by_hand(world: SandboxWorld, workflow: str, value: Any, machine: str | None = None) -> dict[str, Any]:
    """StartExecution with this input; the execution once it has ended, with the states it entered."""
    sfn = world.client("stepfunctions")
    arn = sfn.start_execution(
        stateMachineArn=machine or world.stack.outputs[MACHINES[workflow]],
        name=f"by-hand-{workflow}-{next(NAMES)}",
        input=json.dumps(value),
    )["executionArn"]
    deadline = time.monotonic() + 60
    while (execution := sfn.describe_execution(executionArn=arn))["status"] == "RUNNING":
        assert time.monotonic() < deadline, f"{arn} still running"
        time.sleep(0.005)
    history = sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]
    entered = [event["stateEnteredEventDetails"]["name"] for event in history if "stateEnteredEventDetails" in event]
    return {**execution, "entered": entered}


def refused_first(execution: dict[str, Any], workflow: str, bad: BadEvent) -> None:
    assert (execution["status"], execution.get("error")) == ("FAILED", "InvalidInput"), bad
    assert execution["cause"].startswith(f"Start the {workflow} workflow with"), execution["cause"]
    assert execution["entered"] == ["ValidateInput", FIRST_STATE_FAILS[workflow]], bad


@pytest.mark.parametrize(("world", "workflow"), on_its_stack(MACHINES), indirect=["world"], scope="module")
def test_the_first_state_refuses_every_bad_manual_input(world: SandboxWorld, workflow: str) -> None:
    machine = first_state_alone(world, workflow)

    @fuzz_settings(INPUT_EXAMPLES)
    @given(bad=bad_manual_inputs(workflow))
    def every_bad_input_is_refused_first(bad: BadEvent) -> None:
        refused_first(start_by_hand(world, workflow, bad.event, machine), workflow, bad)

    every_bad_input_is_refused_first()


@pytest.mark.parametrize(("world", "workflow"), on_its_stack(MACHINES), indirect=["world"], scope="module")
def test_a_bad_manual_input_ends_the_workflow_at_its_first_state_and_changes_nothing(
    world: SandboxWorld, notifications: str, workflow: str
) -> None:
    @fuzz_settings(WHOLE_WORKFLOW_EXAMPLES)
    @given(bad=bad_manual_inputs(workflow))
    def every_bad_input_changes_nothing(bad: BadEvent) -> None:
        before = what_users_see(world, notifications)

        refused_first(start_by_hand(world, workflow, bad.event), workflow, bad)

        assert what_users_see(world, notifications) == before, bad

    every_bad_input_changes_nothing()


def test_retrain_inputs_the_pipeline_refuses_end_at_admit_and_change_nothing(
    world: SandboxWorld, notifications: str
) -> None:
    @fuzz_settings(WHOLE_WORKFLOW_EXAMPLES)
    @given(bad=retrain_inputs_the_pipeline_refuses())
    def every_refused_retrain_changes_nothing(bad: BadEvent) -> None:
        before = what_users_see(world, notifications)

        execution = start_by_hand(world, "retrain", bad.event)

        assert (execution["status"], execution.get("error")) == ("FAILED", "InvalidInput"), bad
        assert any(word in execution["cause"] for word in bad.mentions), execution["cause"]
        assert execution["entered"] == ["ValidateInput", "ApplyDefaults", "Admit", "InvalidInput"], bad
        assert what_users_see(world, notifications) == before, bad

    every_refused_retrain_changes_nothing()
