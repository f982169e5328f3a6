"""`make sandbox` with SANDBOX_DEPLOYMENT_STRATEGY=Shadow, driven by the AWS CLI as a person would: a version in
shadow answers no client; one that agrees ends live; one trained on flipped labels (the pipeline's FlipLabels
parameter) ends Rejected with the report in its approval description, the live version unchanged."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.test_server import PENDING, aws, deploy_runs, pipeline_run, running_server, serving, wait_for

CUSTOMER = "2,110.0,6,3.0,month-to-month,electronic-check,under-65"  # every non-label column of the shipped data


@pytest.fixture(scope="module")
def shadow_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    log = tmp_path_factory.mktemp("server") / "server.log"
    with running_server(log, SANDBOX_BAKE_SECONDS="5", SANDBOX_DEPLOYMENT_STRATEGY="Shadow") as url:
        yield url


def approve(url: str, arn: str) -> None:
    aws(url, "sagemaker", "update-model-package", "--model-package-arn", arn, "--model-approval-status", "Approved")


def in_shadow(url: str) -> dict[str, Any] | None:
    endpoint = aws(url, "sagemaker", "describe-endpoint", "--endpoint-name", "churn-endpoint")
    return endpoint if endpoint.get("ShadowProductionVariants") else None


def invoked_variant(url: str, tmp_path: Path) -> str:
    answer = aws(
        url,
        "sagemaker-runtime",
        "invoke-endpoint",
        "--endpoint-name",
        "churn-endpoint",
        "--content-type",
        "text/csv",
        "--body",
        CUSTOMER,  # (AWS CLI v1 sends a blob argument's text as is)
        str(tmp_path / "answer.csv"),
    )
    assert 0.0 <= float((tmp_path / "answer.csv").read_text()) <= 1.0
    return str(answer["InvokedProductionVariant"])


def answered_during_the_shadow(url: str, tmp_path: Path, requests: int = 3) -> set[str]:
    """The variants that answered requests sent while the endpoint still had its shadow (checked after each:
    a CLI call takes about a second, and the shadow may end meanwhile)."""
    answered = set()
    for _ in range(requests):
        variant = invoked_variant(url, tmp_path)
        if in_shadow(url):
            answered.add(variant)
    assert answered, "the shadow ended before any request"
    return answered


def finished_deploy(url: str, arn: str) -> dict[str, str]:
    version = arn.rsplit("/", 1)[-1]

    def done() -> dict[str, str] | None:
        runs = [r for r in deploy_runs(url) if r["name"].startswith(f"approved-v{version}-")]
        return runs[0] if runs and runs[0]["status"] != "RUNNING" else None

    return dict(wait_for(done, timeout=120))


def test_an_agreeing_version_runs_in_shadow_answering_no_client_then_ends_live(shadow_url: str, tmp_path: Path) -> None:
    approve(shadow_url, PENDING)

    endpoint = wait_for(lambda: in_shadow(shadow_url), timeout=60)
    variants = [(v["VariantName"], v["CurrentWeight"]) for v in endpoint["ProductionVariants"]]
    answered = answered_during_the_shadow(shadow_url, tmp_path)

    assert variants == [("Blue", 1.0)] and answered == {"Blue"}
    assert [v["VariantName"] for v in endpoint["ShadowProductionVariants"]] == ["ShadowGreen"]
    assert finished_deploy(shadow_url, PENDING)["status"] == "SUCCEEDED"
    assert serving(shadow_url) == PENDING


def test_a_version_trained_on_flipped_labels_is_rejected_with_its_report(shadow_url: str, tmp_path: Path) -> None:
    live = serving(shadow_url)
    run = pipeline_run(shadow_url, "Name=FlipLabels,Value=true")
    assert run["PipelineExecutionStatus"] == "Succeeded", run.get("FailureReason")
    listed = aws(shadow_url, "sagemaker", "list-model-packages", "--model-package-group-name", "churn-models")
    [flipped] = [
        package["ModelPackageArn"]
        for package in listed["ModelPackageSummaryList"]
        if aws(shadow_url, "sagemaker", "describe-model-package", "--model-package-name", package["ModelPackageArn"])
        .get("MetadataProperties", {})
        .get("GeneratedBy")
        == run["PipelineExecutionArn"]
    ]

    approve(shadow_url, flipped)
    endpoint = wait_for(lambda: in_shadow(shadow_url), timeout=60)
    answered = answered_during_the_shadow(shadow_url, tmp_path)
    ended = finished_deploy(shadow_url, flipped)

    described = aws(shadow_url, "sagemaker", "describe-model-package", "--model-package-name", flipped)
    assert ended["status"] == "FAILED"
    assert described["ModelApprovalStatus"] == "Rejected"
    assert "agrees too little" in described["ApprovalDescription"]
    assert "same decision" in described["ApprovalDescription"]
    [live_variant] = [v["VariantName"] for v in endpoint["ProductionVariants"]]
    assert answered == {live_variant}  # v2's variant, Green since its promotion
    assert [v["VariantName"] for v in endpoint["ShadowProductionVariants"]] == ["ShadowBlue"]
    assert serving(shadow_url) == live
