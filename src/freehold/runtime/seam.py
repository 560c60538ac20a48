"""The execution seam's types: what a function version needs to run (FunctionSpec), one
invocation of it (Invocation), and what came back (InvocationResult).

Providers build these; `Executor.invoke(invocation) -> InvocationResult` runs them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from freehold.runtime.response_stream import ResponseStream


@dataclass(frozen=True)
class FunctionSpec:
    """Everything a sandbox of one function version needs; `key` names its warm pool."""

    key: str  # changes whenever code or configuration change: new sandboxes then
    account_id: str
    region: str
    name: str
    version: str
    runtime: str
    handler: str
    code_dir: Path
    memory_mb: int
    timeout_s: int
    ephemeral_mb: int
    environment: dict[str, str]
    log_group: str
    owner: tuple[int, int] | None  # uid/gid of the sandbox when freehold runs as root
    reserved_concurrency: int | None = None
    opt_dir: Path | None = None  # the function's layers merged in order: the sandbox's /opt
    initialization_type: str = "on-demand"  # or "provisioned-concurrency" (WarmPool.provision)


@dataclass(frozen=True)
class Invocation:
    spec: FunctionSpec
    request_id: str
    payload: bytes
    invoked_arn: str
    trace_id: str
    client_context: str | None = None  # JSON text (decoded from the X-Amz-Client-Context base64)
    cognito_identity: str | None = None
    stream: ResponseStream | None = None  # where a streamed response goes (response streaming)


Status = Literal["ok", "error"]


@dataclass
class InvocationResult:
    """The function's answer: its payload, or an error document when status is 'error'.

    `log` is the invocation's log text as CloudWatch Logs gets it (init output, START,
    function output, END, REPORT); `stream` the log stream of the sandbox that ran it."""

    status: Status
    payload: bytes
    log: str = ""
    stream: str = ""
    duration_ms: float = 0.0
    init_duration_ms: float | None = None
    max_memory_mb: int = 0
    error_type: str = ""
    log_events: list[tuple[int, str]] = field(default_factory=list)


class Throttled(Exception):
    """No sandbox may take the invocation: the function or the account is at its limit."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
