"""Which of freehold's services a request is for, derived from botocore's service models.

AWS gives every service its own endpoint; freehold serves all of them on one. A request names
its service in one of a few ways, tried in this order:

1. `X-Amz-Target: <targetPrefix>.<Operation>` (json protocol services, e.g. DynamoDB_20120810);
2. the SigV4 credential scope's signing name (`.../us-east-1/sts/aws4_request`), told apart by
   the request's protocol shape when several services share it (dynamodb/dynamodbstreams,
   apigateway/apigatewayv2, ses/sesv2);
3. for unsigned requests: S3-only signals (a virtual-host `Host`, a browser POST upload, a
   SigV2 signature), the query `Action` (with `Version`, which names the API), the REST path
   templates, and finally S3, the catch-all like AWS's own endpoint.

The index behind this is built from the 23 models once, then cached as JSON on disk keyed by
the botocore version (and freehold's model patches), so that a fresh process loads it in a few
milliseconds instead of parsing every model. The few real quirks live in `QUIRKS` below.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
import threading
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from freehold.gateway.context import SignatureInfo
from freehold.protocol.http import HttpRequest
from freehold.protocol.specs import SERVICES, botocore_version, raw_service_model

# Bump when the shape of the cached index changes.
INDEX_FORMAT = 1


@dataclass(frozen=True)
class RoutingQuirks:
    """The routing facts that the service models do not state, each with its reason."""

    # Signing names that S3's endpoint rules give single operations instead of 's3':
    # WriteGetObjectResponse signs as 's3-object-lambda', and the directory-bucket (S3 Express
    # One Zone) operations such as ListDirectoryBuckets as 's3express'.
    signing_aliases: dict[str, str] = field(
        default_factory=lambda: {"s3-object-lambda": "s3", "s3express": "s3"}
    )
    # Services that also accept the query protocol although their current model says json:
    # SQS spoke only query until 2023, and older SDKs (Java v1, Go v1, PHP) still send it.
    extra_query_services: tuple[str, ...] = ("sqs",)
    # Who wins an Action that several query services define, when the request has no
    # `Version` to tell them apart (every SDK sends Version; hand-written calls may not).
    # SNS is the service still on the query protocol for permissions and tagging (SQS and
    # CloudWatch moved to JSON); CloudFormation's GetTemplate is far commoner than SES's.
    action_winners: dict[str, str] = field(
        default_factory=lambda: {
            "AddPermission": "sns",
            "RemovePermission": "sns",
            "ListTagsForResource": "sns",
            "TagResource": "sns",
            "UntagResource": "sns",
            "GetTemplate": "cloudformation",
        }
    )


QUIRKS = RoutingQuirks()


@dataclass
class Route:
    """The service a request is for, and the request as that service's parser should see it
    (S3 virtual-host requests are rewritten to path style). Verify signatures against the
    request as received, not against `request` here."""

    service: str
    request: HttpRequest


# --------------------------------------------------------------------------- the index


def _template_pattern(uri: str) -> str:
    """A regex for one requestUri path template: `{Name}` is one segment, `{Name+}` greedy."""
    path = uri.split("?", 1)[0]
    out: list[str] = []
    for piece in re.split(r"(\{[^}]+\})", path):
        if piece.startswith("{") and piece.endswith("}"):
            out.append(".+" if piece.endswith("+}") else "[^/]+")
        elif piece:
            out.append(re.escape(piece))
    pattern = "".join(out)
    # A trailing slash is optional on the wire for most REST services.
    return pattern.rstrip("/") + "/?" if pattern not in ("", "/") else "/?"


def build_index() -> dict[str, Any]:
    """The routing index, from the (patched) botocore models of all served services."""
    services: dict[str, dict[str, Any]] = {}
    actions: dict[str, list[str]] = {}
    templates: dict[str, list[list[str]]] = {}
    for name in SERVICES:
        model = raw_service_model(name)
        meta = model["metadata"]
        protocols = list(meta.get("protocols") or [meta["protocol"]])
        services[name] = {
            "protocols": protocols,
            "signing": meta.get("signingName") or meta["endpointPrefix"],
            "endpoint": meta["endpointPrefix"],
            "target": meta.get("targetPrefix"),
            "version": meta.get("apiVersion"),
        }
        speaks_query = "query" in protocols or name in QUIRKS.extra_query_services
        for op_name, op in model["operations"].items():
            if speaks_query:
                actions.setdefault(op_name, []).append(name)
            if name != "s3" and any(p.startswith("rest-") for p in protocols):
                http = op["http"]
                templates.setdefault(name, []).append([http["method"], _template_pattern(http["requestUri"])])
        if "smithy-rpc-v2-cbor" in protocols and meta.get("targetPrefix"):
            # RPC v2 CBOR: POST /service/<ServiceShape>/operation/<Operation>.
            prefix = re.escape(f"/service/{meta['targetPrefix']}/operation/")
            templates.setdefault(name, []).append(["POST", prefix + "[^/]+"])
    return {"format": INDEX_FORMAT, "services": services, "actions": actions, "templates": templates}


def _patches_digest() -> str:
    digest = hashlib.sha256()
    try:
        folder = resources.files("freehold.protocol").joinpath("patches")
        if folder.is_dir():
            for entry in sorted(folder.iterdir(), key=lambda e: e.name):
                if entry.name.endswith(".json"):
                    digest.update(entry.name.encode() + b"\0" + entry.read_bytes())
    except (OSError, ModuleNotFoundError):
        pass
    return digest.hexdigest()[:16]


def _default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "freehold"


_cache_dir: Path | None = None
_lock = threading.Lock()
_index: _RoutingIndex | None = None


def set_cache_dir(path: str | os.PathLike[str] | None) -> None:
    """Where the index cache lives (the data dir's cache/); None restores the default."""
    global _cache_dir, _index
    with _lock:
        _cache_dir = Path(path) if path is not None else None
        _index = None
        _s3_hosts.clear()
        _templates.clear()


def cache_file() -> Path:
    folder = _cache_dir if _cache_dir is not None else _default_cache_dir()
    return folder / f"routing-index-{botocore_version()}-{_patches_digest()}-v{INDEX_FORMAT}.json"


SHIPPED_INDEX = "routing_index.json"


def shipped_index() -> dict[str, Any] | None:
    """The index shipped in the package, when it was built from these very models.

    botocore is pinned, so a released freehold never builds its index at start-up: loading
    all 23 models for it costs about 0.3 s and 40 MB. `python -m freehold.gateway.routing`
    regenerates the file; a test keeps it equal to `build_index()`."""
    try:
        text = resources.files("freehold.gateway").joinpath(SHIPPED_INDEX).read_text()
        data: dict[str, Any] = json.loads(text)
    except (OSError, ValueError, ModuleNotFoundError):
        return None
    if data.get("botocore") != botocore_version() or data.get("patches") != _patches_digest():
        return None
    if data.get("format") != INDEX_FORMAT or set(data.get("services", ())) != set(SERVICES):
        return None
    return data


def render_shipped_index() -> str:
    data = {"botocore": botocore_version(), "patches": _patches_digest(), **build_index()}
    return json.dumps(data, indent=0, sort_keys=True) + "\n"


def _load_or_build() -> dict[str, Any]:
    shipped = shipped_index()
    if shipped is not None:
        return shipped
    path = cache_file()
    try:
        data: dict[str, Any] = json.loads(path.read_text())
        if data.get("format") == INDEX_FORMAT and set(data["services"]) == set(SERVICES):
            return data
    except (OSError, ValueError, KeyError, TypeError):
        pass
    data = build_index()
    try:  # Atomic write: a crash or a concurrent writer never leaves a torn file.
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".routing-", suffix=".tmp")
        with os.fdopen(fd, "w") as handle:
            json.dump(data, handle, separators=(",", ":"))
        os.replace(tmp, path)
    except OSError:
        pass  # A read-only cache dir only costs speed.
    return data


