"""AWS's documented example events (tests/aws_events/, sources in SOURCES.md) against the product.

- each parses with the model of the function that consumes it;
- pointed at a sandbox stack's resources and put on the default bus as documented, each leads to the reaction
  docs/behaviour.md promises (the template's rules matching them: tests/test_event_patterns.py);
- the shape checker (tests/aws_shapes.py) finds nothing in the examples themselves, and finds what is wrong in
  an event that is not as AWS documents it.
"""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from mlops.alarms import retrain_execution_name
from mlops.events import AlarmEvent, EndpointEvent, ModelPackageEvent, PipelineExecutionEvent, parse_event
from mlops.payloads import ScheduledEvent, check_schedule
from mlops.pipelines import execution_pk
from sandbox.core import ACCOUNT_ID, ALGORITHM_ERROR, REGION, Sandbox
from sandbox.world import register_version
from tests.aws_shapes import (
    documented,
    documented_detail_types,
    documented_example,
    emitted_problems,
    pointed_alarm,
    pointed_endpoint,
    pointed_model_package,
    pointed_pipeline,
    pointed_schedule,
    problems,
    put_entry,
)
from tests.conftest import SandboxWorld, seeded


def instant(value: object) -> datetime:
    """A time as the product holds it (ISO 8601 text or epoch milliseconds), as a moment."""
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value / 1000, UTC)
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


# ------------------------------------------------------------------ the product's models read the examples
def test_the_documented_model_package_event_parses_as_the_approval_function_reads_it() -> None:
    event = documented("model-package-state-change.json")
    parsed = parse_event(event, ModelPackageEvent)
    assert (parsed.detail.ModelPackageGroupName, parsed.detail.ModelPackageVersion) == ("versionedmp-p-idy6c3e1fiqj", 2)
    assert (parsed.detail.ModelPackageStatus, parsed.detail.ModelApprovalStatus) == ("Completed", "Rejected")
    assert instant(parsed.detail.LastModifiedTime) == datetime(2021, 2, 24, 17, 0, 14, tzinfo=UTC)


def test_the_documented_alarm_event_parses_as_the_alarm_function_reads_it() -> None:
    parsed = parse_event(documented("cloudwatch-alarm-state-change.json"), AlarmEvent)
    assert parsed.detail.alarmName == "ServerCpuTooHigh"
    assert parsed.detail.previousState is not None
    assert (parsed.detail.previousState.value, parsed.detail.state.value) == ("OK", "ALARM")
    assert parsed.detail.state.timestamp == "2019-10-02T17:04:40.989+0000"


def test_the_documented_pipeline_event_parses_as_the_pipeline_status_function_reads_it() -> None:
    parsed = parse_event(documented("pipeline-execution-status-change.json"), PipelineExecutionEvent)
    assert parsed.detail.pipelineExecutionArn.endswith(":pipeline/myPipeline-123/execution/p4jn9xou8a8s")
    assert (parsed.detail.previousPipelineExecutionStatus, parsed.detail.currentPipelineExecutionStatus) == (
        "Executing",
        "Succeeded",
    )
    assert parsed.detail.executionEndTime == "2021-03-15T16:10:10Z"


def test_the_documented_endpoint_event_parses_as_the_endpoint_status_function_reads_it() -> None:
    """IN_SERVICE and epoch-millisecond numbers, as SageMaker's guide shows them."""
    parsed = parse_event(documented("endpoint-state-change.json"), EndpointEvent)
    assert (parsed.detail.EndpointName, parsed.detail.EndpointConfigName) == ("MyEndpoint", "MyEndpointConfig")
    assert parsed.detail.EndpointStatus.replace("_", "").lower() == "inservice"
    assert instant(parsed.detail.LastModifiedTime) == datetime.fromtimestamp(1592411994.287, UTC)


def test_the_documented_scheduled_event_is_one_the_drift_monitor_runs_on() -> None:
    event = documented("scheduled-event.json")
    check_schedule(event)
    assert parse_event(event, ScheduledEvent).resources == ["arn:aws:events:us-east-1:123456789012:rule/SampleRule"]


