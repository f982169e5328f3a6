"""Shadow variants in the sandbox, as SageMaker documents them (no product workflow involved).

An endpoint config's ShadowProductionVariants are kept and described; the endpoint answers from its production
variant only, copies its share of the requests to the shadow, captures both variants' records and publishes
the shadow's metrics; background traffic sends real requests; the pipeline's FlipLabels trains a version that
disagrees with the others.
"""

from __future__ import annotations

import csv
import io
import json
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from pipeline import dataset, publish
from pipeline.definition import DEFINITION_PATH
from sandbox import patches, world
from sandbox.core import ACCOUNT_ID, REGION, Sandbox
from sandbox.serving import ServedModels

ROLE = f"arn:aws:iam::{ACCOUNT_ID}:role/shadow-tests"
BUCKET = "shadow-tests"
GROUP = "shadow-models"
INSTANCE = {"InstanceType": "ml.m5.large", "InitialInstanceCount": 1}
SERVING_ENVIRONMENT = {"SAGEMAKER_PROGRAM": "inference.py", "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code"}


class Models:
    """A sandbox holding two versions of the churn model (the same trained model), each with a SageMaker model."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        s3 = sandbox.client("s3")
        s3.create_bucket(Bucket=BUCKET)
        s3.put_object(Bucket=BUCKET, Key="models/churn/model.tar.gz", Body=world.trained_model().model_archive)
        self.sagemaker = sandbox.client("sagemaker")
        self.runtime = sandbox.client("sagemaker-runtime")
        self.sagemaker.create_model_package_group(ModelPackageGroupName=GROUP)
        self.live = self.register("live-model")
        self.candidate = self.register("candidate-model")

    def register(self, model_name: str, environment: dict[str, str] | None = None, isolated: bool = False) -> str:
        container = {
            "Image": "sklearn-image",
            "ModelDataUrl": f"s3://{BUCKET}/models/churn/model.tar.gz",
            "Environment": environment or SERVING_ENVIRONMENT,
        }
        arn = str(
            self.sagemaker.create_model_package(
                ModelPackageGroupName=GROUP,
                ModelApprovalStatus="Approved",
                InferenceSpecification={
                    "Containers": [container],
                    "SupportedContentTypes": ["text/csv"],
                    "SupportedResponseMIMETypes": ["text/csv"],
                },
            )["ModelPackageArn"]
        )
        self.sagemaker.create_model(
            ModelName=model_name,
            ExecutionRoleArn=ROLE,
            PrimaryContainer={"ModelPackageName": arn},
            EnableNetworkIsolation=isolated,
        )
        return arn

    def config(
        self,
        *,
        shadow_weight: float | None = 1.0,
        shadow_model: str = "candidate-model",
        capture: str | None = None,
    ) -> str:
        """A config with the live model as its production variant "Live" and, unless shadow_weight is None, the
        candidate as its shadow variant "Shadow"; capture: a prefix of the bucket where every request is captured."""
        name = f"config-{uuid.uuid4().hex[:12]}"
        arguments: dict[str, Any] = {
            "EndpointConfigName": name,
            "ProductionVariants": [
                {"VariantName": "Live", "ModelName": "live-model", **INSTANCE, "InitialVariantWeight": 1.0}
            ],
        }
        if shadow_weight is not None:
            arguments["ShadowProductionVariants"] = [
                {"VariantName": "Shadow", "ModelName": shadow_model, **INSTANCE, "InitialVariantWeight": shadow_weight}
            ]
        if capture:
            arguments["DataCaptureConfig"] = {
                "EnableCapture": True,
                "InitialSamplingPercentage": 100,
                "DestinationS3Uri": f"s3://{BUCKET}/{capture}",
                "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
            }
        self.sagemaker.create_endpoint_config(**arguments)
        return name

    def endpoint(self, config_name: str) -> str:
        name = f"endpoint-{uuid.uuid4().hex[:12]}"
        self.sagemaker.create_endpoint(EndpointName=name, EndpointConfigName=config_name)
        self.wait(name)
        return name

    def wait(self, endpoint_name: str, status: str = "InService") -> dict[str, Any]:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            described = self.sagemaker.describe_endpoint(EndpointName=endpoint_name)
            if described["EndpointStatus"] == status:
                return dict(described)
            time.sleep(0.02)
        raise AssertionError(f"{endpoint_name} never became {status}")

    def invoke(self, endpoint_name: str, body: bytes, **extra: str) -> tuple[str, str]:
        """(the variant named by the answer, the answer)"""
        answer = self.runtime.invoke_endpoint(EndpointName=endpoint_name, ContentType="text/csv", Body=body, **extra)
        return str(answer["InvokedProductionVariant"]), answer["Body"].read().decode()

    def captured(self, prefix: str) -> dict[str, list[dict[str, Any]]]:
        """Every capture record under the prefix, by variant (the path's segment after the endpoint name)."""
        self.sandbox.flush_data_capture()
        s3 = self.sandbox.client("s3")
        records: dict[str, list[dict[str, Any]]] = {}
        listed = s3.list_objects_v2(Bucket=BUCKET, Prefix=f"{prefix}/").get("Contents", [])
        for item in listed:
            _, _endpoint, variant, *_ = item["Key"].split("/")
            body = s3.get_object(Bucket=BUCKET, Key=item["Key"])["Body"].read().decode()
            records.setdefault(variant, []).extend(json.loads(line) for line in body.splitlines() if line)
        return records


@pytest.fixture(scope="module")
def models() -> Iterator[Models]:
    with Sandbox() as sandbox:
        yield Models(sandbox)


@pytest.fixture(autouse=True)
def healthy_versions(models: Models) -> Iterator[None]:
    yield
    models.sandbox.state.behaviours.clear()


def customers(count: int, start: int = 0) -> list[bytes]:
    """Rows of the shipped dataset as a client sends them (no label, no header)."""
    return list(patches.traffic_bodies()[start : start + count])


def probability(answer: str) -> float:
    return float(answer.strip())


# ------------------------------------------------------------------ configs
def test_a_config_keeps_its_shadow_variant_and_describes_it(models: Models) -> None:
    with_shadow = models.config(shadow_weight=0.25)
    without = models.config(shadow_weight=None)

    described = models.sagemaker.describe_endpoint_config(EndpointConfigName=with_shadow)
    assert described["ShadowProductionVariants"] == [
        {
            "VariantName": "Shadow",
            "ModelName": "candidate-model",
            "InstanceType": "ml.m5.large",
            "InitialInstanceCount": 1,
            "InitialVariantWeight": 0.25,
        }
    ]
    assert [v["VariantName"] for v in described["ProductionVariants"]] == ["Live"]
    assert "ShadowProductionVariants" not in models.sagemaker.describe_endpoint_config(EndpointConfigName=without)


def live(name: str = "Live") -> dict[str, Any]:
    return {"VariantName": name, "ModelName": "live-model", **INSTANCE}


def shadow(name: str = "Shadow", **extra: Any) -> dict[str, Any]:
    return {"VariantName": name, "ModelName": "candidate-model", **INSTANCE, **extra}


@pytest.mark.parametrize(
    ("production", "shadows", "reason"),
    [
        pytest.param([live("A"), live("B")], [shadow()], "maximum of one production variant", id="two-production"),
        pytest.param([live()], [shadow("S1"), shadow("S2")], "maximum of one shadow variant", id="two-shadows"),
        pytest.param(
            [
                {
                    "VariantName": "Live",
                    "ModelName": "live-model",
                    "ServerlessConfig": {"MemorySizeInMB": 2048, "MaxConcurrency": 5},
                }
            ],
            [shadow()],
            "serverless",
            id="serverless",
        ),
        pytest.param([live()], [shadow("Live")], "name of the production variant", id="same-name"),
    ],
)
def test_sagemaker_refuses_what_a_shadow_cannot_have(
    models: Models, production: list[dict[str, Any]], shadows: list[dict[str, Any]], reason: str
) -> None:
    name = f"refused-{uuid.uuid4().hex[:8]}"
    with pytest.raises(ClientError) as refused:
        models.sagemaker.create_endpoint_config(
            EndpointConfigName=name, ProductionVariants=production, ShadowProductionVariants=shadows
        )
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert reason in refused.value.response["Error"]["Message"]
    with pytest.raises(ClientError):  # nothing was kept
        models.sagemaker.describe_endpoint_config(EndpointConfigName=name)


# ------------------------------------------------------------------ endpoints
def endpoint_events(models: Models, endpoint_name: str) -> list[str]:
    return [
        event["detail"]["EndpointStatus"]
        for event in models.sandbox.state.emitted_events
        if event.get("detail-type") == "SageMaker Endpoint State Change"
        and event["detail"]["EndpointName"] == endpoint_name
    ]


def test_an_update_to_a_shadow_config_and_back_goes_updating_then_in_service(models: Models) -> None:
    plain, with_shadow = models.config(shadow_weight=None), models.config(shadow_weight=0.5)
    name = models.endpoint(plain)
    assert "ShadowProductionVariants" not in models.sagemaker.describe_endpoint(EndpointName=name)

    models.sagemaker.update_endpoint(EndpointName=name, EndpointConfigName=with_shadow)
    updating = models.sagemaker.describe_endpoint(EndpointName=name)
    if updating["EndpointStatus"] == "Updating":  # (60 ms of compressed provisioning: it may be over already)
        pending = updating["PendingDeploymentSummary"]
        assert pending["EndpointConfigName"] == with_shadow
        assert pending["ShadowProductionVariants"] == [
            {"VariantName": "Shadow", "DesiredInstanceCount": 1, "DesiredWeight": 0.5}
        ]
        assert "ShadowProductionVariants" not in updating  # the previous config serves until InService
    done = models.wait(name)
    assert done["EndpointConfigName"] == with_shadow
    assert done["ShadowProductionVariants"] == [
        {
            "VariantName": "Shadow",
            "CurrentWeight": 0.5,
            "DesiredWeight": 0.5,
            "CurrentInstanceCount": 1,
            "DesiredInstanceCount": 1,
        }
    ]
    assert [v["VariantName"] for v in done["ProductionVariants"]] == ["Live"]

    models.sagemaker.update_endpoint(EndpointName=name, EndpointConfigName=plain)
    time.sleep(0.01)
    back = models.wait(name)
    assert back["EndpointConfigName"] == plain and "ShadowProductionVariants" not in back
    assert endpoint_events(models, name) == [
        "CREATING",
        "IN_SERVICE",
        "UPDATING",
        "IN_SERVICE",
        "UPDATING",
        "IN_SERVICE",
    ]


def test_weights_and_capacities_of_a_shadow_variant_are_not_changed(models: Models) -> None:
    name = models.endpoint(models.config(shadow_weight=0.5))
    with pytest.raises(ClientError) as refused:
        models.sagemaker.update_endpoint_weights_and_capacities(
            EndpointName=name, DesiredWeightsAndCapacities=[{"VariantName": "Shadow", "DesiredWeight": 1.0}]
        )
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert "shadow variant" in refused.value.response["Error"]["Message"]
    assert models.sagemaker.describe_endpoint(EndpointName=name)["ShadowProductionVariants"][0]["DesiredWeight"] == 0.5


def test_a_shadow_whose_container_cannot_start_fails_the_deployment(models: Models) -> None:
    code_on_s3 = {**SERVING_ENVIRONMENT, "SAGEMAKER_SUBMIT_DIRECTORY": f"s3://{BUCKET}/code/sourcedir.tar.gz"}
    models.register("isolated-model", code_on_s3, isolated=True)
    config = models.config(shadow_model="isolated-model")
    name = f"endpoint-{uuid.uuid4().hex[:12]}"
    models.sagemaker.create_endpoint(EndpointName=name, EndpointConfigName=config)

    failed = models.wait(name, "Failed")
    assert "production variant Shadow did not pass the ping health check" in failed["FailureReason"]


# ------------------------------------------------------------------ answers, copies, data capture
@pytest.mark.parametrize("behaviour", [{"error_rate": 1.0}, {"invert": True}], ids=["failing", "inverted"])
def test_every_answer_comes_from_the_production_variant(models: Models, behaviour: dict[str, Any]) -> None:
    reference = models.endpoint(models.config(shadow_weight=None))
    name = models.endpoint(models.config(shadow_weight=1.0))
    models.sandbox.behave(models.candidate, **behaviour)

    for body in customers(25):
        expected = models.invoke(reference, body)
        assert models.invoke(name, body) == expected
        assert expected[0] == "Live"


@pytest.mark.parametrize(("shadow_weight", "share"), [(0.3, 0.3), (2.0, 1.0)])
def test_the_shadow_receives_its_share_of_the_requests(models: Models, shadow_weight: float, share: float) -> None:
    prefix = f"capture-{uuid.uuid4().hex[:8]}"
    name = models.endpoint(models.config(shadow_weight=shadow_weight, capture=prefix))
    requests = 400
    for body in customers(requests):
        models.invoke(name, body)

    records = models.captured(prefix)
    assert len(records["Live"]) == requests
    assert len(records.get("Shadow", [])) / requests == pytest.approx(share, abs=0.08)


def test_data_capture_records_both_variants_with_the_same_input_and_their_own_answers(models: Models) -> None:
    prefix = f"capture-{uuid.uuid4().hex[:8]}"
    name = models.endpoint(models.config(capture=prefix))
    models.sandbox.behave(models.candidate, invert=True)
    answered = {}
    for index, body in enumerate(customers(20, start=100)):
        _, answer = models.invoke(name, body, InferenceId=f"request-{index}")
        answered[body.decode()] = probability(answer)

    records = models.captured(prefix)
    assert len(records["Live"]) == len(records["Shadow"]) == 20
    by_input = {r["captureData"]["endpointInput"]["data"]: r for r in records["Shadow"]}
    for record in records["Live"]:
        sent = record["captureData"]["endpointInput"]["data"]
        copy = by_input[sent]
        assert copy["captureData"]["endpointInput"] == record["captureData"]["endpointInput"]
        live_p = probability(record["captureData"]["endpointOutput"]["data"])
        shadow_p = probability(copy["captureData"]["endpointOutput"]["data"])
        assert live_p == answered[sent]
        assert shadow_p == pytest.approx(1 - live_p, abs=2e-6)
        assert copy["eventMetadata"]["inferenceTime"] == record["eventMetadata"]["inferenceTime"]
        assert record["eventMetadata"]["inferenceId"].startswith("request-")
        assert "inferenceId" not in copy["eventMetadata"]
    event_ids = [r["eventMetadata"]["eventId"] for r in records["Live"] + records["Shadow"]]
    assert len(set(event_ids)) == 40


def metric_sums(models: Models, endpoint_name: str, variant: str) -> dict[str, float]:
    cloudwatch = models.sandbox.client("cloudwatch")
    now = datetime.now(UTC)
    sums = {}
    for metric in ("Invocations", "Invocation5XXErrors", "ModelLatency"):
        points = cloudwatch.get_metric_statistics(
            Namespace="AWS/SageMaker",
            MetricName=metric,
            Dimensions=[{"Name": "EndpointName", "Value": endpoint_name}, {"Name": "VariantName", "Value": variant}],
            StartTime=now - timedelta(minutes=5),
            EndTime=now + timedelta(minutes=5),
            Period=600,
            Statistics=["Sum", "Maximum"],
        )["Datapoints"]
        sums[metric] = points[0]["Maximum" if metric == "ModelLatency" else "Sum"] if points else 0.0
    return sums


def test_a_failing_shadow_is_measured_never_answers_and_writes_no_record(models: Models) -> None:
    prefix = f"capture-{uuid.uuid4().hex[:8]}"
    name = models.endpoint(models.config(shadow_weight=0.3, capture=prefix))
    models.sandbox.behave(models.candidate, error_rate=1.0, latency_ms=250.0)

    assert {models.invoke(name, body)[0] for body in customers(20)} == {"Live"}
    patches.publish_minute(ACCOUNT_ID, REGION, name, per_minute=600)

    records = models.captured(prefix)
    assert len(records["Live"]) == 20 and "Shadow" not in records
    assert metric_sums(models, name, "Shadow") == {
        "Invocations": 180.0,  # 600 a minute x the shadow's share (0.3 / 1.0)
        "Invocation5XXErrors": 180.0,
        "ModelLatency": 250_000.0,
    }
    assert metric_sums(models, name, "Live") == {
        "Invocations": 600.0,
        "Invocation5XXErrors": 0.0,
        "ModelLatency": 20_000.0,
    }


# ------------------------------------------------------------------ background traffic
def test_background_traffic_sends_real_requests_answered_copied_and_captured(models: Models) -> None:
    prefix = f"capture-{uuid.uuid4().hex[:8]}"
    name = models.endpoint(models.config(capture=prefix))
    models.sandbox.behave(models.candidate, invert=True)

    traffic = models.sandbox.start_traffic(name, per_minute=600)
    time.sleep(3)
    traffic.stop()

    records = models.captured(prefix)
    assert traffic.sent >= 40  # 2 every compressed minute (60 ms): ~100 in 3 s on an idle machine
    assert len(records["Live"]) == traffic.sent and len(records["Shadow"]) == traffic.sent
    sent = [r["captureData"]["endpointInput"]["data"].encode() for r in records["Live"]]
    assert sorted(sent) == sorted(customers(traffic.sent))  # the shipped customers, in turn
    live = {r["captureData"]["endpointInput"]["data"]: r for r in records["Live"]}
    for copy in records["Shadow"]:
        original = live[copy["captureData"]["endpointInput"]["data"]]
        p = probability(original["captureData"]["endpointOutput"]["data"])
        assert probability(copy["captureData"]["endpointOutput"]["data"]) == pytest.approx(1 - p, abs=2e-6)


def test_traffic_bodies_are_the_datasets_rows_without_the_label() -> None:
    with dataset.DATA_PATH.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    first = next(csv.reader(io.StringIO(patches.traffic_bodies()[0].decode())))
    assert len(patches.traffic_bodies()) == len(rows)
    assert first == [rows[0][column] for column in dataset.COLUMNS]


# ------------------------------------------------------------------ FlipLabels
def test_flip_labels_inverts_every_label_before_the_split(tmp_path: Path) -> None:
    from pipeline.local import run_script

    (tmp_path / "input").mkdir()
    (tmp_path / "input" / "churn.csv").write_bytes(dataset.DATA_PATH.read_bytes())
    for flip in ("false", "true"):
        run_script(
            "preprocess.py",
            "--input-dir",
            str(tmp_path / "input"),
            "--output-dir",
            str(tmp_path / flip),
            "--flip-labels",
            flip,
        )
    for split in ("train", "validation", "test"):
        normal = list(csv.DictReader((tmp_path / "false" / split / f"{split}.csv").open()))
        flipped = list(csv.DictReader((tmp_path / "true" / split / f"{split}.csv").open()))
        assert [{**r, "churned": ""} for r in normal] == [{**r, "churned": ""} for r in flipped]
        assert all(int(a["churned"]) == 1 - int(b["churned"]) for a, b in zip(normal, flipped, strict=True))


def test_a_pipeline_run_with_flip_labels_registers_a_version_that_disagrees(models: Models) -> None:
    sandbox = models.sandbox
    artifacts = f"pipeline-artifacts-{uuid.uuid4().hex[:8]}"
    sandbox.client("s3").create_bucket(Bucket=artifacts)
    publish.publish(sandbox.client("s3"), artifacts)
    definition = (
        DEFINITION_PATH.read_text()
        .replace("${ArtifactBucket}", artifacts)
        .replace("${ModelPackageGroupName}", GROUP)
        .replace("${SageMakerExecutionRoleArn}", ROLE)
        .replace("${ScikitLearnImage}", "sklearn-image")
        .replace("${BiasFacet}", "age_group")
        .replace("${BiasDisfavouredValues}", "65-plus")
        .replace("${PredictionThreshold}", "0.5")
        .replace("${ModelOwner}", "ml-platform")
        .replace("${ModelUseCase}", "churn-prediction")
        .replace("${ModelCompliance}", "none")
    )
    assert {"Name": "FlipLabels", "Type": "String", "DefaultValue": "false"} in json.loads(definition)["Parameters"]
    models.sagemaker.create_pipeline(PipelineName="flip-pipeline", PipelineDefinition=definition, RoleArn=ROLE)

    started = models.sagemaker.start_pipeline_execution(
        PipelineName="flip-pipeline",
        PipelineParameters=[
            {"Name": "FlipLabels", "Value": "true"},
            {"Name": "ModelApprovalStatus", "Value": "Approved"},
        ],
    )
    sandbox.settle(timeout=180)

    execution = started["PipelineExecutionArn"]
    described = models.sagemaker.describe_pipeline_execution(PipelineExecutionArn=execution)
    assert described["PipelineExecutionStatus"] == "Succeeded", described.get("FailureReason")
    steps = models.sagemaker.list_pipeline_execution_steps(PipelineExecutionArn=execution)["PipelineExecutionSteps"]
    registered = next(s["Metadata"]["RegisterModel"]["Arn"] for s in steps if s["StepName"] == "RegisterModel")
    flipped = models.sagemaker.describe_model_package(ModelPackageName=registered)
    normal = models.sagemaker.describe_model_package(ModelPackageName=models.live)
    served = ServedModels(lambda: sandbox.client("s3"))
    bodies = customers(200, start=500)
    flipped_decisions = [
        float(served.invoke(flipped["InferenceSpecification"]["Containers"][0], b, "text/csv", "text/csv")[0]) >= 0.5
        for b in bodies
    ]
    normal_decisions = [
        float(served.invoke(normal["InferenceSpecification"]["Containers"][0], b, "text/csv", "text/csv")[0]) >= 0.5
        for b in bodies
    ]
    disagreeing = sum(a != b for a, b in zip(flipped_decisions, normal_decisions, strict=True))
    assert disagreeing / len(bodies) >= 0.9