class _RoutingIndex:
    """The index in the lookup shapes `route` needs; template regexes compile on first use."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.services: dict[str, dict[str, Any]] = data["services"]
        self.by_target = {s["target"]: n for n, s in self.services.items() if s["target"]}
        self.by_signing: dict[str, list[str]] = {}
        for name in SERVICES:  # SERVICES order makes the first candidate the default
            self.by_signing.setdefault(self.services[name]["signing"], []).append(name)
        for alias, name in QUIRKS.signing_aliases.items():
            self.by_signing.setdefault(alias, [name])
        self.endpoint_labels = {s["endpoint"] for s in self.services.values()} | set(self.by_signing)
        self.actions: dict[str, list[str]] = data["actions"]
        self.by_version = {s["version"]: n for n, s in self.services.items() if s["version"]}
        self._templates: dict[str, list[list[str]]] = data["templates"]
        self._compiled: dict[str, dict[str, re.Pattern[str]]] = {}

    def templates_match(self, service: str, method: str, path: str) -> bool:
        compiled = self._compiled.get(service)
        if compiled is None:
            by_method: dict[str, list[str]] = {}
            for verb, pattern in self._templates.get(service, []):
                by_method.setdefault(verb, []).append(pattern)
            compiled = {v: re.compile("(?:" + "|".join(ps) + ")") for v, ps in by_method.items()}
            self._compiled[service] = compiled
        regex = compiled.get(method)
        return regex is not None and regex.fullmatch(path) is not None

    @property
    def rest_services(self) -> list[str]:
        return list(self._templates)


def index() -> _RoutingIndex:
    global _index
    current = _index
    if current is None:
        with _lock:
            if _index is None:
                _index = _RoutingIndex(_load_or_build())
            current = _index
    return current


def protocols_of(service: str) -> list[str]:
    """The wire protocols a served service speaks, as its model lists them."""
    return list(index().services[service]["protocols"])


def services_for_signing_name(signing_name: str) -> list[str]:
    """The served services that sign with this name (first = the default)."""
    return list(index().by_signing.get(signing_name, []))


# --------------------------------------------------------------------------- S3 hosts

_BUCKET = re.compile(r"[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]")
# Host labels that name the S3 endpoint: `s3`, `s3-website[-<region>]`, the legacy regional
# `s3-<region>` and `s3-external-1`, `s3-fips`, `s3-accelerate`.
_S3_LABEL = re.compile(
    r"s3(?:-website(?:-[a-z0-9-]+)?|-external-1|-fips|-accelerate|-[a-z]{2}(?:-gov)?-[a-z]+-\d+)?"
)


def _hostname(request: HttpRequest) -> str:
    return _name_of_host(request.host)


def _name_of_host(host: str) -> str:
    host = host.strip().lower()
    if host.startswith("["):  # IPv6 literal: never a virtual host
        return ""
    return host.rsplit(":", 1)[0] if ":" in host else host


# Pure functions of a request line's parts, asked on every request: answers kept per input
# (a bounded memo, emptied when full: S3 keys make paths of unbounded variety).
MEMO_SIZE = 4096
# Longer inputs are not kept: a request line may be ~64 KB, and 4096 of those (unsigned
# requests, each with a path of its own) held hundreds of MB. Warm calls repeat short lines.
MEMO_KEY_MAX = 1024
_s3_hosts: dict[str, tuple[bool, str | None]] = {}
_templates: dict[tuple[str, str], str | None] = {}


def s3_host(request: HttpRequest) -> tuple[bool, str | None]:
    """(is this Host an S3 endpoint, the bucket it names when virtual-host style); see
    `_s3_host_of`."""
    host = request.host
    known = _s3_hosts.get(host)
    if known is None:
        known = _s3_host_of(host)
        if len(host) > MEMO_KEY_MAX:
            return known
        if len(_s3_hosts) >= MEMO_SIZE:
            _s3_hosts.clear()
        _s3_hosts[host] = known
    return known


def _s3_host_of(host: str) -> tuple[bool, str | None]:
    """(is this Host an S3 endpoint, the bucket it names when virtual-host style).

    `<bucket>.s3.<anything>`, `<bucket>.s3-website[-.]<region>...`, legacy
    `<bucket>.s3-<region>.amazonaws.com` and `<bucket>.localhost` are virtual hosts;
    `s3.amazonaws.com` / `s3.<region>.amazonaws.com` are the path-style endpoint.
    """
    labels = _name_of_host(host).split(".")
    if len(labels) < 2:
        return False, None
    for i in range(len(labels) - 1, -1, -1):
        label = labels[i]
        if _S3_LABEL.fullmatch(label):
            if i == 0:
                return True, None
            bucket = ".".join(labels[:i])
            return (True, bucket) if _BUCKET.fullmatch(bucket) else (False, None)
    if labels[-1] == "localhost":
        bucket = ".".join(labels[:-1])
        if _BUCKET.fullmatch(bucket) and bucket not in index().endpoint_labels:
            return True, bucket
    return False, None


def is_website_host(request: HttpRequest) -> bool:
    """A static website endpoint host: `<bucket>.s3-website[-.]<region>.<domain>`."""
    host = _hostname(request)
    if "s3-website" not in host:  # every API request: no split needed
        return False
    labels = host.split(".")
    return any(label.startswith("s3-website") for label in labels[1:])


def _to_path_style(request: HttpRequest, bucket: str) -> HttpRequest:
    path = request.path or "/"
    new_path = f"/{bucket}" if path == "/" else f"/{bucket}{path if path.startswith('/') else '/' + path}"
    return replace(request, path=new_path)


def _route_s3(request: HttpRequest) -> Route:
    _, bucket = s3_host(request)
    return Route("s3", _to_path_style(request, bucket) if bucket else request)


# --------------------------------------------------------------------------- request shapes


def _content_type(request: HttpRequest) -> str:
    return (request.headers.get("content-type") or "").split(";", 1)[0].strip().lower()


def query_action(request: HttpRequest) -> tuple[str | None, str | None]:
    """(Action, Version) of a query-protocol request: form body of a POST, or query string."""
    params: list[tuple[str, str]] = []
    if request.method == "POST" and _content_type(request) == "application/x-www-form-urlencoded":
        try:
            params = parse_qsl(request.body.decode("utf-8"), keep_blank_values=True)
        except UnicodeDecodeError:
            params = []
    action = next((v for k, v in params if k == "Action"), None)
    version = next((v for k, v in params if k == "Version"), None)
    if action is None and "Action=" in request.query_string:
        query = request.query()
        action, version = query.get("Action"), version or query.get("Version")
    return action, version


def _fits_shape(idx: _RoutingIndex, service: str, request: HttpRequest) -> bool:
    """Does the request look like one of this service's protocols (other than json)?"""
    protocols = idx.services[service]["protocols"]
    if "query" in protocols or service in QUIRKS.extra_query_services:
        action, version = query_action(request)
        if action and (version is None or version == idx.services[service]["version"]):
            return True
    return idx.templates_match(service, request.method, request.path)


