"""`mlops report` in the sandbox: one canary deployment (a guard alarm rolls it back at its second step), the drift
monitor's figures, and the page rendered by a real headless browser (Debian's chromium)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from mlops_cli.aws import Clients
from mlops_cli.main import main
from pipeline import dataset
from sandbox.core import Sandbox
from tests.conftest import SandboxWorld, seeded

CHROMIUM_MISSING = "Debian's chromium is not installed: .ci/run installs it (apt-get install chromium)"


@dataclass(frozen=True)
class Deployed:
    churn: SandboxWorld
    execution: str  # the deploy workflow execution's name


def _ledger(churn: SandboxWorld, prefix: str) -> list[dict[str, Any]]:
    return [e for e in churn.ledger(f"ENDPOINT#{churn.stack.endpoint_name}") if str(e["sk"]).startswith(prefix)]


def _wait_for_step(churn: SandboxWorld, percent: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not any(step.get("percent") == percent for step in _ledger(churn, "STEP#")):
        assert time.monotonic() < deadline, f"the canary never reached {percent}%"
        time.sleep(0.05)


def _send_labelled_customers(churn: SandboxWorld, count: int) -> None:
    """Customers of the training population, one a request with its InferenceId (captured for the drift monitor),
    and their true labels as Model Monitor's ground-truth records (joined by the monitor for model quality)."""
    runtime = churn.client("sagemaker-runtime")
    labels = []
    for i, record in enumerate(dataset.generate(rows=count, seed=23)):
        body = dataset.to_csv([record], header=False, label=False)
        runtime.invoke_endpoint(
            EndpointName=churn.stack.endpoint_name, ContentType="text/csv", Body=body, InferenceId=f"report-{i}"
        )
        labels.append(
            json.dumps(
                {
                    "groundTruthData": {"data": str(record[dataset.LABEL]), "encoding": "CSV"},
                    "eventMetadata": {"eventId": f"report-{i}"},
                    "eventVersion": "0",
                }
            )
        )
    key = f"groundtruth/{datetime.now(UTC):%Y/%m/%d/%H}/report.jsonl"
    churn.client("s3").put_object(
        Bucket=churn.stack.outputs["ArtifactBucketName"], Key=key, Body=("\n".join(labels) + "\n").encode()
    )


@pytest.fixture(scope="module")
def deployed() -> Iterator[Deployed]:
    """v2 by canary (bakes of 2.5 s): slower than v1 from the start, it answers half its requests with 5XX errors
    once it has 50% of the traffic; its guard alarm aborts the canary, which rolls back. Then the drift monitor
    measures the captured traffic and the labelled customers."""
    with Sandbox() as sandbox:
        churn = seeded(sandbox, BakeSeconds="2500", RetentionSeconds="60", MinCandidateInvocations="0")
        candidate = churn.world.pending_version_arn
        sandbox.behave(candidate, latency_ms=26.0)
        sandbox.start_traffic(churn.stack.endpoint_name, per_minute=600)
        churn.client("sagemaker").update_model_package(ModelPackageArn=candidate, ModelApprovalStatus="Approved")
        _wait_for_step(churn, 50)
        sandbox.behave(candidate, error_rate=0.5, latency_ms=26.0)
        sandbox.settle()
        sandbox.stop_traffic()
        _send_labelled_customers(churn, 200)
        sandbox.run_drift_monitor("churn")
        [run] = [e for e in churn.executions() if e["name"].startswith("approved-v2-")]
        yield Deployed(churn, str(run["name"]))


def run_report(sandbox: Sandbox, *args: str) -> int:
    return main(["report", *args], clients=Clients(factory=sandbox.client))


class Elements(HTMLParser):
    """Every element's tag and attributes, and the page's text."""

    def __init__(self) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict[str, str]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, {k: v or "" for k, v in attrs}))

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def series(self) -> dict[str, dict[str, str]]:
        return {a["data-series"]: a for _, a in self.elements if "series" in a.get("class", "").split()}

    def ids(self) -> set[str]:
        return {a["id"] for _, a in self.elements if "id" in a}


