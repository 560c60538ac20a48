"""SNS → Lambda: a subscribed function is invoked asynchronously with AWS's SNS event (seen
here through the function's on-success destination, an SQS queue)."""

from __future__ import annotations

import base64
import io
import json
import zipfile
from typing import Any

from sns_helpers import receive_all, unique, verify_signature

TRUST = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]})


def _zip(source: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", source)
    return buffer.getvalue()


def test_lambda_subscription_gets_the_sns_event(freehold_sqlite: Any) -> None:
    server = freehold_sqlite
    sns, sqs, lam, iam = (server.client(s) for s in ("sns", "sqs", "lambda", "iam"))
    role = iam.create_role(RoleName=unique("sns-fn"), AssumeRolePolicyDocument=TRUST)["Role"]["Arn"]
    url = sqs.create_queue(QueueName=unique("done"))["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    name = unique("fn")
    function_arn = lam.create_function(
        FunctionName=name, Runtime="python3.11", Role=role, Handler="app.handler",
        Code={"ZipFile": _zip("def handler(event, context):\n    return 'ok'\n")},
    )["FunctionArn"]
    lam.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=0,
                                         DestinationConfig={"OnSuccess": {"Destination": queue_arn}})
    topic = sns.create_topic(Name=unique("to-lambda"))["TopicArn"]
    sub = sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=function_arn)["SubscriptionArn"]
    message_id = sns.publish(TopicArn=topic, Message="for the function", Subject="hi", MessageAttributes={
        "kind": {"DataType": "String", "StringValue": "test"}})["MessageId"]
    (record,) = receive_all(sqs, url, 1, timeout=60)
    event = json.loads(record["Body"])["requestPayload"]
    (entry,) = event["Records"]
    assert (entry["EventSource"], entry["EventVersion"], entry["EventSubscriptionArn"]) == ("aws:sns", "1.0", sub)
    notification = entry["Sns"]
    assert (notification["MessageId"], notification["Message"], notification["Subject"]) == (
        message_id, "for the function", "hi")
    assert notification["MessageAttributes"] == {"kind": {"Type": "String", "Value": "test"}}
    # The event's URLs are spelled 'Url'; the signature verifies like an envelope's.
    verify_signature({**notification, "SigningCertURL": notification["SigningCertUrl"]})
    assert base64.b64decode(notification["Signature"])
