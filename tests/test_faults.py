"""Faults in the AWS calls of every workflow, one state at a time: each is retried and succeeds, or the
workflow ends cleanly. And a handler whose process dies mid-way: its event is redelivered, nothing doubles.

"Ends cleanly": the endpoint is InService and every variant taking traffic serves the live version (never
a half-shifted candidate), it answers InvokeEndpoint, the ledger records one outcome naming the error,
no lock or retrain gate is left held, and one notification tells the outcome.

The faults (sandbox/faults.py) are the services' own throttling errors and 5xx answers, and timeouts.
One world serves the whole module (deploying the stack and training its seed models once); each test
leaves it as it found it (a test that does not is followed by a fresh world), so the file stays fast.

A batch project (ServingKind Batch) has no endpoint: its file, once landed, is scored by one transform job
whatever fails, the job's output written, one outcome recorded and told. Its world replaces the other for the
module's last tests (one sandbox at a time).
"""

from __future__ import annotations

import contextlib
import importlib
import itertools
import json
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from mlops import transform_jobs
from mlops.ledger import Ledger
from pipeline import dataset
from sandbox import faults
from sandbox.core import Sandbox
from sandbox.world import registration_template
from tests.conftest import SandboxWorld, seeded

ROOT = Path(__file__).resolve().parent.parent
PROJECT = "churn"
WORKFLOWS = ("deploy", "rollback", "retrain")
STATE_MACHINE_OUTPUTS = {
    "deploy": "DeployStateMachineArn",
    "shadow": "DeployStateMachineArn",  # a deployment started by hand with "Strategy": "Shadow"
    "rollback": "RollbackStateMachineArn",
    "retrain": "RetrainStateMachineArn",
    "batch": "BatchStateMachineArn",  # (a batch project's)
}
# One traffic step at half, then all: a canary that fails in between has traffic to take back.
STACK_PARAMETERS = {
    "BakeSeconds": "60",
    "RetentionSeconds": "0",
    "MinCandidateInvocations": "0",
    "CanarySteps": "50,100",
    "RetrainCooldownSeconds": "0",  # the gate's clock is the wall clock: no cooldown between the tests' retrains
    "MaxRetrainsPerDay": "1000",
    # A shadow of a minute (60 ms here), judged on whatever it compared: no traffic runs here.
    "ShadowSeconds": "60",
    "ShadowMinComparedRequests": "0",
}
CUSTOMER = "2,110.0,6,3.0,month-to-month,electronic-check,under-65"
BATCH_FILE = dataset.to_csv(dataset.generate(rows=40, seed=31), header=False, label=False).encode()


def task_states(workflow: str) -> list[str]:
    """The Task states of a workflow's ASL file (those inside a Map too), in file order."""

    def walk(states: dict[str, Any]) -> Iterator[str]:
        for name, state in states.items():
            if state["Type"] == "Task":
                yield name
            processor = state.get("ItemProcessor") or state.get("Iterator")
            if processor:
                yield from walk(processor["States"])

    definition = json.loads((ROOT / "statemachines" / f"{workflow}.asl.json").read_text())
    return list(walk(definition["States"]))


def change_states(workflow: str) -> list[str]:
    """The Task states that change the endpoint's resources: SageMaker creates, and endpoint changes."""

    def changes(state: dict[str, Any]) -> bool:
        resource = str(state.get("Resource", ""))
        function = state.get("Parameters", {}).get("FunctionName")
        return (
            resource.endswith((":createModel", ":createEndpointConfig")) or function == "${EndpointUpdateFunctionArn}"
        )

    definition = json.loads((ROOT / "statemachines" / f"{workflow}.asl.json").read_text())
    found: list[str] = []

    def walk(states: dict[str, Any]) -> None:
        for name, state in states.items():
            if state["Type"] == "Task" and changes(state):
                found.append(name)
            processor = state.get("ItemProcessor") or state.get("Iterator")
            if processor:
                walk(processor["States"])

    walk(definition["States"])
    return found


# A change applied by SageMaker whose answer is lost, in each state that makes one: the two ways alternate.
LOST_FAULTS = [
    (workflow, state, faults.LOST[index % len(faults.LOST)])
    for workflow in ("deploy", "rollback")
    for index, state in enumerate(change_states(workflow))
]

# Each workflow's states take the three kinds in turn, so that every kind hits every workflow.
STATE_FAULTS = [
    (workflow, state, faults.KINDS[index % len(faults.KINDS)])
    for workflow in WORKFLOWS
    for index, state in enumerate(task_states(workflow))
]
# The shadow's own states, on a shadow deployment (the states it shares with the canary are tested above).
SHADOW_STATES = [state for state in task_states("deploy") if "Shadow" in state]
STATE_FAULTS += [
    ("shadow", state, faults.KINDS[index % len(faults.KINDS)]) for index, state in enumerate(SHADOW_STATES)
]
LOST_FAULTS += [
    ("shadow", state, faults.LOST[index % len(faults.LOST)])
    for index, state in enumerate(s for s in change_states("deploy") if "Shadow" in s)
]


def machine(workflow: str) -> str:
    """The state machine a workflow of these tests runs on."""
    return f"{PROJECT}-{'deploy' if workflow == 'shadow' else workflow}"


