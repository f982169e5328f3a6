"""The local sandbox: template.yaml deployed into an in-process AWS emulator (moto).

with Sandbox() as sandbox:
    stack = sandbox.deploy_stack("churn")
    world = seed_world(sandbox, stack)
    ...approve a version through the SageMaker API...
    sandbox.settle()
"""

from __future__ import annotations

import contextlib
import json
import os
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from moto import mock_aws
from moto.events import models as events_models

from . import autoscaling, patches
from .template import (
    CODE_BUCKET,
    check_rules,
    function_code_dir,
    load_sam_template,
    sam_resources,
    to_cloudformation,
    zip_directory,
)

ACCOUNT_ID = "123456789012"
REGION = "us-east-1"
# FailureReasons SageMaker gives: a transient one (retrying may succeed) and a permanent one
CAPACITY_ERROR = (
    "CapacityError: Unable to provision requested ML compute capacity. Please retry using a different ML instance type."
)
ALGORITHM_ERROR = "AlgorithmError: ValueError: Input contains NaN, infinity or a value too large for dtype('float64')."
MOTO_CONFIG = {
    "stepfunctions": {"execute_state_machine": True},
}


@dataclass(frozen=True)
class Stack:
    """One deployed model project: its parameters and the physical ids of its resources."""

    name: str
    parameters: dict[str, str]
    resources: dict[str, str]
    outputs: dict[str, str]

    @property
    def project(self) -> str:
        return self.parameters["ProjectName"]

    @property
    def endpoint_name(self) -> str:
        return self.parameters["EndpointName"]

    @property
    def model_package_group(self) -> str:
        return self.parameters["ModelPackageGroupName"]

    @property
    def ledger_table(self) -> str:
        return self.outputs["LedgerTableName"]

    @property
    def deploy_state_machine_arn(self) -> str:
        return self.outputs["DeployStateMachineArn"]


def project_parameters(project: str, **overrides: str) -> dict[str, str]:
    """Parameters a sandbox stack gets: the project's resources named after it."""
    parameters = {
        "ProjectName": project,
        "ModelPackageGroupName": f"{project}-models",
        "EndpointName": f"{project}-endpoint",
        "PipelineName": f"{project}-pipeline",
        "SageMakerExecutionRoleArn": f"arn:aws:iam::{ACCOUNT_ID}:role/{project}-sagemaker-execution",
        # The analysis window is measured on the wall clock, which the sandbox compresses 1000x.
        "AnalysisIgnoreSeconds": "0",
        # Every request is captured: the sandbox's traffic is small.
        "DataCaptureSamplingPercentage": "100",
        # A shadow lasting SANDBOX_BAKE_SECONDS (5 real seconds by default) under the default background traffic
        # (600 a minute: 33 real requests a second, patches.Traffic) captures ~160 pairs on an idle machine, ~130
        # with the deploy workflow running beside it, fewer when the traffic's first requests load the models
        # (measured: 52-153): the template's default of 200 would leave every sandbox shadow inconclusive.
        "ShadowMinComparedRequests": "50",
        # Who owns the model, what for, under which regime: example values (the group's tags, each version's metadata)
        "ModelOwner": "churn-team@example.com",
        "ModelUseCase": "customer-churn",
        "ModelCompliance": "gdpr",
    }
    parameters.update(overrides)
    return parameters


