"""Decisions of the serverless and batch serving kinds, without AWS: plans, job requests, one batch's figures."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from pathlib import Path

import botocore.session
import pytest
from botocore.validate import ParamValidator

from mlops import transform_jobs
from mlops.batch_monitoring import measure_output
from mlops.canary import (
    InvalidServerlessConfig,
    plan_batch,
    plan_batch_restore,
    plan_restore,
    serverless_config,
)
from mlops.monitoring import LiveVersion, MonitorConfig
from tests.test_canary_decisions import V1, V2, config, endpoint, plan

ROOT = Path(__file__).resolve().parent.parent
SERVERLESS = {"MemorySizeInMB": 2048, "MaxConcurrency": 20}


def serverless_endpoint_config(*variants: str) -> dict[str, object]:
    return {
        "ProductionVariants": [
            {"VariantName": v, "ModelName": f"model-{v}", "ServerlessConfig": dict(SERVERLESS)} for v in variants
        ]
    }


# ---------------------------------------------------------------- serverless
@pytest.mark.parametrize(
    ("memory", "concurrency", "provisioned", "problem"),
    [
        (1000, 20, 0, "ServerlessMemorySizeInMB 1000"),
        (1536, 20, 0, "ServerlessMemorySizeInMB 1536"),
        (7168, 20, 0, "ServerlessMemorySizeInMB 7168"),
        (2048, 0, 0, "ServerlessMaxConcurrency 0"),
        (2048, 201, 0, "ServerlessMaxConcurrency 201"),
        (2048, 10, 11, "ServerlessProvisionedConcurrency 11 must be 1-10"),
    ],
)
def test_serverless_configs_outside_sagemakers_limits_are_refused(
    memory: int, concurrency: int, provisioned: int, problem: str
) -> None:
    with pytest.raises(InvalidServerlessConfig, match=problem):
        serverless_config(memory, concurrency, provisioned)


def test_a_serverless_config_is_what_create_endpoint_config_takes() -> None:
    assert serverless_config(6144, 200, 200) == {
        "MemorySizeInMB": 6144,
        "MaxConcurrency": 200,
        "ProvisionedConcurrency": 200,
    }
    assert serverless_config(1024, 1) == {"MemorySizeInMB": 1024, "MaxConcurrency": 1}


def test_a_first_serverless_deployment_has_no_instances() -> None:
    first = plan(endpoint=None, config=None, serverless=SERVERLESS)

    assert first.Kind == "First"
    [variant] = first.ProductionVariants
    assert variant == {
        "VariantName": "Blue",
        "ModelName": "churn-v2-abc",
        "ServerlessConfig": SERVERLESS,
        "InitialVariantWeight": 1.0,
    }


def test_a_serverless_candidate_replaces_the_live_variant_in_one_step_without_weights() -> None:
    replace = plan(config=serverless_endpoint_config("Blue"), serverless=SERVERLESS)

    assert replace.Kind == "Replace"
    assert (replace.CandidateVariant, replace.LiveVariant, replace.PreviousConfigName) == (
        "Green",
        "Blue",
        "churn-v1-x",
    )
    assert [v["VariantName"] for v in replace.ProductionVariants] == ["Green"]  # one variant: AWS allows no more
    assert replace.Steps == [{"Index": 0, "Percent": 100}]
    assert replace.RollbackWeights == [] and replace.KmsKeyId == ""


@pytest.mark.parametrize(
    ("live", "serverless", "cause"),
    [
        (config("Blue"), SERVERLESS, "cannot update an instance-based endpoint to a serverless one"),
        (serverless_endpoint_config("Blue"), None, "could never be rolled back to serverless"),
    ],
)
def test_an_endpoint_of_the_other_kind_is_left_alone(
    live: dict[str, object], serverless: dict[str, int] | None, cause: str
) -> None:
    refused = plan(config=live, serverless=serverless)

    assert refused.Kind == "CannotServe"
    assert cause in refused.Reason and "nothing was changed" in refused.Reason
    assert refused.ProductionVariants == []


def test_a_serverless_project_takes_no_shadow_even_from_a_manual_start() -> None:
    refused = plan(config=serverless_endpoint_config("Blue"), serverless=SERVERLESS, strategy="Shadow")

    assert refused.Kind == "CannotServe" and "no shadow variants" in refused.Reason


def test_restoring_a_named_version_on_a_serverless_endpoint_stays_serverless() -> None:
    restored = plan_restore(
        live={"model_package_arn": V2},
        endpoint={**endpoint("churn-v2-x", {"Green": 1.0}), "EndpointName": "churn-endpoint"},
        config=serverless_endpoint_config("Green"),
        target_arn=V1,
        target_status="Approved",
        resource_name="churn-restore-1",
        instance_type="ml.m5.large",
        instance_count=1,
        serverless=SERVERLESS,
    )

    assert restored["Kind"] == "Version"
    assert restored["ProductionVariants"] == [
        {
            "VariantName": "Blue",
            "ModelName": "churn-restore-1",
            "ServerlessConfig": SERVERLESS,
            "InitialVariantWeight": 1.0,
        }
    ]


# ---------------------------------------------------------------- batch: the live model
def test_a_batch_approval_makes_the_candidates_model_live() -> None:
    first = plan_batch(candidate_arn=V1, candidate_version=1, resource_name="churn-v1-a", live=None)
    assert (first.Kind, first.PreviousConfigName, first.LiveModelPackageArn) == ("Batch", "none", "none")

    live = {"model_package_arn": V1, "endpoint_config_name": "churn-v1-a"}
    second = plan_batch(candidate_arn=V2, candidate_version=2, resource_name="churn-v2-b", live=live)
    assert (second.Kind, second.PreviousConfigName, second.LiveModelPackageArn) == ("Batch", "churn-v1-a", V1)
    assert plan_batch(candidate_arn=V1, candidate_version=1, resource_name="x", live=live).Kind == "AlreadyLive"
    newer = {"model_package_arn": V2, "endpoint_config_name": "churn-v2-b"}
    late = plan_batch(candidate_arn=V1, candidate_version=1, resource_name="x", live=newer, newer_approved_live=2)
    assert late.Kind == "Superseded"


def test_a_batch_rollback_makes_a_new_model_of_the_previous_version() -> None:
    live = {"model_package_arn": V2, "endpoint_config_name": "churn-v2-b", "previous_model_package_arn": V1}

    back = plan_batch_restore(live=live, target_arn=None, target_status=None, resource_name="churn-restore-1")
    assert (back["Kind"], back["ModelPackageArn"], back["ConfigName"], back["FromConfigName"]) == (
        "Version",
        V1,
        "churn-restore-1",
        "churn-v2-b",
    )
    first_only = {"model_package_arn": V1, "endpoint_config_name": "churn-v1-a", "previous_model_package_arn": "none"}
    assert plan_batch_restore(live=first_only, target_arn=None, target_status=None, resource_name="r")["Kind"] == (
        "NoPreviousVersion"
    )
    assert plan_batch_restore(live=live, target_arn=V1, target_status="Rejected", resource_name="r")["Kind"] == (
        "NotApproved"
    )
    assert plan_batch_restore(live=None, target_arn=None, target_status=None, resource_name="r")["Kind"] == (
        "NoPreviousVersion"
    )


# ---------------------------------------------------------------- batch: the transform job
URL = "s3://churn-artifacts-123456789012-us-east-1/batch/input/2026/12/customers.csv"


def test_one_object_version_names_one_run_and_one_job_and_a_manual_start_its_own() -> None:
    version = transform_jobs.object_version("v-1", "etag", "seq")
    assert transform_jobs.run_name(URL, version) == transform_jobs.run_name(URL, "v-1")
    assert transform_jobs.run_name(URL, "v-1") != transform_jobs.run_name(URL, "v-2")
    assert len(transform_jobs.run_name(URL, "v-1")) <= 80  # Step Functions' execution names
    job = transform_jobs.job_name("churn-abcdefghijklmno", URL, "v-1", "arn:execution:a")
    assert job == transform_jobs.job_name("churn-abcdefghijklmno", URL, "v-1", "arn:execution:b")
    assert len(job) <= 63 and job.startswith("churn-abcdefghijklmno-batch-")
    manual = transform_jobs.job_name("churn", URL, "none", "arn:execution:a")
    assert manual != transform_jobs.job_name("churn", URL, "none", "arn:execution:b")
    # an unversioned bucket: the ETag and the sequencer tell two uploads of the key apart
    assert transform_jobs.object_version(None, "e1", "s1") != transform_jobs.object_version(None, "e1", "s2")


def test_the_output_is_named_as_sagemaker_names_it() -> None:
    assert transform_jobs.output_url("bucket", "churn-batch-1", "batch/input/2026/12/customers.csv") == (
        "s3://bucket/batch/output/churn-batch-1/customers.csv.out"
    )


@pytest.mark.parametrize(("columns", "expected"), [(7, ("$", False)), (8, ("$[0,1,2,3,4,5,6]", True))])
def test_a_last_label_column_is_kept_from_the_model_but_joined_to_the_output(
    columns: int, expected: tuple[str, bool]
) -> None:
    assert transform_jobs.input_filter(columns, 7, URL) == expected


@pytest.mark.parametrize("columns", [1, 6, 9])
def test_a_file_of_another_width_is_refused_with_the_widths_it_could_have(columns: int) -> None:
    with pytest.raises(transform_jobs.InvalidBatchInput, match=f"has {columns} columns; the live version takes 7"):
        transform_jobs.input_filter(columns, 7, URL)


@pytest.mark.parametrize("url", ["https://bucket/key.csv", "s3://bucket", "s3://bucket/", "s3://bucket/dir/"])
def test_an_input_url_naming_no_object_is_refused(url: str) -> None:
    with pytest.raises(transform_jobs.InvalidBatchInput):
        transform_jobs.split_url(url)


@pytest.mark.parametrize("kms", ["", "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"])
def test_the_job_request_is_valid_for_botocores_model_of_create_transform_job(kms: str) -> None:
    request = transform_jobs.JobRequest("churn", "bucket", "churn-v1-a", "ml.m5.large", 2, kms)
    created = request.create("churn-batch-0123", URL, "$[0,1,2,3,4,5,6]")

    model = botocore.session.get_session().get_service_model("sagemaker")
    report = ParamValidator().validate(created, model.operation_model("CreateTransformJob").input_shape)
    assert not report.has_errors(), report.generate_report()
    assert created["DataProcessing"] == {"InputFilter": "$[0,1,2,3,4,5,6]", "JoinSource": "Input", "OutputFilter": "$"}
    assert created["TransformOutput"]["S3OutputPath"] == "s3://bucket/batch/output/churn-batch-0123/"
    assert created["TransformOutput"].get("KmsKeyId", "") == kms


# ---------------------------------------------------------------- batch: one batch's figures
def _live() -> LiveVersion:
    import json

    from mlops.model_quality import metric_values
    from sandbox.world import trained_model

    model = trained_model()
    baseline, evaluation = json.loads(model.baseline), json.loads(model.evaluation)

    return LiveVersion(arn=V1, baseline=baseline, evaluation=metric_values(evaluation), attributions={})


def _config() -> MonitorConfig:
    return MonitorConfig(
        project="churn",
        endpoint="churn-endpoint",
        bucket="b",
        namespace="MLOps/churn/Drift",
        min_records=100,
        lookback_hours=48,
        reserve_seconds=60,
        quality_min_records=100,
    )


def joined_lines(rows: list[list[str]], labelled: bool) -> list[bytes]:
    """What a transform job with JoinSource Input writes: each input line, then its prediction."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    for row in rows:  # the shipped dataset's rows: the request's columns, then the label
        inputs, label = row[:-1], row[-1]
        prediction = "0.9" if label == "1" else "0.1"
        writer.writerow([*inputs, *([label] if labelled else []), prediction])
    return [line.encode() for line in out.getvalue().splitlines()]


