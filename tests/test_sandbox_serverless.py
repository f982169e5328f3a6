"""Serverless endpoints in the sandbox, as SageMaker documents them (no product workflow involved).

A config with a serverless variant (ProductionVariant.ServerlessConfig) is refused with what Serverless Inference
does not support (data capture, several production variants, VPC configuration, network isolation...) and outside
ServerlessConfig's limits; an instance-based endpoint cannot be updated to serverless, a serverless one can move to
another serverless config or to instances; a serverless variant's capacity is its concurrency, not instances; it
answers with its model, captures nothing and publishes ModelSetupTime.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from sandbox import patches, world
from sandbox.core import ACCOUNT_ID, REGION, Sandbox

ROLE = f"arn:aws:iam::{ACCOUNT_ID}:role/serverless-tests"
BUCKET = "serverless-tests"
GROUP = "serverless-models"
INSTANCE = {"InstanceType": "ml.m5.large", "InitialInstanceCount": 1}
SERVERLESS = {"MemorySizeInMB": 2048, "MaxConcurrency": 5}
SERVING_ENVIRONMENT = {"SAGEMAKER_PROGRAM": "inference.py", "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code"}


class Models:
    """A sandbox holding one version of the churn model, as a plain model, a model in a VPC and an isolated model."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        s3 = sandbox.client("s3")
        s3.create_bucket(Bucket=BUCKET)
        s3.put_object(Bucket=BUCKET, Key="models/churn/model.tar.gz", Body=world.trained_model().model_archive)
        self.sagemaker = sandbox.client("sagemaker")
        self.sagemaker.create_model_package_group(ModelPackageGroupName=GROUP)
        self.package = str(
            self.sagemaker.create_model_package(
                ModelPackageGroupName=GROUP,
                ModelApprovalStatus="Approved",
                InferenceSpecification={
                    "Containers": [
                        {
                            "Image": "sklearn-image",
                            "ModelDataUrl": f"s3://{BUCKET}/models/churn/model.tar.gz",
                            "Environment": SERVING_ENVIRONMENT,
                        }
                    ],
                    "SupportedContentTypes": ["text/csv"],
                    "SupportedResponseMIMETypes": ["text/csv"],
                },
            )["ModelPackageArn"]
        )
        container = {"ModelPackageName": self.package}
        self.sagemaker.create_model(ModelName="plain-model", ExecutionRoleArn=ROLE, PrimaryContainer=container)
        self.sagemaker.create_model(
            ModelName="vpc-model",
            ExecutionRoleArn=ROLE,
            PrimaryContainer=container,
            VpcConfig={"SecurityGroupIds": ["sg-0123456789abcdef0"], "Subnets": ["subnet-0123456789abcdef0"]},
        )
        self.sagemaker.create_model(
            ModelName="isolated-model", ExecutionRoleArn=ROLE, PrimaryContainer=container, EnableNetworkIsolation=True
        )

    def config(self, *variants: dict[str, Any], **extra: Any) -> str:
        name = f"config-{uuid.uuid4().hex[:12]}"
        self.sagemaker.create_endpoint_config(EndpointConfigName=name, ProductionVariants=list(variants), **extra)
        return name

    def endpoint(self, config_name: str) -> str:
        name = f"endpoint-{uuid.uuid4().hex[:12]}"
        self.sagemaker.create_endpoint(EndpointName=name, EndpointConfigName=config_name)
        self.wait(name)
        return name

    def wait(self, endpoint_name: str) -> dict[str, Any]:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            described = self.sagemaker.describe_endpoint(EndpointName=endpoint_name)
            if described["EndpointStatus"] == "InService":
                return dict(described)
            time.sleep(0.02)
        raise AssertionError(f"{endpoint_name} never became InService")


@pytest.fixture(scope="module")
def models() -> Iterator[Models]:
    with Sandbox() as sandbox:
        yield Models(sandbox)


def serverless(name: str = "Serverless", model: str = "plain-model", **config: Any) -> dict[str, Any]:
    return {"VariantName": name, "ModelName": model, "ServerlessConfig": {**SERVERLESS, **config}}


def instances(name: str = "Instances", model: str = "plain-model") -> dict[str, Any]:
    return {"VariantName": name, "ModelName": model, **INSTANCE}


def assert_refused(error: pytest.ExceptionInfo[ClientError], reason: str) -> None:
    assert error.value.response["Error"]["Code"] == "ValidationException"
    assert reason in error.value.response["Error"]["Message"]


CAPTURE = {
    "EnableCapture": True,
    "InitialSamplingPercentage": 100,
    "DestinationS3Uri": f"s3://{BUCKET}/capture",
    "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
}


