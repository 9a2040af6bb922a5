"""`BubblewrapSandbox`, the `Sandbox` port on bubblewrap: one command per call, each in a fresh
set of namespaces with the worktree as its only writable place, audited. `run` sees a command
through to its end; `serve` keeps one running while the host reaches its one port
(`serving.py`) and audits it when the block ends.

Each run gets a private host folder (synthesized /etc files, the argument file and, when the
policy allows hosts, the egress proxy's socket; one socket per forwarded test-service port, served
by a `PortForward`), a layout (`layout.py`), and a supervised process (`process.py`). The proxy
and the forwarders live exactly as long as the command. The result records how the command
ended, including why the sandbox stopped it; the audit keeps every result, in order, with output
clipped. A sandbox that cannot start raises `PermanentError`; a command that fails is only an
exit code.
"""

from __future__ import annotations

import logging
import shutil
import signal
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from integrations.sandbox.capture import clip
from integrations.sandbox.egress import EgressProxy, EgressRefusal
from integrations.sandbox.layout import PROXY_PORT, Layout, bad_target, forward_socket
from integrations.sandbox.portforward import PortForward
from integrations.sandbox.process import Exit, Spawn, run_supervised
from integrations.sandbox.serving import host_listener, invalid_port, start_served
from integrations.sandbox.unixserver import UnixServer
from worker.fix.models import CommandResult, SandboxPolicy, Served
from worker.ports import PermanentError

log = logging.getLogger("suture.sandbox")

OUTPUT_LIMIT = 256 * 1024  # bytes of each stream kept in a result
AUDIT_LIMIT = 16 * 1024  # characters of each stream kept in the audit
KILLED_BY_SIGNAL = {128 + signal.SIGXCPU: "cpu", 128 + signal.SIGXFSZ: "file-size"}


class BubblewrapSandbox:
    """Runs commands under bubblewrap (see the module docstring).

    `audit_sink` is called with each audited result (the pipeline stores them on the run);
    `tee` receives output chunks as they arrive, by stream name ("stdout"/"stderr").
    """

    def __init__(self, extra_ro_paths: list[Path] | None = None,
                 audit_sink: Callable[[CommandResult], None] | None = None, *,
                 bwrap: str = "bwrap", tee: Callable[[str, bytes], None] | None = None,
                 output_limit: int = OUTPUT_LIMIT, audit_limit: int = AUDIT_LIMIT) -> None:
        self.extra_ro_paths = [Path(p) for p in extra_ro_paths or []]
        self._audit_sink = audit_sink
        self._bwrap = bwrap
        self._tee = tee
        self._output_limit = output_limit
        self._audit_limit = audit_limit
        self._audit: list[CommandResult] = []
        self._refused: list[EgressRefusal] = []
        self._lock = threading.Lock()

    @property
    def audit(self) -> list[CommandResult]:
        """Every command run so far, in order (output clipped)."""
        with self._lock:
            return list(self._audit)

    @property
    def refused(self) -> list[EgressRefusal]:
        """Every egress or forwarded connection refused (or failed) so far, in order."""
        with self._lock:
            return list(self._refused)

    def run(self, worktree: Path, argv: list[str], policy: SandboxPolicy,
            stdin: str | None = None) -> CommandResult:
        """Run `argv` in `worktree` under `policy`; PermanentError only if the sandbox is broken."""
        binary = self._binary()
        worktree = self._worktree(worktree)
        invalid = _invalid(argv, policy)
        if not invalid:
            _check_mounts(policy)
        if invalid:
            return self._record(CommandResult(argv=list(argv), exit_code=126,
                                              stderr=f"sandbox: {invalid}\n"))
        with tempfile.TemporaryDirectory(prefix="suture-sandbox-") as tmp:
            run_dir = Path(tmp)
            exit_ = self._execute(binary, worktree, argv, policy, stdin, run_dir)
        if not exit_.started and not exit_.timed_out:
            raise PermanentError(f"the sandbox failed to start (bubblewrap exit "
                                 f"{exit_.returncode}): {exit_.stderr.strip()[-2000:]}")
        return self._record(_result(argv, exit_, policy))

    def _binary(self) -> str:
        found = shutil.which(self._bwrap)
        if not found:
            raise PermanentError(f"bubblewrap ({self._bwrap!r}) is not installed or not on PATH;"
                                 " the sandbox cannot run commands without it")
        return found

    def _worktree(self, worktree: Path) -> Path:
        resolved = Path(worktree).resolve()
        if not resolved.is_dir():
            raise PermanentError(f"sandbox worktree {worktree} is not a directory")
        for extra in self.extra_ro_paths:
            if not extra.exists():
                raise PermanentError(f"sandbox read-only path {extra} does not exist")
        return resolved

    @contextmanager
    def serve(self, worktree: Path, argv: list[str], policy: SandboxPolicy,
              port: int) -> Iterator[Served]:
        """Start `argv` in `worktree` in the background with its sandbox port `port` reachable
        from the host at `Served.url` (`serving.py`); leaving the block stops the whole tree and
        audits the command. PermanentError for a broken sandbox or a command or port that
        cannot be served."""
        binary = self._binary()
        worktree = self._worktree(worktree)
        invalid = _invalid(argv, policy) or invalid_port(port, policy)
        if invalid:
            raise PermanentError(f"the sandbox cannot serve {argv[:1]}: {invalid}")
        _check_mounts(policy)
        with tempfile.TemporaryDirectory(prefix="suture-sandbox-") as tmp, ExitStack() as stack:
            listener = host_listener()
            stack.callback(listener.close)  # closing twice is harmless: start_served closes it
            host_port = listener.getsockname()[1]
            spawn, servers = self._prepare(binary, worktree, argv, policy, Path(tmp),
                                           served=(listener.fileno(), port))
            for server in servers:
                stack.enter_context(server)
            running = start_served(spawn, listener)
            try:
                yield Served(argv, host_port, running.output, running.exit_code)
            finally:
                result = _result(argv, running.stop(), policy)
                if running.stopped:
                    result.killed = "stopped"
                self._record(result)

    def _execute(self, binary: str, worktree: Path, argv: list[str], policy: SandboxPolicy,
                 stdin: str | None, run_dir: Path) -> Exit:
        spawn, servers = self._prepare(binary, worktree, argv, policy, run_dir, stdin=stdin)
        with ExitStack() as stack:
            for server in servers:
                stack.enter_context(server)
            return run_supervised(spawn)

    def _prepare(self, binary: str, worktree: Path, argv: list[str], policy: SandboxPolicy,
                 run_dir: Path, *, stdin: str | None = None,
                 served: tuple[int, int] | None = None) -> tuple[Spawn, list[UnixServer]]:
        """What to start for one command, and the host-side servers it needs while it runs."""
        socket_path = run_dir / "egress.sock" if policy.allow_hosts else None
        servers: list[UnixServer] = [
            PortForward(forward_socket(run_dir, f.port), f, on_refused=self._refusal)
            for f in policy.forwards]
        if socket_path:
            servers.append(EgressProxy(socket_path, policy.allow_hosts, on_refused=self._refusal))

        def arguments(ready_fd: int) -> tuple[list[str], list[str]]:
            layout = Layout(worktree=worktree, run_dir=run_dir, policy=policy,
                            ready_fd=ready_fd, extra_ro_paths=self.extra_ro_paths,
                            egress_socket=socket_path, served=served)
            return layout.options(), layout.command(argv)

        spawn = Spawn(bwrap=binary, arguments=arguments, run_dir=run_dir,
                      wall_seconds=policy.limits.wall_seconds,
                      processes=policy.limits.processes, output_limit=self._output_limit,
                      stdin=stdin, tee=self._tee, pass_fds=(served[0],) if served else (),
                      merge_output=served is not None)
        return spawn, servers

    def _refusal(self, refusal: EgressRefusal) -> None:
        with self._lock:
            self._refused.append(refusal)

    def _record(self, result: CommandResult) -> CommandResult:
        audited = result.model_copy(update={"stdout": clip(result.stdout, self._audit_limit),
                                            "stderr": clip(result.stderr, self._audit_limit)})
        with self._lock:
            self._audit.append(audited)
        log.info("sandbox ran %r: exit %s in %.2fs%s", audited.argv[:8], audited.exit_code,
                 audited.seconds, f" ({audited.killed})" if audited.killed else "")
        if self._audit_sink:
            self._audit_sink(audited)
        return result


