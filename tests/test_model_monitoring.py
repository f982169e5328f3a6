"""The monitor's figures against reference implementations, and the joining of late ground truth.

Model quality equals scikit-learn's; bias equals Clarify's formulas (DPPL = q'a - q'd, DI = q'd / q'a, RD and AD:
Clarify developer guide, "Post-training bias metrics") and the pipeline's own computation; the attribution tally
equals the pipeline's on the same records (the same quantity, the same way) and the correlation ratio's definition;
NDCG equals its definition (Model Monitor developer guide, "Feature attribution drift").
"""

from __future__ import annotations

import json
import math
import random
import sys
import warnings
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn import metrics
from sklearn.exceptions import UndefinedMetricWarning

from mlops.attributions import AttributionTally, ndcg, registered_attributions
from mlops.bias import BiasBands, BiasTally, registered_bias
from mlops.drift import DriftTally
from mlops.ground_truth import LabelJoin, hour_of, parse_label
from mlops.model_quality import binary_quality, roc_auc
from pipeline import dataset
from sandbox.capture import capture_line

SCRIPTS = Path(__file__).resolve().parent.parent / "pipeline" / "scripts"
sys.path.insert(0, str(SCRIPTS))
import churn_features  # noqa: E402

sys.path.remove(str(SCRIPTS))


# ---------------------------------------------------------------- model quality against scikit-learn
def sklearn_figures(labels: list[int], scores: list[float], threshold: float) -> dict[str, float | None]:
    predicted = [int(s >= threshold) for s in scores]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        auc: float | None = float(metrics.roc_auc_score(labels, scores))
    if auc is not None and math.isnan(auc):
        auc = None  # one class only: undefined (scikit-learn says nan)
    return {
        "accuracy": metrics.accuracy_score(labels, predicted),
        "precision": metrics.precision_score(labels, predicted, zero_division=0),
        "recall": metrics.recall_score(labels, predicted, zero_division=0),
        "f1": metrics.f1_score(labels, predicted, zero_division=0),
        "auc": auc,
    }


def assert_same(ours: dict[str, float | None], reference: dict[str, float | None]) -> None:
    assert ours.keys() == reference.keys()
    for name, value in reference.items():
        if value is None:
            assert ours[name] is None, name
        else:
            assert ours[name] == pytest.approx(value, abs=1e-12), name


def draws(seed: int, n: int, coarse: bool = False) -> tuple[list[int], list[float]]:
    rng = random.Random(seed)
    labels = [rng.randint(0, 1) for _ in range(n)]
    scores = [min(1.0, max(0.0, 0.3 * label + rng.random() * 0.7)) for label in labels]
    return labels, [round(s, 1) for s in scores] if coarse else scores


CASES = {
    "random": draws(1, 500),
    "one class only": ([1] * 40, draws(3, 40)[1]),
    "no positive predictions": ([0, 1, 0, 1, 1, 0], [0.1, 0.2, 0.3, 0.4, 0.45, 0.01]),
    "ties": ([0, 1, 1, 0, 1, 0, 1, 0], [0.5, 0.5, 0.5, 0.2, 0.8, 0.8, 0.2, 0.5]),
    "coarse scores": draws(4, 300, coarse=True),
}


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("threshold", [0.5, 0.3])
def test_quality_figures_equal_scikit_learns(case: str, threshold: float) -> None:
    labels, scores = CASES[case]
    figures = binary_quality(labels, scores, threshold)
    assert figures is not None and figures.count == len(labels)
    assert_same(figures.as_dict(), sklearn_figures(labels, scores, threshold))


def test_auc_of_tied_scores_counts_half() -> None:
    assert roc_auc([0, 1], [0.5, 0.5]) == 0.5
    assert roc_auc([0, 0, 1], [0.1, 0.9, 0.9]) == pytest.approx(metrics.roc_auc_score([0, 0, 1], [0.1, 0.9, 0.9]))
    assert binary_quality([], [], 0.5) is None