# ------------------------------------------------------------------ CreateEndpointConfig
@pytest.mark.parametrize(
    ("variants", "extra", "reason"),
    [
        pytest.param([serverless()], {"DataCaptureConfig": CAPTURE}, "DataCaptureConfig (data capture)", id="capture"),
        pytest.param(
            [serverless()],
            {"DataCaptureConfig": {**CAPTURE, "EnableCapture": False}},
            "DataCaptureConfig (data capture)",
            id="capture-disabled",
        ),
        pytest.param([serverless(), instances()], {}, '"Instances" is another production variant', id="two-variants"),
        pytest.param([serverless("A"), serverless("B")], {}, '"B" is another production variant', id="two-serverless"),
        pytest.param(
            [{**serverless(), "InstanceType": "ml.m5.large"}],
            {},
            "has ServerlessConfig and InstanceType",
            id="instance-type",
        ),
        pytest.param(
            [{**serverless(), "InitialInstanceCount": 1}],
            {},
            "has ServerlessConfig and InitialInstanceCount",
            id="instance-count",
        ),
        pytest.param(
            [serverless(MemorySizeInMB=1536)], {}, "MemorySizeInMB 1536 is not one of", id="memory-not-a-whole-gb"
        ),
        pytest.param([serverless(MemorySizeInMB=7168)], {}, "MemorySizeInMB 7168 is not one of", id="memory-above"),
        pytest.param([serverless(MaxConcurrency=201)], {}, "MaxConcurrency 201 is outside 1-200", id="max-above"),
        pytest.param(
            [serverless(MaxConcurrency=200, ProvisionedConcurrency=201)],
            {},
            "ProvisionedConcurrency 201 is outside 1-200",
            id="provisioned-above",
        ),
        pytest.param(
            [serverless(MaxConcurrency=5, ProvisionedConcurrency=6)],
            {},
            "ProvisionedConcurrency 6 is above MaxConcurrency 5",
            id="provisioned-above-max",
        ),
        pytest.param([serverless(model="vpc-model")], {}, 'model "vpc-model" has a VpcConfig', id="model-in-a-vpc"),
        pytest.param(
            [serverless(model="isolated-model")],
            {},
            'model "isolated-model" has EnableNetworkIsolation',
            id="model-isolated",
        ),
        pytest.param(
            [serverless()],
            {"VpcConfig": {"SecurityGroupIds": ["sg-0123456789abcdef0"], "Subnets": ["subnet-0123456789abcdef0"]}},
            "the config has a VpcConfig",
            id="config-in-a-vpc",
        ),
        pytest.param(
            [serverless()],
            {"EnableNetworkIsolation": True},
            "the config has EnableNetworkIsolation",
            id="config-isolated",
        ),
        pytest.param(
            [serverless()],
            {"ShadowProductionVariants": [instances("Shadow")]},
            "serverless inference does not support shadow variants",
            id="shadow",
        ),
    ],
)
def test_sagemaker_refuses_what_serverless_inference_does_not_support(
    models: Models, variants: list[dict[str, Any]], extra: dict[str, Any], reason: str
) -> None:
    name = f"refused-{uuid.uuid4().hex[:8]}"
    with pytest.raises(ClientError) as refused:
        models.sagemaker.create_endpoint_config(EndpointConfigName=name, ProductionVariants=variants, **extra)
    assert_refused(refused, reason)
    with pytest.raises(ClientError):  # nothing was kept
        models.sagemaker.describe_endpoint_config(EndpointConfigName=name)


def test_limits_are_checked_for_clients_that_do_not_validate(models: Models) -> None:
    """botocore checks only the minimums on the client; another SDK, or boto3 with validation off, checks nothing."""
    unchecked = boto3.client("sagemaker", region_name=REGION, config=Config(parameter_validation=False))
    for limits, reason in (
        ({"MemorySizeInMB": 512, "MaxConcurrency": 5}, "MemorySizeInMB 512 is not one of"),
        ({"MemorySizeInMB": 2048, "MaxConcurrency": 0}, "MaxConcurrency 0 is outside 1-200"),
        ({"MemorySizeInMB": 2048, "MaxConcurrency": 5, "ProvisionedConcurrency": 0}, "ProvisionedConcurrency 0"),
        ({"MemorySizeInMB": 2048}, "MemorySizeInMB and MaxConcurrency are required"),
    ):
        with pytest.raises(ClientError) as refused:
            unchecked.create_endpoint_config(
                EndpointConfigName=f"refused-{uuid.uuid4().hex[:8]}",
                ProductionVariants=[
                    {"VariantName": "Serverless", "ModelName": "plain-model", "ServerlessConfig": limits}
                ],
            )
        assert_refused(refused, reason)


