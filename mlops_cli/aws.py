"""AWS clients made the way the AWS CLI makes them: --profile, --region, --endpoint-url (or AWS_ENDPOINT_URL)."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.config import Config


@dataclass
class Clients:
    """One boto3 client per service, made on first use and kept."""

    profile: str | None = None
    region: str | None = None
    endpoint_url: str | None = None
    # makes a client for a service name instead of boto3 (tests: the in-process sandbox's clients)
    factory: Callable[[str], Any] | None = field(default=None, repr=False)
    _made: dict[str, Any] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if self.factory is not None:
            self.region = self.region or "us-east-1"
            return
        self.endpoint_url = self.endpoint_url or os.environ.get("AWS_ENDPOINT_URL") or None
        # AWS_REGION as the AWS CLI v2 and the SDKs read it (boto3 reads AWS_DEFAULT_REGION only)
        region = self.region or os.environ.get("AWS_REGION") or None
        self._session = boto3.Session(profile_name=self.profile, region_name=region)
        if self._session.region_name is None:
            raise UsageError("no region: pass --region, set AWS_REGION or AWS_DEFAULT_REGION, or name one in a profile")

    @property
    def region_name(self) -> str:
        return str(self.region) if self.factory is not None else str(self._session.region_name)

    def __call__(self, service: str) -> Any:
        if service not in self._made and self.factory is not None:
            self._made[service] = self.factory(service)
        if service not in self._made:
            self._made[service] = self._session.client(
                service,
                endpoint_url=self.endpoint_url,
                config=Config(retries={"mode": "standard", "max_attempts": 5}, connect_timeout=5, read_timeout=30),
            )
        return self._made[service]


class UsageError(Exception):
    """Bad input from the person at the keyboard: printed as it is, exit code 2, nothing started."""