# ---------------------------------------------------------------- bias against Clarify's formulas
def clarify(groups: list[str], predicted: list[int], truth: list[int], disfavoured: set[str]) -> dict[str, Any]:
    """Clarify's definitions, written out: facet d = the disfavoured values, facet a = every other group."""
    a = [i for i, g in enumerate(groups) if g and g not in disfavoured]
    d = [i for i, g in enumerate(groups) if g in disfavoured]
    qa = sum(predicted[i] for i in a) / len(a) if a else None
    qd = sum(predicted[i] for i in d) / len(d) if d else None

    def recall(members: list[int]) -> float | None:
        positives = [i for i in members if truth[i] == 1]
        return sum(predicted[i] for i in positives) / len(positives) if positives else None

    def accuracy(members: list[int]) -> float | None:
        return sum(predicted[i] == truth[i] for i in members) / len(members) if members else None

    def minus(x: float | None, y: float | None) -> float | None:
        return None if x is None or y is None else x - y

    return {
        "DPPL": minus(qa, qd),
        "DI": qd / qa if qa and qd is not None else None,
        "RD": minus(recall(a), recall(d)),
        "AD": minus(accuracy(a), accuracy(d)),
    }


def bias_case(name: str) -> tuple[list[str], list[int], list[int]]:
    rng = random.Random(name)
    n = 400
    groups = [rng.choice(["under-65", "65-plus", "65-plus", ""]) for _ in range(n)]
    predicted = [int(rng.random() < (0.2 if g == "65-plus" else 0.4)) for g in groups]
    truth = [rng.randint(0, 1) for _ in range(n)]
    if name == "empty group":
        groups = ["under-65"] * n
    if name == "no positive predictions":
        predicted = [0] * n
    if name == "no positive labels in a group":
        truth = [0 if g == "65-plus" else t for g, t in zip(groups, truth, strict=True)]
    return groups, predicted, truth


@pytest.mark.parametrize("case", ["random", "empty group", "no positive predictions", "no positive labels in a group"])
def test_bias_figures_equal_clarifys_formulas_and_the_pipelines(case: str) -> None:
    groups, predicted, truth = bias_case(case)
    tally = BiasTally.of("age_group", ["65-plus"])
    for group, p, t in zip(groups, predicted, truth, strict=True):
        tally.add(group, p, t)
    reference = clarify(groups, predicted, truth, {"65-plus"})
    assert_same(tally.figures(), reference)
    assert_same(tally.figures(), churn_features.bias_figures(groups, predicted, truth, ["65-plus"]))


def test_bias_bands_and_the_registered_report() -> None:
    report = churn_features.clarify_bias_report("age_group", ["65-plus"], {"DPPL": -0.15, "DI": 1.3}, 450)
    figures = registered_bias(report)
    assert figures == {"DPPL": -0.15, "DI": 1.3}
    problems = BiasBands().outside(figures)
    assert len(problems) == 2 and "DPPL -0.150" in problems[0] and "DI 1.300" in problems[1]
    assert BiasBands().outside({"DPPL": 0.05, "DI": 0.95}) == []
    assert BiasBands().outside({}) == []


# ---------------------------------------------------------------- attribution: the same as the pipeline, NDCG
def profiled(rows: list[dict[str, str]]) -> dict[str, Any]:
    return churn_features.feature_baseline(rows)


def string_rows(records: list[dict[str, object]]) -> list[dict[str, str]]:
    return [{k: str(v) for k, v in r.items()} for r in records]


def monitored(baseline: dict[str, Any], rows: list[dict[str, str]], scores: list[float], inputs: list[str]) -> Any:
    """The monitor's attribution tally fed as in a run: capture records (one customer each) through the drift tally."""
    tally = AttributionTally(inputs)
    drift = DriftTally(baseline, attribution=tally)
    for row, score in zip(rows, scores, strict=True):
        body = ",".join(row[column] for column in dataset.COLUMNS).encode()
        drift.add_line(capture_line(body, "text/csv", f"{score}\n".encode(), "text/csv", datetime.now(UTC)))
    assert drift.malformed == 0
    return tally