def test_a_serverless_config_within_the_limits_is_kept(models: Models) -> None:
    name = models.config(serverless(MemorySizeInMB=6144, MaxConcurrency=200, ProvisionedConcurrency=200))
    described = models.sagemaker.describe_endpoint_config(EndpointConfigName=name)
    assert described["ProductionVariants"][0]["ServerlessConfig"] == {
        "MemorySizeInMB": 6144,
        "MaxConcurrency": 200,
        "ProvisionedConcurrency": 200,
    }


# ------------------------------------------------------------------ endpoints and updates
def test_describe_endpoint_shows_the_serverless_config_and_no_instances(models: Models) -> None:
    name = models.endpoint(models.config(serverless(ProvisionedConcurrency=2)))
    (variant,) = models.wait(name)["ProductionVariants"]
    wanted = {**SERVERLESS, "ProvisionedConcurrency": 2}
    assert variant["CurrentServerlessConfig"] == variant["DesiredServerlessConfig"] == wanted
    assert "CurrentInstanceCount" not in variant and "DesiredInstanceCount" not in variant


def test_an_instance_based_endpoint_cannot_be_updated_to_serverless(models: Models) -> None:
    before_config = models.config(instances())
    name = models.endpoint(before_config)
    with pytest.raises(ClientError) as refused:
        models.sagemaker.update_endpoint(EndpointName=name, EndpointConfigName=models.config(serverless()))
    assert_refused(refused, "cannot be converted to a serverless endpoint")
    described = models.sagemaker.describe_endpoint(EndpointName=name)
    assert described["EndpointStatus"] == "InService"
    assert described["EndpointConfigName"] == before_config
    assert "PendingDeploymentSummary" not in described
    assert [v["VariantName"] for v in described["ProductionVariants"]] == ["Instances"]


def test_a_serverless_endpoint_moves_to_serverless_then_to_instances_and_never_back(models: Models) -> None:
    name = models.endpoint(models.config(serverless()))

    bigger = models.config(serverless(MemorySizeInMB=4096, MaxConcurrency=10))
    models.sagemaker.update_endpoint(EndpointName=name, EndpointConfigName=bigger)
    updating = models.sagemaker.describe_endpoint(EndpointName=name)
    if updating["EndpointStatus"] == "Updating":  # (60 ms of compressed provisioning: it may be over already)
        (pending,) = updating["PendingDeploymentSummary"]["ProductionVariants"]
        assert pending["DesiredServerlessConfig"] == {"MemorySizeInMB": 4096, "MaxConcurrency": 10}
    done = models.wait(name)
    assert done["EndpointConfigName"] == bigger
    assert done["ProductionVariants"][0]["CurrentServerlessConfig"] == {"MemorySizeInMB": 4096, "MaxConcurrency": 10}

    on_instances = models.config(instances("Serverless"))
    models.sagemaker.update_endpoint(EndpointName=name, EndpointConfigName=on_instances)
    time.sleep(0.01)
    done = models.wait(name)
    assert done["EndpointConfigName"] == on_instances
    (variant,) = done["ProductionVariants"]
    assert variant["CurrentInstanceCount"] == 1 and "CurrentServerlessConfig" not in variant

    with pytest.raises(ClientError) as refused:  # "you cannot roll it back to serverless"
        models.sagemaker.update_endpoint(EndpointName=name, EndpointConfigName=bigger)
    assert_refused(refused, "cannot be converted to a serverless endpoint")
    assert models.sagemaker.describe_endpoint(EndpointName=name)["EndpointConfigName"] == on_instances


