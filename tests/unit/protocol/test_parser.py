"""Edge cases and bad input of the request parsers, one protocol at a time."""

from __future__ import annotations

import base64
import datetime as dt
import json
import math

import pytest

from freehold.protocol.errors import ServiceError
from freehold.protocol.http import Headers, HttpRequest
from freehold.protocol.parser import parser_for
from freehold.protocol.parser_cbor import CborError, decode_cbor
from freehold.protocol.parser_rest import split_header_list

UTC = dt.UTC
FORM = "application/x-www-form-urlencoded; charset=utf-8"


def form(service: str, body: str, *, query: str = "", method: str = "POST") -> HttpRequest:
    headers = Headers([("Host", f"{service}.amazonaws.com"), ("Content-Type", FORM)])
    return HttpRequest(method, "/", query, headers, body.encode())


def json_request(target: str, body: bytes | str, version: str = "1.0") -> HttpRequest:
    raw = body.encode() if isinstance(body, str) else body
    headers = Headers([("X-Amz-Target", target), ("Content-Type", f"application/x-amz-json-{version}")])
    return HttpRequest("POST", "/", "", headers, raw)


def rest(method: str, path: str, query: str = "", headers: list[tuple[str, str]] | None = None, body: bytes = b"") -> HttpRequest:
    return HttpRequest(method, path, query, Headers([("Host", "localhost"), *(headers or [])]), body)


def parse(service: str, request: HttpRequest) -> tuple[str, dict]:
    parser = parser_for(service)
    operation = parser.operation(request)
    return operation.name, parser.parse(request, operation)


def error_of(service: str, request: HttpRequest) -> ServiceError:
    with pytest.raises(ServiceError) as caught:
        parse(service, request)
    return caught.value


# Query ----------------------------------------------------------------------------------


def test_query_reads_nested_lists_maps_and_scalars() -> None:
    body = (
        "Action=CreateRole&Version=2010-05-08&RoleName=r&AssumeRolePolicyDocument=%7B%7D"
        "&MaxSessionDuration=3600&Tags.member.1.Key=a&Tags.member.1.Value=1"
        "&Tags.member.2.Key=b&Tags.member.2.Value="
    )
    name, params = parse("iam", form("iam", body))
    assert name == "CreateRole"
    assert params == {
        "RoleName": "r",
        "AssumeRolePolicyDocument": "{}",
        "MaxSessionDuration": 3600,
        "Tags": [{"Key": "a", "Value": "1"}, {"Key": "b", "Value": ""}],
    }


def test_query_items_are_ordered_by_number_not_by_position() -> None:
    body = "Action=DeleteTopic&TopicArn=t"
    assert parse("sns", form("sns", body))[1] == {"TopicArn": "t"}
    body = "Action=UntagResource&ResourceArn=a&TagKeys.member.2=y&TagKeys.member.1=x"
    assert parse("sns", form("sns", body))[1] == {"ResourceArn": "a", "TagKeys": ["x", "y"]}


def test_query_empty_list_and_map_entries() -> None:
    body = "Action=SetTopicAttributes&TopicArn=t&AttributeName=Policy&AttributeValue="
    assert parse("sns", form("sns", body))[1] == {"TopicArn": "t", "AttributeName": "Policy", "AttributeValue": ""}
    body = (
        "Action=CreateTopic&Name=n&Attributes.entry.1.key=DisplayName&Attributes.entry.1.value=d"
        "&Tags="
    )
    assert parse("sns", form("sns", body))[1] == {"Name": "n", "Attributes": {"DisplayName": "d"}, "Tags": []}


def test_query_from_url_query_string() -> None:
    request = form("sts", "", query="Action=GetCallerIdentity&Version=2011-06-15", method="GET")
    assert parse("sts", request) == ("GetCallerIdentity", {})


