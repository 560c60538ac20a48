"""SQS's legacy query protocol (what older SDKs send: form fields, XML answers, posted to the
queue URL) and the aws CLI."""

from __future__ import annotations

import json
import subprocess
import urllib.error
import urllib.request
import uuid
import xml.etree.ElementTree as ET
from typing import Any
from urllib.parse import urlencode

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from support.server import ROOT, TEST_KEY_ID, TEST_SECRET

NS = {"q": "http://queue.amazonaws.com/doc/2012-11-05/"}
AWS_CLI = str(ROOT / ".venv" / "bin" / "aws")


def query(url: str, fields: dict[str, str]) -> tuple[int, ET.Element]:
    """POST a signed query-protocol request, as the AWS SDK for Java v1 / PHP / Go v1 did."""
    body = urlencode({**fields, "Version": "2012-11-05"})
    request = AWSRequest(method="POST", url=url, data=body,
                         headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
    SigV4Auth(Credentials(TEST_KEY_ID, TEST_SECRET), "sqs", "us-east-1").add_auth(request)
    prepared = urllib.request.Request(url, data=body.encode(), headers=dict(request.headers.items()), method="POST")
    try:
        with urllib.request.urlopen(prepared, timeout=30) as answer:
            return answer.status, ET.fromstring(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, ET.fromstring(error.read())


def test_query_protocol_round_trip(freehold_sqlite: Any) -> None:
    endpoint = freehold_sqlite.endpoint_url + "/"
    name = f"query-{uuid.uuid4().hex[:8]}"
    status, root = query(endpoint, {"Action": "CreateQueue", "QueueName": name,
                                    "Attribute.1.Name": "VisibilityTimeout", "Attribute.1.Value": "40"})
    assert status == 200
    url = root.findtext("q:CreateQueueResult/q:QueueUrl", namespaces=NS)
    assert url == f"{freehold_sqlite.endpoint_url}/000000000000/{name}"
    # Posting to the queue URL names the queue, as the query API always allowed.
    status, root = query(url, {"Action": "SendMessage", "MessageBody": "via query",
                               "MessageAttribute.1.Name": "Foo", "MessageAttribute.1.Value.DataType": "String",
                               "MessageAttribute.1.Value.StringValue": "Bar"})
    assert status == 200
    assert root.findtext("q:SendMessageResult/q:MD5OfMessageAttributes", namespaces=NS) == "ae7155c6026991b6d54b11589678bf9c"
    status, root = query(url, {"Action": "ReceiveMessage", "AttributeName.1": "All", "MessageAttributeName.1": "All"})
    assert status == 200
    message = root.find("q:ReceiveMessageResult/q:Message", NS)
    assert message is not None
    assert message.findtext("q:Body", namespaces=NS) == "via query"
    handle = message.findtext("q:ReceiptHandle", namespaces=NS)
    assert handle
    names = {a.findtext("q:Name", namespaces=NS): a.findtext("q:Value", namespaces=NS) for a in message.findall("q:Attribute", NS)}
    assert names["ApproximateReceiveCount"] == "1"
    status, root = query(url, {"Action": "GetQueueAttributes", "AttributeName.1": "VisibilityTimeout"})
    assert [a.findtext("q:Value", namespaces=NS) for a in root.iter(f"{{{NS['q']}}}Attribute")] == ["40"]
    status, _ = query(url, {"Action": "DeleteMessage", "ReceiptHandle": handle})
    assert status == 200


def test_query_protocol_errors_use_the_legacy_codes(freehold_sqlite: Any) -> None:
    missing = f"{freehold_sqlite.endpoint_url}/000000000000/nothing-{uuid.uuid4().hex[:6]}"
    status, root = query(missing, {"Action": "SendMessage", "MessageBody": "x"})
    assert status == 400
    assert root.findtext("q:Error/q:Code", namespaces=NS) == "AWS.SimpleQueueService.NonExistentQueue"
    assert root.findtext("q:Error/q:Message", namespaces=NS) == "The specified queue does not exist for this wsdl version."
    status, root = query(freehold_sqlite.endpoint_url + "/", {"Action": "GetQueueAttributes", "QueueUrl": missing,
                                                              "AttributeName.1": "All"})
    assert root.findtext("q:Error/q:Code", namespaces=NS) == "AWS.SimpleQueueService.NonExistentQueue"


def _aws(server: Any, *args: str) -> Any:
    # aws CLI v1 replaces the SQS endpoint with its legacy queue.amazonaws.com hosts unless
    # --endpoint-url is given (awscli/customizations/overridesslcommonname.py): AWS_ENDPOINT_URL
    # alone does not reach it, so the flag is passed, as users of CLI v1 must.
    done = subprocess.run([AWS_CLI, "sqs", *args, "--output", "json", "--endpoint-url", server.endpoint_url],
                          env=server.env_for_cli(),
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout) if done.stdout.strip() else {}


def test_aws_cli_drives_a_queue(freehold_sqlite: Any) -> None:
    name = f"cli-{uuid.uuid4().hex[:8]}"
    url = _aws(freehold_sqlite, "create-queue", "--queue-name", name, "--attributes", "DelaySeconds=0")["QueueUrl"]
    assert url.endswith(f"/000000000000/{name}")
    _aws(freehold_sqlite, "send-message", "--queue-url", url, "--message-body", "from the cli")
    received = _aws(freehold_sqlite, "receive-message", "--queue-url", url, "--wait-time-seconds", "1")
    assert received["Messages"][0]["Body"] == "from the cli"
    _aws(freehold_sqlite, "delete-message", "--queue-url", url, "--receipt-handle", received["Messages"][0]["ReceiptHandle"])
    found = _aws(freehold_sqlite, "get-queue-attributes", "--queue-url", url, "--attribute-names", "ApproximateNumberOfMessages")
    assert found["Attributes"]["ApproximateNumberOfMessages"] == "0"
    assert url in _aws(freehold_sqlite, "list-queues", "--queue-name-prefix", name)["QueueUrls"]
    failed = subprocess.run([AWS_CLI, "sqs", "get-queue-url", "--queue-name", "no-such-queue-cli",
                             "--endpoint-url", freehold_sqlite.endpoint_url],
                            env=freehold_sqlite.env_for_cli(), capture_output=True, text=True, timeout=60, check=False)
    assert failed.returncode != 0
    assert "The specified queue does not exist." in failed.stderr