# ------------------------------------------------------------------ one world for the module
@dataclass
class Run:
    """One workflow execution, as a test judges it."""

    workflow: str
    execution: dict[str, Any]
    history: list[dict[str, Any]]
    expected_live: str  # the version the endpoint should serve if the workflow did its job
    injection: faults.Injection | None = None
    outcomes: list[dict[str, Any]] = field(default_factory=list)  # its outcome entries in the ledger
    live_before: str = ""  # the version live when it started (after any set-up the workflow needed)

    @property
    def arn(self) -> str:
        return str(self.execution["executionArn"])

    @property
    def status(self) -> tuple[str, str]:
        return str(self.execution["status"]), str(self.execution.get("error", ""))

    def entered(self) -> list[str]:
        return [e["stateEnteredEventDetails"]["name"] for e in self.history if e["type"] == "TaskStateEntered"]

    def failures_in(self, state: str) -> list[str]:
        """The errors of the failed attempts at `state` (a TaskFailed follows the state's TaskStateEntered)."""
        errors, current = [], ""
        for event in self.history:
            if event["type"].endswith("StateEntered"):
                current = event["stateEnteredEventDetails"]["name"]
            elif event["type"] in ("TaskFailed", "TaskTimedOut") and current == state:
                details = event.get("taskFailedEventDetails") or event.get("taskTimedOutEventDetails") or {}
                errors.append(str(details.get("error", "")))
        return errors


