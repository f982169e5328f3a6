"""SageMaker Pipelines, run locally: a pipeline definition executed step by step without Docker.

Reads the definition SageMaker would run (pipeline/definition.json after the template's
substitutions) and does what each step asks, for real:
  Processing  the container's entrypoint as a subprocess, its S3 inputs downloaded to a local
              mirror of /opt/ml/processing, its outputs uploaded afterwards;
  Training    the framework containers' script mode: sagemaker_submit_directory unpacked,
              sagemaker_program run with the channels in SM_CHANNEL_*, the model directory packed
              into <S3OutputPath>/<job>/output/model.tar.gz;
  Condition   evaluated (JsonGet reads the property file from S3), then its IfSteps or ElseSteps;
  RegisterModel  CreateModelPackage with the resolved arguments;
  Fail        the execution ends Failed with the step's message as its reason.
A step's arguments take the execution's parameter values (those given to StartPipelineExecution, else the
definition's defaults) wherever the definition says {"Get": "Parameters.<name>"}: FlipLabels, for one, reaches
preprocess.py as its --flip-labels argument, so a run with FlipLabels "true" trains on inverted labels.
A step's properties are its Describe* shape (DescribeTrainingJob for a training step: TrainingJobName, and
HyperParameters as the map of strings the job was given, e.g. {"max-iter": "150"}); a path names a list element by
its *Name (Outputs['train']) and a map entry by its key (HyperParameters['max-iter']).
Each step and the execution emit SageMaker's status-change events and are listed by
ListPipelineExecutionSteps. A scenario can make a step fail (`inject_failure`), once or always,
also over the AWS API: a JSON list [{"step": "Train", "reason": "...", "times": 1}] put at
s3://sandbox-control/pipeline-failures.json is taken (and removed) before the next step starts.
Processing and training steps last at least `min_step_seconds` (training takes time on SageMaker).
A failed execution can be retried: steps that succeeded are not run again.
"""

from __future__ import annotations

import io
import json
import os
import random
import re
import string
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

CONTAINER_ROOT = "/opt/ml/"
STEP_TIMEOUT_SECONDS = 600
PIPELINE_EVENT = "SageMaker Model Building Pipeline Execution Status Change"
STEP_EVENT = "SageMaker Model Building Pipeline Execution Step Status Change"
CONTROL_BUCKET = "sandbox-control"
CONTROL_KEY = "pipeline-failures.json"

Emit = Callable[[str, dict[str, Any], list[str]], None]


class StepFailed(Exception):
    """A step ended Failed; the message is its FailureReason."""


@dataclass
class StepRecord:
    name: str
    step_type: str
    description: str = ""
    status: str = "Executing"
    start_time: datetime = field(default_factory=lambda: datetime.now(UTC))
    end_time: datetime | None = None
    failure_reason: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    attempt: int = 1

    def summary(self) -> dict[str, Any]:
        item: dict[str, Any] = {
            "StepName": self.name,
            "StepDescription": self.description,
            "StartTime": self.start_time,
            "StepStatus": self.status,
            "Metadata": self.metadata,
            "AttemptCount": self.attempt,
        }
        if self.end_time:
            item["EndTime"] = self.end_time
        if self.failure_reason:
            item["FailureReason"] = self.failure_reason
        return item


@dataclass
class Execution:
    """What SageMaker knows about one pipeline execution."""

    arn: str
    pipeline_arn: str
    definition: dict[str, Any]
    parameters: dict[str, Any]
    display_name: str = ""
    description: str = ""
    status: str = "Executing"
    failure_reason: str | None = None
    start_time: datetime = field(default_factory=lambda: datetime.now(UTC))
    end_time: datetime | None = None
    steps: list[StepRecord] = field(default_factory=list)
    properties: dict[str, Any] = field(default_factory=dict)  # step name -> its Describe* shape
    attempts: dict[str, int] = field(default_factory=dict)
    ended: list[datetime] = field(default_factory=list)  # every end, a retried execution has several

    @property
    def execution_id(self) -> str:
        return self.arn.rsplit("/", 1)[-1]

    @property
    def resources(self) -> list[str]:
        return [self.pipeline_arn, self.arn]


@dataclass
class InjectedFailure:
    reason: str
    remaining: int | None  # None: every attempt fails


