"""The zygote: a small process per Python interpreter that forks sandboxes on request.

Run as `python -I zygote.py <runtime-client-dir> <sdk-dir> <fd>` (isolated mode: freehold
itself is never importable here). It preloads freehold's Python runtime client and boto3, and
warms botocore's data (runtimes/python/freehold_sdk_warmup.py), then serves requests on the
inherited Unix stream socket <fd>, one JSON line each:

- {"profile": {...}, "blanks": n}: what every sandbox of this zygote shares (namespaces, the
  minimal root tree: runtime/sandbox_root.py). The zygote then keeps n *blank* sandboxes
  forked ahead of demand, off the request path: each already made its session, namespaces and
  root tree and waits, still root, to be given a function.
- Blanks are handed to freehold ahead of demand, as soon as they are forked: {"blank": pid,
  "cgroup": path} with the blank's own channel attached (SCM_RIGHTS). Taking one is then
  freehold's own business (it gives the blank's memory cgroup its limit and sends the
  function's part), with no round trip here; freehold only tells {"took": pid}, and a new
  blank is forked a moment later.
- {"take": id, "memory_mb": n}: when freehold has none left, a blank on demand. The zygote
  gives the blank's memory cgroup its limit and answers {"spawned": id, "pid": n, "cgroup":
  path} with the blank's own channel attached.
- The function's part (its code and layers, /tmp size, uid, rlimits, environment and
  credentials, its output pipe) goes from freehold straight to the blank over that channel:
  the zygote never holds a byte of it, so no blank it forks later starts with a copy of an
  earlier function's secrets (on AWS, execution environments never share memory across
  functions). The blank binds those, drops to its uid and either runs the Python runtime
  client in-process (Python functions of this interpreter's version: no exec, modules
  already loaded) or execs its command (Node.js, provided bootstraps).

Replies and notices are JSON lines: {"blank": pid, "cgroup": s} | {"spawned": id, "pid": n,
"cgroup": s} | {"failed": id, "error": s} | {"exited": pid, "status": waitstatus} (of every
sandbox freehold holds, blanks handed ahead included). The zygote dies with its parent
(PR_SET_PDEATHSIG), and every sandbox with the zygote.

This file must run on every Python a function may use (3.9+): no freehold imports, stdlib only.
"""

import ctypes
import errno
import gc
import json
import os
import resource
import selectors
import signal
import socket
import sys
import time
import traceback

PR_SET_PDEATHSIG = 1
BLANK_NICENESS = 10  # of a blank sandbox until it is given a function
REFILL_DELAY = 0.03  # seconds between a blank being taken and its successor's fork
MAX_ASSIGNMENT = 1 << 20  # a blank's assignment: environment (4 KB on AWS), binds, credentials
HAND_OUT_TRIES = 3  # blanks tried (each given its memory limit) before a take fails

_libc = ctypes.CDLL(None, use_errno=True)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cgroups  # noqa: E402  (the directory above, only for these imports: stdlib-only modules)
import sandbox_root  # noqa: E402

del sys.path[0]