@dataclass
class FaultWorld:
    sandbox: Sandbox
    churn: SandboxWorld
    inbox_url: str
    serving_kind: str = "RealTime"
    notifications: list[dict[str, Any]] = field(default_factory=list)
    baselines: dict[str, Run] = field(default_factory=dict)
    _numbers: Iterator[int] = field(default_factory=lambda: itertools.count(3))
    _clients: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def create(cls, serving_kind: str = "RealTime") -> FaultWorld:
        sandbox = Sandbox().start()
        churn = seeded(sandbox, **STACK_PARAMETERS, ServingKind=serving_kind)
        sqs, sns = churn.client("sqs"), churn.client("sns")
        url = sqs.create_queue(QueueName="team-inbox")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=churn.stack.outputs["NotificationTopicArn"], Protocol="sqs", Endpoint=queue_arn)
        world = cls(sandbox, churn, url, serving_kind)
        world._register_without_training()
        return world

    def _register_without_training(self) -> None:
        """The project's pipeline keeps only its gate (always passed) and its register step, which registers
        the model trained for the seed.

        A retrain here is about the workflow around the pipeline (admit, start, wait, judge, tell), which
        the faults hit; training for real takes seconds per run (test_retrain.py runs it).
        """
        sagemaker = self.client("sagemaker")
        name = self.churn.stack.parameters["PipelineName"]
        definition = json.loads(sagemaker.describe_pipeline(PipelineName=name)["PipelineDefinition"])
        [gate] = [step for step in definition["Steps"] if step["Type"] == "Condition"]
        gate["Arguments"]["Conditions"] = [{"Type": "GreaterThanOrEqualTo", "LeftValue": 1, "RightValue": 0}]
        [register] = [step for step in gate["Arguments"]["IfSteps"] if step["Type"] == "RegisterModel"]
        seed = f"s3://{self.churn.stack.outputs['ArtifactBucketName']}/pipeline/seed/v1"
        arguments = register["Arguments"]
        arguments["ModelMetrics"]["ModelQuality"]["Statistics"]["S3Uri"] = f"{seed}/evaluation.json"
        arguments["ModelMetrics"]["Bias"]["PostTrainingReport"]["S3Uri"] = f"{seed}/bias.json"
        arguments["ModelMetrics"]["Explainability"]["Report"]["S3Uri"] = f"{seed}/explainability.json"
        arguments["DriftCheckBaselines"]["ModelDataQuality"]["Statistics"]["S3Uri"] = f"{seed}/baseline.json"
        arguments["InferenceSpecification"]["Containers"][0]["ModelDataUrl"] = f"{seed}/model.tar.gz"
        # the steps the rest of the metadata comes from are gone: what the stack gives (owner, ...) stays
        customer = arguments["CustomerMetadataProperties"]
        arguments["CustomerMetadataProperties"] = {k: v for k, v in customer.items() if isinstance(v, str)}
        arguments["MetadataProperties"] = {"GeneratedBy": arguments["MetadataProperties"]["GeneratedBy"]}
        definition["Steps"] = [gate]
        sagemaker.update_pipeline(PipelineName=name, PipelineDefinition=json.dumps(definition))

    def register(self) -> str:
        """A new version, PendingManualApproval, of the model trained for the seed (the registry numbers it).

        Its artifacts are the seed's, as the register step above names them: the endpoint loads the model once.
        """
        arguments = registration_template(self.sandbox, self.churn.stack)
        response = self.client("sagemaker").create_model_package(
            ModelPackageGroupName=self.churn.stack.model_package_group,
            ModelPackageDescription=f"{PROJECT} model, candidate {next(self._numbers)}",
            InferenceSpecification=arguments["InferenceSpecification"],
            ModelMetrics={"ModelQuality": arguments["ModelMetrics"]["ModelQuality"]},
            DriftCheckBaselines=arguments["DriftCheckBaselines"],
            ModelApprovalStatus="PendingManualApproval",
        )
        self.settle()
        return str(response["ModelPackageArn"])

    # -------------------------------------------------------------- reading the world
    def client(self, service: str) -> Any:
        if service not in self._clients:  # creating a client costs more than most calls
            self._clients[service] = self.churn.client(service)
        return self._clients[service]

    def ledger(self, pk: str) -> list[dict[str, Any]]:
        return Ledger(self.client("dynamodb"), self.churn.stack.ledger_table).entries(pk)

    def settle(self, timeout: float = 120) -> None:
        """Wait for deliveries and executions to end, polling lightly, then let the sandbox confirm it."""
        sfn = self.client("stepfunctions")
        outputs = self.churn.stack.outputs
        machines = [outputs[name] for name in STATE_MACHINE_OUTPUTS.values() if name in outputs]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            quiet = self.sandbox.state.wait_deliveries(timeout=0.05)
            running = any(
                sfn.list_executions(stateMachineArn=m, statusFilter="RUNNING")["executions"] for m in machines
            )
            if quiet and not running:
                break
            time.sleep(0.05)
        self.sandbox.settle(timeout=max(1.0, deadline - time.monotonic()))

    def messages_about(self, execution_arn: str) -> list[dict[str, Any]]:
        sqs = self.client("sqs")
        while batch := sqs.receive_message(QueueUrl=self.inbox_url, MaxNumberOfMessages=10).get("Messages", []):
            for message in batch:
                self.notifications.append(json.loads(message["Body"]))
                sqs.delete_message(QueueUrl=self.inbox_url, ReceiptHandle=message["ReceiptHandle"])
        return [n for n in self.notifications if execution_arn in n.get("Message", "")]

    def ledger_item(self, pk: str, sk: str) -> dict[str, Any]:
        return next((e for e in self.ledger(pk) if e["sk"] == sk), {})

    def outcomes_of(self, execution_arn: str) -> list[dict[str, Any]]:
        endpoint = self.ledger(f"ENDPOINT#{self.churn.stack.endpoint_name}")
        project = self.ledger(f"PROJECT#{PROJECT}")
        batch = self.ledger(f"BATCH#{self.churn.stack.endpoint_name}") if self.serving_kind == "Batch" else []
        recorded = [
            e
            for e in endpoint + project + batch
            if str(e["sk"]).startswith(("DEPLOYMENT#", "ROLLBACK#", "RETRAIN#", "RUN#"))
        ]
        return [e for e in recorded if e.get("execution_arn") == execution_arn]

    def live_version(self) -> str:
        return str(self.ledger_item(f"ENDPOINT#{self.churn.stack.endpoint_name}", "LIVE").get("model_package_arn"))

    def executions(self, workflow: str, name: str = "") -> list[dict[str, Any]]:
        """The workflow's executions named `name` (or `name-...`), described; all of them without a name."""
        sfn = self.client("stepfunctions")
        machine = self.churn.stack.outputs[STATE_MACHINE_OUTPUTS[workflow]]
        listed = sfn.get_paginator("list_executions").paginate(stateMachineArn=machine)
        found = [e for page in listed for e in page["executions"]]
        named = [e for e in found if not name or e["name"] == name or e["name"].startswith(f"{name}-")]
        return [dict(sfn.describe_execution(executionArn=e["executionArn"])) for e in named]

    def execution(self, workflow: str, name: str) -> dict[str, Any]:
        [found] = self.executions(workflow, name)
        return found

    def history(self, execution_arn: str) -> list[dict[str, Any]]:
        sfn = self.client("stepfunctions")
        events: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"executionArn": execution_arn, "maxResults": 1000}
        while True:
            page = sfn.get_execution_history(**kwargs)
            events += page["events"]
            if not page.get("nextToken"):
                return events
            kwargs["nextToken"] = page["nextToken"]

    def healthy(self) -> bool:
        """Nothing running, nothing held: the state every test starts from."""
        endpoint = self.churn.stack.endpoint_name
        lock = self.ledger_item(f"ENDPOINT#{endpoint}", "LOCK")
        gate = self.ledger_item(f"PROJECT#{PROJECT}", "RETRAIN-GATE")
        in_service = self.serving_kind == "Batch" or (  # a batch project has no endpoint
            self.client("sagemaker").describe_endpoint(EndpointName=endpoint)["EndpointStatus"] == "InService"
        )
        return not (self.sandbox.running_executions() or lock.get("holder") or gate.get("holder")) and in_service

    # -------------------------------------------------------------- running a workflow
    def run(self, workflow: str, plan: faults.FaultPlan | None = None) -> Run:
        """Run the workflow once, with the plan in force while it runs, and wait for everything to settle."""
        number = next(self._numbers)
        starts = {
            "deploy": self._deploy,
            "shadow": self._shadow,
            "rollback": self._rollback,
            "retrain": self._retrain,
            "batch": self._batch,
        }
        start, expected_live = starts[workflow](number)
        live_before = self.live_version()
        with faults.inject(plan) if plan else contextlib.nullcontext() as injection:
            name = start()
            self.settle()
        execution = self.execution(workflow, name)
        arn = execution["executionArn"]
        return Run(workflow, execution, self.history(arn), expected_live, injection, self.outcomes_of(arn), live_before)

    def _deploy(self, number: int) -> tuple[Callable[[], str], str]:
        """A new version is registered and approved: the approval starts the deploy workflow."""
        arn = self.register()

        def start() -> str:
            self.client("sagemaker").update_model_package(ModelPackageArn=arn, ModelApprovalStatus="Approved")
            return f"approved-v{arn.rsplit('/', 1)[-1]}"  # the registry numbers versions (retrains add some)

        return start, arn

    def _shadow(self, number: int) -> tuple[Callable[[], str], str]:
        """A new version approved (its approval event held back: no canary starts by itself), then deployed by
        hand with "Strategy": "Shadow"; it agrees with the live version (the same model), so it is promoted."""
        arn = self.register()
        with self.sandbox.holding_events():
            self.client("sagemaker").update_model_package(ModelPackageArn=arn, ModelApprovalStatus="Approved")

        def start() -> str:
            self.client("stepfunctions").start_execution(
                stateMachineArn=self.churn.stack.outputs["DeployStateMachineArn"],
                name=f"shadow-{number}",
                input=json.dumps({"ModelPackageArn": arn, "Strategy": "Shadow", "Reason": "compare it first"}),
            )
            return f"shadow-{number}"

        return start, arn

    def _rollback(self, number: int) -> tuple[Callable[[], str], str]:
        """By hand, back to the version served before the last change."""
        endpoint = self.churn.stack.endpoint_name
        if self.ledger_item(f"ENDPOINT#{endpoint}", "LIVE").get("previous_model_package_arn", "none") == "none":
            self.run("deploy")  # a first deployment has nothing before it
        target = str(self.ledger_item(f"ENDPOINT#{endpoint}", "LIVE")["previous_model_package_arn"])

        def start() -> str:
            self.client("stepfunctions").start_execution(
                stateMachineArn=self.churn.stack.outputs["RollbackStateMachineArn"],
                name=f"rollback-{number}",
                input=json.dumps({"ModelPackageArn": target, "Reason": "back to the previous version"}),
            )
            return f"rollback-{number}"

        return start, target

    def _retrain(self, number: int) -> tuple[Callable[[], str], str]:
        """By hand: the pipeline runs on the newest data and registers a version for approval."""
        live = self.live_version()

        def start() -> str:
            self.client("stepfunctions").start_execution(
                stateMachineArn=self.churn.stack.outputs["RetrainStateMachineArn"],
                name=f"retrain-{number}",
                input=json.dumps({"Reason": "fresh data arrived", "RequestedBy": "data team"}),
            )
            return f"retrain-{number}"

        return start, live

    def _batch(self, number: int) -> tuple[Callable[[], str], str]:
        """A file of customers lands under batch/input/: its "Object Created" event starts the batch workflow,
        named after the object's version."""
        bucket = self.churn.stack.outputs["ArtifactBucketName"]
        key = f"{transform_jobs.INPUT_PREFIX}customers-{number}.csv"

        def start() -> str:
            version = self.client("s3").put_object(Bucket=bucket, Key=key, Body=BATCH_FILE)["VersionId"]
            return transform_jobs.run_name(f"s3://{bucket}/{key}", version)

        return start, self.live_version()

    def baseline(self, workflow: str) -> Run:
        """The workflow's fault-free run (once per module): what a retried run must equal."""
        if workflow not in self.baselines:
            self.baselines[workflow] = self.run(workflow)
        return self.baselines[workflow]


