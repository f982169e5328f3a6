"""One run of the monitor: captured traffic and ground truth -> figures against the live version -> metrics.

Captured traffic. Files are found under s3://<bucket>/datacapture/<endpoint>/<variant>/yyyy/mm/dd/hh/, hour by hour
over the last `lookback_hours` (a file that lands late is still found). Each file is claimed in the ledger
(CAPTURE#<endpoint> / FILE#<key>, a conditional put) before it is read, so no file is counted twice; a run that is
short of time leaves the rest for the next run. Files are streamed line by line. From the same records: data drift
(PSI per feature and of the predictions, mlops.drift), bias of the predictions across the facet's groups
(mlops.bias) and feature attribution drift (mlops.attributions).

Ground truth (mlops.ground_truth). Label files under s3://<bucket>/groundtruth/yyyy/mm/dd/hh/ not yet counted are
read, joined with the predictions captured in the window before them, and scored (mlops.model_quality; bias with
labels). Nothing is claimed until the figures exist: one DynamoDB transaction records the run, claims its label
files (GROUNDTRUTH#<endpoint> / FILE#<key>) and leaves the metric data in the PENDING entry; the data is then
published and the entry marked published. A run that dies before the transaction claimed nothing (the next run
reads the same files), one that dies after it left its PENDING entry unpublished (the next run publishes it
first, and cannot commit before it has): no label is lost or counted twice. A publication repeated after a crash
re-sends the same values with the same timestamp, which moves no Minimum, Maximum or Average the alarms read; the
ledger's RUN entries hold the exact counts.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from .attributions import AttributionTally, ndcg, registered_attributions
from .bias import BiasTally
from .captures import capture_files
from .drift import DriftReport, DriftTally, feature_order
from .ground_truth import LabelJoin, ground_truth_files, hour_of
from .ledger import Ledger, now_iso
from .model_quality import binary_quality, metric_values

READ_CHUNK = 1 << 20
MAX_LABEL_FILES = 98  # per run: its claims and the run's entries fit in one DynamoDB transaction (100 items)
MIN_GROUP_RECORDS = 30  # bias figures need at least this many records in each group


@dataclass(frozen=True)
class MonitorConfig:
    project: str
    endpoint: str
    bucket: str
    namespace: str
    min_records: int
    lookback_hours: int
    reserve_seconds: float  # stop taking new files when less time than this is left
    threshold: float = 0.5  # a prediction is positive from this probability on
    window_hours: int = 72  # how long before its label a prediction may have been captured
    quality_min_records: int = 100
    facet: str = ""  # the bias facet's column; empty: no bias figures
    disfavoured: tuple[str, ...] = ()

    @classmethod
    def from_env(cls, project: str, endpoint: str) -> MonitorConfig:
        """As the template sets the monitor's environment."""
        return cls(
            project=project,
            endpoint=endpoint,
            bucket=os.environ["ARTIFACT_BUCKET"],
            namespace=os.environ["DRIFT_NAMESPACE"],
            min_records=int(os.environ.get("DRIFT_MIN_RECORDS", "100")),
            lookback_hours=int(os.environ.get("DRIFT_LOOKBACK_HOURS", "48")),
            reserve_seconds=float(os.environ.get("DRIFT_RESERVE_SECONDS", "60")),
            threshold=float(os.environ.get("PREDICTION_THRESHOLD", "0.5")),
            window_hours=int(os.environ.get("GROUND_TRUTH_WINDOW_HOURS", "72")),
            quality_min_records=int(os.environ.get("QUALITY_MIN_RECORDS", "100")),
            facet=os.environ.get("BIAS_FACET", "").strip(),
            disfavoured=tuple(v.strip() for v in os.environ.get("BIAS_DISFAVOURED_VALUES", "").split(",") if v.strip()),
        )


@dataclass(frozen=True)
class LiveVersion:
    arn: str
    baseline: dict[str, Any]  # the drift baseline (DriftCheckBaselines.ModelDataQuality.Statistics)
    evaluation: dict[str, float]  # registered model quality (ModelMetrics.ModelQuality.Statistics)
    attributions: dict[str, float]  # registered global attributions (ModelMetrics.Explainability.Report)


def _json_at(s3: Any, uri: object) -> dict[str, Any]:
    if not uri:
        return {}
    bucket, _, key = str(uri).removeprefix("s3://").partition("/")
    return dict(json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read()))


