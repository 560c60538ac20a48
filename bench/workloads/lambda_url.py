"""lambda-url: warm requests to a Lambda function URL over plain HTTP, with a light client.

A function gets a URL (AuthType NONE, with the public InvokeFunctionUrl and InvokeFunction
statements AWS requires);
the requests are raw HTTP/1.1 POSTs to the URL's host on one kept-alive socket per client
process (sent to the server's address with the URL's Host header, so no DNS is involved).
The function answers from the payload 2.0 event's body, so a wrong event fails the run.
Latency with one client (nothing queues); throughput with several.

moto_server cannot run functions without Docker: its requests fail and it is reported as such.
"""

from __future__ import annotations

import time
from urllib.parse import urlsplit

from bench.clients import client
from bench.load import Operation
from bench.workloads.base import EndpointWorkload, Measured, Options, Target
from bench.workloads.lambda_http import THROUGHPUT_CLIENTS, KeptAliveHttp, hello_post_op, measure_warm
from bench.workloads.lambda_invoke import _create, _role

FUNCTION = "bench-url-echo"
SOURCE = "import json\n\ndef handler(event, context):\n    return {'hello': json.loads(event['body'])['n']}\n"
_urls: dict[str, str] = {}


def url_op(endpoint: str, index: int) -> Operation:
    url = _urls.get(endpoint) or str(client("lambda", endpoint).get_function_url_config(
        FunctionName=FUNCTION)["FunctionUrl"])
    return hello_post_op(KeptAliveHttp(endpoint, urlsplit(url).netloc.encode()), b"/", "function URL")


def measure_lambda_url(endpoint: str, options: Options) -> Measured:
    lam = client("lambda", endpoint)
    _create(lam, FUNCTION, _role(endpoint), SOURCE)
    url = str(lam.create_function_url_config(FunctionName=FUNCTION, AuthType="NONE")["FunctionUrl"])
    # The two statements AWS requires of function URLs made since October 2025.
    lam.add_permission(FunctionName=FUNCTION, StatementId=f"url-{int(time.time())}", Action="lambda:InvokeFunctionUrl",
                       Principal="*", FunctionUrlAuthType="NONE")
    lam.add_permission(FunctionName=FUNCTION, StatementId=f"invoke-{int(time.time())}", Action="lambda:InvokeFunction",
                       Principal="*", InvokedViaFunctionUrl=True)
    _urls[endpoint] = url
    url_op(endpoint, 0)()  # the first request starts the sandbox
    return measure_warm(url_op, endpoint, options, "warm function URL",
                        f"function URL {url}; raw HTTP/1.1, one kept-alive socket per client process")


WORKLOAD = EndpointWorkload(
    name="lambda-url",
    title="Lambda function URL requests over plain HTTP",
    method=(
        "A python3.11 function with a function URL (AuthType NONE) answers raw HTTP/1.1 POSTs to the URL's host "
        "on kept-alive sockets, from the payload 2.0 event's body: p50/p99 with one client, then requests/s with "
        f"{THROUGHPUT_CLIENTS} (or --clients, if more) client processes."
    ),
    run=measure_lambda_url,
    targets=(Target("warm function URL p50", 1.0),),
)