_world: FaultWorld | None = None
_baselines: dict[str, dict[str, Run]] = {}  # by serving kind: a fresh world keeps them


@pytest.fixture(scope="module")
def module_world() -> Iterator[None]:
    yield
    global _world
    if _world is not None:
        _world.sandbox.stop()
        _world = None
    _baselines.clear()


def healthy_world(serving_kind: str) -> FaultWorld:
    """The module's world, healthy; a fresh one when the previous test left something behind or needed a world
    of another serving kind (one sandbox at a time)."""
    global _world
    if _world is not None and (_world.serving_kind != serving_kind or not _world.healthy()):
        _world.sandbox.stop()
        _world = None
    if _world is None:
        _world = FaultWorld.create(serving_kind)
        _world.baselines = _baselines.setdefault(serving_kind, {})
    return _world


@pytest.fixture
def world(module_world: None) -> FaultWorld:
    """The module's world, healthy; a fresh one when the previous test left something behind."""
    return healthy_world("RealTime")


@pytest.fixture
def batch_world(module_world: None) -> FaultWorld:
    """A batch project's world (ServingKind Batch), healthy: v1 its live batch model."""
    return healthy_world("Batch")


# ------------------------------------------------------------------ what every test checks
def assert_ends_cleanly(world: FaultWorld, run: Run) -> None:
    """Endpoint serving a live version, one outcome in the ledger and one notification, nothing held."""
    assert run.status[0] != "RUNNING", f"{run.arn} still running"
    sagemaker = world.client("sagemaker")
    endpoint_name = world.churn.stack.endpoint_name
    endpoint = sagemaker.describe_endpoint(EndpointName=endpoint_name)
    assert endpoint["EndpointStatus"] == "InService", endpoint.get("FailureReason")
    live = world.live_version()
    config = sagemaker.describe_endpoint_config(EndpointConfigName=endpoint["EndpointConfigName"])
    models = {v["VariantName"]: v["ModelName"] for v in config["ProductionVariants"]}
    for variant in endpoint["ProductionVariants"]:
        if variant["CurrentWeight"] > 0:
            model = sagemaker.describe_model(ModelName=models[variant["VariantName"]])
            served = (model.get("Containers") or [model.get("PrimaryContainer")])[0]["ModelPackageName"]
            assert served == live, f"variant {variant['VariantName']} takes traffic for {served}, live is {live}"
    approval = sagemaker.describe_model_package(ModelPackageName=live)["ModelApprovalStatus"]
    assert approval == "Approved", f"the live version {live} is {approval}"
    answer = world.client("sagemaker-runtime").invoke_endpoint(
        EndpointName=endpoint_name, ContentType="text/csv", Body=CUSTOMER.encode()
    )
    assert 0.0 <= float(answer["Body"].read().decode().strip().split(",")[0]) <= 1.0
    lock = world.ledger_item(f"ENDPOINT#{endpoint_name}", "LOCK")
    gate = world.ledger_item(f"PROJECT#{PROJECT}", "RETRAIN-GATE")
    assert not lock.get("holder"), f"the endpoint lock is still held by {lock.get('holder')}"
    assert not gate.get("holder"), f"the retrain gate is still held by {gate.get('holder')}"
    [outcome] = world.outcomes_of(run.arn)
    [message] = world.messages_about(run.arn)
    assert outcome["outcome"] in message["Subject"], (outcome["outcome"], message["Subject"])


