"""Batch transform jobs run the model's own serving code over their input (sandbox/transform.py, patches section 13).

A job on a seeded version's model reads every object under its input prefix, sends its records to the served model
(InputFilter selecting what the model sees), joins each answer to its input (JoinSource Input), writes
<output>/<relative name>.out for each object it transformed whole, and says so: DescribeTransformJob and
"SageMaker Transform Job State Change" events (tests/aws_events/transform-job-state-change.json), InProgress then
Completed, or Failed with a FailureReason and the cause in the job's data log.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import botocore.session
import pytest
from botocore.exceptions import ClientError

from pipeline import dataset
from sandbox import transform
from sandbox.core import Sandbox
from tests.aws_shapes import documented
from tests.conftest import SandboxWorld, seeded

ROLE = "arn:aws:iam::123456789012:role/churn-sagemaker-execution"
DOCUMENTED = documented("transform-job-state-change.json")
TRANSFORM_STATUSES = set(
    botocore.session.get_session()
    .get_service_model("sagemaker")
    .operation_model("DescribeTransformJob")
    .output_shape.members["TransformJobStatus"]
    .enum
)


@pytest.fixture(scope="module")
def world() -> Iterator[SandboxWorld]:
    """The churn project seeded once for this module: v1 live on the endpoint, its model a SageMaker model too."""
    with Sandbox() as sandbox:
        churn = seeded(sandbox, BakeSeconds="60", RetentionSeconds="60", MinCandidateInvocations="0")
        churn.client("sagemaker").create_model(
            ModelName="churn-batch",
            ExecutionRoleArn=ROLE,
            Containers=[{"ModelPackageName": churn.world.live_version_arn}],
        )
        yield churn


def customers(rows: int, seed: int = 7) -> list[dict[str, object]]:
    return dataset.generate(rows=rows, seed=seed)


def labelled_lines(records: list[dict[str, object]]) -> list[str]:
    """Each customer as a CSV line: its label first, then the columns a client sends."""
    return [",".join(str(r[c]) for c in (dataset.LABEL, *dataset.COLUMNS)) for r in records]


def feature_lines(records: list[dict[str, object]]) -> list[str]:
    return [",".join(str(r[c]) for c in dataset.COLUMNS) for r in records]


def endpoint_answers(world: SandboxWorld, lines: list[str]) -> list[str]:
    """What the live endpoint, serving the same version, answers for these customers."""
    answer = world.client("sagemaker-runtime").invoke_endpoint(
        EndpointName=world.stack.endpoint_name, Body="\n".join(lines) + "\n", ContentType="text/csv"
    )
    return answer["Body"].read().decode().splitlines()


def put(world: SandboxWorld, key: str, lines: list[str]) -> str:
    bucket = world.stack.outputs["ArtifactBucketName"]
    world.client("s3").put_object(Bucket=bucket, Key=key, Body=("\n".join(lines) + "\n").encode())
    return f"s3://{bucket}/{key}"


def read(world: SandboxWorld, key: str) -> str:
    bucket = world.stack.outputs["ArtifactBucketName"]
    return str(world.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read().decode())


def keys_under(world: SandboxWorld, prefix: str) -> list[str]:
    bucket = world.stack.outputs["ArtifactBucketName"]
    listed = world.client("s3").list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])
    return sorted(item["Key"] for item in listed)


def start(world: SandboxWorld, name: str, input_uri: str, output_prefix: str, **request: Any) -> None:
    bucket = world.stack.outputs["ArtifactBucketName"]
    arguments: dict[str, Any] = {
        "TransformJobName": name,
        "ModelName": "churn-batch",
        "TransformInput": {
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": input_uri}},
            "ContentType": "text/csv",
            "SplitType": "Line",
        },
        "TransformOutput": {"S3OutputPath": f"s3://{bucket}/{output_prefix}", "AssembleWith": "Line"},
        "TransformResources": {"InstanceType": "ml.m5.large", "InstanceCount": 1},
    }
    for member, value in request.items():
        if isinstance(value, dict) and isinstance(arguments.get(member), dict):
            arguments[member] = {**arguments[member], **value}
        else:
            arguments[member] = value
    world.client("sagemaker").create_transform_job(**arguments)


def finished(world: SandboxWorld, name: str) -> dict[str, Any]:
    world.sandbox.settle()
    return dict(world.client("sagemaker").describe_transform_job(TransformJobName=name))


def job_events(world: SandboxWorld, name: str) -> list[dict[str, Any]]:
    return [
        event
        for event in world.sandbox.state.emitted_events
        if event["detail-type"] == "SageMaker Transform Job State Change"
        and event["detail"]["TransformJobName"] == name
    ]


def data_log(world: SandboxWorld, name: str) -> list[str]:
    logs = world.client("logs")
    streams = logs.describe_log_streams(logGroupName="/aws/sagemaker/TransformJobs", logStreamNamePrefix=name)
    lines = []
    for stream in streams["logStreams"]:
        events = logs.get_log_events(logGroupName="/aws/sagemaker/TransformJobs", logStreamName=stream["logStreamName"])
        lines += [event["message"] for event in events["events"]]
    return lines


# ------------------------------------------------------------------ what a job writes
def test_each_output_line_is_its_input_line_and_the_models_churn_probability(world: SandboxWorld) -> None:
    """InputFilter "$[1:]" keeps the label column from the model; JoinSource Input keeps it in the output; each
    object under the prefix gets its .out under the output path, subfolders kept."""
    first, second = customers(40, seed=1), customers(25, seed=2)
    source = put(world, "batch/joined/in/first.csv", labelled_lines(first)).rsplit("/", 1)[0] + "/"
    put(world, "batch/joined/in/more/second.csv", labelled_lines(second))

    start(
        world,
        "joined",
        source,
        "batch/joined/out",
        DataProcessing={"InputFilter": "$[1:]", "JoinSource": "Input", "OutputFilter": "$"},
        TransformOutput={"Accept": "text/csv"},
    )
    described = finished(world, "joined")

    assert described["TransformJobStatus"] == "Completed", described.get("FailureReason")
    assert keys_under(world, "batch/joined/out/") == [
        "batch/joined/out/first.csv.out",
        "batch/joined/out/more/second.csv.out",
    ]
    for records, key in ((first, "first.csv"), (second, "more/second.csv")):
        expected = [
            f"{line},{p}"
            for line, p in zip(labelled_lines(records), endpoint_answers(world, feature_lines(records)), strict=True)
        ]
        assert read(world, f"batch/joined/out/{key}.out").splitlines() == expected
    output = read(world, "batch/joined/out/first.csv.out").splitlines()
    probabilities = [float(line.rsplit(",", 1)[1]) for line in output]
    assert all(0 <= p <= 1 for p in probabilities) and len(set(probabilities)) > 1
    assert described["TransformStartTime"] <= described["TransformEndTime"]


def test_an_output_filter_keeps_the_chosen_columns_of_the_joined_record(world: SandboxWorld) -> None:
    records = customers(10, seed=3)
    source = put(world, "batch/filtered/in/part.csv", labelled_lines(records))

    start(
        world,
        "filtered",
        source,
        "batch/filtered/out",
        DataProcessing={"InputFilter": "$[1:]", "JoinSource": "Input", "OutputFilter": "$[0,-1]"},
    )

    assert finished(world, "filtered")["TransformJobStatus"] == "Completed"
    answers = endpoint_answers(world, feature_lines(records))
    expected = [f"{r[dataset.LABEL]},{p}" for r, p in zip(records, answers, strict=True)]
    assert read(world, "batch/filtered/out/part.csv.out").splitlines() == expected


def test_without_data_processing_the_output_is_the_models_answer(world: SandboxWorld) -> None:
    records = customers(12, seed=4)
    source = put(world, "batch/plain/in/only.csv", feature_lines(records))

    start(world, "plain", source, "batch/plain/out", BatchStrategy="SingleRecord")

    assert finished(world, "plain")["TransformJobStatus"] == "Completed"
    assert read(world, "batch/plain/out/only.csv.out").splitlines() == endpoint_answers(world, feature_lines(records))


# ------------------------------------------------------------------ how a job tells
def test_a_job_emits_in_progress_then_completed_with_the_documented_keys(world: SandboxWorld) -> None:
    key = world.client("kms").create_key()["KeyMetadata"]["Arn"]
    source = put(world, "batch/told/in/part.csv", feature_lines(customers(5, seed=5)))

    start(
        world,
        "told",
        source,
        "batch/told/out",
        MaxConcurrentTransforms=2,
        MaxPayloadInMB=1,
        BatchStrategy="MultiRecord",
        Environment={"LOG_LEVEL": "info"},
        TransformInput={"CompressionType": "None"},
        TransformOutput={"Accept": "text/csv", "KmsKeyId": key},
        Tags=[{"Key": "team", "Value": "churn"}],
    )
    described = finished(world, "told")

    events = job_events(world, "told")
    assert [e["detail"]["TransformJobStatus"] for e in events] == ["InProgress", "Completed"]
    assert {e["detail"]["TransformJobStatus"] for e in events} <= TRANSFORM_STATUSES
    in_progress, completed = (e["detail"] for e in events)
    documented_keys = set(DOCUMENTED["detail"]) - {"FailureReason"}
    assert set(completed) == documented_keys
    assert set(in_progress) == documented_keys - {"TransformStartTime", "TransformEndTime"}
    for member in ("TransformInput", "TransformOutput", "TransformResources"):
        assert set(completed[member]) == set(DOCUMENTED["detail"][member])
    assert completed["Tags"] == {"team": "churn"} and completed["Environment"] == {"LOG_LEVEL": "info"}
    assert completed["TransformJobArn"] == described["TransformJobArn"]
    bucket = world.stack.outputs["ArtifactBucketName"]
    head = world.client("s3").head_object(Bucket=bucket, Key="batch/told/out/part.csv.out")
    assert (head["ServerSideEncryption"], head["SSEKMSKeyId"]) == ("aws:kms", key)


def test_a_record_the_model_refuses_fails_the_job_and_leaves_no_output_for_its_object(world: SandboxWorld) -> None:
    good = feature_lines(customers(6, seed=6))
    source = put(world, "batch/refused/in/good.csv", good).rsplit("/", 1)[0] + "/"
    put(world, "batch/refused/in/bad.csv", [*good[:2], "only,three,columns"])

    start(world, "refused", source, "batch/refused/out")
    described = finished(world, "refused")

    assert described["TransformJobStatus"] == "Failed"
    assert described["FailureReason"] == "ClientError: See job logs for more information"
    assert keys_under(world, "batch/refused/out/") == ["batch/refused/out/good.csv.out"]
    events = job_events(world, "refused")
    assert [e["detail"]["TransformJobStatus"] for e in events] == ["InProgress", "Failed"]
    assert events[-1]["detail"]["FailureReason"] == described["FailureReason"]
    bucket = world.stack.outputs["ArtifactBucketName"]
    log = data_log(world, "refused")
    assert any(line.endswith(f"[sagemaker logs]: {bucket}/batch/refused/in/bad.csv: ClientError: 400") for line in log)
    assert any("text/csv rows need 7 columns" in line for line in log)


def test_a_taken_name_is_refused(world: SandboxWorld) -> None:
    source = put(world, "batch/twice/in/part.csv", feature_lines(customers(3, seed=8)))
    start(world, "twice", source, "batch/twice/out")

    with pytest.raises(ClientError) as refused:
        start(world, "twice", source, "batch/twice/again")

    assert refused.value.response["Error"]["Code"] == "ResourceInUse"
    message = refused.value.response["Error"]["Message"]
    assert "a transform job with this name already exists (arn:aws:sagemaker:" in message
    world.sandbox.settle()


def test_an_empty_input_prefix_and_a_filter_sagemaker_does_not_support_are_refused(world: SandboxWorld) -> None:
    bucket = world.stack.outputs["ArtifactBucketName"]
    with pytest.raises(ClientError) as empty:
        start(world, "empty", f"s3://{bucket}/batch/nothing/", "batch/nothing/out")
    assert empty.value.response["Error"]["Code"] == "ValidationException"
    assert empty.value.response["Error"]["Message"].startswith(
        f'No S3 objects found under S3 URL "s3://{bucket}/batch/nothing/" given in input data source.'
    )

    source = put(world, "batch/unsupported/in/part.csv", feature_lines(customers(2, seed=9)))
    for expression, words in (
        ("$[0]_", 'Unexpected "_" in JsonPath'),
        ("$.features", "only index-based JsonPaths"),
    ):
        with pytest.raises(ClientError) as refused:
            start(world, "unsupported", source, "batch/unsupported/out", DataProcessing={"InputFilter": expression})
        assert refused.value.response["Error"]["Code"] == "ValidationException"
        assert words in refused.value.response["Error"]["Message"]


def test_a_stopped_job_stores_no_output(world: SandboxWorld) -> None:
    source = put(world, "batch/stopped/in/part.csv", feature_lines(customers(4, seed=10)))
    start(world, "stopped", source, "batch/stopped/out")

    world.client("sagemaker").stop_transform_job(TransformJobName="stopped")

    assert finished(world, "stopped")["TransformJobStatus"] == "Stopped"
    assert [e["detail"]["TransformJobStatus"] for e in job_events(world, "stopped")] == [
        "InProgress",
        "Stopping",
        "Stopped",
    ]
    assert keys_under(world, "batch/stopped/out/") == []


def test_a_hundred_thousand_lines_complete(world: SandboxWorld) -> None:
    records = customers(100_000, seed=11)
    source = put(world, "batch/large/in/customers.csv", labelled_lines(records))

    began = time.monotonic()
    start(world, "large", source, "batch/large/out", DataProcessing={"InputFilter": "$[1:]", "JoinSource": "Input"})
    described = finished(world, "large")
    took = time.monotonic() - began

    assert described["TransformJobStatus"] == "Completed", described.get("FailureReason")
    output = read(world, "batch/large/out/customers.csv.out").splitlines()
    assert len(output) == 100_000
    assert output[0].startswith(labelled_lines(records[:1])[0] + ",")
    print(f"100,000 lines transformed in {took:.1f} s")


# ------------------------------------------------------------------ the filters SageMaker documents
@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("$", ["a", "b", "c", "d", "e"]),
        ("$[*]", ["a", "b", "c", "d", "e"]),
        ("$[1:]", ["b", "c", "d", "e"]),
        ("$[0,2]", ["a", "c"]),
        ("$[-1]", ["e"]),
        ("$[1:3]", ["b", "c", "d"]),  # "$[1:4] specifies the second through fifth columns": the end is inclusive
        ("$[:1]", ["a", "b"]),
        ("$[0,3:]", ["a", "d", "e"]),
        ("$[ 0 , -1 ]", ["a", "e"]),
    ],
)
def test_index_based_filters_select_as_documented(expression: str, expected: list[str]) -> None:
    selector = transform.parse_filter("InputFilter", expression, "text/csv")
    record = ["a", "b", "c", "d", "e"]
    assert (selector(record) if selector else record) == expected


def test_an_index_outside_the_record_is_an_error() -> None:
    selector = transform.parse_filter("OutputFilter", "$[7]", "text/csv")
    assert selector is not None
    with pytest.raises(transform.FilterError):
        selector(["a", "b"])
