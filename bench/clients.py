"""boto3 clients configured the same way for every peer: loopback endpoint, fixed keys, no retries.

Retries are off so that an error is counted as an error instead of hiding inside a slower
successful call.
"""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config

from bench.probe import ACCESS_KEY, REGION, SECRET_KEY

CLIENT_CONFIG = Config(
    retries={"total_max_attempts": 1, "mode": "standard"},
    connect_timeout=5,
    read_timeout=30,
    max_pool_connections=4,
)


def client(service: str, endpoint: str) -> Any:
    """A boto3 client for `service` that talks to `endpoint` (boto3's client types are dynamic)."""
    session = boto3.session.Session(
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        region_name=REGION,
    )
    return session.client(service, endpoint_url=endpoint, config=CLIENT_CONFIG)