def assert_same_outcome(world: FaultWorld, baseline: Run, run: Run) -> None:
    """What the fault-free run achieved, this run achieved too."""
    assert run.status == baseline.status, (run.status, run.execution.get("cause"))
    [expected] = baseline.outcomes
    [outcome] = run.outcomes
    assert outcome["outcome"] == expected["outcome"], outcome.get("detail")
    assert world.live_version() == run.expected_live
    if run.workflow == "retrain":
        registered = str(outcome["model_package_arn"])
        package = world.client("sagemaker").describe_model_package(ModelPackageName=registered)
        assert package["MetadataProperties"]["GeneratedBy"].rsplit("/", 1)[-1] in outcome["message"]


# ------------------------------------------------------------------ one state at a time
def run_on_the_fault_free_path(world: FaultWorld, workflow: str, state: str, plan: faults.FaultPlan) -> tuple[Run, Run]:
    """(the fault-free run, a run with `plan` in force), skipping a state the fault-free run never enters."""
    baseline = world.baseline(workflow)
    if state not in baseline.entered():
        pytest.skip(f"{state} is not on the fault-free path of the {workflow} workflow")
    run = world.run(workflow, plan)
    assert run.injection is not None and run.injection.injected, f"no call of {state} was faulted"
    return baseline, run


@pytest.mark.parametrize(("workflow", "state", "kind"), STATE_FAULTS, ids=[f"{w}-{s}-{k}" for w, s, k in STATE_FAULTS])
def test_a_fault_in_one_state_is_retried_to_the_same_outcome(
    world: FaultWorld, workflow: str, state: str, kind: faults.Kind
) -> None:
    baseline, run = run_on_the_fault_free_path(
        world, workflow, state, faults.FaultInState(machine(workflow), state, kind)
    )

    assert run.failures_in(state), f"{state} never failed: the fault did not reach it"
    assert state in run.entered()
    assert_same_outcome(world, baseline, run)
    assert_ends_cleanly(world, run)


@pytest.mark.parametrize(("workflow", "state", "lost"), LOST_FAULTS, ids=[f"{w}-{s}-{k}" for w, s, k in LOST_FAULTS])
def test_a_change_applied_but_unanswered_ends_as_the_fault_free_run(
    world: FaultWorld, workflow: str, state: str, lost: faults.Verdict
) -> None:
    """The retried create meets "already existing", the retried update meets "in progress": neither is a refusal."""
    plan = faults.AppliedThenLost(machine(workflow), state, lost)
    baseline, run = run_on_the_fault_free_path(world, workflow, state, plan)

    assert_same_outcome(world, baseline, run)
    assert_ends_cleanly(world, run)


def test_a_real_validation_error_fails_the_create_cleanly_and_names_it(world: FaultWorld) -> None:
    """SageMaker.SageMakerException is retried (it also names throttling), but a bounded number of times; the
    create is then seen not to have happened, and the deployment fails with SageMaker's own code in the ledger."""
    run = world.run("deploy", faults.FaultInState(f"{PROJECT}-deploy", "CreateModel", "invalid", every_attempt=True))

    errors = run.failures_in("CreateModel")
    assert set(errors) == {"SageMaker.SageMakerException"}, errors
    assert 1 < len(errors) <= 5, f"CreateModel was tried {len(errors)} times"
    assert run.status[0] == "FAILED" and world.live_version() == run.live_before
    assert_ends_cleanly(world, run)
    [outcome] = run.outcomes
    assert "CreateModel failed: SageMaker.SageMakerException" in str(outcome["detail"])
    assert "ValidationException" in str(outcome["detail"])


def test_every_fault_kind_hits_every_workflow(world: FaultWorld) -> None:
    for workflow in WORKFLOWS:
        entered = set(world.baseline(workflow).entered())
        kinds = {kind for w, state, kind in STATE_FAULTS if w == workflow and state in entered}
        assert kinds == set(faults.KINDS), (workflow, kinds)


