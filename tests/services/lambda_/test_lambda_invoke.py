"""Running functions through boto3 and the aws CLI: Python, Node.js and provided runtimes in
sandboxes, AWS's error payloads, logs, timeouts, out-of-memory, throttling, limits and the
asynchronous queue (retries, dead-letter queue, surviving kill -9)."""

from __future__ import annotations

import base64
import json
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from lambda_helpers import create_function, create_role, error_of, make_zip, unique
from support.server import ROOT, FreeholdServer

PY_APP = make_zip({"app.py": '''
import json, os, sys, time
import boto3
print("init output")

def handler(event, context):
    print("event", json.dumps(event))
    if event.get("fail"):
        raise KeyError("missing " + event["fail"])
    if event.get("sleep"):
        time.sleep(event["sleep"])
    if event.get("allocate"):
        hog = bytearray(event["allocate"] * 1024 * 1024)
        for i in range(0, len(hog), 4096):
            hog[i] = 1
    caller = boto3.client("sts").get_caller_identity()["Arn"] if event.get("sts") else None
    return {
        "request_id": context.aws_request_id, "arn": context.invoked_function_arn,
        "remaining": context.get_remaining_time_in_millis(), "caller": caller, "uid": os.getuid(),
        "env": {k: os.environ.get(k) for k in ("AWS_LAMBDA_FUNCTION_NAME", "AWS_REGION", "LAMBDA_TASK_ROOT",
                "_HANDLER", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_ENDPOINT_URL", "MINE")},
        "client": context.client_context.custom if context.client_context else None,
        "python": "%d.%d" % sys.version_info[:2], "cwd": os.getcwd(),
    }
'''})

NODE_APP = make_zip({"index.js": '''
exports.handler = async (event, context) => {
  console.log("node got", JSON.stringify(event));
  if (event.fail) { throw new TypeError("bad " + event.fail); }
  return { echo: event, requestId: context.awsRequestId, fn: process.env.AWS_LAMBDA_FUNCTION_NAME };
};
'''})

BOOTSTRAP = make_zip({"bootstrap": '''#!/bin/sh
set -eu
API="http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime/invocation"
while true; do
  HEADERS="$(mktemp)"
  EVENT=$(curl -sS -D "$HEADERS" "$API/next")
  ID=$(grep -i Lambda-Runtime-Aws-Request-Id "$HEADERS" | tr -d '[:space:]' | cut -d: -f2)
  echo "bootstrap handling $ID"
  curl -sS -X POST "$API/$ID/response" -d "{\\"shell\\": $EVENT, \\"handler\\": \\"$_HANDLER\\"}" > /dev/null
done
'''}, executable=("bootstrap",))


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FreeholdServer]:
    env = {"FREEHOLD_LAMBDA_RETRY_BASE_SECONDS": "0.3"}
    instance = FreeholdServer(tmp_path_factory.mktemp("freehold-lambda-invoke"), env=env)
    instance.start()
    try:
        yield instance
    finally:
        instance.stop()


@pytest.fixture(scope="module")
def lam(server: FreeholdServer) -> Any:
    return server.client("lambda")


@pytest.fixture(scope="module")
def role(server: FreeholdServer) -> str:
    return create_role(server)


@pytest.fixture(scope="module")
def python_fn(lam: Any, role: str) -> str:
    return create_function(lam, role, PY_APP, Environment={"Variables": {"MINE": "yes"}}, Timeout=5)


def invoke(lam: Any, name: str, event: Any = None, **kwargs: Any) -> tuple[dict[str, Any], Any]:
    answer = lam.invoke(FunctionName=name, Payload=json.dumps(event or {}).encode(), **kwargs)
    return answer, json.loads(answer["Payload"].read() or b"null")


