"""`LocalPreview`: the `Preview` port on the sandbox. The service's configured command
(`ServiceSettings.preview.command`) is started in the target's worktree through `Sandbox.serve`,
with the repository's environment in use as for its tests, and is ready once a GET of the health
path answers below 500 (`health.py`). The preview's URL is the host's end of the one served port;
nothing else of the sandbox is reachable, and its network is only what the target's policy
allows. Leaving the block stops the command's whole process tree. Requests reach the application
with the host's address in `Host` (`127.0.0.1:<host port>`), so one that checks it (Django's
`ALLOWED_HOSTS`) must accept 127.0.0.1.

The command runs under `sh -c` (so `cd app && ...` works) with `{port}` replaced by the port it
must listen on inside the sandbox's own network (any works: nothing else listens there), `PORT`
set to it, and `PYTHONUNBUFFERED=1` so a Python application's log arrives as it is written. A
command that dies, or never answers in `ready_seconds`, is a `PreviewError` naming the command,
its exit code when it died, what the last look saw and the (scrubbed) tail of its output.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from integrations.preview.health import Readiness, wait_ready
from worker.env.use import in_environment
from worker.fix.models import SandboxPolicy
from worker.ports import PreviewError, Sandbox
from worker.preview.models import Deployment, PreviewFailure, PreviewTarget, log_tail
from worker.preview.settings import PreviewSettings
from worker.scrub import scrub_text

log = logging.getLogger("suture.preview")


class LocalPreview:
    """Runs previews in `sandbox` as `settings` say (see the module docstring)."""

    name = "local"

    def __init__(self, sandbox: Sandbox, settings: PreviewSettings, *,
                 interval: float = 0.2) -> None:
        self._sandbox = sandbox
        self._settings = settings
        self._interval = interval

    @contextmanager
    def deploy(self, target: PreviewTarget) -> Iterator[Deployment]:
        """Start the command on `target`'s worktree and yield it once healthy; stop it after."""
        settings = self._settings
        command = self._command(target)
        if target.worktree is None:
            raise self._error(f"a local preview of {_label(target)} needs a worktree", command)
        policy = _policy(target.policy, settings.port)
        sandbox = in_environment(self._sandbox, target.environment)
        with sandbox.serve(target.worktree, ["sh", "-c", command], policy,
                           settings.port) as served:
            readiness = wait_ready(served.url + settings.health_path,
                                   seconds=settings.ready_seconds, exit_code=served.exit_code,
                                   interval=self._interval)
            if not readiness.ready:
                raise self._error(_why(command, settings, readiness), command, readiness,
                                  served.output())
            log.info("local preview of %s ready at %s in %.2fs", _label(target), served.url,
                     readiness.seconds)
            deployment = Deployment(url=served.url, provider=self.name,
                                    ready_seconds=round(readiness.seconds, 3),
                                    log=log_tail(served.output()))
            yield deployment.follow(served.output)

    def _command(self, target: PreviewTarget) -> str:
        command = self._settings.command
        if not command or not command.strip():
            raise self._error(f"no preview command is configured (services.preview.command) "
                              f"to run {_label(target)}", "")
        return command.replace("{port}", str(self._settings.port))

    def _error(self, reason: str, command: str, readiness: Readiness | None = None,
               output: str = "") -> PreviewError:
        return PreviewError(PreviewFailure(
            provider=self.name, reason=scrub_text(reason), command=scrub_text(command),
            exit_code=readiness.exit_code if readiness else None, log=log_tail(output),
            seconds=round(readiness.seconds, 3) if readiness else 0.0))


def _policy(policy: SandboxPolicy, port: int) -> SandboxPolicy:
    env = {"PYTHONUNBUFFERED": "1", **policy.env, "PORT": str(port)}
    return policy.model_copy(update={"env": env})


def _why(command: str, settings: PreviewSettings, readiness: Readiness) -> str:
    asked = f"GET {settings.health_path}"
    if readiness.exit_code is not None:
        return (f"the preview command `{command}` exited with code {readiness.exit_code} "
                f"before answering {asked} (last look: {readiness.last})")
    return (f"the preview command `{command}` did not answer {asked} with a status below 500 "
            f"within {settings.ready_seconds:g}s (last look: {readiness.last})")


def _label(target: PreviewTarget) -> str:
    return f"{target.name} ({target.sha[:12]})" if target.name else target.sha[:12]