@pytest.mark.parametrize("kind", faults.KINDS)
@pytest.mark.parametrize("workflow", WORKFLOWS)
def test_every_call_failing_once_changes_nothing(world: FaultWorld, workflow: str, kind: faults.Kind) -> None:
    baseline = world.baseline(workflow)

    run = world.run(workflow, faults.EveryCallOnce(kind))

    assert run.injection is not None
    faulted_by = {call.origin for call, _ in run.injection.injected}
    assert faulted_by == {"workflow", "function"}, faulted_by
    assert_same_outcome(world, baseline, run)
    assert_ends_cleanly(world, run)


# ------------------------------------------------------------------ a state that keeps failing
# States whose failure has a path of its own: before the endpoint changes, between two traffic steps
# (half the traffic on the candidate), while restoring a version, while starting or judging a pipeline run.
KEEPS_FAILING = [
    ("deploy", "CreateModel", "5xx", "CreateModel failed"),
    ("deploy", "UpdateEndpoint", "throttle", "endpoint churn-endpoint"),
    ("deploy", "RecordStep", "timeout", "all traffic back on"),
    ("shadow", "CompareShadow", "5xx", "shadow removed"),
    ("rollback", "RestoreConfig", "throttle", "endpoint churn-endpoint"),
    ("retrain", "StartPipeline", "timeout", "StartPipeline failed"),
    ("retrain", "Assess", "5xx", "Assess failed"),
]


@pytest.mark.parametrize(
    ("workflow", "state", "kind", "told"), KEEPS_FAILING, ids=[f"{w}-{s}-{k}" for w, s, k, _ in KEEPS_FAILING]
)
def test_a_state_that_keeps_failing_ends_cleanly(
    world: FaultWorld, workflow: str, state: str, kind: faults.Kind, told: str
) -> None:
    run = world.run(workflow, faults.FaultInState(machine(workflow), state, kind, every_attempt=True))

    errors = run.failures_in(state)
    assert len(errors) > 1, f"{state} failed {len(errors)} times: its retries were not exhausted"
    assert world.live_version() == run.live_before
    assert_ends_cleanly(world, run)
    [outcome] = world.outcomes_of(run.arn)
    [message] = world.messages_about(run.arn)
    for text in (str(outcome["detail"]), message["Message"]):
        assert told in text and errors[-1] in text, f"{text!r} does not say that {state} failed ({errors[-1]})"


# ------------------------------------------------------------------ a handler's process dies mid-way
@dataclass(frozen=True)
class DeathOnEvent:
    """faults.DeathAfterCall for a function that workflow states invoke too (their invocations are not
    redelivered: they never die here) and that takes several kinds of events: only its handler making these
    calls dies."""

    function: str
    index: int
    operations: frozenset[str]

    def counts(self, call: faults.Call) -> bool:
        return call.function == self.function and call.state is None and call.operation in self.operations

    def verdict(self, call: faults.Call) -> faults.Verdict | None:
        return "die" if self.counts(call) and call.delivery == 1 and call.index == self.index else None


def death_plan(function: str, index: int, operations: frozenset[str] | None) -> faults.FaultPlan:
    return faults.DeathAfterCall(function, index) if operations is None else DeathOnEvent(function, index, operations)


def calls_of(
    world: FaultWorld,
    function: str,
    prepare: Callable[[], None],
    trigger: Callable[[], None],
    operations: frozenset[str] | None = None,
) -> int:
    """How many AWS calls the function's invocation that makes the most of them makes, without faults."""
    prepare()
    world.settle()
    with faults.inject(death_plan(function, 0, operations)) as injection:
        trigger()
        world.settle()
    counted = DeathOnEvent(function, 0, operations).counts if operations else lambda call: call.function == function
    return max(call.index for call in injection.calls if counted(call))


def dies_once_after_each_call(
    world: FaultWorld,
    function: str,
    prepare: Callable[[], None],
    trigger: Callable[[], None],
    operations: frozenset[str] | None = None,
    fewest: int = 3,
) -> Iterator[int]:
    """For k = 1, 2, ... up to the handler's number of calls: the handler's process dies right after call k
    (in the first delivery of each event it gets); each event is delivered again and handled then.
    `operations`: only the handler making these calls dies (DeathOnEvent)."""
    count = calls_of(world, function, prepare, trigger, operations)
    assert count >= fewest, f"{function} made {count} calls"
    for index in range(1, count + 1):
        prepare()
        world.settle()
        before = len(world.sandbox.state.invocations)
        with faults.inject(death_plan(function, index, operations)) as injection:
            trigger()
            world.settle()
        deaths = [verdict for _, verdict in injection.injected]
        assert deaths and set(deaths) == {"die"}, f"call {index} did not kill {function}"
        ran = [i for i in world.sandbox.state.invocations[before:] if i.function_name == function]
        died = [i for i in ran if (i.error or "").startswith("Runtime.ExitError")]
        redelivered = [i for i in ran if i.attempt == 2 and i.error is None]
        assert len(died) == len(deaths) == len(redelivered), [(i.attempt, i.error) for i in ran]
        yield index


