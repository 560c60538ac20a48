"""What every protocol parser shares: the RequestParser contract and scalar conversions.

A parser turns an `HttpRequest` into the botocore `OperationModel` it calls and the params
dict a boto3 user passed (the inverse of botocore/serialize.py). Conversions of wire text to
Python values (timestamps, numbers, booleans, base64) live here so that every protocol reads
them the same way, and so that a bad value becomes a `ServiceError`, never an exception.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import email.utils
import math
import re
from typing import Any

from botocore.model import OperationModel, ServiceModel, Shape

from freehold.protocol.errors import ServiceError
from freehold.protocol.http import HttpRequest

UTC = dt.UTC
EPOCH = dt.datetime(1970, 1, 1, tzinfo=UTC)


class RequestParser:
    """Identifies and parses the requests of one service in one wire protocol."""

    protocol: str = ""

    def __init__(self, service_model: ServiceModel) -> None:
        self.service_model = service_model
        self.service = service_model.service_name

    def operation(self, request: HttpRequest) -> OperationModel:
        raise NotImplementedError

    def parse(self, request: HttpRequest, operation: OperationModel) -> dict[str, Any]:
        raise NotImplementedError

    # Helpers shared by the protocols ---------------------------------------------------

    def operation_named(self, name: str) -> OperationModel | None:
        if name in self.service_model.operation_names:
            return self.service_model.operation_model(name)
        return None

    def bad_value(self, what: str, value: Any, expected: str) -> ServiceError:
        """A wire value that cannot be read as its modelled type."""
        from freehold.protocol.validation import type_error

        return type_error(self.service, what, value, expected)


# Scalars ---------------------------------------------------------------------------------

TRUE_FALSE = {"true": True, "false": False}


def parse_boolean(text: str) -> bool | None:
    return TRUE_FALSE.get(text.strip().lower())


INTEGER_RE = re.compile(r"[+-]?[0-9]+")


def parse_integer(text: str) -> int | None:
    text = text.strip()
    return int(text) if INTEGER_RE.fullmatch(text) else None


def parse_float(text: str) -> float | None:
    # botocore writes the special values as Infinity / -Infinity / NaN.
    try:
        value = float(text.strip())
    except ValueError:
        return None
    return value


def parse_base64(text: str | bytes) -> bytes | None:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        # Tolerate whitespace and missing padding, as AWS does.
        try:
            raw = text.encode() if isinstance(text, str) else text
            raw = b"".join(raw.split())
            return base64.b64decode(raw + b"=" * (-len(raw) % 4), validate=True)
        except (binascii.Error, ValueError):
            return None


def epoch_to_datetime(value: float) -> dt.datetime | None:
    if math.isnan(value) or math.isinf(value):
        return None
    try:
        return EPOCH + dt.timedelta(seconds=value)
    except OverflowError:
        return None


def parse_timestamp(text: str, fmt: str | None = None) -> dt.datetime | None:
    """A timestamp in any of the wire formats; `fmt` (the model's) is tried first.

    AWS services accept iso8601 (with or without fraction and offset), RFC 822 dates
    (`Thu, 01 Jan 2004 00:00:00 GMT`) and epoch seconds wherever a timestamp goes, so the
    parser does too; the model's format only decides which is tried first.
    """
    text = text.strip()
    if not text:
        return None
    order = ["iso8601", "unixtimestamp", "rfc822"]
    if fmt and fmt.lower() in order:
        order.remove(fmt.lower())
        order.insert(0, fmt.lower())
    for name in order:
        result = _TIMESTAMP_READERS[name](text)
        if result is not None:
            return result
    return None


def _read_iso8601(text: str) -> dt.datetime | None:
    candidate = text
    if candidate.endswith(("Z", "z")):
        candidate = candidate[:-1] + "+00:00"
    try:
        value = dt.datetime.fromisoformat(candidate)
    except ValueError:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def _read_unix(text: str) -> dt.datetime | None:
    number = parse_float(text)
    if number is None:
        return None
    return epoch_to_datetime(number)


def _read_rfc822(text: str) -> dt.datetime | None:
    try:
        value = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


_TIMESTAMP_READERS = {"iso8601": _read_iso8601, "unixtimestamp": _read_unix, "rfc822": _read_rfc822}


def text_scalar(parser: RequestParser, shape: Shape, text: str, what: str, default_ts: str | None) -> Any:
    """A scalar member written as text (query, XML, header, URI, query string)."""
    kind = shape.type_name
    if kind in ("string", "character"):
        return text
    if kind in ("integer", "long", "short", "byte"):
        number = parse_integer(text)
        if number is None:
            raise parser.bad_value(what, text, "number")
        return number
    if kind in ("float", "double"):
        real = parse_float(text)
        if real is None:
            raise parser.bad_value(what, text, "number")
        return real
    if kind == "boolean":
        flag = parse_boolean(text)
        if flag is None:
            raise parser.bad_value(what, text, "boolean")
        return flag
    if kind == "blob":
        blob = parse_base64(text)
        if blob is None:
            raise parser.bad_value(what, text, "base64-encoded binary data")
        return blob
    if kind == "timestamp":
        stamp = parse_timestamp(text, shape.serialization.get("timestampFormat") or default_ts)
        if stamp is None:
            raise parser.bad_value(what, text, "timestamp")
        return stamp
    raise parser.bad_value(what, text, kind)


def lower_camel(name: str) -> str:
    """Member names as AWS writes them in validation messages: `UserName` -> `userName`."""
    return name[:1].lower() + name[1:] if name else name
