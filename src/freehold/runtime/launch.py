"""The launch plan of a sandbox: its environment as AWS sets it, its command, its filesystem
view, uid, rlimits and cgroup: the JSON a blank sandbox is given (from freehold over the
blank's own channel, never through the zygote: runtime/zygotes.py).

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


def interpreter_for_default() -> str:
    """The Python whose zygote forks sandboxes of non-Python runtimes (and of this Python)."""
    return python_for(f"python{sys.version_info[0]}.{sys.version_info[1]}").path


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
        "AWS_LAMBDA_INITIALIZATION_TYPE": spec.initialization_type,
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


def profile(isolation: Isolation, zygote_python: str, sdk_dir: str) -> dict[str, Any]:
    """What every sandbox of one zygote shares, prepared in blank sandboxes ahead of demand:
    namespaces and the minimal root tree (runtime/sandbox_root.py) with the interpreter's
    prefix (at its own path, where the zygote imported from, and at /var/lang), the runtime
    clients (at their path and /var/runtime/client) and the SDK's packages."""
    namespaced = isolation.mount_namespace
    result: dict[str, Any] = {"pid_namespace": isolation.pid_namespace, "mount_namespace": namespaced,
                              # Blanks join a memory cgroup of their own when forked (joining
                              # costs the kernel an RCU grace period: not on the request path).
                              "cgroup_parent": isolation.cgroup_parent if isolation.memory_cgroup == "v1" else ""}
    if namespaced:
        prefix = str(Path(zygote_python).resolve().parent.parent)
        binds = [[prefix, prefix], [prefix, "/var/lang"], [str(RUNTIMES_DIR), f"{RUNTIME_DIR}/client"]]
        if sdk_dir:
            # The SDK directory holds links to the packages: both are bound where they are (the
            # zygote imported them from there, and botocore finds its data beside its code), so
            # the sandbox sees the path to them and those packages, nothing else of the host's.
            binds.append([sdk_dir, sdk_dir])
            for entry in sorted(Path(sdk_dir).iterdir()):
                real = str(entry.resolve())
                if real != str(entry):
                    binds.append([real, real])
        result.update(root=isolation.holder, binds=binds)
    return result


def plan(spec: FunctionSpec, isolation: Isolation, *, api: str, stream: str, credentials: dict[str, str],
         endpoint: str, sdk_dir: str, data_dir: str, zygote_python: str,
         runtime_interpreter: Interpreter | None, cgroup: str | None,
         uid: tuple[int, int] | None = None) -> dict[str, Any]:
    """The assignment of one sandbox of `spec`: what a blank sandbox (see `profile`) is
    given to become this function's. `uid` is the sandbox's own (uid, gid)."""
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
        "cgroup": cgroup,
        "memory_mb": spec.memory_mb,
    }
    if uid is not None:
        request["uid"], request["gid"] = uid
    if namespaced:
        # Bound from the host at assignment; everything else the sandbox sees is the profile's.
        binds = [[str(spec.code_dir), TASK_ROOT]]
        if spec.opt_dir is not None:
            binds.append([str(spec.opt_dir), OPT])  # the function's layers, merged, read-only
        if runtime_interpreter is not None and runtime_interpreter.path != zygote_python:
            binary_dir = str(Path(runtime_interpreter.path).parent)
            if not binary_dir.startswith(("/usr/", "/bin", "/sbin")):
                # An interpreter outside /usr (pyenv, nvm): its whole prefix, where it is.
                prefix = str(Path(binary_dir).parent)
                binds.append([prefix, prefix])
        request["filesystem"] = {"binds": binds, "tmp_mb": spec.ephemeral_mb}
    return request
