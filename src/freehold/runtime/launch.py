"""The launch plan of a sandbox: its environment as AWS sets it, its command, its filesystem
view, uid, rlimits and cgroup: the JSON the zygote forks a sandbox from.

https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html#configuration-envvars-runtime
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from freehold.runtime.interpreters import Interpreter, node_for, python_for
from freehold.runtime.isolation import Isolation
from freehold.runtime.seam import FunctionSpec

RUNTIMES_DIR = Path(__file__).parent / "runtimes"
TASK_ROOT = "/var/task"
RUNTIME_DIR = "/var/runtime"
OPT = "/opt"


class LaunchError(Exception):
    """The function cannot start here (no such runtime, no bootstrap): an init error."""

    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.message = message


def interpreter_for(spec: FunctionSpec) -> tuple[str, Interpreter | None]:
    """(the Python whose zygote forks this sandbox, the runtime's own interpreter if any)."""
    if spec.runtime.startswith("python"):
        interpreter = python_for(spec.runtime)
        return interpreter.path, interpreter
    default = python_for(f"python{sys.version_info[0]}.{sys.version_info[1]}")
    if spec.runtime.startswith("nodejs"):
        node = node_for(spec.runtime)
        if node is None:
            raise LaunchError("Runtime.InvalidEntrypoint", f"Node.js is not installed on this host ({spec.runtime})")
        return default.path, node
    return default.path, None


def environment(spec: FunctionSpec, api: str, stream: str, credentials: dict[str, str],
                endpoint: str, task_root: str, opt: str = OPT) -> dict[str, str]:
    """`opt` is where the function's layers are: /opt in a mount namespace, else the merged
    tree itself (no namespace to bind it at /opt: the search paths point at it instead)."""
    env = dict(spec.environment)
    env.update({
        "_HANDLER": spec.handler,
        "AWS_REGION": spec.region,
        "AWS_DEFAULT_REGION": spec.region,
        "AWS_EXECUTION_ENV": f"AWS_Lambda_{spec.runtime}",
        "AWS_LAMBDA_FUNCTION_NAME": spec.name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_mb),
        "AWS_LAMBDA_FUNCTION_VERSION": spec.version,
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "AWS_LAMBDA_LOG_GROUP_NAME": spec.log_group,
        "AWS_LAMBDA_LOG_STREAM_NAME": stream,
        "AWS_LAMBDA_RUNTIME_API": api,
        "LAMBDA_TASK_ROOT": task_root,
        "LAMBDA_RUNTIME_DIR": RUNTIME_DIR,
        "LANG": "en_US.UTF-8",
        "TZ": ":UTC",
        "PATH": f"/var/lang/bin:/usr/local/bin:/usr/bin/:/bin:{opt}/bin",
        "LD_LIBRARY_PATH": "/var/lang/lib:/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:/var/task:/var/task/lib:"
                           f"{opt}/lib",
        "HOME": "/tmp" if task_root == TASK_ROOT else str(Path(task_root).parent),
        # freehold's additions: the function's SDK reaches freehold, with its role's keys.
        "AWS_ENDPOINT_URL": endpoint,
        **credentials,
    })
    if spec.runtime.startswith("nodejs"):
        env["NODE_PATH"] = (f"{opt}/nodejs/node{spec.runtime[6:].split('.')[0]}/node_modules:{opt}/nodejs/node_modules:"
                            f"/var/runtime/node_modules:{RUNTIME_DIR}:{task_root}")
    elif spec.runtime.startswith("python"):
        # As AWS's Python runtimes: layers' packages under /opt/python(/lib/pythonX.Y/site-packages).
        env["PYTHONPATH"] = f"{RUNTIME_DIR}:{opt}/python/lib/{spec.runtime}/site-packages:{opt}/python"
    return env


def plan(spec: FunctionSpec, isolation: Isolation, *, api: str, stream: str, credentials: dict[str, str],
         endpoint: str, sdk_dir: str, data_dir: str, zygote_python: str,
         runtime_interpreter: Interpreter | None, cgroup: str | None) -> dict[str, Any]:
    """The zygote's spawn request for one sandbox of `spec`."""
    namespaced = isolation.mount_namespace
    task_root = TASK_ROOT if namespaced else str(spec.code_dir)
    # Layers: at /opt in a mount namespace; else the search paths point at the merged tree.
    opt = OPT if namespaced or spec.opt_dir is None else str(spec.opt_dir)
    runtimes_dir = f"{RUNTIME_DIR}/client" if namespaced else str(RUNTIMES_DIR)
    argv: list[str] | None = None
    if spec.runtime.startswith("nodejs"):
        assert runtime_interpreter is not None
        argv = [runtime_interpreter.path, f"{runtimes_dir}/nodejs/bootstrap.js"]
    elif not spec.runtime.startswith("python"):
        # provided.al2 / provided.al2023: the function's own bootstrap, else a layer's, as on AWS.
        if (spec.code_dir / "bootstrap").is_file():
            argv = [f"{task_root}/bootstrap"]
        elif spec.opt_dir is not None and (spec.opt_dir / "bootstrap").is_file():
            argv = [f"{opt}/bootstrap"]
        else:
            raise LaunchError(
                "Runtime.InvalidEntrypoint",
                "Couldn't find valid bootstrap(s): [/var/task/bootstrap /opt/bootstrap]",
            )
    request: dict[str, Any] = {
        "env": environment(spec, api, stream, credentials, endpoint, task_root, opt),
        "cwd": task_root,
        "argv": argv,
        "rlimits": {"RLIMIT_NOFILE": [1024, 1024], "RLIMIT_CORE": [0, 0], "RLIMIT_NPROC": [1024, 1024]},
        "pid_namespace": isolation.pid_namespace,
        "cgroup": cgroup,
    }
    if isolation.uid_per_function and spec.owner is not None:
        request["uid"], request["gid"] = spec.owner
    if namespaced:
        prefix = str(Path(zygote_python).resolve().parent.parent)
        binds = [
            [str(spec.code_dir), TASK_ROOT],
            [str(RUNTIMES_DIR), f"{RUNTIME_DIR}/client"],
            [prefix, "/var/lang"],
            # Paths the zygote already imported from stay where they were.
            [prefix, prefix],
            [str(RUNTIMES_DIR), str(RUNTIMES_DIR)],
        ]
        if sdk_dir:
            binds.append([sdk_dir, sdk_dir])
        if spec.opt_dir is not None:
            # Bound after /opt is hidden (binds land on top of the hiding tmpfs), read-only.
            binds.append([str(spec.opt_dir), OPT])
        if runtime_interpreter is not None and runtime_interpreter.path != zygote_python:
            binary_dir = str(Path(runtime_interpreter.path).parent)
            if binary_dir.startswith("/root"):
                binds.append([binary_dir, binary_dir])
        hide = ["/root", "/var", "/opt"]
        if not data_dir.startswith("/tmp/") and data_dir != "/tmp":
            hide.append(data_dir)
        request["filesystem"] = {
            "binds": binds, "hide": hide, "holder": isolation.holder, "tmp_mb": spec.ephemeral_mb,
        }
    return request
