"""Lifecycle configuration (validation, storage) and its expiration worker, plus the other
stored bucket configurations: notifications and the settings Terraform reads."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.exceptions import ClientError
from s3_helpers import error_of, unique

from support.server import FreeholdServer, create_database


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def fast_lifecycle(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FreeholdServer]:
    """A server whose lifecycle worker runs every half second."""
    state_url = create_database(request.getfixturevalue("postgres_url")) if request.param == "postgresql" else ""
    server = FreeholdServer(tmp_path_factory.mktemp(f"s3-lifecycle-{request.param}"), state_url,
                            env={"FREEHOLD_S3_LIFECYCLE_INTERVAL": "0.5"})
    server.start()
    try:
        yield server
    finally:
        server.stop()


def wait_for(condition: Any, timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return False


def test_lifecycle_configuration_is_validated(fast_lifecycle: FreeholdServer) -> None:
    s3 = fast_lifecycle.client("s3")
    bucket = unique()
    s3.create_bucket(Bucket=bucket)
    with pytest.raises(ClientError) as excinfo:
        s3.get_bucket_lifecycle_configuration(Bucket=bucket)
    assert error_of(excinfo) == ("NoSuchLifecycleConfiguration", "The lifecycle configuration does not exist", 404)
    with pytest.raises(ClientError) as excinfo:
        s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": [
            {"ID": "r", "Status": "Enabled", "Filter": {"Prefix": ""}, "Expiration": {"Days": 0}}]})
    assert error_of(excinfo) == ("InvalidArgument", "'Days' for Expiration action must be a positive integer", 400)
    with pytest.raises(ClientError) as excinfo:
        s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": [
            {"ID": "r", "Status": "Enabled", "Filter": {"Prefix": ""}}]})
    assert error_of(excinfo) == ("InvalidRequest", "At least one action needs to be specified in a rule", 400)
    with pytest.raises(ClientError) as excinfo:
        s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": [
            {"ID": "r", "Status": "Enabled", "Filter": {}, "Expiration": {"Date": datetime(2030, 1, 1, 12, tzinfo=UTC)}}]})
    assert error_of(excinfo) == ("InvalidArgument", "'Date' must be at midnight GMT", 400)
    rules = [{"ID": "logs", "Status": "Enabled", "Filter": {"Prefix": "logs/"}, "Expiration": {"Days": 30},
              "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7}}]
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": rules})
    assert s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"] == rules
    s3.delete_bucket_lifecycle(Bucket=bucket)
    with pytest.raises(ClientError):
        s3.get_bucket_lifecycle_configuration(Bucket=bucket)


def test_worker_expires_objects(fast_lifecycle: FreeholdServer) -> None:
    s3 = fast_lifecycle.client("s3")
    bucket = unique()
    s3.create_bucket(Bucket=bucket)
    for key in ("tmp/a", "tmp/b", "keep/c"):
        s3.put_object(Bucket=bucket, Key=key, Body=b"x")
    s3.put_object(Bucket=bucket, Key="tmp/tagged-keep", Body=b"x", Tagging="hold=yes")
    # A Date in the past: everything the rule selects is due now.
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": [
        {"ID": "expire-tmp", "Status": "Enabled",
         "Filter": {"And": {"Prefix": "tmp/", "Tags": [{"Key": "hold", "Value": "no"}]}},
         "Expiration": {"Date": datetime(2020, 1, 1, tzinfo=UTC)}},
        {"ID": "expire-tmp-untagged", "Status": "Enabled", "Filter": {"ObjectSizeLessThan": 2, "Prefix": "tmp/a"},
         "Expiration": {"Date": datetime(2020, 1, 1, tzinfo=UTC)}},
        {"ID": "disabled", "Status": "Disabled", "Filter": {"Prefix": "keep/"},
         "Expiration": {"Date": datetime(2020, 1, 1, tzinfo=UTC)}},
    ]})

    def keys() -> list[str]:
        return [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]

    assert wait_for(lambda: "tmp/a" not in keys()), keys()
    time.sleep(1.2)  # a few more passes: nothing else may go
    assert keys() == ["keep/c", "tmp/b", "tmp/tagged-keep"]


def test_worker_in_versioned_bucket_and_stale_uploads(fast_lifecycle: FreeholdServer) -> None:
    s3 = fast_lifecycle.client("s3")
    bucket = unique()
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    version = s3.put_object(Bucket=bucket, Key="old/doc", Body=b"v1")["VersionId"]
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="old/upload")["UploadId"]
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": [
        {"ID": "expire", "Status": "Enabled", "Filter": {"Prefix": "old/"},
         "Expiration": {"Date": datetime(2020, 1, 1, tzinfo=UTC)}}]})
    assert wait_for(lambda: s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0)
    listed = s3.list_object_versions(Bucket=bucket)
    # Versioned: the object is hidden behind a delete marker, its version is kept.
    assert [v["VersionId"] for v in listed["Versions"]] == [version]
    assert len(listed["DeleteMarkers"]) == 1
    assert s3.list_multipart_uploads(Bucket=bucket)["Uploads"][0]["UploadId"] == upload_id


def test_notification_configuration(fast_lifecycle: FreeholdServer) -> None:
    s3 = fast_lifecycle.client("s3")
    bucket = unique()
    s3.create_bucket(Bucket=bucket)
    assert {k: v for k, v in s3.get_bucket_notification_configuration(Bucket=bucket).items()
            if k != "ResponseMetadata"} == {}
    queue = "arn:aws:sqs:us-east-1:000000000000:uploads"
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={
        "QueueConfigurations": [{"QueueArn": queue, "Events": ["s3:ObjectCreated:*"], "Filter": {"Key": {
            "FilterRules": [{"Name": "prefix", "Value": "logos/"}, {"Name": "suffix", "Value": ".png"}]}}}],
        "EventBridgeConfiguration": {}})
    stored = s3.get_bucket_notification_configuration(Bucket=bucket)
    assert stored["QueueConfigurations"][0]["QueueArn"] == queue
    assert stored["QueueConfigurations"][0]["Id"]
    assert "EventBridgeConfiguration" in stored
    with pytest.raises(ClientError) as excinfo:
        s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={
            "QueueConfigurations": [{"QueueArn": queue, "Events": ["s3:ObjectEaten:*"]}]})
    assert error_of(excinfo)[0::2] == ("InvalidArgument", 400)
    with pytest.raises(ClientError) as excinfo:
        s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={
            "TopicConfigurations": [{"TopicArn": "not-an-arn", "Events": ["s3:ObjectCreated:*"]}]})
    assert error_of(excinfo)[0::2] == ("InvalidArgument", 400)


def test_settings_terraform_reads(fast_lifecycle: FreeholdServer) -> None:
    s3 = fast_lifecycle.client("s3")
    bucket = unique()
    s3.create_bucket(Bucket=bucket)
    assert "Status" not in s3.get_bucket_accelerate_configuration(Bucket=bucket)
    s3.put_bucket_accelerate_configuration(Bucket=bucket, AccelerateConfiguration={"Status": "Enabled"})
    assert s3.get_bucket_accelerate_configuration(Bucket=bucket)["Status"] == "Enabled"
    assert s3.get_bucket_request_payment(Bucket=bucket)["Payer"] == "BucketOwner"
    assert "LoggingEnabled" not in s3.get_bucket_logging(Bucket=bucket)
    with pytest.raises(ClientError) as excinfo:
        s3.get_bucket_replication(Bucket=bucket)
    assert error_of(excinfo)[0::2] == ("ReplicationConfigurationNotFoundError", 404)
    with pytest.raises(ClientError) as excinfo:
        s3.get_object_lock_configuration(Bucket=bucket)
    assert error_of(excinfo)[0::2] == ("ObjectLockConfigurationNotFoundError", 404)
