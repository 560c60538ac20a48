"""Validation of parsed params against the model, with each service's code and coral's message."""

from __future__ import annotations

import pytest

from freehold.protocol.errors import ServiceError
from freehold.protocol.specs import SERVICES, service_model
from freehold.protocol.validation import RULES, type_error, validate


def failure(service: str, operation: str, params: dict, **kwargs: bool) -> ServiceError:
    with pytest.raises(ServiceError) as caught:
        validate(service, operation, params, **kwargs)
    return caught.value


def test_valid_params_pass() -> None:
    validate("iam", "CreateUser", {"UserName": "bob", "Tags": [{"Key": "k", "Value": "v"}]})
    validate("dynamodb", "GetItem", {"TableName": "tbl", "Key": {"k": {"S": "v"}}})
    validate("sts", "GetCallerIdentity", {})
    validate("s3", "ListBuckets", {})


def test_length_message_matches_aws() -> None:
    error = failure("iam", "CreateUser", {"UserName": "x" * 65})
    assert (error.code, error.status) == ("ValidationError", 400)
    assert error.message == (
        f"1 validation error detected: Value '{'x' * 65}' at 'userName' failed to satisfy constraint: "
        "Member must have length less than or equal to 64"
    )


def test_missing_and_several_failures() -> None:
    error = failure("sts", "AssumeRole", {"RoleSessionName": "session", "DurationSeconds": 10})
    assert error.code == "ValidationError"
    assert error.message == (
        "2 validation errors detected: Value null at 'roleArn' failed to satisfy constraint: "
        "Member must not be null; Value '10' at 'durationSeconds' failed to satisfy constraint: "
        "Member must have value greater than or equal to 900"
    )


def test_enum_and_nested_paths() -> None:
    error = failure(
        "dynamodb",
        "CreateTable",
        {
            "TableName": "t",
            "KeySchema": [{"AttributeName": "k", "KeyType": "HASH"}],
            "AttributeDefinitions": [{"AttributeName": "k", "AttributeType": "X"}],
            "BillingMode": "PAY_PER_REQUEST",
        },
    )
    assert error.code == "ValidationException"
    assert error.message == (
        "1 validation error detected: Value 'X' at 'attributeDefinitions.1.member.attributeType' "
        "failed to satisfy constraint: Member must satisfy enum value set: [S, N, B]"
    )


def test_list_length_and_map_values() -> None:
    error = failure("sqs", "DeleteMessageBatch", {"QueueUrl": "u", "Entries": [{"Id": "a"}]})
    # SQS reports missing parameters by name, one at a time.
    assert (error.code, error.message) == ("MissingParameter", "The request must contain the parameter ReceiptHandle.")
    arn = "arn:aws:cognito-idp:us-east-1:000000000000:userpool/p"
    error = failure("cognito-idp", "TagResource", {"ResourceArn": arn, "Tags": {"k": "v" * 257}})
    assert error.code == "InvalidParameterException"
    assert "at 'tags.k.member' failed to satisfy constraint: Member must have length less than or equal to 256" in (
        error.message
    )


def test_service_codes_come_from_the_table() -> None:
    assert failure("logs", "CreateLogGroup", {"logGroupName": ""}).code == "InvalidParameterException"
    assert failure("cognito-idp", "ListUsers", {"UserPoolId": "p", "Limit": 61}).code == "InvalidParameterException"
    assert failure("cloudwatch", "ListMetrics", {"Namespace": ""}).code == "InvalidParameterValue"
    error = failure("cloudwatch", "PutMetricData", {"MetricData": []})
    assert (error.code, error.message) == ("MissingParameter", "The request must contain the parameter Namespace.")
    assert failure("apigateway", "GetRestApi", {}).code == "BadRequestException"


def test_s3_does_not_check_enums_but_checks_required() -> None:
    validate("s3", "PutObject", {"Bucket": "b", "Key": "k", "StorageClass": "NOPE"})
    assert failure("s3", "PutObject", {"Bucket": "b"}).code == "InvalidArgument"


def test_sqs_leaves_attribute_names_to_the_service() -> None:
    # AWS answers an unknown queue attribute with InvalidAttributeName from SQS itself.
    validate("sqs", "GetQueueAttributes", {"QueueUrl": "u", "AttributeNames": ["Nope"]})
    validate("sqs", "CreateQueue", {"QueueName": "q", "Attributes": {"Nope": "1"}})


def test_patterns_are_opt_in() -> None:
    params = {"UserName": "bad name!"}
    validate("iam", "CreateUser", params)
    error = failure("iam", "CreateUser", params, patterns=True)
    assert "Member must satisfy regular expression pattern: [\\w+=,.@-]+" in error.message


def test_blobs_are_measured_in_bytes() -> None:
    error = failure("kms", "Encrypt", {"KeyId": "k", "Plaintext": b""})
    assert "Member must have length greater than or equal to 1" in error.message


def test_type_error_message() -> None:
    error = type_error("iam", "maxItems", "ten", "integer")
    assert (error.code, error.status) == ("ValidationError", 400)
    assert error.message == (
        "1 validation error detected: Value 'ten' at 'maxItems' failed to satisfy constraint: "
        "Member must be an integer"
    )


@pytest.mark.parametrize("service", SERVICES)
def test_every_service_has_a_rule_and_a_reachable_operation(service: str) -> None:
    assert service in RULES
    model = service_model(service)
    # Any operation with a required member rejects an empty params dict with the rule's code.
    for name in model.operation_names:
        shape = model.operation_model(name).input_shape
        if shape is not None and shape.required_members:
            error = failure(service, name, {})
            assert error.code in (RULES[service].code, RULES[service].missing_code)
            break
