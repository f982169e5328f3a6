"""The sandbox holds endpoint updates and Application Auto Scaling to AWS's rules (sandbox/autoscaling.py and
section 4 of sandbox/patches.py name the sources): registered variants cannot be removed or re-typed, retained
variant properties survive an update, registration moves capacity into range, deregistration takes the policies
with it, a scaling activity respects range, suspension and the endpoint's state, and a network-isolated model
cannot fetch its code from S3."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from sandbox.core import Sandbox

ROLE = "arn:aws:iam::123456789012:role/sandbox-test"
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
ENDPOINT = "scaled"
DIMENSION = "sagemaker:variant:DesiredInstanceCount"
S3_CODE = "s3://artifacts/pipeline/code/sourcedir.tar.gz"


# ---------------------------------------------------------------------- building an endpoint by hand
def create_model(sandbox: Sandbox, name: str, *, isolated: bool = False, code: str | None = None) -> None:
    container: dict[str, Any] = {"Image": IMAGE, "ModelDataUrl": f"s3://artifacts/{name}/model.tar.gz"}
    if code is not None:
        container["Environment"] = {"SAGEMAKER_PROGRAM": "inference.py", "SAGEMAKER_SUBMIT_DIRECTORY": code}
    sandbox.client("sagemaker").create_model(
        ModelName=name, ExecutionRoleArn=ROLE, PrimaryContainer=container, EnableNetworkIsolation=isolated
    )


def variant(
    name: str, model: str, count: int = 1, weight: float = 1.0, instance: str = "ml.m5.large"
) -> dict[str, Any]:
    return {
        "VariantName": name,
        "ModelName": model,
        "InstanceType": instance,
        "InitialInstanceCount": count,
        "InitialVariantWeight": weight,
    }


def create_config(sandbox: Sandbox, name: str, *variants: dict[str, Any]) -> None:
    sandbox.client("sagemaker").create_endpoint_config(EndpointConfigName=name, ProductionVariants=list(variants))


def describe(sandbox: Sandbox) -> dict[str, Any]:
    return dict(sandbox.client("sagemaker").describe_endpoint(EndpointName=ENDPOINT))


def variants(sandbox: Sandbox) -> dict[str, dict[str, Any]]:
    return {v["VariantName"]: v for v in describe(sandbox)["ProductionVariants"]}


def counts(sandbox: Sandbox) -> dict[str, tuple[int, int]]:
    """Each variant's (CurrentInstanceCount, DesiredInstanceCount)."""
    return {name: (v["CurrentInstanceCount"], v["DesiredInstanceCount"]) for name, v in variants(sandbox).items()}


def serving(sandbox: Sandbox, *variant_list: dict[str, Any], config: str = "first") -> None:
    """ENDPOINT, InService on a config of these variants (model m1 for each unless the variant names another)."""
    create_model(sandbox, "m1")
    create_config(sandbox, config, *variant_list)
    sandbox.client("sagemaker").create_endpoint(EndpointName=ENDPOINT, EndpointConfigName=config)
    sandbox.settle()
    assert describe(sandbox)["EndpointStatus"] == "InService"


def register(sandbox: Sandbox, variant_name: str, low: int, high: int, **extra: Any) -> None:
    sandbox.client("application-autoscaling").register_scalable_target(
        ServiceNamespace="sagemaker",
        ResourceId=f"endpoint/{ENDPOINT}/variant/{variant_name}",
        ScalableDimension=DIMENSION,
        MinCapacity=low,
        MaxCapacity=high,
        **extra,
    )


def update(sandbox: Sandbox, config: str, **extra: Any) -> None:
    sandbox.client("sagemaker").update_endpoint(EndpointName=ENDPOINT, EndpointConfigName=config, **extra)


def endpoint_events(sandbox: Sandbox, since: int) -> list[tuple[str, list[float]]]:
    """(EndpointStatus, each variant's DesiredInstanceCount) of the endpoint's state-change events since `since`."""
    return [
        (e["detail"]["EndpointStatus"], [v["DesiredInstanceCount"] for v in e["detail"]["ProductionVariants"]])
        for e in sandbox.state.emitted_events[since:]
        if e["detail-type"] == "SageMaker Endpoint State Change" and e["detail"]["EndpointName"] == ENDPOINT
    ]


