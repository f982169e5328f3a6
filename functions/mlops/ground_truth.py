"""Ground truth in SageMaker Model Monitor's format, joined to the captured predictions it labels.

Labels are JSON Lines under s3://<bucket>/groundtruth/yyyy/mm/dd/hh/ (the hour they were collected), one record per
line: {"groundTruthData": {"data": "1", "encoding": "CSV"}, "eventMetadata": {"eventId": "..."}, "eventVersion": "0"}
(Model Monitor developer guide, "Ingest Ground Truth labels and merge them with predictions":
https://docs.aws.amazon.com/sagemaker/latest/dg/model-monitor-model-quality-merge.html). The eventId names the
captured request: its inferenceId when the client sent one (eventMetadata.inferenceId in the capture record), else
the capture record's own eventId. A request of several rows takes as many labels, comma- or newline-separated.

Labels arrive late: a label joins a prediction captured up to `window_hours` before the hour its file is filed
under. Malformed lines, labels of no captured request, labels whose count differs from the request's predictions
and second labels of one request are counted, with a few reasons, never dropped silently.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from .captures import files_after
from .drift import decode_part, record_outputs, record_rows

GROUND_TRUTH_PREFIX = "groundtruth"
MAX_REASONS = 5


class MalformedLabel(ValueError):
    """A ground-truth line that is not Model Monitor's label record."""


def parse_label(line: bytes | str) -> tuple[str, list[int]]:
    """(the event it labels, its labels 0/1)."""
    try:
        record = json.loads(line)
        event = record["eventMetadata"]["eventId"]
        data = record["groundTruthData"]
        text = decode_part(data) if isinstance(data, dict) else None
    except (ValueError, KeyError, TypeError) as error:
        raise MalformedLabel(f"not a ground-truth record ({type(error).__name__}: {error})") from error
    if not isinstance(event, str) or not event:
        raise MalformedLabel("eventMetadata.eventId is missing or empty")
    if text is None:
        raise MalformedLabel("groundTruthData is not an object")
    values = [value.strip() for value in text.replace("\n", ",").split(",") if value.strip()]
    labels = []
    for value in values:
        try:
            number = float(value)
        except ValueError as error:
            raise MalformedLabel(f"label {value[:40]!r} of {event[:80]} is not a number") from error
        if number not in (0.0, 1.0):
            raise MalformedLabel(f"label {value[:40]!r} of {event[:80]} is not 0 or 1")
        labels.append(int(number))
    if not labels:
        raise MalformedLabel(f"no label for {event[:80]}")
    return event, labels


def hour_of(key: str) -> datetime | None:
    """The hour a ground-truth file is filed under (groundtruth/yyyy/mm/dd/hh/...), None when the key has none."""
    parts = key.split("/")
    try:
        index = parts.index(GROUND_TRUTH_PREFIX)
        return datetime.strptime("/".join(parts[index + 1 : index + 5]), "%Y/%m/%d/%H")
    except (ValueError, IndexError):
        return None


def ground_truth_files(s3: Any, bucket: str, now: datetime, lookback_hours: int) -> Iterator[str]:
    """Label files of the last `lookback_hours` hours, oldest first (one listing: keys sort by their hour)."""
    first = f"{GROUND_TRUTH_PREFIX}/{(now - timedelta(hours=lookback_hours)):%Y/%m/%d/%H}/"
    yield from files_after(s3, bucket, f"{GROUND_TRUTH_PREFIX}/", first)


@dataclass
class Joined:
    """Predictions matched with their labels, plus what each request's facet value was."""

    labels: list[int] = field(default_factory=list)
    scores: list[float] = field(default_factory=list)
    groups: list[str] = field(default_factory=list)


@dataclass
class LabelJoin:
    """Labels of one run, then the capture records that carry the predictions they label."""

    window_hours: int
    facet: str = ""
    pending: dict[str, tuple[list[int], datetime]] = field(default_factory=dict)
    malformed: int = 0
    duplicates: int = 0
    mismatched: int = 0
    reasons: list[str] = field(default_factory=list)
    joined: Joined = field(default_factory=Joined)
    matched_events: int = 0

    def _reason(self, text: str) -> None:
        if len(self.reasons) < MAX_REASONS:
            self.reasons.append(text[:300])

    def add_labels(self, lines: Iterable[bytes | str], filed: datetime) -> None:
        for line in lines:
            if not line or not line.strip():
                continue
            try:
                event, labels = parse_label(line)
            except MalformedLabel as error:
                self.malformed += 1
                self._reason(f"malformed: {error}")
                continue
            if event in self.pending:
                self.duplicates += 1
                self._reason(f"duplicate: a second label for {event[:80]} (the first one counts)")
                continue
            self.pending[event] = (labels, filed)

    def add_capture(self, lines: Iterable[bytes | str], order: list[str], captured: datetime) -> None:
        """Join the labelled requests of one capture file (captured within that hour)."""
        for line in lines:
            if not self.pending or not line or not line.strip():
                continue
            try:
                record = json.loads(line)
                metadata = record["eventMetadata"]
                key = metadata.get("inferenceId") or metadata.get("eventId")
            except (ValueError, KeyError, TypeError, AttributeError):
                continue  # the drift monitor counts malformed capture lines
            found = self.pending.get(key) if isinstance(key, str) else None
            if found is None:
                continue
            labels, filed = found
            if captured < filed - timedelta(hours=self.window_hours):
                continue  # too old for this label: its own request is later, or it is unmatched
            del self.pending[key]
            try:
                capture = record["captureData"]
                scores = [float(value) for value in record_outputs(capture.get("endpointOutput"))]
                rows = record_rows(capture["endpointInput"], order)
            except (ValueError, KeyError, TypeError) as error:
                self.mismatched += 1
                self._reason(f"unreadable prediction for {key[:80]}: {error}")
                continue
            if len(scores) != len(labels) or len(rows) != len(labels):
                self.mismatched += 1
                self._reason(f"{key[:80]}: {len(labels)} label(s) for {len(scores)} prediction(s)")
                continue
            self.matched_events += 1
            self.joined.labels.extend(labels)
            self.joined.scores.extend(scores)
            self.joined.groups.extend(row.get(self.facet, "") if self.facet else "" for row in rows)

    def unmatched(self) -> int:
        return len(self.pending)

    def finish(self) -> None:
        """After the capture: a reason for the first unmatched labels."""
        for event in list(self.pending)[: max(0, MAX_REASONS - len(self.reasons))]:
            self._reason(f"unmatched: no captured request {event[:80]} in the {self.window_hours} h before its label")
