"""The servers under test: how to make each runnable, name its version, and launch it on a port.

freehold is run from this repository's venv; moto_server from PATH; MiniStack from a venv
the harness creates under bench/.work/ministack-venv (gitignored) the first time it is needed.
A peer that cannot be made runnable raises PeerUnavailable with the reason, which the report
prints instead of silently dropping the peer.
"""

from __future__ import annotations

import importlib.metadata
import os
import shutil
import subprocess
import sys
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
WORK = REPO / "bench" / ".work"
MINISTACK_VERSION = "1.5.33"


class PeerUnavailable(Exception):
    """This peer cannot be run on this machine; the message says why."""


@dataclass(frozen=True)
class LaunchSpec:
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)


def _tail(text: str, lines: int = 8, width: int = 240) -> str:
    """The last lines of a tool's output, without pip's warnings, each cut to `width`."""
    kept = [line for line in text.strip().splitlines() if not line.startswith("WARNING:")]
    return "\n".join(line if len(line) <= width else line[:width] + " ..." for line in kept[-lines:])


def _run(
    argv: list[str], timeout: float, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env, check=False)


# Dropped from every server's environment. AWS_ENDPOINT_URL* could redirect a peer's own
# calls; PYTHONDONTWRITEBYTECODE (set on some CI machines) would make an editable install
# such as freehold's recompile its sources on every start, which no user's machine does.
_DROPPED = ("AWS_ENDPOINT_URL", "PYTHONDONTWRITEBYTECODE")


def server_environment(extra: dict[str, str]) -> dict[str, str]:
    """The harness's environment as a server should see it, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_DROPPED)}
    env.update(extra)
    return env


class Peer(ABC):
    """One server implementation the benchmarks compare."""

    name: str
    project_url: str

    @abstractmethod
    def prepare(self) -> None:
        """Make the peer runnable (installing it if that is the harness's job) or raise PeerUnavailable."""

    @abstractmethod
    def version(self) -> str: ...

    @abstractmethod
    def launch(self, port: int, scratch: Path) -> LaunchSpec:
        """How to start it on 127.0.0.1:port with `scratch` as its private data directory."""


class FreeholdPeer(Peer):
    name = "freehold"
    project_url = "this repository"

    def __init__(self) -> None:
        self.executable = Path(sys.executable).parent / "freehold"
        if not self.executable.exists():
            self.executable = REPO / ".venv" / "bin" / "freehold"

    def prepare(self) -> None:
        if not self.executable.exists():
            raise PeerUnavailable(f"{self.executable} not found (run `make run` once to install the venv)")
        try:
            done = _run([str(self.executable), "up", "--help"], timeout=60)
        except subprocess.TimeoutExpired:
            raise PeerUnavailable("`freehold up --help` did not finish in 60 s") from None
        if done.returncode != 0:
            raise PeerUnavailable(f"`freehold up --help` failed: {_tail(done.stderr or done.stdout, 3)}")

    def version(self) -> str:
        try:
            version = importlib.metadata.version("freehold")
        except importlib.metadata.PackageNotFoundError:
            version = "unknown"
        commit = _run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], timeout=10)
        if commit.returncode != 0:
            return version
        changed = _run(["git", "-C", str(REPO), "status", "--porcelain", "--", "src"], timeout=10)
        dirty = " + uncommitted changes in src/" if changed.stdout.strip() else ""
        return f"{version} (git {commit.stdout.strip()}{dirty})"

    def launch(self, port: int, scratch: Path) -> LaunchSpec:
        argv = [str(self.executable), "up", "--host", "127.0.0.1", "--port", str(port)]
        return LaunchSpec(argv=[*argv, "--data-dir", str(scratch / "data")], env=server_environment({}))


class FreeholdFsyncPeer(FreeholdPeer):
    """freehold with `--durability fsync`: acknowledged writes survive power loss too."""

    name = "freehold-fsync"

    def launch(self, port: int, scratch: Path) -> LaunchSpec:
        spec = super().launch(port, scratch)
        return LaunchSpec(argv=[*spec.argv, "--durability", "fsync"], env=spec.env)


