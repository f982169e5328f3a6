"""Every version says what it was made from (data, code, training job, hyperparameters) and who owns it; the model
package group carries the owner, use-case and compliance tags."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from moto import mock_aws

from mlops.retrain_steps import data_version
from pipeline import dataset, publish
from sandbox.core import Sandbox, project_parameters
from sandbox.template import RuleRefused, check_rules, load_sam_template
from sandbox.world import train_hyperparameters
from tests.conftest import SandboxWorld, seeded

# The keys the operator's command line reads (mlops_cli/lineage.py)
LINEAGE_KEYS = {"data-uri", "data-version", "data-sha256", "code-sha256", "training-job"}
GOVERNANCE = {"owner": "ModelOwner", "use-case": "ModelUseCase", "compliance": "ModelCompliance"}
HYPERPARAMETERS = {"hyperparameter-max-iter", "hyperparameter-learning-rate", "hyperparameter-max-depth"}
COMMIT = "4f1c2a9e0b7d3c5a6e8f9012b3c4d5e6f7a8b9c0"
REPOSITORY = "https://github.com/example/churn-mlops"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def s3_object(churn: SandboxWorld, uri: str) -> bytes:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bytes(churn.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())


def group_tags(churn: SandboxWorld) -> dict[str, str]:
    sagemaker = churn.client("sagemaker")
    arn = sagemaker.describe_model_package_group(ModelPackageGroupName=churn.stack.model_package_group)[
        "ModelPackageGroupArn"
    ]
    return {tag["Key"]: tag["Value"] for tag in sagemaker.list_tags(ResourceArn=arn)["Tags"]}


def deployed_definition(churn: SandboxWorld) -> dict[str, Any]:
    described = churn.client("sagemaker").describe_pipeline(PipelineName=churn.stack.parameters["PipelineName"])
    return dict(json.loads(described["PipelineDefinition"]))


@pytest.fixture
def churn(sandbox: Sandbox) -> SandboxWorld:
    return seeded(sandbox, RetrainCooldownSeconds="0")


# ---------------------------------------------------------------------- a version the pipeline registers
def test_a_retrained_version_carries_its_data_code_job_hyperparameters_and_owner(churn: SandboxWorld) -> None:
    # given scripts published from a known commit, newer data, and a group whose tags someone removed
    bucket = churn.stack.outputs["ArtifactBucketName"]
    s3, sagemaker, sfn = churn.client("s3"), churn.client("sagemaker"), churn.client("stepfunctions")
    publish.publish(s3, bucket, commit=COMMIT, repository=REPOSITORY)
    newer = dataset.to_csv(dataset.generate(rows=2000, seed=7, shift=0.5)).encode()
    s3.put_object(Bucket=bucket, Key="pipeline/data/churn-2026-12-01.csv", Body=newer)
    group_arn = sagemaker.describe_model_package_group(ModelPackageGroupName=churn.stack.model_package_group)[
        "ModelPackageGroupArn"
    ]
    sagemaker.delete_tags(ResourceArn=group_arn, TagKeys=list(GOVERNANCE))

    # when a retrain runs the pipeline
    started = sfn.start_execution(
        stateMachineArn=churn.stack.outputs["RetrainStateMachineArn"], input=json.dumps({"Reason": "new data"})
    )
    churn.sandbox.settle(timeout=120)

    # then the version it registered says what it was made from
    run = sfn.describe_execution(executionArn=started["executionArn"])
    assert run["status"] == "SUCCEEDED", run.get("cause")
    [pipeline_run] = sagemaker.list_pipeline_executions(PipelineName=churn.stack.parameters["PipelineName"])[
        "PipelineExecutionSummaries"
    ]
    execution = pipeline_run["PipelineExecutionArn"]
    package = sagemaker.describe_model_package(ModelPackageName=json.loads(run["output"])["ModelPackageArn"])
    assert package["MetadataProperties"] == {"GeneratedBy": execution, "CommitId": COMMIT, "Repository": REPOSITORY}
    metadata = package["CustomerMetadataProperties"]
    assert set(metadata) == LINEAGE_KEYS | HYPERPARAMETERS | set(GOVERNANCE)

    parameters = {
        p["Name"]: p["Value"]
        for p in sagemaker.list_pipeline_parameters_for_execution(PipelineExecutionArn=execution)["PipelineParameters"]
    }
    data_uri = f"s3://{bucket}/pipeline/data/churn-2026-12-01.csv"
    assert parameters["InputDataUrl"] == metadata["data-uri"] == data_uri
    head = s3.head_object(Bucket=bucket, Key="pipeline/data/churn-2026-12-01.csv")
    assert parameters["InputDataVersion"] == metadata["data-version"] == head["VersionId"]  # a versioned bucket
    assert metadata["data-sha256"] == sha256(s3_object(churn, data_uri)) == sha256(newer)
    assert metadata["code-sha256"] == sha256(s3_object(churn, f"s3://{bucket}/{publish.ARCHIVE_KEY}"))

    steps = sagemaker.list_pipeline_execution_steps(PipelineExecutionArn=execution)["PipelineExecutionSteps"]
    [train] = [step for step in steps if step["StepName"] == "Train"]
    assert metadata["training-job"] == train["Metadata"]["TrainingJob"]["Arn"].rsplit("/", 1)[-1]
    ran_with = train_hyperparameters(deployed_definition(churn))
    assert ran_with == {"max-iter": "150", "learning-rate": "0.05", "max-depth": "4"}
    assert {k: v for k, v in metadata.items() if k.startswith("hyperparameter-")} == {
        f"hyperparameter-{name}": value for name, value in ran_with.items()
    }
    stack = churn.stack.parameters
    assert {key: metadata[key] for key in GOVERNANCE} == {key: stack[name] for key, name in GOVERNANCE.items()}
    # and the group carries the stack's tags again
    assert group_tags(churn) == {key: stack[name] for key, name in GOVERNANCE.items()}


# ---------------------------------------------------------------------- the seeded versions
def test_the_seeded_versions_carry_the_same_metadata_made_the_same_way(churn: SandboxWorld) -> None:
    bucket = churn.stack.outputs["ArtifactBucketName"]
    registered = deployed_definition(churn)
    declared = next(
        child["Arguments"]["CustomerMetadataProperties"]
        for step in registered["Steps"]
        for child in step.get("Arguments", {}).get("IfSteps", [])
        if child["Type"] == "RegisterModel"
    )
    head = churn.client("s3").head_object(Bucket=bucket, Key=publish.DATA_KEY)
    stack = churn.stack.parameters
    versions = churn.versions()

    assert len(versions) == 2
    for version in versions:
        metadata = version["CustomerMetadataProperties"]
        assert set(metadata) == set(declared)
        assert metadata["data-uri"] == f"s3://{bucket}/{publish.DATA_KEY}"
        assert metadata["data-version"] == head["VersionId"]
        assert metadata["data-sha256"] == sha256(publish.DATA.read_bytes())
        assert metadata["code-sha256"] == sha256(publish.source_archive())
        assert metadata["hyperparameter-max-iter"] == "150" and metadata["hyperparameter-max-depth"] == "4"
        assert re.fullmatch(r"churn-train-seed-\d+", metadata["training-job"])
        assert {key: metadata[key] for key in GOVERNANCE} == {key: stack[name] for key, name in GOVERNANCE.items()}
        assert version["MetadataProperties"] == {"CommitId": "", "Repository": ""}  # published without a commit
    assert group_tags(churn) == {
        "owner": "churn-team@example.com",
        "use-case": "customer-churn",
        "compliance": "gdpr",
    }


def test_an_approval_keeps_the_versions_metadata_and_an_update_adds_to_it(churn: SandboxWorld) -> None:
    sagemaker = churn.client("sagemaker")
    pending = churn.world.pending_version_arn
    before = sagemaker.describe_model_package(ModelPackageName=pending)["CustomerMetadataProperties"]

    sagemaker.update_model_package(ModelPackageArn=pending, ModelApprovalStatus="Rejected")
    sagemaker.update_model_package(
        ModelPackageArn=pending,
        CustomerMetadataProperties={"reviewed-by": "ana@example.com"},
        CustomerMetadataPropertiesToRemove=["training-job"],
    )

    after = sagemaker.describe_model_package(ModelPackageName=pending)["CustomerMetadataProperties"]
    expected = {k: v for k, v in before.items() if k != "training-job"}
    assert after == {**expected, "reviewed-by": "ana@example.com"}


# ---------------------------------------------------------------------- what SageMaker refuses
def unvalidated() -> Any:
    """A client that leaves every check to the service (botocore checks a value's minimum length itself)."""
    return boto3.client("sagemaker", region_name="us-east-1", config=Config(parameter_validation=False))


@pytest.fixture
def group(sandbox: Sandbox) -> str:
    name = "refusals"
    sandbox.client("sagemaker").create_model_package_group(ModelPackageGroupName=name)
    return name


INFERENCE = {
    "Containers": [
        {"Image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/m:1", "ModelDataUrl": "s3://models/m/model.tar.gz"}
    ],
    "SupportedContentTypes": ["text/csv"],
    "SupportedResponseMIMETypes": ["text/csv"],
}


@pytest.mark.parametrize(
    ("properties", "constraint"),
    [
        ({"data-uri": "s3://b/" + "k" * 251}, "Map value must satisfy constraint"),  # 257 characters
        ({"note": "a,b"}, "Map value must satisfy constraint"),
        ({"note": 'say "yes"'}, "Map value must satisfy constraint"),
        ({"note": ""}, "Map value must satisfy constraint"),
        ({"a key, with a comma": "x"}, "Map keys must satisfy constraint"),
        ({f"key-{n}": "x" for n in range(51)}, "Member must have length less than or equal to 50"),
    ],
)
def test_sagemaker_refuses_metadata_outside_its_limits(
    sandbox: Sandbox, group: str, properties: dict[str, str], constraint: str
) -> None:
    sagemaker = unvalidated()
    with pytest.raises(ClientError) as refused:
        sagemaker.create_model_package(
            ModelPackageGroupName=group,
            InferenceSpecification=INFERENCE,
            ModelApprovalStatus="PendingManualApproval",
            CustomerMetadataProperties=properties,
        )

    error = refused.value.response["Error"]
    assert error["Code"] == "ValidationException"
    assert error["Message"].startswith("1 validation error detected: Value '{")
    assert f"at 'customerMetadataProperties' failed to satisfy constraint: {constraint}" in error["Message"]
    assert sandbox.client("sagemaker").list_model_packages(ModelPackageGroupName=group)["ModelPackageSummaryList"] == []


def test_an_update_may_not_take_a_version_past_fifty_properties(sandbox: Sandbox, group: str) -> None:
    sagemaker = unvalidated()
    arn = sagemaker.create_model_package(
        ModelPackageGroupName=group,
        InferenceSpecification=INFERENCE,
        ModelApprovalStatus="PendingManualApproval",
        CustomerMetadataProperties={f"key-{n}": "x" for n in range(30)},
    )["ModelPackageArn"]

    with pytest.raises(ClientError, match="ValidationException") as refused:
        sagemaker.update_model_package(
            ModelPackageArn=arn, CustomerMetadataProperties={f"more-{n}": "y" for n in range(21)}
        )
    with pytest.raises(ClientError, match="Map value must satisfy constraint"):
        sagemaker.update_model_package(ModelPackageArn=arn, CustomerMetadataProperties={"note": "a;b"})

    assert "at most 50" in refused.value.response["Error"]["Message"]
    kept = sagemaker.describe_model_package(ModelPackageName=arn)["CustomerMetadataProperties"]
    assert kept == {f"key-{n}": "x" for n in range(30)}


def test_adding_a_tag_again_overwrites_it(sandbox: Sandbox, group: str) -> None:
    sagemaker = sandbox.client("sagemaker")
    arn = sagemaker.describe_model_package_group(ModelPackageGroupName=group)["ModelPackageGroupArn"]

    sagemaker.add_tags(ResourceArn=arn, Tags=[{"Key": "owner", "Value": "team-a"}])
    sagemaker.add_tags(
        ResourceArn=arn, Tags=[{"Key": "owner", "Value": "team-b"}, {"Key": "compliance", "Value": "none"}]
    )

    assert sagemaker.list_tags(ResourceArn=arn)["Tags"] == [
        {"Key": "owner", "Value": "team-b"},
        {"Key": "compliance", "Value": "none"},
    ]


# ---------------------------------------------------------------------- the stack's parameters
@pytest.mark.parametrize("parameter", sorted(GOVERNANCE.values()))
def test_the_stack_takes_only_values_both_a_tag_and_the_metadata_accept(parameter: str) -> None:
    template = load_sam_template()
    check_rules(template, project_parameters("churn", **{parameter: "ML Platform: team@example.com/eu-1"}))
    assert template["Parameters"][parameter]["Default"]
    for bad in ("", "a,b", 'say "yes"', "x" * 257, "semi;colon", "line\nbreak"):
        with pytest.raises(RuleRefused, match=f"Parameter '{parameter}' failed to satisfy constraint"):
            check_rules(template, project_parameters("churn", **{parameter: bad}))


# ---------------------------------------------------------------------- the retrain's data version
def test_the_data_version_is_the_objects_version_id_or_else_its_etag() -> None:
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="plain")
        s3.create_bucket(Bucket="versioned")
        s3.put_bucket_versioning(Bucket="versioned", VersioningConfiguration={"Status": "Enabled"})
        plain = s3.put_object(Bucket="plain", Key="data/churn.csv", Body=b"a,b\n1,0\n")
        kept = s3.put_object(Bucket="versioned", Key="data/churn.csv", Body=b"a,b\n1,0\n")

        assert data_version(s3, "s3://plain/data/churn.csv") == plain["ETag"].strip('"')
        assert data_version(s3, "s3://versioned/data/churn.csv") == kept["VersionId"]
        assert data_version(s3, "s3://plain/data/missing.csv") is None
        assert data_version(s3, "s3://plain/data/") is None  # a prefix has no one version


