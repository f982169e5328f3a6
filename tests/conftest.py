"""Fixtures: events from events/, a fake Lambda context, and a sandbox with the world seeded."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sandbox import patches
from sandbox.core import Sandbox, Stack
from sandbox.world import World, seed_world
from tests.aws_shapes import EXAMPLES, emitted_problems

ROOT = Path(__file__).resolve().parent.parent
EVENTS = ROOT / "events"
AWS_EVENTS = EXAMPLES  # AWS's documented example events, in tests/aws_events/ (sources in SOURCES.md there)


def load_event(relative: str) -> dict[str, Any]:
    return json.loads((EVENTS / relative).read_text())  # type: ignore[no-any-return]


def expected_action(function: str, event_file: Path) -> str:
    """events/ naming: ignored-* are ignored, malformed-* rejected, the others acted on (an approval or a
    drift alarm starts a workflow)."""
    if event_file.name.startswith("ignored-"):
        return "ignored"
    if event_file.name.startswith("malformed-"):
        return "rejected"
    if function == "approval" or (function == "alarm" and event_file.name.startswith("drift-")):
        return "started"
    return "recorded"


class SandboxWorld:
    def __init__(self, sandbox: Sandbox, stack: Stack, world: World) -> None:
        self.sandbox = sandbox
        self.stack = stack
        self.world = world

    def client(self, service: str) -> Any:
        return self.sandbox.client(service)

    def executions(self, state_machine: str = "DeployStateMachineArn") -> list[dict[str, Any]]:
        sfn = self.client("stepfunctions")
        listed = sfn.list_executions(stateMachineArn=self.stack.outputs[state_machine])["executions"]
        return [sfn.describe_execution(executionArn=item["executionArn"]) for item in listed]

    def live_model_package(self) -> str:
        """DescribeEndpoint -> its EndpointConfig -> the variant's model -> the package it was made from."""
        sagemaker = self.client("sagemaker")
        config_name = sagemaker.describe_endpoint(EndpointName=self.stack.endpoint_name)["EndpointConfigName"]
        config = sagemaker.describe_endpoint_config(EndpointConfigName=config_name)
        model = sagemaker.describe_model(ModelName=config["ProductionVariants"][0]["ModelName"])
        containers = model.get("Containers") or [model["PrimaryContainer"]]
        return str(containers[0]["ModelPackageName"])

    def versions(self) -> list[dict[str, Any]]:
        """Every version of the project's model package group, as DescribeModelPackage tells it."""
        sagemaker = self.client("sagemaker")
        listed = sagemaker.list_model_packages(ModelPackageGroupName=self.stack.model_package_group)
        return [
            sagemaker.describe_model_package(ModelPackageName=item["ModelPackageArn"])
            for item in listed["ModelPackageSummaryList"]
        ]

    def ledger(self, pk: str) -> list[dict[str, Any]]:
        from mlops.ledger import Ledger

        return Ledger(self.client("dynamodb"), self.stack.ledger_table).entries(pk)

    def queue_messages(self, output: str) -> list[dict[str, Any]]:
        sqs = self.client("sqs")
        url = self.stack.outputs[output]
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]).get(
            "Messages", []
        )
        return [json.loads(message["Body"]) for message in messages]


@pytest.fixture(autouse=True)
def emitted_events_as_aws_documents_them(request: pytest.FixtureRequest) -> Iterator[None]:
    """Every event the sandbox emits during a test has the shape of AWS's documented example of its
    detail-type (tests/aws_shapes.py); the test fails at teardown, listing the differences, otherwise."""
    if "sandbox" in request.fixturenames:
        request.getfixturevalue("sandbox")  # set up first, so torn down (its events cleared) after this check
    start = len(patches.STATE.emitted_events)
    yield
    found: dict[str, list[str]] = {}  # by "detail-type: key", every problem found there
    for event in patches.STATE.emitted_events[start:]:
        for problem in emitted_problems(event):
            found.setdefault(": ".join(problem.split(": ", 2)[:2]), []).append(problem)
    if found:
        lines = [f"{problems[0]} ({len(problems)} times)" for problems in found.values()]
        pytest.fail("events the sandbox emitted differ from AWS's documented examples:\n" + "\n".join(lines))


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox() as running:
        yield running


def seeded(sandbox: Sandbox, **parameters: str) -> SandboxWorld:
    stack = sandbox.deploy_stack("churn", **parameters)
    return SandboxWorld(sandbox, stack, seed_world(sandbox, stack))


@pytest.fixture
def churn(sandbox: Sandbox) -> SandboxWorld:
    """The churn project deployed and seeded: v1 live on churn-endpoint, v2 pending approval.

    Bakes and the retention last a minute of AWS time (60 ms here), so that canaries finish quickly;
    without traffic, the analysis needs no minimum of candidate invocations.
    """
    return seeded(sandbox, BakeSeconds="60", RetentionSeconds="60", MinCandidateInvocations="0")


@pytest.fixture
def watched_churn(sandbox: Sandbox) -> SandboxWorld:
    """The same world with bakes of 3000 s (3 s here): long enough for a test to act during one."""
    return seeded(sandbox, BakeSeconds="3000", RetentionSeconds="60", MinCandidateInvocations="0")
