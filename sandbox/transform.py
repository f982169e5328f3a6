"""SageMaker batch transform, done by the sandbox: a transform job runs the model's own serving code over its input.

What a job does, as SageMaker documents it (botocore's sagemaker model, CreateTransformJobRequest and its
shapes; SageMaker developer guide, "Associate Prediction Results with Input Records",
https://docs.aws.amazon.com/sagemaker/latest/dg/batch-transform-data-processing.html):

- input: TransformInput.DataSource.S3DataSource. S3Prefix: "Amazon SageMaker uses all objects with the specified
  key name prefix"; ManifestFile: a JSON list, `[{"prefix": "s3://bucket/prefix/"}, "relative/key", ...]`, naming
  the objects. CompressionType Gzip: "Amazon SageMaker automatically decompresses the data".
- records: SplitType None: "request payloads contain the entire contents of an input object"; Line: "split records
  on a newline character boundary". BatchStrategy MultiRecord: "sends the maximum number of records in each
  request, up to the MaxPayloadInMB limit" ("The default value is 6 MB"); SingleRecord: "individual records in each
  request".
- DataProcessing on CSV data: "each row is taken as a JSON array, so only index based JSONPaths can be applied, e.g.
  $[0], $[1:]"; InputFilter selects what the model gets; JoinSource Input "joins the transformed data with the input
  by appending each transformed row to the end of the input" (CreateTransformJob's DataProcessing.JoinSource);
  OutputFilter selects from the joined record ("If you specify indexes that aren't within the dimension size of the
  joined dataset, you get an error").
- output: "For every S3 object used as input for the transform job, batch transform stores the transformed data
  with an .out suffix in a corresponding subfolder in the location in the output prefix. [...] Batch transform
  doesn't upload partially processed objects. [...] uploads only the output for successfully processed objects. If
  any object fails in the transform job batch transform marks the job as failed" (TransformOutput.S3OutputPath).
  AssembleWith Line: "add a newline character at the end of every transformed record".
- StopTransformJob: "When you stop a batch transform job before it is completed, Amazon SageMaker doesn't store the
  job's output in Amazon S3."

Sandbox choices (AWS documents none of these):
- one worker per job, objects in the order listed, requests one after the other (MaxConcurrentTransforms and
  InstanceCount change nothing but what DescribeTransformJob shows); a job waits PROVISIONING_SECONDS of
  (compressed) time before its first request, then runs at the model's own speed;
- the relative name of an object is its key after the S3Uri's last "/" (S3Prefix), or the manifest's entry: its
  output is <S3OutputPath>/<relative name>.out (the API reference's own example, input-name-prefix/dataset01/data.csv
  to output-name-prefix/input-name-prefix/data.csv.out, names no rule this could follow);
- empty lines are no records; a CSV record is parsed and written back as RFC 4180 (csv module) when a filter or a
  join needs its fields, sent byte for byte otherwise;
- the answer to a request of N records is N records: N lines (or a JSON list of N values for application/json);
  a join needs exactly that many, or the object fails;
- a slice's end is inclusive, as the developer guide's worked example says ("`$[1:4]` specifies the second through
  fifth columns"; its operator table cites Jayway JsonPath, whose slices end before `end`); an index outside the
  record fails the object, a slice is cut to the record;
- Environment and ModelClientConfig are kept, not applied; DataCaptureConfig captures nothing.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import re
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO

PROVISIONING_SECONDS = 60.0  # Sandbox choice: AWS time before the first request, compressed by the time scale
DEFAULT_MAX_PAYLOAD_MB = 6  # "The default value is 6 MB" (CreateTransformJobRequest.MaxPayloadInMB)
READ_CHUNK = 1 << 20
SPILL_BYTES = 16 << 20  # an object's output is kept in memory up to this size, on disk beyond

# The characters SageMaker accepts in a DataProcessing filter, as its ValidationException lists them:
# 'Invalid OutputFilter: "$['account_id','SageMakerOutput']". Unexpected "_" in JsonPath. Supported operators for
# "application/jsonlines" are ['$', '[', ']', '*', '.', ' ', ',', ':', '-', ''']' (recorded in aws/aws-sdk#184, where
# the SageMaker team confirmed only the documented operators are supported); letters and digits name fields and
# indexes.
FILTER_OPERATORS = ("$", "[", "]", "*", ".", " ", ",", ":", "-", "'")
_INDEX_ITEM = re.compile(r"\s*(-?\d+)?\s*(:)?\s*(-?\d+)?\s*")


class FilterError(ValueError):
    """A DataProcessing filter SageMaker would refuse (at CreateTransformJob) or fail on (at run time)."""


class ObjectFailed(Exception):
    """One input object could not be transformed; `lines` are what the job's data log says about it."""

    def __init__(self, lines: list[str]) -> None:
        super().__init__("; ".join(lines))
        self.lines = lines


class Stopped(Exception):
    """StopTransformJob was called."""


