"""Requests made by real boto3 clients (with all their handlers) parse into what was passed.

The round trip drives botocore's serializer alone; real clients also run handlers that
rewrite requests: S3 checksums and aws-chunked streaming, CopySource dicts turned into a
header, Content-MD5, SQS's query-compatible header, idempotency tokens. Each request is
captured at `before-send`, so nothing leaves the process.
"""

from __future__ import annotations

import datetime as dt
import io
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest
from botocore.config import Config

from freehold.protocol.http import Headers, HttpRequest
from freehold.protocol.parser import parser_for

ENDPOINT = "http://127.0.0.1:4566"


class Captured(Exception):
    def __init__(self, request: HttpRequest) -> None:
        super().__init__("captured")
        self.request = request


def _capture(request: Any, **_: Any) -> None:
    url = urlsplit(request.url)
    headers = Headers([("Host", url.netloc)])
    for key, value in request.headers.items():
        headers.add(key, value.decode("latin-1") if isinstance(value, bytes) else str(value))
    body = request.body
    if body is None:
        data = b""
    elif isinstance(body, (bytes, bytearray)):
        data = bytes(body)
    elif isinstance(body, str):
        data = body.encode()
    else:
        data = body.read()
    raise Captured(HttpRequest(request.method, url.path or "/", url.query, headers, data))


def client(service: str, **config: Any) -> Any:
    made = boto3.client(
        service,
        endpoint_url=ENDPOINT,
        region_name="us-east-1",
        aws_access_key_id="AKIDEXAMPLE",
        aws_secret_access_key="secret",
        config=Config(retries={"max_attempts": 0}, **config),
    )
    made.meta.events.register("before-send", _capture)
    return made


def sent(service: str, method: str, config: dict[str, Any] | None = None, **params: Any) -> tuple[str, dict[str, Any]]:
    with pytest.raises(Captured) as caught:
        getattr(client(service, **(config or {})), method)(**params)
    request = caught.value.request
    parser = parser_for(service)
    operation = parser.operation(request)
    return operation.name, parser.parse(request, operation)


def test_sts_and_iam_query() -> None:
    assert sent("sts", "get_caller_identity") == ("GetCallerIdentity", {})
    name, params = sent("iam", "create_user", UserName="bob", Tags=[{"Key": "k", "Value": "v"}])
    assert (name, params) == ("CreateUser", {"UserName": "bob", "Tags": [{"Key": "k", "Value": "v"}]})


def test_sqs_json_with_query_compatible_header() -> None:
    name, params = sent(
        "sqs", "send_message", QueueUrl="http://q/1/q", MessageBody="hi",
        MessageAttributes={"a": {"DataType": "Binary", "BinaryValue": b"\x00\x01"}},
    )
    assert name == "SendMessage"
    assert params == {
        "QueueUrl": "http://q/1/q", "MessageBody": "hi",
        "MessageAttributes": {"a": {"DataType": "Binary", "BinaryValue": b"\x00\x01"}},
    }


def test_dynamodb_and_cloudwatch_json() -> None:
    item = {"pk": {"S": "a"}, "n": {"N": "1"}, "m": {"M": {"l": {"L": [{"BOOL": True}]}}}}
    assert sent("dynamodb", "put_item", TableName="t", Item=item) == ("PutItem", {"TableName": "t", "Item": item})
    when = dt.datetime(2024, 5, 6, 7, 8, 9, tzinfo=dt.UTC)
    name, params = sent(
        "cloudwatch", "put_metric_data", Namespace="n",
        MetricData=[{"MetricName": "m", "Value": 1.5, "Timestamp": when, "Dimensions": [{"Name": "d", "Value": "v"}]}],
    )
    assert name == "PutMetricData"
    assert params["MetricData"] == [
        {"MetricName": "m", "Value": 1.5, "Timestamp": when, "Dimensions": [{"Name": "d", "Value": "v"}]}
    ]


def test_idempotency_tokens_are_passed_through() -> None:
    name, params = sent("ssm", "start_automation_execution", DocumentName="d")
    assert name == "StartAutomationExecution"
    assert params["DocumentName"] == "d"
    name, params = sent("secretsmanager", "create_secret", Name="s", SecretString="v")
    assert params["Name"] == "s" and params["SecretString"] == "v"
    assert len(params["ClientRequestToken"]) == 36  # botocore generated a UUID


def test_lambda_invoke_rest_json() -> None:
    name, params = sent(
        "lambda", "invoke", FunctionName="f", Payload=b'{"a": 1}', InvocationType="Event", Qualifier="$LATEST"
    )
    assert (name, params) == (
        "Invoke", {"FunctionName": "f", "Payload": b'{"a": 1}', "InvocationType": "Event", "Qualifier": "$LATEST"}
    )


def test_s3_put_object_with_checksum_and_metadata() -> None:
    name, params = sent(
        "s3", "put_object", Bucket="bk", Key="dir/some key+é.txt", Body=b"hello", Metadata={"Owner": "me"},
        ContentType="text/plain",
    )
    assert name == "PutObject"
    assert params["Body"] == b"hello"
    assert params["Key"] == "dir/some key+é.txt"
    assert params["Metadata"] == {"owner": "me"} or params["Metadata"] == {"Owner": "me"}
    assert params["ContentType"] == "text/plain"
    assert params["ContentLength"] == 5
    # botocore adds a CRC32 checksum by default (request_checksum_calculation=when_supported).
    assert params.get("ChecksumCRC32") == "NhCmhg=="


def test_s3_put_object_streaming_aws_chunked() -> None:
    body = io.BufferedReader(io.BytesIO(b"x" * 70000))  # type: ignore[arg-type]
    name, params = sent("s3", "put_object", Bucket="bk", Key="k", Body=body)
    assert name == "PutObject"
    assert params["Body"] == b"x" * 70000
    assert "ContentEncoding" not in params


def test_s3_copy_object_and_upload_part_copy() -> None:
    name, params = sent("s3", "copy_object", Bucket="bk", Key="k2", CopySource={"Bucket": "src", "Key": "a b"})
    assert name == "CopyObject"
    assert params["CopySource"] == "src/a%20b"
    name, params = sent(
        "s3", "upload_part_copy", Bucket="bk", Key="k", PartNumber=2, UploadId="u", CopySource="src/a"
    )
    assert name == "UploadPartCopy"
    assert (params["PartNumber"], params["UploadId"]) == (2, "u")


def test_s3_list_objects_v2_and_delete_objects() -> None:
    name, params = sent("s3", "list_objects_v2", Bucket="bk", Prefix="a/", MaxKeys=5)
    # boto3 asks for url-encoded keys on its own (botocore.handlers.set_list_objects_encoding_type_url).
    assert (name, params) == ("ListObjectsV2", {"Bucket": "bk", "Prefix": "a/", "MaxKeys": 5, "EncodingType": "url"})
    name, params = sent("s3", "delete_objects", Bucket="bk", Delete={"Objects": [{"Key": "a"}, {"Key": "b"}]})
    assert name == "DeleteObjects"
    assert params["Delete"] == {"Objects": [{"Key": "a"}, {"Key": "b"}]}


def test_s3_virtual_host_style_is_not_our_business() -> None:
    # The router rewrites virtual-host style to path style before parsing; path-style
    # addressing, as configured here, reaches us unchanged.
    name, params = sent("s3", "get_object", config={"s3": {"addressing_style": "path"}}, Bucket="bk", Key="k")
    # botocore asks for the response checksum on its own (response_checksum_validation).
    assert (name, params) == ("GetObject", {"Bucket": "bk", "Key": "k", "ChecksumMode": "ENABLED"})
