"""`make bench`'s arithmetic: what a request costs in billing units, which requests are the automation's, what a
month of deployments, retrains and drift runs costs, and that it all prints as one table."""

from __future__ import annotations

import json
import threading
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from scripts import bench

KEY = {"pk": {"S": "ENDPOINT#churn-endpoint"}, "sk": {"S": "LOCK"}}


def no_item(table: str, key: dict[str, Any]) -> dict[str, Any]:
    return {}


def item_of(size: int) -> dict[str, Any]:
    """An item of `size` bytes as DynamoDB counts them (names and values)."""
    return {**KEY, "note": {"S": "x" * (size - bench.item_bytes(KEY) - len("note"))}}


def test_writes_are_billed_per_kilobyte_begun() -> None:
    small = bench.billed_request("dynamodb", "PutItem", {"Item": item_of(300)}, {}, no_item)
    large = bench.billed_request("dynamodb", "PutItem", {"Item": item_of(3500)}, {}, no_item)

    assert (small.write_units, large.write_units) == (1, 4)


def test_an_update_is_billed_on_the_item_it_leaves() -> None:
    def grown(table: str, key: dict[str, Any]) -> dict[str, Any]:
        return item_of(2100)

    update = bench.billed_request("dynamodb", "UpdateItem", {"TableName": "ledger", "Key": KEY}, {}, grown)

    assert update.write_units == 3


def test_reads_are_billed_per_4_kb_and_half_when_eventually_consistent() -> None:
    eventually = bench.billed_request("dynamodb", "GetItem", {"Key": KEY}, {"Item": item_of(500)}, no_item)
    strongly = bench.billed_request(
        "dynamodb", "GetItem", {"Key": KEY, "ConsistentRead": True}, {"Item": item_of(500)}, no_item
    )
    missing = bench.billed_request("dynamodb", "GetItem", {"Key": KEY, "ConsistentRead": True}, {}, no_item)
    history = bench.billed_request(
        "dynamodb", "Query", {"ConsistentRead": True}, {"Items": [item_of(1024)] * 10}, no_item
    )

    assert (eventually.read_units, strongly.read_units, missing.read_units, history.read_units) == (0.5, 1, 1, 3)


def test_published_drift_figures_are_one_custom_metric_per_dimension_combination() -> None:
    params = {
        "Namespace": "MLOps/churn/Drift",
        "MetricData": [
            {"MetricName": "FeaturePSI", "Value": 0.1, "Dimensions": [{"Name": "Feature", "Value": "tenure"}]},
            {"MetricName": "FeaturePSI", "Value": 0.2, "Dimensions": [{"Name": "Feature", "Value": "contract"}]},
        ],
    }

    published = bench.billed_request("cloudwatch", "PutMetricData", params, {}, no_item)

    assert published.metrics == (
        "MLOps/churn/Drift/FeaturePSI{Feature=tenure}",
        "MLOps/churn/Drift/FeaturePSI{Feature=contract}",
    )


def test_powertools_metrics_in_the_logs_are_custom_metrics_too() -> None:
    line = json.dumps(
        {
            "_aws": {
                "Timestamp": 0,
                "CloudWatchMetrics": [
                    {
                        "Namespace": "MLOpsAutomation",
                        "Dimensions": [["service"]],
                        "Metrics": [{"Name": "EventsStarted"}],
                    }
                ],
            },
            "service": "approval",
            "EventsStarted": [1.0],
        }
    )

    assert bench.emf_metrics(["START RequestId: 1", line]) == {"MLOpsAutomation/EventsStarted{service=approval}"}


def test_a_retried_task_is_billed_as_one_more_transition() -> None:
    entered = [{"type": "PassStateEntered"}, {"type": "TaskStateEntered"}, {"type": "SucceedStateEntered"}]
    once = [*entered, {"type": "TaskScheduled"}]
    retried = [*entered, {"type": "TaskScheduled"}, {"type": "TaskFailed"}, {"type": "TaskScheduled"}]

    assert (bench.billed_transitions(once), bench.billed_transitions(retried)) == (3, 4)


def test_only_the_automations_requests_are_counted() -> None:
    session = boto3.Session(region_name="us-east-1", aws_access_key_id="bench", aws_secret_access_key="bench")
    meter = bench.Meter()
    meter.install(session)
    dynamodb = session.client("dynamodb")
    stubber = Stubber(dynamodb)
    for _ in range(2):
        stubber.add_response("put_item", {})
    with stubber:
        dynamodb.put_item(TableName="ledger", Item=KEY)  # the main thread: a person, or the bench itself
        workflow = threading.Thread(target=lambda: dynamodb.put_item(TableName="ledger", Item=KEY))
        workflow.start()
        workflow.join()
    meter.uninstall(session)

    assert [(origin, main, request.write_units) for origin, main, request in meter.requests] == [("", False, 1)]


@pytest.mark.parametrize(("schedule", "runs"), [("rate(1 hour)", 720), ("rate(15 minutes)", 2880), ("rate(1 day)", 30)])
def test_the_drift_schedule_sets_the_runs_a_month(schedule: str, runs: int) -> None:
    assert bench.runs_a_month(schedule) == runs


