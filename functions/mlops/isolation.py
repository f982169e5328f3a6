"""Whether a model version can serve with network isolation.

A container with network isolation makes no outbound network call, not even to S3 (SageMaker developer
guide, "Network isolation"). SageMaker itself downloads the model artifact (ModelDataUrl) before the
container starts, but the framework containers download the serving code named by
SAGEMAKER_SUBMIT_DIRECTORY themselves: an s3:// source archive there is out of reach, and the version
never serves. The reference pipeline packs the code into the artifact (SAGEMAKER_SUBMIT_DIRECTORY
/opt/ml/model/code, as the SageMaker Python SDK does for isolated models); versions registered by older
pipelines or by hand may not.
"""

from __future__ import annotations

from typing import Any

SUBMIT_DIRECTORY = "SAGEMAKER_SUBMIT_DIRECTORY"


def code_outside_model(containers: list[dict[str, Any]]) -> str | None:
    """Why these containers (a model package's InferenceSpecification.Containers) cannot serve with network
    isolation, in one line; None when none reads its serving code from S3."""
    for index, container in enumerate(containers or []):
        environment = (container or {}).get("Environment") or {}
        directory = str(environment.get(SUBMIT_DIRECTORY) or "").strip()
        if directory.lower().startswith("s3://"):
            which = f"container {index + 1} of {len(containers)}" if len(containers) > 1 else "its container"
            shown = " ".join(directory.split())  # one line, whatever the value holds
            return (
                f"{which} reads its serving code from {shown} ({SUBMIT_DIRECTORY}), which a model with network "
                "isolation cannot reach: register a version whose code is packed in its model artifact "
                "(SAGEMAKER_SUBMIT_DIRECTORY /opt/ml/model/code)"
            )
    return None
