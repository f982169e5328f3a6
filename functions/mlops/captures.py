"""Data capture files on S3: SageMaker writes each variant's records under
<DestinationS3Uri>/<endpoint>/<variant>/yyyy/mm/dd/hh/ (SageMaker developer guide, "Capture data from real-time
endpoint"); the deploy workflow's configs capture to s3://<artifact bucket>/datacapture."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

CAPTURE_PREFIX = "datacapture"
SHADOW_PREFIX = "Shadow"  # a shadow variant's name: its records are no live traffic (mlops.shadows)


def is_shadow_variant(variant_name: str) -> bool:
    return variant_name.startswith(SHADOW_PREFIX)


def capture_files(s3: Any, bucket: str, endpoint: str, now: datetime, lookback_hours: int) -> Iterator[str]:
    """Capture files of every production variant from the hour `lookback_hours` before `now` on, each variant's
    oldest first. A shadow variant's records are the candidate's answers to copies of requests that no user saw:
    they are not live traffic (mlops.shadows). Keys sort by their hour (yyyy/mm/dd/hh), so one listing per
    variant that starts after the first hour's prefix finds them all (not one listing per hour)."""
    base = f"{CAPTURE_PREFIX}/{endpoint}/"
    variants = [
        prefix["Prefix"]
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=base, Delimiter="/")
        for prefix in page.get("CommonPrefixes", [])
        if not is_shadow_variant(prefix["Prefix"][len(base) :])
    ]
    first = (now - timedelta(hours=lookback_hours)).strftime("%Y/%m/%d/%H/")
    for variant in variants:
        yield from files_after(s3, bucket, variant, variant + first)


def files_after(s3: Any, bucket: str, prefix: str, start_after: str) -> Iterator[str]:
    """The .jsonl files under `prefix` whose keys sort after `start_after` (ListObjectsV2 StartAfter)."""
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix, StartAfter=start_after)
    for page in pages:
        for item in page.get("Contents", []):
            if item["Key"].endswith(".jsonl"):
                yield str(item["Key"])


def variant_capture_files(
    s3: Any, bucket: str, endpoint: str, variant: str, since: datetime, until: datetime
) -> Iterator[str]:
    """One variant's capture files of the hours from `since` to `until`, oldest first."""
    hour = since.replace(minute=0, second=0, microsecond=0)
    while hour <= until:
        yield from _files_under(s3, bucket, f"{CAPTURE_PREFIX}/{endpoint}/{variant}/{hour:%Y/%m/%d/%H}/")
        hour += timedelta(hours=1)


def _files_under(s3: Any, bucket: str, prefix: str) -> Iterator[str]:
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            if item["Key"].endswith(".jsonl"):
                yield str(item["Key"])