class LocalPipelines:
    """The local executions of every pipeline, and the failures scenarios have asked for."""

    def __init__(self, s3: Callable[[], Any], sagemaker: Callable[[], Any], emit: Emit) -> None:
        self._s3 = s3
        self._sagemaker = sagemaker
        self._emit = emit
        self._lock = threading.Lock()
        self.executions: dict[str, Execution] = {}
        self.failures: dict[str, list[InjectedFailure]] = {}
        self.python = sys.executable
        self.min_step_seconds = 0.0

    # -------------------------------------------------------------- scenario controls
    def inject_failure(self, step_name: str, reason: str, times: int | None = 1) -> None:
        """The step's next `times` attempts (every attempt when None) fail with this reason."""
        with self._lock:
            self.failures.setdefault(step_name, []).append(InjectedFailure(reason, times))

    def clear(self) -> None:
        with self._lock:
            self.executions.clear()
            self.failures.clear()
        self.min_step_seconds = 0.0

    def _take_control_requests(self) -> None:
        """Failures asked for over the AWS API (sandbox only): moved from S3 into the runner, once."""
        s3 = self._s3()
        try:
            body = s3.get_object(Bucket=CONTROL_BUCKET, Key=CONTROL_KEY)["Body"].read()
        except Exception:
            return
        s3.delete_object(Bucket=CONTROL_BUCKET, Key=CONTROL_KEY)
        for item in json.loads(body):
            self.inject_failure(str(item["step"]), str(item["reason"]), item.get("times", 1))

    def _injected(self, step_name: str) -> str | None:
        self._take_control_requests()
        with self._lock:
            for failure in self.failures.get(step_name, []):
                if failure.remaining is None:
                    return failure.reason
                if failure.remaining > 0:
                    failure.remaining -= 1
                    return failure.reason
        return None

    # -------------------------------------------------------------- executions
    def start(self, execution: Execution) -> None:
        self.executions[execution.arn] = execution
        self._pipeline_event(execution, previous=None)

    def run(self, execution: Execution) -> None:
        """Run the execution's remaining steps to the end (called in a background thread)."""
        try:
            for step in _ordered(execution.definition.get("Steps", [])):
                self._run_step(execution, step)
            self._finish(execution, "Succeeded", None)
        except StepFailed as failure:
            self._finish(execution, "Failed", str(failure))

    def retry(self, execution: Execution) -> None:
        """RetryPipelineExecution: back to Executing; succeeded steps keep their results."""
        previous = execution.status
        execution.status, execution.failure_reason, execution.end_time = "Executing", None, None
        self._pipeline_event(execution, previous=previous)

    def _finish(self, execution: Execution, status: str, reason: str | None) -> None:
        execution.status, execution.failure_reason = status, reason
        end = datetime.now(UTC)
        if execution.ended and execution.ended[-1].replace(microsecond=0) == end.replace(microsecond=0):
            # Event times are whole seconds (below); on AWS a retried run takes far longer than one, so two
            # ends of one execution never share a second. The sandbox's runs are quicker: it waits that out.
            time.sleep(1 - end.microsecond / 1_000_000)
            end = datetime.now(UTC)
        execution.end_time = end
        execution.ended.append(end)
        self._pipeline_event(execution, previous="Executing")

    def _pipeline_event(self, execution: Execution, previous: str | None) -> None:
        detail: dict[str, Any] = {
            "pipelineExecutionDisplayName": execution.display_name,
            "currentPipelineExecutionStatus": execution.status,
            "executionStartTime": _event_time(execution.start_time),
            "pipelineExecutionDescription": execution.description,
            "pipelineArn": execution.pipeline_arn,
            "pipelineExecutionArn": execution.arn,
        }
        if previous:
            detail["previousPipelineExecutionStatus"] = previous
        if execution.end_time:
            detail["executionEndTime"] = _event_time(execution.end_time)
        self._emit(PIPELINE_EVENT, detail, execution.resources)

    # -------------------------------------------------------------- steps
    def _run_step(self, execution: Execution, step: dict[str, Any]) -> None:
        name, step_type = step["Name"], step["Type"]
        if any(r.name == name and r.status == "Succeeded" for r in execution.steps):
            return  # a retried execution resumes after what already succeeded
        execution.attempts[name] = execution.attempts.get(name, 0) + 1
        record = StepRecord(name, step_type, step.get("Description", ""), attempt=execution.attempts[name])
        execution.steps.insert(0, record)  # ListPipelineExecutionSteps answers newest first
        self._step_event(execution, record, previous=None)
        try:
            injected = self._injected(name)
            if injected:
                raise StepFailed(injected)
            resolver = Resolver(execution, self._s3)
            runner = getattr(self, f"_run_{step_type.lower()}", None)
            if runner is None:
                raise StepFailed(f"ClientError: step type {step_type} is not run by the local pipeline runner")
            started = time.monotonic()
            runner(execution, step, record, resolver)
            if step_type in ("Processing", "Training"):
                time.sleep(max(0.0, self.min_step_seconds - (time.monotonic() - started)))
        except StepFailed as failure:
            if record.status == "Executing":  # (a condition has ended before its branch fails)
                record.status, record.failure_reason = "Failed", str(failure)
                record.end_time = datetime.now(UTC)
                self._step_event(execution, record, previous="Executing")
            raise
        if record.status == "Executing":
            record.status, record.end_time = "Succeeded", datetime.now(UTC)
            self._step_event(execution, record, previous="Executing")

    def _step_event(self, execution: Execution, record: StepRecord, previous: str | None) -> None:
        detail: dict[str, Any] = {
            "metadata": _event_metadata(record.metadata),
            "stepStartTime": _event_time(record.start_time),
            "stepName": record.name,
            "stepType": record.step_type,
            "currentStepStatus": record.status,
            "pipelineArn": execution.pipeline_arn,
            "pipelineExecutionArn": execution.arn,
        }
        if previous:
            detail["previousStepStatus"] = previous
        if record.end_time:
            detail["stepEndTime"] = _event_time(record.end_time)
        if record.failure_reason:
            detail["failureReason"] = record.failure_reason
        self._emit(STEP_EVENT, detail, execution.resources)

    def _job_arn(self, execution: Execution, kind: str, step_name: str) -> tuple[str, str]:
        suffix = "".join(random.choices(string.ascii_lowercase + string.digits, k=10))
        name = f"pipelines-{execution.execution_id}-{step_name.lower()}-{suffix}"[:63]
        prefix = execution.pipeline_arn.split(":pipeline/")[0]
        return name, f"{prefix}:{kind}/{name}"

    def _run_processing(
        self, execution: Execution, step: dict[str, Any], record: StepRecord, resolver: Resolver
    ) -> None:
        arguments = resolver.value(step["Arguments"])
        job_name, job_arn = self._job_arn(execution, "processing-job", step["Name"])
        record.metadata = {"ProcessingJob": {"Arn": job_arn}}
        with tempfile.TemporaryDirectory(prefix="sandbox-processing-") as root:
            for item in arguments.get("ProcessingInputs", []):
                source = item["S3Input"]
                self._download(source["S3Uri"], _local(root, source["LocalPath"]))
            outputs = arguments.get("ProcessingOutputConfig", {}).get("Outputs", [])
            for item in outputs:
                Path(_local(root, item["S3Output"]["LocalPath"])).mkdir(parents=True, exist_ok=True)
            app = arguments["AppSpecification"]
            command = [
                _local(root, part) for part in [*app.get("ContainerEntrypoint", []), *app.get("ContainerArguments", [])]
            ]
            if command and command[0] in ("python", "python3"):
                command[0] = self.python
            self._execute(command, root, arguments.get("Environment", {}))
            for item in outputs:
                self._upload(_local(root, item["S3Output"]["LocalPath"]), item["S3Output"]["S3Uri"])
        execution.properties[step["Name"]] = {**arguments, "ProcessingJobName": job_name, "ProcessingJobArn": job_arn}

    def _run_training(self, execution: Execution, step: dict[str, Any], record: StepRecord, resolver: Resolver) -> None:
        arguments = resolver.value(step["Arguments"])
        job_name, job_arn = self._job_arn(execution, "training-job", step["Name"])
        record.metadata = {"TrainingJob": {"Arn": job_arn}}
        hyperparameters = {key: _json_or_text(value) for key, value in arguments.get("HyperParameters", {}).items()}
        program = hyperparameters.pop("sagemaker_program", None)
        submit_directory = hyperparameters.pop("sagemaker_submit_directory", None)
        if not program or not submit_directory:
            raise StepFailed("ClientError: the local runner runs script-mode training only (sagemaker_program)")
        with tempfile.TemporaryDirectory(prefix="sandbox-training-") as root:
            code_dir = Path(root, "opt/ml/code")
            self._download(str(submit_directory), str(code_dir))
            for archive in code_dir.glob("*.tar.gz"):
                with tarfile.open(archive) as tar:
                    tar.extractall(code_dir, filter="data")
            environment = {
                "SM_MODEL_DIR": _local(root, "/opt/ml/model"),
                "SM_OUTPUT_DATA_DIR": _local(root, "/opt/ml/output/data"),
                "SM_HPS": json.dumps(hyperparameters),
                "SM_CHANNELS": json.dumps([c["ChannelName"] for c in arguments.get("InputDataConfig", [])]),
                **arguments.get("Environment", {}),
            }
            for channel in arguments.get("InputDataConfig", []):
                local = _local(root, f"/opt/ml/input/data/{channel['ChannelName']}")
                self._download(channel["DataSource"]["S3DataSource"]["S3Uri"], local)
                environment[f"SM_CHANNEL_{channel['ChannelName'].upper()}"] = local
            Path(environment["SM_MODEL_DIR"]).mkdir(parents=True, exist_ok=True)
            options = [part for key, value in hyperparameters.items() for part in (f"--{key}", str(value))]
            self._execute([self.python, str(code_dir / str(program)), *options], str(code_dir), environment)
            artifact = f"{arguments['OutputDataConfig']['S3OutputPath'].rstrip('/')}/{job_name}/output/model.tar.gz"
            bucket, key = _split_s3(artifact)
            self._s3().put_object(Bucket=bucket, Key=key, Body=_tar_gz(Path(environment["SM_MODEL_DIR"])))
        execution.properties[step["Name"]] = {
            **arguments,
            "TrainingJobName": job_name,
            "TrainingJobArn": job_arn,
            "ModelArtifacts": {"S3ModelArtifacts": artifact},
        }

    def _run_condition(
        self, execution: Execution, step: dict[str, Any], record: StepRecord, resolver: Resolver
    ) -> None:
        outcome = all(resolver.condition(condition) for condition in step["Arguments"]["Conditions"])
        record.metadata = {"Condition": {"Outcome": str(outcome)}}
        execution.properties[step["Name"]] = {"Outcome": outcome}
        branch = step["Arguments"]["IfSteps" if outcome else "ElseSteps"]
        # the condition step itself succeeds; its branch runs after it, as on SageMaker
        record.status, record.end_time = "Succeeded", datetime.now(UTC)
        self._step_event(execution, record, previous="Executing")
        for child in _ordered(branch):
            self._run_step(execution, child)

    def _run_registermodel(
        self, execution: Execution, step: dict[str, Any], record: StepRecord, resolver: Resolver
    ) -> None:
        arguments = resolver.value(step["Arguments"])
        arguments.pop("SkipModelValidation", None)
        for empty in [k for k, v in arguments.get("ModelMetrics", {}).items() if not v]:
            del arguments["ModelMetrics"][empty]
        try:
            arn = self._sagemaker().create_model_package(**arguments)["ModelPackageArn"]
        except Exception as error:
            raise StepFailed(f"ClientError: {error}") from error
        record.metadata = {"RegisterModel": {"Arn": arn}}
        execution.properties[step["Name"]] = {"ModelPackageArn": arn}

    def _run_fail(self, execution: Execution, step: dict[str, Any], record: StepRecord, resolver: Resolver) -> None:
        message = str(resolver.value(step["Arguments"].get("ErrorMessage", "")))
        record.metadata = {"Fail": {"ErrorMessage": message}}
        raise StepFailed(message)

    # -------------------------------------------------------------- S3 and processes
    def _download(self, uri: str, local: str) -> None:
        bucket, prefix = _split_s3(uri)
        s3 = self._s3()
        keys = [
            item["Key"]
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
            for item in page.get("Contents", [])
        ]
        if not keys:
            raise StepFailed(f"ClientError: no object at {uri}")
        for key in keys:
            relative = key[len(prefix) :].lstrip("/") or key.rsplit("/", 1)[-1]
            target = Path(local, relative)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(s3.get_object(Bucket=bucket, Key=key)["Body"].read())

    def _upload(self, local: str, uri: str) -> None:
        bucket, prefix = _split_s3(uri)
        s3 = self._s3()
        for file in sorted(Path(local).rglob("*")):
            if file.is_file():
                key = f"{prefix.rstrip('/')}/{file.relative_to(local).as_posix()}"
                s3.put_object(Bucket=bucket, Key=key, Body=file.read_bytes())

    def _execute(self, command: list[str], cwd: str, environment: dict[str, str]) -> None:
        env = {**os.environ, **{k: str(v) for k, v in environment.items()}, "PYTHONDONTWRITEBYTECODE": "1"}
        try:
            done = subprocess.run(
                command, cwd=cwd, env=env, capture_output=True, text=True, timeout=STEP_TIMEOUT_SECONDS, check=False
            )
        except subprocess.TimeoutExpired as error:
            raise StepFailed(f"ClientError: the job exceeded {STEP_TIMEOUT_SECONDS} s") from error
        if done.returncode != 0:
            last = [line for line in done.stderr.strip().splitlines() if line.strip()][-1:] or ["no output"]
            raise StepFailed(f"AlgorithmError: exit code {done.returncode}: {last[0].strip()}")


