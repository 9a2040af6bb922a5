"""A coding agent that runs an agent command-line program (claude, codex, aider) in the sandbox.

The prompt is written to `.suture/prompt.md` in the worktree (suture's private area, removed
afterwards and never part of the patch) and the command template is filled in: `{prompt_file}`
becomes that file's path relative to the worktree and `{prompt}` the prompt text itself, each as
one argument, never through a shell. The command runs through the `Sandbox` port with the hosts
and environment the playbook allows and the task's wall clock. The transcript is the command's
scrubbed, truncated output; the patch is read from the worktree by git.
"""

from __future__ import annotations

import re
import shutil
import time
from pathlib import Path

from integrations.agents.tools import PRIVATE_DIR, truncate
from integrations.git.worktrees import worktree_patch
from worker.egress import Channel, outbound
from worker.fix.models import Attempt, CommandResult, FixTask, Limits, SandboxPolicy
from worker.ports import PermanentError, Sandbox, SutureError
from worker.scrub import scrub_text

PROMPT_FILE = f"{PRIVATE_DIR}/prompt.md"
_PLACEHOLDER = re.compile(r"\{(prompt_file|prompt)\}")
_OUTPUT_LIMIT = 16_000


class CliAgent:
    """A `CodingAgent` that runs an agent CLI inside the sandbox."""

    def __init__(self, command_template: list[str], *, name: str = "cli",
                 allow_hosts: list[str] | None = None, env: dict[str, str] | None = None) -> None:
        if not command_template:
            raise ValueError("command_template must name a program")
        self.command_template = list(command_template)
        self.name = name
        self.allow_hosts = list(allow_hosts or [])
        self.env = dict(env or {})

    def argv(self, prompt: str) -> list[str]:
        """The command with its placeholders filled in (one pass: the prompt is not re-read)."""
        values = {"prompt_file": PROMPT_FILE, "prompt": prompt}
        return [_PLACEHOLDER.sub(lambda match: values[match.group(1)], part)
                for part in self.command_template]

    def policy(self, task: FixTask) -> SandboxPolicy:
        """What the command may reach: the configured hosts and env, for the task's time."""
        return SandboxPolicy(allow_hosts=self.allow_hosts, env=self.env,
                             limits=Limits(wall_seconds=task.timeout_seconds))

    def attempt(self, task: FixTask, worktree: Path, sandbox: Sandbox) -> Attempt:
        """Run the CLI once on `task` and return what it changed in `worktree`."""
        started = time.monotonic()
        # The prompt leaves for the agent's command (and, through it, a model's endpoint).
        task = task.model_copy(update={"prompt": outbound(task.prompt, Channel.PROMPT)})
        argv = self.argv(task.prompt)
        private = worktree / PRIVATE_DIR
        created = not private.exists() and not private.is_symlink()
        error = ""
        transcript: list[dict[str, object]] = []
        try:
            _write_prompt(worktree, task.prompt)
            result = sandbox.run(worktree, argv, self.policy(task))
            transcript.append(_command_entry(result, task.prompt))
            error = _failure(result)
        except (PermanentError, OSError) as exc:
            error = f"could not run the agent command: {exc}"
            transcript.append({"kind": "command", "argv": _shown(argv, task.prompt),
                               "error": scrub_text(str(exc))})
        finally:
            if not private.is_symlink():
                (worktree / PROMPT_FILE).unlink(missing_ok=True)
            if created and not private.is_symlink():
                shutil.rmtree(private, ignore_errors=True)
        patch = ""
        try:
            patch = worktree_patch(worktree)
        except (OSError, SutureError) as exc:
            error = error or f"could not read the patch: {exc}"
        return Attempt(agent=self.name, patch=patch, transcript=transcript,
                       seconds=time.monotonic() - started, error=error)


def _write_prompt(worktree: Path, prompt: str) -> None:
    """Write the prompt file; a `.suture` the repository planted as a link is refused, since
    writing through it could land outside the worktree."""
    private = worktree / PRIVATE_DIR
    if private.is_symlink() or (private.exists() and not private.is_dir()):
        raise OSError(f"{PRIVATE_DIR} in the worktree is not a plain directory")
    private.mkdir(exist_ok=True)
    target = worktree / PROMPT_FILE
    target.unlink(missing_ok=True)  # a planted link is removed, not written through
    target.write_text(prompt, encoding="utf-8")


def _failure(result: CommandResult) -> str:
    """Why the command failed, or "" when it exited 0."""
    if result.timed_out or result.killed:
        return f"agent command stopped: {result.killed or 'timed out'} after {result.seconds:.0f}s"
    if result.exit_code != 0:
        return f"agent command exited with code {result.exit_code}"
    return ""


def _shown(argv: list[str], prompt: str) -> list[str]:
    # The prompt is in the task already; repeating it in every argv entry only bloats the log.
    return [truncate(scrub_text(part.replace(prompt, "{prompt}") if prompt else part), 500)
            for part in argv]


def _command_entry(result: CommandResult, prompt: str) -> dict[str, object]:
    return {"kind": "command", "argv": _shown(result.argv, prompt),
            "exit_code": result.exit_code, "seconds": result.seconds,
            "timed_out": result.timed_out, "killed": result.killed,
            "stdout": truncate(scrub_text(result.stdout), _OUTPUT_LIMIT),
            "stderr": truncate(scrub_text(result.stderr), _OUTPUT_LIMIT // 2)}
