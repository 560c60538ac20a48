"""How a sandbox finds its function's layers (runtime/launch.py plan, the pieces layers own):
bound at /opt in a mount namespace; without one, the search paths point at the merged tree."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from freehold.runtime import launch
from freehold.runtime.isolation import Isolation
from freehold.runtime.seam import FunctionSpec


def _isolation(namespaced: bool) -> Isolation:
    return Isolation(process=True, rlimits=True, uid_per_function=False, mount_namespace=namespaced,
                     pid_namespace=namespaced, memory_cgroup="", cgroup_parent="", holder="/mnt")


def _plan(tmp_path: Path, runtime: str, namespaced: bool, opt: bool = True) -> dict[str, Any]:
    code = tmp_path / "code"
    code.mkdir(exist_ok=True)
    opt_dir = tmp_path / "opt"
    (opt_dir / "bin").mkdir(parents=True, exist_ok=True)
    spec = FunctionSpec(key="k", account_id="000000000000", region="us-east-1", name="f", version="$LATEST",
                        runtime=runtime, handler="app.handler", code_dir=code, memory_mb=128, timeout_s=3,
                        ephemeral_mb=512, environment={}, log_group="/aws/lambda/f", owner=None,
                        opt_dir=opt_dir if opt else None)
    return launch.plan(spec, _isolation(namespaced), api="127.0.0.1:1", stream="s", credentials={},
                       endpoint="http://127.0.0.1:2", sdk_dir="", data_dir=str(tmp_path), zygote_python=sys.executable,
                       runtime_interpreter=None, cgroup=None)


def test_namespaced_layers_at_opt(tmp_path: Path) -> None:
    request = _plan(tmp_path, "python3.11", namespaced=True)
    assert [str(tmp_path / "opt"), "/opt"] in request["filesystem"]["binds"]
    env = request["env"]
    assert env["PYTHONPATH"] == "/var/runtime:/opt/python/lib/python3.11/site-packages:/opt/python"
    assert env["PATH"].endswith(":/opt/bin") and env["LD_LIBRARY_PATH"].endswith(":/opt/lib")
    assert env["AWS_LAMBDA_INITIALIZATION_TYPE"] == "on-demand"


def test_without_namespace_paths_point_at_the_tree(tmp_path: Path) -> None:
    opt = str(tmp_path / "opt")
    env = _plan(tmp_path, "python3.12", namespaced=False)["env"]
    assert env["PYTHONPATH"] == f"/var/runtime:{opt}/python/lib/python3.12/site-packages:{opt}/python"
    assert env["PATH"].endswith(f":{opt}/bin") and env["LD_LIBRARY_PATH"].endswith(f":{opt}/lib")
    assert "filesystem" not in _plan(tmp_path, "python3.12", namespaced=False)


def test_layer_bootstrap_for_provided(tmp_path: Path) -> None:
    (tmp_path / "opt").mkdir()
    (tmp_path / "opt" / "bootstrap").write_text("#!/bin/sh\n")
    assert _plan(tmp_path, "provided.al2023", namespaced=True)["argv"] == ["/opt/bootstrap"]
    assert _plan(tmp_path, "provided.al2023", namespaced=False)["argv"] == [f"{tmp_path}/opt/bootstrap"]
