"""`CommandPreview`: the `Preview` port on the operator's own deploy script
(`ServiceSettings.preview.deploy_command`), for hosts suture has no provider for.

The script runs through the `Sandbox`, like every command suture runs on a repository's code:
in the target's worktree (it may build from it), with the repository's environment in use, its
network limited to the operator's `allow_hosts` (the deploy API, a registry) on top of what the
target's policy allows, and with the operator's `deploy_env` (a deploy token) plus
`SUTURE_PREVIEW_SHA`, `SUTURE_PREVIEW_BRANCH` and `SUTURE_PREVIEW_REPO` as variables. Running it
on the host instead would hand the repository's code, which a deploy script typically builds,
the worker's whole network and files. It must print the preview's http(s) URL as the last line of
its standard output within `wait_seconds`; the URL must then answer the health path below 500
within `ready_seconds` (`health.py`). When the block ends `stop_command`, if set, runs the same way
with `SUTURE_PREVIEW_URL` too; its failure is logged, never raised over the caller's outcome.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

from integrations.preview.health import Readiness, wait_ready
from worker.env.use import in_environment
from worker.fix.models import CommandResult, SandboxPolicy
from worker.ports import PreviewError, Sandbox
from worker.preview.models import Deployment, PreviewFailure, PreviewTarget, log_tail
from worker.preview.settings import PreviewSettings
from worker.scrub import scrub_text, scrub_url

log = logging.getLogger("suture.preview")


class CommandPreview:
    """Deploys previews with the operator's commands in `sandbox` (see the module docstring)."""

    name = "command"

    def __init__(self, sandbox: Sandbox, settings: PreviewSettings, *,
                 interval: float = 1.0) -> None:
        self._sandbox = sandbox
        self._settings = settings
        self._interval = interval

    @contextmanager
    def deploy(self, target: PreviewTarget) -> Iterator[Deployment]:
        """Run the deploy command, wait for its URL to answer, yield it; run the stop command."""
        settings = self._settings
        command = settings.deploy_command
        if not command or not command.strip():
            raise self._error("no deploy command is configured (services.preview.deploy_command)")
        if target.worktree is None:
            raise self._error("the deploy command needs a worktree to run in", command)
        sandbox = in_environment(self._sandbox, target.environment)
        policy = self._policy(target)
        result = sandbox.run(target.worktree, ["sh", "-c", command], policy)
        url = _url(result)
        if result.exit_code != 0 or result.timed_out or url is None:
            raise self._error(_failed(command, result, settings.wait_seconds, url), command,
                              result.exit_code, _output(result), result.seconds)
        try:
            readiness = wait_ready(url.rstrip("/") + settings.health_path,
                                   seconds=settings.ready_seconds, local=False,
                                   interval=self._interval)
            if not readiness.ready:
                raise self._error(_unhealthy(url, settings, readiness), command, None,
                                  _output(result), result.seconds + readiness.seconds)
            log.info("preview of %s deployed at %s", target.sha[:12], url)
            yield Deployment(url=url, provider=self.name,
                             ready_seconds=round(result.seconds + readiness.seconds, 3),
                             log=log_tail(_output(result)))
        finally:
            self._stop(sandbox, target.worktree, policy, url)

    def _policy(self, target: PreviewTarget) -> SandboxPolicy:
        settings = self._settings
        env = {**target.policy.env,
               **{name: value.get_secret_value() for name, value in settings.deploy_env.items()},
               "SUTURE_PREVIEW_SHA": target.sha, "SUTURE_PREVIEW_BRANCH": target.branch or "",
               "SUTURE_PREVIEW_REPO": target.repo or ""}
        hosts = list(dict.fromkeys([*target.policy.allow_hosts, *settings.allow_hosts]))
        limits = target.policy.limits.model_copy(update={"wall_seconds": settings.wait_seconds})
        return target.policy.model_copy(update={"env": env, "allow_hosts": hosts,
                                                "limits": limits})

    def _stop(self, sandbox: Sandbox, worktree: Path, policy: SandboxPolicy, url: str) -> None:
        command = self._settings.stop_command
        if not command or not command.strip():
            return
        policy = policy.model_copy(update={"env": {**policy.env, "SUTURE_PREVIEW_URL": url}})
        result = sandbox.run(worktree, ["sh", "-c", command], policy)
        if result.exit_code != 0:
            log.warning("the preview stop command exited with %s: %s", result.exit_code,
                        log_tail(_output(result), 5))

    def _error(self, reason: str, command: str = "", exit_code: int | None = None,
               output: str = "", seconds: float = 0.0) -> PreviewError:
        return PreviewError(PreviewFailure(provider=self.name, reason=scrub_text(reason),
                                           command=scrub_text(command),
                                           exit_code=exit_code, log=log_tail(output),
                                           seconds=round(seconds, 3)))


def _url(result: CommandResult) -> str | None:
    """The last non-empty line of the command's standard output, if it is an http(s) URL."""
    lines = [line.strip() for line in result.stdout.splitlines() if line.strip()]
    if not lines:
        return None
    parts = urlsplit(lines[-1])
    if parts.scheme not in ("http", "https") or not parts.hostname or " " in lines[-1]:
        return None
    return lines[-1]


def _output(result: CommandResult) -> str:
    return "\n".join(part for part in (result.stdout, result.stderr) if part.strip())


def _failed(command: str, result: CommandResult, wait: float, url: str | None) -> str:
    if result.timed_out:
        return f"the deploy command `{command}` did not finish within {wait:g}s"
    if result.exit_code != 0:
        return f"the deploy command `{command}` exited with code {result.exit_code}"
    return (f"the deploy command `{command}` did not print the preview's http(s) URL as the "
            f"last line of its output")


def _unhealthy(url: str, settings: PreviewSettings, readiness: Readiness) -> str:
    return (f"the preview at {scrub_url(url)} did not answer GET {settings.health_path} with a "
            f"status below 500 within {settings.ready_seconds:g}s (last look: {readiness.last})")