# ------------------------------------------------------------------ expressions of the definition
class Resolver:
    """Evaluates a definition's expressions: Get, Std:Join, Std:JsonGet, conditions."""

    def __init__(self, execution: Execution, s3: Callable[[], Any]) -> None:
        self._execution = execution
        self._s3 = s3

    def value(self, node: Any) -> Any:
        if isinstance(node, list):
            return [self.value(item) for item in node]
        if not isinstance(node, dict):
            return node
        if set(node) == {"Get"}:
            return self._get(node["Get"])
        if set(node) == {"Std:Join"}:
            join = node["Std:Join"]
            return str(join["On"]).join(_text(self.value(v)) for v in join["Values"])
        if set(node) == {"Std:JsonGet"}:
            return self._json_get(node["Std:JsonGet"])
        return {key: self.value(item) for key, item in node.items()}

    def condition(self, condition: dict[str, Any]) -> bool:
        kind = condition["Type"]
        if kind == "Not":
            return not self.condition(condition["Condition"])
        if kind == "Or":
            return any(self.condition(c) for c in condition["Conditions"])
        if kind == "In":
            return self.value(condition["QueryValue"]) in self.value(condition["Values"])
        left, right = self.value(condition["LeftValue"]), self.value(condition["RightValue"])
        compare: dict[str, Callable[[Any, Any], bool]] = {
            "Equals": lambda a, b: a == b,
            "GreaterThan": lambda a, b: a > b,
            "GreaterThanOrEqualTo": lambda a, b: a >= b,
            "LessThan": lambda a, b: a < b,
            "LessThanOrEqualTo": lambda a, b: a <= b,
        }
        return compare[kind](left, right)

    def _get(self, path: str) -> Any:
        execution = self._execution
        head, _, rest = path.partition(".")
        if head == "Parameters":
            return execution.parameters[rest]
        if head == "Execution":
            return {
                "PipelineExecutionId": execution.execution_id,
                "PipelineExecutionArn": execution.arn,
                "PipelineName": execution.pipeline_arn.rsplit("/", 1)[-1],
                "StartDateTime": execution.start_time.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "CurrentDateTime": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            }[rest]
        if head == "Steps":
            step_name, _, property_path = rest.partition(".")
            if step_name not in execution.properties:  # (the run fails, as it would on AWS, instead of hanging)
                raise StepFailed(f"ClientError: Get {path} refers to step {step_name}, which has not run")
            return _walk(execution.properties[step_name], property_path)
        raise StepFailed(f"ClientError: unknown expression Get {path}")

    def _json_get(self, spec: dict[str, Any]) -> Any:
        # {"PropertyFile": {"Get": "Steps.<step>.PropertyFiles.<file>"}, "Path": "a.b.c"}
        _, step_name, _, file_name = spec["PropertyFile"]["Get"].split(".", 3)
        step = next(s for s in _all_steps(self._execution.definition["Steps"]) if s["Name"] == step_name)
        declared = next(f for f in step.get("PropertyFiles", []) if f["PropertyFileName"] == file_name)
        outputs = self._execution.properties[step_name]["ProcessingOutputConfig"]["Outputs"]
        output = next(o for o in outputs if o["OutputName"] == declared["OutputName"])
        bucket, prefix = _split_s3(f"{output['S3Output']['S3Uri'].rstrip('/')}/{declared['FilePath']}")
        document = json.loads(self._s3().get_object(Bucket=bucket, Key=prefix)["Body"].read())
        return _walk(document, spec["Path"])


