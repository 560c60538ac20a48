"""Which services have providers, and their lazy loading.

Providers are found by convention (`services/<name>/provider.py`). A provider module is
imported and started only when the first request for its service arrives, so the server
starts in a fraction of a second.
Services without a provider still parse and validate requests; every operation answers
501 NotImplemented naming itself.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import keyword
import logging
import threading
from contextvars import ContextVar
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Literal

from freehold.protocol.errors import ServiceError, not_implemented
from freehold.protocol.specs import SERVICES, service_model
from freehold.services.base import Params, Provider, ServiceRuntime

if TYPE_CHECKING:
    from freehold.gateway.context import RequestContext

log = logging.getLogger("freehold")


def provider_module(service: str) -> str:
    """Where a service's provider lives, by convention: services/<name>/provider.py
    (botocore names with '-' use '_': cognito-idp -> services/cognito_idp/; a Python
    keyword gets a trailing '_': lambda -> services/lambda_/)."""
    package = service.replace("-", "_")
    if keyword.iskeyword(package):
        package += "_"
    return f"freehold.services.{package}.provider"


def has_provider(service: str) -> bool:
    """Whether freehold has a provider for the service (without importing it)."""
    import importlib.util

    try:
        return importlib.util.find_spec(provider_module(service)) is not None
    except ModuleNotFoundError:
        return False


def provider_class(service: str) -> type[Provider] | None:
    """The Provider subclass declared in the service's provider module (service == name)."""
    if not has_provider(service):
        return None
    module = importlib.import_module(provider_module(service))
    for value in vars(module).values():
        if isinstance(value, type) and issubclass(value, Provider) and value.service == service:
            return value
    raise LookupError(f"{provider_module(service)} declares no Provider with service = {service!r}")


# True inside the short-lived loop `_complete` runs an in-process call on: a provider must not
# bind long-lived work (Lambda's warm pool) to that loop, which closes when the call returns.
_ON_TRANSIENT_LOOP: ContextVar[bool] = ContextVar("freehold_on_transient_loop", default=False)


def on_transient_loop() -> bool:
    """Whether the running loop is one `_complete` made for a single in-process call."""
    return _ON_TRANSIENT_LOOP.get()


def _complete(awaitable: Any, service: str, operation: str) -> Any:
    """The result of an `async def` provider method called in process from a plain thread (a
    background worker): it runs to completion on a loop of its own. On an event loop's thread
    it cannot be waited for without blocking that loop, so it is refused."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        async def run() -> Any:
            _ON_TRANSIENT_LOOP.set(True)
            return await awaitable

        return asyncio.run(run())
    if inspect.iscoroutine(awaitable):
        awaitable.close()
    raise ServiceError("InternalFailure", f"{service}.{operation} cannot be called in process from an event loop", 500)


ServiceState = Literal["running", "available", "not implemented"]

# Services whose background work is recorded in SQL (deliveries, retries) and must resume as
# soon as a node starts - after a restart or a crash - not only when the first request for the
# service happens to arrive. They are started off the start-up path (see resume_background).
RESUMED_AT_START: tuple[str, ...] = ("sns", "lambda")


class Services:
    """The providers of one node, created on first use and stopped together."""

    def __init__(self, runtime: ServiceRuntime) -> None:
        runtime.services = self
        self.runtime = runtime
        self._providers: dict[str, Provider] = {}
        self._known: dict[str, bool] = {}
        self._lock = threading.RLock()  # a provider's start() may load another

    def get(self, service: str) -> Provider | None:
        """The started provider of a service, or None when freehold has none."""
        provider = self._providers.get(service)
        if provider is not None:
            return provider
        if service not in self._known:
            self._known[service] = has_provider(service)
        if not self._known[service]:
            return None
        with self._lock:
            provider = self._providers.get(service)
            if provider is None:
                cls = provider_class(service)
                assert cls is not None
                provider = cls(self.runtime)
                provider.start()
                self._providers[service] = provider
        return provider

    def call(self, service: str, ctx: RequestContext, operation: str, params: Params) -> Params:
        """One operation of `service`, in process: validated input, the provider's method.

        `ctx` is the caller's context; it is re-aimed at the called service and operation."""
        from botocore import xform_name

        from freehold.protocol.validation import validate

        operation_model = service_model(service).operation_model(operation)
        provider = self.get(service)
        method = getattr(provider, xform_name(operation), None) if provider is not None else None
        if method is None:
            raise not_implemented(service, operation)
        validate(service, operation_model, params)
        inner = replace(ctx, service=service, operation=operation_model, params=params)
        result = method(inner, params)
        if inspect.isawaitable(result):
            result = _complete(result, service, operation)
        if not isinstance(result, dict):
            raise ServiceError("InternalFailure", f"{service}.{operation} cannot be called in process", 500)
        return result

    def resume_background(self, services: tuple[str, ...] = RESUMED_AT_START) -> threading.Thread:
        """Start the providers of `services` in a daemon thread, so that their pending background
        work resumes without delaying the node's start; join the thread before stop()."""

        def start_all() -> None:
            for service in services:
                try:
                    self.get(service)
                except Exception:
                    log.exception("could not start %s to resume its background work", service)

        thread = threading.Thread(target=start_all, name="freehold-resume", daemon=True)
        thread.start()
        return thread

    def state(self, service: str) -> ServiceState:
        if service in self._providers:
            return "running"
        return "available" if has_provider(service) else "not implemented"

    def states(self) -> dict[str, ServiceState]:
        return {service: self.state(service) for service in SERVICES}

    def started(self) -> list[Provider]:
        return list(self._providers.values())

    def stop(self) -> None:
        for provider in self.started():
            provider.stop()
