"""Which interpreter runs a runtime: pythonX.Y maps to that Python when installed (pyenv's
versions, then the system's), else the nearest installed one with a warning for the logs;
nodejsNN.x maps to the installed Node.js."""

from __future__ import annotations

import glob
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

# The oldest Python the runtime client and zygote support, and boto3 needs.
MIN_PYTHON = (3, 9)


@dataclass(frozen=True)
class Interpreter:
    path: str
    version: tuple[int, int]
    warning: str = ""  # a line for the function's logs when this is not the runtime asked for


@lru_cache(maxsize=1)
def installed_pythons() -> dict[tuple[int, int], str]:
    found: dict[tuple[int, int], str] = {}
    candidates = sorted(glob.glob("/root/.pyenv/versions/*/bin/python3")) + sorted(
        glob.glob("/usr/bin/python3.*") + glob.glob("/usr/local/bin/python3.*"))
    base = Path(sys.base_prefix) / "bin" / "python3"
    candidates.append(str(base))
    for candidate in candidates:
        match = re.search(r"(\d+)\.(\d+)", Path(candidate).resolve().name) or re.search(r"/(\d+)\.(\d+)", candidate)
        if not match or not Path(candidate).exists():
            continue
        version = (int(match.group(1)), int(match.group(2)))
        if version >= MIN_PYTHON:
            found.setdefault(version, str(Path(candidate).resolve()))
    found.setdefault(sys.version_info[:2], str(base.resolve()))
    return found


def python_for(runtime: str) -> Interpreter:
    match = re.fullmatch(r"python(\d+)\.(\d+)", runtime)
    wanted = (int(match.group(1)), int(match.group(2))) if match else sys.version_info[:2]
    pythons = installed_pythons()
    if wanted in pythons:
        return Interpreter(pythons[wanted], wanted)
    nearest = min(pythons, key=lambda v: (abs((v[0] * 100 + v[1]) - (wanted[0] * 100 + wanted[1])), -v[1]))
    warning = (f"freehold: {runtime} is not installed on this host; running the function on "
               f"python{nearest[0]}.{nearest[1]} instead")
    return Interpreter(pythons[nearest], nearest, warning)


@lru_cache(maxsize=1)
def node_binary() -> tuple[str, int] | None:
    path = shutil.which("node")
    if path is None:
        return None
    try:
        out = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=10, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.match(r"v(\d+)", out.strip())
    return (str(Path(path).resolve()), int(match.group(1))) if match else None


def node_for(runtime: str) -> Interpreter | None:
    node = node_binary()
    if node is None:
        return None
    path, major = node
    match = re.fullmatch(r"nodejs(\d+)\.x", runtime)
    wanted = int(match.group(1)) if match else major
    warning = "" if wanted == major else (
        f"freehold: {runtime} is not installed on this host; running the function on Node.js {major} instead")
    return Interpreter(path, (major, 0), warning)