def test_python_invoke_environment_and_logs(lam: Any, python_fn: str) -> None:
    answer, body = invoke(lam, python_fn, {"sts": True}, LogType="Tail",
                          ClientContext=base64.b64encode(json.dumps({"custom": {"k": "v"}}).encode()).decode())
    assert answer["StatusCode"] == 200 and "FunctionError" not in answer
    assert answer["ExecutedVersion"] == "$LATEST"
    assert body["request_id"] == answer["ResponseMetadata"]["RequestId"]
    assert body["arn"] == f"arn:aws:lambda:us-east-1:000000000000:function:{python_fn}"
    assert 0 < body["remaining"] <= 5000
    assert body["client"] == {"k": "v"}
    assert body["python"] == "3.11"
    assert body["env"]["AWS_LAMBDA_FUNCTION_NAME"] == python_fn
    assert body["env"]["AWS_REGION"] == "us-east-1" and body["env"]["MINE"] == "yes"
    assert body["env"]["_HANDLER"] == "app.handler" and body["env"]["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "128"
    assert body["env"]["AWS_LAMBDA_LOG_GROUP_NAME"] == f"/aws/lambda/{python_fn}"
    assert body["env"]["AWS_ENDPOINT_URL"].startswith("http://127.0.0.1:")
    # The function's own boto3 reached freehold with its role's temporary credentials.
    assert body["caller"].startswith("arn:aws:sts::000000000000:assumed-role/")
    log = base64.b64decode(answer["LogResult"]).decode()
    request_id = body["request_id"]
    assert f"START RequestId: {request_id} Version: $LATEST" in log
    assert 'event {"sts": true}' in log and f"END RequestId: {request_id}" in log
    assert f"REPORT RequestId: {request_id}\tDuration: " in log and "Memory Size: 128 MB" in log


def test_python_sandbox_isolation(server: FreeholdServer, lam: Any, python_fn: str) -> None:
    with urllib.request.urlopen(server.endpoint_url + "/_freehold/health", timeout=5) as response:
        rungs = json.load(response)["lambda"]["isolation"]
    _, body = invoke(lam, python_fn)
    if rungs["mount_namespace"]:
        assert body["cwd"] == "/var/task" and body["env"]["LAMBDA_TASK_ROOT"] == "/var/task"
    if rungs["uid_per_function"]:
        assert body["uid"] != 0


def test_logs_reach_cloudwatch(server: FreeholdServer, lam: Any, python_fn: str) -> None:
    _, body = invoke(lam, python_fn, {"marker": "to-logs"})
    logs = server.client("logs")
    deadline = time.monotonic() + 10
    messages: list[str] = []
    while time.monotonic() < deadline:
        try:
            events = logs.filter_log_events(logGroupName=f"/aws/lambda/{python_fn}")["events"]
        except ClientError:
            events = []
        messages = [e["message"] for e in events]
        if any(f"END RequestId: {body['request_id']}" in m for m in messages):
            break
        time.sleep(0.1)
    assert f"START RequestId: {body['request_id']} Version: $LATEST" in messages
    assert 'event {"marker": "to-logs"}' in messages


def test_python_errors(lam: Any, role: str, python_fn: str) -> None:
    answer, body = invoke(lam, python_fn, {"fail": "thing"})
    assert answer["StatusCode"] == 200 and answer["FunctionError"] == "Unhandled"
    assert body["errorType"] == "KeyError" and body["errorMessage"] == "'missing thing'"
    assert body["requestId"] == answer["ResponseMetadata"]["RequestId"]
    assert any('app.py", line' in frame for frame in body["stackTrace"])
    broken = create_function(lam, role, make_zip({"other.py": "x = 1\n"}))
    answer, body = invoke(lam, broken)
    assert answer["FunctionError"] == "Unhandled"
    assert body["errorType"] == "Runtime.ImportModuleError"
    assert body["errorMessage"] == "Unable to import module 'app': No module named 'app'"
    missing = create_function(lam, role, make_zip({"app.py": "x = 1\n"}))
    _, body = invoke(lam, missing)
    assert (body["errorType"], body["errorMessage"]) == ("Runtime.HandlerNotFound", "Handler 'handler' missing on module 'app'")


def test_timeout_kills_the_sandbox(lam: Any, role: str) -> None:
    name = create_function(lam, role, PY_APP, Timeout=1)
    started = time.monotonic()
    answer, body = invoke(lam, name, {"sleep": 5})
    assert time.monotonic() - started < 4
    assert answer["FunctionError"] == "Unhandled"
    assert body["errorType"] == "Sandbox.Timedout"
    assert body["errorMessage"].endswith("Task timed out after 1.00 seconds")
    answer, body = invoke(lam, name, {})
    assert "FunctionError" not in answer and body["env"]["AWS_LAMBDA_FUNCTION_NAME"] == name


def test_out_of_memory(server: FreeholdServer, lam: Any, role: str) -> None:
    with urllib.request.urlopen(server.endpoint_url + "/_freehold/health", timeout=5) as response:
        if not json.load(response)["lambda"]["isolation"]["memory_cgroup"]:
            pytest.skip("no writable memory cgroup on this host")
    name = create_function(lam, role, PY_APP, MemorySize=128)
    answer, body = invoke(lam, name, {"allocate": 400}, LogType="Tail")
    assert answer["FunctionError"] == "Unhandled"
    assert body["errorType"] == "Runtime.OutOfMemory"
    assert body["errorMessage"].endswith("Error: Runtime exited with error: signal: killed")


def test_nodejs_function(lam: Any, role: str) -> None:
    name = create_function(lam, role, NODE_APP, runtime="nodejs20.x", handler="index.handler")
    answer, body = invoke(lam, name, {"n": 1}, LogType="Tail")
    assert body == {"echo": {"n": 1}, "requestId": answer["ResponseMetadata"]["RequestId"], "fn": name}
    assert "\tINFO\tnode got {\"n\":1}" in base64.b64decode(answer["LogResult"]).decode()
    answer, body = invoke(lam, name, {"fail": "x"})
    assert answer["FunctionError"] == "Unhandled"
    assert (body["errorType"], body["errorMessage"]) == ("TypeError", "bad x")
    assert body["trace"][0] == "TypeError: bad x"


def test_provided_bootstrap(lam: Any, role: str) -> None:
    name = create_function(lam, role, BOOTSTRAP, runtime="provided.al2023", handler="my.handler")
    answer, body = invoke(lam, name, {"from": "shell"}, LogType="Tail")
    assert "FunctionError" not in answer, body
    assert body == {"shell": {"from": "shell"}, "handler": "my.handler"}
    assert "bootstrap handling " + answer["ResponseMetadata"]["RequestId"] in base64.b64decode(
        answer["LogResult"]).decode()
    missing = create_function(lam, role, make_zip({"readme.txt": "no bootstrap"}), runtime="provided.al2",
                              handler="x")
    _, body = invoke(lam, missing)
    assert body["errorType"] == "Runtime.InvalidEntrypoint"


def test_invocation_types_limits_and_throttling(lam: Any, role: str, python_fn: str) -> None:
    assert lam.invoke(FunctionName=python_fn, InvocationType="DryRun")["StatusCode"] == 204
    with pytest.raises(ClientError) as excinfo:
        lam.invoke(FunctionName=python_fn, Payload=b'{"x": "' + b"a" * (6 * 1024 * 1024) + b'"}')
    assert error_of(excinfo) == ("RequestTooLargeException",
                                 "Request must be smaller than 6291456 bytes for the InvokeFunction operation", 413)
    with pytest.raises(ClientError) as excinfo:
        lam.invoke(FunctionName=python_fn, InvocationType="Event", Payload=b'"' + b"a" * 262144 + b'"')
    assert error_of(excinfo)[0::2] == ("RequestTooLargeException", 413)
    with pytest.raises(ClientError) as excinfo:
        lam.invoke(FunctionName=python_fn, Payload=b"not json")
    assert error_of(excinfo)[0::2] == ("InvalidRequestContentException", 400)
    name = create_function(lam, role, PY_APP, Timeout=10)
    lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=0)
    with pytest.raises(ClientError) as excinfo:
        invoke(lam, name)
    assert error_of(excinfo) == ("TooManyRequestsException", "Rate Exceeded.", 429)
    assert excinfo.value.response["Reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded"
    lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=1)
    invoke(lam, name)  # warm: the long invocation below starts at once, even on a loaded machine
    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(invoke, lam, name, {"sleep": 3})
        time.sleep(1.0)
        with pytest.raises(ClientError) as excinfo:
            invoke(lam, name)
        assert error_of(excinfo)[0] == "TooManyRequestsException"
        assert "FunctionError" not in first.result()[0]


