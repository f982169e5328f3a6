"""Malformed events are set aside, with the reason, in the project's rejected-events queue."""

from __future__ import annotations

import json
from typing import Any


def set_aside(sqs: Any, queue_url: str, event: object, reason: str, function_name: str) -> None:
    """Keep a rejected event and why it was rejected; it is not retried."""
    sqs.send_message(
        QueueUrl=queue_url,
        MessageBody=json.dumps({"reason": reason, "function": function_name, "event": event}, default=str),
        MessageAttributes={"reason": {"DataType": "String", "StringValue": reason[:1024]}},
    )
