"""One run of the drift monitor: new capture files -> tallies against the live baseline -> metrics.

Files are found under s3://<bucket>/datacapture/<endpoint>/<variant>/yyyy/mm/dd/hh/, hour by hour
over the last `lookback_hours` (a file that lands late is still found). Each file is claimed in the
ledger (CAPTURE#<endpoint> / FILE#<key>, a conditional put) before it is read, so no file is counted
twice; a run that is short of time leaves the rest for the next run. Files are streamed line by line.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from .captures import capture_files
from .drift import DriftReport, DriftTally
from .ledger import Ledger, now_iso

READ_CHUNK = 1 << 20


@dataclass(frozen=True)
class MonitorConfig:
    project: str
    endpoint: str
    bucket: str
    namespace: str
    min_records: int
    lookback_hours: int
    reserve_seconds: float  # stop taking new files when less time than this is left


def live_baseline(ledger: Ledger, sagemaker: Any, s3: Any, endpoint: str) -> tuple[str, dict[str, Any]] | None:
    """(live version ARN, its registered drift baseline), or None when there is nothing to compare with."""
    live = ledger.get(f"ENDPOINT#{endpoint}", "LIVE")
    if not live:
        return None
    arn = str(live["model_package_arn"])
    package = sagemaker.describe_model_package(ModelPackageName=arn)
    statistics = ((package.get("DriftCheckBaselines") or {}).get("ModelDataQuality") or {}).get("Statistics") or {}
    uri = statistics.get("S3Uri")
    if not uri:
        return None
    bucket, _, key = str(uri).removeprefix("s3://").partition("/")
    return arn, json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())


def metric_data(report: DriftReport, endpoint: str, min_records: int, at: datetime) -> list[dict[str, Any]]:
    def datum(name: str, value: float, unit: str = "None", feature: str | None = None) -> dict[str, Any]:
        dimensions = [{"Name": "EndpointName", "Value": endpoint}]
        if feature:
            dimensions.append({"Name": "Feature", "Value": feature})
        return {"MetricName": name, "Value": value, "Unit": unit, "Dimensions": dimensions, "Timestamp": at}

    data = [datum("RecordsAnalysed", report.records, "Count"), datum("MalformedRecords", report.malformed, "Count")]
    if report.records < min_records:
        return data  # too few records to say anything about their distribution
    for name, drift in report.features.items():
        if drift.psi is not None:
            data.append(datum("FeaturePSI", drift.psi, feature=name))
        if drift.missing_rate is not None:
            data.append(datum("MissingRate", drift.missing_rate, feature=name))
    if report.prediction_psi is not None:
        data.append(datum("PredictionPSI", report.prediction_psi))
    if report.score is not None:
        data.append(datum("DriftScore", report.score))
    return data


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
    found = live_baseline(ledger, sagemaker, s3, config.endpoint)
    if found is None:
        return {"Outcome": "no-baseline", "Reason": f"{config.endpoint} serves no version with a drift baseline"}
    version, baseline = found
    tally = DriftTally(baseline)
    files, left = 0, 0
    pk = f"CAPTURE#{config.endpoint}"
    for key in capture_files(s3, config.bucket, config.endpoint, moment, config.lookback_hours):
        if seconds_left() < config.reserve_seconds:
            left += 1
            continue
        if not ledger.record_once(pk, f"FILE#{key}", claimed_at=now_iso(), version=version):
            continue  # an earlier run counted it
        body = s3.get_object(Bucket=config.bucket, Key=key)["Body"]
        tally.add_lines(body.iter_lines(chunk_size=READ_CHUNK))
        files += 1
    report = tally.report()
    data = metric_data(report, config.endpoint, config.min_records, moment)
    for start in range(0, len(data), 500):
        cloudwatch.put_metric_data(Namespace=config.namespace, MetricData=data[start : start + 500])
    summary = {
        "Outcome": "measured" if report.records >= config.min_records else "too-few-records",
        "Version": version,
        "Files": files,
        "FilesLeftForNextRun": left,
        "Records": report.records,
        "Malformed": report.malformed,
        "DriftScore": report.score if report.records >= config.min_records else None,
        "PredictionPSI": report.prediction_psi,
        "FeaturePSI": {name: d.psi for name, d in report.features.items()},
        "Problems": report.problems,
    }
    ledger.put(pk, f"RUN#{now_iso()}", kind="drift-run", summary=json.dumps(summary, default=str)[:30000])
    return summary
