"""Finding the REST operation a request calls, from its method, path and query string.

Each operation's `requestUri` is a template: `/{Bucket}/{Key+}?uploads`,
`/2015-03-31/functions/{FunctionName}/invocations`, `/{Bucket}?list-type=2`. Labels match
one path segment, greedy labels (`{Key+}`) the rest of the path; literal query parts must be
present (with their value when one is given). When several operations match, the most
specific wins: more literal query parts, then required header/query members present, then
more of the operation's query-string members present (ListDirectoryBuckets'
`max-directory-buckets` vs ListBuckets' `max-buckets`), then more literal path characters,
then fewer greedy labels, then the operation that is not
deprecated (S3's GetBucketLifecycle and GetBucketLifecycleConfiguration share one request
line; S3 serves the current one). That is how S3 tells CopyObject
(PUT with `x-amz-copy-source`) from PutObject, and ListObjectsV2 (`?list-type=2`) from
ListObjects.

`x-id` is a hint botocore adds to some S3 URIs (`?x-id=GetObject`); other SDKs leave it
out, so it never makes a route fail to match, it only breaks ties when present.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import unquote

from botocore.model import OperationModel, ServiceModel

from freehold.protocol.errors import ServiceError
from freehold.protocol.http import HttpRequest

LABEL_RE = re.compile(r"\{([^}]+)\}")
HINT_KEYS = frozenset({"x-id"})


def invalid_uri() -> ServiceError:
    """A path label whose percent-encoded bytes are not UTF-8, answered as S3 answers it."""
    return ServiceError("InvalidURI", "Couldn't parse the specified URI.", 400)


@dataclass(frozen=True)
class Route:
    """One operation's request line, compiled."""

    operation: OperationModel
    method: str
    pattern: re.Pattern[str]
    labels: dict[str, str]  # regex group -> label name (without '+')
    query: tuple[tuple[str, str | None], ...]  # literal query parts: key, required value
    hints: tuple[tuple[str, str], ...]  # x-id style hints
    literal_length: int
    greedy: int
    required_located: tuple[tuple[str, str], ...] = field(default=())  # (location, wire name)
    optional_query: frozenset[str] = field(default=frozenset())  # other query member names

    def match(self, path: str, query: dict[str, str]) -> dict[str, str] | None:
        # The query checks are dict lookups: cheaper than the regex, and they rule out most
        # of S3's routes (`?acl`, `?tagging`, ...) at once.
        for key, value in self.query:
            if key not in query or (value is not None and query[key] != value):
                return None
        for key, value in self.hints:
            if key in query and query[key] != value:
                return None
        found = self.pattern.match(path)
        if found is None:
            return None
        try:
            # Strictly: percent-encoded bytes that are not UTF-8 would otherwise be replaced by
            # U+FFFD, and two different S3 keys would name one object.
            return {self.labels[group]: unquote(text, errors="strict") for group, text in found.groupdict().items()}
        except UnicodeDecodeError:
            raise invalid_uri() from None

    def score(self, request: HttpRequest, query: dict[str, str]) -> tuple[int, ...]:
        present = 0
        for location, name in self.required_located:
            if (location == "header" and name in request.headers) or (location == "querystring" and name in query):
                present += 1
        all_present = int(present == len(self.required_located))
        hint_hits = sum(1 for key, value in self.hints if query.get(key) == value)
        optional = sum(1 for key in query if key in self.optional_query)
        current = 0 if self.operation.deprecated else 1
        return (
            len(self.query), all_present, present, hint_hits, optional, self.literal_length, -self.greedy, current
        )


