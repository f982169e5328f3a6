"""Shadow deployments in the sandbox: the candidate answers copies of live requests, compared on the same
requests, before any user sees it; then promoted, rejected with its report, or found inconclusive.

The sandbox's endpoints emulate ShadowProductionVariants as AWS documents them (sandbox/patches.py): the
production variant answers every request, the shadow gets a copy of its share and answers no one, data capture
records both. Real requests (rows of the shipped data) reach the endpoint from the background traffic.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from pipeline import dataset
from sandbox.core import Sandbox
from sandbox.world import register_version
from tests.conftest import SandboxWorld, seeded

# Shadows of 3000 s (3 s here, the sandbox compresses time 1000x): long enough to act during one and to compare
# about a hundred requests of the background traffic; the canary after it bakes 60 ms a step.
SHADOW_STACK = {
    "DeploymentStrategy": "Shadow",
    "ShadowSeconds": "3000",
    "BakeSeconds": "60",
    "RetentionSeconds": "60",
    "MinCandidateInvocations": "0",
    "ShadowMinComparedRequests": "30",
}


@pytest.fixture
def shadowed(sandbox: Sandbox) -> SandboxWorld:
    world = seeded(sandbox, **SHADOW_STACK)
    sandbox.start_traffic(world.stack.endpoint_name, per_minute=600)
    return world


def ledger_items(churn: SandboxWorld, prefix: str) -> list[dict[str, Any]]:
    return [e for e in churn.ledger(f"ENDPOINT#{churn.stack.endpoint_name}") if e["sk"].startswith(prefix)]


def approve(churn: SandboxWorld, arn: str) -> None:
    churn.client("sagemaker").update_model_package(ModelPackageArn=arn, ModelApprovalStatus="Approved")


def wait_for_shadow(churn: SandboxWorld, timeout: float = 60) -> dict[str, Any]:
    """The running shadow's bake (its variant ShadowBlue or ShadowGreen), once the endpoint serves the shadow."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for bake in ledger_items(churn, "BAKE"):
            if str(bake.get("candidate_variant", "")).startswith("Shadow") and not bake.get("completed_at"):
                return bake
        time.sleep(0.05)
    raise AssertionError("no shadow started")


def endpoint(churn: SandboxWorld) -> dict[str, Any]:
    return dict(churn.client("sagemaker").describe_endpoint(EndpointName=churn.stack.endpoint_name))


def deployment_of(churn: SandboxWorld, arn: str) -> dict[str, Any]:
    [outcome] = [e for e in ledger_items(churn, "DEPLOYMENT#") if e.get("model_package_arn") == arn]
    return outcome


def invoke(churn: SandboxWorld, rows: int = 20) -> list[str]:
    """Client requests of real customers: the variant that answered each."""
    runtime = churn.client("sagemaker-runtime")
    answered = []
    for row in dataset.generate(rows=rows, seed=31, shift=0.0):
        body = dataset.to_csv([row], header=False, label=False)
        response = runtime.invoke_endpoint(EndpointName=churn.stack.endpoint_name, ContentType="text/csv", Body=body)
        answered.append(response["InvokedProductionVariant"])
    return answered


def version_status(churn: SandboxWorld, arn: str) -> dict[str, Any]:
    return dict(churn.client("sagemaker").describe_model_package(ModelPackageName=arn))


def test_an_agreeing_shadow_answers_no_client_then_goes_through_the_canary(shadowed: SandboxWorld) -> None:
    churn = shadowed
    before = endpoint(churn)
    approve(churn, churn.world.pending_version_arn)
    wait_for_shadow(churn)

    during = endpoint(churn)
    answered = invoke(churn)
    churn.sandbox.settle()

    assert [(v["VariantName"], v["CurrentWeight"]) for v in during["ProductionVariants"]] == [("Blue", 1.0)]
    assert [v["VariantName"] for v in during["ShadowProductionVariants"]] == ["ShadowGreen"]
    assert set(answered) == {"Blue"}  # every client answer from the live variant
    outcome = deployment_of(churn, churn.world.pending_version_arn)
    assert outcome["outcome"] == "Deployed", outcome["detail"]
    assert "after its shadow and the canary" in outcome["detail"] and "same decision" in outcome["detail"]
    *extended, report = ledger_items(churn, "SHADOW#")  # (an extension when the machine was slow)
    assert report["verdict"] == "pass" and all(r["verdict"] == "inconclusive" for r in extended)
    steps = ledger_items(churn, "STEP#")
    assert steps and all(step["at"] > report["sk"].split("#", 2)[2] for step in steps)  # weights moved after it
    assert churn.live_model_package() == churn.world.pending_version_arn
    assert before["EndpointConfigName"] != endpoint(churn)["EndpointConfigName"]
    assert "ShadowProductionVariants" not in endpoint(churn) or not endpoint(churn)["ShadowProductionVariants"]


def test_a_disagreeing_shadow_is_rejected_with_its_report_and_the_live_version_never_changes(
    shadowed: SandboxWorld,
) -> None:
    churn = shadowed
    config_before = endpoint(churn)["EndpointConfigName"]
    flipped = register_version(churn.sandbox, churn.stack, 3, "PendingManualApproval", flip_labels=True)
    churn.sandbox.settle()
    approve(churn, flipped)  # a model trained on labels turned upside down
    wait_for_shadow(churn)
    answered = invoke(churn)
    churn.sandbox.settle()

    outcome = deployment_of(churn, flipped)
    assert outcome["outcome"] == "Rejected", outcome["detail"]
    assert "agrees too little" in outcome["detail"] and "disagreed on" in outcome["detail"]
    version = version_status(churn, flipped)
    assert version["ModelApprovalStatus"] == "Rejected"
    assert "same decision" in version["ApprovalDescription"]
    assert set(answered) == {"Blue"}
    assert churn.live_model_package() == churn.world.live_version_arn
    assert endpoint(churn)["EndpointConfigName"] == config_before
    assert not ledger_items(churn, "STEP#")  # no user was ever answered by it


