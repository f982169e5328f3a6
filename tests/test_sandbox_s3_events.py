"""S3 tells EventBridge of new objects as AWS documents it (tests/aws_events/s3-object-created.json).

A bucket created by CloudFormation with NotificationConfiguration.EventBridgeConfiguration sends "Object Created"
events onto the default bus; a rule on the bucket's name and a key prefix delivers them; each event has the
documented keys (version-id for a versioned bucket only), an ISO 8601 time, the API as its reason, the key URL-encoded
and a sequencer that grows.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from sandbox.core import Sandbox
from tests.aws_shapes import documented

ISO_SECONDS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")


def key_paths(value: Any, path: str = "") -> set[str]:
    """Every key of a JSON value, at every depth, as dotted paths."""
    if not isinstance(value, dict):
        return set()
    found = set()
    for key, child in value.items():
        where = f"{path}.{key}" if path else key
        found |= {where} | key_paths(child, where)
    return found


DOCUMENTED = documented("s3-object-created.json")


def bucket_stack(sandbox: Sandbox, name: str, versioned: bool, event_bridge: Any = True) -> str:
    """A CloudFormation stack of one bucket, named `name`, sending its events to EventBridge as asked."""
    properties: dict[str, Any] = {"BucketName": name}
    if event_bridge is not None:
        properties["NotificationConfiguration"] = {"EventBridgeConfiguration": {"EventBridgeEnabled": event_bridge}}
    if versioned:
        properties["VersioningConfiguration"] = {"Status": "Enabled"}
    template = {"Resources": {"Bucket": {"Type": "AWS::S3::Bucket", "Properties": properties}}}
    sandbox.client("cloudformation").create_stack(StackName=name, TemplateBody=json.dumps(template))
    return name


def prefix_rule(sandbox: Sandbox, bucket: str, prefix: str) -> str:
    """A rule on the default bus for the bucket's new objects under `prefix`, delivering to a queue."""
    sqs, events = sandbox.client("sqs"), sandbox.client("events")
    url = sqs.create_queue(QueueName=f"{bucket}-events")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    pattern = {
        "source": ["aws.s3"],
        "detail-type": ["Object Created"],
        "detail": {"bucket": {"name": [bucket]}, "object": {"key": [{"prefix": prefix}]}},
    }
    events.put_rule(Name=f"{bucket}-new", EventPattern=json.dumps(pattern))
    events.put_targets(Rule=f"{bucket}-new", Targets=[{"Id": "queue", "Arn": arn}])
    return str(url)


def delivered(sandbox: Sandbox, url: str) -> list[dict[str, Any]]:
    sandbox.settle()
    sqs = sandbox.client("sqs")
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    return [json.loads(message["Body"]) for message in messages]


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox() as running:
        yield running


def test_a_put_under_the_prefix_is_delivered_with_exactly_the_documented_keys(sandbox: Sandbox) -> None:
    bucket = bucket_stack(sandbox, "landing-versioned", versioned=True)
    url = prefix_rule(sandbox, bucket, "incoming/")
    s3 = sandbox.client("s3")
    body = b"hello"
    put = s3.put_object(Bucket=bucket, Key="incoming/example-key", Body=body)
    s3.put_object(Bucket=bucket, Key="elsewhere/other-key", Body=b"not for this rule")

    (event,) = delivered(sandbox, url)

    assert key_paths(event) == key_paths(DOCUMENTED)
    assert ISO_SECONDS.fullmatch(event["time"])
    assert (event["source"], event["detail-type"], event["account"]) == ("aws.s3", "Object Created", "123456789012")
    assert (event["region"], event["resources"]) == ("us-east-1", [f"arn:aws:s3:::{bucket}"])
    obj = event["detail"]["object"]
    assert (obj["key"], obj["size"], obj["etag"]) == ("incoming/example-key", 5, hashlib.md5(body).hexdigest())
    assert obj["version-id"] == put["VersionId"]
    assert event["detail"]["reason"] == "PutObject"
    assert event["detail"]["version"] == "0"