def test_query_timestamps_and_booleans() -> None:
    body = (
        "Action=GetMetricStatistics&Namespace=n&MetricName=m&Period=60&Statistics.member.1=Sum"
        "&StartTime=2024-01-02T03%3A04%3A05Z&EndTime=2024-01-02T03%3A04%3A05.5%2B01%3A00"
    )
    _, params = parse("cloudwatch", form("cloudwatch", body))
    assert params["StartTime"] == dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert params["EndTime"] == dt.datetime(2024, 1, 2, 2, 4, 5, 500000, tzinfo=UTC)
    body = "Action=ListUsers&MaxItems=10&Marker=m"
    assert parse("iam", form("iam", body))[1] == {"MaxItems": 10, "Marker": "m"}


def test_query_missing_and_unknown_action() -> None:
    error = error_of("iam", form("iam", "Version=2010-05-08"))
    assert (error.code, error.status) == ("MissingAction", 400)
    error = error_of("sts", form("sts", "Action=Nope&Version=2011-06-15"))
    assert (error.code, error.status) == ("InvalidAction", 400)
    assert error.message == "Could not find operation Nope for version 2011-06-15"


def test_query_wrong_types_are_validation_errors() -> None:
    error = error_of("iam", form("iam", "Action=ListUsers&MaxItems=ten"))
    assert (error.code, error.status) == ("ValidationError", 400)
    assert "Value 'ten' at 'maxItems'" in error.message
    error = error_of("sts", form("sts", "Action=GetFederationToken&Name=n&DurationSeconds=1.5"))
    assert error.code == "ValidationError"
    error = error_of("sns", form("sns", "Action=Publish&Message=m&MessageAttributes.entry.1.Name=a"
                                 "&MessageAttributes.entry.1.Value.DataType=Binary"
                                 "&MessageAttributes.entry.1.Value.BinaryValue=%%%"))
    assert "base64" in error.message


def test_query_body_that_is_not_utf8() -> None:
    request = HttpRequest("POST", "/", "", Headers([("Content-Type", FORM)]), b"Action=ListUsers&Marker=\xff\xfe")
    assert error_of("iam", request).code == "MalformedQueryString"


# JSON -----------------------------------------------------------------------------------


def test_json_reads_members_blobs_timestamps_and_specials() -> None:
    body = json.dumps({
        "KeyId": "k",
        "Plaintext": base64.b64encode(b"\x00secret").decode(),
        "EncryptionContext": {"a": "b"},
        "GrantTokens": [],
        "DryRun": True,
    })
    name, params = parse("kms", json_request("TrentService.Encrypt", body, "1.1"))
    assert name == "Encrypt"
    assert params == {
        "KeyId": "k", "Plaintext": b"\x00secret", "EncryptionContext": {"a": "b"}, "GrantTokens": [], "DryRun": True,
    }
    body = json.dumps({"Namespace": "n", "MetricData": [{"MetricName": "m", "Timestamp": 1700000000.5,
                                                           "Value": "Infinity", "Values": [1, "-Infinity", "NaN"]}]})
    _, params = parse("cloudwatch", json_request("GraniteServiceVersion20100801.PutMetricData", body))
    datum = params["MetricData"][0]
    assert datum["Timestamp"] == dt.datetime(2023, 11, 14, 22, 13, 20, 500000, tzinfo=UTC)
    assert datum["Value"] == math.inf
    assert datum["Values"][:2] == [1.0, -math.inf] and math.isnan(datum["Values"][2])


def test_json_null_members_are_unset_and_unknown_members_ignored() -> None:
    body = json.dumps({"TableName": "t", "Limit": None, "Surprise": 1})
    assert parse("dynamodb", json_request("DynamoDB_20120810.Scan", body))[1] == {"TableName": "t"}


def test_json_empty_body_is_an_empty_object() -> None:
    assert parse("sqs", json_request("AmazonSQS.ListQueues", b""))[1] == {}


