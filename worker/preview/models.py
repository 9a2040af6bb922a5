"""Records of previews: what to deploy (`PreviewTarget`), a deployment that answers
(`Deployment`), and why one could not be had (`PreviewFailure`, carried by
`worker.ports.PreviewError`).

A preview's log is the application's own output, so it may hold whatever the application printed
(tokens in a configuration dump, a customer's e-mail in a traceback): every excerpt kept here is
scrubbed (`log_tail`) before it can reach a record, a pull request or a log line.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from pydantic import BaseModel, Field, PrivateAttr

from worker.env.models import Environment
from worker.fix.models import SandboxPolicy
from worker.scrub import scrub_text

LOG_LINES = 40  # lines of a preview's output kept in a record
LOG_CHARS = 8_000  # and at most this many characters of them


def log_tail(text: str, lines: int = LOG_LINES) -> str:
    """The last `lines` lines of `text` (at most `LOG_CHARS` characters), scrubbed."""
    tail = "\n".join(text.rstrip().splitlines()[-lines:])
    return scrub_text(tail[-LOG_CHARS:])


class PreviewTarget(BaseModel):
    """One commit of a service to preview. The local provider runs `worktree` (a checkout of
    `sha`) in the sandbox with `environment` in use under `policy`; the command provider runs
    its deploy script there; the GitHub provider waits for the host's deployment of `sha` in
    `repo` (`owner/name`), the branch having been pushed."""

    sha: str
    name: str = ""  # how logs and failures call it ("base", "fix")
    worktree: Path | None = None
    branch: str | None = None
    repo: str | None = None
    environment: Environment | None = None
    policy: SandboxPolicy = Field(default_factory=SandboxPolicy)


class Deployment(BaseModel):
    """A preview that answers at `url`: which provider made it, how long it took to become ready
    (from the deploy call), and a scrubbed excerpt of its log when it did (`log`). While it runs,
    `latest_log` reads the log as it is now where the provider can (the local one can)."""

    url: str
    provider: str
    ready_seconds: float = 0.0
    log: str = ""
    environment: str = ""  # the code host's environment name, when it has one
    _reader: Callable[[], str] | None = PrivateAttr(default=None)

    def follow(self, reader: Callable[[], str]) -> Deployment:
        """This deployment, with `latest_log` reading the live output through `reader`."""
        self._reader = reader
        return self

    def latest_log(self, lines: int = LOG_LINES) -> str:
        """The last lines of the preview's log now (scrubbed), else the excerpt taken when it
        became ready."""
        return log_tail(self._reader(), lines) if self._reader else self.log


class PreviewFailure(BaseModel):
    """Why a preview could not be had: it never became healthy, its command died or failed, or
    the code host's deployment failed or never came. `log` is the scrubbed tail of its output."""

    provider: str
    reason: str
    command: str = ""
    exit_code: int | None = None
    log: str = ""
    seconds: float = 0.0

    def describe(self) -> str:
        """The reason, followed by the log's tail when there is one."""
        if not self.log.strip():
            return self.reason
        return f"{self.reason}\n--- last lines of its output ---\n{self.log}"
