"""iam-writes: IAM CreateUser from N boto3 client processes - the durable write path.

Each call is a committed SQL transaction in freehold; beside `freehold` (survives kill -9)
and `freehold-fsync` (survives power loss, with group commit) it shows what durability
costs. moto and MiniStack keep IAM in memory: their numbers are the no-durability baseline.
"""

from __future__ import annotations

import itertools
import os

from bench.clients import client
from bench.load import Operation
from bench.workloads.base import EndpointWorkload, request_load


def create_user_op(endpoint: str, index: int) -> Operation:
    iam = client("iam", endpoint)
    names = (f"bench-{os.getpid()}-{index}-{n}" for n in itertools.count())

    def create_user() -> None:
        iam.create_user(UserName=next(names))

    return create_user


WORKLOAD = EndpointWorkload(
    name="iam-writes",
    title="IAM CreateUser (durable writes)",
    method=(
        "N client processes, each with its own boto3 IAM client, create users with unique names "
        "back to back for the measured window after a warm-up. In freehold every call commits a "
        "SQL transaction before it is answered: `freehold` survives kill -9, `freehold-fsync` "
        "also power loss (group commit). moto and MiniStack hold IAM in memory."
    ),
    run=request_load(create_user_op),
)