def live_version(
    ledger: Ledger, sagemaker: Any, s3: Any, endpoint: str, package_arn: str | None = None
) -> LiveVersion | None:
    """The live version (or the version `package_arn`) and what it was registered with; None when there is no
    drift baseline to compare with."""
    if package_arn is None:
        live = ledger.get(f"ENDPOINT#{endpoint}", "LIVE")
        if not live:
            return None
        package_arn = str(live["model_package_arn"])
    arn = package_arn
    package = sagemaker.describe_model_package(ModelPackageName=arn)
    statistics = ((package.get("DriftCheckBaselines") or {}).get("ModelDataQuality") or {}).get("Statistics") or {}
    if not statistics.get("S3Uri"):
        return None
    metrics = package.get("ModelMetrics") or {}
    quality = ((metrics.get("ModelQuality") or {}).get("Statistics") or {}).get("S3Uri")
    explainability = ((metrics.get("Explainability") or {}).get("Report") or {}).get("S3Uri")
    return LiveVersion(
        arn=arn,
        baseline=_json_at(s3, statistics["S3Uri"]),
        evaluation=metric_values(_json_at(s3, quality)),
        attributions=registered_attributions(_json_at(s3, explainability)),
    )


def datum(name: str, value: float, endpoint: str, at: datetime, unit: str = "None", **dims: str) -> dict[str, Any]:
    dimensions = [{"Name": "EndpointName", "Value": endpoint}]
    dimensions += [{"Name": key, "Value": value} for key, value in dims.items()]
    return {"MetricName": name, "Value": value, "Unit": unit, "Dimensions": dimensions, "Timestamp": at}


def metric_data(report: DriftReport, endpoint: str, min_records: int, at: datetime) -> list[dict[str, Any]]:
    data = [
        datum("RecordsAnalysed", report.records, endpoint, at, "Count"),
        datum("MalformedRecords", report.malformed, endpoint, at, "Count"),
    ]
    if report.records < min_records:
        return data  # too few records to say anything about their distribution
    for name, drift in report.features.items():
        if drift.psi is not None:
            data.append(datum("FeaturePSI", drift.psi, endpoint, at, Feature=name))
        if drift.missing_rate is not None:
            data.append(datum("MissingRate", drift.missing_rate, endpoint, at, Feature=name))
    if report.prediction_psi is not None:
        data.append(datum("PredictionPSI", report.prediction_psi, endpoint, at))
    if report.score is not None:
        data.append(datum("DriftScore", report.score, endpoint, at))
    return data


def put_metrics(cloudwatch: Any, namespace: str, data: list[dict[str, Any]]) -> None:
    for start in range(0, len(data), 500):
        cloudwatch.put_metric_data(Namespace=namespace, MetricData=data[start : start + 500])


