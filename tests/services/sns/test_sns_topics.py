"""SNS topics through boto3 and the aws CLI: create (standard, FIFO), attributes, tags,
data protection policies, permissions, listing, errors, and survival of a restart."""

from __future__ import annotations

import json
import subprocess
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from sns_helpers import error_of, unique

AWS = str(Path(__file__).resolve().parents[3] / ".venv" / "bin" / "aws")


def test_create_get_list_delete(sns: Any) -> None:
    name = unique("topic")
    arn = sns.create_topic(Name=name)["TopicArn"]
    assert arn == f"arn:aws:sns:us-east-1:000000000000:{name}"
    assert sns.create_topic(Name=name)["TopicArn"] == arn  # idempotent
    attributes = sns.get_topic_attributes(TopicArn=arn)["Attributes"]
    assert attributes["TopicArn"] == arn
    assert attributes["Owner"] == "000000000000"
    assert attributes["DisplayName"] == ""
    assert (attributes["SubscriptionsConfirmed"], attributes["SubscriptionsPending"],
            attributes["SubscriptionsDeleted"]) == ("0", "0", "0")
    policy = json.loads(attributes["Policy"])
    assert policy["Statement"][0]["Resource"] == arn
    assert policy["Statement"][0]["Condition"] == {"StringEquals": {"AWS:SourceOwner": "000000000000"}}
    effective = json.loads(attributes["EffectiveDeliveryPolicy"])
    assert effective["http"]["defaultHealthyRetryPolicy"]["numRetries"] == 3
    assert "FifoTopic" not in attributes
    listed = [t["TopicArn"] for t in sns.list_topics()["Topics"]]
    assert arn in listed
    sns.delete_topic(TopicArn=arn)
    sns.delete_topic(TopicArn=arn)  # deleting a missing topic is not an error
    with pytest.raises(ClientError) as info:
        sns.get_topic_attributes(TopicArn=arn)
    assert error_of(info) == ("NotFound", "Topic does not exist", 404)


def test_create_with_different_attributes_is_refused(sns: Any) -> None:
    name = unique("topic")
    sns.create_topic(Name=name, Attributes={"DisplayName": "one"})
    assert sns.create_topic(Name=name, Attributes={"DisplayName": "one"})["TopicArn"].endswith(name)
    with pytest.raises(ClientError) as info:
        sns.create_topic(Name=name, Attributes={"DisplayName": "two"})
    assert error_of(info) == (
        "InvalidParameter", "Invalid parameter: Attributes Reason: Topic already exists with different attributes", 400
    )


@pytest.mark.parametrize("name", ["has space", "dot.in.name", "x" * 257, "semi;colon", ""])
def test_bad_topic_names(sns: Any, name: str) -> None:
    with pytest.raises(ClientError) as info:
        sns.create_topic(Name=name)
    assert error_of(info) == ("InvalidParameter", "Invalid parameter: Topic Name", 400)


def test_fifo_topics(sns: Any) -> None:
    name = unique("fifo") + ".fifo"
    arn = sns.create_topic(Name=name, Attributes={"FifoTopic": "true", "ContentBasedDeduplication": "true"})["TopicArn"]
    attributes = sns.get_topic_attributes(TopicArn=arn)["Attributes"]
    assert attributes["FifoTopic"] == "true"
    assert attributes["ContentBasedDeduplication"] == "true"
    sns.set_topic_attributes(TopicArn=arn, AttributeName="ContentBasedDeduplication", AttributeValue="false")
    assert sns.get_topic_attributes(TopicArn=arn)["Attributes"]["ContentBasedDeduplication"] == "false"
    # A .fifo name needs FifoTopic=true, and FifoTopic=true needs a .fifo name.
    with pytest.raises(ClientError) as info:
        sns.create_topic(Name=unique("f") + ".fifo")
    assert error_of(info) == ("InvalidParameter", "Invalid parameter: Topic Name", 400)
    with pytest.raises(ClientError) as info:
        sns.create_topic(Name=unique("f"), Attributes={"FifoTopic": "true"})
    code, message, _ = error_of(info)
    assert code == "InvalidParameter" and message.startswith("Invalid parameter: Fifo Topic names must end with .fifo")
    # Content-based deduplication exists only on FIFO topics.
    standard = sns.create_topic(Name=unique("std"))["TopicArn"]
    with pytest.raises(ClientError) as info:
        sns.set_topic_attributes(TopicArn=standard, AttributeName="ContentBasedDeduplication", AttributeValue="true")
    assert error_of(info)[1] == ("Invalid parameter: ContentBasedDeduplication Reason: Content based deduplication "
                                 "can only be set for FIFO topics")