def test_an_approval_handler_dying_after_any_call_deploys_once(world: FaultWorld) -> None:
    approvals: list[str] = []

    def register() -> None:
        approvals.append(world.register())

    def approve() -> None:
        world.client("sagemaker").update_model_package(ModelPackageArn=approvals[-1], ModelApprovalStatus="Approved")

    for index in dies_once_after_each_call(world, f"{PROJECT}-approval", register, approve):
        arn, version = approvals[-1], approvals[-1].rsplit("/", 1)[-1]
        runs = world.executions("deploy", f"approved-v{version}")
        assert len(runs) == 1, f"dying after call {index}: {len(runs)} deployments of version {version}"
        assert len(world.ledger(f"APPROVAL#{arn}")) == 1, f"dying after call {index}"
        assert world.live_version() == arn
        assert_ends_cleanly(world, Run("deploy", runs[0], [], arn))


def test_a_drift_alarm_handler_dying_after_any_call_retrains_once(world: FaultWorld) -> None:
    alarm = f"{PROJECT}-drift-score"
    cloudwatch = world.client("cloudwatch")
    retrains_before: list[set[str]] = []

    def calm() -> None:
        cloudwatch.set_alarm_state(AlarmName=alarm, StateValue="OK", StateReason="back to normal")
        retrains_before.append({e["executionArn"] for e in world.executions("retrain")})

    def drift() -> None:
        cloudwatch.set_alarm_state(AlarmName=alarm, StateValue="ALARM", StateReason=f"PSI {uuid.uuid4().hex[:4]}")

    for index in dies_once_after_each_call(world, f"{PROJECT}-alarm", calm, drift):
        started = [e for e in world.executions("retrain") if e["executionArn"] not in retrains_before[-1]]
        assert len(started) == 1, f"dying after call {index}: {len(started)} retrains"
        transition = [e for e in world.ledger(f"ALARM#{alarm}") if str(e["sk"]).endswith("#ALARM")][-1]
        assert transition.get("retrain") == "started", transition
        assert_ends_cleanly(world, Run("retrain", started[0], [], world.live_version()))


