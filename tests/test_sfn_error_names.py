"""The sandbox names integration errors as Step Functions does on AWS.

The expected names are recordings made against AWS (LocalStack's snapshot files, marked as validated against
AWS: tests/aws/services/stepfunctions/v2/error_handling/test_aws_sdk.snapshot.json,
test_task_service_dynamodb.snapshot.json, test_task_service_sqs.snapshot.json and
services/test_sns_task_service.snapshot.json, recorded 2023-2025) and AWS's documentation (Step Functions
developer guide: "AWS SDK service integrations", "Handle Lambda service exceptions", "Add EventBridge events").
Each row: the integration, the error code the service answered (from the recording's cause), the name reported.
"""

from __future__ import annotations

import pytest

from sandbox import sfn_errors

RECORDED = [
    # aws-sdk integrations: a modelled code keeps its exception, any other is the SDK's base exception
    ("aws-sdk:dynamodb:putItem", "ValidationException", "DynamoDb.DynamoDbException"),
    ("aws-sdk:dynamodb:putItem", "ResourceNotFoundException", "DynamoDb.ResourceNotFoundException"),
    ("aws-sdk:secretsmanager:createSecret", "ValidationException", "SecretsManager.SecretsManagerException"),
    ("aws-sdk:s3:getObject", "NoSuchKey", "S3.NoSuchKeyException"),
    ("aws-sdk:s3:listObjects", "NoSuchBucket", "S3.NoSuchBucketException"),
    # optimized integrations: the older SDK's names
    ("dynamodb:putItem", "ValidationException", "DynamoDB.AmazonDynamoDBException"),
    ("dynamodb:putItem", "ResourceNotFoundException", "DynamoDB.ResourceNotFoundException"),
    ("sqs:sendMessage", "MissingParameter", "SQS.AmazonSQSException"),
    ("sns:publish", "InvalidParameter", "SNS.InvalidParameterException"),
    ("sns:publish", "NotFound", "SNS.NotFoundException"),
]


@pytest.mark.parametrize(("resource", "code", "reported"), RECORDED)
def test_a_recorded_error_gets_the_recorded_name(resource: str, code: str, reported: str) -> None:
    integration = sfn_errors.integration_of(f"arn:aws:states:::{resource}")
    assert integration is not None
    assert sfn_errors.error_name(integration, code) == reported


def test_a_request_without_an_answer_is_an_sdk_client_exception() -> None:
    integration = sfn_errors.integration_of("arn:aws:states:::sqs:sendMessage")
    assert integration is not None and sfn_errors.no_answer(integration) == "SQS.SdkClientException"


@pytest.mark.parametrize(
    ("code", "reported"),
    [
        # SageMaker's model lists ConflictException, ResourceInUse, ResourceLimitExceeded, ResourceNotFound and
        # ResourceAlreadyExists: everything else (validation, throttling, internal errors) is SageMakerException.
        ("ResourceNotFound", "SageMaker.ResourceNotFoundException"),
        ("ResourceInUse", "SageMaker.ResourceInUseException"),
        ("ValidationException", "SageMaker.SageMakerException"),
        ("ThrottlingException", "SageMaker.SageMakerException"),
        ("InternalFailure", "SageMaker.SageMakerException"),
        ("ServiceUnavailable", "SageMaker.SageMakerException"),
    ],
)
def test_sagemaker_errors_collapse_into_its_base_exception_unless_modelled(code: str, reported: str) -> None:
    integration = sfn_errors.integration_of("arn:aws:states:::aws-sdk:sagemaker:createModel")
    assert integration is not None and sfn_errors.error_name(integration, code) == reported


def test_the_documented_lambda_and_eventbridge_names_can_occur() -> None:
    lambda_task = sfn_errors.integration_of("arn:aws:states:::lambda:invoke.waitForTaskToken")
    events_task = sfn_errors.integration_of("arn:aws:states:::events:putEvents")
    assert lambda_task is not None and events_task is not None
    documented = {
        "Lambda.ServiceException",
        "Lambda.AWSLambdaException",
        "Lambda.SdkClientException",
        "Lambda.ClientExecutionTimeoutException",
        "Lambda.TooManyRequestsException",
        "Lambda.Unknown",
    }
    assert documented <= sfn_errors.possible_names(lambda_task)
    assert "EventBridge.FailedEntry" in sfn_errors.possible_names(events_task)
    never = {"SageMaker.ThrottlingException", "DynamoDB.InternalServerError", "SageMaker.InternalFailureException"}
    sagemaker_task = sfn_errors.integration_of("arn:aws:states:::aws-sdk:sagemaker:createModel")
    dynamodb_task = sfn_errors.integration_of("arn:aws:states:::dynamodb:putItem")
    assert sagemaker_task is not None and dynamodb_task is not None
    assert not never & (sfn_errors.possible_names(sagemaker_task) | sfn_errors.possible_names(dynamodb_task))