def test_a_cron_schedule_is_refused_rather_than_guessed() -> None:
    with pytest.raises(ValueError, match="rate"):
        bench.runs_a_month("cron(0 * * * ? *)")


def deployment() -> bench.Usage:
    return bench.Usage(
        executions=1,
        transitions=60,
        lambda_requests={"CanaryFunction": 16, "ApprovalFunction": 1},
        write_units=33,
        read_units=23,
        sns_publishes=1,
        custom_events=1,
        metric_hours={"MLOpsAutomation/EventsStarted{service=approval}": 1},
    )


def drift_run() -> bench.Usage:
    return bench.Usage(
        lambda_requests={"DriftMonitorFunction": 1},
        write_units=10,
        read_units=1,
        cloudwatch_requests=1,
        metric_hours={"MLOps/churn/Drift/DriftScore{EndpointName=churn-endpoint}": 1},
    )


def test_a_month_adds_each_run_and_prorates_custom_metrics_by_the_hours_they_have_data() -> None:
    month = bench.Usage().add(deployment(), 30).add(drift_run(), 720)

    assert (month.transitions, month.write_units, month.lambda_requests["DriftMonitorFunction"]) == (1800, 8190, 720)
    assert month.metric_hours == {
        "MLOpsAutomation/EventsStarted{service=approval}": 30,
        "MLOps/churn/Drift/DriftScore{EndpointName=churn-endpoint}": 720,
    }


SETTINGS = {
    "CanaryFunction": bench.FunctionSettings(256, "arm64"),
    "ApprovalFunction": bench.FunctionSettings(256, "arm64"),
    "DriftMonitorFunction": bench.FunctionSettings(1024, "x86_64"),
}


def test_the_monthly_bill_prices_each_count_at_its_list_price() -> None:
    month = bench.Usage().add(deployment(), 30).add(drift_run(), 720)
    seconds = {"CanaryFunction": 0.5, "ApprovalFunction": 0.5, "DriftMonitorFunction": 2.0}

    costs = {cost.item: cost.usd for cost in bench.monthly_costs(month, seconds, SETTINGS, [60, 60, 300, 10])}

    assert costs["Step Functions Standard"] == pytest.approx(1800 * 0.000025)
    assert costs["DynamoDB on-demand"] == pytest.approx(8190 * 0.625e-6 + (690 + 720) * 0.125e-6)
    arm = 510 * 0.25 * 0.5 * 0.0000133334
    x86 = 720 * 1.0 * 2.0 * 0.0000166667
    assert costs["Lambda"] == pytest.approx((510 + 720) * 0.2e-6 + arm + x86)
    assert costs["CloudWatch alarms"] == pytest.approx(3 * 0.10 + 0.30)
    assert costs["CloudWatch metrics"] == pytest.approx((30 / 720 + 1) * 0.30 + 720 * 0.01 / 1000)


def test_everything_prints_as_one_markdown_table_with_its_prices_stated() -> None:
    month = bench.Usage().add(deployment(), 30).add(drift_run(), 720)
    seconds = {"CanaryFunction": 0.5, "ApprovalFunction": 0.5, "DriftMonitorFunction": 2.0}
    costs = bench.monthly_costs(month, seconds, SETTINGS, [60])
    package = bench.Package(raw_bytes=120_000, zipped_bytes=46_000, digest="same")
    results = {
        "machine": {"date": "2026-11-26", "python": "3.11.9", "cpus": 2, "runs": 7},
        "import_boto3_seconds": 0.15,
        "cold_start_seconds": {"CanaryFunction": 0.6, "DriftMonitorFunction": 0.7},
        "packages": {"CanaryFunction": package, "DriftMonitorFunction": package},
        "functions": SETTINGS,
        "paths": {bench.DEPLOYMENT_PATH: deployment()},
        "alarm_to_rollback_seconds": 0.19,
        "alarm_to_rollback_transitions": 6,
        "pipeline_seconds": 2.3,
        "pipeline_steps": {"Train": 1.1},
        "definition_seconds": None,
        "drift": {"records": 1_000_000, "seconds": 3.0, "file_mb": 82, "max_rss_mb": 13},
        "drift_run": drift_run(),
        "drift_run_summary": {"Records": 1000, "Files": 9},
        "month": month,
        "costs": costs,
        "deployments": 30,
        "retrains": 0,
        "drift_runs": 720,
        "drift_schedule": "rate(1 hour)",
        "monitor_jobs_usd": 6.0,
    }

    table = bench.render(results)

    rows = [line for line in table.splitlines() if line.startswith("|")]
    assert [line for line in table.splitlines() if line.startswith("|---")] == ["|---|---|---|---|"]
    assert all(row.count("|") == 5 for row in rows)
    assert "| function | CanaryFunction | 600 ms, 4.00x import boto3 |" in table
    assert "one package for all 2 functions; 256 MB, arm64" in table
    assert f"| workflow path | {bench.DEPLOYMENT_PATH} | 60 state transitions |" in table
    assert f"| monthly cost | **total** | **{bench.usd(sum(cost.usd for cost in costs))}** |" in table
    assert "us-east-1 list prices, read 2026-11-26" in table
    run = "| drift monitor | one scheduled run, in the sandbox | 1,000 records in 9 capture files, 0 labels joined |"
    assert run in table
    assert "not re-checked" in table
