"""Which commit brought the crash in, found by running a verified reproduction test back in
history.

A verified patch comes with a test that fails on the base with the crash's error. That test is
the sharpest evidence suture has: at any older commit, the test's files are added to a
throwaway worktree and the narrowed test command runs in the sandbox. The crash is there
("bad") when a reproduction test fails with the crash's error type and, when it is known, names
the crash's innermost function; it is not ("good") when every reproduction test passes, or
("absent") when the test cannot import what it calls because that code does not exist yet.
Where the test files no longer apply as a patch, Python tests are carried over by name
(`staging`). Anything else, including tests that cannot be put in place, cannot tell ("skip").
First-parent history is bisected (`bisection.first_bad`); when the first bad commit merges a
branch, the branch's own commits are bisected too, so the answer is a change someone wrote
rather than the merge.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path

from worker.fix.models import SandboxPolicy
from worker.ports import Sandbox, Workspace, WorkspaceError
from worker.verify.bisection import BAD, Bisection, first_bad, record
from worker.verify.diffparse import parse_diff
from worker.verify.outcomes import PASSED, RED
from worker.verify.paths import is_test_path
from worker.verify.staging import modules_of, stage_tests
from worker.verify.suite import TestRun, run_tests

_IMPORT_FAILURE = re.compile(r"\b(?:ImportError|ModuleNotFoundError)\b|cannot import name")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class Reproduction:
    """A verified patch's reproduction: its tests, how to run them, and the crash they show."""

    patch: str
    tests: list[str]
    command: str  # runs the reproduction tests (the verdict's narrowed command)
    expected_error: str | None = None
    expected_function: str | None = None


@dataclass(frozen=True)
class Limits:
    """How far back bisection looks and how many runs of the reproduction it may spend."""

    max_commits: int = 4096
    max_probes: int = 20
    max_seconds: float = 1800.0  # no run of the reproduction starts after this


def find_culprit(workspace: Workspace, base: str, reproduction: Reproduction, *,
                 sandbox: Sandbox, policy: SandboxPolicy | None = None,
                 limits: Limits | None = None, check_base: bool = False) -> Bisection:
    """Bisect the first-parent history below `base` (where the reproduction fails) for the
    commit that brought the crash in; with `check_base`, the reproduction is first run on the
    base, and must fail there the crash's way. Raises WorkspaceError when git cannot read the
    repository or the patch does not apply."""
    limits = limits or Limits()
    policy = policy or SandboxPolicy()
    with workspace.worktrees(base, ("fix", "probe")) as tree:
        tests_patch = _tests_patch(workspace, tree["fix"], reproduction.patch)
        if not tests_patch:
            return Bisection(reason="the patch adds no test files to run back in history")
        modules = {path: workspace.staged_text(tree["fix"], path) or ""
                   for path in modules_of(reproduction.tests)}
        prober = _Prober(workspace, tree["probe"], (tests_patch, modules), reproduction,
                         sandbox, policy)
        sha = workspace.resolve(base)
        history = workspace.first_parents(sha, limits.max_commits + 1)
        deadline = time.monotonic() + limits.max_seconds
        checked = [record(sha, *prober.probe(sha))] if check_base else []
        if checked and checked[0].verdict != BAD:
            return Bisection(reason=f"the test does not show the crash on the base: "
                                    f"{checked[0].detail}", probes=checked)
        found = first_bad(history, prober.probe, max_probes=limits.max_probes,
                          deadline=deadline)
        found.probes[:0] = checked
        if found.culprit and len(workspace.parents(found.culprit)) > 1:
            found = _inside_merge(workspace, found, prober, limits.max_probes, deadline)
        return _described(workspace, found)


class _Prober:
    """Runs the reproduction at one commit of a reused worktree."""

    def __init__(self, workspace: Workspace, tree: Path, tests: tuple[bytes, dict[str, str]],
                 reproduction: Reproduction, sandbox: Sandbox, policy: SandboxPolicy) -> None:
        self.workspace = workspace
        self.tree = tree
        self.tests_patch, self.modules = tests  # the patch's test changes; patched modules
        self.reproduction = reproduction
        self.sandbox = sandbox
        self.policy = policy

    def probe(self, sha: str) -> tuple[str, str]:
        self.workspace.checkout(self.tree, sha)
        self.workspace.reset_to_index(self.tree)
        # The patch's test changes as they are; failing that, the tests carried over by name.
        problem = self.workspace.apply(self.tree, self.tests_patch) and self._stage()
        if problem:
            return "skip", f"the reproduction test does not apply: {problem[:200]}"
        self.workspace.reset_to_index(self.tree)
        run = run_tests(self.sandbox, self.tree, self.reproduction.command, self.policy)
        return judge_probe(run, self.reproduction)

    def _stage(self) -> str | None:
        """Carry the reproduction tests into this commit's test modules (when the patch does
        not apply); what stood in the way, if anything."""
        self.workspace.reset_to_index(self.tree)
        names = modules_of(self.reproduction.tests)
        if not names or len(names) < len({t.partition("::")[0]
                                          for t in self.reproduction.tests}):
            return "only Python test modules can be carried to older commits"
        for path, wanted in names.items():
            target = self.tree / path
            # The ids come from the patch: never write through a link or outside the tree.
            if target.is_symlink() or not target.resolve().is_relative_to(self.tree.resolve()):
                return f"{path} is not a plain file inside the repository"
            older = target.read_text("utf-8", "replace") if target.is_file() else None
            text = stage_tests(older, self.modules[path], wanted) if older is not None \
                else self.modules[path]
            if text is None:
                return f"the tests could not be carried into {path}"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, "utf-8")
        self.workspace.stage(self.tree, sorted(names))
        return None


