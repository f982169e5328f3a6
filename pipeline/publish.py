"""Upload what the pipeline definition refers to into the project's artifact bucket.

    python -m pipeline.publish --stack churn-mlops        # bucket from the stack's outputs
    python -m pipeline.publish --bucket <bucket name>
    python -m pipeline.publish --stack churn-mlops --commit <sha> --repository <url>

Writes s3://<bucket>/pipeline/code/<script>.py (the processing steps' code input),
s3://<bucket>/pipeline/code/sourcedir.tar.gz (the same scripts for the training job, which packs
the serving code into each model it trains), s3://<bucket>/pipeline/code/source.json ({"commit": ...,
"repository": ...} as given, empty strings otherwise: nothing is guessed from git; each version the pipeline
registers carries them in MetadataProperties.CommitId and Repository) and s3://<bucket>/pipeline/data/churn.csv
(the InputDataUrl default). Run it after `sam deploy` and whenever the scripts change (versions trained
before keep the code they were trained with); a retrain reads the newest data from InputDataUrl.
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import sys
import tarfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SCRIPTS = HERE / "scripts"
DATA = HERE / "data" / "churn.csv"
CODE_PREFIX = "pipeline/code"
DATA_KEY = "pipeline/data/churn.csv"
ARCHIVE_KEY = f"{CODE_PREFIX}/sourcedir.tar.gz"
SOURCE_KEY = f"{CODE_PREFIX}/source.json"


def scripts() -> list[Path]:
    return sorted(SCRIPTS.glob("*.py"))


def source_archive() -> bytes:
    """The scripts as a tar.gz, byte-for-byte the same for the same scripts (no times, no owners)."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for script in scripts():
            info = tarfile.TarInfo(script.name)
            content = script.read_bytes()
            info.size, info.mode, info.mtime = len(content), 0o644, 0
            archive.addfile(info, io.BytesIO(content))
    return gzip.compress(raw.getvalue(), mtime=0)


def source_record(commit: str = "", repository: str = "") -> bytes:
    """source.json: where the published scripts come from (preprocess.py reads it into the lineage)."""
    return json.dumps({"commit": commit, "repository": repository}, sort_keys=True).encode()


def publish(s3: Any, bucket: str, data: Path = DATA, commit: str = "", repository: str = "") -> list[str]:
    """Upload the scripts, their archive, where they come from and the data; returns the S3 URIs written.
    source.json is written every time, so a publish without a commit never leaves an older one in place."""
    written = []
    for script in scripts():
        key = f"{CODE_PREFIX}/{script.name}"
        s3.put_object(Bucket=bucket, Key=key, Body=script.read_bytes())
        written.append(f"s3://{bucket}/{key}")
    s3.put_object(Bucket=bucket, Key=ARCHIVE_KEY, Body=source_archive())
    written.append(f"s3://{bucket}/{ARCHIVE_KEY}")
    s3.put_object(Bucket=bucket, Key=SOURCE_KEY, Body=source_record(commit, repository))
    written.append(f"s3://{bucket}/{SOURCE_KEY}")
    s3.put_object(Bucket=bucket, Key=DATA_KEY, Body=data.read_bytes())
    written.append(f"s3://{bucket}/{DATA_KEY}")
    return written


def stack_bucket(cloudformation: Any, stack: str) -> str:
    outputs = cloudformation.describe_stacks(StackName=stack)["Stacks"][0].get("Outputs", [])
    for output in outputs:
        if output["OutputKey"] == "ArtifactBucketName":
            return str(output["OutputValue"])
    raise SystemExit(f"stack {stack} has no ArtifactBucketName output: is it this project's stack?")


def main(argv: list[str] | None = None) -> int:
    import boto3

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--stack", help="the project's stack (its ArtifactBucketName output)")
    target.add_argument("--bucket", help="the artifact bucket itself")
    parser.add_argument("--data", type=Path, default=DATA, help="the CSV to train on (default: the shipped sample)")
    parser.add_argument("--commit", default="", help="the commit the scripts come from (default: none recorded)")
    parser.add_argument("--repository", default="", help="the repository of that commit (default: none recorded)")
    args = parser.parse_args(argv)
    bucket = args.bucket or stack_bucket(boto3.client("cloudformation"), args.stack)
    for uri in publish(boto3.client("s3"), bucket, args.data, args.commit, args.repository):
        print(uri)
    return 0


if __name__ == "__main__":
    sys.exit(main())