@dataclass(frozen=True)
class Selector:
    """An index-based JSONPath on a CSV record: `$`, `$[*]`, `$[i]`, `$[i,j]`, `$[a:b]`, `$[a:]`, `$[:b]`, `$[0,5:]`."""

    expression: str
    items: tuple[tuple[int | None, bool, int | None], ...] | None  # (start, is_slice, end); None: the whole record

    def __call__(self, record: list[str]) -> list[str]:
        if self.items is None:
            return record
        size, selected = len(record), []
        for start, is_slice, end in self.items:
            if not is_slice:
                assert start is not None
                index = start + size if start < 0 else start
                if not 0 <= index < size:
                    raise FilterError(
                        f"Invalid JsonPath: {self.expression}: index {start} is outside a record of {size} fields"
                    )
                selected.append(record[index])
                continue
            first = 0 if start is None else (start + size if start < 0 else start)
            last = size - 1 if end is None else (end + size if end < 0 else end)  # inclusive (see the module)
            selected.extend(record[max(first, 0) : max(last + 1, 0)])
        return selected


def parse_filter(member: str, expression: str | None, content_type: str) -> Selector | None:
    """The filter as a Selector (None for the default `$`), or FilterError with SageMaker's message."""
    if expression is None or expression.strip() == "$":
        return None
    for character in expression:
        if not (character.isalnum() or character in FILTER_OPERATORS):
            raise FilterError(
                f'Invalid {member}: "{expression}". Unexpected "{character}" in JsonPath. Supported operators for '
                f'"{content_type}" are [{", ".join(repr(o) for o in FILTER_OPERATORS)}]'
            )
    text = expression.strip()
    inside = text[2:-1] if text.startswith("$[") and text.endswith("]") else None
    if inside is not None and inside.strip() == "*":
        return Selector(expression, None)
    # Sandbox choice (the wording): SageMaker documents that only index-based paths apply to CSV rows.
    index_based = (
        f'Invalid {member}: "{expression}". For "{content_type}" data each row is taken as a JSON array, so only '
        'index-based JsonPaths such as "$[0]", "$[1,3]" or "$[1:]" apply'
    )
    if inside is None or not inside.strip():
        raise FilterError(index_based)
    items = []
    for part in inside.split(","):
        match = _INDEX_ITEM.fullmatch(part)
        if match is None or match.group(0).strip() == "" or (match.group(2) is None and match.group(3) is not None):
            raise FilterError(index_based)
        start, colon, end = match.groups()
        if colon is None and start is None:
            raise FilterError(index_based)
        items.append((None if start is None else int(start), colon is not None, None if end is None else int(end)))
    return Selector(expression, tuple(items))


@dataclass(frozen=True)
class InputObject:
    bucket: str
    key: str
    relative: str  # its name under the output path, before ".out"

    @property
    def where(self) -> str:
        """How SageMaker's data log names an object: bucket/key."""
        return f"{self.bucket}/{self.key}"


def split_uri(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


def list_inputs(s3: Any, data_type: str, uri: str) -> list[InputObject]:
    """The objects a job transforms: every key under an S3Prefix (folder markers, keys ending in "/", aside), or
    every entry of a manifest."""
    bucket, key = split_uri(uri)
    if data_type == "ManifestFile":
        manifest = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
        if not isinstance(manifest, list) or not manifest or not isinstance(manifest[0], dict):
            raise ValueError(f'the manifest {uri} is not [{{"prefix": "s3://..."}}, "relative/key", ...]')
        prefix_bucket, prefix = split_uri(str(manifest[0].get("prefix", "")))
        return [InputObject(prefix_bucket, prefix + str(entry), str(entry)) for entry in manifest[1:]]
    base = key.rsplit("/", 1)[0] + "/" if "/" in key else ""
    found = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=key):
        for item in page.get("Contents", []):
            if not item["Key"].endswith("/"):
                found.append(InputObject(bucket, item["Key"], item["Key"][len(base) :]))
    return found


def output_key(output_path: str, relative: str) -> tuple[str, str]:
    bucket, prefix = split_uri(output_path)
    prefix = prefix.rstrip("/")
    return bucket, f"{prefix}/{relative}.out" if prefix else f"{relative}.out"


Invoke = Callable[[dict[str, Any], bytes, str, str], tuple[bytes, str]]


@dataclass
class Run:
    """What one transform job does, read from its request."""

    containers: list[dict[str, Any]]
    inputs: list[InputObject]
    content_type: str = ""
    accept: str = ""
    split_type: str = "None"
    compression: str = "None"
    batch_strategy: str = "MultiRecord"
    max_payload_mb: int = DEFAULT_MAX_PAYLOAD_MB
    input_filter: Selector | None = None
    output_filter: Selector | None = None
    join: bool = False
    output_path: str = ""
    assemble_with: str = "None"
    kms_key_id: str | None = None
    stop: threading.Event = field(default_factory=threading.Event)

    @property
    def processes_rows(self) -> bool:
        return self.input_filter is not None or self.output_filter is not None or self.join


def _lines(stream: BinaryIO) -> Iterator[bytes]:
    """The object's lines, read a chunk at a time (never the whole object), without their line ends."""
    rest = b""
    while chunk := stream.read(READ_CHUNK):
        parts = (rest + chunk).split(b"\n")
        rest = parts.pop()
        for line in parts:
            line = line.removesuffix(b"\r")
            if line:
                yield line
    rest = rest.removesuffix(b"\r")
    if rest:
        yield rest


