"""make lint's ASL checks pass on the workflows and fail on each kind of breakage."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from scripts.check_asl import check, template_substitutions
from tests.conftest import ROOT

DEPLOY = ROOT / "statemachines" / "deploy.asl.json"


def test_the_workflows_pass() -> None:
    assert check(sorted((ROOT / "statemachines").glob("*.asl.json"))) == []


def broken_copy(tmp_path: Path, breakage: Callable[[dict[str, Any]], None]) -> Path:
    """A copy of deploy.asl.json with one breakage, standing where the template points."""
    definition = json.loads(DEPLOY.read_text())
    breakage(definition)
    target = tmp_path / "deploy.asl.json"
    target.write_text(json.dumps(definition))
    return target


def set_in(state: str, key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    return lambda d: d["States"][state].__setitem__(key, value)


@pytest.mark.parametrize(
    ("breakage", "complaint"),
    [
        (set_in("CreateModel", "Next", "NoSuchState"), "MISSING_TRANSITION_TARGET"),
        (set_in("CreateModel", "Type", "Tsak"), "SCHEMA_VALIDATION_FAILED"),
        (lambda d: d["States"]["CreateModel"].pop("Retry"), "CreateModel has no Retry"),
        (lambda d: d["States"]["CreateModel"].pop("Catch"), "CreateModel has no Catch"),
        (set_in("CreateModel", "Retry", [{"ErrorEquals": ["States.ALL"], "MaxAttempts": 3}]), "retries States.ALL"),
        (
            set_in("UpdateEndpoint", "TimeoutSeconds", "${EndpointUpdateTimeoutSeconds}"),
            "TimeoutSeconds must be a number",
        ),
        (set_in("InvalidInput", "Cause", "${NotASubstitution}"), "${NotASubstitution} is not in the template"),
        # Error names Step Functions never reports: an unmodelled SageMaker code collapses into SageMakerException,
        # every name ends in Exception, a Lambda step's errors are its functions' classes.
        (
            lambda d: d["States"]["CreateModel"]["Retry"][0]["ErrorEquals"].append("SageMaker.ThrottlingException"),
            "names SageMaker.ThrottlingException, which Step Functions never reports",
        ),
        (
            lambda d: d["States"]["RecordCanary"]["Retry"][0]["ErrorEquals"].append("DynamoDB.InternalServerError"),
            "names DynamoDB.InternalServerError, which Step Functions never reports",
        ),
        (
            lambda d: d["States"]["PlanDeployment"]["Retry"][1]["ErrorEquals"].append("LockConflictError"),
            "names LockConflictError, which Step Functions never reports",
        ),
        (
            lambda d: d["States"]["CreateModel"]["Retry"][0]["ErrorEquals"].remove("SageMaker.SageMakerException"),
            "CreateModel does not retry SageMaker.SageMakerException",
        ),
        (
            lambda d: d["States"]["CreateModel"]["Retry"][0].__setitem__("MaxAttempts", 10),
            "retries SageMaker.SageMakerException 10 times",
        ),
        (
            lambda d: d["States"]["PublishOutcome"]["Retry"][0]["ErrorEquals"].remove("EventBridge.FailedEntry"),
            "PublishOutcome does not retry EventBridge.FailedEntry",
        ),
    ],
)
def test_a_broken_workflow_fails(tmp_path: Path, breakage: Any, complaint: str) -> None:
    broken = broken_copy(tmp_path, breakage)
    deploy_keys = template_substitutions()[str(DEPLOY.resolve())]
    problems = check([broken], by_file={str(broken.resolve()): deploy_keys})
    assert any(complaint in problem for problem in problems), problems