@pytest.fixture
def slow_transitions(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> Sandbox:
    """Endpoint changes last 2 s (2000 s of AWS time): long enough to look at an endpoint while it updates."""
    monkeypatch.setattr(sandbox.state, "endpoint_transition_seconds", 2000.0)
    return sandbox


# ---------------------------------------------------------------------- 1. UpdateEndpoint and registered variants
def test_an_update_may_add_variants_and_change_models_but_not_remove_an_autoscaled_variant(sandbox: Sandbox) -> None:
    serving(sandbox, variant("Blue", "m1"))
    register(sandbox, "Blue", 1, 4)
    create_model(sandbox, "m2")
    create_config(sandbox, "beside", variant("Blue", "m1"), variant("Green", "m2", weight=0.0))
    create_config(sandbox, "new-model", variant("Blue", "m2"))
    create_config(sandbox, "green-only", variant("Green", "m2"))

    update(sandbox, "beside")  # a variant added beside the registered one
    sandbox.settle()
    update(sandbox, "new-model")  # Green (not registered) leaves; Blue changes model only
    sandbox.settle()
    assert describe(sandbox)["EndpointConfigName"] == "new-model"

    with pytest.raises(ClientError) as refused:
        update(sandbox, "green-only")

    error = refused.value.response["Error"]
    assert error["Code"] == "ValidationException"
    assert '"Blue"' in error["Message"] and "removes it" in error["Message"]
    assert (describe(sandbox)["EndpointStatus"], describe(sandbox)["EndpointConfigName"]) == ("InService", "new-model")

    sandbox.client("application-autoscaling").deregister_scalable_target(
        ServiceNamespace="sagemaker", ResourceId=f"endpoint/{ENDPOINT}/variant/Blue", ScalableDimension=DIMENSION
    )
    update(sandbox, "green-only")
    sandbox.settle()
    assert describe(sandbox)["EndpointConfigName"] == "green-only"


def test_an_update_changing_an_autoscaled_variants_instance_type_is_refused(sandbox: Sandbox) -> None:
    serving(sandbox, variant("Blue", "m1"))
    register(sandbox, "Blue", 1, 4)
    create_config(sandbox, "bigger", variant("Blue", "m1", instance="ml.c5.xlarge"))

    with pytest.raises(ClientError) as refused:
        update(sandbox, "bigger")

    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert "from ml.m5.large to ml.c5.xlarge" in refused.value.response["Error"]["Message"]
    assert describe(sandbox)["EndpointConfigName"] == "first"


# ---------------------------------------------------------------------- 2. retained variant properties
def test_retain_all_variant_properties_keeps_a_variants_count_and_weight(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    serving(sandbox, variant("Blue", "m1", count=1, weight=1.0))
    sagemaker = sandbox.client("sagemaker")
    sagemaker.update_endpoint_weights_and_capacities(
        EndpointName=ENDPOINT, DesiredWeightsAndCapacities=[{"VariantName": "Blue", "DesiredInstanceCount": 3}]
    )
    sandbox.settle()
    assert counts(sandbox) == {"Blue": (3, 3)}
    assert variants(sandbox)["Blue"]["CurrentWeight"] == 1.0  # a capacity-only change keeps the weight
    create_model(sandbox, "m2")
    create_config(sandbox, "retained", variant("Blue", "m2", count=1, weight=0.5), variant("Green", "m2", count=2))

    monkeypatch.setattr(sandbox.state, "endpoint_transition_seconds", 2000.0)
    update(sandbox, "retained", RetainAllVariantProperties=True)
    pending = describe(sandbox)["PendingDeploymentSummary"]["ProductionVariants"]
    monkeypatch.setattr(sandbox.state, "endpoint_transition_seconds", 60.0)
    sandbox.settle()

    assert {v["VariantName"]: v["DesiredInstanceCount"] for v in pending} == {"Blue": 3, "Green": 2}
    assert counts(sandbox) == {"Blue": (3, 3), "Green": (2, 2)}  # Green is new: the config's count
    assert variants(sandbox)["Blue"]["CurrentWeight"] == 1.0

    create_config(sandbox, "count-from-config", variant("Blue", "m1", count=1, weight=0.25))
    update(
        sandbox,
        "count-from-config",
        RetainAllVariantProperties=True,
        ExcludeRetainedVariantProperties=[{"VariantPropertyType": "DesiredInstanceCount"}],
    )
    sandbox.settle()
    assert counts(sandbox) == {"Blue": (1, 1)}
    assert variants(sandbox)["Blue"]["CurrentWeight"] == 1.0  # the weight is still retained

    create_config(sandbox, "plain", variant("Blue", "m1", count=2, weight=0.75))
    update(sandbox, "plain")  # RetainAllVariantProperties defaults to false: the config's values
    sandbox.settle()
    assert counts(sandbox) == {"Blue": (2, 2)}
    assert variants(sandbox)["Blue"]["CurrentWeight"] == 0.75


# ---------------------------------------------------------------------- 3. registration moves capacity
def test_registering_a_variant_moves_its_instance_count_into_range(slow_transitions: Sandbox) -> None:
    sandbox = slow_transitions
    serving(sandbox, variant("Blue", "m1", count=1, weight=0.5), variant("Green", "m1", count=1, weight=0.5))
    since = len(sandbox.state.emitted_events)

    register(sandbox, "Blue", 2, 4)

    assert describe(sandbox)["EndpointStatus"] == "Updating"
    assert counts(sandbox)["Blue"] == (1, 2)  # desired at once, current when the instances are up
    sandbox.settle()
    assert describe(sandbox)["EndpointStatus"] == "InService"
    assert counts(sandbox) == {"Blue": (2, 2), "Green": (1, 1)}
    assert variants(sandbox)["Blue"]["CurrentWeight"] == 0.5
    assert endpoint_events(sandbox, since) == [("UPDATING", [2.0, 1.0]), ("IN_SERVICE", [2.0, 1.0])]

    register(sandbox, "Green", 0, 0)  # an update of a target (here new) below the count scales in
    register(sandbox, "Blue", 1, 1, SuspendedState={"DynamicScalingInSuspended": True})  # refused: Green updates
    sandbox.settle()
    assert counts(sandbox) == {"Blue": (2, 2), "Green": (0, 0)}

    register(sandbox, "Blue", 1, 1, SuspendedState={"DynamicScalingInSuspended": True})  # suspension: no matter
    sandbox.settle()
    assert counts(sandbox) == {"Blue": (1, 1), "Green": (0, 0)}


def test_deregistering_a_target_deletes_its_scaling_policies(sandbox: Sandbox) -> None:
    serving(sandbox, variant("Blue", "m1"))
    register(sandbox, "Blue", 1, 4)
    autoscaling = sandbox.client("application-autoscaling")
    autoscaling.put_scaling_policy(
        PolicyName="invocations",
        ServiceNamespace="sagemaker",
        ResourceId=f"endpoint/{ENDPOINT}/variant/Blue",
        ScalableDimension=DIMENSION,
        PolicyType="TargetTrackingScaling",
        TargetTrackingScalingPolicyConfiguration={
            "TargetValue": 70.0,
            "PredefinedMetricSpecification": {"PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"},
        },
    )

    autoscaling.deregister_scalable_target(
        ServiceNamespace="sagemaker", ResourceId=f"endpoint/{ENDPOINT}/variant/Blue", ScalableDimension=DIMENSION
    )

    assert autoscaling.describe_scaling_policies(ServiceNamespace="sagemaker")["ScalingPolicies"] == []


# ---------------------------------------------------------------------- 4. a scaling activity on request
def test_autoscaling_acts_within_range_unless_suspended_or_busy(slow_transitions: Sandbox) -> None:
    sandbox = slow_transitions
    serving(sandbox, variant("Blue", "m1", count=2), variant("Green", "m1", count=1, weight=0.0))
    register(sandbox, "Blue", 1, 4)
    since = len(sandbox.state.emitted_events)

    assert not sandbox.autoscale(ENDPOINT, "Green", 2)  # not a scalable target
    assert not sandbox.autoscale(ENDPOINT, "Blue", 5)  # above MaxCapacity
    assert not sandbox.autoscale(ENDPOINT, "Blue", 0)  # below MinCapacity
    assert not sandbox.autoscale(ENDPOINT, "Blue", 2)  # already there
    assert sandbox.autoscale(ENDPOINT, "Blue", 4)
    assert describe(sandbox)["EndpointStatus"] == "Updating"
    assert counts(sandbox)["Blue"] == (2, 4)
    assert not sandbox.autoscale(ENDPOINT, "Blue", 3)  # blocked while the endpoint updates
    sandbox.settle()

    assert counts(sandbox) == {"Blue": (4, 4), "Green": (1, 1)}
    assert variants(sandbox)["Green"]["CurrentWeight"] == 0.0
    assert endpoint_events(sandbox, since) == [("UPDATING", [4.0, 1.0]), ("IN_SERVICE", [4.0, 1.0])]

    register(sandbox, "Blue", 1, 4, SuspendedState={"DynamicScalingInSuspended": True})
    assert not sandbox.autoscale(ENDPOINT, "Blue", 3)  # scale-in suspended
    register(sandbox, "Blue", 1, 4, SuspendedState={"DynamicScalingOutSuspended": True})
    assert sandbox.autoscale(ENDPOINT, "Blue", 3)  # scale-in resumed
    sandbox.settle()
    assert not sandbox.autoscale(ENDPOINT, "Blue", 4)  # scale-out suspended
    assert counts(sandbox)["Blue"] == (3, 3)
    assert sandbox.autoscale(ENDPOINT, "Blue", 4, under_way=True)  # triggered before the suspension
    sandbox.settle()
    assert counts(sandbox)["Blue"] == (4, 4)


# ---------------------------------------------------------------------- 5. network isolation
def test_a_network_isolated_model_fetching_its_code_from_s3_never_starts(sandbox: Sandbox) -> None:
    create_model(sandbox, "isolated-s3", isolated=True, code=S3_CODE)
    create_config(sandbox, "isolated-s3", variant("Blue", "isolated-s3"))

    sandbox.client("sagemaker").create_endpoint(EndpointName=ENDPOINT, EndpointConfigName="isolated-s3")
    sandbox.settle()

    described = describe(sandbox)
    assert described["EndpointStatus"] == "Failed"
    assert "isolated-s3" in described["FailureReason"] and S3_CODE in described["FailureReason"]
    assert sandbox.client("sagemaker").describe_model(ModelName="isolated-s3")["EnableNetworkIsolation"] is True


def test_an_update_to_a_network_isolated_model_with_s3_code_fails_and_the_endpoint_keeps_serving(
    sandbox: Sandbox,
) -> None:
    serving(sandbox, variant("Blue", "m1"))
    sagemaker = sandbox.client("sagemaker")
    sagemaker.create_model_package_group(ModelPackageGroupName="isolated")
    package = sagemaker.create_model_package(
        ModelPackageGroupName="isolated",
        InferenceSpecification={
            "Containers": [
                {
                    "Image": IMAGE,
                    "ModelDataUrl": "s3://artifacts/v1/model.tar.gz",
                    "Environment": {"SAGEMAKER_PROGRAM": "inference.py", "SAGEMAKER_SUBMIT_DIRECTORY": S3_CODE},
                }
            ],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv"],
        },
        ModelApprovalStatus="Approved",
    )["ModelPackageArn"]
    sagemaker.create_model(
        ModelName="packaged",
        ExecutionRoleArn=ROLE,
        Containers=[{"ModelPackageName": package}],
        EnableNetworkIsolation=True,
    )
    create_config(sandbox, "packaged", variant("Blue", "packaged"))

    update(sandbox, "packaged")
    sandbox.settle()

    described = describe(sandbox)
    assert (described["EndpointStatus"], described["EndpointConfigName"]) == ("InService", "first")
    assert "packaged" in described["FailureReason"] and S3_CODE in described["FailureReason"]

    # code packed in the model artifact starts, isolated or not; so does S3 code without isolation
    create_model(sandbox, "isolated-packed", isolated=True, code="/opt/ml/model/code")
    create_model(sandbox, "open-s3", code=S3_CODE)
    create_config(sandbox, "packed", variant("Blue", "isolated-packed"), variant("Green", "open-s3"))
    update(sandbox, "packed")
    sandbox.settle()
    described = describe(sandbox)
    assert (described["EndpointStatus"], described["EndpointConfigName"]) == ("InService", "packed")
    assert "FailureReason" not in described