def compile_route(operation: OperationModel) -> Route:
    http = operation.http
    method = str(http.get("method", "POST")).upper()
    template = str(http.get("requestUri", "/"))
    path_template, _, query_template = template.partition("?")
    labels: dict[str, str] = {}
    parts: list[str] = []
    position = 0
    greedy = 0
    literal = 0
    for index, found in enumerate(LABEL_RE.finditer(path_template)):
        text = path_template[position : found.start()]
        literal += len(text)
        parts.append(re.escape(text))
        name = found.group(1)
        group = f"g{index}"
        if name.endswith("+"):
            greedy += 1
            labels[group] = name[:-1]
            parts.append(f"(?P<{group}>.+)")
        else:
            labels[group] = name
            parts.append(f"(?P<{group}>[^/]+)")
        position = found.end()
    tail = path_template[position:]
    literal += len(tail)
    parts.append(re.escape(tail))
    regex = "".join(parts)
    if not greedy and not regex.endswith("/"):
        regex += "/?"  # clients differ on a trailing slash after the last segment
    query: list[tuple[str, str | None]] = []
    hints: list[tuple[str, str]] = []
    for piece in filter(None, query_template.split("&")):
        key, sep, value = piece.partition("=")
        if key in HINT_KEYS:
            hints.append((key, value))
        else:
            query.append((key, value if sep else None))
    return Route(
        operation=operation,
        method=method,
        pattern=re.compile(f"^{regex}$", re.DOTALL),
        labels=labels,
        query=tuple(query),
        hints=tuple(hints),
        literal_length=literal,
        greedy=greedy,
        required_located=_required_located(operation),
        optional_query=_query_names(operation),
    )


def _required_located(operation: OperationModel) -> tuple[tuple[str, str], ...]:
    shape = operation.input_shape
    if shape is None:
        return ()
    found = []
    for name in shape.required_members:
        member = shape.members[name]
        location = member.serialization.get("location")
        if location in ("header", "querystring") and member.type_name != "map":
            found.append((str(location), str(member.serialization.get("name", name))))
    return tuple(found)


def _query_names(operation: OperationModel) -> frozenset[str]:
    shape = operation.input_shape
    if shape is None:
        return frozenset()
    return frozenset(
        str(member.serialization.get("name", name))
        for name, member in shape.members.items()
        if member.serialization.get("location") == "querystring" and member.type_name != "map"
    )


FOUND_MEMO = 4096  # request lines whose route is remembered (emptied when full)
# ... when path and query are no longer than this: a request line may be ~64 KB, and 4096 of
# those (each kept twice: the line and its decoded labels) held hundreds of MB.
FOUND_KEY_MAX = 1024


class RouteTable:
    """All routes of one service, by HTTP method."""

    def __init__(self, service_model: ServiceModel) -> None:
        self.by_method: dict[str, list[Route]] = {}
        self._found: dict[tuple[str, str, str], tuple[Route, dict[str, str]]] = {}
        for name in service_model.operation_names:
            route = compile_route(service_model.operation_model(name))
            self.by_method.setdefault(route.method, []).append(route)

    def remembered(self, request: HttpRequest) -> tuple[Route, dict[str, str]] | None:
        """What `find` answered for this request line when it was its only route, else None."""
        known = self._found.get((request.method, request.path, request.query_string))
        return None if known is None else (known[0], dict(known[1]))

    def find(self, request: HttpRequest) -> tuple[Route, dict[str, str]] | None:
        """The best route for the request and its decoded labels, or None."""
        known = self.remembered(request)
        if known is not None:
            return known
        key = (request.method, request.path, request.query_string)
        query = request.query()
        best: tuple[tuple[int, ...], Route, dict[str, str]] | None = None
        matched = 0
        for route in self.by_method.get(request.method.upper(), ()):
            labels = route.match(request.path, query)
            if labels is None:
                continue
            matched += 1
            score = route.score(request, query)
            if best is None or score > best[0]:
                best = (score, route, labels)
        if best is None:
            return None
        if matched == 1 and len(request.path) + len(request.query_string) <= FOUND_KEY_MAX:
            # One route for this request line, whatever its headers: kept for the next request
            # with the same line (warm calls repeat theirs). Ties scored by headers are not.
            if len(self._found) >= FOUND_MEMO:
                self._found.clear()
            self._found[key] = (best[1], dict(best[2]))
        return best[1], best[2]

    def path_known(self, request: HttpRequest) -> bool:
        """Whether some operation (of any method) serves this path."""
        query = request.query()
        return any(
            route.match(request.path, query) is not None for routes in self.by_method.values() for route in routes
        )