def test_json_recursive_attribute_values() -> None:
    item = {"k": {"M": {"l": {"L": [{"N": "1"}, {"B": base64.b64encode(b"x").decode()}, {"NULL": True}]}}}}
    body = json.dumps({"TableName": "t", "Item": item})
    _, params = parse("dynamodb", json_request("DynamoDB_20120810.PutItem", body))
    assert params["Item"] == {"k": {"M": {"l": {"L": [{"N": "1"}, {"B": b"x"}, {"NULL": True}]}}}}


@pytest.mark.parametrize(
    "target",
    ["", "DynamoDB_20120810.Nope", "Other_20120810.PutItem", "PutItem"],
)
def test_json_unknown_operation(target: str) -> None:
    error = error_of("dynamodb", json_request(target, "{}"))
    assert (error.code, error.status) == ("UnknownOperationException", 400)


@pytest.mark.parametrize(
    "body, fragment",
    [
        (b"{", "Could not parse"),
        (b"[1]", "Start of list"),
        (b"\xff\xfe", "Could not parse"),
        (b'{"TableName": 5}', "NUMBER_VALUE can not be converted to a String"),
        (b'{"TableName": "t", "Limit": "5"}', "STRING_VALUE can not be converted to an Integer"),
        (b'{"TableName": "t", "Limit": 1.5}', "can not be converted to an Integer"),
        (b'{"TableName": "t", "ConsistentRead": "yes"}', "can not be converted to a Boolean"),
        (b'{"TableName": "t", "AttributesToGet": {"a": 1}}', "Start of structure or map"),
        (b'{"TableName": "t", "ExclusiveStartKey": {"k": {"B": "%%%"}}}', "Base64"),
        (b'{"TableName": "t", "ExclusiveStartKey": []}', "Start of list"),
    ],
)
def test_json_malformed_bodies_are_serialization_exceptions(body: bytes, fragment: str) -> None:
    error = error_of("dynamodb", json_request("DynamoDB_20120810.Scan", body))
    assert (error.code, error.status) == ("SerializationException", 400)
    assert fragment in error.message


def test_json_deeply_nested_body_is_an_error_not_a_crash() -> None:
    body = b'{"TableName": "t", "ExclusiveStartKey": ' + b'{"k": {"L": [' * 5000 + b"]}}" * 5000 + b"}"
    error = error_of("dynamodb", json_request("DynamoDB_20120810.Scan", body))
    assert error.code == "SerializationException"


# CBOR (smithy rpc v2) --------------------------------------------------------------------


def cbor_request(operation: str, body: bytes) -> HttpRequest:
    headers = Headers([("smithy-protocol", "rpc-v2-cbor"), ("Content-Type", "application/cbor")])
    return HttpRequest("POST", f"/service/GraniteServiceVersion20100801/operation/{operation}", "", headers, body)


def test_cbor_indefinite_lengths_half_floats_and_tags() -> None:
    # {_ "Namespace": "n", "MetricData": [_ {"MetricName": "m", "Value": 1.5 (half),
    #   "Timestamp": 1(1700000000)}]}
    body = (
        b"\xbf"
        + b"\x69Namespace" + b"\x61n"
        + b"\x6aMetricData" + b"\x9f"
        + b"\xa3" + b"\x6aMetricName" + b"\x61m" + b"\x65Value" + b"\xf9\x3e\x00"
        + b"\x69Timestamp" + b"\xc1\x1a" + (1700000000).to_bytes(4, "big")
        + b"\xff"
        + b"\xff"
    )
    name, params = parse("cloudwatch", cbor_request("PutMetricData", body))
    assert name == "PutMetricData"
    assert params == {
        "Namespace": "n",
        "MetricData": [{"MetricName": "m", "Value": 1.5, "Timestamp": dt.datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)}],
    }


@pytest.mark.parametrize("data", [b"", b"\xa1", b"\x7a\xff\xff\xff\xff", b"\xa1\x61a", b"\x01\x02", b"\xff", b"\x1c"])
def test_cbor_decoder_rejects_malformed_data(data: bytes) -> None:
    with pytest.raises(CborError):
        decode_cbor(data)


