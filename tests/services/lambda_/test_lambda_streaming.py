"""Lambda response streaming through boto3's invoke_with_response_stream: a Node.js
awslambda.streamifyResponse handler (chunks arrive as written), a mid-stream error, a plain
Python handler (one chunk), a provided bootstrap posting in streaming mode with curl, a
streamed response to a buffered Invoke, Invoke's errors, an 8 MB stream read slowly (the
function is held back, nothing lost) and a timeout mid-stream."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import pytest
from botocore.exceptions import ClientError
from lambda_helpers import ECHO_PY, create_function, error_of, make_zip, unique

NODE_STREAMING = make_zip({"index.mjs": '''
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
export const handler = awslambda.streamifyResponse(async (event, responseStream, context) => {
  responseStream.setContentType("text/plain");
  for (const word of event.words || ["one", "two", "three"]) {
    responseStream.write(word);
    await sleep(event.gap || 400);
  }
  if (event.fail) { throw new Error("boom after " + event.words.length); }
  console.log("streamed", context.awsRequestId);
  responseStream.end();
});
'''})

CURL_STREAMING = make_zip({"bootstrap": '''#!/bin/sh
set -eu
API="http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime/invocation"
while true; do
  HEADERS="$(mktemp)"
  curl -sS -D "$HEADERS" -o /dev/null "$API/next"
  ID=$(grep -i Lambda-Runtime-Aws-Request-Id "$HEADERS" | tr -d '[:space:]' | cut -d: -f2)
  (printf 'alpha '; sleep 0.5; printf 'beta') | curl -sS -X POST -H "Expect:" -H "Transfer-Encoding: chunked" \\
    -H "Lambda-Runtime-Function-Response-Mode: streaming" -H "Content-Type: text/plain" \\
    -T - "$API/$ID/response" > /dev/null
done
'''}, executable=("bootstrap",))


def read_stream(answer: dict[str, Any]) -> tuple[list[tuple[float, bytes]], dict[str, Any]]:
    """The (arrival time, payload) of each PayloadChunk and the InvokeComplete event."""
    chunks: list[tuple[float, bytes]] = []
    complete: dict[str, Any] | None = None
    for event in answer["EventStream"]:
        if "PayloadChunk" in event:
            assert complete is None
            chunks.append((time.monotonic(), event["PayloadChunk"]["Payload"]))
        elif "InvokeComplete" in event:
            complete = event["InvokeComplete"]
    assert complete is not None
    return chunks, complete


@pytest.fixture(scope="module")
def node_fn(lam: Any, role: str) -> str:
    return create_function(lam, role, NODE_STREAMING, runtime="nodejs20.x", handler="index.handler")


def test_node_streamify_chunks_arrive_as_written(lam: Any, node_fn: str) -> None:
    answer = lam.invoke_with_response_stream(FunctionName=node_fn, Payload=b'{"gap": 400}', LogType="Tail")
    assert answer["StatusCode"] == 200 and answer["ExecutedVersion"] == "$LATEST"
    assert answer["ResponseStreamContentType"] == "application/vnd.amazon.eventstream"
    chunks, complete = read_stream(answer)
    assert b"".join(data for _, data in chunks) == b"onetwothree"
    assert len(chunks) >= 3
    # The first chunk came while the function still had ~800 ms of writing to do.
    assert chunks[-1][0] - chunks[0][0] > 0.6
    assert "ErrorCode" not in complete
    log = base64.b64decode(complete["LogResult"]).decode()
    assert "streamed" in log and "REPORT RequestId:" in log


def test_node_mid_stream_error_is_in_invoke_complete(lam: Any, node_fn: str) -> None:
    answer = lam.invoke_with_response_stream(FunctionName=node_fn,
                                             Payload=json.dumps({"words": ["a", "b"], "gap": 10, "fail": True}))
    chunks, complete = read_stream(answer)
    assert b"".join(data for _, data in chunks) == b"ab"
    assert complete["ErrorCode"] == "Error"
    assert complete["ErrorDetails"] == "boom after 2"


def test_buffered_invoke_of_a_streaming_function_gets_the_whole_body(lam: Any, node_fn: str) -> None:
    answer = lam.invoke(FunctionName=node_fn, Payload=b'{"gap": 5}')
    assert "FunctionError" not in answer
    assert answer["Payload"].read() == b"onetwothree"
    failed = lam.invoke(FunctionName=node_fn, Payload=json.dumps({"words": ["x"], "gap": 1, "fail": True}))
    assert failed["FunctionError"] == "Unhandled"
    assert json.loads(failed["Payload"].read())["errorMessage"] == "boom after 1"


def test_plain_python_handler_is_one_chunk(lam: Any, role: str) -> None:
    name = create_function(lam, role, ECHO_PY)
    answer = lam.invoke_with_response_stream(FunctionName=name, Payload=b'{"k": [1, 2]}', LogType="Tail")
    chunks, complete = read_stream(answer)
    assert len(chunks) == 1 and json.loads(chunks[0][1]) == {"event": {"k": [1, 2]}}
    assert "ErrorCode" not in complete and "START RequestId:" in base64.b64decode(complete["LogResult"]).decode()
    dry = lam.invoke_with_response_stream(FunctionName=name, InvocationType="DryRun")
    assert dry["StatusCode"] == 204


def test_python_handler_error(lam: Any, role: str) -> None:
    code = make_zip({"app.py": "def handler(event, context):\n    raise ValueError('nope ' + event['x'])\n"})
    name = create_function(lam, role, code)
    chunks, complete = read_stream(lam.invoke_with_response_stream(FunctionName=name, Payload=b'{"x": "y"}'))
    assert chunks == []
    assert complete["ErrorCode"] == "ValueError" and complete["ErrorDetails"] == "nope y"


def test_provided_bootstrap_streams_with_chunked_post(lam: Any, role: str) -> None:
    name = create_function(lam, role, CURL_STREAMING, runtime="provided.al2023", handler="x.y")
    for _ in range(2):  # a warm sandbox streams again
        chunks, complete = read_stream(lam.invoke_with_response_stream(FunctionName=name, Payload=b"{}"))
        assert b"".join(data for _, data in chunks) == b"alpha beta"
        assert len(chunks) >= 2 and chunks[-1][0] - chunks[0][0] > 0.3
        assert "ErrorCode" not in complete


def test_invoke_errors(lam: Any, role: str) -> None:
    with pytest.raises(ClientError) as excinfo:
        lam.invoke_with_response_stream(FunctionName=unique("missing"), Payload=b"{}")
    code, message, status = error_of(excinfo)
    assert (code, status) == ("ResourceNotFoundException", 404) and message.startswith("Function not found: arn:aws:lambda:")
    name = create_function(lam, role, ECHO_PY)
    with pytest.raises(ClientError) as excinfo:
        lam.invoke_with_response_stream(FunctionName=name, Payload=b"{not json")
    assert error_of(excinfo)[0] == "InvalidRequestContentException"
    lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=0)
    with pytest.raises(ClientError) as excinfo:
        lam.invoke_with_response_stream(FunctionName=name, Payload=b"{}")
    assert error_of(excinfo)[:3:2] == ("TooManyRequestsException", 429)


NODE_BIG = make_zip({"index.js": '''
const crypto = require("crypto");
exports.handler = awslambda.streamifyResponse(async (event, responseStream) => {
  const hash = crypto.createHash("sha256");
  for (let i = 0; i < event.blocks; i++) {
    const block = Buffer.alloc(65536, i % 251);
    hash.update(block);
    if (!responseStream.write(block)) {
      await new Promise((resolve) => responseStream.once("drain", resolve));
    }
  }
  if (event.hang) { responseStream.write("last words"); await new Promise(() => {}); }
  responseStream.end();
  console.log("sha256", hash.digest("hex"));
});
'''})


def test_a_large_stream_read_slowly_arrives_whole(lam: Any, role: str) -> None:
    import hashlib

    name = create_function(lam, role, NODE_BIG, runtime="nodejs20.x", handler="index.handler", Timeout=60)
    blocks = 128  # 8 MB: past the 6 MB buffered limit and the 1 MB the reader may lag behind
    answer = lam.invoke_with_response_stream(FunctionName=name, Payload=json.dumps({"blocks": blocks}),
                                             LogType="Tail")
    digest, size, first = hashlib.sha256(), 0, True
    complete: dict[str, Any] = {}
    for event in answer["EventStream"]:
        if "PayloadChunk" in event:
            data = event["PayloadChunk"]["Payload"]
            digest.update(data)
            size += len(data)
            if first:
                time.sleep(1.0)  # a slow reader: the function is held back, nothing is lost
                first = False
        else:
            complete = event["InvokeComplete"]
    assert size == blocks * 65536 and "ErrorCode" not in complete
    assert f"sha256 {digest.hexdigest()}" in base64.b64decode(complete["LogResult"]).decode()


def test_a_timeout_mid_stream_is_in_invoke_complete(lam: Any, role: str) -> None:
    name = create_function(lam, role, NODE_BIG, runtime="nodejs20.x", handler="index.handler", Timeout=1)
    chunks, complete = read_stream(lam.invoke_with_response_stream(
        FunctionName=name, Payload=json.dumps({"blocks": 1, "hang": True})))
    assert b"".join(data for _, data in chunks) == bytes(65536) + b"last words"
    assert complete["ErrorCode"] == "Sandbox.Timedout"
    assert "Task timed out after 1.00 seconds" in complete["ErrorDetails"]
