"""SQS queues through boto3: create, URLs, attributes, listing, tags, purge, delete, and their errors."""

from __future__ import annotations

import json
import uuid
from typing import Any
from urllib.parse import urlsplit

import pytest
from botocore.exceptions import ClientError
from sqs_helpers import attributes, error_of


def test_create_queue_gives_an_aws_shaped_url_that_works(sqs: Any, freehold: Any) -> None:
    name = f"orders-{uuid.uuid4().hex[:8]}"
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    assert url == f"{freehold.endpoint_url}/000000000000/{name}"
    assert sqs.get_queue_url(QueueName=name)["QueueUrl"] == url
    assert sqs.get_queue_url(QueueName=name, QueueOwnerAWSAccountId="000000000000")["QueueUrl"] == url
    # A URL written for AWS's own host resolves to the same queue (only the path counts).
    aws_url = f"https://sqs.us-east-1.amazonaws.com/000000000000/{name}"
    assert attributes(sqs, aws_url, "QueueArn")["QueueArn"] == f"arn:aws:sqs:us-east-1:000000000000:{name}"


def test_default_attributes_are_aws_defaults(sqs: Any, new_queue: Any) -> None:
    url = new_queue()
    found = attributes(sqs, url)
    name = urlsplit(url).path.rsplit("/", 1)[1]
    assert found == {
        "QueueArn": f"arn:aws:sqs:us-east-1:000000000000:{name}",
        "ApproximateNumberOfMessages": "0",
        "ApproximateNumberOfMessagesNotVisible": "0",
        "ApproximateNumberOfMessagesDelayed": "0",
        "CreatedTimestamp": found["CreatedTimestamp"],
        "LastModifiedTimestamp": found["LastModifiedTimestamp"],
        "VisibilityTimeout": "30",
        "MaximumMessageSize": "1048576",
        "MessageRetentionPeriod": "345600",
        "DelaySeconds": "0",
        "ReceiveMessageWaitTimeSeconds": "0",
        "SqsManagedSseEnabled": "true",
    }
    assert found["CreatedTimestamp"].isdigit()


def test_fifo_defaults_and_selected_names(sqs: Any, new_queue: Any) -> None:
    url = new_queue(fifo=True, ContentBasedDeduplication="true")
    found = attributes(sqs, url, "FifoQueue", "ContentBasedDeduplication", "DeduplicationScope", "FifoThroughputLimit")
    assert found == {"FifoQueue": "true", "ContentBasedDeduplication": "true", "DeduplicationScope": "queue",
                     "FifoThroughputLimit": "perQueue"}
    assert sqs.get_queue_attributes(QueueUrl=url).get("Attributes") is None


def test_set_attributes_and_clear_policy(sqs: Any, new_queue: Any) -> None:
    url = new_queue()
    arn = attributes(sqs, url, "QueueArn")["QueueArn"]
    policy = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "sns.amazonaws.com"}, "Action": "sqs:SendMessage", "Resource": arn}]})
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": "45", "DelaySeconds": "3", "Policy": policy})
    found = attributes(sqs, url, "VisibilityTimeout", "DelaySeconds", "Policy")
    assert found == {"VisibilityTimeout": "45", "DelaySeconds": "3", "Policy": policy}
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": ""})
    assert "Policy" not in attributes(sqs, url)


def test_bad_attributes(sqs: Any, new_queue: Any) -> None:
    url = new_queue()
    assert error_of(sqs.get_queue_attributes, QueueUrl=url, AttributeNames=["Nope"]) == (
        "InvalidAttributeName", "Unknown Attribute Nope.")
    assert error_of(sqs.set_queue_attributes, QueueUrl=url, Attributes={"VisibilityTimeout": "43201"}) == (
        "InvalidAttributeValue", "Invalid value for the parameter VisibilityTimeout.")
    assert error_of(sqs.set_queue_attributes, QueueUrl=url, Attributes={"FifoQueue": "true"}) == (
        "InvalidAttributeName", "Unknown Attribute FifoQueue.")
    assert error_of(sqs.create_queue, QueueName=f"x-{uuid.uuid4().hex[:6]}", Attributes={"ContentBasedDeduplication": "true"}) == (
        "InvalidAttributeName", "Unknown Attribute ContentBasedDeduplication.")
    assert error_of(sqs.create_queue, QueueName=f"x-{uuid.uuid4().hex[:6]}", Attributes={"DeduplicationScope": "queue"}) == (
        "InvalidAttributeName", "You can specify the DeduplicationScope only when FifoQueue is set to true.")
    assert error_of(sqs.set_queue_attributes, QueueUrl=url, Attributes={"Policy": "{not json"})[0] == "InvalidAttributeValue"
    fifo = sqs.create_queue(QueueName=f"f-{uuid.uuid4().hex[:6]}.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    assert error_of(sqs.set_queue_attributes, QueueUrl=fifo, Attributes={"FifoQueue": "false"}) == (
        "InvalidAttributeValue", "Invalid value for the parameter FifoQueue. Reason: Modifying queue type is not supported.")


