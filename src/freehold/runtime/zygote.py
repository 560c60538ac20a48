"""The zygote: a small process per Python interpreter that forks sandboxes on request.

Run as `python -I zygote.py <runtime-client-dir> <sdk-dir> <fd>` (isolated mode: freehold
itself is never importable here). It preloads freehold's Python runtime client and boto3, then
serves spawn requests on the inherited Unix stream socket <fd>: one JSON line per request, with the sandbox's
output pipe attached (SCM_RIGHTS). Each sandbox is forked, isolated (session, cgroup, mount
and pid namespaces, private /tmp, read-only code, unprivileged uid, rlimits, clean
environment) and then either runs the Python runtime client in-process (Python functions of
this interpreter's version: no exec, modules already loaded) or execs its command (Node.js,
provided bootstraps, other Python versions).

Replies and notices are JSON lines: {"spawned": id, "pid": n} | {"failed": id, "error": s} |
{"exited": pid, "status": waitstatus}. The zygote dies with its parent (PR_SET_PDEATHSIG).

This file must run on every Python a function may use (3.9+): no freehold imports, stdlib only.
"""

import ctypes
import errno
import json
import os
import resource
import selectors
import signal
import socket
import sys
import traceback

PR_SET_PDEATHSIG = 1
CLONE_NEWNS = 0x00020000
CLONE_NEWPID = 0x20000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
MNT_DETACH = 2
SHM_MB = 64  # the private /dev/shm's cap

_libc = ctypes.CDLL(None, use_errno=True)


def _check(result, what):
    if result != 0:
        code = ctypes.get_errno()
        raise OSError(code, f"{what}: {os.strerror(code)}")


def prctl_deathsig(sig):
    _check(_libc.prctl(PR_SET_PDEATHSIG, sig, 0, 0, 0), "prctl")


def unshare(flags):
    _check(_libc.unshare(flags), "unshare")


def mount(source, target, fstype, flags, data=None):
    _check(
        _libc.mount(
            source.encode() if source else None, target.encode(), fstype.encode() if fstype else None,
            ctypes.c_ulong(flags), data.encode() if data else None,
        ),
        f"mount {target}",
    )


def umount(target):
    _check(_libc.umount2(target.encode(), MNT_DETACH), f"umount {target}")


def bind(source, target, readonly=True):
    os.makedirs(target, exist_ok=True)
    mount(source, target, None, MS_BIND | MS_REC)
    if readonly:
        mount(None, target, None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)


