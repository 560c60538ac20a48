"""Hand-written tests of the response serializers: error formats, request ids, 501s,
streaming and event-stream bodies, headers, timestamps and XML details.

botocore's response parser is the oracle throughout (parse_response, shared with the
round-trip test); exact bytes are asserted where AWS's wire format is what matters.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from botocore.model import ServiceModel
from test_serializer_roundtrip import body_bytes, parse_response

from freehold.protocol.errors import ServiceError, internal_error, not_implemented
from freehold.protocol.http import HttpResponse
from freehold.protocol.serializer import serializer_for
from freehold.protocol.serializer_cbor import EpochTimestamp, cbor_encode
from freehold.protocol.serializer_json import RestJsonSerializer
from freehold.protocol.serializer_values import epoch_seconds, iso8601, rfc822
from freehold.protocol.specs import service_model

RID = "4442587F-A8C1-4B0E-9E34-5E1A2B3C4D5E"
WHEN = dt.datetime(2024, 2, 29, 23, 59, 58, tzinfo=dt.UTC)


def _op(service: str, name: str) -> Any:
    return service_model(service).operation_model(name)


def _error(service: str, operation: str | None, error: ServiceError, protocol: str | None = None) -> tuple[HttpResponse, dict[str, Any]]:
    op = _op(service, operation) if operation else None
    response = serializer_for(service, protocol).serialize_error(error, op, RID)
    chosen = protocol or str(service_model(service).resolved_protocol)
    return response, parse_response(chosen, response, op)


# -- error formats per protocol ----------------------------------------------------------


def test_query_error_document_is_aws_error_response() -> None:
    response, parsed = _error("iam", "GetUser", ServiceError("NoSuchEntity", "The user with name bob cannot be found."))
    assert response.status == 404
    assert response.headers["Content-Type"] == "text/xml"
    assert response.headers["x-amzn-RequestId"] == RID
    assert response.body == (
        b'<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><Error><Type>Sender</Type>'
        b"<Code>NoSuchEntity</Code><Message>The user with name bob cannot be found.</Message></Error>"
        b"<RequestId>" + RID.encode() + b"</RequestId></ErrorResponse>"
    )
    assert parsed["Error"] == {
        "Type": "Sender",
        "Code": "NoSuchEntity",
        "Message": "The user with name bob cannot be found.",
    }
    assert parsed["ResponseMetadata"]["RequestId"] == RID


def test_query_error_raised_by_shape_name_uses_modelled_code() -> None:
    _, parsed = _error("iam", "GetUser", ServiceError("NoSuchEntityException", "gone"))
    assert parsed["Error"]["Code"] == "NoSuchEntity"


def test_query_server_fault_is_receiver() -> None:
    response, parsed = _error("iam", "GetUser", ServiceError("ServiceFailure", "boom"))
    assert response.status == 500
    assert parsed["Error"]["Type"] == "Receiver"


def test_json_error_has_type_message_and_error_type_header() -> None:
    error = ServiceError("ResourceNotFoundException", "Requested resource not found")
    response, parsed = _error("dynamodb", "GetItem", error)
    assert response.status == 400
    assert response.headers["Content-Type"] == "application/x-amz-json-1.0"
    assert response.headers["x-amzn-ErrorType"] == "ResourceNotFoundException"
    assert "x-amzn-query-error" not in response.headers
    assert json.loads(body_bytes(response)) == {
        "__type": "ResourceNotFoundException",
        "message": "Requested resource not found",
    }
    assert parsed["Error"] == {"Code": "ResourceNotFoundException", "Message": "Requested resource not found"}
    assert parsed["ResponseMetadata"]["RequestId"] == RID


def test_json_unmodelled_error_keeps_code_and_status() -> None:
    response, parsed = _error("dynamodb", "GetItem", ServiceError("ValidationException", "bad key", 400))
    assert response.status == 400
    assert parsed["Error"]["Code"] == "ValidationException"


@pytest.mark.parametrize("raised", ["AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"])
def test_sqs_query_compatible_error(raised: str) -> None:
    response, parsed = _error("sqs", "GetQueueUrl", ServiceError(raised, "The specified queue does not exist."))
    assert response.status == 400
    assert response.headers["x-amzn-query-error"] == "AWS.SimpleQueueService.NonExistentQueue;Sender"
    assert json.loads(body_bytes(response))["__type"] == "QueueDoesNotExist"
    # botocore reports the legacy code and keeps the shape name to pick the exception class.
    assert parsed["Error"]["Code"] == "AWS.SimpleQueueService.NonExistentQueue"
    assert parsed["Error"]["QueryErrorCode"] == "QueueDoesNotExist"
    assert parsed["Error"]["Type"] == "Sender"


def test_sqs_legacy_status_comes_from_the_query_table() -> None:
    response, _ = _error("sqs", "PurgeQueue", ServiceError("AWS.SimpleQueueService.PurgeQueueInProgress", "wait"))
    assert response.status == 403


def test_sqs_error_in_query_protocol() -> None:
    response, parsed = _error("sqs", "GetQueueUrl", ServiceError("QueueDoesNotExist", "nope"), "query")
    assert response.headers["Content-Type"] == "text/xml"
    assert b'xmlns="http://queue.amazonaws.com/doc/2012-11-05/"' in body_bytes(response)
    assert parsed["Error"]["Code"] == "AWS.SimpleQueueService.NonExistentQueue"


def test_cloudwatch_shared_code_resolves_to_the_operations_error() -> None:
    # ResourceNotFound is the code of both DashboardNotFoundError and ResourceNotFound.
    response, parsed = _error("cloudwatch", "SetAlarmState", ServiceError("ResourceNotFound", "no alarm"))
    assert response.status == 404
    assert parsed["Error"]["Code"] == "ResourceNotFound"
    assert parsed["Error"]["QueryErrorCode"] == "ResourceNotFound"
    response, parsed = _error("cloudwatch", "GetDashboard", ServiceError("ResourceNotFound", "no dashboard"))
    assert parsed["Error"]["QueryErrorCode"] == "DashboardNotFoundError"


def test_rest_json_error_uses_the_models_message_key() -> None:
    # Lambda's ResourceNotFoundException models "Message"; API Gateway's NotFoundException "message".
    response, parsed = _error("lambda", "GetFunction", ServiceError("ResourceNotFoundException", "Function not found"))
    assert response.status == 404
    assert response.headers["x-amzn-ErrorType"] == "ResourceNotFoundException"
    assert response.headers["Content-Type"] == "application/json"
    document = json.loads(body_bytes(response))
    assert document["Message"] == "Function not found" and "message" not in document
    assert parsed["Error"] == {"Code": "ResourceNotFoundException", "Message": "Function not found"}
    response, _ = _error("apigateway", "GetRestApi", ServiceError("NotFoundException", "Invalid API identifier"))
    assert json.loads(body_bytes(response))["message"] == "Invalid API identifier"


def test_rest_json_error_header_member() -> None:
    error = ServiceError("TooManyRequestsException", "Rate exceeded", fields={"retryAfterSeconds": "3", "Type": "User"})
    response, _parsed = _error("lambda", "Invoke", error)
    assert response.status == 429
    assert response.headers["Retry-After"] == "3"
    modelled = parse_response("rest-json", response, _op("lambda", "Invoke"), service_model("lambda").shape_for("TooManyRequestsException"))
    assert modelled["retryAfterSeconds"] == "3" and modelled["Type"] == "User"


def test_s3_error_document_with_extra_fields() -> None:
    error = ServiceError("NoSuchKey", "The specified key does not exist.", fields={"Key": "a/b.txt"})
    response, parsed = _error("s3", "GetObject", error)
    assert response.status == 404
    assert response.headers["Content-Type"] == "application/xml"
    assert response.headers["x-amz-request-id"] == RID
    host_id = response.headers["x-amz-id-2"]
    assert host_id
    assert body_bytes(response) == (
        b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>NoSuchKey</Code>'
        b"<Message>The specified key does not exist.</Message><Key>a/b.txt</Key>"
        b"<RequestId>" + RID.encode() + b"</RequestId><HostId>" + host_id.encode() + b"</HostId></Error>"
    )
    assert parsed["Error"] == {"Code": "NoSuchKey", "Message": "The specified key does not exist.", "Key": "a/b.txt"}
    assert parsed["ResponseMetadata"]["RequestId"] == RID
    assert parsed["ResponseMetadata"]["HostId"] == host_id


def test_s3_modelled_error_fields() -> None:
    error = ServiceError("InvalidObjectState", "archived", fields={"StorageClass": "GLACIER"})
    response, _parsed = _error("s3", "GetObject", error)
    assert response.status == 403
    modelled = parse_response("rest-xml", response, _op("s3", "GetObject"), service_model("s3").shape_for("InvalidObjectState"))
    assert modelled == {"StorageClass": "GLACIER"}


def test_head_error_has_no_body() -> None:
    response, parsed = _error("s3", "HeadObject", ServiceError("NoSuchKey", "gone"))
    assert response.status == 404
    assert response.body == b""
    assert "Content-Type" not in response.headers
    assert response.headers["Content-Length"] == "0"
    assert parsed["Error"]["Code"] == "404"  # what boto3 users see for a missing object on HEAD


def test_not_modified_has_no_body() -> None:
    response, parsed = _error("s3", "GetObject", ServiceError("NotModified", "Not Modified", 304))
    assert response.status == 304
    assert response.body == b""
    assert "Content-Length" not in response.headers
    assert parsed["Error"]["Code"] == "304"


def test_status_override_and_extra_headers() -> None:
    error = ServiceError("ThrottlingException", "Rate exceeded", 429, headers={"Retry-After": "1"})
    response, parsed = _error("kms", "Encrypt", error)
    assert response.status == 429
    assert response.headers["Retry-After"] == "1"
    assert parsed["Error"]["Code"] == "ThrottlingException"


def test_cbor_error() -> None:
    response, parsed = _error("cloudwatch", "DeleteAlarms", ServiceError("ResourceNotFound", "missing"), "smithy-rpc-v2-cbor")
    assert response.status == 404
    assert response.headers["smithy-protocol"] == "rpc-v2-cbor"
    assert response.headers["Content-Type"] == "application/cbor"
    assert response.headers["x-amzn-query-error"] == "ResourceNotFound;Sender"
    assert parsed["Error"]["Code"] == "ResourceNotFound"
    assert parsed["Error"]["Message"] == "missing"
    assert parsed["ResponseMetadata"]["RequestId"] == RID


# -- 501 NotImplemented, for every protocol ------------------------------------------------

NOT_IMPLEMENTED_CASES = [
    ("iam", "CreateSAMLProvider", None),  # query
    ("dynamodb", "CreateBackup", None),  # json 1.0
    ("sqs", "ListMessageMoveTasks", None),  # json 1.0, awsQueryCompatible
    ("logs", "CreateDelivery", None),  # json 1.1
    ("lambda", "CreateCodeSigningConfig", None),  # rest-json
    ("s3", "PutBucketAnalyticsConfiguration", None),  # rest-xml
    ("cloudwatch", "PutDashboard", "smithy-rpc-v2-cbor"),
    ("cloudwatch", "PutDashboard", "query"),
]


@pytest.mark.parametrize(("service", "operation", "protocol"), NOT_IMPLEMENTED_CASES)
def test_not_implemented_in_every_protocol(service: str, operation: str, protocol: str | None) -> None:
    error = not_implemented(service, operation)
    response, parsed = _error(service, operation, error, protocol)
    assert response.status == 501
    assert parsed["Error"]["Code"] == "NotImplemented"
    assert parsed["Error"]["Message"] == error.message
    assert parsed["ResponseMetadata"]["HTTPStatusCode"] == 501
    assert parsed["ResponseMetadata"]["RequestId"] == RID
    if "Type" in parsed["Error"]:
        assert parsed["Error"]["Type"] == "Receiver"


def test_not_implemented_without_operation() -> None:
    response, parsed = _error("sts", None, not_implemented("sts", "Nope"))
    assert response.status == 501 and parsed["Error"]["Code"] == "NotImplemented"


def test_internal_error_is_a_plain_500() -> None:
    response, parsed = _error("dynamodb", "GetItem", internal_error(RID))
    assert response.status == 500
    assert parsed["Error"]["Code"] == "InternalFailure"
    assert b"Traceback" not in body_bytes(response)


# -- request ids and content types on success ----------------------------------------------


@pytest.mark.parametrize(
    ("service", "operation", "protocol", "content_type"),
    [
        ("sts", "GetCallerIdentity", None, "text/xml"),
        ("dynamodb", "ListTables", None, "application/x-amz-json-1.0"),
        ("logs", "DescribeLogGroups", None, "application/x-amz-json-1.1"),
        ("lambda", "ListFunctions", None, "application/json"),
        ("cloudwatch", "ListMetrics", "smithy-rpc-v2-cbor", "application/cbor"),
        ("cloudwatch", "ListMetrics", "query", "text/xml"),
    ],
)
def test_request_id_and_content_type(service: str, operation: str, protocol: str | None, content_type: str) -> None:
    op = _op(service, operation)
    response = serializer_for(service, protocol).serialize(op, {}, RID)
    assert response.status == 200
    assert response.headers["x-amzn-RequestId"] == RID
    assert response.headers["Content-Type"] == content_type
    assert response.headers["Content-Length"] == str(len(body_bytes(response)))
    parsed = parse_response(protocol or str(service_model(service).resolved_protocol), response, op)
    assert parsed["ResponseMetadata"]["RequestId"] == RID


def test_s3_request_id_headers() -> None:
    op = _op("s3", "ListBuckets")
    response = serializer_for("s3").serialize(op, {"Buckets": [{"Name": "b", "CreationDate": WHEN}]}, RID)
    assert response.headers["x-amz-request-id"] == RID
    assert response.headers["x-amz-id-2"]
    assert "x-amzn-RequestId" not in response.headers
    assert body_bytes(response).startswith(
        b'<?xml version="1.0" encoding="UTF-8"?>\n<ListAllMyBucketsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
    )
    parsed = parse_response("rest-xml", response, op)
    assert parsed["Buckets"] == [{"Name": "b", "CreationDate": WHEN}]
    assert parsed["ResponseMetadata"]["HostId"] == response.headers["x-amz-id-2"]


def test_query_result_wrapper() -> None:
    op = _op("sts", "GetCallerIdentity")
    output = {"UserId": "AIDA", "Account": "000000000000", "Arn": "arn:aws:iam::000000000000:root"}
    body = body_bytes(serializer_for("sts").serialize(op, output, RID))
    assert body == (
        b'<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult>'
        b"<UserId>AIDA</UserId><Account>000000000000</Account><Arn>arn:aws:iam::000000000000:root</Arn>"
        b"</GetCallerIdentityResult><ResponseMetadata><RequestId>" + RID.encode() + b"</RequestId>"
        b"</ResponseMetadata></GetCallerIdentityResponse>"
    )


def test_query_operation_without_output() -> None:
    op = _op("iam", "DeleteUser")
    response = serializer_for("iam").serialize(op, {}, RID)
    assert body_bytes(response) == (
        b'<DeleteUserResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><ResponseMetadata>'
        b"<RequestId>" + RID.encode() + b"</RequestId></ResponseMetadata></DeleteUserResponse>"
    )


# -- streaming payloads ---------------------------------------------------------------------


async def _chunks() -> AsyncIterator[bytes]:
    for part in (b"hello ", b"", b"world"):
        yield part


@pytest.mark.parametrize(
    "body",
    [b"hello world", io.BytesIO(b"hello world"), [b"hello ", b"world"], "hello world"],
    ids=["bytes", "file", "iterable", "text"],
)
def test_streaming_payload_forms(body: Any) -> None:
    op = _op("s3", "GetObject")
    output = {"Body": body, "ContentLength": 11, "ContentType": "text/plain", "LastModified": WHEN, "Metadata": {"color": "blue"}}
    response = serializer_for("s3").serialize(op, output, RID)
    assert body_bytes(response) == b"hello world"
    assert response.headers["Content-Length"] == "11"
    assert response.headers["Last-Modified"] == "Thu, 29 Feb 2024 23:59:58 GMT"
    assert response.headers["x-amz-meta-color"] == "blue"


def test_async_streaming_payload_stays_streamed() -> None:
    op = _op("s3", "GetObject")
    response = serializer_for("s3").serialize(op, {"Body": _chunks(), "ContentLength": 11}, RID)
    assert not isinstance(response.body, bytes)
    assert response.headers["Content-Length"] == "11"
    assert body_bytes(response) == b"hello world"


def test_head_success_keeps_content_length_without_body() -> None:
    op = _op("s3", "HeadObject")
    response = serializer_for("s3").serialize(op, {"ContentLength": 1234, "ETag": '"abc"'}, RID)
    assert response.body == b""
    assert response.headers["Content-Length"] == "1234"
    assert parse_response("rest-xml", response, op)["ContentLength"] == 1234


def test_non_ascii_header_is_rfc2047_encoded() -> None:
    op = _op("s3", "HeadObject")
    response = serializer_for("s3").serialize(op, {"Metadata": {"name": "café\r\nX: y"}}, RID)
    value = response.headers["x-amz-meta-name"]
    assert value.startswith("=?UTF-8?B?") and "\n" not in value
    value.encode("ascii")


def test_get_bucket_location_document() -> None:
    op = _op("s3", "GetBucketLocation")
    response = serializer_for("s3").serialize(op, {"LocationConstraint": "eu-west-1"}, RID)
    assert body_bytes(response).endswith(
        b'<LocationConstraint xmlns="http://s3.amazonaws.com/doc/2006-03-01/">eu-west-1</LocationConstraint>'
    )
    assert parse_response("rest-xml", response, op)["LocationConstraint"] == "eu-west-1"


# -- event streams --------------------------------------------------------------------------


def _events(parsed_stream: Any) -> list[dict[str, Any]]:
    return list(parsed_stream)


def test_rest_json_event_stream() -> None:
    op = _op("lambda", "InvokeWithResponseStream")
    events = [
        {"PayloadChunk": {"Payload": b'{"partial":'}},
        {"PayloadChunk": {"Payload": b"true}"}},
        {"InvokeComplete": {"ErrorCode": "", "LogResult": "bG9n"}},
    ]
    output = {"StatusCode": 200, "ExecutedVersion": "$LATEST", "EventStream": events}
    response = serializer_for("lambda").serialize(op, output, RID)
    assert response.headers["Content-Type"] == "application/vnd.amazon.eventstream"
    parsed = parse_response("rest-json", response, op)
    assert parsed["ExecutedVersion"] == "$LATEST"
    assert _events(parsed["EventStream"]) == events


def test_rest_json_event_stream_from_async_iterator() -> None:
    op = _op("lambda", "InvokeWithResponseStream")

    async def live() -> AsyncIterator[dict[str, Any]]:
        yield {"PayloadChunk": {"Payload": b"abc"}}
        yield {"InvokeComplete": {}}

    response = serializer_for("lambda").serialize(op, {"StatusCode": 200, "EventStream": live()}, RID)
    assert not isinstance(response.body, bytes)
    parsed = parse_response("rest-json", response, op)
    assert _events(parsed["EventStream"]) == [{"PayloadChunk": {"Payload": b"abc"}}, {"InvokeComplete": {}}]


def test_json_event_stream_starts_with_initial_response() -> None:
    op = _op("logs", "StartLiveTail")
    update = {
        "sessionMetadata": {"sampled": False},
        "sessionResults": [{"logStreamName": "s", "logGroupIdentifier": "g", "message": "hi", "timestamp": 1, "ingestionTime": 2}],
    }
    events = [{"sessionStart": {"requestId": "r", "sessionId": "s", "logGroupIdentifiers": ["g"]}}, {"sessionUpdate": update}]
    response = serializer_for("logs").serialize(op, {"responseStream": events}, RID)
    parsed = parse_response("json", response, op)
    assert _events(parsed["responseStream"]) == events


def test_rest_xml_event_stream() -> None:
    op = _op("s3", "SelectObjectContent")
    events = [
        {"Records": {"Payload": b"a,b\n"}},
        {"Stats": {"Details": {"BytesScanned": 10, "BytesProcessed": 10, "BytesReturned": 4}}},
        {"End": {}},
    ]
    response = serializer_for("s3").serialize(op, {"Payload": events}, RID)
    parsed = parse_response("rest-xml", response, op)
    assert _events(parsed["Payload"]) == events


# -- values ---------------------------------------------------------------------------------


def test_timestamp_formats() -> None:
    assert iso8601(WHEN) == "2024-02-29T23:59:58.000Z"
    assert iso8601(WHEN.replace(microsecond=123000)) == "2024-02-29T23:59:58.123Z"
    assert rfc822(WHEN) == "Thu, 29 Feb 2024 23:59:58 GMT"
    assert epoch_seconds(WHEN) == 1709251198
    assert epoch_seconds(WHEN.replace(microsecond=500000)) == 1709251198.5
    assert epoch_seconds(dt.datetime(2024, 2, 29, 23, 59, 58)) == 1709251198  # naive means UTC


def test_timestamp_format_trait_overrides_protocol_default() -> None:
    # apigatewayv2 models CreatedDate as iso8601 although rest-json bodies default to epoch.
    op = _op("apigatewayv2", "CreateApi")
    response = serializer_for("apigatewayv2").serialize(op, {"CreatedDate": WHEN, "Name": "x"}, RID)
    assert json.loads(body_bytes(response))["createdDate"] == "2024-02-29T23:59:58.000Z"
    assert parse_response("rest-json", response, op)["CreatedDate"] == WHEN


def test_json_timestamps_are_epoch_seconds() -> None:
    op = _op("logs", "DescribeLogGroups")
    response = serializer_for("logs").serialize(op, {"logGroups": [{"logGroupName": "g", "creationTime": 5}]}, RID)
    assert json.loads(body_bytes(response)) == {"logGroups": [{"logGroupName": "g", "creationTime": 5}]}
    op = _op("kms", "DescribeKey")
    response = serializer_for("kms").serialize(op, {"KeyMetadata": {"KeyId": "k", "CreationDate": WHEN}}, RID)
    assert json.loads(body_bytes(response))["KeyMetadata"]["CreationDate"] == 1709251198


def test_xml_escaping_keeps_carriage_returns_and_markup() -> None:
    op = _op("sns", "GetTopicAttributes")
    text = 'a&b <c> "d"\r\ne'
    response = serializer_for("sns").serialize(op, {"Attributes": {"Policy": text}}, RID)
    assert b"a&amp;b &lt;c&gt; \"d\"&#13;\ne" in body_bytes(response)
    assert parse_response("query", response, op)["Attributes"] == {"Policy": text}


def test_grantee_xsi_type_attribute() -> None:
    op = _op("s3", "GetBucketAcl")
    grants = [{"Grantee": {"ID": "abc", "Type": "CanonicalUser"}, "Permission": "FULL_CONTROL"}]
    response = serializer_for("s3").serialize(op, {"Owner": {"ID": "abc"}, "Grants": grants}, RID)
    body = body_bytes(response)
    assert b'<Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="CanonicalUser">' in body
    assert b"<AccessControlPolicy " in body
    assert parse_response("rest-xml", response, op)["Grants"] == grants


def test_cbor_encoding() -> None:
    assert cbor_encode({"a": [1, -2, True, None]}) == bytes.fromhex("a16161840121f5f6")
    assert cbor_encode(EpochTimestamp(1)) == bytes.fromhex("c101")
    assert cbor_encode(b"\x00" * 24)[:2] == bytes.fromhex("5818")
    assert cbor_encode(1.5) == bytes.fromhex("fb3ff8000000000000")


def test_jsonvalue_header_round_trip() -> None:
    # None of the 23 services has a jsonvalue output header today; a small model has one.
    model = ServiceModel(
        {
            "metadata": {"protocol": "rest-json", "apiVersion": "2020-01-01", "endpointPrefix": "t", "serviceId": "T"},
            "operations": {"Get": {"name": "Get", "http": {"method": "GET", "requestUri": "/"}, "output": {"shape": "GetOutput"}}},
            "shapes": {
                "GetOutput": {
                    "type": "structure",
                    "members": {"Doc": {"shape": "Json", "location": "header", "locationName": "x-doc", "jsonvalue": True}},
                },
                "Json": {"type": "string"},
            },
        },
        service_name="test",
    )
    op = model.operation_model("Get")
    response = RestJsonSerializer(model).serialize(op, {"Doc": {"a": [1, "é"]}}, RID)
    assert parse_response("rest-json", response, op)["Doc"] == {"a": [1, "é"]}


def test_serializer_for_is_cached_and_checks_protocols() -> None:
    assert serializer_for("iam") is serializer_for("iam")
    assert serializer_for("sqs", "query").protocol == "query"  # older SDKs still send query
    assert serializer_for("cloudwatch").protocol == "json"  # what botocore picks
    with pytest.raises(ValueError):
        serializer_for("dynamodb", "query")


def test_async_helpers_do_not_leak_event_loops() -> None:
    # body_bytes drives async bodies with asyncio.run; a fresh loop each time is fine here.
    op = _op("s3", "GetObject")
    for _ in range(3):
        response = serializer_for("s3").serialize(op, {"Body": _chunks()}, RID)
        assert asyncio.run(_collect(response)) == b"hello world"


async def _collect(response: HttpResponse) -> bytes:
    assert not isinstance(response.body, bytes)
    return b"".join([chunk async for chunk in response.body])


def test_sqs_query_api_answers_in_its_legacy_xml() -> None:
    # The format of the SQS API reference's ReceiveMessage example (query API): flattened
    # <Message> items, <Attribute><Name/><Value/></Attribute> pairs, a <...Result> wrapper.
    op = _op("sqs", "ReceiveMessage")
    message = {
        "MessageId": "5fea7756-0ea4-451a-a703-a558b933e274",
        "ReceiptHandle": "MbZj6wDWli+JvwwJaBV+3dcjk2YW2vA3+STFFljTM8tJJg6HRG6PYSasuWXPJB+Cw==",
        "MD5OfBody": "fafb00f5732ab283681e124bf8747ed1",
        "Body": "This is a test message",
        "Attributes": {"SenderId": "195004372649", "ApproximateReceiveCount": "5"},
    }
    body = body_bytes(serializer_for("sqs", "query").serialize(op, {"Messages": [message]}, RID))
    assert body == (
        b'<ReceiveMessageResponse xmlns="http://queue.amazonaws.com/doc/2012-11-05/"><ReceiveMessageResult>'
        b"<Message><MessageId>5fea7756-0ea4-451a-a703-a558b933e274</MessageId>"
        b"<ReceiptHandle>MbZj6wDWli+JvwwJaBV+3dcjk2YW2vA3+STFFljTM8tJJg6HRG6PYSasuWXPJB+Cw==</ReceiptHandle>"
        b"<MD5OfBody>fafb00f5732ab283681e124bf8747ed1</MD5OfBody><Body>This is a test message</Body>"
        b"<Attribute><Name>SenderId</Name><Value>195004372649</Value></Attribute>"
        b"<Attribute><Name>ApproximateReceiveCount</Name><Value>5</Value></Attribute></Message>"
        b"</ReceiveMessageResult><ResponseMetadata><RequestId>" + RID.encode() + b"</RequestId>"
        b"</ResponseMetadata></ReceiveMessageResponse>"
    )


def test_sqs_query_batch_results_are_named_by_entry_shape() -> None:
    op = _op("sqs", "SendMessageBatch")
    output = {
        "Successful": [{"Id": "a", "MessageId": "m", "MD5OfMessageBody": "x"}],
        "Failed": [{"Id": "b", "SenderFault": True, "Code": "InvalidParameterValue", "Message": "bad"}],
    }
    body = body_bytes(serializer_for("sqs", "query").serialize(op, output, RID))
    assert b"<SendMessageBatchResult><SendMessageBatchResultEntry><Id>a</Id>" in body
    assert b"<BatchResultErrorEntry><Id>b</Id><SenderFault>true</SenderFault>" in body