def test_bad_names_and_existing_queue_rules(sqs: Any) -> None:
    code, message = error_of(sqs.create_queue, QueueName="has space")
    assert (code, message) == ("InvalidParameterValue",
                               "Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length")
    assert error_of(sqs.create_queue, QueueName="x" * 81)[0] == "InvalidParameterValue"
    assert error_of(sqs.create_queue, QueueName="nofifo.fifo")[0] == "InvalidParameterValue"
    name = f"same-{uuid.uuid4().hex[:8]}"
    url = sqs.create_queue(QueueName=name, Attributes={"DelaySeconds": "2"})["QueueUrl"]
    assert sqs.create_queue(QueueName=name, Attributes={"DelaySeconds": "2"})["QueueUrl"] == url
    assert sqs.create_queue(QueueName=name)["QueueUrl"] == url
    assert error_of(sqs.create_queue, QueueName=name, Attributes={"DelaySeconds": "5"}) == (
        "QueueAlreadyExists", "A queue already exists with the same name and a different value for attribute DelaySeconds")


def test_missing_queue_errors(sqs: Any, freehold: Any) -> None:
    missing = f"{freehold.endpoint_url}/000000000000/nothing-{uuid.uuid4().hex[:6]}"
    expected = ("AWS.SimpleQueueService.NonExistentQueue", "The specified queue does not exist.")
    assert error_of(sqs.get_queue_url, QueueName="nothing-here") == expected
    assert error_of(sqs.send_message, QueueUrl=missing, MessageBody="x") == expected
    assert error_of(sqs.receive_message, QueueUrl=missing) == expected
    assert error_of(sqs.get_queue_attributes, QueueUrl=missing, AttributeNames=["All"]) == expected
    with_exception = sqs.exceptions.QueueDoesNotExist
    try:
        sqs.get_queue_url(QueueName="nothing-here")
    except with_exception:
        pass
    else:  # pragma: no cover - the call above must fail
        raise AssertionError("QueueDoesNotExist expected")


def test_list_queues_with_prefix_and_pages(sqs: Any) -> None:
    prefix = f"list-{uuid.uuid4().hex[:6]}"
    urls = [sqs.create_queue(QueueName=f"{prefix}-{i}")["QueueUrl"] for i in range(5)]
    sqs.create_queue(QueueName=f"other-{prefix}")
    assert sqs.list_queues(QueueNamePrefix=prefix)["QueueUrls"] == urls
    assert "NextToken" not in sqs.list_queues(QueueNamePrefix=prefix)
    page = sqs.list_queues(QueueNamePrefix=prefix, MaxResults=2)
    assert page["QueueUrls"] == urls[:2]
    seen = list(page["QueueUrls"])
    while "NextToken" in page:
        page = sqs.list_queues(QueueNamePrefix=prefix, MaxResults=2, NextToken=page["NextToken"])
        seen += page["QueueUrls"]
    assert seen == urls
    assert "QueueUrls" not in sqs.list_queues(QueueNamePrefix="no-such-prefix-at-all")
    assert error_of(sqs.list_queues, MaxResults=1001)[0] == "InvalidParameterValue"
    paginated = [u for p in sqs.get_paginator("list_queues").paginate(QueueNamePrefix=prefix, PaginationConfig={"PageSize": 3})
                 for u in p.get("QueueUrls", [])]
    assert paginated == urls


def test_tags(sqs: Any) -> None:
    name = f"tagged-{uuid.uuid4().hex[:6]}"
    url = sqs.create_queue(QueueName=name, tags={"team": "a", "env": "dev"})["QueueUrl"]
    assert sqs.list_queue_tags(QueueUrl=url)["Tags"] == {"team": "a", "env": "dev"}
    sqs.tag_queue(QueueUrl=url, Tags={"env": "prod", "cost": "1"})
    assert sqs.list_queue_tags(QueueUrl=url)["Tags"] == {"team": "a", "env": "prod", "cost": "1"}
    sqs.untag_queue(QueueUrl=url, TagKeys=["team", "absent"])
    assert sqs.list_queue_tags(QueueUrl=url)["Tags"] == {"env": "prod", "cost": "1"}
    sqs.untag_queue(QueueUrl=url, TagKeys=["env", "cost"])
    assert "Tags" not in sqs.list_queue_tags(QueueUrl=url)
    assert error_of(sqs.tag_queue, QueueUrl=url, Tags={f"k{i}": "v" for i in range(51)})[0] == "InvalidParameterValue"