def test_versions_and_aliases_run_their_code(lam: Any, role: str) -> None:
    name = create_function(lam, role, make_zip({"app.py": "def handler(e, c):\n    return 'one'\n"}))
    lam.publish_version(FunctionName=name)
    lam.update_function_code(FunctionName=name, ZipFile=make_zip({"app.py": "def handler(e, c):\n    return 'two'\n"}))
    lam.create_alias(FunctionName=name, Name="stable", FunctionVersion="1")
    answer, body = invoke(lam, name, Qualifier="stable")
    assert (body, answer["ExecutedVersion"]) == ("one", "1")
    answer, body = invoke(lam, name)
    assert (body, answer["ExecutedVersion"]) == ("two", "$LATEST")


def test_aws_cli_invoke(server: FreeholdServer, python_fn: str, tmp_path: Path) -> None:
    out = tmp_path / "out.json"
    result = subprocess.run(
        [str(ROOT / ".venv/bin/aws"), "lambda", "invoke", "--function-name", python_fn,
         "--payload", '{"cli": 1}', str(out)],
        env=server.env_for_cli(), capture_output=True, text=True, timeout=60, check=False,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["StatusCode"] == 200
    assert json.loads(out.read_text())["env"]["AWS_LAMBDA_FUNCTION_NAME"] == python_fn


def _queue(server: FreeholdServer) -> tuple[Any, str, str]:
    sqs = server.client("sqs")
    url = sqs.create_queue(QueueName=unique("dlq"))["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return sqs, url, arn


def _receive(sqs: Any, url: str, timeout: float = 20) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1,
                                       MessageAttributeNames=["All"]).get("Messages", [])
        if messages:
            return list(messages)
    return []


def test_async_retries_then_dead_letter_queue(server: FreeholdServer, lam: Any, role: str) -> None:
    sqs, url, arn = _queue(server)
    name = create_function(lam, role, PY_APP, DeadLetterConfig={"TargetArn": arn})
    answer = lam.invoke(FunctionName=name, InvocationType="Event", Payload=b'{"fail": "always"}')
    assert answer["StatusCode"] == 202
    messages = _receive(sqs, url)
    assert len(messages) == 1
    assert json.loads(messages[0]["Body"]) == {"fail": "always"}
    attributes = messages[0]["MessageAttributes"]
    assert attributes["RequestID"]["StringValue"] == answer["ResponseMetadata"]["RequestId"]
    assert attributes["ErrorMessage"]["StringValue"] == "'missing always'"


def test_queued_invocation_survives_kill9(server: FreeholdServer, lam: Any, role: str) -> None:
    sqs, url, arn = _queue(server)
    name = create_function(lam, role, PY_APP)
    lam.put_function_event_invoke_config(
        FunctionName=name, MaximumRetryAttempts=0,
        DestinationConfig={"OnSuccess": {"Destination": arn}},
    )
    lam.invoke(FunctionName=name, InvocationType="Event", Payload=b'{"sleep": 1.5}')
    time.sleep(0.3)  # the invocation is running when the server dies
    server.kill9()
    server.start()
    messages = _receive(server.client("sqs"), url, timeout=30)
    assert len(messages) >= 1
    record = json.loads(messages[0]["Body"])
    assert record["requestContext"]["condition"] == "Success"
    assert record["requestPayload"] == {"sleep": 1.5}
