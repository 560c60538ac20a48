"""A sandbox's root filesystem: a minimal tree on a tmpfs that the sandbox pivot_roots into.

Loaded by the zygote (runtime/zygote.py), so: stdlib only, every Python a function may use
(3.9+), no freehold imports. Two steps, to keep the function-independent work off the request
path:

- `prepare(profile)`, in a blank sandbox forked ahead of demand (still root, in its own mount
  and pid namespaces): a tmpfs root holding read-only binds of the system directories a
  runtime needs (/usr and its /bin /lib /lib64 /sbin links, a few /etc files, the
  interpreter's prefix, the runtime client, the SDK's packages), a minimal /dev, /proc of the
  pid namespace, private /tmp, /dev/shm and /run; then pivot_root into it, the host's tree
  kept at /.host until the sandbox is assigned.
- `assign(binds, ...)`, once the sandbox is given to a function: its code at /var/task (and
  layers at /opt) bound read-only from /.host, /tmp sized to its ephemeral storage, /etc/passwd
  naming its user; then /.host is detached. Nothing of the host outside the binds stays
  reachable: not freehold's data directory, /work, /home, /root, nor other functions' code.
"""

import ctypes
import os

CLONE_NEWNS = 0x00020000
CLONE_NEWPID = 0x20000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
MNT_DETACH = 2
SYS_PIVOT_ROOT = 155  # x86_64 and arm64 differ: see _pivot_root
HOST = "/.host"  # where the host's root waits between prepare and assign
SHM_MB = 64  # the private /dev/shm's cap
DEFAULT_TMP_MB = 512  # Lambda's default ephemeral storage; resized at assignment
# /etc entries a runtime reads (TLS roots, name resolution, the dynamic loader's cache, zones).
ETC_ENTRIES = ("ssl", "ca-certificates", "pki", "hosts", "resolv.conf", "nsswitch.conf", "host.conf", "gai.conf",
               "ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "protocols", "services", "mime.types")
DEVICES = ("null", "zero", "full", "random", "urandom")
SYSTEM_LINKS = ("bin", "lib", "lib32", "lib64", "libx32", "sbin")

_libc = ctypes.CDLL(None, use_errno=True)


def _check(result, what):
    if result != 0:
        code = ctypes.get_errno()
        raise OSError(code, "%s: %s" % (what, os.strerror(code)))


def unshare(flags):
    _check(_libc.unshare(flags), "unshare")


def mount(source, target, fstype, flags, data=None):
    _check(
        _libc.mount(
            source.encode() if source else None, target.encode(), fstype.encode() if fstype else None,
            ctypes.c_ulong(flags), data.encode() if data else None,
        ),
        "mount %s" % target,
    )


def umount(target):
    _check(_libc.umount2(target.encode(), MNT_DETACH), "umount %s" % target)


def _pivot_root(new_root, put_old):
    machine = os.uname().machine
    number = {"x86_64": 155, "aarch64": 41, "arm64": 41}.get(machine, SYS_PIVOT_ROOT)
    _libc.syscall.restype = ctypes.c_long
    _check(_libc.syscall(ctypes.c_long(number), new_root.encode(), put_old.encode()), "pivot_root")


def bind(source, target, readonly=True, devices=False):
    """Bind `source` at `target` (made as a file or directory like the source)."""
    if os.path.isdir(source):
        os.makedirs(target, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        if not os.path.exists(target):
            open(target, "a").close()
    mount(source, target, None, MS_BIND | MS_REC)
    if readonly:
        mount(None, target, None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | (0 if devices else MS_NODEV))


def prepare(profile):
    """Build the function-independent tree at profile['root'] and pivot into it."""
    root = profile["root"]
    mount(None, "/", None, MS_REC | MS_PRIVATE)
    mount("tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV, "mode=755,size=4m")
    # /tmp first: binds of paths under /tmp (a data directory there, in tests) land inside it.
    os.mkdir(root + "/tmp")
    mount("tmpfs", root + "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777,size=%dm" % DEFAULT_TMP_MB)
    os.makedirs(root + "/usr")
    bind("/usr", root + "/usr")
    for name in SYSTEM_LINKS:  # merged-/usr hosts: /bin -> usr/bin; others: real directories
        path = "/" + name
        if os.path.islink(path):
            os.symlink(os.readlink(path), root + path)
        elif os.path.isdir(path):
            bind(path, root + path)
    for name in ETC_ENTRIES:
        path = "/etc/" + name
        if os.path.exists(path):
            bind(os.path.realpath(path), root + path)
    for source, target in profile["binds"]:
        if os.path.exists(source):
            bind(source, root + target)
    # A minimal /dev: the usual character devices, the standard stream links, private shm.
    os.mkdir(root + "/dev")
    mount("tmpfs", root + "/dev", "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=755,size=64k")
    for name in DEVICES:
        if os.path.exists("/dev/" + name):
            bind("/dev/" + name, root + "/dev/" + name, readonly=False, devices=True)
    for name, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"),
                         ("stderr", "/proc/self/fd/2")):
        os.symlink(target, root + "/dev/" + name)
    os.mkdir(root + "/dev/shm")
    mount("tmpfs", root + "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777,size=%dm" % SHM_MB)
    # /run with a private, world-writable /run/lock (the host's is shared by every process).
    os.mkdir(root + "/run")
    mount("tmpfs", root + "/run", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=755,size=1m")
    os.mkdir(root + "/run/lock")
    os.chmod(root + "/run/lock", 0o1777)
    os.mkdir(root + "/proc")
    if profile.get("pid_namespace"):
        mount("proc", root + "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    for directory in ("/var/task", "/var/runtime", "/opt", "/etc"):
        os.makedirs(root + directory, exist_ok=True)
    os.mkdir(root + HOST)
    _pivot_root(root, root + HOST)
    os.chdir("/")


def assign(binds, tmp_mb, uid, gid):
    """Bind the function's own trees from the host, size /tmp, name its user, drop the host."""
    for source, target in binds:
        bind(HOST + source, target)
    if tmp_mb != DEFAULT_TMP_MB:
        mount(None, "/tmp", None, MS_REMOUNT | MS_NOSUID | MS_NODEV, "size=%dm" % tmp_mb)
    with open("/etc/passwd", "w") as passwd:
        passwd.write("root:x:0:0:root:/root:/sbin/nologin\n")
        if uid is not None:
            # Lambda's sandbox user is sbx_user1051; here each sandbox has its own uid.
            passwd.write("sbx_user1051:x:%d:%d::/tmp:/sbin/nologin\n" % (uid, gid if gid is not None else uid))
    with open("/etc/group", "w") as group:
        group.write("root:x:0:\n")
        if gid is not None:
            group.write("sbx_group:x:%d:\n" % gid)
    umount(HOST)
    os.rmdir(HOST)
    # The root tmpfs holds only mount points and these two files: read-only from now on.
    mount(None, "/", None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)