def test_purge_and_its_sixty_second_rule(sqs: Any, new_queue: Any) -> None:
    url = new_queue("purge")
    for i in range(3):
        sqs.send_message(QueueUrl=url, MessageBody=f"m{i}")
    sqs.purge_queue(QueueUrl=url)
    assert attributes(sqs, url, "ApproximateNumberOfMessages")["ApproximateNumberOfMessages"] == "0"
    name = urlsplit(url).path.rsplit("/", 1)[1]
    assert error_of(sqs.purge_queue, QueueUrl=url) == (
        "AWS.SimpleQueueService.PurgeQueueInProgress", f"Only one PurgeQueue operation on {name} is allowed every 60 seconds.")
    sqs.send_message(QueueUrl=url, MessageBody="after")
    assert sqs.receive_message(QueueUrl=url)["Messages"][0]["Body"] == "after"


def test_delete_queue_and_name_hold(sqs: Any, new_queue: Any) -> None:
    url = new_queue("gone")
    sqs.send_message(QueueUrl=url, MessageBody="x")
    sqs.delete_queue(QueueUrl=url)
    assert error_of(sqs.get_queue_attributes, QueueUrl=url, AttributeNames=["All"])[0] == "AWS.SimpleQueueService.NonExistentQueue"
    name = urlsplit(url).path.rsplit("/", 1)[1]
    assert error_of(sqs.create_queue, QueueName=name)[0] == "AWS.SimpleQueueService.QueueDeletedRecently"


def test_permissions_are_kept_in_the_policy(sqs: Any, new_queue: Any) -> None:
    url = new_queue("perm")
    sqs.add_permission(QueueUrl=url, Label="share", AWSAccountIds=["111122223333"], Actions=["SendMessage"])
    policy = json.loads(attributes(sqs, url, "Policy")["Policy"])
    assert policy["Statement"][0]["Sid"] == "share"
    assert policy["Statement"][0]["Principal"] == {"AWS": "arn:aws:iam::111122223333:root"}
    assert policy["Statement"][0]["Action"] == "SQS:SendMessage"
    assert error_of(sqs.add_permission, QueueUrl=url, Label="share", AWSAccountIds=["111122223333"], Actions=["SendMessage"]) == (
        "InvalidParameterValue", "Value share for parameter Label is invalid. Reason: Already exists.")
    sqs.remove_permission(QueueUrl=url, Label="share")
    assert "Policy" not in attributes(sqs, url)
    assert error_of(sqs.remove_permission, QueueUrl=url, Label="share") == (
        "InvalidParameterValue", "Value share for parameter Label is invalid. Reason: can't find label.")


def test_policies_over_sqs_limits_are_refused_with_over_limit(sqs: Any, new_queue: Any) -> None:
    url = new_queue("limits")
    arn = attributes(sqs, url, "QueueArn")["QueueArn"]
    actions = ["sqs:SendMessage", "sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility",
               "sqs:GetQueueAttributes", "sqs:GetQueueUrl", "sqs:PurgeQueue", "sqs:ListQueueTags", "sqs:TagQueue",
               "sqs:UntagQueue"]

    def policy(action_count: int, statements: int = 1) -> str:
        return json.dumps({"Version": "2012-10-17", "Statement": [
            {"Sid": f"s{i}", "Effect": "Allow", "Principal": "*", "Action": actions[:action_count], "Resource": arn}
            for i in range(statements)]})

    with pytest.raises(ClientError) as raised:
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": policy(10)})
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert error_of(sqs.set_queue_attributes, QueueUrl=url, Attributes={"Policy": policy(10)}) == (
        "OverLimit", "10 actions were found in a statement from the submitted policy, max allowed is 7")
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": policy(7)})  # seven is allowed
    assert error_of(sqs.set_queue_attributes, QueueUrl=url, Attributes={"Policy": policy(7, statements=60)}) == (
        "OverLimit", "Submitted policy is over max allowed size.")
    assert error_of(sqs.create_queue, QueueName=f"limits-{uuid.uuid4().hex[:8]}",
                    Attributes={"Policy": policy(8)})[0] == "OverLimit"
    # AddPermission writes one statement with the given actions: the same limit applies.
    assert error_of(sqs.add_permission, QueueUrl=url, Label="many", AWSAccountIds=["111122223333"],
                    Actions=["SendMessage", "ReceiveMessage", "DeleteMessage", "ChangeMessageVisibility",
                             "GetQueueAttributes", "GetQueueUrl", "PurgeQueue", "ListQueueTags"]) == (
        "OverLimit", "8 actions were found in a statement from the submitted policy, max allowed is 7")
    assert json.loads(attributes(sqs, url, "Policy")["Policy"]) == json.loads(policy(7))
