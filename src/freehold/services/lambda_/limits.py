"""Lambda's quotas, and the exact errors AWS answers when one is exceeded.

https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html
"""

from __future__ import annotations

import json
import re
from typing import Any

from freehold.protocol.errors import ServiceError

ZIP_MAX = 50 * 1024 * 1024  # a .zip uploaded directly through the API
# The API limit is on the request body, where the zip travels base64-encoded (4/3 larger).
REQUEST_MAX = 69905067
UNZIPPED_MAX = 262144000  # 250 MB, code and layers together
ENVIRONMENT_MAX = 4 * 1024
SYNC_PAYLOAD_MAX = 6 * 1024 * 1024
ASYNC_PAYLOAD_MAX = 256 * 1024
RESPONSE_MAX = 6 * 1024 * 1024
TOTAL_CODE_STORAGE = 80530636800  # 75 GB per region
ACCOUNT_CONCURRENCY = 1000
UNRESERVED_MIN = 100
TIMEOUT_MAX = 900
MEMORY_MIN, MEMORY_MAX = 128, 10240
EPHEMERAL_MIN, EPHEMERAL_MAX = 512, 10240
TAIL_BYTES = 4096
# The API model's pattern for a variable name: a letter, then one or more letters, digits, `_`.
ENVIRONMENT_NAME = re.compile(r"[a-zA-Z]([a-zA-Z0-9_])+")


def request_too_large(operation: str, limit: int) -> ServiceError:
    return ServiceError(
        "RequestEntityTooLargeException",
        f"Request must be smaller than {limit} bytes for the {operation} operation", 413,
    )


def check_zip_size(size: int, operation: str) -> None:
    if size > ZIP_MAX:
        raise request_too_large(operation, REQUEST_MAX)


def check_unzipped_size(size: int) -> None:
    if size > UNZIPPED_MAX:
        raise ServiceError(
            "InvalidParameterValueException", f"Unzipped size must be smaller than {UNZIPPED_MAX} bytes"
        )


def check_environment(environment: dict[str, Any] | None) -> None:
    """AWS measures the JSON of the variables map (without spaces) against 4 KB."""
    variables = (environment or {}).get("Variables") or {}
    if any(ENVIRONMENT_NAME.fullmatch(key) is None for key in variables):
        # The map is sensitive: coral's message names neither the bad key nor its value.
        raise ServiceError(
            "ValidationException",
            "1 validation error detected: Value at 'environment.variables' failed to satisfy constraint: "
            "Map keys must satisfy constraint: [Member must satisfy regular expression pattern: "
            "[a-zA-Z]([a-zA-Z0-9_])+]",
        )
    measured = json.dumps(variables, separators=(",", ":"))
    if len(measured.encode()) > ENVIRONMENT_MAX:
        raise ServiceError(
            "InvalidParameterValueException",
            "Lambda was unable to configure your environment variables because the environment "
            "variables you have provided exceeded the 4KB limit. String measured: " + measured,
        )
    for key in variables:
        # Lambda reserves these keys; setting one is refused.
        # https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html#configuration-envvars-runtime
        if key in RESERVED_ENVIRONMENT_KEYS:
            raise ServiceError(
                "InvalidParameterValueException",
                "Lambda was unable to configure your environment variables because the environment "
                f"variables you have provided contains reserved keys that are currently not supported "
                f"for modification. Reserved keys used in this request: {key}",
            )


RESERVED_ENVIRONMENT_KEYS = frozenset({
    "_HANDLER", "_X_AMZN_TRACE_ID", "AWS_DEFAULT_REGION", "AWS_REGION", "AWS_EXECUTION_ENV",
    "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_LAMBDA_INITIALIZATION_TYPE", "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME",
    "AWS_ACCESS_KEY", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
    "AWS_LAMBDA_RUNTIME_API", "LAMBDA_TASK_ROOT", "LAMBDA_RUNTIME_DIR",
})


def check_payload(size: int, asynchronous: bool) -> None:
    limit = ASYNC_PAYLOAD_MAX if asynchronous else SYNC_PAYLOAD_MAX
    if size > limit:
        raise ServiceError(
            "RequestTooLargeException",
            f"Request must be smaller than {limit} bytes for the InvokeFunction operation", 413,
        )


def check_ranges(params: dict[str, Any]) -> None:
    """Timeout, MemorySize and EphemeralStorage, reported by coral like other constraints."""
    problems: list[str] = []
    timeout = params.get("Timeout")
    if timeout is not None and not 1 <= timeout <= TIMEOUT_MAX:
        bound = "greater than or equal to 1" if timeout < 1 else f"less than or equal to {TIMEOUT_MAX}"
        problems.append(f"Value '{timeout}' at 'timeout' failed to satisfy constraint: Member must have value {bound}")
    memory = params.get("MemorySize")
    if memory is not None and not MEMORY_MIN <= memory <= MEMORY_MAX:
        bound = (f"greater than or equal to {MEMORY_MIN}" if memory < MEMORY_MIN
                 else f"less than or equal to {MEMORY_MAX}")
        problems.append(f"Value '{memory}' at 'memorySize' failed to satisfy constraint: Member must have value {bound}")
    storage = (params.get("EphemeralStorage") or {}).get("Size")
    if storage is not None and not EPHEMERAL_MIN <= storage <= EPHEMERAL_MAX:
        bound = (f"greater than or equal to {EPHEMERAL_MIN}" if storage < EPHEMERAL_MIN
                 else f"less than or equal to {EPHEMERAL_MAX}")
        problems.append(
            f"Value '{storage}' at 'ephemeralStorage.size' failed to satisfy constraint: Member must have value {bound}"
        )
    if problems:
        count = len(problems)
        raise ServiceError(
            "ValidationException",
            f"{count} validation error{'s' if count > 1 else ''} detected: " + "; ".join(problems),
        )
