"""Drift of live traffic from the live version's training baseline, from SageMaker's data-capture files.

Each capture file is JSON Lines, one request per line: {"captureData": {"endpointInput": {...},
"endpointOutput": {...}}, "eventMetadata": {...}}; the input holds one customer per CSV line (or a
JSON list of objects), the output one prediction per line. A `DriftTally` counts, per feature, how
many values fall in each of the baseline's bins (numeric) or categories (categorical, plus one
bucket for categories the baseline never saw), how many are missing, and the same for the
predictions. It streams: memory does not grow with the number of records. The population stability
index compares the tallied proportions with the baseline's: PSI = sum((live - base) * ln(live / base)).
"""

from __future__ import annotations

import base64
import bisect
import csv
import io
import json
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from .attributions import AttributionTally
from .bias import BiasTally

EPSILON = 1e-4  # an empty bin on either side counts as this proportion
UNSEEN = "<unseen>"


class MalformedCapture(ValueError):
    """A capture line that is not SageMaker's data-capture JSON, or whose data cannot be read."""


@dataclass
class FeatureTally:
    kind: str  # "numeric" or "categorical"
    edges: list[float] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)
    counts: list[int] = field(default_factory=list)
    missing: int = 0
    total: int = 0

    def add(self, raw: str) -> int | None:
        """Count one value; returns the bin it fell in (None: missing)."""
        self.total += 1
        value = raw.strip()
        if value == "":
            self.missing += 1
            return None
        if self.kind == "numeric":
            try:
                number = float(value)
            except ValueError:
                self.missing += 1
                return None
            if math.isnan(number):
                self.missing += 1
                return None
            index = bisect.bisect_left(self.edges, number)
        else:
            found = self._index.get(value)
            index = found if found is not None else len(self.categories)
        self.counts[index] += 1
        return index

    def __post_init__(self) -> None:
        size = len(self.edges) + 1 if self.kind == "numeric" else len(self.categories) + 1
        self.counts = [0] * size
        self._index = {category: i for i, category in enumerate(self.categories)}

    @property
    def present(self) -> int:
        return self.total - self.missing

    def proportions(self) -> list[float]:
        present = self.present
        return [count / present for count in self.counts] if present else []


def psi(live: list[float], base: list[float]) -> float:
    total = 0.0
    for actual, expected in zip(live, base, strict=True):
        actual, expected = max(actual, EPSILON), max(expected, EPSILON)
        total += (actual - expected) * math.log(actual / expected)
    return total


