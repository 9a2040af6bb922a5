"""The operator's `suture sandbox exec`: run one command in exactly the sandbox an agent gets,
its output streamed to the terminal as it comes, and exit with the command's own status.

It is for checking by hand what an agent can and cannot do (`suture sandbox exec --worktree .
-- cat /etc/shadow`). A sandbox that cannot start is reported on stderr with status 125, the
status `env` and container runners use for "the runner failed, not the command".
"""

from __future__ import annotations

import codecs
import sys
from pathlib import Path
from typing import TextIO

from worker.fix.models import SandboxPolicy
from worker.ports import PermanentError

SANDBOX_FAILED = 125


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
    for refusal in sandbox.refused:
        print(f"suture sandbox: refused egress to {refusal.host}:{refusal.port} "
              f"({refusal.reason})", file=sys.stderr)
    return result.exit_code
