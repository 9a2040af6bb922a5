"""The operator's `suture sandbox exec`: run one command in exactly the sandbox an agent gets,
its output streamed to the terminal as it comes, and exit with the command's own status.

It is for checking by hand what an agent can and cannot do (`suture sandbox exec --worktree .
-- cat /etc/shadow`). A sandbox that cannot start is reported on stderr with status 125, the
status `env` and container runners use for "the runner failed, not the command".
"""

from __future__ import annotations

import codecs
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol, TextIO, runtime_checkable

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

    def __call__(self, name: str, chunk: bytes) -> None:
        stream: TextIO = sys.stdout if name == "stdout" else sys.stderr
        stream.write(self._decoders[name].decode(chunk))
        stream.flush()


def sandbox_exec(worktree: Path, allow_hosts: list[str], argv: list[str]) -> int:
    """Run `argv` in `worktree` under the default agent policy (plus `allow_hosts`), streaming
    its output; return its exit status (125 if the sandbox itself failed)."""
    from worker.app import new_sandbox

    sandbox = new_sandbox(tee=_Echo())
    try:
        result = sandbox.run(Path(worktree), list(argv), SandboxPolicy(allow_hosts=allow_hosts))
    except PermanentError as error:
        print(f"suture sandbox: {error}", file=sys.stderr)
        return SANDBOX_FAILED
    if result.killed:
        print(f"suture sandbox: command stopped ({result.killed})", file=sys.stderr)
    for line in result.reached:
        print(f"suture sandbox: reached {line}", file=sys.stderr)
    for refusal in sandbox.refused if isinstance(sandbox, ReportsEgress) else ():
        print(f"suture sandbox: refused egress to {refusal.host}:{refusal.port} "
              f"({refusal.reason})", file=sys.stderr)
    return result.exit_code
