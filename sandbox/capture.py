"""SageMaker's data capture, done by the sandbox's endpoints.

An endpoint config with DataCaptureConfig.EnableCapture writes a sample of its requests and answers
(InitialSamplingPercentage) to <DestinationS3Uri>/<endpoint>/<variant>/yyyy/mm/dd/hh/<file>.jsonl,
one JSON line per request, as SageMaker does. Files are written whole and never changed: a writer
buffers lines and puts a new file when it holds `lines_per_file` of them or on `flush()` (the
sandbox flushes before anyone reads, and every second).

A request's record carries its own eventId and its time (inferenceTime); the client's InferenceId, when it sent
one, as eventMetadata.inferenceId ("If you provide a value, it is added to the captured data", botocore's
sagemaker-runtime model, InvokeEndpointInput.InferenceId; the field is named inferenceId in captured records,
SageMaker developer guide, "Ingest Ground Truth labels and merge them with predictions",
https://docs.aws.amazon.com/sagemaker/latest/dg/model-monitor-model-quality-merge.html). Each variant of an
endpoint, a shadow variant too, is sampled and written on its own.
"""

from __future__ import annotations

import base64
import json
import random
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any


def capture_line(
    body: bytes,
    content_type: str,
    answer: bytes,
    answer_type: str,
    at: datetime,
    event_id: str | None = None,
    inference_id: str | None = None,
) -> str:
    def part(data: bytes, observed: str, mode: str) -> dict[str, str]:
        if observed.startswith("text/csv"):
            return {"observedContentType": observed, "mode": mode, "data": data.decode(), "encoding": "CSV"}
        if observed.startswith("application/json"):
            return {"observedContentType": observed, "mode": mode, "data": data.decode(), "encoding": "JSON"}
        encoded = base64.b64encode(data).decode()
        return {"observedContentType": observed, "mode": mode, "data": encoded, "encoding": "BASE64"}

    record = {
        "captureData": {
            "endpointInput": part(body, content_type, "INPUT"),
            "endpointOutput": part(answer, answer_type, "OUTPUT"),
        },
        "eventMetadata": {
            "eventId": event_id or str(uuid.uuid4()),
            **({"inferenceId": inference_id} if inference_id else {}),
            "inferenceTime": at.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
        },
        "eventVersion": "0",
    }
    return json.dumps(record, separators=(",", ":"))


class CaptureWriter:
    def __init__(self, s3: Callable[[], Any], lines_per_file: int = 200) -> None:
        self._s3 = s3
        self._lines_per_file = lines_per_file
        self._buffers: dict[tuple[str, str], list[str]] = {}
        self._lock = threading.Lock()

    def record(
        self,
        config: dict[str, Any],
        endpoint: str,
        variant: str,
        body: bytes,
        content_type: str,
        answer: bytes,
        answer_type: str,
        at: datetime | None = None,
        inference_id: str | None = None,
    ) -> None:
        """Capture one variant's request and answer (at `at`, the request's time; now by default), if sampled."""
        if not config.get("EnableCapture"):
            return
        if random.random() * 100 >= float(config.get("InitialSamplingPercentage", 100)):
            return
        now = at or datetime.now(UTC)
        bucket, _, prefix = str(config["DestinationS3Uri"]).removeprefix("s3://").partition("/")
        folder = "/".join(p for p in (prefix.strip("/"), endpoint, variant, now.strftime("%Y/%m/%d/%H")) if p)
        line = capture_line(body, content_type, answer, answer_type, now, inference_id=inference_id)
        with self._lock:
            lines = self._buffers.setdefault((bucket, folder), [])
            lines.append(line)
            full = len(lines) >= self._lines_per_file
        if full:
            self.flush()

    def flush(self) -> int:
        """Write every buffered line to new files; returns how many files were written."""
        with self._lock:
            buffers, self._buffers = self._buffers, {}
        for (bucket, folder), lines in buffers.items():
            name = datetime.now(UTC).strftime("%M-%S-%f")[:-3] + f"-{uuid.uuid4()}.jsonl"
            self._s3().put_object(Bucket=bucket, Key=f"{folder}/{name}", Body=("\n".join(lines) + "\n").encode())
        return len(buffers)

    def clear(self) -> None:
        with self._lock:
            self._buffers.clear()