def _invalid(argv: list[str], policy: SandboxPolicy) -> str:
    """Why a command cannot be passed to the sandbox at all, or "". No program can take a NUL
    byte in an argument, and one in a variable would split bubblewrap's NUL-separated argument
    file into options of the command's choosing."""
    if not argv:
        return "empty command"
    texts = [*argv, *policy.env, *policy.env.values()]
    if any("\0" in text for text in texts):
        return "a command argument or environment variable contains a NUL byte"
    if any("=" in name or not name for name in policy.env):
        return "an environment variable name is empty or contains '='"
    targets = [*([policy.workdir] if policy.workdir else []), *(m.target for m in policy.mounts)]
    for target in targets:
        if bad_target(target):
            return f"workdir or mount target {bad_target(target)}"
    if any("\0" in m.source or not m.source.startswith("/") for m in policy.mounts):
        return "a mount source is not an absolute path"
    return _invalid_forwards(policy)


def _invalid_forwards(policy: SandboxPolicy) -> str:
    """Why the policy's forwards cannot all listen in the sandbox, or ""."""
    ports = [forward.port for forward in policy.forwards]
    ports += [route.port for route in policy.routes]
    if PROXY_PORT in ports:
        return f"a forward may not use port {PROXY_PORT}: it is the egress proxy's"
    if len(set(ports)) != len(ports):
        return "two forwards use the same sandbox port"
    if any("\0" in r.socket or not r.socket.startswith("/") for r in policy.routes):
        return "a route's socket is not an absolute path"
    return ""


def _check_mounts(policy: SandboxPolicy) -> None:
    """A mount whose source is gone (an evicted environment) leaves the sandbox unable to run
    as asked: that is the sandbox's failure, not the command's."""
    for mount in policy.mounts:
        if not Path(mount.source).exists():
            raise PermanentError(f"sandbox mount source {mount.source} does not exist")
    for route in policy.routes:
        if not Path(route.socket).is_socket():
            raise PermanentError(f"the socket of sandbox port {route.port} ({route.socket}) "
                                 "is not listening")


def _result(argv: list[str], exit_: Exit, policy: SandboxPolicy) -> CommandResult:
    killed = "timeout" if exit_.timed_out else KILLED_BY_SIGNAL.get(exit_.returncode, "")
    notes = []
    if exit_.timed_out:
        notes.append(f"killed after {policy.limits.wall_seconds:g}s of wall-clock time")
    if exit_.process_limit_hit:
        notes.append(f"the process limit ({policy.limits.processes}) was reached")
    if killed in ("cpu", "file-size"):
        notes.append(f"stopped by the {killed} limit")
    stderr = exit_.stderr
    if notes and stderr and not stderr.endswith("\n"):
        stderr += "\n"
    stderr += "".join(f"[sandbox: {note}]\n" for note in notes)
    return CommandResult(argv=list(argv), exit_code=exit_.returncode, stdout=exit_.stdout,
                         stderr=stderr, seconds=round(exit_.seconds, 3),
                         timed_out=exit_.timed_out, killed=killed)
