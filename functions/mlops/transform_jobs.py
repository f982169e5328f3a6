"""Batch scoring: a file under s3://<bucket>/batch/input/ -> one batch workflow -> one transform job.

One job per object version. The S3 event names the object version (its "version-id" in a versioned bucket, else
its ETag and sequencer); the workflow execution and the transform job are both named from it, so an event
delivered twice starts nothing more (StartExecution refuses the name, CreateTransformJob too). A manual start
names no version: the job is named from its execution (a person asking twice gets two jobs).

The workflow waits for the job's end with a task token, kept in the ledger under the job's name
(BATCH#<target> / JOB#<job>) before the job is created; the "SageMaker Transform Job State Change" event of its
end completes it (no polling). Outputs are joined to their inputs (DataProcessing.JoinSource Input): each output
line is its input line followed by the prediction. A file whose lines carry one more column than the model's
inputs has the label last, as the shipped dataset (pipeline/data/churn.csv): the job's InputFilter drops it from
what the model sees, the joined output keeps it, and the batch monitor scores the predictions against it.
"""

from __future__ import annotations

import hashlib
import posixpath
from dataclasses import dataclass
from typing import Any

from .ledger import Ledger, now_iso
from .task_tokens import complete

INPUT_PREFIX = "batch/input/"
OUTPUT_PREFIX = "batch/output/"
ENDED = {"Completed", "Failed", "Stopped"}  # DescribeTransformJob's final TransformJobStatus values
PEEK_BYTES = 64 * 1024  # enough for a CSV file's first line


class InvalidBatchInput(ValueError):
    """The file cannot be scored by the live version (wrong number of columns, empty, not under batch/input/)."""


def split_url(url: str) -> tuple[str, str]:
    if not url.startswith("s3://"):
        raise InvalidBatchInput(f"InputUrl {url!r} is not an s3:// URL")
    bucket, _, key = url.removeprefix("s3://").partition("/")
    if not bucket or not key or key.endswith("/"):
        raise InvalidBatchInput(f"InputUrl {url!r} names no object")
    return bucket, key


def object_version(version_id: str | None, etag: str | None, sequencer: str | None) -> str:
    """What tells two versions of a key apart: its version id, else (unversioned bucket) its ETag and sequencer."""
    return version_id or f"{etag or ''}.{sequencer or ''}"


def run_name(input_url: str, version: str) -> str:
    """The workflow execution's name for one object version (Step Functions: 1-80 characters)."""
    return "object-" + hashlib.sha256(f"{input_url}#{version}".encode()).hexdigest()[:40]


def job_name(project: str, input_url: str, version: str, execution_arn: str) -> str:
    """<project>-batch-<24 hex>: at most 20 + 7 + 24 = 51 of SageMaker's 63 characters."""
    basis = f"{input_url}#{version}" if version != "none" else execution_arn
    return f"{project}-batch-" + hashlib.sha256(basis.encode()).hexdigest()[:24]


def output_url(bucket: str, job: str, input_key: str) -> str:
    """SageMaker writes <S3OutputPath>/<input file name>.out for an input named by its full key (botocore's
    sagemaker model, TransformOutput.S3OutputPath)."""
    return f"s3://{bucket}/{OUTPUT_PREFIX}{job}/{posixpath.basename(input_key)}.out"


def columns_of(s3: Any, bucket: str, key: str) -> int:
    """How many comma-separated columns the file's first line has (a ranged read: the job reads the file)."""
    body = s3.get_object(Bucket=bucket, Key=key, Range=f"bytes=0-{PEEK_BYTES - 1}")["Body"].read()
    first = body.split(b"\n", 1)[0].strip()
    if not first:
        raise InvalidBatchInput(f"s3://{bucket}/{key} is empty or starts with an empty line")
    return first.count(b",") + 1


def input_filter(columns: int, inputs: int, url: str) -> tuple[str, bool]:
    """(DataProcessing.InputFilter, whether each line carries its label first)."""
    if columns == inputs:
        return "$", False
    if columns == inputs + 1:
        # every input column by index: AWS's guide reads a slice's end as inclusive ("$[1:4] specifies the second
        # through fifth columns") while the JsonPath it cites excludes it; an index list means the same to both
        return "$[" + ",".join(str(index) for index in range(inputs)) + "]", True
    raise InvalidBatchInput(
        f"{url} has {columns} columns; the live version takes {inputs} (or {inputs + 1} with the label last)"
    )


