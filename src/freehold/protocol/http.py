"""The HTTP request and response values that the protocol layer reads and writes.

They are plain data, independent of ASGI, so that parsers and serializers can be tested
without a server and the gateway can adapt them to whatever serves them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import dataclass, field
from urllib.parse import parse_qsl


class Headers:
    """Case-insensitive, order-preserving, multi-valued HTTP headers.

    Lookups go through a lower-cased name -> first value index, built at the first lookup
    and dropped by any change (a request's headers are read a dozen times, changed rarely)."""

    __slots__ = ("_items", "_index")

    def __init__(self, items: Iterable[tuple[str, str]] | dict[str, str] | None = None) -> None:
        if items is None:
            self._items: list[tuple[str, str]] = []
        elif isinstance(items, dict):
            self._items = list(items.items())
        else:
            self._items = list(items)
        self._index: dict[str, str] | None = None

    @classmethod
    def lowercase(cls, items: list[tuple[str, str]]) -> Headers:
        """Headers whose names are already lower-case (as ASGI servers give them): the index is
        built at once, without lower-casing every name again."""
        headers = cls(items)
        index: dict[str, str] = {}
        for key, value in items:
            if key not in index:
                index[key] = value
        headers._index = index
        return headers

    def _lookup(self) -> dict[str, str]:
        index = self._index
        if index is None:
            index = {}
            for key, value in self._items:
                index.setdefault(key.lower(), value)
            self._index = index
        return index

    def get(self, name: str, default: str | None = None) -> str | None:
        return self._lookup().get(name.lower(), default)

    def get_all(self, name: str) -> list[str]:
        lname = name.lower()
        return [value for key, value in self._items if key.lower() == lname]

    def __getitem__(self, name: str) -> str:
        value = self.get(name)
        if value is None:
            raise KeyError(name)
        return value

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._lookup()

    def set(self, name: str, value: str) -> None:
        lname = name.lower()
        index = self._lookup()
        if lname in index:
            self.remove(name)
            self._items.append((name, value))
            return
        self._items.append((name, value))  # a new name (the usual case): the index stays valid
        index[lname] = value

    def add(self, name: str, value: str) -> None:
        self._items.append((name, value))
        self._index = None

    def remove(self, name: str) -> None:
        lname = name.lower()
        self._items = [(k, v) for k, v in self._items if k.lower() != lname]
        self._index = None

    def items(self) -> list[tuple[str, str]]:
        return list(self._items)

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"Headers({self._items!r})"


@dataclass
class HttpRequest:
    """One HTTP request as received.

    `path` is the raw, still percent-encoded path without the query string;
    `query_string` is the raw query string without the leading `?`.

    `stream` is the body not yet read, as it arrives (an async iterator of chunks, read once).
    The gateway reads it into `body` for every operation except those whose input payload is a
    streaming blob (S3 PutObject, UploadPart): for those `stream` stays set, `body` stays
    empty, and the parser hands the stream to the provider as the payload member, so that
    memory does not grow with the size of the upload. Once read, `stream` is None.
    """

    method: str
    path: str
    query_string: str = ""
    headers: Headers = field(default_factory=Headers)
    body: bytes = b""
    stream: AsyncIterator[bytes] | None = None

    @property
    def host(self) -> str:
        return self.headers.get("host", "") or ""

    def query_items(self) -> list[tuple[str, str]]:
        """Decoded query parameters in order; a key without `=` has the value ''."""
        return parse_qsl(self.query_string, keep_blank_values=True)

    def query(self) -> dict[str, str]:
        """Decoded query parameters; the first value wins for a repeated key."""
        result: dict[str, str] = {}
        for key, value in self.query_items():
            result.setdefault(key, value)
        return result


Body = bytes | AsyncIterator[bytes]

# A key a provider's output dict may carry for what the model cannot say: the HTTP status
# (S3 answers a Range GET with 206, which no output member models). The pipeline applies and
# removes it before serializing.
OUTPUT_STATUS = "@status"


@dataclass
class HttpResponse:
    """One HTTP response to send. `body` is bytes, or an async iterator for streamed bodies."""

    status: int = 200
    headers: Headers = field(default_factory=Headers)
    body: Body = b""
