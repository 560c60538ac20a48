"""Every benchmark workload by the name the command line selects it with, in report order."""

from __future__ import annotations

from bench.workloads import (
    dynamodb,
    iam_writes,
    idle_rss,
    lambda_http,
    lambda_invoke,
    lambda_sqs_trigger,
    lambda_url,
    logs,
    s3,
    sns,
    sqs,
    startup,
    sts,
)
from bench.workloads.base import EndpointWorkload, LifecycleWorkload, Measured, Options, Target, Workload

WORKLOADS: dict[str, Workload] = {
    module.WORKLOAD.name: module.WORKLOAD for module in (
        startup, idle_rss, sts, iam_writes, logs, dynamodb, sqs, sns, lambda_invoke, lambda_http, lambda_url, lambda_sqs_trigger, s3
    )
}

# Longer names a reader might type for the same workloads.
ALIASES = {"sts-get-caller-identity": "sts", "rss": "idle-rss"}

__all__ = [
    "ALIASES",
    "WORKLOADS",
    "EndpointWorkload",
    "LifecycleWorkload",
    "Measured",
    "Options",
    "Target",
    "Workload",
]