def test_cbor_malformed_body_and_unknown_operation() -> None:
    error = error_of("cloudwatch", cbor_request("PutMetricData", b"\xa1\x61"))
    assert (error.code, error.status) == ("SerializationException", 400)
    error = error_of("cloudwatch", cbor_request("Nope", b""))
    assert (error.code, error.status) == ("UnknownOperationException", 404)


# REST: routing ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "method, path, query, headers, expected",
    [
        ("PUT", "/b/k", "", [], "PutObject"),
        ("PUT", "/b/k", "", [("x-amz-copy-source", "/src/k")], "CopyObject"),
        ("PUT", "/b/k", "partNumber=1&uploadId=u", [], "UploadPart"),
        ("PUT", "/b/k", "partNumber=1&uploadId=u", [("x-amz-copy-source", "/s/k")], "UploadPartCopy"),
        ("GET", "/b", "", [], "ListObjects"),
        ("GET", "/b/", "", [], "ListObjects"),
        ("GET", "/b", "list-type=2", [], "ListObjectsV2"),
        ("GET", "/b", "list-type=2&x-id=ListObjectsV2", [], "ListObjectsV2"),
        ("GET", "/b/k", "", [], "GetObject"),
        ("GET", "/b/k", "x-id=GetObject", [], "GetObject"),
        ("GET", "/b/k", "acl", [], "GetObjectAcl"),
        ("GET", "/b/k", "tagging=", [], "GetObjectTagging"),
        ("HEAD", "/b/k", "", [], "HeadObject"),
        ("HEAD", "/b", "", [], "HeadBucket"),
        ("POST", "/b/k", "uploads", [], "CreateMultipartUpload"),
        ("POST", "/b", "delete", [], "DeleteObjects"),
        ("GET", "/", "", [], "ListBuckets"),
        ("GET", "/", "max-directory-buckets=5", [], "ListDirectoryBuckets"),
        ("GET", "/b", "lifecycle", [], "GetBucketLifecycleConfiguration"),
        ("PUT", "/b", "", [], "CreateBucket"),
    ],
)
def test_s3_routing(method: str, path: str, query: str, headers: list[tuple[str, str]], expected: str) -> None:
    assert parser_for("s3").operation(rest(method, path, query, headers)).name == expected


def test_s3_unknown_method_is_method_not_allowed() -> None:
    error = error_of("s3", rest("PATCH", "/b/k"))
    assert (error.code, error.status) == ("MethodNotAllowed", 405)
    error = error_of("s3", rest("DELETE", "/"))
    assert (error.code, error.status) == ("MethodNotAllowed", 405)
    # S3 models CompleteMultipartUpload as a bare POST on the object (uploadId is a member).
    assert parser_for("s3").operation(rest("POST", "/b/k", "uploadId=u")).name == "CompleteMultipartUpload"


def test_rest_json_unknown_path_is_404() -> None:
    error = error_of("lambda", rest("GET", "/2015-03-31/nothing-here"))
    assert (error.code, error.status) == ("UnknownOperationException", 404)


def test_rest_json_routes_by_literal_path() -> None:
    parser = parser_for("apigateway")
    assert parser.operation(rest("GET", "/restapis/a/models/m")).name == "GetModel"
    assert parser.operation(rest("GET", "/restapis/a/models/m/default_template")).name == "GetModelTemplate"


# REST: located members ------------------------------------------------------------------