def test_set_topic_attributes(sns: Any) -> None:
    arn = sns.create_topic(Name=unique("attrs"))["TopicArn"]
    sns.set_topic_attributes(TopicArn=arn, AttributeName="DisplayName", AttributeValue="My Topic")
    sns.set_topic_attributes(TopicArn=arn, AttributeName="SignatureVersion", AttributeValue="2")
    policy = {"http": {"defaultHealthyRetryPolicy": {"minDelayTarget": 5, "maxDelayTarget": 30, "numRetries": 7}}}
    sns.set_topic_attributes(TopicArn=arn, AttributeName="DeliveryPolicy", AttributeValue=json.dumps(policy))
    attributes = sns.get_topic_attributes(TopicArn=arn)["Attributes"]
    assert attributes["DisplayName"] == "My Topic"
    assert attributes["SignatureVersion"] == "2"
    assert json.loads(attributes["DeliveryPolicy"]) == policy
    effective = json.loads(attributes["EffectiveDeliveryPolicy"])["http"]["defaultHealthyRetryPolicy"]
    assert (effective["minDelayTarget"], effective["maxDelayTarget"], effective["numRetries"]) == (5, 30, 7)
    for name, value, message in [
        ("NoSuchAttribute", "x", "Invalid parameter: AttributeName"),
        ("FifoTopic", "true", "Invalid parameter: AttributeName"),
        ("SignatureVersion", "3", "Invalid parameter: SignatureVersion"),
        ("DeliveryPolicy", "{not json", "Invalid parameter: DeliveryPolicy: Invalid json"),
        ("Policy", "[]", "Invalid parameter: Policy Error: null"),
    ]:
        with pytest.raises(ClientError) as info:
            sns.set_topic_attributes(TopicArn=arn, AttributeName=name, AttributeValue=value)
        assert error_of(info) == ("InvalidParameter", message, 400), name


def test_bad_and_missing_topic_arns(sns: Any) -> None:
    with pytest.raises(ClientError) as info:
        sns.get_topic_attributes(TopicArn="not-an-arn")
    assert error_of(info) == ("InvalidParameter", "Invalid parameter: TopicArn", 400)
    with pytest.raises(ClientError) as info:
        sns.set_topic_attributes(TopicArn="arn:aws:sns:us-east-1:000000000000:" + unique("none"),
                                 AttributeName="DisplayName", AttributeValue="x")
    assert error_of(info) == ("NotFound", "Topic does not exist", 404)


def test_tags(sns: Any) -> None:
    arn = sns.create_topic(Name=unique("tags"), Tags=[{"Key": "team", "Value": "a"}])["TopicArn"]
    sns.tag_resource(ResourceArn=arn, Tags=[{"Key": "env", "Value": "dev"}, {"Key": "team", "Value": "b"}])
    assert sns.list_tags_for_resource(ResourceArn=arn)["Tags"] == [
        {"Key": "env", "Value": "dev"}, {"Key": "team", "Value": "b"}]
    sns.untag_resource(ResourceArn=arn, TagKeys=["team", "absent"])
    assert sns.list_tags_for_resource(ResourceArn=arn)["Tags"] == [{"Key": "env", "Value": "dev"}]
    with pytest.raises(ClientError) as info:
        sns.tag_resource(ResourceArn=arn, Tags=[{"Key": f"k{i}", "Value": "v"} for i in range(50)])
    assert error_of(info) == ("TagLimitExceeded", "Could not complete request: tag quota of per resource exceeded", 400)
    missing = "arn:aws:sns:us-east-1:000000000000:" + unique("none")
    with pytest.raises(ClientError) as info:
        sns.list_tags_for_resource(ResourceArn=missing)
    assert error_of(info) == ("ResourceNotFound", "Resource does not exist", 404)
    with pytest.raises(ClientError) as info:
        sns.create_topic(Name=arn.rsplit(":", 1)[1],
                         Tags=[{"Key": "other", "Value": "x"}])
    assert error_of(info) == (
        "InvalidParameter", "Invalid parameter: Tags Reason: Topic already exists with different tags", 400)


