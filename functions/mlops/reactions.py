"""What a function did with one event: the value its handler returns and logs."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

Action = Literal["started", "recorded", "completed", "aborted", "duplicate", "ignored", "rejected"]


@dataclass(frozen=True)
class Reaction:
    action: Action
    reason: str
    execution_arn: str | None = None

    def as_dict(self) -> dict[str, str]:
        return {key: value for key, value in asdict(self).items() if value is not None}