def test_s3_put_object_members() -> None:
    request = rest(
        "PUT",
        "/my-bucket/a/b%20c/%E2%9C%93%2Bd",
        "",
        [
            ("Content-Type", "text/plain"),
            ("x-amz-meta-Owner", "me"),
            ("x-amz-meta-two", "2"),
            ("x-amz-object-lock-retain-until-date", "2030-01-02T03:04:05Z"),
            ("Expires", "Wed, 21 Oct 2015 07:28:00 GMT"),
            ("x-amz-server-side-encryption-bucket-key-enabled", "true"),
            ("Content-Length", "5"),
        ],
        b"hello",
    )
    name, params = parse("s3", request)
    assert name == "PutObject"
    assert params == {
        "Bucket": "my-bucket",
        "Key": "a/b c/\u2713+d",
        "ContentType": "text/plain",
        "Metadata": {"Owner": "me", "two": "2"},
        "ObjectLockRetainUntilDate": dt.datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC),
        "Expires": dt.datetime(2015, 10, 21, 7, 28, tzinfo=UTC),
        "BucketKeyEnabled": True,
        "ContentLength": 5,
        "Body": b"hello",
    }


def test_s3_header_list_and_bad_header_values() -> None:
    request = rest("GET", "/b/k", "attributes", [("x-amz-object-attributes", 'ETag, "Object,Size", ObjectParts'),
                                                  ("x-amz-max-parts", "3")])
    _, params = parse("s3", request)
    assert params["ObjectAttributes"] == ["ETag", "Object,Size", "ObjectParts"]
    assert params["MaxParts"] == 3
    error = error_of("s3", rest("GET", "/b/k", "attributes", [("x-amz-max-parts", "many")]))
    assert (error.code, error.status) == ("InvalidArgument", 400)
    error = error_of("s3", rest("GET", "/b/k", "", [("If-Modified-Since", "yesterday")]))
    assert error.code == "InvalidArgument"


def test_split_header_list_quoting() -> None:
    assert split_header_list('a, "b,c", "d\\"e" ,f') == ["a", "b,c", 'd"e', "f"]


def test_s3_xml_payload_with_namespaces_attributes_and_flattened_lists() -> None:
    body = (
        b'<?xml version="1.0" encoding="UTF-8"?>'
        b'<AccessControlPolicy xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
        b"<AccessControlList><Grant>"
        b'<Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="CanonicalUser">'
        b"<ID>id1</ID></Grantee><Permission>READ</Permission></Grant></AccessControlList>"
        b"<Owner><ID>o</ID></Owner></AccessControlPolicy>"
    )
    _, params = parse("s3", rest("PUT", "/b", "acl", body=body))
    assert params["AccessControlPolicy"] == {
        "Grants": [{"Grantee": {"Type": "CanonicalUser", "ID": "id1"}, "Permission": "READ"}],
        "Owner": {"ID": "o"},
    }
    body = (
        b"<Delete><Object><Key>a</Key></Object><Object><Key>b</Key><VersionId>v</VersionId></Object>"
        b"<Quiet>true</Quiet></Delete>"
    )
    _, params = parse("s3", rest("POST", "/b", "delete", body=body))
    assert params["Delete"] == {"Objects": [{"Key": "a"}, {"Key": "b", "VersionId": "v"}], "Quiet": True}


@pytest.mark.parametrize(
    "body",
    [
        b"<Delete><Object>",
        b"not xml",
        b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x "y">]><Delete><Quiet>&x;</Quiet></Delete>',
        b"<Delete><Quiet>maybe</Quiet></Delete>",
    ],
)
def test_s3_bad_xml_bodies(body: bytes) -> None:
    error = error_of("s3", rest("POST", "/b", "delete", body=body))
    assert error.status == 400
    assert error.code in ("MalformedXML", "InvalidArgument")