def _batches(lines: Iterator[bytes], run: Run, where: str) -> Iterator[list[bytes]]:
    limit = run.max_payload_mb * 1024 * 1024 if run.max_payload_mb > 0 else None  # 0: no limit (chunked encoding)
    batch: list[bytes] = []
    size = 0
    for line in lines:
        if limit is not None and len(line) + 1 > limit:
            raise ObjectFailed(
                [f"{where}: ClientError: a record of {len(line) + 1} bytes is larger than MaxPayloadInMB"]
            )
        if batch and (run.batch_strategy == "SingleRecord" or (limit is not None and size + len(line) + 1 > limit)):
            yield batch
            batch, size = [], 0
        batch.append(line)
        size += len(line) + 1
    if batch:
        yield batch


def _csv_text(rows: list[list[str]]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue()


def _answer_records(answer: bytes, answer_type: str, count: int, where: str) -> list[list[str]]:
    """The answer to `count` records, one list of fields per record."""
    text = answer.decode(errors="replace")
    if answer_type.startswith("application/json"):
        try:
            values = json.loads(text)
        except ValueError:
            values = None
        records = [[json.dumps(v) if not isinstance(v, str) else v] for v in values] if isinstance(values, list) else []
    else:
        records = [row for row in csv.reader(io.StringIO(text)) if row]
    if len(records) != count:
        raise ObjectFailed(
            [
                f"{where}: ClientError: the model answered {len(records)} records to a request of {count}: "
                "each record's answer is needed to join it to its input"
            ]
        )
    return records


class Transformer:
    """Runs a job's objects through the model; `invoke` is the served model's request (serving.ServedModels)."""

    def __init__(self, s3: Callable[[], Any], invoke: Invoke) -> None:
        self._s3 = s3
        self._invoke = invoke

    def _call(self, run: Run, body: bytes, where: str) -> tuple[bytes, str]:
        content_type = run.content_type
        for container in run.containers:  # a serial inference pipeline: each container answers the next one
            try:
                body, content_type = self._invoke(container, body, content_type, run.accept)
            except Exception as error:
                raise ObjectFailed(
                    [f"{where}: ClientError: 400", f"{where}: ", f"{where}: Message:", f"{where}: {error}"]
                ) from error
        return body, content_type

    def transform(self, run: Run, item: InputObject) -> BinaryIO:
        """The object's whole output, in a temporary file (ObjectFailed, Stopped otherwise)."""
        s3 = self._s3()
        try:
            body = s3.get_object(Bucket=item.bucket, Key=item.key)["Body"]
        except Exception as error:
            raise ObjectFailed([f"{item.where}: ClientError: {error}"]) from error
        stream: Any = gzip.GzipFile(fileobj=body) if run.compression == "Gzip" else body
        out: Any = tempfile.SpooledTemporaryFile(max_size=SPILL_BYTES)  # noqa: SIM115 - returned to the caller
        try:
            if run.split_type == "None":
                answer, _ = self._call(run, stream.read(), item.where)
                out.write(answer)
                if run.assemble_with == "Line" and not answer.endswith(b"\n"):
                    out.write(b"\n")
            else:
                for batch in _batches(_lines(stream), run, item.where):
                    if run.stop.is_set():
                        raise Stopped()
                    out.write(self._batch(run, batch, item.where))
        except (ObjectFailed, Stopped):
            out.close()
            raise
        except (OSError, EOFError, UnicodeDecodeError, FilterError, csv.Error) as error:  # unreadable input
            out.close()
            raise ObjectFailed([f"{item.where}: ClientError: {type(error).__name__}: {error}"]) from error
        out.seek(0)
        return out

    def _batch(self, run: Run, batch: list[bytes], where: str) -> bytes:
        if not run.processes_rows:
            answer, _ = self._call(run, b"\n".join(batch) + b"\n", where)
            if run.assemble_with == "Line" and not answer.endswith(b"\n"):
                answer += b"\n"
            return answer
        rows = list(csv.reader(io.StringIO(b"\n".join(batch).decode())))
        sent = [run.input_filter(row) for row in rows] if run.input_filter else rows
        answer, answer_type = self._call(run, _csv_text(sent).encode(), where)
        outputs = _answer_records(answer, answer_type, len(rows), where)
        joined = [row + output for row, output in zip(rows, outputs, strict=True)] if run.join else outputs
        if run.output_filter:
            joined = [run.output_filter(row) for row in joined]
        return _csv_text(joined).encode()

    def upload(self, run: Run, item: InputObject, output: BinaryIO) -> None:
        bucket, key = output_key(run.output_path, item.relative)
        extra: dict[str, str] = {}
        if run.kms_key_id:  # TransformOutput.KmsKeyId: "encrypt [...] using Amazon S3 server-side encryption"
            extra = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": run.kms_key_id}
        self._s3().put_object(Bucket=bucket, Key=key, Body=output, **extra)  # otherwise the bucket's default
