"""iam-writes: IAM CreateUser from N boto3 client processes - the durable write path.

Each call is a committed SQL transaction in freehold; beside `freehold` (survives kill -9)
and `freehold-fsync` (survives power loss, with group commit) it shows what durability
costs. moto and MiniStack keep IAM in memory: their numbers are the no-durability baseline.
"""

from __future__ import annotations

import itertools
import os

from bench.clients import client
from bench.load import LoadOptions, Operation, drive
from bench.workloads.base import EndpointWorkload, Measured, Options


def create_user_op(endpoint: str, index: int) -> Operation:
    iam = client("iam", endpoint)
    names = (f"bench-{os.getpid()}-{index}-{n}" for n in itertools.count())

    def create_user() -> None:
        iam.create_user(UserName=next(names))

    return create_user


def measure_iam_writes(endpoint: str, options: Options) -> Measured:
    result = drive(
        create_user_op,
        endpoint,
        LoadOptions(clients=options.clients, duration=options.duration, warmup=options.warmup),
    )
    return Measured(result.metrics, result.notes, calls=result.calls)


WORKLOAD = EndpointWorkload(
    name="iam-writes",
    title="IAM CreateUser (durable writes)",
    method=(
        "N client processes, each with its own boto3 IAM client, create users with unique names "
        "back to back for the measured window after a warm-up. In freehold every call commits a "
        "SQL transaction before it is answered: `freehold` survives kill -9, `freehold-fsync` "
        "also power loss (group commit). moto and MiniStack hold IAM in memory."
    ),
    run=measure_iam_writes,
)
