"""`mlops`, the operator's command line, against the in-process sandbox: what it shows and what it refuses.

The commands run in-process (mlops_cli.main.main) with the sandbox's clients; tests/test_cli_server.py runs the
installed .venv/bin/mlops against `make sandbox` over HTTP.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import threading
import time
from typing import Any

import pytest

from mlops_cli.aws import Clients
from mlops_cli.main import main
from tests.conftest import SandboxWorld


def mlops(world: SandboxWorld, capsys: Any, *argv: str) -> tuple[int, str, str]:
    """Run `mlops <argv>`: (exit code, what it printed, its errors). Its own streams: the functions running in
    the sandbox's threads meanwhile print their logs to the process's."""
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), clients=Clients(factory=world.client), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def as_json(world: SandboxWorld, capsys: Any, *argv: str) -> Any:
    code, out, err = mlops(world, capsys, *argv, "--json")
    assert code == 0, err
    return json.loads(out)


def all_executions(world: SandboxWorld) -> int:
    keys = ("DeployStateMachineArn", "RollbackStateMachineArn", "RetrainStateMachineArn")
    return sum(len(world.executions(key)) for key in keys)


def statuses(world: SandboxWorld) -> dict[str, str]:
    listed = world.client("sagemaker").list_model_packages(ModelPackageGroupName=world.stack.model_package_group)
    return {item["ModelPackageArn"]: item["ModelApprovalStatus"] for item in listed["ModelPackageSummaryList"]}


def test_status_names_the_live_version_and_nothing_in_progress(churn: SandboxWorld, capsys: Any) -> None:
    found = as_json(churn, capsys, "status")
    assert found["Live"]["ModelPackageArn"] == churn.world.live_version_arn
    assert found["Live"]["Version"] == "1"
    assert found["Deployment"] is None
    assert found["RetrainGate"]["State"] == "open"
    assert [v["Variant"] for v in found["Serving"]["Variants"]] == [found["Live"]["Variant"]]
    code, out, _ = mlops(churn, capsys, "status")
    assert code == 0
    assert "Live:        version 1 on churn-endpoint" in out
    assert "Deploying:   nothing in progress" in out


def shares(snapshot: str, variant: str) -> float | None:
    match = re.search(rf"^  {variant}\s+[#.]+\s+([0-9.]+)%", snapshot, re.MULTILINE)
    return float(match.group(1)) if match else None


def test_approve_then_watch_follows_the_canary_until_it_ends(watched_churn: SandboxWorld, capsys: Any) -> None:
    code, out, err = mlops(watched_churn, capsys, "approve", "2", "--reason", "better recall on the holdout")
    assert code == 0, err
    assert "version 2: PendingManualApproval -> Approved" in out
    assert re.search(r"deploy workflow: arn:aws:states:.*:execution:churn-deploy:approved-v2-", out)
    code, out, err = mlops(watched_churn, capsys, "watch", "--interval", "0.2")
    assert code == 0, err
    snapshots = out.split("--- ")[1:]
    deploying = [s for s in snapshots if "Deploying:   version 2 by canary" in s]
    assert deploying, out[-3000:]
    candidate = re.search(r"candidate (\w+), live (\w+)", deploying[0])
    assert candidate, deploying[0]
    seen = sorted({share for s in deploying if (share := shares(s, candidate.group(1))) is not None})
    assert len(seen) >= 2 and seen[-1] > seen[0], f"the candidate's share did not move: {seen}"
    assert any("baking at" in s for s in deploying)
    assert any(f"guard churn-canary-5xx-{candidate.group(1)}: OK" in s for s in deploying)
    assert re.search(r"=== approved-v2-\w+: SUCCEEDED Deployed: version 2 serves 100%", out), out[-2000:]
    assert as_json(watched_churn, capsys, "status")["Live"]["Version"] == "2"


def test_abort_stops_the_running_canary_and_the_live_version_stays(watched_churn: SandboxWorld, capsys: Any) -> None:
    code, _, err = mlops(watched_churn, capsys, "approve", "2", "--reason", "try it")
    assert code == 0, err
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        deploying = as_json(watched_churn, capsys, "status")["Deployment"]
        if deploying and deploying.get("Bake"):
            break
        time.sleep(0.1)
    else:
        pytest.fail("the canary never baked")
    code, out, err = mlops(watched_churn, capsys, "abort", "--reason", "latency looks wrong to me", "--wait")
    assert "abort requested for approved-v2-" in out, err
    assert code == 1 and "ended SUCCEEDED" not in out  # the deployment failed: it was aborted
    assert watched_churn.live_model_package() == watched_churn.world.live_version_arn
    aborts = as_json(watched_churn, capsys, "history", "--kind", "abort-request")
    assert len(aborts) == 1 and aborts[0]["reason"].startswith("latency looks wrong to me")
    code, _, err = mlops(watched_churn, capsys, "abort", "--reason", "again")
    assert code == 2 and "no canary or shadow in progress" in err


def test_lineage_and_history_after_a_canary_a_rollback_and_a_retrain(churn: SandboxWorld, capsys: Any) -> None:
    code, _, err = mlops(churn, capsys, "approve", "2", "--reason", "better recall", "--wait")
    assert code == 0, err
    after_canary = as_json(churn, capsys, "lineage")
    assert after_canary["Endpoint"]["Name"] == "churn-endpoint"
    assert after_canary["Version"]["Arn"] == churn.world.pending_version_arn
    assert after_canary["Approval"]["Status"] == "Approved"
    assert after_canary["Approval"]["Description"] == "better recall"
    assert after_canary["Approval"]["By"] and after_canary["Approval"]["At"]
    assert len(after_canary["Approvals"]) == 1
    assert [d["outcome"] for d in after_canary["Deployments"]] == ["Deployed"]
    assert after_canary["Metrics"]["accuracy"] > 0.5
    bucket = churn.stack.outputs["ArtifactBucketName"]
    data = churn.client("s3").get_object(Bucket=bucket, Key="pipeline/data/churn.csv")["Body"].read()
    archive = churn.client("s3").get_object(Bucket=bucket, Key="pipeline/code/sourcedir.tar.gz")["Body"].read()
    assert after_canary["Data"]["Sha256"] == hashlib.sha256(data).hexdigest()
    assert after_canary["Code"]["Sha256"] == hashlib.sha256(archive).hexdigest()
    assert after_canary["TrainingJob"]["HyperParameters"] == {
        "learning-rate": "0.05",
        "max-depth": "4",
        "max-iter": "150",
    }

    code, out, err = mlops(churn, capsys, "rollback", "--reason", "complaints", "--wait")
    assert code == 0, err
    assert "rollback to version 1 from 2" in out and "ended SUCCEEDED RolledBack" in out
    after_rollback = as_json(churn, capsys, "lineage")
    assert after_rollback["Version"]["Arn"] == churn.world.live_version_arn
    assert [r["direction"] for r in after_rollback["Rollbacks"]] == ["to"]
    assert [r["direction"] for r in as_json(churn, capsys, "lineage", "2")["Rollbacks"]] == ["away"]

    code, out, err = mlops(churn, capsys, "retrain", "--reason", "new data arrived", "--wait")
    assert code == 0, err
    assert "ended SUCCEEDED Registered" in out
    registered = re.search(r"version (\d+) registered", out)
    assert registered, out
    made = as_json(churn, capsys, "lineage", registered.group(1))
    assert made["PipelineRun"]["Arn"].startswith("arn:aws:sagemaker:us-east-1:123456789012:pipeline/churn-pipeline/")
    assert [m["reason"] for m in made["MadeBy"]] == ["new data arrived"]
    assert made["Data"]["Uri"] == f"s3://{bucket}/pipeline/data/churn.csv"
    assert made["Data"]["Sha256"] == hashlib.sha256(data).hexdigest()
    assert made["Code"]["Sha256"] == hashlib.sha256(archive).hexdigest()
    assert made["TrainingJob"]["Name"] and made["TrainingJob"]["HyperParameters"]["max-iter"] == "150"
    assert made["Approval"]["Status"] == "PendingManualApproval"

    code, _, err = mlops(churn, capsys, "approve", registered.group(1), "--reason", "retrained on new data", "--wait")
    assert code == 0, err
    live_now = as_json(churn, capsys, "lineage")
    assert live_now["Version"]["Number"] == registered.group(1)
    assert (live_now["Data"], live_now["Code"]) == (made["Data"], made["Code"])
    assert live_now["Approval"]["Description"] == "retrained on new data"
    assert [m["reason"] for m in live_now["MadeBy"]] == ["new data arrived"]

    newest_first = [(e["kind"], e.get("outcome")) for e in as_json(churn, capsys, "history", "-n", "6")]
    assert newest_first == [
        ("deployment", "Deployed"),
        ("approval", None),
        ("retrain", "Registered"),
        ("rollback", "RolledBack"),
        ("deployment", "Deployed"),
        ("approval", None),
    ]


# (argv, what the error says): each refused with exit code 2, nothing started or changed
BAD_INPUT = [
    (["approve", "99", "--reason", "x"], "churn-models has no version 99"),
    (["approve", "two", "--reason", "x"], "is not a version"),
    (["approve", "1", "--reason", "x"], "version 1 is Approved already"),
    (["approve", "2", "--reason", "   "], "--reason must say why"),
    (
        ["approve", "arn:aws:sagemaker:us-east-1:123456789012:model-package/other/2", "--reason", "x"],
        "not a version of churn-models",
    ),
    (["reject", "2", "--reason", "x" * 1001], "at most 1000"),
    (["rollback", "--to", "2", "--reason", "x"], "version 2 is PendingManualApproval"),
    (["rollback", "--to", "1", "--reason", "x"], "version 1 is live already"),
    (["abort", "--reason", "x"], "no canary or shadow in progress"),
    (["history", "--kind", "nonsense"], "no kind 'nonsense'"),
    (["--project", "fraud", "status"], "no project fraud in us-east-1 (projects found: churn)"),
    (["status", "--stack", "nowhere"], "no stack nowhere"),
]


def test_bad_input_is_refused_clearly_and_starts_nothing(churn: SandboxWorld, capsys: Any) -> None:
    before = (all_executions(churn), statuses(churn))
    for argv, message in BAD_INPUT:
        code, out, err = mlops(churn, capsys, *argv)
        assert (code, message in err, err.startswith("mlops: ")) == (2, True, True), (argv, out, err)
    churn.sandbox.settle()
    assert (all_executions(churn), statuses(churn)) == before


def test_watch_started_right_after_an_approval_waits_for_its_deployment(churn: SandboxWorld, capsys: Any) -> None:
    """The approval's deployment starts from the registry's event: watch, started first, waits for it."""
    sagemaker = churn.client("sagemaker")

    def approve_soon() -> None:
        time.sleep(0.5)
        sagemaker.update_model_package(ModelPackageArn=churn.world.pending_version_arn, ModelApprovalStatus="Approved")

    threading.Thread(target=approve_soon, daemon=True).start()
    code, out, err = mlops(churn, capsys, "watch", "--interval", "0.2", "--start-wait", "20")
    assert code == 0, err
    assert out.startswith("--- ") and "Deploying:   nothing in progress" in out.split("--- ")[1]
    assert re.search(r"=== approved-v2-\w+: SUCCEEDED Deployed", out), out[-2000:]


def test_a_batch_project_shows_its_live_model_runs_and_lineage(sandbox: Any, capsys: Any) -> None:
    from tests.conftest import seeded
    from tests.test_batch import BATCH, customers, put_input

    batch = seeded(sandbox, **BATCH)
    found = as_json(batch, capsys, "status")
    assert found["Kind"] == "Batch" and found["Live"]["Version"] == "1"
    assert found["Serving"] == {"Kind": "Batch"}
    code, out, err = mlops(batch, capsys, "status")
    assert code == 0, err
    assert re.search(r"Live:        version 1 on churn-endpoint \(variant \S+, model \S+", out), out

    put_input(batch, "monday.csv", customers(rows=300))
    runs = as_json(batch, capsys, "history", "--kind", "batch")
    assert [(r["outcome"], r["input_url"].rsplit("/", 1)[-1]) for r in runs] == [("Scored", "monday.csv")]

    lineage = as_json(batch, capsys, "lineage")
    assert "Endpoint" not in lineage
    assert lineage["Model"]["Name"] == found["Live"]["EndpointConfigName"]
    assert lineage["Version"]["Arn"] == batch.world.live_version_arn


def test_rejecting_the_live_version_rolls_it_back(churn: SandboxWorld, capsys: Any) -> None:
    code, _, err = mlops(churn, capsys, "approve", "2", "--reason", "ship it", "--wait")
    assert code == 0, err
    code, out, err = mlops(churn, capsys, "reject", "2", "--reason", "wrong answers for new customers", "--wait")
    assert code == 0, err
    assert "version 2: Approved -> Rejected (wrong answers for new customers)" in out
    assert re.search(r"it was live: rollback workflow arn:aws:states:.*:execution:churn-rollback:", out), out
    assert "ended SUCCEEDED RolledBack" in out
    assert churn.live_model_package() == churn.world.live_version_arn
    code, _, err = mlops(churn, capsys, "reject", "2", "--reason", "again")
    assert code == 2 and "version 2 is Rejected already" in err


def test_status_shows_a_shadow_and_abort_ends_it(sandbox: Any, capsys: Any) -> None:
    from tests.conftest import seeded
    from tests.test_shadow_deployments import SHADOW_STACK

    churn = seeded(sandbox, **{**SHADOW_STACK, "ShadowSeconds": "600000"})  # 10 minutes here: the abort ends it
    code, _, err = mlops(churn, capsys, "approve", "2", "--reason", "compare it first")
    assert code == 0, err
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        found = as_json(churn, capsys, "status")
        if (found["Deployment"] or {}).get("Bake"):
            break
        time.sleep(0.1)
    else:
        pytest.fail("the shadow never started")
    deploying = found["Deployment"]
    assert (deploying["Strategy"], deploying["CandidateVariant"]) == ("shadow", "ShadowGreen")
    assert found["Serving"]["ShadowVariants"] == [{"Variant": "ShadowGreen"}]
    assert [g["Alarm"] for g in deploying["Guards"]] == [
        "churn-canary-5xx-ShadowGreen",
        "churn-canary-latency-ShadowGreen",
    ]
    code, out, _ = mlops(churn, capsys, "status")
    assert "Deploying:   version 2 by shadow" in out and "(shadow: copies of the live requests)" in out
    started = time.monotonic()
    code, out, err = mlops(churn, capsys, "abort", "--reason", "not today", "--wait")
    assert "its bake was ended now" in out, err
    assert time.monotonic() - started < 60  # not the shadow's ten minutes
    assert churn.live_model_package() == churn.world.live_version_arn
    assert as_json(churn, capsys, "status")["Deployment"] is None
