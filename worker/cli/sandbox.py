"""The operator's `suture sandbox exec`: run one command in exactly the sandbox an agent gets,
its output streamed to the terminal as it comes, and exit with the command's own status.

It is for checking by hand what an agent can and cannot do (`suture sandbox exec --worktree .
-- cat /etc/shadow`). A sandbox that cannot start is reported on stderr with status 125, the
status `env` and container runners use for "the runner failed, not the command".
"""

from __future__ import annotations

import codecs
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

from worker.cli.output import LineStream, echo
from worker.fix.models import SandboxPolicy
from worker.ports import PermanentError

SANDBOX_FAILED = 125


class Refusal(Protocol):
    """One egress connection a sandbox refused."""

    @property
    def host(self) -> str:
        """The host the command tried to reach."""
        ...

    @property
    def port(self) -> int | None:
        """Its port, when the request named one."""
        ...

    @property
    def reason(self) -> str:
        """Why it may not be reached."""
        ...


@runtime_checkable
class ReportsEgress(Protocol):
    """A sandbox that reports the egress it refused. Not part of the `Sandbox` port, which the
    stages use; only the operator's command shows refusals, from a sandbox able to list them."""

    @property
    def refused(self) -> Sequence[Refusal]:
        """Every egress connection refused so far, in order."""
        ...


class _Echo:
    """Writes output chunks to the terminal as text, decoding across chunk boundaries."""

    def __init__(self) -> None:
        self._decoders = {name: codecs.getincrementaldecoder("utf-8")(errors="replace")
                          for name in ("stdout", "stderr")}
        self.streams = {"stdout": LineStream(), "stderr": LineStream(err=True)}

    def __call__(self, name: str, chunk: bytes) -> None:
        self.streams[name].write(self._decoders[name].decode(chunk))

    def close(self) -> None:
        """Write what is left after the last newline of either stream."""
        for stream in self.streams.values():
            stream.close()


def sandbox_exec(worktree: Path, allow_hosts: list[str], argv: list[str]) -> int:
    """Run `argv` in `worktree` under the default agent policy (plus `allow_hosts`), streaming
    its output; return its exit status (125 if the sandbox itself failed)."""
    from worker.app.local import new_sandbox

    tee = _Echo()
    sandbox = new_sandbox(tee=tee)
    try:
        result = sandbox.run(Path(worktree), list(argv), SandboxPolicy(allow_hosts=allow_hosts))
    except PermanentError as error:
        echo(f"suture sandbox: {error}", err=True)
        return SANDBOX_FAILED
    finally:
        tee.close()
    if result.killed:
        echo(f"suture sandbox: command stopped ({result.killed})", err=True)
    for line in result.reached:
        echo(f"suture sandbox: reached {line}", err=True)
    for refusal in sandbox.refused if isinstance(sandbox, ReportsEgress) else ():
        echo(f"suture sandbox: refused egress to {refusal.host}:{refusal.port} "
             f"({refusal.reason})", err=True)
    return result.exit_code
