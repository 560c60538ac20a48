"""sts: STS GetCallerIdentity round trips from N boto3 client processes (the cheapest signed call)."""

from __future__ import annotations

from bench.clients import client
from bench.load import Operation
from bench.workloads.base import EndpointWorkload, request_load


class WrongAnswer(Exception):
    """The server answered 200 but not with what the operation must return."""


def get_caller_identity_op(endpoint: str, index: int) -> Operation:
    sts = client("sts", endpoint)

    def get_caller_identity() -> None:
        answer = sts.get_caller_identity()
        if not answer.get("Account") or not answer.get("Arn"):
            raise WrongAnswer(f"GetCallerIdentity without Account/Arn: {answer}")

    return get_caller_identity


WORKLOAD = EndpointWorkload(
    name="sts",
    title="STS GetCallerIdentity",
    method=(
        "N client processes, each with its own boto3 STS client (keep-alive connection, retries "
        "off), call GetCallerIdentity back to back for the measured window after a warm-up; "
        "throughput is successful calls per second summed over clients, latencies are per call. "
        "Server CPU per call is the server process tree's user+system CPU time (from /proc) over "
        "the whole workload divided by every call it served: on a small machine the clients can "
        "use more CPU than the server, and this number is the one they do not distort."
    ),
    run=request_load(get_caller_identity_op),
)