# ------------------------------------------------------------------ the shape checker
@pytest.mark.parametrize("detail_type", sorted(documented_detail_types()))
def test_a_documented_example_has_no_problem_against_itself(detail_type: str) -> None:
    example = documented_example(detail_type)
    assert example is not None
    assert problems(copy.deepcopy(example), example) == []


def changed(name: str, change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    event = documented(name)
    change(event["detail"])
    return event


WRONG = {
    "status as DescribeEndpoint spells it": (
        changed("endpoint-state-change.json", lambda d: d.update(EndpointStatus="InService")),
        "SageMaker Endpoint State Change: EndpointStatus: 'InService' is not a documented value",
    ),
    "ISO time in an endpoint event": (
        changed("endpoint-state-change.json", lambda d: d.update(LastModifiedTime="2020-06-17T16:26:34Z")),
        "SageMaker Endpoint State Change: LastModifiedTime: '2020-06-17T16:26:34Z' is not a time as documented "
        "(epoch milliseconds (a number)",
    ),
    "epoch seconds in an endpoint event": (
        changed("endpoint-state-change.json", lambda d: d.update(CreationTime=1592411992)),
        "SageMaker Endpoint State Change: CreationTime: 1592411992 is not a time as documented",
    ),
    "no ProductionVariants": (
        changed("endpoint-state-change.json", lambda d: d.pop("ProductionVariants")),
        "SageMaker Endpoint State Change: ProductionVariants: missing (the documented example has it)",
    ),
    "a field DescribeEndpoint does not have": (
        changed("endpoint-state-change.json", lambda d: d.update(Status="IN_SERVICE")),
        "SageMaker Endpoint State Change: Status: not in the documented example nor a field of DescribeEndpoint's",
    ),
    "no approval status": (
        changed("model-package-state-change.json", lambda d: d.pop("ModelApprovalStatus")),
        "SageMaker Model Package State Change: ModelApprovalStatus: missing (the documented example has it)",
    ),
    "version number as a string": (
        changed("model-package-state-change.json", lambda d: d.update(ModelPackageVersion="2")),
        "SageMaker Model Package State Change: ModelPackageVersion: is string '2', documented as number",
    ),
    "approval status in capitals": (
        changed("model-package-state-change.json", lambda d: d.update(ModelApprovalStatus="APPROVED")),
        "SageMaker Model Package State Change: ModelApprovalStatus: 'APPROVED' is not a documented value",
    ),
    "container without its image": (
        changed("model-package-state-change.json", lambda d: d["InferenceSpecification"]["Containers"][0].pop("Image")),
        "SageMaker Model Package State Change: InferenceSpecification.Containers[].Image: missing",
    ),
    "milliseconds in a model package time": (
        changed("model-package-state-change.json", lambda d: d.update(CreationTime="2021-02-24T17:00:14.123Z")),
        "SageMaker Model Package State Change: CreationTime: '2021-02-24T17:00:14.123Z' is not a time as documented",
    ),
    "a DescribeModelPackage field of the wrong type": (
        changed("model-package-state-change.json", lambda d: d.update(ModelPackageDescription=["churn"])),
        "SageMaker Model Package State Change: ModelPackageDescription: is array ['churn'], EntityDescription is "
        "string",
    ),
    "milliseconds in a pipeline time": (
        changed("pipeline-execution-status-change.json", lambda d: d.update(executionEndTime="2021-03-15T16:10:10.5Z")),
        "SageMaker Model Building Pipeline Execution Status Change: executionEndTime: '2021-03-15T16:10:10.5Z' is "
        "not a time as documented",
    ),
    "pipeline status in capitals": (
        changed(
            "pipeline-execution-status-change.json", lambda d: d.update(currentPipelineExecutionStatus="SUCCEEDED")
        ),
        "SageMaker Model Building Pipeline Execution Status Change: currentPipelineExecutionStatus: 'SUCCEEDED' is "
        "not a documented value",
    ),
    "alarm state as a word": (
        changed("cloudwatch-alarm-state-change.json", lambda d: d["state"].update(value="Alarm")),
        "CloudWatch Alarm State Change: state.value: 'Alarm' is not a documented value",
    ),
    "ISO Z time in an alarm state": (
        changed("cloudwatch-alarm-state-change.json", lambda d: d["state"].update(timestamp="2019-10-02T17:04:40Z")),
        "CloudWatch Alarm State Change: state.timestamp: '2019-10-02T17:04:40Z' is not a time as documented",
    ),
    "alarm period as a string": (
        changed(
            "cloudwatch-alarm-state-change.json",
            lambda d: d["configuration"]["metrics"][0]["metricStat"].update(period="300"),
        ),
        "CloudWatch Alarm State Change: configuration.metrics[].metricStat.period: is string '300', documented as "
        "number",
    ),
}


@pytest.mark.parametrize(("event", "expected"), WRONG.values(), ids=WRONG.keys())
def test_an_event_not_as_documented_is_reported(event: dict[str, Any], expected: str) -> None:
    found = problems(event, documented_example(event["detail-type"]) or {})
    assert len(found) == 1, found
    assert found[0].startswith(expected), found


def test_what_the_example_leaves_out_may_be_there_when_the_api_has_it_or_absent_when_optional() -> None:
    example = documented_example("SageMaker Model Package State Change")
    assert example is not None
    event = documented("model-package-state-change.json")
    detail = event["detail"]
    detail.pop("MetadataProperties")
    detail["InferenceSpecification"]["Containers"][0].pop("ImageDigest")
    detail["ModelPackageDescription"] = "churn model"
    detail["InferenceSpecification"]["Containers"][0]["Environment"] = {"SAGEMAKER_PROGRAM": "inference.py"}
    detail["ModelPackageStatusDetails"]["ValidationStatuses"] = [{"Name": "churn-models/2", "Status": "Completed"}]
    assert problems(event, example) == []
    detail["ModelPackageStatusDetails"]["ValidationStatuses"][0]["Colour"] = "green"
    assert problems(event, example) == [
        "SageMaker Model Package State Change: ModelPackageStatusDetails.ValidationStatuses[].Colour: "
        "not a field of ModelPackageStatusItem"
    ]


def test_the_sandbox_record_of_an_event_is_checked_and_an_undocumented_detail_type_is_a_problem() -> None:
    example = documented("pipeline-execution-step-status-change.json")
    record = {"source": "aws.sagemaker", "detail-type": example["detail-type"], "detail": example["detail"], "at": 1.0}
    assert emitted_problems(record) == []
    record["detail"]["failureReason"] = "ClientError: the step failed"  # PipelineExecutionStep's FailureReason
    assert emitted_problems(record) == []
    assert emitted_problems({**record, "source": "aws.events"}) == [
        "SageMaker Model Building Pipeline Execution Step Status Change: source: 'aws.events' is not 'aws.sagemaker'"
    ]
    assert emitted_problems({**record, "detail-type": "SageMaker Training Job State Change"}) == [
        "SageMaker Training Job State Change: no documented example of this detail-type in tests/aws_events/"
    ]


# ------------------------------------------------------------------ the examples, put on the bus, act
@pytest.fixture(scope="module")
def world() -> Iterator[SandboxWorld]:
    """The churn project deployed and seeded once for this module: v1 live, v2 pending.

    Workflows wait up to 10 h of AWS time (36 s here) for an endpoint's event, so that a test can hold the
    sandbox's own events for a moment.
    """
    with Sandbox() as sandbox:
        yield seeded(
            sandbox,
            BakeSeconds="60",
            RetentionSeconds="60",
            MinCandidateInvocations="0",
            EndpointUpdateTimeoutSeconds="36000",
        )


def put(world: SandboxWorld, event: dict[str, Any]) -> str:
    """Put the event on the default bus as its source would (PutEvents); returns its event id."""
    response = world.client("events").put_events(Entries=[put_entry(event)])
    assert response["FailedEntryCount"] == 0, response
    return str(response["Entries"][0]["EventId"])


def reactions(world: SandboxWorld, function: str, event_id: str) -> list[dict[str, Any]]:
    """What `<project>-<function>` answered to each delivery of that event."""
    name = f"{world.stack.project}-{function}"
    return [
        i.result
        for i in world.sandbox.state.invocations
        if i.function_name == name and isinstance(i.event, dict) and i.event.get("id") == event_id
    ]


def approved_without_its_event(world: SandboxWorld, number: int) -> tuple[str, int]:
    """A new version, registered pending and then approved in the registry while the registry's own event is
    held back (never delivered): only the event a test puts can deploy it. Returns its ARN and version."""
    arn = register_version(world.sandbox, world.stack, number, "PendingManualApproval")
    world.sandbox.settle()
    with world.sandbox.holding_events():
        world.client("sagemaker").update_model_package(ModelPackageArn=arn, ModelApprovalStatus="Approved")
    return arn, int(arn.rsplit("/", 1)[1])


def test_the_documented_approval_of_a_pending_version_deploys_it(world: SandboxWorld) -> None:
    arn, version = approved_without_its_event(world, 11)
    event = pointed_model_package(ACCOUNT_ID, REGION, world.stack.model_package_group, version, "Approved")

    event_id = put(world, event)
    world.sandbox.settle()

    [reaction] = reactions(world, "approval", event_id)
    assert reaction["action"] == "started", reaction
    deploy = world.client("stepfunctions").describe_execution(executionArn=reaction["execution_arn"])
    assert deploy["status"] == "SUCCEEDED", deploy.get("cause")
    assert json.loads(deploy["input"])["ModelPackageArn"] == arn
    assert world.live_model_package() == arn


def test_the_documented_drift_alarm_starts_a_retrain(world: SandboxWorld) -> None:
    alarm = f"{world.stack.project}-drift-score"
    event = pointed_alarm(ACCOUNT_ID, REGION, alarm)
    world.sandbox.fail_pipeline_step("Preprocess", reason=ALGORITHM_ERROR)  # the retrain's run ends at once

    try:
        event_id = put(world, event)
        world.sandbox.settle()
    finally:
        world.sandbox.clear_pipeline_failures()

    [reaction] = reactions(world, "alarm", event_id)
    assert reaction["action"] == "started", reaction
    name = retrain_execution_name(alarm, event["detail"]["state"]["timestamp"])
    [retrain] = [e for e in world.executions("RetrainStateMachineArn") if e["name"] == name]
    trigger = json.loads(retrain["input"])["Trigger"]
    assert trigger == {"Alarm": alarm, "State": "ALARM", "Timestamp": "2019-10-02T17:04:40.989+0000"}
    [recorded] = world.ledger(f"ALARM#{alarm}")
    assert (recorded["role"], recorded["previous_state"], recorded["state"]) == ("drift", "OK", "ALARM")


def test_the_documented_pipeline_status_of_a_real_run_is_recorded(world: SandboxWorld) -> None:
    sagemaker = world.client("sagemaker")
    run = sagemaker.start_pipeline_execution(PipelineName=world.stack.parameters["PipelineName"])[
        "PipelineExecutionArn"
    ]
    world.sandbox.settle(timeout=300)
    assert sagemaker.describe_pipeline_execution(PipelineExecutionArn=run)["PipelineExecutionStatus"] == "Succeeded"

    event_id = put(world, pointed_pipeline(run))
    world.sandbox.settle()

    [reaction] = reactions(world, "pipeline-status", event_id)
    assert reaction["action"] == "recorded", reaction
    [entry] = [e for e in world.ledger(execution_pk(run)) if e.get("event_id") == event_id]
    assert (entry["status"], entry["previous_status"], entry["display_name"]) == (
        "Succeeded",
        "Executing",
        "SomeDisplayName",
    )


def in_service_on(entry: dict[str, Any], config: str) -> bool:
    detail = json.loads(entry["Detail"])
    status = str(detail.get("EndpointStatus", "")).replace("_", "").lower()
    return detail.get("EndpointConfigName") == config and status == "inservice"


def waiting_change(world: SandboxWorld, execution_arn: str, held: list[dict[str, Any]], timeout: float = 30) -> str:
    """The endpoint configuration the deployment waits for, once SageMaker has made the change and told it
    (in an event held back)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        waiting = next((e for e in world.ledger(f"ENDPOINT#{world.stack.endpoint_name}") if e["sk"] == "WAIT"), None)
        if waiting and waiting.get("execution_arn") == execution_arn and not waiting.get("completed_at"):
            config = str(waiting["expected_config"])
            if any(in_service_on(entry, config) for entry in held):
                return config
        time.sleep(0.02)
    raise TimeoutError(f"{execution_arn} never waited for an endpoint change")


def test_the_documented_endpoint_event_completes_the_deployment_waiting_for_it(world: SandboxWorld) -> None:
    arn, _ = approved_without_its_event(world, 12)
    sfn = world.client("stepfunctions")

    with world.sandbox.holding_events() as held:  # SageMaker's own events of the first change stay held
        deploy = sfn.start_execution(
            stateMachineArn=world.stack.deploy_state_machine_arn,
            name="documented-endpoint-event",
            input=json.dumps({"ModelPackageArn": arn, "Reason": "documented endpoint event", "RequestedBy": "test"}),
        )["executionArn"]
        config = waiting_change(world, deploy, held)
    assert {e["DetailType"] for e in held} == {"SageMaker Endpoint State Change"}

    # SageMaker's change ends after it was asked for: the event's time is now, not the example's
    now_ms = float(int(time.time() * 1000))
    event_id = put(world, pointed_endpoint(ACCOUNT_ID, REGION, world.stack.endpoint_name, config, now_ms))
    world.sandbox.settle()
    late = world.client("events").put_events(Entries=held)  # SageMaker's own, delivered late (as EventBridge may)
    world.sandbox.settle()

    [reaction] = reactions(world, "endpoint-status", event_id)
    assert reaction["action"] == "completed", reaction
    assert sfn.describe_execution(executionArn=deploy)["status"] == "SUCCEEDED"
    assert world.live_model_package() == arn
    for entry in late["Entries"]:
        [answer] = reactions(world, "endpoint-status", entry["EventId"])
        assert answer["action"] != "rejected", answer
    assert world.queue_messages("RejectedEventsQueueUrl") == []


def test_the_documented_scheduled_event_of_the_stack_rule_runs_the_drift_monitor(world: SandboxWorld) -> None:
    rule = world.stack.resources["DriftMonitorFunctionSchedule"]
    [target] = world.client("events").list_targets_by_rule(Rule=rule)["Targets"]
    function = target["Arn"].rsplit(":", 1)[-1]
    assert function == f"{world.stack.project}-drift-monitor"
    world.sandbox.flush_data_capture()

    response = world.client("lambda").invoke(
        FunctionName=function, Payload=json.dumps(pointed_schedule(ACCOUNT_ID, REGION, rule)).encode()
    )
    summary = json.loads(response["Payload"].read())

    assert "FunctionError" not in response, summary
    assert summary["Outcome"] in ("measured", "too-few-records"), summary


def test_a_rule_of_ones_own_receives_a_deployments_endpoint_events_as_aws_documents_them(world: SandboxWorld) -> None:
    """What a user's own rule on the default bus gets, envelope included, has the documented example's shape."""
    sqs, events = world.client("sqs"), world.client("events")
    url = sqs.create_queue(QueueName="my-endpoint-events")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    pattern = {"source": ["aws.sagemaker"], "detail-type": ["SageMaker Endpoint State Change"]}
    events.put_rule(Name="my-endpoint-events", EventPattern=json.dumps(pattern))
    events.put_targets(Rule="my-endpoint-events", Targets=[{"Id": "queue", "Arn": queue_arn}])
    arn = register_version(world.sandbox, world.stack, 13, "PendingManualApproval")
    world.sandbox.settle()

    world.client("sagemaker").update_model_package(ModelPackageArn=arn, ModelApprovalStatus="Approved")
    world.sandbox.settle()

    received = []
    while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        received += [json.loads(message["Body"]) for message in batch]
        sqs.delete_message_batch(
            QueueUrl=url, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)]
        )
    assert world.live_model_package() == arn
    assert {event["detail"]["EndpointStatus"] for event in received} >= {"UPDATING", "IN_SERVICE"}
    example = documented("endpoint-state-change.json")
    for event in received:
        assert problems(event, example) == [], event
        assert isinstance(event["time"], str) and "ingestion-time" not in event, event
        assert parse_event(event, EndpointEvent).detail.EndpointName == world.stack.endpoint_name