def service_for_signing_name(request: HttpRequest, signing_name: str) -> str | None:
    """The served service a request signed for `signing_name` is for; when several services
    share the name, the first whose protocol shape the request has (else the first)."""
    idx = index()
    candidates = idx.by_signing.get(signing_name)
    if not candidates:
        return None
    if len(candidates) == 1:
        return candidates[0]
    return next((c for c in candidates if _fits_shape(idx, c, request)), candidates[0])


def _by_action(idx: _RoutingIndex, request: HttpRequest) -> str | None:
    action, version = query_action(request)
    if not action:
        return None
    candidates = idx.actions.get(action, [])
    if version is not None:
        named = idx.by_version.get(version)
        if named in candidates:
            return named
    if len(candidates) == 1:
        return candidates[0]
    winner = QUIRKS.action_winners.get(action)
    return winner if winner in candidates else None


def _by_template(idx: _RoutingIndex, request: HttpRequest) -> str | None:
    key = (request.method, request.path)
    try:
        return _templates[key]
    except KeyError:
        pass
    service = _by_template_of(idx, request.method, request.path)
    if len(request.path) > MEMO_KEY_MAX:
        return service
    if len(_templates) >= MEMO_SIZE:
        _templates.clear()
    _templates[key] = service
    return service


def _by_template_of(idx: _RoutingIndex, method: str, path: str) -> str | None:
    matches = [s for s in idx.rest_services if idx.templates_match(s, method, path)]
    if len(matches) <= 1:
        return matches[0] if matches else None
    # Shared paths like `/tags/{arn}` (apigateway and scheduler): the ARN names its service.
    lowered = path.lower().replace("%3a", ":")
    for name in matches:
        if f"arn:aws:{idx.services[name]['signing']}:" in lowered:
            return name
    return matches[0]


