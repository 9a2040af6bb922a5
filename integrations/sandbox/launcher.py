"""The first process inside a sandbox: it starts the relays (egress, when the policy allows any
host, one per forwarded test-service port, and the way in to a served command's port), applies
the command's resource limits to itself, tells the host it is ready, and becomes the command.

Limits are set here rather than on bubblewrap so that bubblewrap's own setup and the relays are
not charged for them. The "ready" byte on an inherited pipe is how the host tells a sandbox
that failed to start (a PermanentError) from a command that failed (just an exit code). Standard
library only: it runs under the sandbox's bare Python with no packages on the path.
"""

from __future__ import annotations

import argparse
import os
import resource
import signal
import sys

LIMITS = {
    "cpu": resource.RLIMIT_CPU,
    "memory": resource.RLIMIT_AS,
    "processes": resource.RLIMIT_NPROC,
    "file_size": resource.RLIMIT_FSIZE,
}


def _options(argv: list[str]) -> tuple[argparse.Namespace, list[str]]:
    split = argv.index("--") if "--" in argv else len(argv)
    parser = argparse.ArgumentParser(prog="launcher")
    parser.add_argument("--ready-fd", type=int, required=True)
    parser.add_argument("--proxy-port", type=int)
    parser.add_argument("--proxy-socket")
    parser.add_argument("--forward", action="append", default=[], metavar="PORT=SOCKET",
                        help="relay the sandbox's 127.0.0.1:PORT to the unix socket SOCKET")
    parser.add_argument("--serve", action="append", default=[], metavar="FD=PORT",
                        help="relay connections accepted on the inherited listener FD to the "
                             "sandbox's 127.0.0.1:PORT")
    for name in LIMITS:
        parser.add_argument("--" + name.replace("_", "-"), type=int, dest=name)
    return parser.parse_args(argv[:split]), argv[split + 1:]


def _lower(which: int, soft: int, hard: int | None = None) -> None:
    """Lower a limit; never ask for more than the current hard limit (that would fail)."""
    _, current_hard = resource.getrlimit(which)
    hard = soft if hard is None else hard
    if current_hard != resource.RLIM_INFINITY:
        soft, hard = min(soft, current_hard), min(hard, current_hard)
    resource.setrlimit(which, (soft, hard))


def apply_limits(options: argparse.Namespace) -> None:
    """Apply the given limits to this process (and so to everything it execs and forks)."""
    for name, which in LIMITS.items():
        value = getattr(options, name)
        if value is None:
            continue
        # One second of grace between SIGXCPU and SIGKILL lets a command report it was stopped.
        _lower(which, value, value + 1 if name == "cpu" else None)
    _lower(resource.RLIMIT_CORE, 0)  # a crashing command must not drop core files in the worktree


def _restore_signals() -> None:
    # Python ignores SIGPIPE and SIGXFSZ; ignored signals survive exec, so put the defaults back
    # (`yes | head` must end, and the file-size limit must stop a command, not just fail writes).
    for name in ("SIGPIPE", "SIGXFSZ"):
        signal.signal(getattr(signal, name), signal.SIG_DFL)


def relay_routes(options: argparse.Namespace) -> list[tuple[int, str]]:
    """Every (sandbox port, unix socket) pair the relay serves: egress, then the forwards."""
    routes = [(options.proxy_port, options.proxy_socket)] if options.proxy_socket else []
    for forward in options.forward:
        port, _, socket_path = forward.partition("=")
        routes.append((int(port), socket_path))
    return routes


def inbound_routes(options: argparse.Namespace) -> tuple[tuple[int, int], ...]:
    """Every (inherited listening descriptor, sandbox port) pair a served command is reached by."""
    pairs = (served.partition("=") for served in options.serve)
    return tuple((int(fd), int(port)) for fd, _, port in pairs)


def _start_relay(routes: list[tuple[int, str]], inbound: tuple[tuple[int, int], ...]) -> None:
    # Imported here: the script runs isolated (-I), so its own folder is not on the path.
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import forwarder  # type: ignore[import-not-found]

    forwarder.start_detached(routes, inbound)


def main(argv: list[str]) -> None:
    """Prepare the sandbox's command and exec it; exit 127 or 126 when it cannot be run."""
    options, command = _options(argv)
    os.set_inheritable(options.ready_fd, False)
    if not command:
        sys.exit("sandbox: no command given")
    routes, inbound = relay_routes(options), inbound_routes(options)
    if routes or inbound:
        _start_relay(routes, inbound)
    apply_limits(options)
    _restore_signals()
    os.write(options.ready_fd, b"1")
    os.close(options.ready_fd)
    try:
        os.execvp(command[0], command)
    except FileNotFoundError:
        print(f"sandbox: {command[0]}: command not found", file=sys.stderr)
        os._exit(127)
    except OSError as error:
        print(f"sandbox: {command[0]}: {error.strerror}", file=sys.stderr)
        os._exit(126)


if __name__ == "__main__":
    main(sys.argv[1:])