# ---------------------------------------------------------------------- what Preprocess records
def preprocess(tmp_path: Path, code_dir: Path) -> dict[str, str]:
    (tmp_path / "input").mkdir()
    (tmp_path / "input" / "churn.csv").write_bytes(publish.DATA.read_bytes())
    subprocess.run(
        [
            *(sys.executable, str(publish.SCRIPTS / "preprocess.py"), "--input-dir", str(tmp_path / "input")),
            *("--output-dir", str(tmp_path / "out"), "--code-dir", str(code_dir)),
        ],
        check=True,
        capture_output=True,
    )
    return dict(json.loads((tmp_path / "out" / "lineage" / "lineage.json").read_text()))


def test_preprocess_records_the_digests_of_the_data_and_the_archive_beside_it_and_the_commit(tmp_path: Path) -> None:
    code = tmp_path / "code"
    code.mkdir()
    (code / "sourcedir.tar.gz").write_bytes(publish.source_archive())
    (code / "source.json").write_bytes(publish.source_record(COMMIT, REPOSITORY))

    lineage = preprocess(tmp_path, code)

    assert lineage == {
        "data_sha256": sha256(publish.DATA.read_bytes()),
        "code_sha256": sha256(publish.source_archive()),
        "commit": COMMIT,
        "repository": REPOSITORY,
    }
    with tarfile.open(code / "sourcedir.tar.gz") as archive:
        assert "preprocess.py" in archive.getnames()  # the archive holds the scripts the job runs


def test_without_an_archive_or_a_source_record_preprocess_says_so(tmp_path: Path) -> None:
    empty = tmp_path / "code"
    empty.mkdir()

    lineage = preprocess(tmp_path, empty)

    assert lineage["code_sha256"] == "absent"
    assert (lineage["commit"], lineage["repository"]) == ("", "")
