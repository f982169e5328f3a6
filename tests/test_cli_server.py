"""The installed `.venv/bin/mlops` against `make sandbox` over HTTP: the acceptance of the command line.

`make test` installs the command line (.venv/.cli-installed) before it runs the tests; the binary is run as a user
runs it, with --endpoint-url and the AWS CLI's environment variables, the project found from the only stack.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.test_server import aws, running_server

MLOPS = Path(sys.executable).parent / "mlops"
GROUP_ARN = "arn:aws:sagemaker:us-east-1:123456789012:model-package-group/churn-models"


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with running_server(
        tmp_path_factory.mktemp("cli") / "server.log",
        SANDBOX_BAKE_SECONDS="2",
        SANDBOX_RETRAIN_COOLDOWN_SECONDS="0",
    ) as found:
        yield found


def mlops(url: str, *argv: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    assert MLOPS.exists(), f"{MLOPS} is missing: `make setup` (or make demo / make test) installs it"
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "sandbox",
        "AWS_SECRET_ACCESS_KEY": "sandbox",
        "AWS_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": "",
    }
    return subprocess.run(
        [str(MLOPS), "--endpoint-url", url, *argv],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
        timeout=timeout,
    )


def ok(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 0, f"exit {done.returncode}: {done.stderr}{done.stdout[-2000:]}"
    return done.stdout


def test_status_approve_watch_lineage_history_report(url: str, tmp_path: Path) -> None:
    assert "Live:        version 1 on churn-endpoint" in ok(mlops(url, "status"))

    refused = mlops(url, "approve", "99", "--reason", "no such version")
    assert refused.returncode == 2 and "churn-models has no version 99" in refused.stderr
    assert aws(url, "sagemaker", "list-model-packages", "--model-package-group-name", "churn-models")

    approved = ok(mlops(url, "approve", "2", "--reason", "recall up 3 points"))
    assert "version 2: PendingManualApproval -> Approved (recall up 3 points)" in approved
    watched = ok(mlops(url, "watch", "--interval", "0.3"))
    candidate_shares = {
        float(share) for share in re.findall(r"^  Green\s+[#.]+\s+([0-9.]+)%", watched, re.MULTILINE)
    } | {float(share) for share in re.findall(r"^  Blue\s+[#.]+\s+([0-9.]+)%", watched, re.MULTILINE)}
    assert len(candidate_shares) >= 3, f"the weights did not move: {watched[-3000:]}"
    assert re.search(r"^=== approved-v2-\w+: SUCCEEDED Deployed", watched, re.MULTILINE), watched[-2000:]
    assert "Live:        version 2 on churn-endpoint" in ok(mlops(url, "status"))

    lineage = json.loads(ok(mlops(url, "lineage", "--json")))
    assert lineage["Version"]["Number"] == "2"
    assert lineage["Approval"]["Description"] == "recall up 3 points"
    assert lineage["Approval"]["By"] and lineage["Approval"]["At"]
    assert [d["outcome"] for d in lineage["Deployments"]] == ["Deployed"]
    text = ok(mlops(url, "lineage"))
    assert "Approval        Approved by " in text and "recall up 3 points" in text
    bucket = "churn-artifacts-123456789012-us-east-1"
    data = tmp_path / "churn.csv"
    aws(url, "s3api", "get-object", "--bucket", bucket, "--key", "pipeline/data/churn.csv", str(data))
    archive = tmp_path / "sourcedir.tar.gz"
    aws(url, "s3api", "get-object", "--bucket", bucket, "--key", "pipeline/code/sourcedir.tar.gz", str(archive))
    assert f"Data            s3://{bucket}/pipeline/data/churn.csv" in text
    assert f"  sha256        {hashlib.sha256(data.read_bytes()).hexdigest()}" in text
    assert f"Code sha256     {hashlib.sha256(archive.read_bytes()).hexdigest()}" in text
    assert re.search(r"hyperparams   learning-rate=0\.05, max-depth=4, max-iter=150", text), text

    newest = json.loads(ok(mlops(url, "history", "--json", "-n", "2")))
    assert [(e["kind"], e.get("model_package_arn", "").rsplit("/", 1)[-1]) for e in newest] == [
        ("deployment", "2"),
        ("approval", "2"),
    ]

    page = tmp_path / "report.html"
    assert str(page) in ok(mlops(url, "report", "--out", str(page)))
    assert page.stat().st_size > 2000 and "<svg" in page.read_text()


def test_an_unknown_project_or_stack_is_refused(url: str) -> None:
    unknown = mlops(url, "status", "--project", "fraud")
    assert unknown.returncode == 2
    assert "no project fraud in us-east-1 (projects found: churn)" in unknown.stderr
    assert mlops(url, "--stack", "nowhere", "history").returncode == 2


def test_a_retrain_registers_a_version_with_its_metadata_and_the_group_is_tagged(url: str) -> None:
    done = ok(mlops(url, "retrain", "--reason", "the quarter's data is in", "--wait"))
    registered = re.search(r"ended SUCCEEDED Registered: version (\d+) registered", done)
    assert registered, done
    arn = f"arn:aws:sagemaker:us-east-1:123456789012:model-package/churn-models/{registered.group(1)}"
    package = aws(url, "sagemaker", "describe-model-package", "--model-package-name", arn)
    metadata = package["CustomerMetadataProperties"]
    assert metadata["data-uri"] == "s3://churn-artifacts-123456789012-us-east-1/pipeline/data/churn.csv"
    assert re.fullmatch(r"[0-9a-f]{64}", metadata["data-sha256"])
    assert re.fullmatch(r"[0-9a-f]{64}", metadata["code-sha256"])
    assert metadata["data-version"] not in ("", "unrecorded")
    assert metadata["hyperparameter-max-iter"] == "150" and metadata["training-job"]
    assert package["MetadataProperties"]["GeneratedBy"].startswith(
        "arn:aws:sagemaker:us-east-1:123456789012:pipeline/churn-pipeline/execution/"
    )
    tags = {t["Key"]: t["Value"] for t in aws(url, "sagemaker", "list-tags", "--resource-arn", GROUP_ARN)["Tags"]}
    assert {k: tags.get(k) for k in ("owner", "use-case", "compliance")} == {
        k: metadata[k] for k in ("owner", "use-case", "compliance")
    }
    lineage = json.loads(ok(mlops(url, "lineage", registered.group(1), "--json")))
    assert lineage["Data"]["Sha256"] == metadata["data-sha256"]
    assert [m["reason"] for m in lineage["MadeBy"]] == ["the quarter's data is in"]