# ------------------------------------------------------------------ the checks can fail
def test_the_checks_fail_for_a_step_that_raises_on_a_valid_request(
    world: FaultWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    baseline = world.baseline("deploy")
    canary = importlib.import_module("canary.app")

    def broken(event: dict[str, Any], settings: Any, ledger: Any) -> dict[str, Any]:
        raise RuntimeError("the plan step is broken")

    monkeypatch.setitem(canary.ACTIONS, "plan", broken)

    run = world.run("deploy", faults.FaultInState(f"{PROJECT}-deploy", "DescribeModelVersion", "throttle"))

    with pytest.raises(AssertionError):
        assert_same_outcome(world, baseline, run)
    assert "PlanDeployment failed: RuntimeError" in run.outcomes[0]["detail"]


def test_the_checks_fail_for_a_step_that_does_not_name_its_transient_errors(
    world: FaultWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    baseline = world.baseline("deploy")
    canary = importlib.import_module("canary.app")
    monkeypatch.setattr(canary, "transient_errors_named", contextlib.nullcontext)

    run = world.run("deploy", faults.FaultInState(f"{PROJECT}-deploy", "PlanDeployment", "throttle"))

    with pytest.raises(AssertionError):
        assert_same_outcome(world, baseline, run)
    assert "PlanDeployment failed" in run.outcomes[0]["detail"] and "Throttling" in run.outcomes[0]["detail"]


def test_a_pipeline_status_handler_dying_after_any_call_ends_the_retrain_once(world: FaultWorld) -> None:
    baseline = world.baseline("retrain")
    runs: list[Run] = []

    def nothing() -> None:
        """Each retrain starts from a quiet world."""

    def retrain() -> None:
        runs.append(world.run("retrain"))

    for index in dies_once_after_each_call(world, f"{PROJECT}-pipeline-status", nothing, retrain):
        run = runs[-1]
        assert run.status == baseline.status, f"dying after call {index}: {run.status} {run.execution.get('cause')}"
        assert_same_outcome(world, baseline, run)
        assert_ends_cleanly(world, run)


def test_an_endpoint_status_handler_dying_after_any_call_ends_the_deployment_once(world: FaultWorld) -> None:
    """The token is told again by the redelivery: the workflow does not wait out its endpoint timeout."""
    baseline = world.baseline("deploy")
    runs: list[Run] = []

    def nothing() -> None:
        """Each deployment starts from a quiet world."""

    def deploy() -> None:
        runs.append(world.run("deploy"))

    for index in dies_once_after_each_call(world, f"{PROJECT}-endpoint-status", nothing, deploy):
        run = runs[-1]
        assert run.status == baseline.status, f"dying after call {index}: {run.status} {run.execution.get('cause')}"
        assert_same_outcome(world, baseline, run)
        assert_ends_cleanly(world, run)


def test_a_canary_the_automation_cannot_carry_on_does_not_reject_the_version(world: FaultWorld) -> None:
    """A step whose AWS calls keep failing rolls the canary back, but says nothing against the version."""
    run = world.run("deploy", faults.FaultInState(f"{PROJECT}-deploy", "RecordStep", "throttle", every_attempt=True))

    assert run.status == ("FAILED", "CanaryInterrupted"), run.execution.get("cause")
    assert world.live_version() == run.live_before
    described = world.client("sagemaker").describe_model_package(ModelPackageName=run.expected_live)
    assert described["ModelApprovalStatus"] == "Approved"
    [outcome] = run.outcomes
    assert outcome["outcome"] == "Interrupted" and "not rejected" in str(outcome["detail"])
    assert_ends_cleanly(world, run)


# ------------------------------------------------------------------ a batch project (the module's last tests)
ON_OBJECT_CREATED = frozenset({"StartExecution"})  # the calls of the batch function's handler of each kind of event
ON_TRANSFORM_JOB_END = frozenset({"GetItem", "SendTaskSuccess", "SendTaskFailure", "UpdateItem"})


@dataclass(frozen=True)
class AnswerLost:
    """In `state` of `state_machine`, the first try of `operation` is applied, then its answer is lost (what
    faults.AppliedThenLost does to the endpoint's changes)."""

    state_machine: str
    state: str
    operation: str
    lost: faults.Verdict

    def verdict(self, call: faults.Call) -> faults.Verdict | None:
        at = call.state
        if at is None or (at.state_machine, at.state) != (self.state_machine, self.state):
            return None
        return self.lost if call.operation == self.operation and call.sdk_attempt == 1 and at.attempt == 1 else None


def assert_batch_ends_cleanly(world: FaultWorld, run: Run) -> None:
    """One workflow run and one transform job for the file's version, the job Completed and its end recorded, its
    output written; one outcome in the ledger and one notification."""
    assert run.status[0] != "RUNNING", f"{run.arn} still running"
    request = json.loads(run.execution["input"])
    url, version = request["InputUrl"], request["ObjectVersion"]
    runs = [e["name"] for e in world.executions("batch") if json.loads(e["input"])["InputUrl"] == url]
    assert runs == [run.execution["name"]], f"{len(runs)} runs scored {url}"
    sagemaker = world.client("sagemaker")
    job = transform_jobs.job_name(PROJECT, url, version, run.arn)
    jobs = sagemaker.list_transform_jobs(NameContains=job)["TransformJobSummaries"]
    assert [j["TransformJobName"] for j in jobs] == [job], f"{len(jobs)} transform jobs for {url} ({version})"
    assert sagemaker.describe_transform_job(TransformJobName=job)["TransformJobStatus"] == "Completed"
    assert world.ledger_item(f"BATCH#{world.churn.stack.endpoint_name}", f"JOB#{job}").get("status") == "Completed"
    bucket, key = transform_jobs.split_url(json.loads(run.execution["output"])["Job"]["OutputUrl"])
    scored = world.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read().splitlines()
    assert len(scored) == len(BATCH_FILE.splitlines()), f"{len(scored)} lines scored"
    [outcome] = world.outcomes_of(run.arn)
    [message] = world.messages_about(run.arn)
    assert outcome["outcome"] in message["Subject"], (outcome["outcome"], message["Subject"])


@pytest.mark.parametrize("kind", faults.KINDS)
def test_a_batch_with_every_call_failing_once_is_scored_as_without_faults(
    batch_world: FaultWorld, kind: faults.Kind
) -> None:
    baseline = batch_world.baseline("batch")

    run = batch_world.run("batch", faults.EveryCallOnce(kind))

    assert run.injection is not None
    faulted_by = {call.origin for call, _ in run.injection.injected}
    assert faulted_by == {"workflow", "function"}, faulted_by
    assert_same_outcome(batch_world, baseline, run)
    assert_batch_ends_cleanly(batch_world, run)


@pytest.mark.parametrize("lost", faults.LOST)
def test_a_transform_job_created_but_unanswered_is_created_once(batch_world: FaultWorld, lost: faults.Verdict) -> None:
    """The retried create meets the job already there: the same job goes on, the workflow waits for its end."""
    baseline = batch_world.baseline("batch")

    run = batch_world.run("batch", AnswerLost(f"{PROJECT}-batch", "Transform", "CreateTransformJob", lost))

    assert run.injection is not None and run.injection.injected, "CreateTransformJob was not faulted"
    assert_same_outcome(batch_world, baseline, run)
    assert_batch_ends_cleanly(batch_world, run)


@pytest.mark.parametrize(
    ("handled", "fewest"),
    [
        # the redelivered event starts nothing more: the workflow is named after the object's version
        pytest.param(ON_OBJECT_CREATED, 1, id="object-created"),
        # the token is told again by the redelivery (or found told): the workflow does not wait out its timeout
        pytest.param(ON_TRANSFORM_JOB_END, 3, id="transform-job-end"),
    ],
)
def test_a_batch_handler_dying_after_any_call_of_its_event_scores_the_file_once(
    batch_world: FaultWorld, handled: frozenset[str], fewest: int
) -> None:
    baseline = batch_world.baseline("batch")
    runs: list[Run] = []

    def nothing() -> None:
        """Each file lands in a quiet world."""

    def land() -> None:
        runs.append(batch_world.run("batch"))

    for index in dies_once_after_each_call(batch_world, f"{PROJECT}-batch", nothing, land, handled, fewest):
        run = runs[-1]
        assert run.status == baseline.status, f"dying after call {index}: {run.status} {run.execution.get('cause')}"
        assert_same_outcome(batch_world, baseline, run)
        assert_batch_ends_cleanly(batch_world, run)
