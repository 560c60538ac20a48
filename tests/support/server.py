"""A live freehold server for tests: a real `freehold up` subprocess on a free loopback port.

`freehold` is parametrized over the state backends (SQLite, PostgreSQL), one server per test
module and backend. It offers boto3 clients, restart and kill -9. `freehold_strict` is the same
with `--strict-auth` (its root keys: root_pair); `freehold_sqlite` one server on SQLite only.
"""

from __future__ import annotations

import configparser
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
TEST_KEY_ID = "AKIDFREEHOLDTESTKEY0"  # not freehold-issued: acts as the default account's root
TEST_SECRET = "freehold-test-secret"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def create_database(postgres_url: str) -> str:
    """A new, empty database on the throwaway PostgreSQL server; returns its URL."""
    import psycopg

    name = "fh_" + uuid.uuid4().hex[:12]
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base, _, _ = postgres_url.rpartition("/")
    return f"{base}/{name}"


class FreeholdServer:
    """One `freehold up` process; `restart()` keeps its data, `kill9()` crashes it."""

    def __init__(self, data_dir: Path, state_url: str = "", extra_args: tuple[str, ...] = (),
                 env: dict[str, str] | None = None) -> None:
        self.data_dir = data_dir
        self.state_url = state_url
        self.extra_args = extra_args
        self.env = env or {}
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = data_dir.parent / f"{data_dir.name}-server.log"

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def backend(self) -> str:
        return "postgresql" if self.state_url else "sqlite"

    def start(self, timeout: float = 20.0) -> None:
        args = [sys.executable, "-m", "freehold", "up", "--host", "127.0.0.1", "--port", str(self.port),
                "--data-dir", str(self.data_dir), *self.extra_args]
        if self.state_url:
            args += ["--state", self.state_url]
        env = {**os.environ, **self.env}
        log = open(self.log_path, "ab")
        self.process = subprocess.Popen(args, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"freehold exited with {self.process.returncode}:\n{self.log()}")
            try:
                with urllib.request.urlopen(self.endpoint_url + "/_freehold/health", timeout=1) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"freehold did not start within {timeout}s:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.process = None

    def kill9(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)
        self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def reset(self) -> None:
        request = urllib.request.Request(self.endpoint_url + "/_freehold/reset", method="POST")
        with urllib.request.urlopen(request, timeout=30):
            pass

    def client(self, service: str, region: str = "us-east-1", **kwargs: Any) -> Any:
        import boto3
        from botocore.config import Config

        kwargs.setdefault("aws_access_key_id", TEST_KEY_ID)
        kwargs.setdefault("aws_secret_access_key", TEST_SECRET)
        kwargs.setdefault("config", Config(retries={"max_attempts": 1}, connect_timeout=5, read_timeout=60))
        return boto3.client(service, region_name=region, endpoint_url=self.endpoint_url, **kwargs)

    def env_for_cli(self) -> dict[str, str]:
        """Environment for running the aws CLI (or Terraform) against this server."""
        return {
            **os.environ,
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_ACCESS_KEY_ID": TEST_KEY_ID,
            "AWS_SECRET_ACCESS_KEY": TEST_SECRET,
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_CONFIG_FILE": "/dev/null",
            "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
        }


def _on_each_backend(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, name: str,
                     extra_args: tuple[str, ...] = ()) -> Iterator[FreeholdServer]:
    state_url = ""
    if request.param == "postgresql":
        state_url = create_database(request.getfixturevalue("postgres_url"))
    server = FreeholdServer(tmp_path_factory.mktemp(f"{name}-{request.param}"), state_url, extra_args=extra_args)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def freehold(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FreeholdServer]:
    """A live server per test module, on SQLite and on PostgreSQL."""
    yield from _on_each_backend(request, tmp_path_factory, "freehold")


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def freehold_strict(request: pytest.FixtureRequest,
                    tmp_path_factory: pytest.TempPathFactory) -> Iterator[FreeholdServer]:
    """A live `--strict-auth` server per test module, on SQLite and on PostgreSQL: only its root
    key pair (root_pair) and the keys IAM and STS issue authenticate."""
    yield from _on_each_backend(request, tmp_path_factory, "strict", ("--strict-auth",))


def root_pair(server: FreeholdServer) -> tuple[str, str]:
    """The root key pair a strict node hands out in <data_dir>/root-credentials (a shared
    credentials file, profile `freehold`)."""
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(server.data_dir / "root-credentials")
    return parser["freehold"]["aws_access_key_id"], parser["freehold"]["aws_secret_access_key"]


@pytest.fixture(scope="module")
def freehold_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FreeholdServer]:
    """A live server on SQLite only, for tests that are not about storage."""
    server = FreeholdServer(tmp_path_factory.mktemp("freehold-sqlite"))
    server.start()
    try:
        yield server
    finally:
        server.stop()
