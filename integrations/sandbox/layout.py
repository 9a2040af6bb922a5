"""What a sandbox is made of: the bubblewrap arguments that build its filesystem, namespaces,
identity and environment, and the small files synthesized for it.

The filesystem starts empty and read-only; into it go, read-only, only what a toolchain needs
(the system directories, a few files from /etc, the Python installation running suture and its
site-packages, and the operator's extra paths), private tmpfs for /tmp, $HOME and /dev/shm (size
capped, since tmpfs memory is not counted by RLIMIT_AS), a fresh /proc of the sandbox's own pid
namespace, and the worktree, the only writable host path (at its own path, or at the policy's
`workdir`), then the policy's mounts (a repository environment: read-only except while it is
built). Nothing is copied from the host's environment: bubblewrap clears it and sets only PATH,
HOME, LANG, TMPDIR, the proxy variables when egress is allowed, and the policy's own variables.
Each of the policy's forwards gets a unix socket bound beside the egress one (each route, the
socket of a server the worker runs, such as the model proxy), and the launcher relays the
sandbox's `127.0.0.1:<port>` to it; a forward's target host name resolves to
127.0.0.1 in the synthesized /etc/hosts. A served command's way in is a listening socket the
host passes down by descriptor (`served`), not a path: nothing in its folders leads back out.
"""

from __future__ import annotations

import posixpath
import site
import sys
from dataclasses import dataclass, field
from pathlib import Path

from worker.fix.models import PROXY_PORT, SandboxPolicy

UID = 65534  # the unprivileged user every command runs as, inside its own user namespace
HOME = "/home/sandbox"
TMP = "/tmp"
SUPPORT_DIR = "/run/suture"  # the launcher, the relay and its sockets, read-only
HERE = Path(__file__).resolve().parent
ROOT = Path("/")
SYSTEM_DIRS = ("usr",)
ROOT_LINKS = ("bin", "sbin", "lib", "lib32", "lib64", "libx32")
# /etc/ssl/private and /etc/shadow are deliberately absent: the sandbox user maps to the host
# user running suture, so whatever is bound is readable whatever its mode.
ETC_ENTRIES = ("ssl/certs", "ssl/openssl.cnf", "ca-certificates", "alternatives", "ld.so.cache",
               "ld.so.conf", "ld.so.conf.d", "localtime", "protocols", "services", "mime.types")
SYNTHESIZED_ETC = {
    "passwd": f"sandbox:x:{UID}:{UID}:sandbox:{HOME}:/bin/sh\n",
    "group": f"sandbox:x:{UID}:\n",
    "hosts": "127.0.0.1 localhost\n::1 localhost\n",
    "nsswitch.conf": "passwd: files\ngroup: files\nhosts: files\n",
}
PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY",
                   "all_proxy")
# Sandbox paths a workdir or mount may not cover: the root, the kernel's views, and the support
# folder the launcher runs from.
RESERVED_TARGETS = ("/proc", "/dev", SUPPORT_DIR)


