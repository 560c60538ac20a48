"""The registry: providers with background work are started when a node opens."""

from __future__ import annotations

from freehold.config import Settings
from freehold.services.base import ServiceRuntime
from freehold.services.registry import RESUMED_AT_START, Services
from freehold.state.blobs import BlobStore
from freehold.state.database import open_database


def test_resume_background_starts_the_listed_providers(tmp_path: object) -> None:
    from pathlib import Path

    settings = Settings(data_dir=Path(str(tmp_path)))
    db = open_database(settings)
    services = Services(ServiceRuntime(settings, db, BlobStore(settings.data_dir / "blobs")))
    try:
        assert "sns" in RESUMED_AT_START
        assert services.state("sns") == "available"
        services.resume_background().join(30)
        assert services.state("sns") == "running"
        assert services.state("sts") == "available"  # the others stay lazy
    finally:
        services.stop()
        db.close()


def test_async_provider_methods_can_be_called_in_process_from_threads(tmp_path: object) -> None:
    import threading
    from pathlib import Path
    from typing import Any

    import pytest

    from freehold.gateway.context import Principal, RequestContext
    from freehold.protocol.errors import ServiceError
    from freehold.protocol.http import HttpRequest
    from freehold.services.base import Provider

    class AsyncSts(Provider):
        service = "sts"

        async def get_caller_identity(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
            import asyncio

            from freehold.services.registry import on_transient_loop

            await asyncio.sleep(0)
            # The loop of an in-process call from a thread closes when the call returns: the
            # provider is told so (Lambda must not bind its warm pool to it).
            return {"Account": ctx.account_id, "Arn": "arn", "UserId": str(on_transient_loop())}

    settings = Settings(data_dir=Path(str(tmp_path)))
    db = open_database(settings)
    runtime = ServiceRuntime(settings, db, BlobStore(settings.data_dir / "blobs"))
    services = Services(runtime)
    services._providers["sts"] = AsyncSts(runtime)
    ctx = RequestContext(request=HttpRequest("POST", "/"), request_id="r", account_id="123456789012",
                         principal=Principal.root("123456789012"))
    answers: list[Any] = []
    worker = threading.Thread(target=lambda: answers.append(services.call("sts", ctx, "GetCallerIdentity", {})))
    worker.start()
    worker.join(10)
    assert answers == [{"Account": "123456789012", "Arn": "arn", "UserId": "True"}]

    async def from_a_loop() -> None:
        with pytest.raises(ServiceError) as info:
            services.call("sts", ctx, "GetCallerIdentity", {})
        assert info.value.code == "InternalFailure"

    import asyncio

    asyncio.run(from_a_loop())
    from freehold.services.registry import on_transient_loop

    async def on_an_ordinary_loop() -> bool:
        return on_transient_loop()

    assert asyncio.run(on_an_ordinary_loop()) is False
    db.close()
