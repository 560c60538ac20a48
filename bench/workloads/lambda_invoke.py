"""lambda-invoke: Lambda cold starts (a hello handler, and one that makes a boto3 client at
init), then warm invokes from N boto3 client processes.

moto_server cannot run functions without Docker, so its invokes fail and it is reported as
such; MiniStack runs them its own way and is measured where it can.
"""

from __future__ import annotations

import io
import json
import time
import zipfile

from bench.clients import client
from bench.load import LoadOptions, Operation, drive
from bench.measure import Metric, percentile
from bench.workloads.base import EndpointWorkload, Measured, Options, Target

WARM_FUNCTION = "bench-warm-echo"
TRUST = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
HELLO = "def handler(event, context):\n    return {'hello': event.get('n')}\n"
WITH_BOTO3 = "import boto3\ns3 = boto3.client('s3')\n" + HELLO


class WrongAnswer(Exception):
    pass


def _zip(source: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", source)
    return buffer.getvalue()


def _role(endpoint: str) -> str:
    iam = client("iam", endpoint)
    name = f"bench-lambda-{int(time.time() * 1000)}"
    return str(iam.create_role(RoleName=name, AssumeRolePolicyDocument=TRUST)["Role"]["Arn"])


def _create(lam: object, name: str, role: str, source: str) -> None:
    lam.create_function(  # type: ignore[attr-defined]
        FunctionName=name, Runtime="python3.11", Role=role, Handler="app.handler", Code={"ZipFile": _zip(source)})
    lam.get_waiter("function_active_v2").wait(  # type: ignore[attr-defined]
        FunctionName=name, WaiterConfig={"Delay": 0.2, "MaxAttempts": 150})


def _invoke(lam: object, name: str, n: int) -> None:
    answer = lam.invoke(FunctionName=name, Payload=json.dumps({"n": n}).encode())  # type: ignore[attr-defined]
    body = json.loads(answer["Payload"].read())
    if answer.get("FunctionError") or body != {"hello": n}:
        raise WrongAnswer(f"invoke answered {answer.get('FunctionError')}: {body}")


def _cold_starts(endpoint: str, role: str, source: str, runs: int, label: str) -> list[Metric]:
    lam = client("lambda", endpoint)
    times: list[float] = []
    for run in range(runs):
        name = f"bench-cold-{label}-{run}-{int(time.time() * 1000) % 100000}"
        _create(lam, name, role, source)
        started = time.perf_counter()
        _invoke(lam, name, run)
        times.append((time.perf_counter() - started) * 1000)
        lam.delete_function(FunctionName=name)
    times.sort()
    return [Metric(f"cold start {label} p50", percentile(times, 0.5), "ms", "lower"),
            Metric(f"cold start {label} p99", percentile(times, 0.99), "ms", "lower")]


def warm_invoke_op(endpoint: str, index: int) -> Operation:
    lam = client("lambda", endpoint)
    counter = iter(range(10**9))

    def invoke() -> None:
        _invoke(lam, WARM_FUNCTION, next(counter))

    return invoke


def measure_lambda(endpoint: str, options: Options) -> Measured:
    role = _role(endpoint)
    runs = 5 if options.duration <= 1.5 else 20
    metrics = _cold_starts(endpoint, role, HELLO, runs, "hello")
    skipped: list[str] = []
    try:
        metrics += _cold_starts(endpoint, role, WITH_BOTO3, runs, "boto3-at-init")
    except WrongAnswer as error:  # a peer whose functions cannot import boto3
        skipped.append(f"cold start boto3-at-init not measured: {error}")
    lam = client("lambda", endpoint)
    _create(lam, WARM_FUNCTION, role, HELLO)
    _invoke(lam, WARM_FUNCTION, 0)
    result = drive(warm_invoke_op, endpoint,
                   LoadOptions(clients=options.clients, duration=options.duration, warmup=options.warmup))
    renamed = [Metric(f"warm invoke {m.name}", m.value, m.unit, m.better) for m in result.metrics]
    notes = [*result.notes, *skipped, f"cold starts: {runs} fresh functions each, first invoke timed end to end through boto3"]
    return Measured(metrics + renamed, notes, calls=result.calls + 2 * runs)


WORKLOAD = EndpointWorkload(
    name="lambda-invoke",
    title="Lambda cold starts and warm invokes",
    method=(
        "Cold start: a fresh python3.11 function is created (waiting until Active) and its first Invoke "
        "timed end to end through boto3, for a hello handler and for one that creates a boto3 S3 client at "
        "init. Warm: N client processes invoke one function back to back (RequestResponse) for the window."
    ),
    run=measure_lambda,
    targets=(Target("cold start hello p50", 10.0), Target("cold start boto3-at-init p50", 15.0)),
)
