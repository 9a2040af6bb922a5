"""A coding agent that runs an agent command-line program (claude, codex, aider) in the sandbox.

The prompt is written to `.suture/prompt.md` in the worktree (suture's private area, removed
afterwards and never part of the patch) and the command template is filled in: `{prompt_file}`
becomes that file's path relative to the worktree and `{prompt}` the prompt text itself, each as
one argument, never through a shell. The command runs through the `Sandbox` port with the hosts
and environment the playbook allows and the task's wall clock. No credential enters the
sandbox: variables named or looking like one are dropped (`worker.fix.sandbox_env`), and with
`model` access the CLI reaches its model through the host's model proxy (`model_access`), which
holds the key and charges each call to the task's token and cost budget. The transcript is the
command's scrubbed, truncated output, what was dropped, and the proxy's count of calls, tokens
and cost; the patch is read from the worktree by git.
"""

from __future__ import annotations

import re
import shutil
import time
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path

from integrations.agents.model_access import ModelAccess, ProxySession
from integrations.agents.model_meter import ModelCall
from integrations.agents.tools import PRIVATE_DIR, truncate
from integrations.git.worktrees import worktree_patch
from worker.fix.models import Attempt, CommandResult, FixTask, Limits, SandboxPolicy
from worker.fix.sandbox_env import split_env
from worker.ports import PermanentError, Sandbox, SutureError
from worker.scrub import scrub_text

PROMPT_FILE = f"{PRIVATE_DIR}/prompt.md"
_PLACEHOLDER = re.compile(r"\{(prompt_file|prompt)\}")
_OUTPUT_LIMIT = 16_000


class CliAgent:
    """A `CodingAgent` that runs an agent CLI inside the sandbox."""

    def __init__(self, command_template: list[str], *, name: str = "cli",
                 allow_hosts: list[str] | None = None, env: dict[str, str] | None = None,
                 model: ModelAccess | None = None) -> None:
        if not command_template:
            raise ValueError("command_template must name a program")
        self.command_template = list(command_template)
        self.name = name
        self.allow_hosts = list(allow_hosts or [])
        self.env, self.dropped_env = split_env(dict(env or {}))
        self.model = model

    def argv(self, prompt: str) -> list[str]:
        """The command with its placeholders filled in (one pass: the prompt is not re-read)."""
        values = {"prompt_file": PROMPT_FILE, "prompt": prompt}
        return [_PLACEHOLDER.sub(lambda match: values[match.group(1)], part)
                for part in self.command_template]

    def policy(self, task: FixTask, proxy: ProxySession | None = None) -> SandboxPolicy:
        """What the command may reach: the configured hosts and env, for the task's time, and
        the model proxy when one runs."""
        if proxy is None:
            return SandboxPolicy(allow_hosts=self.allow_hosts, env=self.env,
                                 limits=Limits(wall_seconds=task.timeout_seconds))
        return SandboxPolicy(allow_hosts=self.allow_hosts, env=self.env | proxy.env,
                             limits=Limits(wall_seconds=task.timeout_seconds),
                             routes=[proxy.route])

    def _proxy(self, task: FixTask) -> AbstractContextManager[ProxySession | None]:
        return self.model.open(task) if self.model is not None else nullcontext()

    def attempt(self, task: FixTask, worktree: Path, sandbox: Sandbox) -> Attempt:
        """Run the CLI once on `task` and return what it changed in `worktree`."""
        started = time.monotonic()
        argv = self.argv(task.prompt)
        private = worktree / PRIVATE_DIR
        created = not private.exists() and not private.is_symlink()
        error = ""
        transcript: list[dict[str, object]] = []
        if self.dropped_env:
            transcript.append({"kind": "env", "dropped": dict(self.dropped_env)})
        tokens, cost = 0, 0.0
        try:
            _write_prompt(worktree, task.prompt)
            with self._proxy(task) as proxy:
                result = sandbox.run(worktree, argv, self.policy(task, proxy))
                transcript.append(_command_entry(result, task.prompt))
                error = _failure(result)
                if proxy is not None:
                    transcript.append(_proxy_entry(proxy))
                    spent = proxy.meter.summary()
                    tokens, cost = spent.tokens, spent.cost_usd
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
        return Attempt(agent=self.name, patch=patch, transcript=transcript, tokens=tokens,
                       cost_usd=cost, seconds=time.monotonic() - started, error=error)


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


def _proxy_entry(proxy: ProxySession) -> dict[str, object]:
    """The model calls the command made through the proxy, in numbers, and why the budget
    stopped them if it did. Counts are under `usage` with plain names (`input`, `output`,
    `total`): a key named like `tokens` reads as a credential to the scrubber that stores the
    transcript."""
    summary = proxy.meter.summary()
    entry: dict[str, object] = {
        "kind": "model_proxy", "calls": summary.calls, "refused": summary.refused,
        "usage": {"input": summary.input_tokens, "output": summary.output_tokens,
                  "total": summary.tokens, "limit": summary.max_tokens},
        "cost_usd": summary.cost_usd, "cost_limit_usd": summary.max_cost_usd,
        # The path and model name are the command's words: scrubbed like its output.
        "calls_log": [_call_entry(call) for call in summary.log]}
    spent = proxy.meter.refusal()
    if spent:
        entry["budget"] = spent
    return entry


def _call_entry(call: ModelCall) -> dict[str, object]:
    entry: dict[str, object] = {
        "style": call.style, "path": scrub_text(call.path), "status": call.status,
        "stream": call.stream, "model": scrub_text(call.model), "input": call.input_tokens,
        "output": call.output_tokens, "cost_usd": call.cost_usd, "seconds": call.seconds}
    if call.estimated:
        entry["estimated"] = True
    if call.refused:
        entry["refused"] = scrub_text(call.refused)
    return entry