def build_filesystem(spec):
    """The sandbox's view: /var/task (code, read-only), /var/runtime, /var/lang, /opt, a private
    /tmp of the ephemeral size, private /dev/shm and /run/lock; freehold's data directory and
    /root hidden; no staging mount left behind."""
    fs = spec["filesystem"]
    mount(None, "/", None, MS_REC | MS_PRIVATE)
    # /var becomes a fresh tmpfs holding the Lambda layout; sources outside /var stay
    # reachable until the hiding mounts below, so everything is bound first.
    staging = []
    for source, target in fs["binds"]:
        staging.append((source, target))
    holder = fs["holder"]  # a tmpfs where bind sources wait while /root etc. are covered
    mount("tmpfs", holder, "tmpfs", MS_NOSUID | MS_NODEV, "mode=755,size=1m")
    parked = []
    for index, (source, target) in enumerate(staging):
        spot = os.path.join(holder, str(index))
        os.mkdir(spot)
        mount(source, spot, None, MS_BIND | MS_REC)
        parked.append((spot, target))
    for hidden in fs["hide"]:
        if os.path.isdir(hidden):
            mount("tmpfs", hidden, "tmpfs", MS_NOSUID | MS_NODEV, "mode=755,size=1m")
    mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, f"mode=1777,size={fs['tmp_mb']}m")
    # The host's /dev/shm and /run/lock are world-writable and shared: each sandbox gets its own.
    if os.path.isdir("/dev/shm"):
        mount("tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, f"mode=1777,size={SHM_MB}m")
    if os.path.isdir("/run/lock"):
        mount("tmpfs", "/run/lock", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=1777,size=1m")
    for spot, target in parked:
        bind(spot, target, readonly=True)
    # The staging binds are writable views of the sources (code included): gone once every
    # target holds its own read-only bind, and the holder with them.
    for spot, _ in parked:
        umount(spot)
    umount(holder)


def set_limits(spec):
    for name, (soft, hard) in spec.get("rlimits", {}).items():
        resource.setrlimit(getattr(resource, name), (soft, hard))


def become(spec):
    uid, gid = spec.get("uid"), spec.get("gid")
    if gid is not None:
        os.setgroups([])
        os.setgid(gid)
    if uid is not None:
        os.setuid(uid)


def run_sandbox(spec, out_fd):
    """In the forked child: never returns."""
    code = 1
    try:
        signal.set_wakeup_fd(-1)
        os.setsid()
        prctl_deathsig(signal.SIGKILL)
        os.dup2(out_fd, 1)
        os.dup2(out_fd, 2)
        os.close(out_fd)
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.close(devnull)
        if spec.get("cgroup"):
            with open(os.path.join(spec["cgroup"], "cgroup.procs"), "w") as procs:
                procs.write(str(os.getpid()))
        flags = (CLONE_NEWNS if spec.get("filesystem") else 0) | (CLONE_NEWPID if spec.get("pid_namespace") else 0)
        if flags:
            unshare(flags)
        if spec.get("pid_namespace"):
            # The first child is pid 1 of the new namespace; this process relays its end.
            child = os.fork()
            if child:
                relay(child)
            prctl_deathsig(signal.SIGKILL)
            if spec.get("filesystem"):
                mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
        if spec.get("filesystem"):
            build_filesystem(spec)
        set_limits(spec)
        become(spec)
        os.chdir(spec["cwd"])
        os.environ.clear()
        os.environ.update(spec["env"])
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
        if spec.get("argv"):
            os.execve(spec["argv"][0], spec["argv"], spec["env"])
        import freehold_lambda_runtime  # preloaded by the zygote

        sys.argv = ["bootstrap"]
        freehold_lambda_runtime.main()
        code = 0
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else 1
    except BaseException:
        try:
            os.write(2, ("freehold sandbox: " + traceback.format_exc()).encode())
        except OSError:
            pass
        code = 127
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except Exception:
            pass
        os._exit(code)


def relay(child):
    """Wait for the namespace's pid 1 and end the same way (signal or exit code)."""
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    while True:
        try:
            _, status = os.waitpid(child, 0)
            break
        except InterruptedError:
            continue
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        signal.signal(sig, signal.SIG_DFL)
        os.kill(os.getpid(), sig)
    os._exit(os.WEXITSTATUS(status) if os.WIFEXITED(status) else 1)


def send(sock, message):
    sock.sendall((json.dumps(message) + "\n").encode())


def serve(sock):
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    os.set_blocking(wake_r, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    selector = selectors.DefaultSelector()
    selector.register(sock, selectors.EVENT_READ)
    selector.register(wake_r, selectors.EVENT_READ)
    buffer = b""
    fds = []
    while True:
        for key, _ in selector.select():
            if key.fileobj == wake_r:
                try:
                    os.read(wake_r, 4096)
                except BlockingIOError:
                    pass
            else:
                data, new_fds, _, _ = socket.recv_fds(sock, 65536, 16)
                if not data:
                    os._exit(0)
                buffer += data
                fds.extend(new_fds)
                while b"\n" in buffer:
                    line, buffer = buffer.split(b"\n", 1)
                    request = json.loads(line)
                    out_fd = fds.pop(0)
                    spawn(sock, request, out_fd)
        reap(sock)


def spawn(sock, request, out_fd):
    try:
        pid = os.fork()
    except OSError as error:
        os.close(out_fd)
        send(sock, {"failed": request["id"], "error": str(error)})
        return
    if pid == 0:
        sock.close()
        run_sandbox(request, out_fd)
    os.close(out_fd)
    send(sock, {"spawned": request["id"], "pid": pid})


def reap(sock):
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        except OSError as error:
            if error.errno == errno.EINTR:
                continue
            return
        if pid == 0:
            return
        send(sock, {"exited": pid, "status": status})


def preload(client_dir, sdk_dir):
    sys.path[:0] = [client_dir]
    if sdk_dir:
        sys.path.append(sdk_dir)
    import freehold_lambda_runtime  # noqa: F401

    try:  # what functions import first; absent SDKs are the function's problem, not ours
        import boto3  # noqa: F401
        import botocore.session  # noqa: F401

        boto3.Session  # noqa: B018
    except Exception:
        pass


def main():
    prctl_deathsig(signal.SIGKILL)
    if os.getppid() == 1:
        os._exit(0)
    client_dir, sdk_dir, fd = sys.argv[1], sys.argv[2], int(sys.argv[3])
    preload(client_dir, sdk_dir)
    sock = socket.socket(fileno=fd)
    send(sock, {"ready": os.getpid(), "version": list(sys.version_info[:2])})
    serve(sock)


if __name__ == "__main__":
    main()
