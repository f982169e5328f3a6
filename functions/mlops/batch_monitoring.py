"""The monitor of one batch: a transform job's joined output against the version that scored it.

Each output line is its input line followed by the prediction (DataProcessing.JoinSource Input), the input's last
column the label when the file carried one. The same figures as the endpoint's monitor, under the same metric names and
dimensions (EndpointName: the project's serving target), so the drift, quality and bias alarms and the retrain
path apply unchanged: data drift (PSI per feature and of the predictions), bias of the predictions across the
facet's groups, attribution drift, and with labels model quality (mlops.model_quality) and RD/AD.

One batch is one measurement: the figures describe that file alone. The file is streamed, never held whole.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

from .drift import feature_order
from .monitoring import READ_CHUNK, LiveVersion, MonitorConfig, datum, figures, new_tally, quality_figures


def _rows(lines: Iterable[bytes]) -> Iterator[list[str]]:
    for line in lines:
        text = line.decode() if isinstance(line, bytes) else line
        if text.strip():
            yield from csv.reader(io.StringIO(text))


def measure_output(
    lines: Iterable[bytes], config: MonitorConfig, live: LiveVersion, labelled: bool, moment: datetime | None = None
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(summary, metric data) of a joined transform output."""
    at = moment or datetime.now(UTC)
    order = feature_order(live.baseline)
    width = len(order) + 1 + int(labelled)  # inputs..., [label,] prediction
    tally = new_tally(config, live)
    labels: list[int] = []
    scores: list[float] = []
    groups: list[str] = []
    for values in _rows(lines):
        if len(values) != width:
            tally.malformed += 1
            if len(tally.problems) < 5:
                tally.problems.append(f"an output line has {len(values)} values, expected {width}")
            continue
        inputs = values[: len(order)]
        row = dict(zip(order, inputs, strict=True))
        tally.add_rows([row], [values[-1]])
        if labelled:
            try:
                label, score = int(float(values[-2])), float(values[-1])
            except ValueError:
                continue
            labels.append(label)
            scores.append(score)
            groups.append(row.get(config.facet, "") if config.facet else "")
    summary, data = figures(config, live, tally, at)
    if labelled:
        summary["Quality"] = quality(labels, scores, groups, config, live, at, data)
    return summary, data


def quality(
    labels: list[int],
    scores: list[float],
    groups: list[str],
    config: MonitorConfig,
    live: LiveVersion,
    at: datetime,
    data: list[dict[str, Any]],
) -> dict[str, Any]:
    """Model quality against the file's labels, appended to `data` as the ground-truth monitor names it."""
    endpoint = config.endpoint
    data.append(datum("LabelsJoined", len(labels), endpoint, at, "Count"))
    if len(labels) < config.quality_min_records:
        return {"Outcome": "too-few-records", "Labelled": len(labels)}
    figures = quality_figures(labels, scores, groups, live, config)
    if figures is None:
        return {"Outcome": "not-measurable", "Labelled": len(labels)}
    data += [datum(name, value, endpoint, at) for name, value in figures.items()]
    return {"Outcome": "measured", "Labelled": len(labels), **figures}


def read_output(s3: Any, url: str) -> Iterator[bytes]:
    bucket, _, key = url.removeprefix("s3://").partition("/")
    body = s3.get_object(Bucket=bucket, Key=key)["Body"]
    yield from body.iter_lines(chunk_size=READ_CHUNK)
