"""Drift figures from capture lines: the population stability index, missing rates, malformed lines."""

from __future__ import annotations

import json
import math
import random

import pytest

from mlops.drift import DriftTally, psi
from pipeline import dataset
from sandbox.capture import capture_line

FEATURE_ORDER = list(dataset.COLUMNS)


def baseline() -> dict[str, object]:
    """A baseline shaped as preprocess.py + evaluate.py write it, over the shipped population."""
    rows = dataset.generate(rows=3000, seed=1)
    numeric = {
        "tenure_months": [2.0, 4.0, 7.0, 10.0, 13.0, 18.0, 23.0, 31.0, 44.0],
        "monthly_charges": [37.5, 47.3, 53.6, 59.1, 64.5, 69.7, 76.3, 83.7, 92.8],
        "support_calls": [1.0, 2.0, 3.0],
        "data_usage_gb": [8.1, 12.1, 14.9, 17.4, 19.7, 21.9, 24.5, 27.1, 31.3],
    }
    features: dict[str, object] = {}
    for name, edges in numeric.items():
        values = [float(r[name]) for r in rows if r[name] != ""]
        counts = [0] * (len(edges) + 1)
        for value in values:
            counts[sum(value > e for e in edges)] += 1
        features[name] = {
            "type": "numeric",
            "bin_edges": edges,
            "proportions": [c / len(values) for c in counts],
            "missing_rate": 1 - len(values) / len(rows),
        }
    categorical = (("contract", dataset.CONTRACTS), ("payment_method", dataset.PAYMENT_METHODS))
    for name, categories in (*categorical, (dataset.GROUP, dataset.GROUPS)):
        frequencies = {c: sum(r[name] == c for r in rows) / len(rows) for c in sorted(categories)}
        features[name] = {"type": "categorical", "frequencies": frequencies, "missing_rate": 0.0}
    return {
        "feature_order": FEATURE_ORDER,
        "features": features,
        "predictions": {"bin_edges": [i / 10 for i in range(1, 10)], "proportions": [0.1] * 10},
    }


def lines(rows: list[dict[str, object]], per_request: int = 10) -> list[str]:
    """Capture lines as SageMaker writes them: one per request of `per_request` customers."""
    from datetime import UTC, datetime

    out = []
    rng = random.Random(3)
    for start in range(0, len(rows), per_request):
        batch = rows[start : start + per_request]
        body = dataset.to_csv(batch, header=False, label=False).encode()
        answer = "".join(f"{rng.random():.4f}\n" for _ in batch).encode()
        out.append(capture_line(body, "text/csv", answer, "text/csv", datetime.now(UTC)))
    return out


def tally_of(rows: list[dict[str, object]]) -> DriftTally:
    tally = DriftTally(baseline())
    tally.add_lines(lines(rows))
    return tally


def test_psi_is_zero_for_the_same_distribution_and_grows_with_the_shift() -> None:
    assert psi([0.5, 0.5], [0.5, 0.5]) == 0.0
    assert 0.0 < psi([0.6, 0.4], [0.5, 0.5]) < psi([0.9, 0.1], [0.5, 0.5])


def test_traffic_like_the_training_data_scores_low() -> None:
    report = tally_of(dataset.generate(rows=2000, seed=99)).report()
    assert report.records == 2000 and report.malformed == 0
    assert report.score is not None and report.score < 0.1
    assert all(f.psi is not None and f.psi < 0.1 for f in report.features.values())


def test_shifted_traffic_scores_high_on_the_shifted_features() -> None:
    report = tally_of(dataset.generate(rows=2000, seed=99, shift=1.0)).report()
    assert report.score is not None and report.score > 0.2
    assert report.features["tenure_months"].psi > 0.2  # type: ignore[operator]
    assert report.features["payment_method"].psi < 0.1  # type: ignore[operator]  # not shifted
    assert report.features["data_usage_gb"].missing_rate > 0.08  # type: ignore[operator]


def test_unseen_categories_count_as_drift() -> None:
    rows = dataset.generate(rows=500, seed=5)
    for row in rows:
        row["contract"] = "three-year"
    report = tally_of(rows).report()
    assert report.features["contract"].psi > 1.0  # type: ignore[operator]


def test_malformed_lines_are_counted_and_the_rest_is_measured() -> None:
    tally = DriftTally(baseline())
    good = lines(dataset.generate(rows=100, seed=2))
    bad = [
        "not json",
        json.dumps({"captureData": {}}),
        json.dumps({"captureData": {"endpointInput": {"observedContentType": "text/csv", "data": "1,2\n"}}}),
    ]
    tally.add_lines([*good[:5], *bad, *good[5:]])
    report = tally.report()
    assert (report.records, report.malformed) == (100, 3)
    assert len(report.problems) == 3 and "CSV row has 2 values" in report.problems[2]


def test_json_requests_are_read_by_feature_name() -> None:
    from datetime import UTC, datetime

    tally = DriftTally(baseline())
    body = json.dumps([{"tenure_months": 3, "contract": "month-to-month"}]).encode()
    tally.add_line(capture_line(body, "application/json", b"[0.7]", "application/json", datetime.now(UTC)))
    report = tally.report()
    assert report.records == 1
    assert report.features["monthly_charges"].missing_rate == 1.0
    assert not math.isnan(report.features["tenure_months"].psi or 0.0)


@pytest.mark.parametrize("per_request", [1, 50])
def test_the_figures_do_not_depend_on_how_requests_were_batched(per_request: int) -> None:
    rows = dataset.generate(rows=1000, seed=8, shift=0.5)
    reference = tally_of(rows).report()
    tally = DriftTally(baseline())
    tally.add_lines(lines(rows, per_request=per_request))
    assert tally.report().features["tenure_months"].psi == pytest.approx(reference.features["tenure_months"].psi)