def test_s3_aws_chunked_body_with_trailing_checksum() -> None:
    body = (
        b"5;chunk-signature=abc\r\nhello\r\n"
        b"6;chunk-signature=def\r\n world\r\n"
        b"0;chunk-signature=ghi\r\n"
        b"x-amz-checksum-crc32:DUoRhQ==\r\n"
        b"x-amz-trailer-signature:xyz\r\n\r\n"
    )
    headers = [
        ("Content-Encoding", "aws-chunked"),
        ("x-amz-content-sha256", "STREAMING-UNSIGNED-PAYLOAD-TRAILER"),
        ("x-amz-trailer", "x-amz-checksum-crc32"),
        ("x-amz-decoded-content-length", "11"),
    ]
    _, params = parse("s3", rest("PUT", "/b/k", "", headers, body))
    assert params["Body"] == b"hello world"
    assert params["ChecksumCRC32"] == "DUoRhQ=="
    assert "ContentEncoding" not in params
    headers[0] = ("Content-Encoding", "gzip, aws-chunked")
    _, params = parse("s3", rest("PUT", "/b/k", "", headers, body))
    assert params["ContentEncoding"] == "gzip"
    error = error_of("s3", rest("PUT", "/b/k", "", headers, b"5\r\nhel"))
    assert (error.code, error.status) == ("IncompleteBody", 400)


def test_rest_json_querystring_map_takes_unclaimed_keys() -> None:
    request = rest("GET", "/restapis/a/stages/s/exports/oas30", "extensions=postman&x=1&y=2",
                   [("Accept", "application/json")])
    name, params = parse("apigateway", request)
    assert name == "GetExport"
    assert params == {
        "restApiId": "a", "stageName": "s", "exportType": "oas30",
        "parameters": {"extensions": "postman", "x": "1", "y": "2"}, "accepts": "application/json",
    }


def test_rest_json_querystring_lists_and_uri_numbers() -> None:
    request = rest("GET", "/2025-12-01/functions/f/durable-executions", "Statuses=RUNNING&Statuses=FAILED")
    name, params = parse("lambda", request)
    assert name == "ListDurableExecutionsByFunction"
    assert params["Statuses"] == ["RUNNING", "FAILED"]
    request = rest("GET", "/2018-10-31/layers/l/versions/7")
    assert parse("lambda", request) == ("GetLayerVersion", {"LayerName": "l", "VersionNumber": 7})
    error = error_of("lambda", rest("GET", "/2018-10-31/layers/l/versions/seven"))
    assert (error.code, error.status) == ("ValidationException", 400)


def test_rest_json_bodies() -> None:
    body = b'{"FunctionName": "f", "Role": "r", "Code": {"ZipFile": "UEsDBA=="}, "Timeout": 3}'
    name, params = parse("lambda", rest("POST", "/2015-03-31/functions", body=body))
    assert name == "CreateFunction"
    assert params == {"FunctionName": "f", "Role": "r", "Code": {"ZipFile": b"PK\x03\x04"}, "Timeout": 3}
    name, params = parse("lambda", rest("POST", "/2015-03-31/functions/f/invocations", body=b"[1, 2]"))
    assert params == {"FunctionName": "f", "Payload": b"[1, 2]"}


def test_rest_json_malformed_bodies_use_the_service_code() -> None:
    error = error_of("lambda", rest("POST", "/2015-03-31/functions", body=b"{nope"))
    assert (error.code, error.status) == ("InvalidRequestContentException", 400)
    error = error_of("scheduler", rest("POST", "/schedules/s", body=b"{nope"))
    assert (error.code, error.status) == ("SerializationException", 400)
    error = error_of("sesv2", rest("POST", "/v2/email/identities", body=b'{"EmailIdentity": 5}'))
    assert error.code == "SerializationException"


# Multi-protocol services and host labels ---------------------------------------------------


def test_cloudwatch_speaks_json_query_and_cbor() -> None:
    json_name, json_params = parse(
        "cloudwatch", json_request("GraniteServiceVersion20100801.ListMetrics", '{"Namespace": "n"}')
    )
    query_name, query_params = parse("cloudwatch", form("cloudwatch", "Action=ListMetrics&Namespace=n"))
    cbor_name, cbor_params = parse("cloudwatch", cbor_request("ListMetrics", b"\xa1\x69Namespace\x61n"))
    assert json_name == query_name == cbor_name == "ListMetrics"
    assert json_params == query_params == cbor_params == {"Namespace": "n"}


