"""AWS errors worth retrying, surfaced to the workflows under one name.

The SDK already retries throttling, 5xx answers and timeouts a few times. When they persist past that,
the workflow step fails with `TransientAwsError`, which every Lambda task of the workflows retries
with a backoff of its own; any other error (a validation error, a missing resource) keeps its name and
goes to the task's Catch. Step Functions names a function's error by its exception's class, so a
subclass (a lock or gate conflict) leaves the block as a plain TransientAwsError: the name the
workflows retry.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as SdkConnectionError

# Throttling codes of the services the workflows call (botocore's retry rules name the same ones).
THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "Throttled",
        "RequestThrottled",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "SlowDown",
        "PriorRequestNotComplete",
        "KMSThrottling",
        "KMSThrottlingException",
    }
)


class TransientAwsError(RuntimeError):
    """An AWS call kept failing in a way that retrying later may fix (throttling, a 5xx, no answer)."""


def is_transient(error: BaseException) -> bool:
    if isinstance(error, ClientError):
        code = str(error.response.get("Error", {}).get("Code", ""))
        status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
        return code in THROTTLING_CODES or status == 429 or status >= 500
    return isinstance(error, SdkConnectionError | HTTPClientError)  # timeouts, dropped or refused connections


@contextlib.contextmanager
def transient_errors_named() -> Iterator[None]:
    """Inside the block, a transient AWS error leaves as TransientAwsError (the original as its cause)."""
    try:
        yield
    except TransientAwsError as error:
        if type(error) is TransientAwsError:
            raise
        raise TransientAwsError(f"{type(error).__name__}: {error}") from error
    except (ClientError, SdkConnectionError, HTTPClientError) as error:
        if not is_transient(error):
            raise
        operation = getattr(error, "operation_name", "") or "an AWS call"
        raise TransientAwsError(f"{operation} kept failing: {error}") from error