class MotoPeer(Peer):
    name = "moto"
    project_url = "https://github.com/getmoto/moto"

    def __init__(self) -> None:
        self.executable: Path | None = None

    def _resolve(self) -> Path:
        found = shutil.which("moto_server")
        if found is None:
            raise PeerUnavailable("moto_server is not on PATH (pip install 'moto[server]')")
        path = Path(found)
        # A pyenv shim is a shell script that re-executes pyenv on every start; measuring it
        # would add pyenv's own start-up to moto's, so resolve it to the real script once.
        if "/shims/" in str(path) and shutil.which("pyenv"):
            real = _run(["pyenv", "which", "moto_server"], timeout=30)
            if real.returncode == 0 and real.stdout.strip():
                path = Path(real.stdout.strip())
        return path

    def prepare(self) -> None:
        self.executable = self._resolve()

    def _interpreter(self) -> str:
        assert self.executable is not None
        first = self.executable.read_bytes().split(b"\n", 1)[0].decode(errors="replace")
        return first[2:].strip() if first.startswith("#!") else sys.executable

    def version(self) -> str:
        if self.executable is None:
            return "unknown"
        done = _run([self._interpreter(), "-c", "import moto; print(moto.__version__)"], timeout=60)
        return done.stdout.strip() if done.returncode == 0 else "unknown"

    def launch(self, port: int, scratch: Path) -> LaunchSpec:
        assert self.executable is not None, "prepare() first"
        return LaunchSpec(
            argv=[str(self.executable), "-H", "127.0.0.1", "-p", str(port)],
            env=server_environment({}),
        )


class MiniStackPeer(Peer):
    name = "ministack"
    project_url = "https://pypi.org/project/ministack/"

    def __init__(self, venv: Path = WORK / "ministack-venv", version: str = MINISTACK_VERSION) -> None:
        self.venv = venv
        self.wanted = version

    @property
    def _python(self) -> Path:
        return self.venv / "bin" / "python"

    def _installed_version(self) -> str | None:
        if not (self.venv / "bin" / "ministack").exists():
            return None
        code = "import importlib.metadata as m; print(m.version('ministack'))"
        done = _run([str(self._python), "-c", code], timeout=60)
        return done.stdout.strip() if done.returncode == 0 else None

    def prepare(self) -> None:
        if self._installed_version() == self.wanted:
            return
        WORK.mkdir(parents=True, exist_ok=True)
        log = WORK / "ministack-install.log"
        print(f"  installing ministack=={self.wanted} into {self.venv} (log: {log})", flush=True)
        steps = [
            [sys.executable, "-m", "venv", "--clear", str(self.venv)],
            [str(self._python), "-m", "pip", "install", "--quiet", f"ministack=={self.wanted}"],
        ]
        with log.open("w") as out:
            for step in steps:
                try:
                    done = subprocess.run(
                        step, stdout=out, stderr=subprocess.STDOUT, timeout=900, check=False
                    )
                except subprocess.TimeoutExpired:
                    raise PeerUnavailable(f"`{' '.join(step)}` took over 900 s") from None
                if done.returncode != 0:
                    raise PeerUnavailable(
                        f"`{' '.join(step)}` failed: {_tail(log.read_text(), 3)} (full log: {log})"
                    )
        if self._installed_version() != self.wanted:
            raise PeerUnavailable(f"ministack {self.wanted} not importable after install (log: {log})")

    def version(self) -> str:
        return self._installed_version() or "unknown"

    def launch(self, port: int, scratch: Path) -> LaunchSpec:
        env = server_environment(
            {
                "BIND_HOST": "127.0.0.1",
                "MINISTACK_HOST": "127.0.0.1",
                "GATEWAY_PORT": str(port),
                # Both open extra listeners (an SFTP server, an MQTT/TLS broker) on fixed ports.
                "SFTP_ENABLED": "0",
                "IOT_MTLS_ENABLED": "0",
                "S3_DATA_DIR": str(scratch / "s3"),
            }
        )
        return LaunchSpec(argv=[str(self.venv / "bin" / "ministack")], env=env)


def all_peers() -> dict[str, Peer]:
    """Every known peer by name, freehold first (the order of columns in the report)."""
    peers: list[Peer] = [FreeholdPeer(), FreeholdFsyncPeer(), MotoPeer(), MiniStackPeer()]
    return {peer.name: peer for peer in peers}