def test_sqs_query_mode_with_flattened_names_and_queue_url_from_path() -> None:
    body = (
        "Action=SendMessage&MessageBody=hi&MessageAttribute.1.Name=a"
        "&MessageAttribute.1.Value.DataType=String&MessageAttribute.1.Value.StringValue=v"
    )
    request = HttpRequest("POST", "/000000000000/q", "", Headers([("Host", "localhost:4566"), ("Content-Type", FORM)]),
                          body.encode())
    name, params = parse("sqs", request)
    assert name == "SendMessage"
    assert params == {
        "QueueUrl": "http://localhost:4566/000000000000/q",
        "MessageBody": "hi",
        "MessageAttributes": {"a": {"DataType": "String", "StringValue": "v"}},
    }
    body = "Action=ReceiveMessage&QueueUrl=u&AttributeName.1=All&MaxNumberOfMessages=2"
    _, params = parse("sqs", form("sqs", body))
    assert params == {"QueueUrl": "u", "AttributeNames": ["All"], "MaxNumberOfMessages": 2}


def test_host_labels_come_from_the_host_header() -> None:
    request = HttpRequest("POST", "/WriteGetObjectResponse", "",
                          Headers([("Host", "route-1.s3-object-lambda.localhost:4566"),
                                   ("x-amz-request-token", "t")]), b"data")
    name, params = parse("s3", request)
    assert name == "WriteGetObjectResponse"
    assert params["RequestRoute"] == "route-1"
    assert params["Body"] == b"data"


def test_sqs_legacy_query_names() -> None:
    body = (
        "Action=SendMessageBatch&QueueUrl=u"
        "&SendMessageBatchRequestEntry.1.Id=a&SendMessageBatchRequestEntry.1.MessageBody=x"
        "&SendMessageBatchRequestEntry.1.MessageAttribute.1.Name=n"
        "&SendMessageBatchRequestEntry.1.MessageAttribute.1.Value.DataType=String"
        "&SendMessageBatchRequestEntry.1.MessageAttribute.1.Value.StringListValue.1=s"
        "&SendMessageBatchRequestEntry.2.Id=b&SendMessageBatchRequestEntry.2.MessageBody=y"
    )
    _, params = parse("sqs", form("sqs", body))
    assert params == {
        "QueueUrl": "u",
        "Entries": [
            {"Id": "a", "MessageBody": "x",
             "MessageAttributes": {"n": {"DataType": "String", "StringListValues": ["s"]}}},
            {"Id": "b", "MessageBody": "y"},
        ],
    }
    body = "Action=CreateQueue&QueueName=q&Attribute.1.Name=DelaySeconds&Attribute.1.Value=5&Tag.1.Key=k&Tag.1.Value=v"
    _, params = parse("sqs", form("sqs", body))
    assert params == {"QueueName": "q", "Attributes": {"DelaySeconds": "5"}, "tags": {"k": "v"}}
    body = "Action=ReceiveMessage&QueueUrl=u&MessageAttributeName.1=All&MessageAttributeName.2=b"
    assert parse("sqs", form("sqs", body))[1] == {"QueueUrl": "u", "MessageAttributeNames": ["All", "b"]}