def judge_probe(run: TestRun, reproduction: Reproduction) -> tuple[str, str]:
    """The verdict of one run of the reproduction tests: bad, good, absent or skip, and why."""
    outcomes = {test: run.outcomes.of(test) for test in reproduction.tests}
    text = "\n".join((run.result.stdout, run.result.stderr))
    red = [t for t, outcome in outcomes.items() if outcome in RED]
    error, function = reproduction.expected_error, _identifier(reproduction.expected_function)
    if red and (error is None or re.search(rf"\b{re.escape(error)}\b", text)):
        if function is None or re.search(rf"\b{re.escape(function)}\b", text):
            return BAD, f"{red[0]} fails with the crash's error"
        return "skip", f"{red[0]} fails with {error}, but not in {function}"
    if outcomes and all(outcome == PASSED for outcome in outcomes.values()):
        return "good", "every reproduction test passes"
    if error is not None and not _IMPORT_FAILURE.search(error) and _IMPORT_FAILURE.search(text):
        return "absent", "the reproduction cannot import what it calls"
    listed = ", ".join(f"{t} ({o})" for t, o in outcomes.items())
    return "skip", f"the reproduction fails another way: {listed}"[:300]


def _tests_patch(workspace: Workspace, fix_tree: Path, patch: str) -> bytes:
    """The patch's changes to test files, as git writes them after applying it."""
    problem = workspace.apply(fix_tree, patch.encode("utf-8", "surrogateescape"))
    if problem:
        raise WorkspaceError(f"the patch does not apply to the base: {problem}")
    applied = workspace.staged_diff(fix_tree).decode("utf-8", "replace")
    paths = sorted({p for f in parse_diff(applied) for p in f.paths if is_test_path(p)})
    return workspace.staged_diff(fix_tree, paths, binary=True) if paths else b""


def _described(workspace: Workspace, found: Bisection) -> Bisection:
    """The bisection with its culprit's author and subject line."""
    if not found.culprit:
        return found
    author, summary = workspace.author_and_subject(found.culprit)
    return found.model_copy(update={"author": author, "summary": summary})


def _inside_merge(workspace: Workspace, merge: Bisection, prober: _Prober, max_probes: int,
                  deadline: float) -> Bisection:
    """The first bad commit of the branch `merge.culprit` merged, when its tip is bad."""
    sha = merge.culprit or ""
    branch = workspace.merged_branch(sha)
    left = max_probes - len(merge.probes)
    below = workspace.parents(branch[-1])[:1] if branch else []
    if not below or left < 2 or time.monotonic() >= deadline:
        return merge
    base = below[0]
    verdict, detail = prober.probe(branch[0])
    tip = [*merge.probes, record(branch[0], verdict, detail)]
    if verdict != BAD:
        return merge.model_copy(update={
            "probes": tip, "reason": f"{merge.reason}; it merges a branch whose tip "
                                     f"{branch[0][:12]} does not fail the same way"})
    found = first_bad([*branch, base], prober.probe, max_probes=left - 1,
                      reach=(len(branch),), deadline=deadline)
    probes = tip + found.probes
    if found.culprit is None:
        return merge.model_copy(update={
            "probes": probes, "reason": f"{merge.reason}; inside the branch it merges: "
                                        f"{found.reason}"})
    return found.model_copy(update={
        "probes": probes, "searched": merge.searched + found.searched,
        "reason": f"{found.reason}, inside the branch merged by {sha[:12]}"})


def _identifier(name: str | None) -> str | None:
    """The function name to look for in a failure, when it is a plain identifier."""
    if not name:
        return None
    last = name.rsplit(".", 1)[-1]
    return last if _IDENTIFIER.fullmatch(last) else None
