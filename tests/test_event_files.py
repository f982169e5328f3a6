"""Every file in events/<function>/ is handled as its name says: acted on, ignored or rejected."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from sandbox.template import load_sam_template, sam_resources
from tests.conftest import EVENTS, SandboxWorld, expected_action

FUNCTIONS = {
    "approval": "churn-approval",
    "alarm": "churn-alarm",
    "pipeline_status": "churn-pipeline-status",
    "endpoint_status": "churn-endpoint-status",
}
EVENT_FILES = [(function, path) for function in FUNCTIONS for path in sorted((EVENTS / function).glob("*.json"))]


def test_every_function_has_events_to_act_on_ignore_and_reject() -> None:
    for function in FUNCTIONS:
        actions = {expected_action(function, path) for path in (EVENTS / function).glob("*.json")}
        acted = {"approval": {"started"}, "alarm": {"started", "recorded"}}.get(function, {"recorded"})
        assert actions == acted | {"ignored", "rejected"}, function


@pytest.mark.parametrize(("function", "event_file"), EVENT_FILES, ids=[f"{f}/{p.name}" for f, p in EVENT_FILES])
def test_function_handles_its_event_file(churn: SandboxWorld, function: str, event_file: Path) -> None:
    if event_file.name == "approved.json":  # the file approves version 2: make the registry agree
        churn.client("sagemaker").update_model_package(
            ModelPackageArn=churn.world.pending_version_arn, ModelApprovalStatus="Approved"
        )
        churn.sandbox.settle()
    payload = event_file.read_bytes()
    if function == "pipeline_status" and expected_action(function, event_file) == "recorded":
        # the file names a run unknown here (so rejected): name a run SageMaker knows, failed at once
        churn.sandbox.fail_pipeline_step("Preprocess", times=None)
        run = churn.client("sagemaker").start_pipeline_execution(PipelineName="churn-pipeline")["PipelineExecutionArn"]
        churn.sandbox.settle()
        payload = re.sub(rb"churn-pipeline/execution/\w+", run.split(":pipeline/")[1].encode(), payload)
    executions_before = len(churn.executions())

    response = churn.client("lambda").invoke(FunctionName=FUNCTIONS[function], Payload=payload)
    reaction = json.loads(response["Payload"].read())
    churn.sandbox.settle()

    assert "FunctionError" not in response, reaction
    assert reaction["action"] in (expected_action(function, event_file), "duplicate"), reaction
    if reaction["action"] == "rejected":
        [kept] = churn.queue_messages("RejectedEventsQueueUrl")
        assert kept["reason"] == reaction["reason"]
    if function == "approval" and reaction["action"] != "started":
        assert len(churn.executions()) == executions_before


def test_env_json_gives_each_function_the_variables_the_template_sets() -> None:
    template = load_sam_template()
    env = json.loads((EVENTS / "env.json").read_text())
    global_names = set(template["Globals"]["Function"]["Environment"]["Variables"])
    for logical_id, resource in sam_resources(template, "AWS::Serverless::Function").items():
        own = set(resource["Properties"].get("Environment", {}).get("Variables", {}))
        assert set(env[logical_id]) == global_names | own, logical_id


def test_state_machine_inputs_are_documented_for_every_workflow() -> None:
    template = load_sam_template()
    for resource in sam_resources(template, "AWS::Serverless::StateMachine").values():
        workflow = Path(resource["Properties"]["DefinitionUri"]).name.removesuffix(".asl.json")
        assert (EVENTS / "statemachines" / f"{workflow}.json").exists(), workflow