_TOKEN = re.compile(r"([^.\[\]]+)|\[(\d+)\]|\['([^']*)'\]")


def _walk(document: Any, path: str) -> Any:
    """Follow a property path such as ProcessingOutputConfig.Outputs['train'].S3Output.S3Uri."""
    current = document
    for name, index, key in _TOKEN.findall(path):
        if name:
            current = current[name]
        elif index:
            current = current[int(index)]
        elif isinstance(current, dict):  # a map's entry, e.g. HyperParameters['max-iter']
            current = current[key]
        else:  # a list element named by its *Name field (OutputName, ChannelName...)
            current = next(i for i in current if key in [v for k, v in i.items() if k.endswith("Name")])
    return current


def _text(value: Any) -> str:
    return json.dumps(value) if isinstance(value, bool) else str(value)


def _all_steps(steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    found = []
    for step in steps:
        found.append(step)
        if step["Type"] == "Condition":
            found += _all_steps(step["Arguments"].get("IfSteps", []) + step["Arguments"].get("ElseSteps", []))
    return found


def _references(node: Any) -> set[str]:
    """Steps a definition node refers to (data dependencies)."""
    if isinstance(node, dict):
        found: set[str] = set()
        if isinstance(node.get("Get"), str) and node["Get"].startswith("Steps."):
            found.add(node["Get"].split(".")[1])
        for value in node.values():
            found |= _references(value)
        return found
    if isinstance(node, list):
        return set().union(*(_references(item) for item in node)) if node else set()
    return set()


def _ordered(steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Steps in an order that honours DependsOn and data dependencies (as SageMaker's DAG does)."""
    names = {step["Name"] for step in steps}
    pending = list(steps)
    done: set[str] = set()
    ordered = []
    while pending:
        for step in pending:
            needs = (set(step.get("DependsOn", [])) | _references(step.get("Arguments", {}))) & names
            needs.discard(step["Name"])
            if needs <= done:
                ordered.append(step)
                done.add(step["Name"])
                pending.remove(step)
                break
        else:
            raise StepFailed(f"ClientError: circular dependency among {[s['Name'] for s in pending]}")
    return ordered


def _local(root: str, path: Any) -> str:
    text = str(path)
    return str(Path(root) / text.lstrip("/")) if text.startswith(CONTAINER_ROOT) else text


def _split_s3(uri: str) -> tuple[str, str]:
    if not uri.startswith("s3://"):
        raise StepFailed(f"ClientError: {uri} is not an S3 URI")
    bucket, _, key = uri[len("s3://") :].partition("/")
    return bucket, key


def _json_or_text(value: str) -> Any:
    try:
        return json.loads(value)
    except (TypeError, ValueError):
        return value


def _tar_gz(directory: Path) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for file in sorted(directory.rglob("*")):
            if file.is_file():
                archive.add(file, file.relative_to(directory).as_posix())
    return buffer.getvalue()


def _event_time(moment: datetime) -> str:
    """Event times as AWS documents them in pipeline events: ISO 8601 to the second ("2021-03-15T16:10:10Z";
    SageMaker developer guide, "Events that Amazon SageMaker AI sends to Amazon EventBridge")."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _event_metadata(metadata: dict[str, Any]) -> dict[str, Any]:
    """Step metadata as events spell it: {"processingJob": {"arn": ...}}."""
    spelled: dict[str, Any] = {}
    for kind, value in metadata.items():
        key = kind[0].lower() + kind[1:]
        spelled[key] = {k[0].lower() + k[1:]: v for k, v in value.items()} if isinstance(value, dict) else value
    return spelled