def test_data_protection_policy_is_stored(sns: Any) -> None:
    arn = sns.create_topic(Name=unique("dpp"))["TopicArn"]
    assert "DataProtectionPolicy" not in sns.get_data_protection_policy(ResourceArn=arn)
    document = json.dumps({"Name": "p", "Version": "2021-06-01", "Statement": []})
    sns.put_data_protection_policy(ResourceArn=arn, DataProtectionPolicy=document)
    assert sns.get_data_protection_policy(ResourceArn=arn)["DataProtectionPolicy"] == document
    with pytest.raises(ClientError) as info:
        sns.put_data_protection_policy(ResourceArn=arn, DataProtectionPolicy="{nope")
    assert error_of(info) == ("InvalidParameter", "Invalid parameter: DataProtectionPolicy", 400)


def test_permissions_edit_the_policy(sns: Any) -> None:
    arn = sns.create_topic(Name=unique("perm"))["TopicArn"]
    sns.add_permission(TopicArn=arn, Label="share", AWSAccountId=["111122223333"], ActionName=["Publish"])
    statements = json.loads(sns.get_topic_attributes(TopicArn=arn)["Attributes"]["Policy"])["Statement"]
    shared = [s for s in statements if s["Sid"] == "share"]
    assert shared == [{"Sid": "share", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
                       "Action": ["SNS:Publish"], "Resource": arn}]
    with pytest.raises(ClientError) as info:
        sns.add_permission(TopicArn=arn, Label="share", AWSAccountId=["111122223333"], ActionName=["Publish"])
    assert error_of(info) == ("InvalidParameter", "Invalid parameter: Statement already exists", 400)
    sns.remove_permission(TopicArn=arn, Label="share")
    statements = json.loads(sns.get_topic_attributes(TopicArn=arn)["Attributes"]["Policy"])["Statement"]
    assert [s["Sid"] for s in statements] == ["__default_statement_ID"]


def test_list_topics_pages_and_regions(freehold: Any) -> None:
    region = "ap-southeast-2"
    sns = freehold.client("sns", region=region)
    prefix = unique("page")
    created = sorted(sns.create_topic(Name=f"{prefix}-{i:03d}")["TopicArn"] for i in range(105))
    first = sns.list_topics()
    assert len(first["Topics"]) == 100 and "NextToken" in first
    second = sns.list_topics(NextToken=first["NextToken"])
    assert "NextToken" not in second
    listed = [t["TopicArn"] for t in first["Topics"] + second["Topics"]]
    assert [a for a in listed if prefix in a] == created
    assert all(a.startswith(f"arn:aws:sns:{region}:") for a in listed)
    # Other regions do not see them.
    assert not [t for t in freehold.client("sns").list_topics()["Topics"] if prefix in t["TopicArn"]]


def test_aws_cli(freehold: Any) -> None:
    env = freehold.env_for_cli()
    name = unique("cli")
    out = subprocess.run([AWS, "sns", "create-topic", "--name", name, "--output", "json"], env=env,
                         capture_output=True, text=True, timeout=60, check=True)
    arn = json.loads(out.stdout)["TopicArn"]
    out = subprocess.run([AWS, "sns", "publish", "--topic-arn", arn, "--message", "from the cli", "--output", "json"],
                         env=env, capture_output=True, text=True, timeout=60, check=True)
    assert json.loads(out.stdout)["MessageId"]
    out = subprocess.run([AWS, "sns", "get-topic-attributes", "--topic-arn", arn + "x", "--output", "json"],
                         env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode != 0 and "NotFound" in out.stderr and "Topic does not exist" in out.stderr


def test_topics_and_subscriptions_survive_restart(freehold: Any) -> None:
    sns = freehold.client("sns")
    arn = sns.create_topic(Name=unique("durable"), Tags=[{"Key": "k", "Value": "v"}])["TopicArn"]
    sns.set_topic_attributes(TopicArn=arn, AttributeName="DisplayName", AttributeValue="kept")
    sub = sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint="arn:aws:sqs:us-east-1:000000000000:somewhere",
                        Attributes={"RawMessageDelivery": "true"})["SubscriptionArn"]
    certificate_url = freehold.endpoint_url + "/_freehold/sns/SimpleNotificationService-freehold.pem"
    with urllib.request.urlopen(certificate_url, timeout=10) as answer:
        certificate = answer.read()
    freehold.restart()
    with urllib.request.urlopen(certificate_url, timeout=10) as answer:
        assert answer.read() == certificate  # the signing key is kept, not made anew
    sns = freehold.client("sns")
    assert sns.get_topic_attributes(TopicArn=arn)["Attributes"]["DisplayName"] == "kept"
    assert sns.list_tags_for_resource(ResourceArn=arn)["Tags"] == [{"Key": "k", "Value": "v"}]
    assert sns.get_subscription_attributes(SubscriptionArn=sub)["Attributes"]["RawMessageDelivery"] == "true"