@dataclass(frozen=True)
class JobRequest:
    project: str
    bucket: str  # the artifact bucket: the outputs go under its batch/output/
    model_name: str
    instance_type: str
    instance_count: int
    kms_key_id: str = ""

    def create(self, name: str, input_url: str, in_filter: str) -> dict[str, Any]:
        """CreateTransformJob's request (botocore's sagemaker model, CreateTransformJobRequest)."""
        output: dict[str, Any] = {
            "S3OutputPath": f"s3://{self.bucket}/{OUTPUT_PREFIX}{name}/",
            "Accept": "text/csv",
            "AssembleWith": "Line",
        }
        resources: dict[str, Any] = {"InstanceType": self.instance_type, "InstanceCount": self.instance_count}
        if self.kms_key_id:
            output["KmsKeyId"] = self.kms_key_id
            resources["VolumeKmsKeyId"] = self.kms_key_id
        return {
            "TransformJobName": name,
            "ModelName": self.model_name,
            "BatchStrategy": "MultiRecord",
            "MaxPayloadInMB": 6,
            "TransformInput": {
                "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": input_url}},
                "ContentType": "text/csv",
                "SplitType": "Line",
            },
            "TransformOutput": output,
            "TransformResources": resources,
            "DataProcessing": {"InputFilter": in_filter, "JoinSource": "Input", "OutputFilter": "$"},
            "Tags": [{"Key": "mlops:project", "Value": self.project}],
        }


def _already_exists(error: Exception) -> bool:
    """CreateTransformJob refused the name as taken: ResourceInUse, the error botocore's sagemaker model lists for
    it (SageMaker's answer to a training job's name taken), or a ValidationException saying so."""
    response = getattr(error, "response", {}) or {}
    message = str(response.get("Error", {}).get("Message", ""))
    code = response.get("Error", {}).get("Code")
    return code in ("ResourceInUse", "ValidationException") and "already exist" in message.lower()


def start_job(
    sagemaker: Any,
    sfn: Any,
    ledger: Ledger,
    s3: Any,
    *,
    target: str,
    request: JobRequest,
    name: str,
    input_url: str,
    inputs: int,
    token: str,
    execution_arn: str,
) -> dict[str, Any]:
    """Keep the token under the job's name, then create the job. A job of that name already there (the same
    object version again) is not created twice: if it has ended, the token is completed from its description now."""
    bucket, key = split_url(input_url)
    in_filter, labelled = input_filter(columns_of(s3, bucket, key), inputs, input_url)
    result = {
        "JobName": name,
        "InputUrl": input_url,
        "OutputUrl": output_url(request.bucket, name, key),
        "Labelled": labelled,
        "ModelName": request.model_name,
    }
    ledger.put(
        f"BATCH#{target}",
        f"JOB#{name}",
        task_token=token,
        execution_arn=execution_arn,
        input_url=input_url,
        output_url=result["OutputUrl"],
        labelled=labelled,
        model_name=request.model_name,
        started_at=now_iso(),
    )
    try:
        sagemaker.create_transform_job(**request.create(name, input_url, in_filter))
    except sagemaker.exceptions.ClientError as error:
        if not _already_exists(error):
            raise
        job = sagemaker.describe_transform_job(TransformJobName=name)
        status = str(job["TransformJobStatus"])
        if status in ENDED:
            finish(sfn, ledger, target, name, status, str(job.get("FailureReason") or ""))
        return {**result, "Created": False, "Status": status}
    return {**result, "Created": True, "Status": "InProgress"}


def finish(sfn: Any, ledger: Ledger, target: str, name: str, status: str, failure: str) -> str:
    """Complete the workflow waiting on the job; what was done, in words."""
    record = ledger.get(f"BATCH#{target}", f"JOB#{name}")
    if not record or not record.get("task_token"):
        return f"no batch workflow waits on transform job {name}"
    token = str(record["task_token"])
    if status == "Completed":
        output = {
            "JobName": name,
            "Status": status,
            "InputUrl": record.get("input_url"),
            "OutputUrl": record.get("output_url"),
            "Labelled": record.get("labelled") is True,
            "ModelName": record.get("model_name"),
        }
        done = complete(sfn, token, output=output)
    else:
        cause = f"transform job {name} {status}: {failure or 'no reason given'}"
        done = complete(sfn, token, error="TransformJobFailed", cause=cause)
    ledger.annotate(f"BATCH#{target}", f"JOB#{name}", status=status, ended_at=now_iso())
    if not done:
        return f"transform job {name} {status}; its workflow no longer waits (ended or timed out)"
    return f"transform job {name} {status}: its batch workflow goes on"