class Sandbox:
    def __init__(self, time_scale: float = 0.001) -> None:
        self.time_scale = time_scale
        self.state = patches.STATE
        self._mock: Any = None
        self._traffic: list[patches.Traffic] = []
        self._sam_template = load_sam_template()

    # -------------------------------------------------------------- lifecycle
    def start(self) -> Sandbox:
        for name, value in {
            "AWS_ACCESS_KEY_ID": "sandbox",
            "AWS_SECRET_ACCESS_KEY": "sandbox",
            "AWS_SESSION_TOKEN": "sandbox",
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
        }.items():
            os.environ[name] = value
        os.environ.pop("AWS_PROFILE", None)
        os.environ.pop("AWS_ENDPOINT_URL", None)
        patches.install()
        self.state.time_scale = self.time_scale
        self._mock = mock_aws(config=MOTO_CONFIG)  # type: ignore[call-overload]
        self._mock.start()
        self.state.capturing = True
        return self

    def stop(self) -> None:
        self.stop_traffic()
        self.settle(timeout=10, strict=False)
        self.state.capturing = False
        patches.CAPTURES.clear()
        if self._mock is not None:
            self._mock.stop()
            self._mock = None
        self.state.invocations.clear()
        self.state.emitted_events.clear()
        self.state.behaviours.clear()
        patches.PIPELINES.clear()

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -------------------------------------------------------------- traffic and model behaviour
    def behave(
        self,
        model_package_arn: str,
        *,
        error_rate: float = 0.0,
        latency_ms: float = 20.0,
        invert: bool = False,
        setup_ms: float | None = None,
    ) -> None:
        """Make a model version answer with this error rate and latency wherever it serves, as a production or a
        shadow variant. `invert=True` makes it disagree: its real answers are 1 - p for each churn probability p
        its model answers (a shadow's errors and answers never reach the client; see patches.Behaviour).
        `setup_ms`: its cold start on a serverless variant, published as ModelSetupTime (None: the default,
        patches.Behaviour.setup_ms; 0: no cold start)."""
        default = patches.Behaviour.setup_ms
        self.state.behaviours[model_package_arn] = patches.Behaviour(
            error_rate, latency_ms, invert, default if setup_ms is None else setup_ms
        )

    def fail_pipeline_step(self, step_name: str, reason: str = CAPACITY_ERROR, times: int | None = 1) -> None:
        """The pipeline step's next `times` attempts (all of them when None) fail with this reason."""
        patches.PIPELINES.inject_failure(step_name, reason, times)

    def flush_data_capture(self) -> None:
        """Write the endpoints' buffered capture lines to S3 now (they are, every second, anyway)."""
        patches.CAPTURES.flush()

    def run_drift_monitor(self, project: str) -> dict[str, Any]:
        """What the schedule does: invoke <project>-drift-monitor (after flushing the data capture)."""
        self.flush_data_capture()
        response = self.client("lambda").invoke(FunctionName=f"{project}-drift-monitor", Payload=b"{}")
        return dict(json.loads(response["Payload"].read()))

    def evaluate_alarms(self) -> None:
        """CloudWatch evaluates the metric alarms now (running traffic makes it do so every compressed minute)."""
        patches.evaluate_alarms(patches.cloudwatch_models.cloudwatch_backends[ACCOUNT_ID][REGION])

    def clear_pipeline_failures(self) -> None:
        patches.PIPELINES.failures.clear()

    def slow_pipeline_steps(self, seconds: float) -> None:
        """Processing and training steps last at least this long (real seconds), as training takes time."""
        patches.PIPELINES.min_step_seconds = seconds

    def autoscale(self, endpoint_name: str, variant_name: str, instance_count: int, *, under_way: bool = False) -> bool:
        """Application Auto Scaling's scaling activity, as a scaling policy would start it: the variant goes to
        `instance_count` instances. Returns whether it acted.

        It acts as AWS does: UpdateEndpointWeightsAndCapacities with that DesiredInstanceCount for the variant
        (weights unchanged), so the endpoint goes Updating, then InService with CurrentInstanceCount changed, each
        step emitting "SageMaker Endpoint State Change" (sandbox.settle() waits for the end). It refuses (False,
        nothing changed) when the variant is not a registered scalable target (namespace sagemaker, dimension
        sagemaker:variant:DesiredInstanceCount), when the count is outside the target's [MinCapacity,
        MaxCapacity], when the target's SuspendedState suspends dynamic scaling in that direction
        (DynamicScalingOutSuspended for more instances, DynamicScalingInSuspended for fewer), when the endpoint is
        not InService (auto scaling is blocked while it updates), and when the variant already has that count.

        `under_way=True` is an activity a policy triggered before the target's scaling was suspended: the
        SuspendedState does not stop it (every other refusal still applies).
        """
        return autoscaling.autoscale(ACCOUNT_ID, REGION, endpoint_name, variant_name, instance_count, under_way)

    def start_traffic(self, endpoint_name: str, per_minute: int = 600) -> patches.Traffic:
        """Requests reach the endpoint from now on, until the sandbox stops: each variant's synthetic metrics for
        `per_minute` requests every compressed minute feed the alarms, and max(1, per_minute // 300) real requests
        per compressed minute (rows of the shipped dataset; 33 a second at the defaults) are answered, copied to a
        shadow and captured as a client's are (patches.Traffic)."""
        traffic = patches.Traffic(ACCOUNT_ID, REGION, endpoint_name, per_minute).start()
        self._traffic.append(traffic)
        return traffic

    def stop_traffic(self) -> None:
        """No more requests from start_traffic, on any endpoint."""
        for traffic in self._traffic:
            traffic.stop()
        self._traffic.clear()

    def client(self, service: str) -> Any:
        return patches.create_client(service, REGION)

    @contextlib.contextmanager
    def holding_events(self) -> Iterator[list[dict[str, Any]]]:
        """Events put on the default bus inside the block are kept instead of delivered.

        Yields the PutEvents entries (those the services emit, as AWS would), in order, for a test to
        deliver later: late, repeated or reordered, as EventBridge may (it retries a failing target for
        up to a day and never promises order).
        """
        backend: Any = events_models.events_backends[ACCOUNT_ID][REGION]
        held: list[dict[str, Any]] = []

        def hold(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
            held.extend(entries)
            return [{"EventId": str(uuid.uuid4())} for _ in entries]

        backend.put_events = hold  # shadows the method on this backend until the block ends
        try:
            yield held
        finally:
            del backend.put_events

    # -------------------------------------------------------------- deploying the template
    def deploy_stack(self, project: str, **overrides: str) -> Stack:
        """Create template.yaml as a CloudFormation stack named after the project."""
        parameters = project_parameters(project, **overrides)
        check_rules(self._sam_template, parameters)
        self._ensure_execution_role(parameters["SageMakerExecutionRoleArn"])
        self._upload_function_code()
        template = to_cloudformation(self._sam_template, parameters, REGION)
        cloudformation = self.client("cloudformation")
        cloudformation.create_stack(
            StackName=project,
            TemplateBody=json.dumps(template),
            Parameters=[{"ParameterKey": key, "ParameterValue": value} for key, value in parameters.items()],
            Capabilities=["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"],
        )
        resources = {
            item["LogicalResourceId"]: item.get("PhysicalResourceId", "")
            for item in cloudformation.describe_stack_resources(StackName=project)["StackResources"]
            if "LogicalResourceId" in item
        }
        outputs = {
            item["OutputKey"]: item["OutputValue"]
            for item in cloudformation.describe_stacks(StackName=project)["Stacks"][0].get("Outputs", [])
        }
        for logical_id, resource in sam_resources(self._sam_template, "AWS::Serverless::Function").items():
            if logical_id not in resources:
                continue  # its condition is false for these parameters (BatchFunction outside a batch project)
            function_name = resources[logical_id]
            self.state.function_code[function_name] = function_code_dir(self._sam_template, logical_id)
            dead_letter = resource["Properties"].get("DeadLetterQueue")
            if dead_letter:
                queue_logical_id = dead_letter["TargetArn"]["Fn::GetAtt"][0]
                queue_url = resources[queue_logical_id]
                self.state.function_dead_letters[function_name] = queue_url.rsplit("/", 1)[-1]
        return Stack(name=project, parameters=parameters, resources=resources, outputs=outputs)

    def _ensure_execution_role(self, role_arn: str) -> None:
        iam = self.client("iam")
        role_name = role_arn.rsplit("/", 1)[-1]
        try:
            iam.get_role(RoleName=role_name)
        except iam.exceptions.NoSuchEntityException:
            iam.create_role(
                RoleName=role_name,
                AssumeRolePolicyDocument=json.dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Principal": {"Service": "sagemaker.amazonaws.com"},
                                "Action": "sts:AssumeRole",
                            }
                        ],
                    }
                ),
            )

    def _upload_function_code(self) -> None:
        s3 = self.client("s3")
        s3.create_bucket(Bucket=CODE_BUCKET)
        for logical_id in sam_resources(self._sam_template, "AWS::Serverless::Function"):
            body = zip_directory(function_code_dir(self._sam_template, logical_id))
            s3.put_object(Bucket=CODE_BUCKET, Key=f"{logical_id}.zip", Body=body)

    # -------------------------------------------------------------- waiting for the world to settle
    def running_executions(self) -> list[str]:
        sfn = self.client("stepfunctions")
        running = []
        for machine in sfn.list_state_machines()["stateMachines"]:
            for execution in sfn.list_executions(stateMachineArn=machine["stateMachineArn"], statusFilter="RUNNING")[
                "executions"
            ]:
                running.append(execution["executionArn"])
        return running

    def settle(self, timeout: float = 60, strict: bool = True) -> None:
        """Wait until every event delivery and workflow execution has finished."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            quiet = self.state.wait_deliveries(timeout=max(0.0, deadline - time.monotonic()))
            # a finishing execution may have triggered one more delivery: look twice
            settled = quiet and not self.running_executions() and self.state.wait_deliveries(timeout=0.05)
            if settled and not self.running_executions():
                return
            time.sleep(0.01)
        if strict:
            raise TimeoutError(f"sandbox still busy after {timeout}s: {self.running_executions()}")