@dataclass
class Layout:
    """Everything that decides one sandbox's shape; `arguments()` renders it for bubblewrap."""

    worktree: Path
    run_dir: Path  # a private host folder for this command's synthesized files and socket
    policy: SandboxPolicy
    ready_fd: int
    extra_ro_paths: list[Path] = field(default_factory=list)
    egress_socket: Path | None = None
    served: tuple[int, int] | None = None  # (host listener's descriptor, sandbox port): serve

    def options(self) -> list[str]:
        """bubblewrap's options: everything before the command."""
        tree = self.policy.workdir or str(self.worktree)
        return [*self._namespaces(), *self._environment(), *self._scratch(),
                *self._system(), *self._python(), *self._extra(), *self._support(),
                "--bind", str(self.worktree), tree, *self._mounts(),
                "--remount-ro", "/dev", "--remount-ro", "/", "--chdir", tree]

    def command(self, argv: list[str]) -> list[str]:
        """What bubblewrap runs: the launcher, which becomes `argv`."""
        limits = self.policy.limits
        command = [sys.executable, "-I", "-S", f"{SUPPORT_DIR}/launcher.py",
                   "--ready-fd", str(self.ready_fd),
                   "--cpu", str(limits.cpu_seconds),
                   "--memory", str(limits.memory_mb * 1024 * 1024),
                   "--processes", str(limits.processes),
                   "--file-size", str(limits.file_mb * 1024 * 1024)]
        if self.egress_socket:
            command += ["--proxy-port", str(PROXY_PORT),
                        "--proxy-socket", f"{SUPPORT_DIR}/egress.sock"]
        for forward in self.policy.forwards:
            name = forward_socket(Path(SUPPORT_DIR), forward.port)
            command += ["--forward", f"{forward.port}={name}"]
        for route in self.policy.routes:
            command += ["--forward", f"{route.port}={route_socket(route.port)}"]
        if self.served:
            command += ["--serve", "{}={}".format(*self.served)]
        return [*command, "--", *argv]

    def _namespaces(self) -> list[str]:
        return ["--unshare-all", "--unshare-user", "--disable-userns", "--uid", str(UID),
                "--gid", str(UID), "--hostname", "sandbox", "--die-with-parent", "--new-session",
                "--cap-drop", "ALL"]

    def _environment(self) -> list[str]:
        env = {"PATH": default_path(), "HOME": HOME, "LANG": "C.UTF-8", "TMPDIR": TMP}
        if self.egress_socket:
            env |= dict.fromkeys(PROXY_VARIABLES, f"http://127.0.0.1:{PROXY_PORT}")
            env |= {"NO_PROXY": "", "no_proxy": ""}
        env |= self.policy.env
        args = ["--clearenv"]
        for name, value in env.items():
            args += ["--setenv", name, value]
        return args

    def _scratch(self) -> list[str]:
        size = str(self.policy.limits.file_mb * 1024 * 1024)
        return ["--proc", "/proc", "--dev", "/dev",
                "--size", size, "--perms", "1777", "--tmpfs", "/dev/shm",
                "--size", size, "--perms", "1777", "--tmpfs", TMP,
                "--size", size, "--perms", "0700", "--tmpfs", HOME]

    def _system(self) -> list[str]:
        args: list[str] = []
        for name in SYSTEM_DIRS:
            args += ["--ro-bind", str(ROOT / name), "/" + name]
        for name in ROOT_LINKS:
            path = ROOT / name
            if path.is_symlink():
                args += ["--symlink", str(path.readlink()), "/" + name]
            elif path.is_dir():
                args += ["--ro-bind", str(path), "/" + name]
        etc = ROOT / "etc"
        for entry in ETC_ENTRIES:
            args += ["--ro-bind-try", str(etc / entry), f"/etc/{entry}"]
        for path in sorted(etc.glob("python3*")):
            args += ["--ro-bind-try", str(path), f"/etc/{path.name}"]
        return args

    def _python(self) -> list[str]:
        args: list[str] = []
        for path in python_paths():
            args += ["--ro-bind", str(path), str(path)]
        return args

    def _extra(self) -> list[str]:
        args: list[str] = []
        for path in self.extra_ro_paths:
            args += ["--ro-bind", str(path), str(path)]
        return args

    def _mounts(self) -> list[str]:
        args: list[str] = []
        for mount in self.policy.mounts:
            args += ["--bind" if mount.writable else "--ro-bind", mount.source, mount.target]
        return args

    def _support(self) -> list[str]:
        names = [f.host_name for f in self.policy.forwards if f.host_name]
        etc_dir = write_etc(self.run_dir, names)
        args = []
        for name in SYNTHESIZED_ETC:
            args += ["--ro-bind", str(etc_dir / name), f"/etc/{name}"]
        for script in ("launcher.py", "forwarder.py"):
            args += ["--ro-bind", str(HERE / script), f"{SUPPORT_DIR}/{script}"]
        if self.egress_socket:
            args += ["--ro-bind", str(self.egress_socket), f"{SUPPORT_DIR}/egress.sock"]
        for forward in self.policy.forwards:
            args += ["--ro-bind", str(forward_socket(self.run_dir, forward.port)),
                     str(forward_socket(Path(SUPPORT_DIR), forward.port))]
        for route in self.policy.routes:
            args += ["--ro-bind", route.socket, route_socket(route.port)]
        return args


def default_path() -> str:
    """PATH inside the sandbox unless the policy sets its own: the running Python's folder
    first, then the system's."""
    return f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin"


def bad_target(path: str) -> str:
    """Why `path` cannot be a workdir or mount target inside the sandbox, or "" when it can."""
    if not path.startswith("/") or posixpath.normpath(path) != path.rstrip("/") or "\0" in path:
        return f"{path!r} is not an absolute, normalised path"
    if path == "/" or any(path == r or path.startswith(r + "/") for r in RESERVED_TARGETS):
        return f"{path!r} would cover a place the sandbox itself needs"
    return ""


def python_paths() -> list[Path]:
    """The running Python's installation and site-packages that the system dirs do not cover."""
    candidates = [sys.base_prefix, sys.prefix, sys.base_exec_prefix, sys.exec_prefix,
                  *site.getsitepackages()]
    covered = [ROOT / name for name in (*SYSTEM_DIRS, *ROOT_LINKS)]
    chosen: list[Path] = []
    for raw in candidates:
        path = Path(raw)
        if not path.is_dir() or any(path.is_relative_to(c) for c in covered + chosen):
            continue
        chosen = [c for c in chosen if not c.is_relative_to(path)] + [path]
    return chosen


def forward_socket(folder: Path, port: int) -> Path:
    """The unix socket in `folder` that carries connections to the sandbox's forwarded `port`."""
    return folder / f"forward-{port}.sock"


def route_socket(port: int) -> str:
    """Where, inside the sandbox, the unix socket of the route for sandbox `port` is bound."""
    return f"{SUPPORT_DIR}/route-{port}.sock"


def write_etc(run_dir: Path, local_names: list[str] | None = None) -> Path:
    """Write the synthesized /etc files into `run_dir` and return their folder; `local_names`
    (forwarded services' host names) resolve to 127.0.0.1 in its hosts file."""
    etc_dir = run_dir / "etc"
    etc_dir.mkdir(exist_ok=True)
    extra = sorted(set(local_names or ()) - {"localhost"})
    for name, text in SYNTHESIZED_ETC.items():
        if name == "hosts" and extra:
            text += f"127.0.0.1 {' '.join(extra)}\n"
        (etc_dir / name).write_text(text)
    return etc_dir
