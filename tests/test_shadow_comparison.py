"""The shadow's comparison (mlops.shadows): capture records read, paired on the same requests, judged; the plan
of a shadow deployment; the drift monitor kept to what users were answered."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from moto import mock_aws

from mlops.analysis import VariantStats
from mlops.canary import plan_deployment
from mlops.captures import capture_files
from mlops.shadows import Answer, ShadowThresholds, compare, judge, pair, parse_capture_line, report, summary

# Two records as SageMaker writes them, verbatim from the SageMaker developer guide ("View captured data": "a
# response sample taken from a real-time endpoint that we invoked using csv/text data"), features shortened.
DOCUMENTED_RECORDS = [
    '{"captureData":{"endpointInput":{"observedContentType":"text/csv","mode":"INPUT",'
    '"data":"69,0,153.7,109,194.0,105,256.1,114,14.1,6,1,0\\n","encoding":"CSV"},"endpointOutput":'
    '{"observedContentType":"text/csv; charset=utf-8","mode":"OUTPUT","data":"0.0254181120544672","encoding":"CSV"}},'
    '"eventMetadata":{"eventId":"aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee","inferenceTime":"2022-02-14T17:25:49Z"},'
    '"eventVersion":"0"}',
    '{"captureData":{"endpointInput":{"observedContentType":"text/csv","mode":"INPUT",'
    '"data":"94,23,197.1,125,214.5,136,282.2,103,9.5,5,4,0\\n","encoding":"CSV"},"endpointOutput":'
    '{"observedContentType":"text/csv; charset=utf-8","mode":"OUTPUT","data":"0.07675473392009735","encoding":"CSV"}},'
    '"eventMetadata":{"eventId":"aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee","inferenceTime":"2022-02-14T17:25:49Z"},'
    '"eventVersion":"0"}',
]
T0 = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
THRESHOLDS = ShadowThresholds(
    min_compared=10, min_agreement=0.95, max_mean_absolute_difference=0.05, error_rate_margin=0.01, latency_factor=1.5
)
HEALTHY = VariantStats(invocations=100, errors=0, latency_us=20_000)


def answer(request: str, seconds: float, *probabilities: float) -> Answer:
    return Answer(request=request, at=T0 + timedelta(seconds=seconds), probabilities=tuple(probabilities))


def test_documented_capture_records_are_read_as_request_time_and_probability() -> None:
    first, second = (parse_capture_line(line) for line in DOCUMENTED_RECORDS)

    assert first == Answer(
        "69,0,153.7,109,194.0,105,256.1,114,14.1,6,1,0\n",
        datetime(2022, 2, 14, 17, 25, 49, tzinfo=UTC),
        (0.0254181120544672,),
    )
    assert second is not None and second.probabilities == (0.07675473392009735,)
    assert parse_capture_line('{"captureData": {"endpointInput": {"data": "1"}}}') is None  # no answer: not compared
    assert parse_capture_line("not json") is None


def test_a_shadow_copy_pairs_with_the_live_answer_to_the_same_request_nearest_in_time() -> None:
    live = [answer("a", 0, 0.1), answer("b", 1, 0.9), answer("a", 50, 0.1), answer("c", 2, 0.5)]
    shadow = [answer("a", 49.5, 0.2), answer("b", 1.2, 0.8), answer("d", 1, 0.3), answer("c", 500, 0.5)]

    pairs = pair(live, shadow, timedelta(seconds=60))

    assert {(mine.request, mine.at, theirs.at) for mine, theirs in pairs} == {
        ("a", T0 + timedelta(seconds=50), T0 + timedelta(seconds=49.5)),  # the nearer of the two "a"
        ("b", T0 + timedelta(seconds=1), T0 + timedelta(seconds=1.2)),
    }  # "d" was never answered live; "c"'s copy is too far in time from the only "c"


def test_each_live_answer_is_paired_once() -> None:
    live = [answer("a", 0, 0.1)]
    shadow = [answer("a", 0.1, 0.1), answer("a", 0.2, 0.1)]

    assert len(pair(live, shadow, timedelta(seconds=60))) == 1


def test_agreement_counts_decisions_at_the_threshold_and_keeps_a_few_disagreements() -> None:
    pairs = [(answer(f"r{i}", i, 0.2), answer(f"r{i}", i, 0.3)) for i in range(6)]
    pairs += [(answer(f"x{i}", i, 0.6), answer(f"x{i}", i, 0.4)) for i in range(4)]

    comparison = compare(pairs, threshold=0.5)

    assert comparison.compared == 10
    assert comparison.same_decision == 6
    assert comparison.mean_absolute_difference == pytest.approx(0.14)
    assert [e["request"] for e in comparison.examples] == ["x0", "x1", "x2"]  # three examples, not all four


def test_an_agreeing_shadow_passes_with_its_figures() -> None:
    comparison = compare([(answer(f"r{i}", i, 0.7), answer(f"r{i}", i, 0.71)) for i in range(20)], 0.5)

    verdict, reason = judge(comparison, HEALTHY, HEALTHY, THRESHOLDS)

    assert verdict == "pass"
    assert "20 compared, 100.0% same decision" in reason and "latency x1.00 of live" in reason


def test_a_disagreeing_shadow_fails_with_the_agreement_in_the_reason() -> None:
    comparison = compare([(answer(f"r{i}", i, 0.7), answer(f"r{i}", i, 0.3)) for i in range(20)], 0.5)

    verdict, reason = judge(comparison, HEALTHY, HEALTHY, THRESHOLDS)
    result = report(verdict, reason, comparison, HEALTHY, HEALTHY)

    assert verdict == "fail"
    assert "agrees too little" in reason and "0.0% same decision" in reason
    assert result["Agreement"] == 0.0 and len(result["Disagreements"]) == 3
    assert "live [0.7] vs candidate [0.3]" in summary(result)


def test_probabilities_too_far_apart_fail_even_with_the_same_decisions() -> None:
    comparison = compare([(answer(f"r{i}", i, 0.9), answer(f"r{i}", i, 0.6)) for i in range(20)], 0.5)

    verdict, reason = judge(comparison, HEALTHY, HEALTHY, THRESHOLDS)

    assert verdict == "fail" and "differ too much" in reason


def test_requests_the_shadow_failed_count_against_it() -> None:
    comparison = compare([(answer(f"r{i}", i, 0.7), answer(f"r{i}", i, 0.7)) for i in range(20)], 0.5)
    failing = VariantStats(invocations=40, errors=20, latency_us=20_000)

    verdict, reason = judge(comparison, failing, HEALTHY, THRESHOLDS)
    result = report(verdict, reason, comparison, failing, HEALTHY)

    assert verdict == "fail" and "5XX rate is too high" in reason
    assert result["Agreement"] == 0.5 and result["FailedRequests"] == 20


def test_a_slow_shadow_fails_on_its_latency_ratio() -> None:
    comparison = compare([(answer(f"r{i}", i, 0.7), answer(f"r{i}", i, 0.7)) for i in range(20)], 0.5)
    slow = VariantStats(invocations=20, errors=0, latency_us=60_000)

    verdict, reason = judge(comparison, slow, HEALTHY, THRESHOLDS)

    assert verdict == "fail" and "latency x3.00 of live" in reason


def test_too_few_compared_requests_is_inconclusive_never_a_pass() -> None:
    comparison = compare([(answer(f"r{i}", i, 0.7), answer(f"r{i}", i, 0.7)) for i in range(9)], 0.5)

    verdict, reason = judge(comparison, HEALTHY, HEALTHY, THRESHOLDS)

    assert verdict == "inconclusive" and "too few compared requests (10 needed)" in reason


LIVE_ENDPOINT = {
    "EndpointConfigName": "churn-v1-aaaa",
    "ProductionVariants": [{"VariantName": "Blue", "CurrentWeight": 1.0, "CurrentInstanceCount": 2}],
}
LIVE_CONFIG = {
    "ProductionVariants": [
        {"VariantName": "Blue", "ModelName": "churn-v1-aaaa", "InstanceType": "ml.m5.large", "InitialInstanceCount": 1}
    ]
}


def shadow_plan(**overrides: object) -> dict[str, object]:
    arguments: dict[str, object] = {
        "candidate_arn": "arn:aws:sagemaker:us-east-1:123456789012:model-package/churn-models/2",
        "candidate_version": 2,
        "resource_name": "churn-v2-bbbb",
        "endpoint": LIVE_ENDPOINT,
        "config": LIVE_CONFIG,
        "live_package_arn": "arn:aws:sagemaker:us-east-1:123456789012:model-package/churn-models/1",
        "steps": [10, 50, 100],
        "instance_type": "ml.m5.large",
        "instance_count": 1,
        "strategy": "Shadow",
        "shadow_percentage": 30,
    }
    arguments.update(overrides)
    return plan_deployment(**arguments).as_dict()  # type: ignore[arg-type]


def test_a_shadow_plan_keeps_the_live_variant_alone_in_production_and_copies_the_sampled_share() -> None:
    plan = shadow_plan()

    assert plan["Strategy"] == "Shadow" and plan["ShadowVariant"] == "ShadowGreen"
    [live] = plan["ShadowLiveVariants"]
    assert (live["VariantName"], live["InitialVariantWeight"], live["InitialInstanceCount"]) == ("Blue", 1.0, 2)
    [shadow] = plan["ShadowVariants"]
    assert (shadow["VariantName"], shadow["ModelName"], shadow["InitialVariantWeight"]) == (
        "ShadowGreen",
        "churn-v2-bbbb",
        0.3,
    )
    assert [step["Percent"] for step in plan["Steps"]] == [10, 50, 100]  # then the canary


def test_without_the_canary_a_passed_shadow_takes_all_traffic_in_one_watched_step() -> None:
    assert [step["Percent"] for step in shadow_plan(shadow_then_canary=False)["Steps"]] == [100]


def test_a_first_deployment_has_nothing_to_shadow() -> None:
    plan = shadow_plan(endpoint=None, config=None, live_package_arn=None)

    assert plan["Kind"] == "First" and plan["Strategy"] == "Canary" and plan["ShadowVariants"] == []


@mock_aws
def test_the_drift_monitor_reads_no_shadow_variant() -> None:
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="artifacts")
    now = datetime.now(UTC)
    hour = now.strftime("%Y/%m/%d/%H")
    for variant in ("Blue", "Green", "ShadowGreen"):
        s3.put_object(Bucket="artifacts", Key=f"datacapture/churn-endpoint/{variant}/{hour}/a.jsonl", Body=b"{}")

    keys = list(capture_files(s3, "artifacts", "churn-endpoint", now, lookback_hours=1))

    assert sorted(key.split("/")[2] for key in keys) == ["Blue", "Green"]
    assert json.loads(s3.get_object(Bucket="artifacts", Key=keys[0])["Body"].read()) == {}
