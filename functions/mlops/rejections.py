"""Malformed events are set aside, with the reason, in the project's rejected-events queue."""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

# SQS's largest message (the queue's MaximumMessageSize default), less room for the attributes
MAX_BODY_BYTES = 1024 * 1024 - 4096
# characters SQS refuses in a message; JSON escapes the control characters itself
_NOT_FOR_SQS = re.compile("[\ud800-\udfff\ufffe\uffff]")


def _json(value: object) -> str | None:
    """UTF-8 JSON (an escaped accent would take six bytes, not two) with what SQS refuses escaped."""
    try:
        text = json.dumps(value, ensure_ascii=False, default=str)
    except (RecursionError, ValueError):  # nested deeper than JSON allows
        return None
    return _NOT_FOR_SQS.sub(lambda match: f"\\u{ord(match.group()):04x}", text)


def message_body(event: object, reason: str, function_name: str) -> str:
    """The event with its reason; an event too large for one message keeps its start, its size and its digest."""
    kept = {"reason": reason, "function": function_name}
    body = _json({**kept, "event": event})
    if body is not None and len(body.encode()) <= MAX_BODY_BYTES:
        return body
    text = (_json(event) or f"<a {type(event).__name__} nested too deeply for JSON>").encode()
    return json.dumps(
        {
            **kept,
            "event_truncated": text[: MAX_BODY_BYTES // 4].decode(errors="ignore"),
            "event_bytes": len(text),
            "event_sha256": hashlib.sha256(text).hexdigest(),
        },
        ensure_ascii=False,  # the cut text re-escaped stays within twice its size, under the limit
    )


def set_aside(sqs: Any, queue_url: str, event: object, reason: str, function_name: str) -> None:
    """Keep a rejected event and why it was rejected; it is not retried."""
    sqs.send_message(
        QueueUrl=queue_url,
        MessageBody=message_body(event, reason, function_name),
        MessageAttributes={
            "reason": {"DataType": "String", "StringValue": reason.encode("ascii", "backslashreplace").decode()[:1024]}
        },
    )
