"""The monitor in the sandbox: ground truth joined to captured predictions -> model quality, bias, attribution ->
the <project>-drift-quality-... alarms -> a retrain; the bias alarms; a run that dies mid-way.

Labels are written as SageMaker Model Monitor's ground-truth records (Model Monitor developer guide, "Ingest Ground
Truth labels and merge them with predictions"), naming the clients' InferenceIds.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pipeline import dataset
from sandbox import faults
from sandbox.core import Sandbox
from tests.conftest import SandboxWorld, seeded


def world(sandbox: Sandbox) -> SandboxWorld:
    return seeded(sandbox, BakeSeconds="60", RetentionSeconds="60", MinCandidateInvocations="0")


def send_customers(churn: SandboxWorld, records: list[dict[str, object]], prefix: str) -> dict[str, tuple[float, int]]:
    """One request per customer, each with its InferenceId: {id: (the churn probability answered, true label)}."""
    runtime = churn.client("sagemaker-runtime")
    answered = {}
    for i, record in enumerate(records):
        body = dataset.to_csv([record], header=False, label=False)
        response = runtime.invoke_endpoint(
            EndpointName=churn.stack.endpoint_name, ContentType="text/csv", Body=body, InferenceId=f"{prefix}-{i}"
        )
        answered[f"{prefix}-{i}"] = (float(response["Body"].read().decode().strip()), int(str(record[dataset.LABEL])))
    return answered


def upload_labels(churn: SandboxWorld, labels: dict[str, int], name: str) -> str:
    hour = datetime.now(UTC).strftime("%Y/%m/%d/%H")
    key = f"groundtruth/{hour}/{name}.jsonl"
    lines = [
        json.dumps(
            {
                "groundTruthData": {"data": str(v), "encoding": "CSV"},
                "eventMetadata": {"eventId": k},
                "eventVersion": "0",
            }
        )
        for k, v in labels.items()
    ]
    churn.client("s3").put_object(
        Bucket=churn.stack.outputs["ArtifactBucketName"], Key=key, Body=("\n".join(lines) + "\n").encode()
    )
    return key


def figures(churn: SandboxWorld, *names: str) -> dict[str, list[float]]:
    now = datetime.now(UTC)
    found = {}
    for name in names:
        stats = churn.client("cloudwatch").get_metric_statistics(
            Namespace="MLOps/churn/Drift",
            MetricName=name,
            Dimensions=[{"Name": "EndpointName", "Value": churn.stack.endpoint_name}],
            StartTime=now - timedelta(hours=1),
            EndTime=now + timedelta(minutes=5),
            Period=60,
            Statistics=["Maximum"],
        )
        found[name] = [point["Maximum"] for point in stats["Datapoints"]]
    return found


def alarm_states(churn: SandboxWorld) -> dict[str, str]:
    alarms = churn.client("cloudwatch").describe_alarms(AlarmNamePrefix="churn-")["MetricAlarms"]
    return {alarm["AlarmName"]: alarm["StateValue"] for alarm in alarms}


def wait_for(churn: SandboxWorld, alarm: str, state: str, seconds: float = 10) -> str:
    deadline = time.monotonic() + seconds
    while alarm_states(churn)[alarm] != state and time.monotonic() < deadline:
        time.sleep(0.05)
    return alarm_states(churn)[alarm]


def test_concept_drift_raises_the_quality_alarm_and_starts_one_retrain_while_data_drift_stays_quiet(
    sandbox: Sandbox,
) -> None:
    churn = world(sandbox)
    customers = dataset.generate(rows=400, seed=41)  # the training population: nothing drifts in the inputs
    answered = send_customers(churn, customers, "concept")
    # the world changed: each customer did the opposite of what the model predicted
    upload_labels(churn, {k: int(p < 0.5) for k, (p, _) in answered.items()}, "labels")

    summary = churn.sandbox.run_drift_monitor("churn")

    quality = summary["GroundTruth"]
    assert quality["Outcome"] == "measured" and quality["Joined"] == 400, quality
    assert quality["Figures"]["Accuracy"] == 0.0 and quality["Figures"]["AccuracyDrop"] > 0.8
    assert summary["DriftScore"] < 0.1, summary  # the inputs look as ever
    churn.sandbox.start_traffic(churn.stack.endpoint_name)  # CloudWatch evaluates the alarms as data arrives
    assert wait_for(churn, "churn-drift-quality-accuracy", "ALARM") == "ALARM"
    assert wait_for(churn, "churn-drift-quality-auc", "ALARM") == "ALARM"
    churn.sandbox.settle(timeout=180)
    assert alarm_states(churn)["churn-drift-score"] != "ALARM"
    retrains = churn.executions("RetrainStateMachineArn")
    assert len(retrains) == 1 and retrains[0]["name"].startswith("drift-churn-drift-quality-"), retrains

    again = churn.sandbox.run_drift_monitor("churn")  # the labels were counted: nothing new
    assert again["GroundTruth"]["Outcome"] == "no-new-labels"


def test_agreeing_labels_leave_quality_ok_and_unbiased_traffic_stays_in_the_bands(sandbox: Sandbox) -> None:
    churn = world(sandbox)
    customers = dataset.generate(rows=600, seed=42)
    answered = send_customers(churn, customers, "fair")
    upload_labels(churn, {k: int(p >= 0.5) for k, (p, _) in answered.items()}, "agreeing")

    summary = churn.sandbox.run_drift_monitor("churn")

    assert summary["GroundTruth"]["Figures"]["Accuracy"] == 1.0
    assert abs(summary["Bias"]["DPPL"]) <= 0.1 and 0.8 <= summary["Bias"]["DI"] <= 1.25, summary["Bias"]
    assert summary["Attribution"]["NDCG"] >= 0.9, summary["Attribution"]
    published = figures(churn, "DPPL", "DI", "AbsDPPL", "AttributionNDCG", "Accuracy", "AccuracyDrop")
    assert all(len(values) == 1 for values in published.values()), published
    churn.sandbox.start_traffic(churn.stack.endpoint_name)
    time.sleep(0.5)
    churn.sandbox.settle()
    states = alarm_states(churn)
    assert {states[n] for n in ("churn-drift-quality-accuracy", "churn-drift-quality-auc")} <= {
        "OK",
        "INSUFFICIENT_DATA",
    }
    assert states["churn-bias-dppl"] != "ALARM" and states["churn-bias-di-low"] != "ALARM"
    assert churn.executions("RetrainStateMachineArn") == []


def test_biased_traffic_goes_outside_the_bands_and_people_are_told_without_a_retrain(sandbox: Sandbox) -> None:
    churn = world(sandbox)
    customers = dataset.grouped_by_risk(dataset.generate(rows=600, seed=43))
    send_customers(churn, customers, "biased")

    summary = churn.sandbox.run_drift_monitor("churn")

    assert summary["Bias"]["DPPL"] > 0.1 and summary["Bias"]["DI"] < 0.8, summary["Bias"]
    churn.sandbox.start_traffic(churn.stack.endpoint_name)
    assert wait_for(churn, "churn-bias-dppl", "ALARM") == "ALARM"
    assert wait_for(churn, "churn-bias-di-low", "ALARM") == "ALARM"
    churn.sandbox.settle()
    assert churn.executions("RetrainStateMachineArn") == []  # bias is for people to decide


@dataclass(frozen=True)
class DieAfter:
    """The monitor's first delivery dies right after its first call of `operation` (the n-th such call)."""

    operation: str
    nth: int = 1

    def verdict(self, call: faults.Call) -> faults.Verdict | None:
        if call.origin != "function" or call.function != "churn-drift-monitor" or call.operation != self.operation:
            return None
        self.seen.append(call)
        return "die" if len(self.seen) == self.nth else None

    @property
    def seen(self) -> list[Any]:
        return SEEN.setdefault(id(self), [])