def test_the_monitors_attributions_equal_the_pipelines_on_the_same_records() -> None:
    rows = string_rows(dataset.generate(rows=800, seed=12, shift=0.3))
    baseline = profiled(string_rows(dataset.generate(rows=1000, seed=13)))
    rng = random.Random(14)
    scores = [min(1.0, max(0.0, 0.02 * float(r["support_calls"] or 0) * 10 + rng.random() * 0.3)) for r in rows]
    tally = monitored(baseline, rows, scores, list(churn_features.FEATURES))
    ours, pipelines = tally.ratios(), churn_features.correlation_ratios(rows, scores, baseline)
    assert ours.keys() == pipelines.keys()
    for name in ours:
        assert ours[name] == pytest.approx(pipelines[name], abs=1e-9), name
    # the definition: the variance of the per-bin means over the total variance
    bins = [churn_features.profile_bin(r["support_calls"], baseline["features"]["support_calls"]) for r in rows]
    values = np.array(scores)
    means = {b: values[np.array(bins) == b].mean() for b in set(bins)}
    between = sum((np.array(bins) == b).sum() * (m - values.mean()) ** 2 for b, m in means.items())
    assert ours["support_calls"] == pytest.approx(between / ((values - values.mean()) ** 2).sum(), abs=1e-9)
    assert max(ours, key=lambda n: ours[n] or 0) == "support_calls"


def test_constant_predictions_have_no_attribution() -> None:
    baseline = profiled(string_rows(dataset.generate(rows=200, seed=1)))
    tally = monitored(baseline, string_rows(dataset.generate(rows=50, seed=2)), [0.3] * 50, ["contract"])
    assert tally.ratios() == {"contract": None}


def ndcg_by_definition(baseline: dict[str, float], live: dict[str, float]) -> float:
    live_order = sorted(baseline, key=lambda f: (-live[f], f))
    ideal_order = sorted(baseline, key=lambda f: -baseline[f])
    dcg = sum(baseline[f] / math.log2(i + 1) for i, f in enumerate(live_order, start=1))
    idcg = sum(baseline[f] / math.log2(i + 1) for i, f in enumerate(ideal_order, start=1))
    return dcg / idcg


@pytest.mark.parametrize(
    "live",
    [
        {"a": 0.5, "b": 0.3, "c": 0.1, "d": 0.05},  # the same order
        {"a": 0.05, "b": 0.1, "c": 0.3, "d": 0.5},  # reversed
        {"a": 0.2, "b": 0.2, "c": 0.2, "d": 0.2},  # all tied: by name
        {"a": 0.1, "b": 0.6, "c": 0.1, "d": 0.0},
    ],
)
def test_ndcg_equals_its_definition(live: dict[str, float]) -> None:
    baseline = {"a": 0.4, "b": 0.3, "c": 0.2, "d": 0.1}
    assert ndcg(baseline, live) == pytest.approx(ndcg_by_definition(baseline, live))
    assert ndcg(baseline, dict(zip("abcd", [0.9, 0.5, 0.2, 0.1], strict=True))) == 1.0


def test_ndcg_of_a_swapped_top_pair() -> None:
    baseline = {"a": 0.6, "b": 0.3, "c": 0.1}
    expected = (0.3 + 0.6 / math.log2(3) + 0.1 / 2) / (0.6 + 0.3 / math.log2(3) + 0.1 / 2)
    assert ndcg(baseline, {"a": 0.2, "b": 0.5, "c": 0.0}) == pytest.approx(expected)
    assert ndcg(baseline, {"a": 0.2, "b": None, "c": 0.0}) is None  # type: ignore[dict-item]
    assert ndcg({}, {"a": 1.0}) is None


def test_only_correlation_ratios_are_a_baseline() -> None:
    ours = {"explanations": {"correlation_ratio": {"label0": {"global_attributions": {"contract": 0.4}}}}}
    shap = {"explanations": {"kernel_shap": {"label0": {"global_shap_values": {"contract": 0.4}}}}}
    assert registered_attributions(ours) == {"contract": 0.4}
    assert registered_attributions(shap) == {}