def _s3_only_signals(request: HttpRequest) -> bool:
    """Unsigned-by-SigV4 requests that only S3 accepts: its hosts, POST uploads, SigV2."""
    is_s3_host, _ = s3_host(request)
    if is_s3_host:
        return True
    if request.method == "POST" and _content_type(request) == "multipart/form-data":
        return True
    if (request.headers.get("authorization") or "").startswith("AWS "):
        return True
    return "AWSAccessKeyId=" in request.query_string and "Signature=" in request.query_string


# --------------------------------------------------------------------------- route


def route(request: HttpRequest, signature: SignatureInfo | None) -> Route | None:
    """The service this request is for, or None when it names a service freehold does not serve
    (an unknown X-Amz-Target prefix, or a signing name of another service)."""
    idx = index()
    target = request.headers.get("x-amz-target")
    if target:
        service = idx.by_target.get(target.rsplit(".", 1)[0] if "." in target else target)
        if service is not None:
            return Route(service, request)
        if signature is None:
            return None
    if signature is not None:
        service = service_for_signing_name(request, signature.service)
        if service is None:
            return None
        return _route_s3(request) if service == "s3" else Route(service, request)
    if _s3_only_signals(request):
        return _route_s3(request)
    service = _by_action(idx, request) or _by_template(idx, request)
    if service is not None:
        return Route(service, request)
    return _route_s3(request)


if __name__ == "__main__":
    print(render_shipped_index(), end="")
