"""The template agent: fixes common Python crash classes offline, for free and deterministically,
by applying a fixed libcst rewrite at the crashing line (a None guard, a missing-key default, a
zero guard), in the manner of SapFix and Getafix templates, and leaves a regression test that
reproduces the crash.

The regression test is checked both ways through the sandbox: it must fail on the unfixed code,
with the crash's own exception (else it is dropped as no reproduction), and pass once the
template is applied (else the attempt is withdrawn and the worktree restored). No template is not
an exception: the attempt comes back with `error` saying why.
"""

from __future__ import annotations

import difflib
import re
import time
from pathlib import Path

from integrations.agents.crash_site import CrashSite, locate
from integrations.agents.cstedit import NoRewrite
from integrations.agents.reproducer import (
    NoReproduction,
    Reproduction,
    write_regression_test,
)
from integrations.agents.rewrites import TEMPLATES, Rewrite
from worker.fix.models import Attempt, CommandResult, FixTask, Limits, SandboxPolicy
from worker.ports import Sandbox

# No bytecode: the caller takes the patch from the worktree, so running tests must leave no
# __pycache__ behind (pytest's cache is off on the command line for the same reason).
_POLICY = SandboxPolicy(env={"PYTHONDONTWRITEBYTECODE": "1"}, limits=Limits(wall_seconds=120))
_OUTPUT_TAIL = 2000
_FAILURE_LINE = re.compile(r"^E\s+(.+)$", re.MULTILINE)  # pytest's lines of what was raised
_RAISED = re.compile(r"[A-Za-z_][\w.]*(?:Error|Exception|Exit)\b")


class TemplateAgent:
    """A `CodingAgent` that applies a fix template at the crash site and writes a regression
    test; it calls no model, so every attempt costs nothing and comes out the same."""

    def __init__(self, name: str = "templates") -> None:
        self.name = name

    def attempt(self, task: FixTask, worktree: Path, sandbox: Sandbox) -> Attempt:
        """Fix `task`'s crash in `worktree`, or say why no template applies."""
        started = time.monotonic()
        log: list[dict[str, object]] = []
        try:
            site, rewrite = self._plan(task, worktree, log)
        except NoRewrite as exc:
            log.append({"step": "refuse", "reason": str(exc)})
            return self._attempt(log, started, error=str(exc))
        file = worktree / site.path
        original = file.read_bytes()
        reproduction: Reproduction | None = None
        try:
            reproduction = self._reproduce(task, worktree, site, sandbox, log)
            file.write_bytes(rewrite.text.encode("utf-8"))
            log.append(_rewrite_entry(site, original.decode("utf-8"), rewrite))
            error = self._confirm(reproduction, worktree, sandbox, log) if reproduction else ""
        except BaseException:
            _restore(worktree, file, original, reproduction)
            raise
        if error:
            _restore(worktree, file, original, reproduction)
            log.append({"step": "revert", "reason": error})
        return self._attempt(log, started, error=error)

    def _attempt(self, log: list[dict[str, object]], started: float, error: str = "") -> Attempt:
        return Attempt(agent=self.name, transcript=log, error=error,
                       seconds=round(time.monotonic() - started, 3))

    def _plan(self, task: FixTask, worktree: Path,
              log: list[dict[str, object]]) -> tuple[CrashSite, Rewrite]:
        """Find the crash site and the template's rewrite of it."""
        site = locate(task, worktree)
        try:
            text = (worktree / site.path).read_bytes().decode("utf-8")
        except UnicodeDecodeError as exc:
            raise NoRewrite(f"{site.path} is not UTF-8 text") from exc
        log.append({"step": "locate", "file": site.path, "line": site.line,
                    "function": site.function, "code": text.splitlines()[site.line - 1].strip()})
        error_type = _error_type(task)
        template = TEMPLATES.get(error_type)
        if template is None:
            raise NoRewrite(f"no template for {error_type[:80]} (there are templates for "
                            f"{', '.join(TEMPLATES)})")
        message = task.event.primary.value if task.event.primary else ""
        rewrite = template(text, site.line, message)
        if rewrite.text == text:
            raise NoRewrite("the template found nothing to change")
        return site, rewrite

    def _reproduce(self, task: FixTask, worktree: Path, site: CrashSite, sandbox: Sandbox,
                   log: list[dict[str, object]]) -> Reproduction | None:
        """Write the regression test and keep it only if it fails on the unfixed code with the
        crash's own exception."""
        error_type = _error_type(task)
        try:
            reproduction = write_regression_test(task.event, worktree, site, error_type)
        except NoReproduction as exc:
            log.append({"step": "reproduction", "written": False, "reason": str(exc)})
            return None
        log.append({"step": "reproduction", "written": True, "path": reproduction.path,
                    "strategy": reproduction.strategy})
        try:
            result = sandbox.run(worktree, reproduction.argv, _POLICY)
        except BaseException:
            (worktree / reproduction.path).unlink(missing_ok=True)
            raise
        log.append(_run_entry(result, expected="fail"))
        if result.exit_code != 0 and error_type in result.stdout + result.stderr:
            return reproduction
        (worktree / reproduction.path).unlink(missing_ok=True)
        why = ("it passes before the fix" if result.exit_code == 0
               else f"it fails before the fix without {error_type}")
        log.append({"step": "reproduction", "kept": False,
                    "reason": f"the test does not reproduce the crash ({why}); removed"})
        return None

    def _confirm(self, reproduction: Reproduction, worktree: Path, sandbox: Sandbox,
                 log: list[dict[str, object]]) -> str:
        """Run the regression test on the fix; an error message unless it passes."""
        result = sandbox.run(worktree, reproduction.argv, _POLICY)
        log.append(_run_entry(result, expected="pass"))
        if result.exit_code == 0:
            return ""
        return (f"the template's fix does not make {reproduction.path} pass: "
                f"{failure_of(result.stdout + result.stderr, 400)}")


