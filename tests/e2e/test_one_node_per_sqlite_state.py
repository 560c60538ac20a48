"""A SQLite state is served by one node: a second `freehold up` on the same data directory
exits with a message saying so, and `freehold reset --data-dir` refuses while the node runs
(it would delete rows under a node that caches what only it writes). After kill -9 the lock is
gone with the process: the node starts again on its state."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from support.server import ROOT, FreeholdServer, free_port

from freehold import cli


def test_second_node_and_reset_are_refused_while_a_node_serves(tmp_path: Path) -> None:
    server = FreeholdServer(tmp_path / "data")
    server.start()
    try:
        second = subprocess.run(
            [sys.executable, "-m", "freehold", "up", "--host", "127.0.0.1", "--port", str(free_port()),
             "--data-dir", str(server.data_dir)],
            cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
        )
        assert second.returncode != 0
        assert "another freehold node is serving the state in" in second.stdout + second.stderr
        # An endpoint where nothing answers, and the serving node's directory: refused.
        assert cli.main(["reset", "--endpoint", f"http://127.0.0.1:{free_port()}",
                         "--data-dir", str(server.data_dir)]) == 1
        server.client("sqs").create_queue(QueueName="kept")
        server.kill9()
        server.start()  # the lock went with the killed process
        assert server.client("sqs").get_queue_url(QueueName="kept")["QueueUrl"]
    finally:
        server.stop()
    assert cli.main(["reset", "--endpoint", f"http://127.0.0.1:{free_port()}", "--data-dir", str(server.data_dir)]) == 0
