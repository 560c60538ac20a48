"""Queue attribute rules (services/sqs/attributes.py)."""

from __future__ import annotations

import json

import pytest

from freehold.protocol.errors import ServiceError
from freehold.services.sqs.attributes import check_combination, defaults, normalize, requested_names


def error(name: str, value: str, fifo: bool = False, creating: bool = True) -> tuple[str, str]:
    with pytest.raises(ServiceError) as raised:
        normalize(name, value, fifo, creating)
    return raised.value.code, raised.value.message


def test_integer_ranges() -> None:
    assert normalize("DelaySeconds", " 900", False, True) == "900"
    assert error("DelaySeconds", "901") == ("InvalidAttributeValue", "Invalid value for the parameter DelaySeconds.")
    assert error("MaximumMessageSize", "1023")[0] == "InvalidAttributeValue"
    assert error("MessageRetentionPeriod", "abc")[0] == "InvalidAttributeValue"
    assert normalize("MaximumMessageSize", "1048576", False, True) == "1048576"


def test_fifo_only_and_unknown_names() -> None:
    assert error("Nope", "1") == ("InvalidAttributeName", "Unknown Attribute Nope.")
    assert error("ContentBasedDeduplication", "true") == ("InvalidAttributeName", "Unknown Attribute ContentBasedDeduplication.")
    # FifoQueue=false on a standard queue is accepted at creation, as on AWS.
    assert normalize("FifoQueue", "false", False, True) == "false"
    assert error("FifoQueue", "false", fifo=True, creating=False)[1] == (
        "Invalid value for the parameter FifoQueue. Reason: Modifying queue type is not supported.")


def test_redrive_policy_is_normalized() -> None:
    value = normalize("RedrivePolicy", '{"maxReceiveCount": "5", "deadLetterTargetArn": "arn:aws:sqs:us-east-1:1:d"}', False, True)
    assert json.loads(value) == {"deadLetterTargetArn": "arn:aws:sqs:us-east-1:1:d", "maxReceiveCount": 5}
    assert error("RedrivePolicy", "[]")[0] == "InvalidAttributeValue"
    assert "1001" in error("RedrivePolicy", '{"deadLetterTargetArn": "a", "maxReceiveCount": 1001}')[1]


def test_redrive_allow_policy() -> None:
    assert normalize("RedriveAllowPolicy", '{"redrivePermission":"allowAll"}', False, True) == '{"redrivePermission":"allowAll"}'
    assert error("RedriveAllowPolicy", '{"redrivePermission":"allowAll","sourceQueueArns":["a"]}')[0] == "InvalidParameterValue"
    arns = json.dumps({"redrivePermission": "byQueue", "sourceQueueArns": [f"arn:{i}" for i in range(11)]})
    assert error("RedriveAllowPolicy", arns)[0] == "InvalidParameterValue"


def test_policy_must_be_a_policy_document() -> None:
    good = '{"Statement": [{"Effect": "Allow", "Action": "sqs:*", "Principal": "*"}]}'
    assert normalize("Policy", good, False, True) == good
    for bad in ("nope", "[]", '{"Statement": []}', '{"Statement": [{"Effect": "Maybe", "Action": "x"}]}'):
        assert error("Policy", bad)[0] == "InvalidAttributeValue"


def test_combinations_and_defaults() -> None:
    fifo = defaults(True)
    assert fifo["DeduplicationScope"] == "queue" and fifo["FifoThroughputLimit"] == "perQueue"
    assert "FifoQueue" not in defaults(False)
    with pytest.raises(ServiceError):
        check_combination({**fifo, "FifoThroughputLimit": "perMessageGroupId"})
    check_combination({**fifo, "FifoThroughputLimit": "perMessageGroupId", "DeduplicationScope": "messageGroup"})


def test_requested_names() -> None:
    assert "QueueArn" in requested_names(["All"])
    assert requested_names(["VisibilityTimeout", "VisibilityTimeout"]) == ["VisibilityTimeout"]
    with pytest.raises(ServiceError):
        requested_names(["Bogus"])