# ---------------------------------------------------------------- captured traffic
def measure_capture(
    config: MonitorConfig,
    live: LiveVersion,
    *,
    ledger: Ledger,
    s3: Any,
    seconds_left: Callable[[], float],
    moment: datetime,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(summary, metric data) of the capture files no run has counted yet."""
    tally = new_tally(config, live)
    files, left = 0, 0
    pk = f"CAPTURE#{config.endpoint}"
    for key in capture_files(s3, config.bucket, config.endpoint, moment, config.lookback_hours):
        if seconds_left() < config.reserve_seconds:
            left += 1
            continue
        if not ledger.record_once(pk, f"FILE#{key}", claimed_at=now_iso(), version=live.arn):
            continue  # an earlier run counted it
        body = s3.get_object(Bucket=config.bucket, Key=key)["Body"]
        tally.add_lines(body.iter_lines(chunk_size=READ_CHUNK))
        files += 1
    summary, data = figures(config, live, tally, moment)
    summary.update(Files=files, FilesLeftForNextRun=left)
    return summary, data


def new_tally(config: MonitorConfig, live: LiveVersion) -> DriftTally:
    """A drift tally against the live version's baseline that also tallies bias and attribution when it can."""
    bias = BiasTally.of(config.facet, config.disfavoured) if config.facet else None
    inputs = [name for name in live.attributions if name in live.baseline.get("features", {})]
    attribution = AttributionTally(inputs) if inputs else None
    return DriftTally(live.baseline, bias=bias, attribution=attribution, threshold=config.threshold)


def figures(
    config: MonitorConfig, live: LiveVersion, tally: DriftTally, moment: datetime
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(summary, metric data) of what the tally counted: drift, and bias and attribution when tallied."""
    bias, attribution = tally.bias, tally.attribution
    report = tally.report()
    data = metric_data(report, config.endpoint, config.min_records, moment)
    enough = report.records >= config.min_records
    summary: dict[str, Any] = {
        "Outcome": "measured" if enough else "too-few-records",
        "Version": live.arn,
        "Records": report.records,
        "Malformed": report.malformed,
        "DriftScore": report.score if enough else None,
        "PredictionPSI": report.prediction_psi,
        "FeaturePSI": {name: d.psi for name, d in report.features.items()},
        "Problems": report.problems,
    }
    if bias is not None:
        figures = bias.figures()
        measured = bias.smallest_group() >= MIN_GROUP_RECORDS
        summary["Bias"] = {"Facet": config.facet, "Groups": [bias.advantaged.records, bias.disadvantaged.records]}
        summary["Bias"].update(
            {name: figures[name] for name in ("DPPL", "DI")} if measured else {"Outcome": "too-few-records"}
        )
        for name in ("DPPL", "DI"):
            value = figures[name]
            if measured and value is not None:
                data.append(datum(name, value, config.endpoint, moment))
                if name == "DPPL":  # what the <project>-bias-dppl alarm compares
                    data.append(datum("AbsDPPL", abs(value), config.endpoint, moment))
    if attribution is not None:
        ratios = attribution.ratios()
        score = ndcg(live.attributions, ratios) if attribution.records >= config.min_records else None
        summary["Attribution"] = {"NDCG": score, "Live": ratios, "Baseline": live.attributions}
        if score is not None:
            data.append(datum("AttributionNDCG", score, config.endpoint, moment))
    return summary, data


# ---------------------------------------------------------------- ground truth
def quality_data(join: LabelJoin, live: LiveVersion, config: MonitorConfig, at: datetime) -> list[dict[str, Any]]:
    endpoint = config.endpoint
    data = [
        datum("LabelsJoined", len(join.joined.labels), endpoint, at, "Count"),
        datum("LabelsUnmatched", join.unmatched() + join.mismatched, endpoint, at, "Count"),
        datum("LabelsMalformed", join.malformed + join.duplicates, endpoint, at, "Count"),
    ]
    if len(join.joined.labels) < config.quality_min_records:
        return data  # too few joined records to say anything
    figures = quality_figures(join.joined.labels, join.joined.scores, join.joined.groups, live, config)
    assert figures is not None
    data += [datum(name, value, endpoint, at) for name, value in figures.items()]
    return data


QUALITY_NAMES = {"accuracy": "Accuracy", "precision": "Precision", "recall": "Recall", "f1": "F1", "auc": "AUC"}


def quality_figures(
    labels: list[int], scores: list[float], groups: list[str], live: LiveVersion, config: MonitorConfig
) -> dict[str, float] | None:
    """Metric name -> value of predictions scored against their labels: quality, how far below its registered
    figure (what the <project>-drift-quality-... alarms compare), and RD/AD across the facet's groups when each
    has enough records. None when nothing can be scored."""
    measured = binary_quality(labels, scores, config.threshold)
    if measured is None:
        return None
    figures: dict[str, float] = {}
    for key, value in measured.as_dict().items():
        if value is None:
            continue
        figures[QUALITY_NAMES[key]] = value
        registered = live.evaluation.get(key)
        if key in ("accuracy", "auc") and registered is not None:
            figures[f"{QUALITY_NAMES[key]}Drop"] = registered - value
    if config.facet:
        bias = BiasTally.of(config.facet, config.disfavoured)
        for group, label, score in zip(groups, labels, scores, strict=True):
            bias.add(group, int(score >= config.threshold), label)
        if bias.smallest_group() >= MIN_GROUP_RECORDS:
            for name in ("RD", "AD"):
                value = bias.figures()[name]
                if value is not None:
                    figures[name] = value
    return figures


def _encode(data: list[dict[str, Any]]) -> str:
    return json.dumps([{**d, "Timestamp": d["Timestamp"].isoformat()} for d in data])


def _decode(text: str) -> list[dict[str, Any]]:
    return [{**d, "Timestamp": datetime.fromisoformat(d["Timestamp"])} for d in json.loads(text)]


def publish_pending(ledger: Ledger, cloudwatch: Any, pk: str, namespace: str) -> int:
    """Publish what the last committed run left unpublished (it died between its commit and its publication)."""
    pending = ledger.get(pk, "PENDING")
    if not pending or pending.get("published") is True:
        return 0
    put_metrics(cloudwatch, namespace, _decode(str(pending["metric_data"])))
    ledger.annotate(pk, "PENDING", published=True)
    return 1


def measure_ground_truth(
    config: MonitorConfig,
    live: LiveVersion,
    *,
    ledger: Ledger,
    s3: Any,
    cloudwatch: Any,
    seconds_left: Callable[[], float],
    moment: datetime,
) -> dict[str, Any]:
    pk = f"GROUNDTRUTH#{config.endpoint}"
    republished = publish_pending(ledger, cloudwatch, pk, config.namespace)
    join = LabelJoin(config.window_hours, facet=config.facet)
    order = feature_order(live.baseline)
    files: list[str] = []
    left = 0
    for key in ground_truth_files(s3, config.bucket, moment, config.lookback_hours):
        if ledger.get(pk, f"FILE#{key}"):
            continue  # counted by an earlier run
        if len(files) >= MAX_LABEL_FILES or seconds_left() < config.reserve_seconds:
            left += 1
            continue
        filed = hour_of(key) or moment.replace(tzinfo=None)
        join.add_labels(s3.get_object(Bucket=config.bucket, Key=key)["Body"].iter_lines(chunk_size=READ_CHUNK), filed)
        files.append(key)
    summary: dict[str, Any] = {"LabelFiles": len(files), "LabelFilesLeftForNextRun": left, "Republished": republished}
    if not files:
        return {**summary, "Outcome": "no-new-labels"}
    hours = [hour_of(key) for key in files]
    earliest = min(h for h in hours if h) if any(hours) else moment.replace(tzinfo=None)
    since = (earliest - timedelta(hours=config.window_hours)).replace(tzinfo=UTC)
    for key, captured in _capture_files_since(s3, config, since, moment):
        if not join.pending:
            break
        body = s3.get_object(Bucket=config.bucket, Key=key)["Body"]
        join.add_capture(body.iter_lines(chunk_size=READ_CHUNK), order, captured)
    join.finish()
    data = quality_data(join, live, config, moment)
    figures = {d["MetricName"]: d["Value"] for d in data}
    summary.update(
        Outcome="measured" if len(join.joined.labels) >= config.quality_min_records else "too-few-labels",
        Joined=len(join.joined.labels),
        Unmatched=join.unmatched(),
        Mismatched=join.mismatched,
        Malformed=join.malformed,
        Duplicates=join.duplicates,
        Reasons=join.reasons,
        Figures={k: v for k, v in figures.items() if not k.startswith("Labels")},
    )
    run = f"RUN#{moment.isoformat()}"
    committed = ledger.commit_claims(
        pk,
        run,
        [f"FILE#{key}" for key in files],
        {"metric_data": _encode(data)},
        kind="ground-truth-run",
        version=live.arn,
        summary=json.dumps(summary, default=str)[:30000],
    )
    if not committed:
        return {**summary, "Outcome": "counted-by-another-run"}
    put_metrics(cloudwatch, config.namespace, data)
    ledger.annotate(pk, "PENDING", published=True)
    return summary


def _capture_files_since(
    s3: Any, config: MonitorConfig, since: datetime, until: datetime
) -> list[tuple[str, datetime]]:
    """Every production variant's capture files from `since`'s hour on, with the hour each was captured in."""
    hours = max(0, int((until - since).total_seconds() // 3600) + 1)
    found = []
    for key in capture_files(s3, config.bucket, config.endpoint, until, hours):
        parts = key.split("/")
        try:
            captured = datetime.strptime("/".join(parts[-5:-1]), "%Y/%m/%d/%H")
        except ValueError:
            continue
        found.append((key, captured))
    return found


# ---------------------------------------------------------------- one run
def run_monitor(
    config: MonitorConfig,
    *,
    ledger: Ledger,
    sagemaker: Any,
    s3: Any,
    cloudwatch: Any,
    seconds_left: Callable[[], float],
    now: datetime | None = None,
) -> dict[str, Any]:
    moment = now or datetime.now(UTC)
    live = live_version(ledger, sagemaker, s3, config.endpoint)
    if live is None:
        return {"Outcome": "no-baseline", "Reason": f"{config.endpoint} serves no version with a drift baseline"}
    summary, data = measure_capture(config, live, ledger=ledger, s3=s3, seconds_left=seconds_left, moment=moment)
    put_metrics(cloudwatch, config.namespace, data)
    ledger.put(
        f"CAPTURE#{config.endpoint}",
        f"RUN#{now_iso()}",
        kind="drift-run",
        summary=json.dumps(summary, default=str)[:30000],
    )
    summary["GroundTruth"] = measure_ground_truth(
        config, live, ledger=ledger, s3=s3, cloudwatch=cloudwatch, seconds_left=seconds_left, moment=moment
    )
    return summary
