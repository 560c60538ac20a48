"""The `freehold` command: `up` serves, `status` asks a running node, `reset` forgets all state.

Imports stay lazy so that `freehold up` reaches its first served request quickly.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from freehold import __version__
from freehold.config import ConfigError, Settings


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="freehold", description="A self-hosted serverless cloud.")
    parser.add_argument("--version", action="version", version=f"freehold {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    up = commands.add_parser("up", help="start a freehold node in the foreground")
    up.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    up.add_argument("--port", type=int, help="port to listen on (default 4566)")
    up.add_argument("--data-dir", type=Path, help="where state lives (default ./.freehold)")
    up.add_argument("--state", dest="state_url", help="postgresql://... to share state (default SQLite)")
    up.add_argument("--strict-auth", action="store_true", default=None,
                    help="verify SigV4 signatures against keys freehold issued")
    up.add_argument("--durability", choices=["process", "fsync"],
                    help="'process' survives kill -9, 'fsync' survives power loss")
    up.add_argument("--log-level", choices=["debug", "info", "warning", "error"])

    for name, text in (("status", "show a running node's health"), ("reset", "forget all state")):
        command = commands.add_parser(name, help=text)
        command.add_argument("--endpoint", help="the node's URL (default http://127.0.0.1:4566)")
        if name == "reset":
            command.add_argument("--data-dir", type=Path,
                                 help="when no node is running, forget the state of the node with this data directory")
            command.add_argument("--state", dest="state_url",
                                 help="...and this postgresql:// state (default: SQLite in the data directory)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = Settings.from_env()
    except ConfigError as error:
        print(f"freehold: {error}", file=sys.stderr)
        return 2
    if args.command == "up":
        return up(settings.with_overrides(
            host=args.host, port=args.port, data_dir=args.data_dir, state_url=args.state_url,
            strict_auth=args.strict_auth, durability=args.durability, log_level=args.log_level,
        ))
    endpoint = (args.endpoint or settings.endpoint_url).rstrip("/")
    if args.command == "status":
        return status(endpoint)
    return reset(endpoint, settings.with_overrides(state_url=args.state_url), args.data_dir)


def up(settings: Settings) -> int:
    import logging

    import uvicorn

    from freehold.gateway.asgi import App
    from freehold.gateway.node import Node

    level = settings.log_level.upper()
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    node = Node(settings)
    state = settings.state_url.split("@")[-1] if settings.state_url else f"sqlite in {settings.data_dir}"
    print(f"freehold {__version__} serving {settings.endpoint_url} (state: {state})", flush=True)
    config = uvicorn.Config(
        App(node), host=settings.host, port=settings.port, loop="uvloop", http="httptools",
        lifespan="on", access_log=False, log_level="warning", server_header=False,
        # The peer address is the client's own: X-Forwarded-For is a header like any other
        # (a function URL event passes it on; a local client cannot pose as another IP).
        proxy_headers=False, timeout_graceful_shutdown=5,
    )
    uvicorn.Server(config).run()
    return 0


def _call(endpoint: str, path: str, method: str) -> dict[str, object]:
    import json
    import urllib.request

    request = urllib.request.Request(endpoint + path, method=method)
    with urllib.request.urlopen(request, timeout=10) as response:
        result: dict[str, object] = json.loads(response.read())
        return result


def status(endpoint: str) -> int:
    import json
    import urllib.error

    try:
        health = _call(endpoint, "/_freehold/health", "GET")
    except (urllib.error.URLError, OSError) as exc:
        print(f"freehold is not running at {endpoint} ({exc})", file=sys.stderr)
        return 1
    print(json.dumps(health, indent=2))
    return 0


def reset(endpoint: str, settings: Settings, data_dir: Path | None) -> int:
    import urllib.error

    try:
        _call(endpoint, "/_freehold/reset", "POST")
        print(f"reset the node at {endpoint}")
        return 0
    except urllib.error.HTTPError as exc:
        # Something answered, so a node (or another server) is running there: never touch
        # its state from under it.
        print(f"the node at {endpoint} refused the reset: HTTP {exc.code} {exc.reason}", file=sys.stderr)
        return 1
    except (urllib.error.URLError, OSError) as exc:
        if data_dir is None:
            print(f"freehold is not running at {endpoint} ({exc}); pass --data-dir (and --state) to "
                  "forget a stopped node's state", file=sys.stderr)
            return 1
    return reset_stopped(settings.with_overrides(data_dir=data_dir))


def reset_stopped(settings: Settings) -> int:
    """Forget a stopped node's state: every row of every table (SQLite or PostgreSQL, the
    schema stays) and every blob."""
    from freehold.state.blobs import BlobStore
    from freehold.state.database import StateError, open_database

    if not settings.state_url and not (settings.data_dir / "state.db").exists():
        print(f"no state in {settings.data_dir}")
        return 0
    lock = None
    if not settings.state_url:  # no node may start on this state while it is forgotten
        from freehold.state import node_lock

        try:
            lock = node_lock.claim(settings.data_dir)
        except StateError:
            print(f"freehold: a node is serving {settings.data_dir}: reset it through its endpoint "
                  "(freehold reset --endpoint ...), or stop it first", file=sys.stderr)
            return 1
    try:
        try:
            db = open_database(settings)
        except StateError as error:
            print(f"freehold: cannot open the state: {error}", file=sys.stderr)
            return 1
        try:
            db.reset()
        finally:
            db.close()
        BlobStore(settings.data_dir / "blobs").reset()
    finally:
        if lock is not None:
            node_lock.release(lock)
    where = settings.state_url.split("@")[-1] if settings.state_url else str(settings.data_dir)
    print(f"forgot the state of {where}")
    return 0
