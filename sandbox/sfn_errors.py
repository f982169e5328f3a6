"""The error names Step Functions reports when one of its service integrations fails, as AWS reports them.

This is the sandbox's emulation of AWS (patches.py names the failures of the workflows' own calls with it)
and the reference `make lint` checks the workflows' Retry and Catch names against (scripts/check_asl.py).
It is built from sources outside the project, never from what the workflows expect:

- Step Functions developer guide, "AWS SDK service integrations": an aws-sdk task's error is
  `ServiceName.ErrorName`, both in PascalCase, and always ends in `Exception` (S3's `BucketAlreadyExists`
  is `S3.BucketAlreadyExistsException`).
- Recordings against AWS (LocalStack's snapshot files, tests/aws/services/stepfunctions/v2/error_handling/
  and .../services/): an error code the service's API model does not list arrives as the SDK's base
  exception of the service: `SecretsManager.SecretsManagerException` for a validation error and
  `DynamoDb.DynamoDbException` from aws-sdk tasks; the optimized integrations use the older SDK's base
  classes, `DynamoDB.AmazonDynamoDBException` (a ValidationException of putItem), `SQS.AmazonSQSException`;
  a modelled code keeps its exception's name (`DynamoDB.ResourceNotFoundException`,
  `SNS.InvalidParameterException` for the code `InvalidParameter`, `SNS.NotFoundException`); a request that
  got no answer is `<Service>.SdkClientException` (`SQS.SdkClientException`, "Unable to execute HTTP request").
- botocore's service models (the installed botocore, a copy of AWS's API models): which error codes each
  service models, and the exception (shape) each code belongs to. Exceptions are the service's, not the
  operation's: an SDK turns a modelled code into its exception whichever operation answered it.
- Step Functions developer guide, "Handle Lambda service exceptions": `Lambda.ServiceException`,
  `Lambda.AWSLambdaException`, `Lambda.SdkClientException`, `Lambda.ClientExecutionTimeoutException`,
  `Lambda.TooManyRequestsException`; errors the function did not handle (out of memory, timeouts) are
  `Lambda.Unknown`; an error the function raised is named by its `errorType` (the exception's class).
- Step Functions developer guide, "Add EventBridge events with Step Functions": a PutEvents answer with a
  non-zero FailedEntryCount fails the task with `EventBridge.FailedEntry`.

Where AWS is silent the choice is written down here and in docs/sandbox.md's list of sandbox divergences: the
optimized EventBridge integration's base exception is taken to be the older SDK's,
`EventBridge.AmazonEventBridgeException`, as it is for DynamoDB, SNS and SQS.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import botocore.session

SDK_CLIENT_EXCEPTION = "SdkClientException"  # the request got no answer (timeout, connection refused)
LAMBDA_UNHANDLED = "Lambda.Unknown"
FAILED_ENTRY = "EventBridge.FailedEntry"

# The names Step Functions itself reports (Amazon States Language specification, "Errors").
STATES_ERRORS = frozenset(
    {
        "States.ALL",
        "States.DataLimitExceeded",
        "States.ExceedToleratedFailureThreshold",
        "States.HeartbeatTimeout",
        "States.Http.Socket",
        "States.IntrinsicFailure",
        "States.ItemReaderFailed",
        "States.NoChoiceMatched",
        "States.ParameterPathFailure",
        "States.Permissions",
        "States.QueryEvaluationError",
        "States.ResultPathMatchFailure",
        "States.ResultWriterFailed",
        "States.Runtime",
        "States.TaskFailed",
        "States.Timeout",
    }
)


@dataclass(frozen=True)
class Integration:
    """How one kind of Task names its errors: the service's name in them and its base exception."""

    botocore_service: str  # botocore's name for the service's model
    prefix: str  # "SageMaker" in "SageMaker.ResourceNotFoundException"
    base: str  # the name of an error the model does not list
    extra: frozenset[str] = frozenset()  # names the integration adds (Lambda's, EventBridge's)


OPTIMIZED = {
    "lambda": Integration(
        "lambda",
        "Lambda",
        "Lambda.AWSLambdaException",
        frozenset({LAMBDA_UNHANDLED, "Lambda.ClientExecutionTimeoutException"}),
    ),
    "dynamodb": Integration("dynamodb", "DynamoDB", "DynamoDB.AmazonDynamoDBException"),
    "sns": Integration("sns", "SNS", "SNS.AmazonSNSException"),
    "sqs": Integration("sqs", "SQS", "SQS.AmazonSQSException"),
    "events": Integration("events", "EventBridge", "EventBridge.AmazonEventBridgeException", frozenset({FAILED_ENTRY})),
}
# aws-sdk tasks name a service by its SDK's (v2) service name: botocore's serviceId without spaces, except
# where the recordings show otherwise.
AWS_SDK_PREFIXES = {"dynamodb": "DynamoDb", "stepfunctions": "Sfn", "sfn": "Sfn"}


@functools.cache
def service_model(botocore_service: str) -> Any:
    """The installed botocore's model of the service (loaded once: the sagemaker model is megabytes of JSON)."""
    return botocore.session.get_session().get_service_model(botocore_service)


@functools.cache
def modelled_exceptions(botocore_service: str) -> dict[str, str]:
    """Error code -> the exception it belongs to, for every error the service's model lists."""
    model = service_model(botocore_service)
    return {shape.metadata.get("error", {}).get("code", shape.name): shape.name for shape in model.error_shapes}


def with_suffix(name: str) -> str:
    return name if name.endswith("Exception") else f"{name}Exception"


@functools.cache
def aws_sdk(service: str) -> Integration:
    """The integration `arn:aws:states:::aws-sdk:<service>:<action>` (service as the resource spells it)."""
    botocore_service = {"sfn": "stepfunctions"}.get(service, service)
    model = service_model(botocore_service)
    prefix = AWS_SDK_PREFIXES.get(service) or model.service_id.replace(" ", "")
    return Integration(botocore_service, prefix, f"{prefix}.{prefix}Exception")


def integration_of(resource: str) -> Integration | None:
    """The integration a Task's Resource names, None for one this module does not know."""
    parts = resource.split(":")
    if len(parts) < 7 or parts[2] != "states":
        return None
    if parts[5] == "aws-sdk":
        return aws_sdk(parts[6])
    return OPTIMIZED.get(parts[5])


def error_name(integration: Integration, code: str) -> str:
    """The name of an error answered with `code` by the integration's service."""
    exception = modelled_exceptions(integration.botocore_service).get(code)
    return f"{integration.prefix}.{with_suffix(exception)}" if exception else integration.base


def no_answer(integration: Integration) -> str:
    return f"{integration.prefix}.{SDK_CLIENT_EXCEPTION}"


def possible_names(integration: Integration) -> frozenset[str]:
    """Every name the integration's own failures can have (a Lambda task adds its function's errors)."""
    exceptions = modelled_exceptions(integration.botocore_service).values()
    modelled = {f"{integration.prefix}.{with_suffix(exception)}" for exception in exceptions}
    return frozenset({*modelled, integration.base, no_answer(integration), *integration.extra})
