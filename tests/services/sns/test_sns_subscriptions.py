"""SNS subscriptions and publishing through boto3: endpoint and attribute checks, filter-policy
validation, listing, unsubscribing, Publish/PublishBatch errors, and the email/sms outbox."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from sns_helpers import error_of, outbox_for, unique

QUEUE = "arn:aws:sqs:us-east-1:000000000000:"


def _topic(sns: Any, fifo: bool = False) -> str:
    if fifo:
        return str(sns.create_topic(Name=unique("fifo") + ".fifo", Attributes={"FifoTopic": "true"})["TopicArn"])
    return str(sns.create_topic(Name=unique("topic"))["TopicArn"])


@pytest.mark.parametrize(("protocol", "endpoint", "message"), [
    ("carrier-pigeon", "x", "Invalid parameter: Amazon SNS does not support this protocol string: carrier-pigeon"),
    ("sqs", "not-an-arn", "Invalid parameter: SQS endpoint ARN"),
    ("sqs", "arn:aws:sns:us-east-1:000000000000:topic", "Invalid parameter: SQS endpoint ARN"),
    ("http", "https://example.com/hook", "Invalid parameter: Endpoint must match the specified protocol"),
    ("https", "ftp://example.com", "Invalid parameter: Endpoint must match the specified protocol"),
    ("email", "no-at-sign", "Invalid parameter: Email address"),
    ("lambda", "arn:aws:sqs:us-east-1:000000000000:q", "Invalid parameter: Lambda endpoint ARN"),
    ("sqs", QUEUE + "queue.fifo", "Invalid parameter: Invalid parameter: Endpoint Reason: FIFO SQS Queues can not "
                                  "be subscribed to standard SNS topics"),
])
def test_bad_endpoints(sns: Any, protocol: str, endpoint: str, message: str) -> None:
    arn = _topic(sns)
    with pytest.raises(ClientError) as info:
        sns.subscribe(TopicArn=arn, Protocol=protocol, Endpoint=endpoint)
    assert error_of(info) == ("InvalidParameter", message, 400)


def test_fifo_topics_take_only_queues(sns: Any) -> None:
    arn = _topic(sns, fifo=True)
    with pytest.raises(ClientError) as info:
        sns.subscribe(TopicArn=arn, Protocol="http", Endpoint="http://127.0.0.1:9/")
    assert error_of(info) == ("InvalidParameter", "Invalid parameter: Invalid protocol type: http", 400)
    assert sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=QUEUE + "q.fifo")["SubscriptionArn"].startswith(arn)


def test_subscribe_to_missing_topic(sns: Any) -> None:
    with pytest.raises(ClientError) as info:
        sns.subscribe(TopicArn="arn:aws:sns:us-east-1:000000000000:" + unique("none"), Protocol="sqs",
                      Endpoint=QUEUE + "q")
    assert error_of(info) == ("NotFound", "Topic does not exist", 404)


def test_subscription_attributes(sns: Any) -> None:
    arn = _topic(sns)
    endpoint = QUEUE + unique("q")
    sub = sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=endpoint,
                        Attributes={"RawMessageDelivery": "true"})["SubscriptionArn"]
    assert sub.startswith(arn + ":")
    # Subscribing again with the same attributes answers the same subscription ...
    assert sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=endpoint,
                         Attributes={"RawMessageDelivery": "true"})["SubscriptionArn"] == sub
    # ... with others, an error.
    with pytest.raises(ClientError) as info:
        sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=endpoint, Attributes={"RawMessageDelivery": "false"})
    assert error_of(info) == ("InvalidParameter", "Invalid parameter: Attributes Reason: Subscription already exists "
                                                  "with different attributes", 400)
    attributes = sns.get_subscription_attributes(SubscriptionArn=sub)["Attributes"]
    assert attributes["Protocol"] == "sqs" and attributes["Endpoint"] == endpoint
    assert attributes["TopicArn"] == arn and attributes["SubscriptionArn"] == sub
    assert attributes["PendingConfirmation"] == "false" and attributes["RawMessageDelivery"] == "true"
    assert attributes["Owner"] == "000000000000"
    policy = json.dumps({"color": ["red", {"prefix": "bl"}], "size": [{"numeric": [">", 0, "<=", 10]}]})
    sns.set_subscription_attributes(SubscriptionArn=sub, AttributeName="FilterPolicy", AttributeValue=policy)
    sns.set_subscription_attributes(SubscriptionArn=sub, AttributeName="RedrivePolicy",
                                    AttributeValue=json.dumps({"deadLetterTargetArn": QUEUE + "dlq"}))
    attributes = sns.get_subscription_attributes(SubscriptionArn=sub)["Attributes"]
    assert json.loads(attributes["FilterPolicy"]) == json.loads(policy)
    assert attributes["FilterPolicyScope"] == "MessageAttributes"
    assert json.loads(attributes["RedrivePolicy"]) == {"deadLetterTargetArn": QUEUE + "dlq"}
    topic_attributes = sns.get_topic_attributes(TopicArn=arn)["Attributes"]
    assert topic_attributes["SubscriptionsConfirmed"] == "1"


@pytest.mark.parametrize(("name", "value", "message"), [
    ("Nope", "x", "Invalid parameter: AttributeName"),
    ("RawMessageDelivery", "maybe", "Invalid parameter: RawMessageDelivery"),
    ("FilterPolicyScope", "Everything", "Invalid parameter: Attributes Reason: FilterPolicyScope: Invalid value "
                                        "[Everything]. Please use either MessageBody or MessageAttributes"),
    ("FilterPolicy", json.dumps({k: ["v"] for k in "abcdef"}),
     "Invalid parameter: FilterPolicy: Filter policy can not have more than 5 keys"),
    ("FilterPolicy", json.dumps({"a": []}), "Invalid parameter: FilterPolicy: Empty arrays are not allowed"),
    ("FilterPolicy", json.dumps({"a": {"b": ["c"]}}),
     "Invalid parameter: Filter policy scope MessageAttributes does not support nested filter policy"),
    ("FilterPolicy", json.dumps({"a": [{"numeric": [">", "x"]}]}),
     "Invalid parameter: FilterPolicy: Value of > must be numeric"),
    ("FilterPolicy", json.dumps({"a": [{"numeric": ["!", 1]}]}),
     "Invalid parameter: FilterPolicy: Unrecognized numeric range operator: !"),
    ("FilterPolicy", json.dumps({"a": [{"wildcard": "x*"}]}), "Invalid parameter: FilterPolicy: Unrecognized match "
                                                              "type wildcard"),
    ("FilterPolicy", json.dumps({"a": [{"exists": "yes"}]}),
     "Invalid parameter: FilterPolicy: exists match pattern must be either true or false."),
    ("FilterPolicy", json.dumps({f"k{i}": [str(j) for j in range(13)] for i in range(2)}),
     "Invalid parameter: FilterPolicy: Filter policy is too complex"),
    ("RedrivePolicy", "{}", "Invalid parameter: RedrivePolicy: deadLetterTargetArn is missing"),
    ("RedrivePolicy", json.dumps({"deadLetterTargetArn": "arn:aws:sns:us-east-1:000000000000:t"}),
     "Invalid parameter: RedrivePolicy: deadLetterTargetArn is an invalid arn"),
    ("DeliveryPolicy", "{}", "Invalid parameter: DeliveryPolicy: Delivery policy is only supported for HTTP/S "
                             "subscriptions"),
])
def test_bad_subscription_attributes(sns: Any, name: str, value: str, message: str) -> None:
    arn = _topic(sns)
    sub = sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=QUEUE + unique("q"))["SubscriptionArn"]
    with pytest.raises(ClientError) as info:
        sns.set_subscription_attributes(SubscriptionArn=sub, AttributeName=name, AttributeValue=value)
    assert error_of(info) == ("InvalidParameter", message, 400)


def test_raw_delivery_only_where_supported(sns: Any) -> None:
    arn = _topic(sns)
    with pytest.raises(ClientError) as info:
        sns.subscribe(TopicArn=arn, Protocol="lambda", Endpoint="arn:aws:lambda:us-east-1:000000000000:function:f",
                      Attributes={"RawMessageDelivery": "true"})
    assert error_of(info) == ("InvalidParameter",
                              "Invalid parameter: Delivery protocol [lambda] does not support raw message delivery.", 400)


def test_body_scope_allows_nested_policies(sns: Any) -> None:
    arn = _topic(sns)
    sub = sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=QUEUE + unique("q"), Attributes={
        "FilterPolicyScope": "MessageBody", "FilterPolicy": json.dumps({"order": {"kind": ["book"]}}),
    })["SubscriptionArn"]
    attributes = sns.get_subscription_attributes(SubscriptionArn=sub)["Attributes"]
    assert attributes["FilterPolicyScope"] == "MessageBody"
    # Switching the scope back to attributes would leave a nested policy: refused.
    with pytest.raises(ClientError) as info:
        sns.set_subscription_attributes(SubscriptionArn=sub, AttributeName="FilterPolicyScope",
                                        AttributeValue="MessageAttributes")
    assert error_of(info)[1] == ("Invalid parameter: Filter policy scope MessageAttributes does not support nested "
                                 "filter policy")


def test_list_and_unsubscribe(sns: Any) -> None:
    arn = _topic(sns)
    subs = [sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=QUEUE + f"q{i}")["SubscriptionArn"] for i in range(3)]
    pending = sns.subscribe(TopicArn=arn, Protocol="email", Endpoint=f"{unique('u')}@example.com")
    assert pending["SubscriptionArn"] == "pending confirmation"
    listed = sns.list_subscriptions_by_topic(TopicArn=arn)["Subscriptions"]
    assert sorted(s["SubscriptionArn"] for s in listed if s["Protocol"] == "sqs") == sorted(subs)
    assert [s["SubscriptionArn"] for s in listed if s["Protocol"] == "email"] == ["PendingConfirmation"]
    everything = []
    page = sns.list_subscriptions()
    everything += page["Subscriptions"]
    while "NextToken" in page:
        page = sns.list_subscriptions(NextToken=page["NextToken"])
        everything += page["Subscriptions"]
    assert set(subs) <= {s["SubscriptionArn"] for s in everything}
    counts = sns.get_topic_attributes(TopicArn=arn)["Attributes"]
    assert (counts["SubscriptionsConfirmed"], counts["SubscriptionsPending"]) == ("3", "1")
    sns.unsubscribe(SubscriptionArn=subs[0])
    sns.unsubscribe(SubscriptionArn=subs[0])  # idempotent
    with pytest.raises(ClientError) as info:
        sns.get_subscription_attributes(SubscriptionArn=subs[0])
    assert error_of(info) == ("NotFound", "Subscription does not exist", 404)
    assert sns.get_topic_attributes(TopicArn=arn)["Attributes"]["SubscriptionsDeleted"] == "1"
    with pytest.raises(ClientError) as info:
        sns.unsubscribe(SubscriptionArn="garbage")
    assert error_of(info) == ("InvalidParameter", "Invalid parameter: SubscriptionArn Reason: An ARN must have at "
                                                  "least 6 elements, not 1", 400)
    sns.delete_topic(TopicArn=arn)
    with pytest.raises(ClientError) as info:
        sns.get_subscription_attributes(SubscriptionArn=subs[1])
    assert error_of(info)[0] == "NotFound"


def test_publish_errors(sns: Any) -> None:
    arn = _topic(sns)
    cases: list[tuple[dict[str, Any], tuple[str, str]]] = [
        ({"Message": ""}, ("InvalidParameter", "Empty message")),
        ({"Message": "x" * 262145}, ("InvalidParameter", "Invalid parameter: Message too long")),
        ({"Message": "m", "Subject": "line\nbreak"}, ("InvalidParameter", "Invalid parameter: Subject")),
        ({"Message": "m", "Subject": "s" * 101}, ("InvalidParameter", "Invalid parameter: Subject")),
        ({"Message": "{}", "MessageStructure": "json"},
         ("InvalidParameter", "Invalid parameter: Message Structure - No default entry in JSON message body")),
        ({"Message": "not json", "MessageStructure": "json"},
         ("InvalidParameter", "Invalid parameter: Message Structure - JSON message body failed to parse")),
        ({"Message": "m", "MessageDeduplicationId": "d"},
         ("InvalidParameter", "Invalid parameter: MessageDeduplicationId Reason: The request includes "
                              "MessageDeduplicationId parameter that is not valid for this topic type")),
        ({"Message": "m", "MessageAttributes": {"a": {"DataType": "Blob", "StringValue": "x"}}},
         ("ParameterValueInvalid", "The message attribute 'a' has an invalid message attribute type, the set of "
                                   "supported type prefixes is Binary, Number, and String.")),
        ({"Message": "m", "MessageAttributes": {"n": {"DataType": "Number", "StringValue": "ten"}}},
         ("ParameterValueInvalid", "Could not cast message attribute 'n' value to number.")),
        ({"Message": "m", "MessageAttributes": {"s": {"DataType": "String", "StringValue": ""}}},
         ("ParameterValueInvalid", "The message attribute 's' must contain non-empty message attribute value for "
                                   "message attribute type 'String'.")),
    ]
    for params, (code, message) in cases:
        with pytest.raises(ClientError) as info:
            sns.publish(TopicArn=arn, **params)
        assert error_of(info) == (code, message, 400 if code != "NotFound" else 404), params
    with pytest.raises(ClientError) as info:
        sns.publish(TopicArn=arn + "-missing", Message="m")
    assert error_of(info) == ("NotFound", "Topic does not exist", 404)
    fifo = _topic(sns, fifo=True)
    with pytest.raises(ClientError) as info:
        sns.publish(TopicArn=fifo, Message="m")
    assert error_of(info)[1] == "Invalid parameter: The MessageGroupId parameter is required for FIFO topics"
    with pytest.raises(ClientError) as info:
        sns.publish(TopicArn=fifo, Message="m", MessageGroupId="g")
    assert error_of(info)[1] == ("Invalid parameter: The topic should either have ContentBasedDeduplication enabled "
                                 "or MessageDeduplicationId provided explicitly")


def test_fifo_publish_sequence_and_dedup(sns: Any) -> None:
    fifo = _topic(sns, fifo=True)
    first = sns.publish(TopicArn=fifo, Message="a", MessageGroupId="g", MessageDeduplicationId="one")
    second = sns.publish(TopicArn=fifo, Message="b", MessageGroupId="g", MessageDeduplicationId="two")
    again = sns.publish(TopicArn=fifo, Message="a", MessageGroupId="g", MessageDeduplicationId="one")
    assert int(second["SequenceNumber"]) > int(first["SequenceNumber"])
    assert again["MessageId"] == first["MessageId"] and again["SequenceNumber"] == first["SequenceNumber"]


def test_publish_batch(freehold: Any, sns: Any) -> None:
    arn = _topic(sns)
    answer = sns.publish_batch(TopicArn=arn, PublishBatchRequestEntries=[
        {"Id": "ok-1", "Message": "one"},
        {"Id": "bad", "Message": "two", "MessageAttributes": {"n": {"DataType": "Number", "StringValue": "x"}}},
        {"Id": "ok_2", "Message": "three", "Subject": "s"},
    ])
    assert [s["Id"] for s in answer["Successful"]] == ["ok-1", "ok_2"]
    assert answer["Failed"] == [{"Id": "bad", "Code": "ParameterValueInvalid", "SenderFault": True,
                                 "Message": "Could not cast message attribute 'n' value to number."}]
    unchecked = freehold.client("sns", config=Config(parameter_validation=False, retries={"max_attempts": 1}))
    cases = [
        ([], ("EmptyBatchRequest", "The batch request doesn't contain any entries")),
        ([{"Id": str(i), "Message": "m"} for i in range(11)],
         ("TooManyEntriesInBatchRequest", "The batch request contains more entries than permissible.")),
        ([{"Id": "same", "Message": "m"}, {"Id": "same", "Message": "n"}],
         ("BatchEntryIdsNotDistinct", "Two or more batch entries in the request have the same Id.")),
        ([{"Id": "no spaces", "Message": "m"}],
         ("InvalidBatchEntryId", "A batch entry id can only contain alphanumeric characters, hyphens and underscores. "
                                 "It can be at most 80 letters long.")),
    ]
    for entries, (code, message) in cases:
        with pytest.raises(ClientError) as info:
            unchecked.publish_batch(TopicArn=arn, PublishBatchRequestEntries=entries)
        assert error_of(info) == (code, message, 400), code


def test_email_sms_and_outbox(freehold: Any, sns: Any) -> None:
    arn = _topic(sns)
    address = f"{unique('user')}@example.com"
    json_address = f"{unique('json')}@example.com"
    phone = "+15555550123"
    sns.subscribe(TopicArn=arn, Protocol="email", Endpoint=address)
    sns.subscribe(TopicArn=arn, Protocol="email-json", Endpoint=json_address)
    sms = sns.subscribe(TopicArn=arn, Protocol="sms", Endpoint=phone)["SubscriptionArn"]
    assert sms.startswith(arn)
    # The confirmation email carries the token ConfirmSubscription takes.
    (confirmation,) = outbox_for(freehold.endpoint_url, address)
    envelope = json.loads(confirmation["message"])
    assert envelope["Type"] == "SubscriptionConfirmation"
    with pytest.raises(ClientError) as info:
        sns.confirm_subscription(TopicArn=arn, Token="wrong")
    assert error_of(info) == ("InvalidParameter", "Invalid token", 400)
    confirmed = sns.confirm_subscription(TopicArn=arn, Token=envelope["Token"])["SubscriptionArn"]
    assert sns.get_subscription_attributes(SubscriptionArn=confirmed)["Attributes"]["PendingConfirmation"] == "false"
    sns.publish(TopicArn=arn, Message="hello there", Subject="greeting")
    mails = outbox_for(freehold.endpoint_url, address, count=2)
    assert (mails[1]["message"], mails[1]["subject"], mails[1]["protocol"]) == ("hello there", "greeting", "email")
    texts = outbox_for(freehold.endpoint_url, phone)
    assert texts[0]["message"] == "hello there"
    # The unconfirmed email-json address got its confirmation only.
    assert [json.loads(m["message"])["Type"] for m in outbox_for(freehold.endpoint_url, json_address)] == [
        "SubscriptionConfirmation"]
    # Direct SMS publishes are recorded too.
    direct = "+4915112345678"
    assert sns.publish(PhoneNumber=direct, Message="code 1234")["MessageId"]
    assert outbox_for(freehold.endpoint_url, direct)[0]["message"] == "code 1234"
    with pytest.raises(ClientError) as info:
        sns.publish(PhoneNumber="12ab", Message="x")
    assert error_of(info) == ("InvalidParameter", "Invalid parameter: PhoneNumber Reason: 12ab is not valid to "
                                                  "publish to", 400)


def test_internal_endpoints(freehold: Any) -> None:
    import urllib.error
    import urllib.request

    from cryptography import x509

    base = freehold.endpoint_url + "/_freehold/sns/"
    with urllib.request.urlopen(base + "SimpleNotificationService-freehold.pem", timeout=10) as answer:
        certificate = x509.load_pem_x509_certificate(answer.read())
    assert "CN=sns.amazonaws.com" in certificate.subject.rfc4514_string()
    for path, method, status in [("nope", "GET", 404), ("outbox", "POST", 405), ("outbox?after=x", "GET", 400)]:
        request = urllib.request.Request(base + path, method=method)
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(request, timeout=10)
        assert info.value.code == status, path