def prctl_deathsig(sig):
    if _libc.prctl(PR_SET_PDEATHSIG, sig, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl")


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


# -- a blank sandbox -------------------------------------------------------------------------------
def run_blank(profile, channel, cgroup=""):
    """In a child forked ahead of demand: isolate, wait for a function, run it. Never returns."""
    setup_error = ""
    try:
        # Nothing of the zygote's stays open in a sandbox (its control socket, wake-up pipe and
        # epoll instance: a function could otherwise unregister the zygote's own socket).
        os.closerange(3, channel.fileno())
        os.closerange(channel.fileno() + 1, 65536)
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        # Getting ready is background work: it yields the CPU to sandboxes starting now (as
        # root only: without privileges the niceness could not be given back).
        if os.geteuid() == 0:
            os.setpriority(os.PRIO_PROCESS, 0, BLANK_NICENESS)
        if cgroup:
            with open(os.path.join(cgroup, "cgroup.procs"), "w") as procs:
                procs.write("0")  # this process (and so every process of the sandbox)
        os.setsid()
        prctl_deathsig(signal.SIGKILL)
        flags = (sandbox_root.CLONE_NEWNS if profile.get("mount_namespace") else 0) | (
            sandbox_root.CLONE_NEWPID if profile.get("pid_namespace") else 0)
        if flags:
            sandbox_root.unshare(flags)
        if profile.get("pid_namespace"):
            # The first child is pid 1 of the new namespace; this process relays its end.
            child = os.fork()
            if child:
                channel.close()
                relay(child)
            prctl_deathsig(signal.SIGKILL)
        if profile.get("mount_namespace"):
            sandbox_root.prepare(profile)
    except BaseException:
        setup_error = "freehold sandbox: " + traceback.format_exc()
    try:
        sys.modules["freehold_sdk_warmup"].prefault()
    except Exception:
        pass  # no SDK here: nothing to prefault
    try:
        prefault_runtime()
    except Exception:
        pass  # only a head start
    gc.collect()  # the garbage of getting ready: not the function's collector's work
    try:
        data, fds, _, _ = socket.recv_fds(channel, MAX_ASSIGNMENT, 4)
    except OSError:
        os._exit(0)
    channel.close()
    if not data:
        os._exit(0)
    run_sandbox(json.loads(data), fds, setup_error)


def prefault_runtime():
    """In a blank: walk the paths every Python function's start takes (an import from a new
    directory compiled from source, the environment replaced, the output streams and log
    handler made, a socket), on throwaway objects. What they write of the zygote's memory
    (reference counts, the import system's caches) is copied here, ahead of demand, instead of
    at the function's start. Nothing of a function is involved, and nothing is left behind."""
    import importlib
    import io

    import freehold_lambda_runtime

    # Not tempfile: it would keep the directory it picked, from the zygote's environment, for
    # the function (which picks its own from its TMPDIR).
    directory = "/tmp/.freehold-blank-%d-%d" % (os.getpid(), time.monotonic_ns())
    name = "freehold_blank_probe"
    source = os.path.join(directory, name + ".py")
    os.mkdir(directory, 0o700)
    try:
        with open(source, "w") as probe:
            probe.write("import json\n\n\ndef handler(event, context):\n    return json.dumps(event)\n")
        sys.path.insert(0, directory)
        sys.dont_write_bytecode, writes = True, sys.dont_write_bytecode
        try:
            importlib.import_module(name).handler({"warm": [1, "2"]}, None)
        finally:
            sys.dont_write_bytecode = writes
    finally:
        if directory in sys.path:
            sys.path.remove(directory)
        sys.modules.pop(name, None)
        sys.path_importer_cache.pop(directory, None)
        if os.path.exists(source):
            os.remove(source)
        os.rmdir(directory)
    saved = dict(os.environ)
    try:
        os.environ.update({"FREEHOLD_BLANK_%d" % index: "-" * 48 for index in range(32)})
    finally:
        os.environ.clear()
        os.environ.update(saved)
    for fd in (1, 2):
        with open(fd, "wb", 0, closefd=False) as raw:
            io.TextIOWrapper(raw, write_through=True, line_buffering=True).detach()
    handler = freehold_lambda_runtime.LambdaLogHandler()
    handler.close()
    freehold_lambda_runtime.RuntimeApi("127.0.0.1:9")
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.close()


def run_sandbox(spec, fds, setup_error):
    """The function's part, in the blank: never returns."""
    code = 1
    try:
        if os.geteuid() == 0:
            os.setpriority(os.PRIO_PROCESS, 0, 0)  # a function's priority (the blank was niced)
        out_fd = fds[0]
        os.dup2(out_fd, 1)
        os.dup2(out_fd, 2)
        os.close(out_fd)
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.close(devnull)
        if setup_error:
            os.write(2, setup_error.encode())
            os._exit(127)
        if len(fds) > 1:
            # The sandbox's memory cgroup (opened by the zygote): "0" moves the writer itself.
            os.write(fds[1], b"0")
            os.close(fds[1])
        filesystem = spec.get("filesystem")
        if filesystem:
            sandbox_root.assign(filesystem["binds"], filesystem["tmp_mb"], spec.get("uid"), spec.get("gid"))
        set_limits(spec)
        become(spec)
        os.chdir(spec["cwd"])
        os.environ.clear()
        os.environ.update(spec["env"])
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
        if spec.get("argv"):
            os.execve(spec["argv"][0], spec["argv"], spec["env"])
        time.tzset()  # time.tzname and friends from the function's TZ, as at its own start
        warmup = sys.modules.get("freehold_sdk_warmup")
        if warmup is not None:
            warmup.enter_function()  # what the SDK read of the zygote's environment, read anew
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


# -- the zygote's loop -------------------------------------------------------------------------------
class Zygote:
    def __init__(self, sock):
        self.sock = sock
        self.profile = {}
        self.target = 0
        self.blanks = []  # (pid, channel, memory cgroup or "") of blank sandboxes, oldest first
        self.blank_pids = {}  # pid -> its cgroup
        self.ahead = set()  # pids of blanks handed to freehold ahead, not yet taken
        self.forked = 0

    def send(self, message):
        self.sock.sendall((json.dumps(message) + "\n").encode())

    def fork_blank(self):
        cgroup = ""
        if self.profile.get("cgroup_parent"):
            self.forked += 1
            cgroup = os.path.join(self.profile["cgroup_parent"], "z%d-%d" % (os.getpid(), self.forked))
            try:
                os.mkdir(cgroup)
            except OSError:
                cgroup = ""
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            pid = os.fork()
        except OSError:
            ours.close()
            theirs.close()
            return None
        if pid == 0:
            self.sock.close()
            ours.close()
            for _, channel, _ in self.blanks:
                channel.close()
            run_blank(self.profile, theirs, cgroup)
        theirs.close()
        self.blanks.append((pid, ours, cgroup))
        self.blank_pids[pid] = cgroup
        return pid

    def refill(self):
        """Fork blanks until `target` wait untaken, each handed to freehold at once."""
        while len(self.blanks) + len(self.ahead) < self.target:
            if not self.fork_held_blank():
                return

    def fork_held_blank(self):
        if self.fork_blank() is None:
            return False
        pid, channel, cgroup = self.blanks.pop()
        self.blank_pids.pop(pid, None)  # from now on its exit is freehold's to hear about
        self.ahead.add(pid)
        try:
            socket.send_fds(self.sock, [(json.dumps({"blank": pid, "cgroup": cgroup}) + "\n").encode()],
                            [channel.fileno()])
        finally:
            channel.close()
        return True

    def hand_out(self, request):
        """Give freehold a blank's channel (SCM_RIGHTS) and its pid; forget the blank. Only
        the take's id and memory size come here: never anything of the function."""
        error = "no blank"
        for _ in range(HAND_OUT_TRIES):
            if not self.blanks and self.fork_blank() is None:
                error = "cannot fork"
                break
            pid, channel, cgroup = self.blanks.pop(0)
            try:
                if cgroup and request.get("memory_mb"):
                    cgroups.set_limit(cgroup, int(request["memory_mb"]))
            except OSError as failure:
                error = str(failure)
                channel.close()  # that blank ends (reaped as a blank, its cgroup removed)
                continue
            # From now on its exit is freehold's to hear about.
            self.blank_pids.pop(pid, None)
            reply = {"spawned": request["id"], "pid": pid, "cgroup": cgroup}
            try:
                socket.send_fds(self.sock, [(json.dumps(reply) + "\n").encode()], [channel.fileno()])
            finally:
                channel.close()
            return
        self.send({"failed": request["id"], "error": error})

    def reap(self):
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
            self.ahead.discard(pid)  # a blank freehold held: told below, as any sandbox of its
            if pid in self.blank_pids:  # a blank that never got a function
                cgroup = self.blank_pids.pop(pid)
                for entry in [b for b in self.blanks if b[0] == pid]:
                    entry[1].close()
                    self.blanks.remove(entry)
                if cgroup:
                    try:
                        os.rmdir(cgroup)
                    except OSError:
                        pass
                continue
            self.send({"exited": pid, "status": status})

    def serve(self):
        wake_r, wake_w = os.pipe()
        os.set_blocking(wake_w, False)
        os.set_blocking(wake_r, False)
        signal.set_wakeup_fd(wake_w)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        selector = selectors.DefaultSelector()
        selector.register(self.sock, selectors.EVENT_READ)
        selector.register(wake_r, selectors.EVENT_READ)
        buffer = b""
        refill_at = 0.0
        while True:
            timeout = None if not refill_at else max(0.0, refill_at - time.monotonic())
            for key, _ in selector.select(timeout):
                if key.fileobj == wake_r:
                    try:
                        os.read(wake_r, 4096)
                    except BlockingIOError:
                        pass
                    continue
                data, stray_fds, _, _ = socket.recv_fds(self.sock, 65536, 16)
                for stray in stray_fds:  # freehold sends none: nothing of a function comes here
                    os.close(stray)
                if not data:
                    os._exit(0)
                buffer += data
                while b"\n" in buffer:
                    line, buffer = buffer.split(b"\n", 1)
                    request = json.loads(line)
                    if "profile" in request:
                        self.profile, self.target = request["profile"], int(request.get("blanks", 0))
                        for _, channel, _ in self.blanks:  # made for another profile: retire them
                            channel.close()
                        self.blanks = []
                        continue
                    if "took" in request:  # freehold took a blank it held
                        self.ahead.discard(request["took"])
                    else:
                        self.hand_out(request)
                    # The next blank is forked a moment later: its fork and mounts would
                    # otherwise compete for the CPU (and the kernel's mount lock) with the
                    # sandbox starting now.
                    refill_at = time.monotonic() + REFILL_DELAY
            self.reap()
            if not refill_at or time.monotonic() >= refill_at:
                refill_at = 0.0
                self.refill()


def preload(client_dir, sdk_dir):
    sys.path[:0] = [client_dir]
    if sdk_dir:
        sys.path.append(sdk_dir)
    import freehold_lambda_runtime  # noqa: F401

    try:  # what functions import first; absent SDKs are the function's problem, not ours
        import freehold_sdk_warmup

        freehold_sdk_warmup.warm()
    except Exception:
        pass
    # Objects loaded so far stay put: forked sandboxes then share their pages, as the
    # collector never touches (and so copies) them.
    gc.collect()
    gc.freeze()


def main():
    prctl_deathsig(signal.SIGKILL)
    if os.getppid() == 1:
        os._exit(0)
    client_dir, sdk_dir, fd = sys.argv[1], sys.argv[2], int(sys.argv[3])
    preload(client_dir, sdk_dir)
    sock = socket.socket(fileno=fd)
    zygote = Zygote(sock)
    zygote.send({"ready": os.getpid(), "version": list(sys.version_info[:2])})
    zygote.serve()


if __name__ == "__main__":
    main()