def _error_type(task: FixTask) -> str:
    """The exception's class name, without its module (`builtins.KeyError` -> `KeyError`)."""
    return task.error_type.strip().rsplit(".", 1)[-1]


def _rewrite_entry(site: CrashSite, before: str, rewrite: Rewrite) -> dict[str, object]:
    diff = difflib.unified_diff(before.splitlines(keepends=True),
                                rewrite.text.splitlines(keepends=True),
                                f"a/{site.path}", f"b/{site.path}")
    return {"step": "rewrite", "template": rewrite.template, "file": site.path,
            "explanation": rewrite.notes, "diff": "".join(diff)}


def _run_entry(result: CommandResult, expected: str) -> dict[str, object]:
    return {"step": "run", "argv": result.argv, "expected": expected,
            "exit_code": result.exit_code, "timed_out": result.timed_out,
            "output": _tail(result.stdout + result.stderr, _OUTPUT_TAIL)}


def failure_of(output: str, limit: int) -> str:
    """What a failed pytest run says went wrong: the last exception it printed (`E   NameError:
    ...`), else its last failure line, else the output's tail; warnings and progress are not
    the reason a reviewer needs."""
    lines = [line.strip() for line in _FAILURE_LINE.findall(output)]
    raised = [line for line in lines if _RAISED.match(line)]
    chosen = raised[-1] if raised else lines[-1] if lines else ""
    if not chosen:
        return _tail(output, limit)
    return chosen if len(chosen) <= limit else chosen[:limit] + "..."


def _tail(text: str, limit: int) -> str:
    return text if len(text) <= limit else "..." + text[-limit:]


def _restore(worktree: Path, file: Path, original: bytes,
             reproduction: Reproduction | None) -> None:
    """Put the worktree back as it was found."""
    file.write_bytes(original)
    if reproduction is not None:
        (worktree / reproduction.path).unlink(missing_ok=True)