SEEN: dict[int, list[Any]] = {}


def test_a_run_that_dies_mid_way_loses_or_doubles_no_label(sandbox: Sandbox) -> None:
    churn = world(sandbox)
    answered = send_customers(churn, dataset.generate(rows=300, seed=44), "crash")
    ids = sorted(answered)
    ledger = churn.stack.outputs["LedgerTableName"]
    deaths = [
        DieAfter("GetItem", 2),  # reading the labels (GetItem 1 is the live version, 2 the first label file's claim)
        DieAfter("TransactWriteItems"),  # right after the commit: nothing published
        DieAfter("PutMetricData", 2),  # after publishing the quality figures, before tidying up
    ]
    for n, (death, batch) in enumerate(zip(deaths, [ids[:100], ids[100:200], ids[200:]], strict=True)):
        upload_labels(churn, {k: int(answered[k][0] >= 0.5) for k in batch}, f"batch-{n}")
        with faults.inject(death) as injection:
            died = churn.client("lambda").invoke(FunctionName="churn-drift-monitor", Payload=b"{}")
        assert injection.injected and "FunctionError" in died, death
        churn.sandbox.run_drift_monitor("churn")

    runs = [
        json.loads(item["summary"]["S"])
        for item in churn.client("dynamodb").query(
            TableName=ledger,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :run)",
            ExpressionAttributeValues={":pk": {"S": f"GROUNDTRUTH#{churn.stack.endpoint_name}"}, ":run": {"S": "RUN#"}},
        )["Items"]
    ]
    assert sorted(run["Joined"] for run in runs) == [100, 100, 100], runs
    pending = churn.client("dynamodb").get_item(
        TableName=ledger, Key={"pk": {"S": f"GROUNDTRUTH#{churn.stack.endpoint_name}"}, "sk": {"S": "PENDING"}}
    )["Item"]
    assert pending["published"] == {"BOOL": True}
    assert figures(churn, "Accuracy")["Accuracy"] == [1.0]