def test_a_failing_shadow_is_ended_early_by_its_guard_alarm(sandbox: Sandbox) -> None:
    churn = seeded(sandbox, **{**SHADOW_STACK, "ShadowSeconds": "600000"})  # 10 minutes here: the alarm ends it
    sandbox.start_traffic(churn.stack.endpoint_name, per_minute=600)
    churn.sandbox.behave(churn.world.pending_version_arn, error_rate=1.0)
    started = time.monotonic()
    approve(churn, churn.world.pending_version_arn)
    answered = invoke(churn)  # (the alarm may end the shadow before these)
    churn.sandbox.settle(timeout=120)

    assert time.monotonic() - started < 120
    [bake] = ledger_items(churn, "BAKE")
    assert (bake["candidate_variant"], bake["outcome"]) == ("ShadowGreen", "abort")
    outcome = deployment_of(churn, churn.world.pending_version_arn)
    assert outcome["outcome"] == "Rejected", outcome["detail"]
    assert "churn-canary-5xx-ShadowGreen" in outcome["detail"]
    assert set(answered) == {"Blue"}  # its errors reached no client
    assert version_status(churn, churn.world.pending_version_arn)["ModelApprovalStatus"] == "Rejected"
    assert churn.live_model_package() == churn.world.live_version_arn


def test_a_shadow_without_traffic_is_inconclusive_and_the_version_stays_approved(sandbox: Sandbox) -> None:
    churn = seeded(sandbox, **SHADOW_STACK, MaxBakeExtensions="1")  # no traffic at all
    approve(churn, churn.world.pending_version_arn)
    churn.sandbox.settle()

    outcome = deployment_of(churn, churn.world.pending_version_arn)
    assert outcome["outcome"] == "Inconclusive", outcome["detail"]
    assert "too few compared requests (30 needed)" in outcome["detail"]
    assert len(ledger_items(churn, "SHADOW#")) == 2  # the shadow, then its one extension
    assert version_status(churn, churn.world.pending_version_arn)["ModelApprovalStatus"] == "Approved"
    assert churn.live_model_package() == churn.world.live_version_arn


def test_a_rejection_in_the_registry_ends_the_shadow(shadowed: SandboxWorld) -> None:
    churn = shadowed
    approve(churn, churn.world.pending_version_arn)
    wait_for_shadow(churn)
    churn.client("sagemaker").update_model_package(
        ModelPackageArn=churn.world.pending_version_arn,
        ModelApprovalStatus="Rejected",
        ApprovalDescription="wrong features",
    )
    churn.sandbox.settle()

    outcome = deployment_of(churn, churn.world.pending_version_arn)
    assert outcome["outcome"] == "Rejected" and "wrong features" in outcome["detail"]
    assert not ledger_items(churn, "SHADOW#")  # ended before any comparison
    assert churn.live_model_package() == churn.world.live_version_arn


def test_a_deploy_started_by_hand_names_its_strategy(sandbox: Sandbox) -> None:
    churn = seeded(sandbox, **{**SHADOW_STACK, "DeploymentStrategy": "Canary"})
    sandbox.start_traffic(churn.stack.endpoint_name, per_minute=600)
    approve(churn, churn.world.pending_version_arn)  # the stack's strategy: a canary
    churn.sandbox.settle()
    assert not ledger_items(churn, "SHADOW#")
    sfn = churn.client("stepfunctions")

    sfn.start_execution(
        stateMachineArn=churn.stack.deploy_state_machine_arn,
        name="by-hand-shadow",
        input=f'{{"ModelPackageArn": "{churn.world.live_version_arn}", "Strategy": "Shadow", "Reason": "v1 again"}}',
    )
    churn.sandbox.settle()

    *_, report = ledger_items(churn, "SHADOW#")
    assert report["verdict"] == "pass"  # v1 beside v2: the same model, the same answers
    assert churn.live_model_package() == churn.world.live_version_arn
    refused = sfn.start_execution(
        stateMachineArn=churn.stack.deploy_state_machine_arn,
        name="by-hand-bad-strategy",
        input=f'{{"ModelPackageArn": "{churn.world.pending_version_arn}", "Strategy": "Linear"}}',
    )
    churn.sandbox.settle()
    described = sfn.describe_execution(executionArn=refused["executionArn"])
    assert (described["status"], described.get("error")) == ("FAILED", "InvalidInput")


def test_while_a_shadow_runs_the_newest_waiting_version_wins(shadowed: SandboxWorld) -> None:
    churn = shadowed
    v3 = register_version(churn.sandbox, churn.stack, 3, "PendingManualApproval")
    v4 = register_version(churn.sandbox, churn.stack, 4, "PendingManualApproval")
    churn.sandbox.settle()
    approve(churn, churn.world.pending_version_arn)
    wait_for_shadow(churn)

    approve(churn, v3)
    approve(churn, v4)
    churn.sandbox.settle()

    outcomes = {e["model_package_arn"].rsplit("/", 1)[-1]: e["outcome"] for e in ledger_items(churn, "DEPLOYMENT#")}
    assert outcomes == {"1": "Deployed", "2": "Deployed", "3": "Superseded", "4": "Deployed"}
    assert churn.live_model_package() == v4
    reports = ledger_items(churn, "SHADOW#")
    assert {r["sk"].split("#")[1].split("-")[1] for r in reports if r["verdict"] == "pass"} == {"v2", "v4"}
