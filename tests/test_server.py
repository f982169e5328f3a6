"""`make sandbox`: real clients (the AWS CLI) drive the sandbox over HTTP on 127.0.0.1."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT

PENDING = "arn:aws:sagemaker:us-east-1:123456789012:model-package/churn-models/2"
DEPLOY = "arn:aws:states:us-east-1:123456789012:stateMachine:churn-deploy"
AWS_CLI = shutil.which("aws", path=str(Path(sys.executable).parent)) or shutil.which("aws")


@pytest.fixture(scope="module")
def server_url() -> Iterator[str]:
    env = {**os.environ, "SANDBOX_PORT": "0", "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "sandbox.server"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    deadline = time.monotonic() + 60
    url = None
    while url is None and time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line and process.poll() is not None:
            break
        match = re.search(r"Sandbox listening on (http://127\.0\.0\.1:\d+)", line)
        url = match.group(1) if match else None
    assert url, "the sandbox server did not start"
    yield url
    process.terminate()
    process.wait(timeout=20)


def aws(url: str, *args: str) -> Any:
    assert AWS_CLI, "the AWS CLI comes with requirements/dev.txt"
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "sandbox",
        "AWS_SECRET_ACCESS_KEY": "sandbox",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    done = subprocess.run(
        [AWS_CLI, "--endpoint-url", url, "--output", "json", *args],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    return json.loads(done.stdout) if done.stdout.strip() else None


def wait_for(condition: Any, timeout: float = 20) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError("condition not met in time")


def deploy_runs(url: str) -> list[dict[str, str]]:
    return list(aws(url, "stepfunctions", "list-executions", "--state-machine-arn", DEPLOY)["executions"])


def test_events_that_are_not_ours_start_nothing(server_url: str, tmp_path: Path) -> None:
    before = len(deploy_runs(server_url))
    entries = []
    for name in ("ignored-other-group.json", "ignored-pending-approval.json", "ignored-rejected.json"):
        event = json.loads((ROOT / "events" / "approval" / name).read_text())
        entries.append(
            {"Source": event["source"], "DetailType": event["detail-type"], "Detail": json.dumps(event["detail"])}
        )
    (tmp_path / "entries.json").write_text(json.dumps(entries))
    result = aws(server_url, "events", "put-events", "--entries", f"file://{tmp_path / 'entries.json'}")
    assert result["FailedEntryCount"] == 0
    time.sleep(1)
    assert len(deploy_runs(server_url)) == before


def test_approving_through_the_aws_api_deploys_the_version(server_url: str) -> None:
    aws(
        server_url,
        "sagemaker",
        "update-model-package",
        "--model-package-arn",
        PENDING,
        "--model-approval-status",
        "Approved",
    )

    def deployed() -> bool:
        runs = [run for run in deploy_runs(server_url) if run["name"].startswith("approved-v2-")]
        return bool(runs) and runs[0]["status"] == "SUCCEEDED"

    wait_for(deployed)
    config_name = aws(server_url, "sagemaker", "describe-endpoint", "--endpoint-name", "churn-endpoint")[
        "EndpointConfigName"
    ]
    config = aws(server_url, "sagemaker", "describe-endpoint-config", "--endpoint-config-name", config_name)
    model = aws(server_url, "sagemaker", "describe-model", "--model-name", config["ProductionVariants"][0]["ModelName"])
    assert model["Containers"][0]["ModelPackageName"] == PENDING


def test_a_workflow_starts_by_hand_with_an_input_from_events(server_url: str) -> None:
    started = aws(
        server_url,
        "stepfunctions",
        "start-execution",
        "--state-machine-arn",
        DEPLOY.replace("deploy", "retrain"),
        "--input",
        "file://events/statemachines/retrain.json",
    )
    status = wait_for(
        lambda: (
            (
                s := aws(server_url, "stepfunctions", "describe-execution", "--execution-arn", started["executionArn"])[
                    "status"
                ]
            )
            != "RUNNING"
            and s
        )
    )
    assert status == "SUCCEEDED"
