"""Verification of a patch, all outside the model: diff policy, reproduction and suite.

A patch proposed by an agent counts only when machines it cannot talk to have checked it: the
diff policy refuses changes no crash fix needs (CI, deployment, dependencies, test machinery,
secrets, binaries) and any weakening of tests; the tests the patch adds must fail on the base and
pass on the fix; and no test that passed on the base may fail on the fix. Everything runs in
throwaway git worktrees, and every test command in the sandbox.
"""

from __future__ import annotations

from worker.verify.diff_policy import DiffPolicy, check_diff_policy
from worker.verify.diffparse import DiffError, FileDiff, changed_lines, parse_diff
from worker.verify.verifier import choose_best, verify_patch

__all__ = [
    "DiffError",
    "DiffPolicy",
    "FileDiff",
    "changed_lines",
    "check_diff_policy",
    "choose_best",
    "parse_diff",
    "verify_patch",
]