def parsed(markup: str) -> Elements:
    elements = Elements()
    elements.feed(markup)
    return elements


def chromium(page: Path, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("chromium")
    if binary is None:
        pytest.skip(CHROMIUM_MISSING)
    profile = tmp_path / f"chromium-profile-{len(list(tmp_path.iterdir()))}"
    return subprocess.run(
        [
            binary,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={profile}",
            *args,
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )


def assert_self_contained(markup: str) -> None:
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", markup, re.IGNORECASE)
    assert not re.search(r"<script\b[^>]*\bsrc\s*=", markup, re.IGNORECASE)
    assert not re.search(r"<link\b", markup, re.IGNORECASE)
    assert "@import" not in markup and "url(" not in markup


def test_the_report_of_a_rolled_back_canary_renders_in_a_browser(deployed: Deployed, tmp_path: Path) -> None:
    churn = deployed.churn
    page = tmp_path / "report.html"

    assert run_report(churn.sandbox, "--out", str(page)) == 0

    markup = page.read_text()
    assert_self_contained(markup)
    dom = chromium(page, tmp_path, "--dump-dom").stdout
    found = parsed(dom)
    assert {"timeline", "monitoring", "decisions"} <= found.ids()
    series = found.series()
    # traffic: Green took 10%, then 50%, then went back to 0; Blue had the rest
    assert int(series["traffic:Green"]["data-points"]) == 4  # start (0%), 10%, 50%, rolled back (0%)
    assert int(series["traffic:Blue"]["data-points"]) == 4
    for kind in ("errors", "latency", "requests"):
        for variant in ("Blue", "Green"):
            assert int(series[f"{kind}:{variant}"]["data-points"]) > 0, f"{kind}:{variant} has no points"
    guard = series["alarm:churn-canary-5xx-Green"]
    assert int(guard["data-changes"]) >= 1  # OK -> ALARM during the deployment
    text = " ".join(" ".join(found.text).split())
    assert "step 1: 10% of the traffic to Green" in text
    assert "step 2: 50% of the traffic to Green" in text
    assert "abort request" in text and "churn-canary-5xx-Green" in text
    assert "RolledBack" in text and deployed.execution in text
    # the monitoring figures: PSI per feature against the threshold, bias against its band
    psi = [key for key in series if key.startswith("psi:")]
    assert "psi:tenure_months" in psi and len(psi) >= 5, psi
    assert {"bias:DPPL", "bias:DI"} <= set(series)
    assert "DriftThreshold 0.2" in text
    assert {"quality:Accuracy", "quality:AUC"} <= set(series)  # against the registered evaluation

    shot = tmp_path / "report.png"
    chromium(page, tmp_path, f"--screenshot={shot}", "--window-size=1280,2400", "--hide-scrollbars")
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 30_000


def test_the_json_summary_names_the_page_and_the_deployment(
    deployed: Deployed, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    churn = deployed.churn
    page = tmp_path / "deep" / "report.html"

    assert run_report(churn.sandbox, "--json", "--out", str(page), "--execution", deployed.execution) == 0

    summary = json.loads(capsys.readouterr().out)
    assert summary["Path"] == str(page) and page.exists()
    deployment = summary["Deployment"]
    assert deployment["Execution"].endswith(f":{deployed.execution}")
    assert (deployment["Status"], deployment["Outcome"]) == ("FAILED", "RolledBack")
    assert (deployment["CandidateVariant"], deployment["LiveVariant"], deployment["Strategy"]) == (
        "Green",
        "Blue",
        "canary",
    )
    assert deployment["Steps"] == [10, 50]
    assert summary["Monitoring"]["Drift"] and summary["Monitoring"]["Quality"]


def test_an_older_execution_is_reported_by_name(deployed: Deployed, tmp_path: Path) -> None:
    churn = deployed.churn
    [first] = [e for e in churn.executions() if e["name"].startswith("approved-v1-")]
    page = tmp_path / "v1.html"

    assert run_report(churn.sandbox, "--out", str(page), "--execution", str(first["name"])) == 0

    found = parsed(page.read_text())
    assert "traffic:Blue" in found.series()  # the first deployment: Blue got all the traffic
    assert "Deployed" in " ".join(found.text)


def test_an_unknown_execution_is_refused(
    deployed: Deployed, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_report(deployed.churn.sandbox, "--out", str(tmp_path / "x.html"), "--execution", "nope") == 2
    assert "no deploy workflow execution nope" in capsys.readouterr().err
    assert not (tmp_path / "x.html").exists()


def test_a_project_with_no_deployment_yet_gets_a_page_saying_so(
    deployed: Deployed, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sandbox = deployed.churn.sandbox
    # a second project in the account, nothing approved, nothing deployed (the module's last test of the sandbox:
    # the others find churn as the only project)
    sandbox.deploy_stack("quiet")
    page = tmp_path / "quiet.html"

    assert run_report(sandbox, "--project", "quiet", "--json", "--out", str(page)) == 0

    summary = json.loads(capsys.readouterr().out)
    assert summary["Deployment"] is None and summary["Monitoring"] == {"Drift": None, "Quality": None}
    found = parsed(page.read_text())
    assert {"timeline", "monitoring"} <= found.ids()
    text = " ".join(" ".join(found.text).split())
    assert "No deployment yet" in text and "No figures yet" in text
    assert not found.series()
    assert_self_contained(page.read_text())


def test_values_from_aws_are_escaped_and_a_shadow_is_drawn_as_copies() -> None:
    from mlops_cli.project import Project
    from mlops_cli.report import Timeline, render

    hostile = '<script>alert("x")</script>'
    start = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)
    at = [start + timedelta(minutes=m) for m in range(0, 61, 10)]
    project = Project(
        stack_name=f"stack{hostile}",
        outputs={"ProjectName": "churn", "EndpointName": f"ep{hostile}", "ModelPackageGroupName": "g"},
    )
    line = Timeline(
        execution={"executionArn": "arn:aws:states:us-east-1:1:execution:d:x", "name": hostile, "status": "FAILED"},
        start=start,
        end=at[-1],
        strategy="shadow",
        candidate=None,
        live="Blue",
        shadow="ShadowGreen",
        traffic={"Blue": [(start, 100.0)]},
        copies={"ShadowGreen": [(start, 0.0), (at[1], 100.0), (at[5], 0.0)]},
        metrics={v: {"ModelLatency": [(t, 20000.0) for t in at]} for v in ("Blue", "ShadowGreen")},
        period=600,
        alarms=[{"AlarmName": f"churn-canary-5xx-ShadowGreen{hostile}", "StateValue": "OK"}],
        changes={},
        alarm_source="test",
        decisions=[{"At": at[4], "Kind": "shadow comparison", "Text": f"verdict fail: {hostile}"}],
        outcome={
            "Status": "FAILED",
            "Outcome": "Rejected",
            "Detail": hostile,
            "ModelPackageArn": None,
            "RequestedBy": hostile,
            "ApprovedBy": None,
            "Reason": None,
        },
        steps=[],
    )
    monitoring = {
        "Drift": {"recorded_at": hostile, "sk": "RUN#1", "Summary": {"FeaturePSI": {hostile: 0.3}, "Bias": {}}},
        "LastDriftRun": None,
        "Quality": None,
        "Registered": {},
        "Limits": {"DriftThreshold": 0.2},
        "Alarms": [{"Alarm": hostile, "State": "ALARM", "Since": None}],
        "Namespace": "MLOps/churn/Drift",
    }

    page = render(project, "us-east-1", line, monitoring, {}, start)

    assert "<script" not in page and "&lt;script&gt;" in page
    found = parsed(page)
    series = found.series()
    assert {"traffic:Blue", "traffic:ShadowGreen", "latency:ShadowGreen"} <= set(series)
    assert f"psi:{hostile}" in series  # the attribute holds the feature's name as it is, once parsed
    assert "ShadowGreen copies" in " ".join(found.text)
    assert_self_contained(page)
