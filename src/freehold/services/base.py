"""The provider contract: how a service package plugs into the gateway.

A provider is a class with one method per AWS operation it implements, named like the
operation in snake_case, taking the request context and the parsed parameters and returning
the output parameters as a dict shaped like the operation's output shape:

    class StsProvider(Provider):
        service = "sts"

        def get_caller_identity(self, ctx: RequestContext, params: Params) -> Params:
            return {"Account": ctx.account_id, "Arn": ctx.principal.arn, ...}

Errors are raised as `freehold.protocol.errors.ServiceError`. A method may be `async def`;
plain methods run in a worker thread (they may do blocking SQL), unless decorated `@inline`
because they do no I/O at all, or `@short_sql` because they run a few short statements (see
there). An operation with no method answers 501 NotImplemented.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

if TYPE_CHECKING:
    from freehold.config import Settings
    from freehold.gateway.context import RequestContext
    from freehold.services.registry import Services
    from freehold.state.blobs import BlobStore
    from freehold.state.database import Database

Params = dict[str, Any]
F = TypeVar("F", bound=Callable[..., Any])


def inline(method: F) -> F:
    """Mark a provider method as free of blocking I/O: it runs on the event loop."""
    method.__freehold_inline__ = True  # type: ignore[attr-defined]
    return method


def short_sql(method: F) -> F:
    """Mark a provider method whose work is a few short SQL statements in at most one write
    transaction (single-item reads and writes): where the database allows it (SQLite in
    `process` durability) it runs on the event loop, saving the hand-over to a worker thread
    and back, as long as the write lock is free; if it is taken, the transaction raises before
    its first statement and the method runs again in a worker thread. So such a method must do
    nothing before its write transaction that cannot be done twice."""
    method.__freehold_short_sql__ = True  # type: ignore[attr-defined]
    return method


@dataclass
class ServiceRuntime:
    """What every provider is given: settings, the SQL database, the blob store, and the
    node's services (set by `Services`), through which providers call each other."""

    settings: "Settings"
    db: "Database"
    blobs: "BlobStore"
    services: "Services | None" = None


class Provider:
    """Base class of service providers. Subclasses set `service` to the botocore name."""

    service: ClassVar[str] = ""
    # Operations implemented only in part: operation name -> what is missing. Shown in
    # docs/compatibility.md, which is generated from the providers.
    partial: ClassVar[dict[str, str]] = {}

    def __init__(self, runtime: ServiceRuntime) -> None:
        self.runtime = runtime
        self.db = runtime.db
        self.blobs = runtime.blobs
        self.settings = runtime.settings

    def call(self, service: str, ctx: "RequestContext", operation: str, params: Params) -> Params:
        """Call another service's operation in process, the way a client would: through its
        provider method, with its input validated; errors arrive as ServiceError.
        (Services meet only through their APIs, never through each other's tables.)"""
        services = self.runtime.services
        if services is None:
            raise RuntimeError("provider is not attached to a node's services")
        return services.call(service, ctx, operation, params)

    def start(self) -> None:
        """Called once after construction: apply migrations, start background workers."""

    def stop(self) -> None:
        """Called at shutdown: stop background workers."""

    def reset(self) -> None:
        """Called after all rows and blobs were deleted: drop any in-memory caches."""
