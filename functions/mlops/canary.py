"""Planning a deployment: first deployment, already live, or a blue/green canary in traffic steps.

Pure decisions over what SageMaker and the ledger report; `plan_deployment` returns the plan the
deploy workflow follows (names, variants, weights per step), as plain JSON.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from .shadows import shadow_variant_name

COLOURS = ("Blue", "Green")
# Replace: a serverless endpoint moves to the candidate's config all at once (one variant, no weighted canary)
# Batch: no endpoint; the candidate's model becomes the one the batch workflow's transform jobs use
Kind = Literal["First", "Canary", "Replace", "Batch", "AlreadyLive", "Superseded", "CannotServe"]
SERVING_KINDS = ("RealTime", "Serverless", "Batch")
# RequestedBy of the deployments that registry approvals start (the others were started by hand)
REGISTRY_APPROVAL = "model registry approval"


class InvalidSteps(ValueError):
    """The CanarySteps parameter is not an increasing list of percentages ending at 100."""


def parse_steps(text: str) -> list[int]:
    """'10,50,100' -> [10, 50, 100]; strictly increasing, each in 1..100, ending at 100."""
    try:
        steps = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise InvalidSteps(f"CanarySteps {text!r} must be percentages such as 10,50,100") from None
    if not steps or steps[-1] != 100 or any(not 0 < s <= 100 for s in steps) or steps != sorted(set(steps)):
        raise InvalidSteps(f"CanarySteps {text!r} must increase strictly from 1..100 and end at 100")
    return steps


def candidate_colour(live_variant_name: str | None) -> str:
    """Blue and Green alternate; anything else live (an adopted endpoint) gets Blue beside it."""
    return "Green" if live_variant_name == "Blue" else "Blue"


# What CreateEndpointConfig takes for a production variant (botocore's sagemaker model, ProductionVariant): a
# variant cloned into a new config keeps every one of its settings (serverless config, volume, timeouts, AMI,
# routing...), not only its model and instance type.
VARIANT_SETTINGS = (
    "VariantName",
    "ModelName",
    "InitialInstanceCount",
    "InstanceType",
    "InstancePools",
    "VariantInstanceProvisionTimeoutInSeconds",
    "InitialVariantWeight",
    "AcceleratorType",
    "CoreDumpConfig",
    "ServerlessConfig",
    "VolumeSizeInGB",
    "ModelDataDownloadTimeoutInSeconds",
    "ContainerStartupHealthCheckTimeoutInSeconds",
    "EnableSSMAccess",
    "ManagedInstanceScaling",
    "RoutingConfig",
    "InferenceAmiVersion",
    "CapacityReservationConfig",
    "AcceleratorPartitionLayouts",
)


@dataclass(frozen=True)
class LiveVariant:
    name: str
    model_name: str
    instance_type: str
    instance_count: int  # what it runs now: its current count (autoscaling moves it), at least the config's
    settings: dict[str, Any] = field(default_factory=dict)  # as its config declares it

    def cloned(self, weight: float, count: int | None = None) -> dict[str, Any]:
        """The variant in a new config, every setting kept, at its current capacity (or `count` if more)."""
        variant = {key: value for key, value in self.settings.items() if key in VARIANT_SETTINGS}
        variant.update(VariantName=self.name, ModelName=self.model_name, InitialVariantWeight=weight)
        if "ServerlessConfig" not in variant:
            variant["InitialInstanceCount"] = max(self.instance_count, count or 0)
        return variant


def current_count(endpoint: dict[str, Any]) -> int:
    """How many instances serve the endpoint's traffic now: the heaviest variant's current count."""
    variants = endpoint.get("ProductionVariants") or []
    if not variants:
        return 0
    heaviest = max(variants, key=lambda v: (float(v.get("CurrentWeight", 1.0)), -variants.index(v)))
    return int(heaviest.get("CurrentInstanceCount") or heaviest.get("DesiredInstanceCount") or 0)


@dataclass(frozen=True)
class Plan:
    Kind: Kind
    Reason: str
    ResourceName: str
    CandidateVariant: str
    LiveVariant: str = ""
    LiveModelPackageArn: str = "none"
    PreviousConfigName: str = "none"
    Adopted: bool = False
    ProductionVariants: list[dict[str, Any]] = field(default_factory=list)
    FinalVariants: list[dict[str, Any]] = field(default_factory=list)
    Steps: list[dict[str, Any]] = field(default_factory=list)
    RollbackWeights: list[dict[str, Any]] = field(default_factory=list)
    KmsKeyId: str = ""  # the live config's key for the instances' storage volumes, kept by the new configs
    Strategy: str = "Canary"  # "Shadow": the candidate first answers copies of live requests (mlops.shadows)
    ShadowVariant: str = "none"
    ShadowLiveVariants: list[dict[str, Any]] = field(default_factory=list)  # the shadow config's production
    ShadowVariants: list[dict[str, Any]] = field(default_factory=list)  # and its ShadowProductionVariants

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def live_variant_of(endpoint: dict[str, Any], config: dict[str, Any]) -> LiveVariant:
    """The variant taking traffic: the heaviest current weight (ties: the config's first)."""
    described = {v["VariantName"]: v for v in endpoint.get("ProductionVariants", [])}
    weights = {name: float(v.get("CurrentWeight", 1.0)) for name, v in described.items()}
    variants = config["ProductionVariants"]
    chosen = max(variants, key=lambda v: (weights.get(v["VariantName"], 0.0), -variants.index(v)))
    now = described.get(chosen["VariantName"], {})
    return LiveVariant(
        name=chosen["VariantName"],
        model_name=chosen["ModelName"],
        instance_type=chosen.get("InstanceType", ""),
        instance_count=max(int(chosen.get("InitialInstanceCount", 1)), int(now.get("CurrentInstanceCount") or 0)),
        settings=dict(chosen),
    )


class InvalidServerlessConfig(ValueError):
    """The Serverless* parameters are outside what SageMaker accepts."""


def serverless_config(memory_mb: int, max_concurrency: int, provisioned: int = 0) -> dict[str, int]:
    """ProductionVariant.ServerlessConfig, checked against SageMaker's limits (botocore's sagemaker model,
    ProductionVariantServerlessConfig): MemorySizeInMB "in 1 GB increments: 1024 MB, 2048 MB, 3072 MB, 4096 MB,
    5120 MB, or 6144 MB"; MaxConcurrency 1-200; ProvisionedConcurrency 1-200, "less than or equal to
    MaxConcurrency". `provisioned` 0: none."""
    if memory_mb not in range(1024, 6145, 1024):
        raise InvalidServerlessConfig(f"ServerlessMemorySizeInMB {memory_mb} must be one of 1024, 2048, ... 6144")
    if not 1 <= max_concurrency <= 200:
        raise InvalidServerlessConfig(f"ServerlessMaxConcurrency {max_concurrency} must be 1-200")
    if provisioned and not 1 <= provisioned <= max_concurrency:
        raise InvalidServerlessConfig(
            f"ServerlessProvisionedConcurrency {provisioned} must be 1-{max_concurrency} (ServerlessMaxConcurrency)"
        )
    config = {"MemorySizeInMB": memory_mb, "MaxConcurrency": max_concurrency}
    if provisioned:
        config["ProvisionedConcurrency"] = provisioned
    return config


def _variant(
    name: str, model: str, instance_type: str, count: int, weight: float, serverless: dict[str, int] | None = None
) -> dict[str, Any]:
    if serverless is not None:  # no instances: SageMaker provides the compute per request
        return {
            "VariantName": name,
            "ModelName": model,
            "ServerlessConfig": dict(serverless),
            "InitialVariantWeight": weight,
        }
    return {
        "VariantName": name,
        "ModelName": model,
        "InstanceType": instance_type,
        "InitialInstanceCount": count,
        "InitialVariantWeight": weight,
    }


# SageMaker developer guide, "Deploy models with Amazon SageMaker Serverless Inference", feature exclusions
# (https://docs.aws.amazon.com/sagemaker/latest/dg/serverless-endpoints.html): serverless endpoints support no
# data capture, no multiple production variants (so no weighted canary), no shadow variants (shadow tests,
# "Exclusions"), no VPC configuration nor network isolation; an instance-based endpoint cannot be updated to a
# serverless one (ValidationError), and a serverless endpoint moved to instances cannot be moved back.
SERVERLESS_GUIDE = "https://docs.aws.amazon.com/sagemaker/latest/dg/serverless-endpoints.html"


def _mismatch(endpoint_name: str, live: LiveVariant, serverless: dict[str, int] | None) -> str | None:
    """Why the candidate cannot replace the live variant in place: the two kinds of endpoint do not convert."""
    live_serverless = "ServerlessConfig" in live.settings
    if serverless is not None and not live_serverless:
        return (
            f"endpoint {endpoint_name} serves from instances (variant {live.name}) and SageMaker cannot update an "
            f"instance-based endpoint to a serverless one ({SERVERLESS_GUIDE}): delete the endpoint or set "
            "EndpointName to a new one"
        )
    if serverless is None and live_serverless:
        return (
            f"endpoint {endpoint_name} is serverless (variant {live.name}) and ServingKind is RealTime: moving it to "
            f"instances could never be rolled back to serverless ({SERVERLESS_GUIDE}): delete the endpoint or set "
            "EndpointName to a new one"
        )
    return None


def newer_version_serving(candidate_arn: str, live_package_arn: str | None) -> int | None:
    """The live version's number when it is a newer version of the candidate's model package group."""
    if not live_package_arn:
        return None
    group, _, number = live_package_arn.rpartition("/")
    candidate_group, _, candidate_number = candidate_arn.rpartition("/")
    if group != candidate_group or not number.isdigit() or not candidate_number.isdigit():
        return None
    return int(number) if int(number) > int(candidate_number) else None


def plan_deployment(
    *,
    candidate_arn: str,
    candidate_version: int,
    resource_name: str,
    endpoint: dict[str, Any] | None,
    config: dict[str, Any] | None,
    live_package_arn: str | None,
    steps: list[int],
    instance_type: str,
    instance_count: int,
    newer_approved_live: int | None = None,
    cannot_serve: str | None = None,
    strategy: str = "Canary",
    shadow_percentage: int = 100,
    shadow_then_canary: bool = True,
    serverless: dict[str, int] | None = None,
) -> Plan:
    """What the deploy workflow does, given the endpoint as it is and the ledger's live version.

    live_package_arn: the ledger's live version or, for an endpoint the ledger does not know yet,
    the package behind its live variant's model (None when that model was not made from a package).
    newer_approved_live: for a deployment a registry approval started, the number of a newer, still
    approved version of the same group that serves already; the newest approved version wins, so an
    approval delivered late (EventBridge keeps no order) or that waited behind it deploys nothing.
    cannot_serve: why the candidate could never serve here (its code out of reach of an isolated container).
    strategy: "Shadow" runs the candidate as the live variant's shadow first, sampling `shadow_percentage` of
    the requests; then the canary's steps, or straight to 100% (one step, watched as any) when not
    `shadow_then_canary`. A first deployment has nothing to shadow: it deploys as ever.
    serverless: the ServerlessConfig of a serverless project: the candidate replaces the live variant all at once
    (Replace: one step at 100%, baked and watched by the guards), never beside it.
    """
    if cannot_serve:
        return Plan(
            Kind="CannotServe",
            Reason=f"version {candidate_version} cannot serve: {cannot_serve}: nothing was changed",
            ResourceName=resource_name,
            CandidateVariant="none",
        )
    if endpoint is None or config is None:
        colour = "Blue"
        return Plan(
            Kind="First",
            Reason=f"no endpoint yet: create it with version {candidate_version} only",
            ResourceName=resource_name,
            CandidateVariant=colour,
            ProductionVariants=[_variant(colour, resource_name, instance_type, instance_count, 1.0, serverless)],
            FinalVariants=[_variant(colour, resource_name, instance_type, instance_count, 1.0, serverless)],
        )
    live = live_variant_of(endpoint, config)
    if live_package_arn == candidate_arn:
        return Plan(
            Kind="AlreadyLive",
            Reason=f"version {candidate_version} already serves the endpoint (variant {live.name})",
            ResourceName=resource_name,
            CandidateVariant=live.name,
            LiveVariant=live.name,
            LiveModelPackageArn=candidate_arn,
            PreviousConfigName=endpoint["EndpointConfigName"],
        )
    if newer_approved_live is not None:
        return Plan(
            Kind="Superseded",
            Reason=f"version {newer_approved_live}, newer than {candidate_version} and approved, serves already",
            ResourceName=resource_name,
            CandidateVariant=live.name,
            LiveVariant=live.name,
            LiveModelPackageArn=live_package_arn or "unknown",
            PreviousConfigName=endpoint["EndpointConfigName"],
        )
    mismatch = _mismatch(str(endpoint.get("EndpointName", "")), live, serverless)
    if mismatch or (serverless is not None and strategy == "Shadow"):
        reason = mismatch or f"serverless endpoints support no shadow variants ({SERVERLESS_GUIDE}): use Canary"
        return Plan(
            Kind="CannotServe",
            Reason=f"version {candidate_version} cannot be deployed: {reason}: nothing was changed",
            ResourceName=resource_name,
            CandidateVariant="none",
            LiveVariant=live.name,
            LiveModelPackageArn=live_package_arn or "unknown",
            PreviousConfigName=endpoint["EndpointConfigName"],
        )
    colour = candidate_colour(live.name)
    if serverless is not None:
        variant = _variant(colour, resource_name, "", 0, 1.0, serverless)
        return Plan(
            Kind="Replace",
            Reason=f"version {candidate_version} replaces {live.name} on serverless variant {colour}, all at once",
            ResourceName=resource_name,
            CandidateVariant=colour,
            LiveVariant=live.name,
            LiveModelPackageArn=live_package_arn or "unknown",
            PreviousConfigName=endpoint["EndpointConfigName"],
            ProductionVariants=[variant],
            FinalVariants=[variant],
            Steps=[{"Index": 0, "Percent": 100}],  # no weights to shift: the bake watches the whole endpoint
        )
    shadow = strategy == "Shadow"
    if shadow and not shadow_then_canary:
        steps = [100]
    weighted = [
        {
            "Percent": percent,
            "Weights": [
                {"VariantName": live.name, "DesiredWeight": round(1 - percent / 100, 4)},
                {"VariantName": colour, "DesiredWeight": round(percent / 100, 4)},
            ],
        }
        for percent in steps
    ]
    for index, step in enumerate(weighted):
        step["Index"] = index
    return Plan(
        Kind="Canary",
        Reason=f"canary of version {candidate_version} on variant {colour} beside {live.name}: {steps} %",
        ResourceName=resource_name,
        CandidateVariant=colour,
        LiveVariant=live.name,
        LiveModelPackageArn=live_package_arn or "unknown",
        PreviousConfigName=endpoint["EndpointConfigName"],
        Adopted=False,
        # The candidate joins at weight 0: it gets the live variant's autoscaling before it takes traffic. The live
        # variant keeps its settings and its current capacity.
        ProductionVariants=[live.cloned(1.0), _variant(colour, resource_name, instance_type, instance_count, 0.0)],
        FinalVariants=[_variant(colour, resource_name, instance_type, instance_count, 1.0)],
        Steps=weighted,
        RollbackWeights=[
            {"VariantName": live.name, "DesiredWeight": 1.0},
            {"VariantName": colour, "DesiredWeight": 0.0},
        ],
        KmsKeyId=str(config.get("KmsKeyId") or ""),
        **(
            _shadow_fields(live, colour, resource_name, instance_type, instance_count, shadow_percentage)
            if shadow
            else {}
        ),
    )


def _shadow_fields(
    live: LiveVariant, colour: str, resource_name: str, instance_type: str, instance_count: int, percentage: int
) -> dict[str, Any]:
    """The shadow config: the live variant alone takes (and answers) every request; the candidate, as its shadow,
    gets `percentage` of them copied. AWS documents no sampling field for ShadowProductionVariants: the shadow's
    weight relative to the production variant's is the share copied (production 1, shadow 0.3: 30%), the
    reading public guides give; the shadow tests API's SamplingPercentage says the same in percent."""
    name = shadow_variant_name(colour)
    return {
        "Strategy": "Shadow",
        "ShadowVariant": name,
        "ShadowLiveVariants": [live.cloned(1.0)],
        "ShadowVariants": [_variant(name, resource_name, instance_type, instance_count, round(percentage / 100, 4))],
    }


def _restored_variants(config: dict[str, Any], serving_count: int) -> list[dict[str, Any]]:
    """A previous config's variants for a new config: every setting kept, the ones taking traffic at no less
    than the capacity serving now (a restore never shrinks the fleet)."""
    variants = []
    for declared in config["ProductionVariants"]:
        weight = float(declared.get("InitialVariantWeight", 1.0))
        variant = LiveVariant(
            name=declared["VariantName"],
            model_name=declared["ModelName"],
            instance_type=declared.get("InstanceType", ""),
            instance_count=int(declared.get("InitialInstanceCount", 1)),
            settings=dict(declared),
        )
        variants.append(variant.cloned(weight, serving_count if weight > 0 else None))
    return variants


def plan_restore(
    *,
    live: dict[str, Any] | None,
    endpoint: dict[str, Any] | None,
    config: dict[str, Any] | None,
    target_arn: str | None,
    target_status: str | None,
    resource_name: str,
    instance_type: str,
    instance_count: int,
    previous_config: dict[str, Any] | None = None,
    cannot_serve: str | None = None,
    serverless: dict[str, int] | None = None,
) -> dict[str, Any]:
    """What a rollback restores: the ledger's previous live version, or the approved version asked for.

    Either way into a new config named `resource_name`, at no less than the capacity serving now, keeping the
    instances' volume key of the config it comes from. previous_config: DescribeEndpointConfig of the ledger's
    previous config (None when it is gone). cannot_serve: why the version asked for could never serve here.
    """
    current = endpoint["EndpointConfigName"] if endpoint else "none"
    live_arn = str(live["model_package_arn"]) if live else "unknown"
    base: dict[str, Any] = {
        "FromConfigName": current,
        "FromModelPackageArn": live_arn,
        "ProductionVariants": [],
        "KmsKeyId": "",
    }
    if endpoint is None or config is None:
        return {**base, "Kind": "NoPreviousVersion", "Reason": "the endpoint does not exist: nothing to roll back"}
    serving = current_count(endpoint)
    if target_arn is None:
        previous = str(live.get("previous_endpoint_config_name", "none")) if live else "none"
        if previous == "none":
            return {
                **base,
                "Kind": "NoPreviousVersion",
                "Reason": "the ledger records no previous version: nothing was changed",
            }
        if previous_config is None:
            return {
                **base,
                "Kind": "NoPreviousVersion",
                "Reason": f"the previous configuration {previous} no longer exists: nothing was changed",
            }
        variants = _restored_variants(previous_config, serving)
        heaviest = max(variants, key=lambda v: (float(v["InitialVariantWeight"]), -variants.index(v)))
        return {
            **base,
            "Kind": "Previous",
            "Reason": f"restore the previous configuration {previous} (as {resource_name})",
            "ConfigName": resource_name,
            "ModelPackageArn": str(live.get("previous_model_package_arn", "unknown")) if live else "unknown",
            "Variant": heaviest["VariantName"],
            "ProductionVariants": variants,
            "KmsKeyId": str(previous_config.get("KmsKeyId") or ""),
        }
    if target_status != "Approved":
        return {
            **base,
            "Kind": "NotApproved",
            "Reason": f"{target_arn} is {target_status}, not Approved: nothing was changed",
        }
    if target_arn == live_arn:
        return {**base, "Kind": "AlreadyLive", "Reason": f"{target_arn} already serves the endpoint"}
    if cannot_serve:
        return {
            **base,
            "Kind": "CannotServe",
            "Reason": f"{target_arn} cannot serve: {cannot_serve}: nothing was changed",
        }
    serving_variant = live_variant_of(endpoint, config)
    mismatch = _mismatch(str(endpoint.get("EndpointName", "")), serving_variant, serverless)
    if mismatch:
        return {**base, "Kind": "CannotServe", "Reason": f"{target_arn} cannot be restored: {mismatch}"}
    colour = candidate_colour(serving_variant.name)
    return {
        **base,
        "Kind": "Version",
        "Reason": f"restore {target_arn} on variant {colour}",
        "ConfigName": resource_name,
        "ModelPackageArn": target_arn,
        "Variant": colour,
        "ProductionVariants": [
            _variant(colour, resource_name, instance_type, max(instance_count, serving), 1.0, serverless)
        ],
        "KmsKeyId": "" if serverless else str(config.get("KmsKeyId") or ""),
    }


# ---------------------------------------------------------------- batch: no endpoint, a live model
BATCH_VARIANT = "batch"  # what the ledger's LIVE entry names as the variant of a batch project


def plan_batch(
    *,
    candidate_arn: str,
    candidate_version: int,
    resource_name: str,
    live: dict[str, Any] | None,
    newer_approved_live: int | None = None,
    cannot_serve: str | None = None,
) -> Plan:
    """An approval in a batch project: the candidate's model (named `resource_name`) becomes the one the batch
    workflow's transform jobs use. The ledger's LIVE entry names it where an endpoint project names its config."""
    live_arn = str(live["model_package_arn"]) if live else None
    common: dict[str, Any] = {
        "ResourceName": resource_name,
        "CandidateVariant": BATCH_VARIANT,
        "LiveVariant": BATCH_VARIANT if live else "",
        "LiveModelPackageArn": live_arn or "none",
        "PreviousConfigName": str(live.get("endpoint_config_name") or "none") if live else "none",
    }
    if cannot_serve:
        reason = f"version {candidate_version} cannot serve: {cannot_serve}: nothing was changed"
        return Plan(Kind="CannotServe", Reason=reason, **common)
    if live_arn == candidate_arn:
        return Plan(Kind="AlreadyLive", Reason=f"version {candidate_version} already scores the batches", **common)
    if newer_approved_live is not None:
        reason = f"version {newer_approved_live}, newer than {candidate_version} and approved, scores the batches"
        return Plan(Kind="Superseded", Reason=reason, **common)
    reason = f"version {candidate_version} scores the next batches (model {resource_name})"
    return Plan(Kind="Batch", Reason=reason, **common)


def plan_batch_restore(
    *,
    live: dict[str, Any] | None,
    target_arn: str | None,
    target_status: str | None,
    resource_name: str,
    cannot_serve: str | None = None,
) -> dict[str, Any]:
    """A rollback in a batch project: a new model of the previous live version (or of the approved version asked
    for) becomes the batch model. Always a new model: the old one may have been pruned."""
    live_arn = str(live["model_package_arn"]) if live else "unknown"
    base: dict[str, Any] = {
        "FromConfigName": str(live.get("endpoint_config_name") or "none") if live else "none",
        "FromModelPackageArn": live_arn,
        "ProductionVariants": [],
        "KmsKeyId": "",
    }
    if live is None:
        return {
            **base,
            "Kind": "NoPreviousVersion",
            "Reason": "no version scores the batches yet: nothing to roll back",
        }
    if target_arn is None:
        target_arn = str(live.get("previous_model_package_arn") or "none")
        if target_arn in ("none", "unknown"):
            reason = "the ledger records no previous version: nothing was changed"
            return {**base, "Kind": "NoPreviousVersion", "Reason": reason}
    elif target_status != "Approved":
        reason = f"{target_arn} is {target_status}, not Approved: nothing was changed"
        return {**base, "Kind": "NotApproved", "Reason": reason}
    if target_arn == live_arn:
        return {**base, "Kind": "AlreadyLive", "Reason": f"{target_arn} already scores the batches"}
    if cannot_serve:
        reason = f"{target_arn} cannot serve: {cannot_serve}: nothing was changed"
        return {**base, "Kind": "CannotServe", "Reason": reason}
    return {
        **base,
        "Kind": "Version",
        "Reason": f"{target_arn} scores the next batches (model {resource_name})",
        "ConfigName": resource_name,
        "ModelPackageArn": target_arn,
        "Variant": BATCH_VARIANT,
    }