def test_a_serverless_variant_changes_concurrency_not_instances(models: Models) -> None:
    name = models.endpoint(models.config(serverless()))
    with pytest.raises(ClientError) as refused:
        models.sagemaker.update_endpoint_weights_and_capacities(
            EndpointName=name, DesiredWeightsAndCapacities=[{"VariantName": "Serverless", "DesiredInstanceCount": 2}]
        )
    assert_refused(refused, "is serverless and has no instances")
    with pytest.raises(ClientError) as refused:
        models.sagemaker.update_endpoint_weights_and_capacities(
            EndpointName=name,
            DesiredWeightsAndCapacities=[
                {"VariantName": "Serverless", "ServerlessUpdateConfig": {"ProvisionedConcurrency": 6}}
            ],
        )
    assert_refused(refused, "ProvisionedConcurrency 6 is above MaxConcurrency 5")
    assert models.sagemaker.describe_endpoint(EndpointName=name)["EndpointStatus"] == "InService"

    models.sagemaker.update_endpoint_weights_and_capacities(
        EndpointName=name,
        DesiredWeightsAndCapacities=[
            {"VariantName": "Serverless", "ServerlessUpdateConfig": {"MaxConcurrency": 10, "ProvisionedConcurrency": 4}}
        ],
    )
    wanted = {"MemorySizeInMB": 2048, "MaxConcurrency": 10, "ProvisionedConcurrency": 4}
    updating = models.sagemaker.describe_endpoint(EndpointName=name)
    if updating["EndpointStatus"] == "Updating":
        assert updating["ProductionVariants"][0]["DesiredServerlessConfig"] == wanted
        assert updating["ProductionVariants"][0]["CurrentServerlessConfig"] == SERVERLESS
    (variant,) = models.wait(name)["ProductionVariants"]
    assert variant["CurrentServerlessConfig"] == variant["DesiredServerlessConfig"] == wanted
    assert "CurrentInstanceCount" not in variant

    on_instances = models.endpoint(models.config(instances()))
    with pytest.raises(ClientError) as refused:
        models.sagemaker.update_endpoint_weights_and_capacities(
            EndpointName=on_instances,
            DesiredWeightsAndCapacities=[{"VariantName": "Instances", "ServerlessUpdateConfig": {"MaxConcurrency": 2}}],
        )
    assert_refused(refused, "is instance-based: ServerlessUpdateConfig changes serverless variants only")


# ------------------------------------------------------------------ serving and metrics
def model_setup_times(models: Models, endpoint_name: str, variant: str) -> list[float]:
    cloudwatch = models.sandbox.client("cloudwatch")
    now = datetime.now(UTC)
    points = cloudwatch.get_metric_statistics(
        Namespace="AWS/SageMaker",
        MetricName="ModelSetupTime",
        Dimensions=[{"Name": "EndpointName", "Value": endpoint_name}, {"Name": "VariantName", "Value": variant}],
        StartTime=now - timedelta(minutes=5),
        EndTime=now + timedelta(minutes=5),
        Period=600,
        Statistics=["Maximum"],
    )["Datapoints"]
    return [point["Maximum"] for point in points]


def test_a_serverless_endpoint_answers_captures_nothing_and_publishes_model_setup_time(models: Models) -> None:
    name = models.endpoint(models.config(serverless()))
    # SageMaker refuses DataCaptureConfig for a serverless config; were one there anyway, nothing is captured
    backend = patches.sagemaker_models.sagemaker_backends[ACCOUNT_ID][REGION]
    backend.endpoint_configs[backend.endpoints[name].endpoint_config_name].data_capture_config = {
        **CAPTURE,
        "DestinationS3Uri": f"s3://{BUCKET}/serverless-capture",
    }
    models.sandbox.behave(models.package, setup_ms=3500.0)
    runtime = models.sandbox.client("sagemaker-runtime")
    for body in patches.traffic_bodies()[:5]:
        answer = runtime.invoke_endpoint(EndpointName=name, ContentType="text/csv", Body=body)
        assert answer["InvokedProductionVariant"] == "Serverless"
        assert 0.0 <= float(answer["Body"].read().decode()) <= 1.0  # the model's churn probability
    models.sandbox.flush_data_capture()
    listed = models.sandbox.client("s3").list_objects_v2(Bucket=BUCKET, Prefix="serverless-capture/")
    assert listed.get("Contents", []) == []

    patches.publish_minute(ACCOUNT_ID, REGION, name, per_minute=600)
    metrics = models.sandbox.client("cloudwatch").list_metrics(
        Namespace="AWS/SageMaker",
        MetricName="ModelSetupTime",
        Dimensions=[{"Name": "EndpointName", "Value": name}],
    )["Metrics"]
    assert [{d["Name"]: d["Value"] for d in metric["Dimensions"]} for metric in metrics] == [
        {"EndpointName": name, "VariantName": "Serverless"}
    ]
    assert model_setup_times(models, name, "Serverless") == [3_500_000.0]  # microseconds


def test_an_instance_based_endpoint_publishes_no_model_setup_time(models: Models) -> None:
    name = models.endpoint(models.config(instances()))
    patches.publish_minute(ACCOUNT_ID, REGION, name, per_minute=600)
    assert model_setup_times(models, name, "Instances") == []
    listed = models.sandbox.client("cloudwatch").list_metrics(
        Namespace="AWS/SageMaker", Dimensions=[{"Name": "EndpointName", "Value": name}]
    )["Metrics"]
    assert sorted({metric["MetricName"] for metric in listed}) == ["Invocation5XXErrors", "Invocations", "ModelLatency"]