def test_traits_no_served_service_uses_yet() -> None:
    """jsonvalue headers, timestampFormat overrides and typed header lists, on a small model."""
    from botocore.model import ServiceModel

    from freehold.protocol.parser_rest import RestJsonParser

    model = ServiceModel(
        {
            "metadata": {"protocol": "rest-json", "apiVersion": "2020-01-01", "endpointPrefix": "x",
                         "serviceId": "X", "signatureVersion": "v4"},
            "operations": {
                "Op": {"name": "Op", "http": {"method": "POST", "requestUri": "/things/{Id}"},
                       "input": {"shape": "OpInput"}},
            },
            "shapes": {
                "OpInput": {"type": "structure", "required": ["Id"], "members": {
                    "Id": {"shape": "Str", "location": "uri", "locationName": "Id"},
                    "Doc": {"shape": "JsonStr", "location": "header", "locationName": "x-doc"},
                    "When": {"shape": "Epoch", "location": "header", "locationName": "x-when"},
                    "Since": {"shape": "Epoch", "location": "querystring", "locationName": "since"},
                    "Sizes": {"shape": "Ints", "location": "header", "locationName": "x-sizes"},
                    "Ratio": {"shape": "Dbl", "location": "querystring", "locationName": "ratio"},
                }},
                "Str": {"type": "string"},
                "JsonStr": {"type": "string", "jsonvalue": True},
                "Epoch": {"type": "timestamp", "timestampFormat": "unixTimestamp"},
                "Ints": {"type": "list", "member": {"shape": "Int"}},
                "Int": {"type": "integer"},
                "Dbl": {"type": "double"},
            },
        },
        service_name="x",
    )
    parser = RestJsonParser(model)
    doc = base64.b64encode(json.dumps({"a": [1, None]}).encode()).decode()
    request = rest("POST", "/things/abc", "since=1700000000&ratio=-Infinity",
                   [("x-doc", doc), ("x-when", "1700000000"), ("x-sizes", "1, 2,3")])
    operation = parser.operation(request)
    assert parser.parse(request, operation) == {
        "Id": "abc",
        "Doc": {"a": [1, None]},
        "When": dt.datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC),
        "Since": dt.datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC),
        "Sizes": [1, 2, 3],
        "Ratio": -math.inf,
    }
    with pytest.raises(ServiceError):
        parser.parse(rest("POST", "/things/abc", "", [("x-doc", "not-json")]), operation)


def _nested_put(depth: int) -> HttpRequest:
    value = '{"S": "x"}'
    for _ in range(depth):
        value = '{"M": {"a": ' + value + "}}"
    return json_request("DynamoDB_20120810.PutItem", '{"TableName": "t", "Item": {"k": ' + value + "}}")


@pytest.mark.parametrize("depth", [5000])
def test_json_bodies_nested_too_deeply_are_malformed_not_a_crash(depth: int) -> None:
    # AttributeValue is recursive: a few hundred levels once escaped as RecursionError (a 500).
    error = error_of("dynamodb", _nested_put(depth))
    assert (error.code, error.status) == ("SerializationException", 400)


@pytest.mark.parametrize("depth", [100, 300, 450, 600, 900, 2000])
def test_deep_json_is_read_or_refused_never_a_crash(depth: int) -> None:
    # Whatever Python's stack allows is read (DynamoDB itself then refuses more than 32 levels,
    # as AWS does); beyond, the parser or the validator answers a 400, never RecursionError.
    from freehold.protocol.validation import validate

    request = _nested_put(depth)
    try:
        operation, params = parse("dynamodb", request)
        validate("dynamodb", operation, params)
    except ServiceError as error:
        assert error.status == 400 and error.code in ("SerializationException", "ValidationException")



@pytest.mark.parametrize(
    "body",
    [
        rb'{"TableName": "t\ud800"}',
        rb'{"TableName": "t", "ExclusiveStartKey": {"k\uDFFF": {"S": "x"}}}',
        rb'{"TableName": "t", "ExclusiveStartKey": {"k": {"S": "\udc00\ud800"}}}',
    ],
)
def test_json_lone_surrogate_escapes_are_serialization_exceptions(body: bytes) -> None:
    # json.loads accepts "\ud800"; the str it yields cannot be encoded as UTF-8 later (a 500).
    error = error_of("dynamodb", json_request("DynamoDB_20120810.Scan", body))
    assert (error.code, error.status) == ("SerializationException", 400)


def test_json_surrogate_pairs_are_one_character() -> None:
    body = rb'{"TableName": "t\ud83d\ude00", "Segment": 1}'
    parser = parser_for("dynamodb")
    request = json_request("DynamoDB_20120810.Scan", body)
    assert parser.parse(request, parser.operation(request))["TableName"] == "t\U0001f600"