# ---------------------------------------------------------------- joining ground truth
ORDER = list(dataset.COLUMNS)
T0 = datetime(2026, 12, 1, 10, 0, 0)


def label(event: str, value: str = "1") -> str:
    return json.dumps(
        {
            "groundTruthData": {"data": value, "encoding": "CSV"},
            "eventMetadata": {"eventId": event},
            "eventVersion": "0",
        }
    )


def captured(records: list[dict[str, object]], scores: list[float], event: str, inference: str | None = None) -> str:
    body = dataset.to_csv(records, header=False, label=False).encode()
    answer = "".join(f"{s}\n" for s in scores).encode()
    return capture_line(body, "text/csv", answer, "text/csv", datetime.now(UTC), event_id=event, inference_id=inference)


def test_labels_join_by_inference_id_else_by_event_id() -> None:
    customers = dataset.generate(rows=4, seed=3)
    join = LabelJoin(window_hours=72, facet="age_group")
    join.add_labels([label("client-7", "1"), label("evt-2", "0"), label("evt-1-not-its-key", "1")], T0)
    join.add_capture(
        [
            captured(customers[:1], [0.9], "evt-1-not-its-key", inference="client-7"),
            captured(customers[1:2], [0.2], "evt-2"),
        ],
        ORDER,
        T0 - timedelta(hours=1),
    )
    join.finish()
    assert join.joined.labels == [1, 0] and join.joined.scores == [0.9, 0.2]
    assert join.joined.groups == [str(customers[0]["age_group"]), str(customers[1]["age_group"])]
    # a request with an inferenceId is named by it: a label naming its eventId matches nothing
    assert join.unmatched() == 1 and any("unmatched" in r for r in join.reasons)


def test_late_labels_join_within_the_window_only() -> None:
    customers = dataset.generate(rows=2, seed=4)
    join = LabelJoin(window_hours=48)
    filed = T0 + timedelta(hours=47)
    join.add_labels([label("recent"), label("too-old")], filed)
    join.add_capture([captured(customers[:1], [0.7], "recent")], ORDER, T0)
    join.add_capture([captured(customers[1:], [0.7], "too-old")], ORDER, filed - timedelta(hours=49))
    assert join.joined.labels == [1] and join.unmatched() == 1


def test_unknown_duplicate_malformed_and_mismatched_labels_are_counted() -> None:
    customers = dataset.generate(rows=3, seed=5)
    join = LabelJoin(window_hours=72)
    lines = [
        label("a"),
        label("a", "0"),  # a second label: the first counts
        "not json",
        json.dumps({"groundTruthData": {"data": "yes", "encoding": "CSV"}, "eventMetadata": {"eventId": "b"}}),
        json.dumps({"groundTruthData": {"data": "1"}, "eventMetadata": {}}),
        label("ghost"),  # no such request
        label("pair", "1,0"),  # a request of two customers
        label("three", "1"),  # one label for a request of two
        "",
    ]
    join.add_labels(lines, T0)
    join.add_capture(
        [
            captured(customers[:1], [0.8], "a"),
            captured(customers[:2], [0.6, 0.1], "pair"),
            captured(customers[1:3], [0.6, 0.1], "three"),
        ],
        ORDER,
        T0,
    )
    join.finish()
    assert join.joined.labels == [1, 1, 0] and join.joined.scores == [0.8, 0.6, 0.1]
    assert (join.duplicates, join.malformed, join.mismatched, join.unmatched()) == (1, 3, 1, 1)
    assert len(join.reasons) == 5


def test_a_label_record_is_read_as_model_monitor_writes_it() -> None:
    assert parse_label(label("x", "0")) == ("x", [0])
    assert parse_label(label("x", "1.0\n0")) == ("x", [1, 0])
    assert hour_of("groundtruth/2026/12/01/09/labels.jsonl") == datetime(2026, 12, 1, 9)
    assert hour_of("elsewhere/labels.jsonl") is None
