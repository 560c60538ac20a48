"""The `freehold` command's reset: through a running node, or on a stopped node's files."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

from freehold import cli


class _Refusing(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        self.send_response(403)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def refusing_endpoint() -> Iterator[str]:
    server = HTTPServer(("127.0.0.1", 0), _Refusing)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_reset_keeps_the_files_when_a_running_node_refuses(refusing_endpoint: str, tmp_path: Path) -> None:
    # An HTTP error is a URLError too: it once fell through to deleting state.db under the node.
    (tmp_path / "state.db").write_bytes(b"live data")
    assert cli.main(["reset", "--endpoint", refusing_endpoint, "--data-dir", str(tmp_path)]) == 1
    assert (tmp_path / "state.db").read_bytes() == b"live data"


def test_reset_forgets_a_stopped_nodes_state(state_url: str, tmp_path: Path) -> None:
    """Rows of every table and every blob go, on SQLite and on PostgreSQL; schemas stay."""
    from support.server import free_port

    from freehold.config import Settings
    from freehold.state.blobs import BlobStore
    from freehold.state.database import open_database
    from freehold.state.migrations import Migration

    settings = Settings(data_dir=tmp_path, state_url=state_url)
    db = open_database(settings)
    db.migrate("clitest", [Migration(1, "t", ("CREATE TABLE cli_rows (id INTEGER PRIMARY KEY)",))])
    db.execute("INSERT INTO cli_rows (id) VALUES (1)")
    db.close()
    blob = BlobStore(tmp_path / "blobs").write([b"old"])
    args = ["reset", "--endpoint", f"http://127.0.0.1:{free_port()}", "--data-dir", str(tmp_path)]
    assert cli.main(args + (["--state", state_url] if state_url else [])) == 0
    db = open_database(settings)
    try:
        assert db.query("SELECT COUNT(*) FROM cli_rows") == [(0,)]
    finally:
        db.close()
    assert not BlobStore(tmp_path / "blobs").exists(blob.key)


def test_reset_of_a_directory_without_state(tmp_path: Path) -> None:
    from support.server import free_port

    assert cli.main(["reset", "--endpoint", f"http://127.0.0.1:{free_port()}", "--data-dir", str(tmp_path)]) == 0