@dataclass
class DriftTally:
    """Counts of one run over the capture files, against one baseline."""

    baseline: dict[str, Any]
    features: dict[str, FeatureTally] = field(default_factory=dict)
    predictions: FeatureTally | None = None
    records: int = 0
    malformed: int = 0
    problems: list[str] = field(default_factory=list)
    # the same records' predictions by group (bias) and by input bin (attribution), when the run measures them
    bias: BiasTally | None = None
    attribution: AttributionTally | None = None
    threshold: float = 0.5

    def __post_init__(self) -> None:
        for name, profile in self.baseline.get("features", {}).items():
            if profile.get("type") == "numeric":
                self.features[name] = FeatureTally("numeric", edges=list(profile["bin_edges"]))
            else:
                self.features[name] = FeatureTally("categorical", categories=list(profile["frequencies"]))
        predictions = self.baseline.get("predictions")
        if predictions:
            self.predictions = FeatureTally("numeric", edges=list(predictions["bin_edges"]))

    @property
    def feature_order(self) -> list[str]:
        return feature_order(self.baseline)

    def add_line(self, line: bytes | str) -> None:
        try:
            record = json.loads(line)
            capture = record["captureData"]
            rows = record_rows(capture["endpointInput"], self.feature_order)
            outputs = record_outputs(capture.get("endpointOutput"))
        except (ValueError, KeyError, TypeError) as error:
            self.malformed += 1
            if len(self.problems) < 5:
                self.problems.append(f"{type(error).__name__}: {error}"[:200])
            return
        self.add_rows(rows, outputs)

    def add_rows(self, rows: list[dict[str, str]], outputs: list[str]) -> None:
        """Records (feature name -> raw value) and the model's answers to them, in order."""
        binned = []  # each row's bin per feature, for the attribution tally
        for row in rows:
            self.records += 1
            binned.append({name: tally.add(row.get(name, "")) for name, tally in self.features.items()})
        if self.predictions is not None:
            for value in outputs:
                self.predictions.add(value)
        if (self.bias is not None or self.attribution is not None) and len(outputs) == len(rows):
            self._add_predictions(rows, binned, outputs)

    def _add_predictions(
        self, rows: list[dict[str, str]], binned: list[dict[str, int | None]], outputs: list[str]
    ) -> None:
        for row, bins, output in zip(rows, binned, outputs, strict=True):
            try:
                score = float(output)
            except ValueError:
                continue  # counted by the prediction tally as missing
            if math.isnan(score):
                continue
            if self.bias is not None:
                self.bias.add(row.get(self.bias.facet, ""), int(score >= self.threshold))
            if self.attribution is not None:
                self.attribution.add(bins, score)

    def add_lines(self, lines: Iterable[bytes | str]) -> None:
        for line in lines:
            if line and line.strip():
                self.add_line(line)

    def report(self) -> DriftReport:
        features: dict[str, FeatureDrift] = {}
        for name, tally in self.features.items():
            profile = self.baseline["features"][name]
            # categorical: the baseline saw no unseen category, hence its 0 in the last bucket
            base = list(profile["proportions"]) if tally.kind == "numeric" else [*profile["frequencies"].values(), 0.0]
            live = tally.proportions()
            features[name] = FeatureDrift(
                psi=psi(live, base) if live else None,
                missing_rate=tally.missing / tally.total if tally.total else None,
                baseline_missing_rate=float(profile.get("missing_rate", 0.0)),
            )
        prediction_psi = None
        if self.predictions is not None and self.predictions.present:
            prediction_psi = psi(self.predictions.proportions(), list(self.baseline["predictions"]["proportions"]))
        return DriftReport(self.records, self.malformed, features, prediction_psi, list(self.problems))


@dataclass(frozen=True)
class FeatureDrift:
    psi: float | None
    missing_rate: float | None
    baseline_missing_rate: float


@dataclass(frozen=True)
class DriftReport:
    records: int
    malformed: int
    features: dict[str, FeatureDrift]
    prediction_psi: float | None
    problems: list[str]

    @property
    def score(self) -> float | None:
        """The aggregate: the largest PSI of any feature or of the predictions."""
        values = [f.psi for f in self.features.values() if f.psi is not None]
        if self.prediction_psi is not None:
            values.append(self.prediction_psi)
        return max(values) if values else None


def feature_order(baseline: dict[str, Any]) -> list[str]:
    """The columns of a CSV request: the baseline's feature_order, else the order it lists its features in."""
    return list(baseline.get("feature_order") or baseline.get("features") or [])


def decode_part(part: dict[str, Any]) -> str:
    """A capture record's endpointInput/endpointOutput data as text (BASE64 decoded)."""
    data = part.get("data", "")
    if part.get("encoding") == "BASE64":
        return base64.b64decode(data).decode()
    return str(data)


def record_rows(part: dict[str, Any], order: list[str]) -> list[dict[str, str]]:
    text = decode_part(part)
    content_type = str(part.get("observedContentType", ""))
    if content_type.startswith("application/json"):
        records = json.loads(text)
        if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
            raise ValueError("application/json input is not a list of objects")
        return [{k: "" if v is None else str(v) for k, v in r.items()} for r in records]
    rows = []
    for values in csv.reader(io.StringIO(text)):
        if not values:
            continue
        if len(values) != len(order):
            raise ValueError(f"a CSV row has {len(values)} values, the baseline {len(order)} features")
        rows.append(dict(zip(order, values, strict=True)))
    return rows


def record_outputs(part: dict[str, Any] | None) -> list[str]:
    if not part:
        return []
    text = decode_part(part)
    if str(part.get("observedContentType", "")).startswith("application/json"):
        return [str(v) for v in json.loads(text)]
    return [line for line in text.splitlines() if line.strip()]