def dataset_rows(limit: int = 500) -> list[list[str]]:
    with (ROOT / "pipeline" / "data" / "churn.csv").open() as handle:
        reader = csv.reader(handle)
        header = next(reader)
        return [row for _, row in zip(range(limit), reader, strict=False)] if header else []


def test_a_batch_like_the_training_data_does_not_drift_and_its_labels_give_its_quality() -> None:
    live = _live()
    order = list(live.baseline.get("feature_order") or live.baseline["features"])
    rows = dataset_rows()
    assert len(rows[0]) == len(order) + 1  # the request's columns, then the label

    summary, data = measure_output(
        joined_lines(rows, labelled=True), _config(), live, labelled=True, moment=datetime.now(UTC)
    )

    assert summary["Records"] == len(rows) and summary["Malformed"] == 0
    assert max(summary["FeaturePSI"].values()) < 0.1  # the inputs are the training data's own
    assert summary["PredictionPSI"] > 0.2  # (the made-up predictions here are all 0.1 or 0.9)
    assert summary["Quality"]["Accuracy"] == 1.0  # the predictions above agree with every label
    names = {d["MetricName"] for d in data}
    assert {"DriftScore", "FeaturePSI", "Accuracy", "AccuracyDrop", "LabelsJoined"} <= names
    assert all(d["Dimensions"][0] == {"Name": "EndpointName", "Value": "churn-endpoint"} for d in data)


def test_a_batch_without_labels_has_no_quality_and_a_line_of_another_width_is_malformed() -> None:
    live = _live()
    lines = [*joined_lines(dataset_rows(200), labelled=False), b"1,2,3"]

    summary, data = measure_output(lines, _config(), live, labelled=False)

    assert (summary["Records"], summary["Malformed"]) == (200, 1)
    assert "Quality" not in summary and "Accuracy" not in {d["MetricName"] for d in data}