def test_an_unversioned_bucket_sends_no_version_id(sandbox: Sandbox) -> None:
    s3 = sandbox.client("s3")
    s3.create_bucket(Bucket="landing-plain")
    s3.put_bucket_notification_configuration(
        Bucket="landing-plain", NotificationConfiguration={"EventBridgeConfiguration": {}}
    )
    url = prefix_rule(sandbox, "landing-plain", "in/")
    s3.put_object(Bucket="landing-plain", Key="in/a.csv", Body=b"1,2\n")

    (event,) = delivered(sandbox, url)

    assert key_paths(event) == key_paths(DOCUMENTED) - {"detail.object.version-id"}


def test_the_reason_names_the_api_and_the_sequencer_grows_on_a_key(sandbox: Sandbox) -> None:
    bucket = bucket_stack(sandbox, "landing-apis", versioned=False)
    url = prefix_rule(sandbox, bucket, "in/")
    s3 = sandbox.client("s3")
    s3.put_object(Bucket=bucket, Key="in/a.csv", Body=b"first")
    s3.put_object(Bucket=bucket, Key="in/a.csv", Body=b"second")
    s3.copy_object(Bucket=bucket, Key="in/b.csv", CopySource={"Bucket": bucket, "Key": "in/a.csv"})
    upload = s3.create_multipart_upload(Bucket=bucket, Key="in/c.csv")["UploadId"]
    part = s3.upload_part(Bucket=bucket, Key="in/c.csv", UploadId=upload, PartNumber=1, Body=b"third")
    s3.complete_multipart_upload(
        Bucket=bucket,
        Key="in/c.csv",
        UploadId=upload,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]},
    )

    events = delivered(sandbox, url)

    reasons = [(e["detail"]["object"]["key"], e["detail"]["reason"]) for e in events]
    assert sorted(reasons) == [
        ("in/a.csv", "PutObject"),
        ("in/a.csv", "PutObject"),
        ("in/b.csv", "CopyObject"),
        ("in/c.csv", "CompleteMultipartUpload"),
    ]
    first, second = sorted(
        e["detail"]["object"]["sequencer"] for e in events if e["detail"]["object"]["key"] == "in/a.csv"
    )
    assert re.fullmatch(r"[0-9A-F]{18}", first) and first < second
    sizes = {e["detail"]["object"]["size"] for e in events if e["detail"]["object"]["key"] == "in/a.csv"}
    assert sizes == {5, 6}


def test_the_key_is_url_encoded_as_s3_encodes_it(sandbox: Sandbox) -> None:
    bucket = bucket_stack(sandbox, "landing-keys", versioned=False)
    url = prefix_rule(sandbox, bucket, "in/")
    sandbox.client("s3").put_object(Bucket=bucket, Key="in/year=2024/red flower+1.csv", Body=b"x")

    (event,) = delivered(sandbox, url)

    assert event["detail"]["object"]["key"] == "in/year%3D2024/red+flower%2B1.csv"


def test_event_bridge_enabled_false_sends_nothing_true_sends(sandbox: Sandbox) -> None:
    quiet = bucket_stack(sandbox, "landing-quiet", versioned=False, event_bridge=False)
    loud = bucket_stack(sandbox, "landing-loud", versioned=False, event_bridge="true")  # as a template's text
    urls = {bucket: prefix_rule(sandbox, bucket, "in/") for bucket in (quiet, loud)}
    for bucket in (quiet, loud):
        sandbox.client("s3").put_object(Bucket=bucket, Key="in/a.csv", Body=b"x")

    assert delivered(sandbox, urls[quiet]) == []
    assert [e["detail"]["bucket"]["name"] for e in delivered(sandbox, urls[loud])] == [loud]


def test_the_templates_artifact_bucket_is_versioned_and_tells_eventbridge_for_a_batch_project(
    sandbox: Sandbox,
) -> None:
    s3 = sandbox.client("s3")
    batch = sandbox.deploy_stack("scorer", ServingKind="Batch")
    live = sandbox.deploy_stack("churn")
    since = len(sandbox.state.emitted_events)

    for stack in (batch, live):
        s3.put_object(Bucket=stack.outputs["ArtifactBucketName"], Key="reports/new.csv", Body=b"1\n")
    sandbox.settle()

    told = [e["detail"]["bucket"]["name"] for e in sandbox.state.emitted_events[since:] if e["source"] == "aws.s3"]
    assert told == [batch.outputs["ArtifactBucketName"]]
    assert s3.get_bucket_versioning(Bucket=live.outputs["ArtifactBucketName"])["Status"] == "Enabled"
