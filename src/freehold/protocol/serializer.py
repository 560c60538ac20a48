"""Response serialization: the one entry point the gateway uses to answer in any protocol.

`serializer_for("iam").serialize(operation, output, request_id)` writes a result and
`.serialize_error(error, operation, request_id)` an error, each exactly as the service's
protocol defines it; botocore's response parsers are the oracle
(tests/unit/protocol/test_serializer_roundtrip.py). One class per protocol lives in the
serializer_* modules next to this one.

A service answers in the protocol its clients speak: by default the one botocore picks
(`ServiceModel.resolved_protocol`), or the one the gateway detected in the request, for
services that accept several (SQS and CloudWatch also accept query; CloudWatch also CBOR).
"""

from __future__ import annotations

from functools import cache

from freehold.protocol.serializer_base import ResponseSerializer
from freehold.protocol.serializer_json import JsonSerializer, RestJsonSerializer
from freehold.protocol.serializer_rpcv2 import RpcV2CborSerializer
from freehold.protocol.serializer_xml import QuerySerializer, RestXmlSerializer
from freehold.protocol.specs import service_model

__all__ = ["SERIALIZERS", "ResponseSerializer", "serializer_for"]

SERIALIZERS: dict[str, type[ResponseSerializer]] = {
    "query": QuerySerializer,
    "json": JsonSerializer,
    "rest-json": RestJsonSerializer,
    "rest-xml": RestXmlSerializer,
    "smithy-rpc-v2-cbor": RpcV2CborSerializer,
}


@cache
def serializer_for(service: str, protocol: str | None = None) -> ResponseSerializer:
    """The (cached) serializer of a service, in its default protocol or the one named."""
    model = service_model(service)
    chosen = protocol or str(model.resolved_protocol)
    supported = list(model.metadata.get("protocols") or [model.protocol])
    if "awsQueryCompatible" in model.metadata:
        supported.append("query")  # SQS still answers query requests from older SDKs
    if chosen not in supported:
        raise ValueError(f"service {service} does not speak {chosen} (it speaks {', '.join(supported)})")
    try:
        serializer_class = SERIALIZERS[chosen]
    except KeyError:
        raise ValueError(f"no serializer for protocol {chosen}") from None
    return serializer_class(model)
