"""Function URLs with InvokeMode RESPONSE_STREAM, read over raw HTTP: the body reaches the
client chunk by chunk as the function writes it; an HttpResponseStream.from prelude sets the
status, headers and cookies; a plain stream is 200 with its content type; a function that
answers buffered and one that fails first are answered as BUFFERED URLs are."""

from __future__ import annotations

import http.client
import time
from typing import Any
from urllib.parse import urlsplit

from lambda_helpers import create_function, make_zip, unique

NODE_URL_STREAMING = make_zip({"index.mjs": '''
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
export const handler = awslambda.streamifyResponse(async (event, responseStream) => {
  const path = event.rawPath;
  if (path === "/fail") { throw new Error("failed first"); }
  if (path === "/plain") {
    responseStream.setContentType("text/csv");
    responseStream.write("a,b\\n");
    await sleep(300);
    responseStream.write("1,2\\n");
    responseStream.end();
    return;
  }
  const stream = awslambda.HttpResponseStream.from(responseStream, {
    statusCode: 201, headers: {"content-type": "text/event-stream", "x-streamed": "yes"},
    cookies: ["session=abc; Path=/", "theme=dark"],
  });
  for (const part of ["data: first\\n\\n", "data: second\\n\\n", "data: third\\n\\n"]) {
    stream.write(part);
    await sleep(400);
  }
  stream.end();
});
'''})

PY_BUFFERED = make_zip({"app.py": '''
def handler(event, context):
    return {"statusCode": 202, "headers": {"x-kind": "buffered"}, "body": "whole"}
'''})


def _public_url(lam: Any, name: str) -> str:
    url = lam.create_function_url_config(FunctionName=name, AuthType="NONE", InvokeMode="RESPONSE_STREAM")
    lam.add_permission(FunctionName=name, StatementId=unique("url"), Action="lambda:InvokeFunctionUrl",
                       Principal="*", FunctionUrlAuthType="NONE")
    lam.add_permission(FunctionName=name, StatementId=unique("invoke"), Action="lambda:InvokeFunction",
                       Principal="*", InvokedViaFunctionUrl=True)
    return str(url["FunctionUrl"])


def _open(server: Any, url: str, path: str, method: str = "GET"
          ) -> tuple[http.client.HTTPConnection, http.client.HTTPResponse]:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    connection.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
    connection.putheader("Host", urlsplit(url).netloc)
    connection.endheaders()
    return connection, connection.getresponse()


def _timed_chunks(response: http.client.HTTPResponse) -> list[tuple[float, bytes]]:
    chunks: list[tuple[float, bytes]] = []
    while True:
        data = response.read1(65536)
        if not data:
            return chunks
        chunks.append((time.monotonic(), data))


def test_http_integration_prelude_and_chunks(freehold: Any, lam: Any, role: str) -> None:
    name = create_function(lam, role, NODE_URL_STREAMING, runtime="nodejs20.x", handler="index.handler")
    url = _public_url(lam, name)
    connection, response = _open(freehold, url, "/events")
    try:
        assert response.status == 201
        assert response.getheader("Content-Type") == "text/event-stream"
        assert response.getheader("x-streamed") == "yes"
        assert sorted(response.headers.get_all("Set-Cookie") or []) == ["session=abc; Path=/", "theme=dark"]
        assert response.getheader("Transfer-Encoding") == "chunked"
        chunks = _timed_chunks(response)
    finally:
        connection.close()
    assert b"".join(data for _, data in chunks) == b"data: first\n\ndata: second\n\ndata: third\n\n"
    assert len(chunks) >= 3 and chunks[-1][0] - chunks[0][0] > 0.6  # each part as it was written

    connection, response = _open(freehold, url, "/plain")
    try:
        assert response.status == 200 and response.getheader("Content-Type") == "text/csv"
        chunks = _timed_chunks(response)
    finally:
        connection.close()
    assert b"".join(data for _, data in chunks) == b"a,b\n1,2\n" and chunks[-1][0] - chunks[0][0] > 0.2

    connection, response = _open(freehold, url, "/events", "HEAD")
    try:
        assert response.status == 201 and response.getheader("x-streamed") == "yes" and response.read() == b""
    finally:
        connection.close()

    connection, response = _open(freehold, url, "/fail")
    try:
        assert response.status == 502 and response.read() == b'{"Message":"Internal Server Error"}'
    finally:
        connection.close()


def test_buffered_function_behind_a_streaming_url(freehold: Any, lam: Any, role: str) -> None:
    name = create_function(lam, role, PY_BUFFERED)
    url = _public_url(lam, name)
    connection, response = _open(freehold, url, "/")
    try:
        assert response.status == 202 and response.getheader("x-kind") == "buffered"
        assert response.read() == b"whole"
    finally:
        connection.close()
