"""Finding the commit that brought a crash in, by running a verified reproduction test back in
history: the bisection itself over scripted probes, and `find_culprit` on small real git
repositories (a plain history, a merged branch, a function that did not exist yet) with the
tests run for real; and `suture verify --bisect`."""

from __future__ import annotations

import json
import time
from types import SimpleNamespace

import pytest

from integrations.git import GitWorkspace
from tests.gitrepo import GitRepoBuilder, git, lines
from tests.support import LocalSandbox
from worker.cli.verify import verify_cli
from worker.fix.models import CommandResult
from worker.stage_settings import FixSettings
from worker.stages.bisect import bisect_crash
from worker.verify import suite
from worker.verify.bisection import ABSENT, BAD, GOOD, SKIP, first_bad
from worker.verify.origin import Limits, Reproduction, find_culprit, judge_probe
from worker.verify.outcomes import parse_outcomes
from worker.verify.staging import modules_of, stage_tests

HISTORY = [f"{index:040x}" for index in range(1000)]  # newest first


def crash_started_at(start: int, untestable: frozenset[int] = frozenset()):
    """A probe for `HISTORY` where the commits up to index `start` crash."""
    def probe(sha: str) -> tuple[str, str]:
        index = HISTORY.index(sha)
        if index in untestable:
            return SKIP, "cannot run"
        return (BAD, "crash") if index <= start else (GOOD, "passes")
    return probe


# --- bisection -------------------------------------------------------------------------------

@pytest.mark.parametrize("start", [0, 1, 3, 4, 5, 17, 63, 64, 65, 300, 998])
def test_the_first_bad_commit_is_found_wherever_the_crash_started(start: int) -> None:
    found = first_bad(HISTORY, crash_started_at(start))
    assert found.culprit == HISTORY[start]
    assert found.good == HISTORY[start + 1]
    assert "passes at its parent" in found.reason
    assert len(found.probes) <= 17, "growing reach, then halving: about 2 log2(distance) runs"
    assert HISTORY[0] not in [p.sha for p in found.probes], "the base is known to crash"


def test_untestable_commits_are_stepped_around() -> None:
    found = first_bad(HISTORY, crash_started_at(41, frozenset({40, 39, 50})))
    assert found.culprit == HISTORY[41]
    skipped = [p for p in found.probes if p.verdict == SKIP]
    assert skipped and all(p.detail == "cannot run" for p in skipped)


def test_an_untestable_boundary_is_not_guessed() -> None:
    # The crash starts at 41, which cannot be tested, nor can its neighbours up to 39.
    found = first_bad(HISTORY, crash_started_at(41, frozenset({41, 40, 39})))
    assert found.culprit is None
    assert found.reason == (f"the commits between {HISTORY[42][:12]} (good) and "
                            f"{HISTORY[38][:12]} (bad) cannot be tested")


def test_a_bracket_that_cannot_be_tested_ends_with_the_reason() -> None:
    found = first_bad(HISTORY, crash_started_at(20, frozenset(range(5, 64))))
    assert found.culprit is None
    assert "cannot be tested" in found.reason


def test_no_clean_commit_within_reach_is_said() -> None:
    found = first_bad(HISTORY[:30], crash_started_at(500))
    assert found.culprit is None
    assert found.reason == "no commit within 29 commits of history passes the reproduction"
    assert found.searched == 30


def test_the_probe_budget_is_kept() -> None:
    found = first_bad(HISTORY, crash_started_at(700), max_probes=5)
    assert found.culprit is None and len(found.probes) == 5
    assert found.reason == "stopped after 5 runs of the reproduction"


def test_absent_code_counts_as_clean_and_the_reason_says_so() -> None:
    def probe(sha: str) -> tuple[str, str]:
        return (BAD, "crash") if HISTORY.index(sha) <= 9 else (ABSENT, "cannot import")
    found = first_bad(HISTORY, probe)
    assert found.culprit == HISTORY[9]
    assert "does not have the code it calls" in found.reason


def test_an_unknown_verdict_is_a_skip() -> None:
    found = first_bad(HISTORY[:3], lambda sha: ("maybe", "?"))
    assert [p.verdict for p in found.probes] == [SKIP, SKIP]  # the oldest, then nearer
    assert found.culprit is None


# --- judging one run -------------------------------------------------------------------------

def run_of(output: str, exit_code: int = 1) -> suite.TestRun:
    result = CommandResult(argv=["sh"], exit_code=exit_code, stdout=output)
    return suite.TestRun("pytest", result, parse_outcomes(output, exit_code))


SUMMARY = "=== short test summary info ===\n"
FAILURE = ("    def average(prices):\n>       return sum(prices) // len(prices)\n"
           "E       ZeroDivisionError: integer division or modulo by zero\n")
REPRO = Reproduction(patch="", tests=["t.py::test_empty"], command="pytest",
                     expected_error="ZeroDivisionError", expected_function="shop.average")


def test_a_run_is_bad_only_with_the_crash_error_in_the_crash_function() -> None:
    failed = SUMMARY + "FAILED t.py::test_empty - ZeroDivisionError\n"
    assert judge_probe(run_of(FAILURE + failed), REPRO)[0] == BAD
    elsewhere = FAILURE.replace("def average", "def median")
    verdict, detail = judge_probe(run_of(elsewhere + failed), REPRO)
    assert verdict == SKIP and "not in average" in detail
    other = SUMMARY + "FAILED t.py::test_empty - AssertionError\n"
    assert judge_probe(run_of("E   AssertionError\n" + other), REPRO)[0] == SKIP


def test_a_run_is_good_when_every_reproduction_test_passes_and_absent_on_import_errors() -> None:
    assert judge_probe(run_of(SUMMARY + "PASSED t.py::test_empty\n", 0), REPRO)[0] == GOOD
    missing = ("E   ImportError: cannot import name 'average' from 'shop'\n" + SUMMARY
               + "ERROR t.py - ImportError: cannot import name 'average'\n")
    assert judge_probe(run_of(missing), REPRO)[0] == ABSENT


# --- on real repositories --------------------------------------------------------------------

GUARDED = lines(
    "def average(prices):",
    "    if not prices:",
    "        return 0",
    "    return sum(prices) // len(prices)",
)
UNGUARDED = lines(
    "def average(prices):",
    "    return sum(prices) // len(prices)",
)
REPRO_TEST = lines(
    "from shop.pricing import average",
    "",
    "",
    "def test_average_of_an_empty_cart():",
    "    assert average([]) == 0",
)
REPRO_ID = "tests/test_empty_cart.py::test_average_of_an_empty_cart"


def fix_patch(repo: GitRepoBuilder) -> str:
    """The fix with its reproduction test, against HEAD; the tree is left clean."""
    repo.write({"shop/pricing.py": GUARDED, "tests/test_empty_cart.py": REPRO_TEST})
    git(repo.path, "add", "-A")
    try:
        return git(repo.path, "diff", "--cached", "HEAD") + "\n"
    finally:
        git(repo.path, "reset", "-q", "--hard", "HEAD")


def culprit_of(repo: GitRepoBuilder, **limits: int):
    reproduction = Reproduction(patch=fix_patch(repo), tests=[REPRO_ID],
                                command=f"python -m pytest -q -p no:cacheprovider {REPRO_ID}",
                                expected_error="ZeroDivisionError", expected_function="average")
    return find_culprit(GitWorkspace(repo.path), "main", reproduction, sandbox=LocalSandbox(),
                        limits=Limits(**limits))


def chores(repo: GitRepoBuilder, count: int, start: int) -> None:
    for index in range(start, start + count):
        repo.commit({"shop/notes.txt": f"note {index}\n"}, f"Note {index}")


def test_the_commit_that_dropped_the_guard_is_found(tmp_path) -> None:
    repo = GitRepoBuilder(tmp_path / "repo")
    repo.commit({"shop/__init__.py": "", "shop/pricing.py": GUARDED}, "Prices")
    chores(repo, 9, 0)
    culprit = repo.commit({"shop/pricing.py": UNGUARDED}, "Simplify average",
                          author=("Grace Hopper", "grace@example.com"))
    chores(repo, 6, 9)
    found = culprit_of(repo)
    assert found.culprit == culprit
    assert found.good == git(repo.path, "rev-parse", f"{culprit}^")
    assert (found.author, found.summary) == ("Grace Hopper", "Simplify average")
    assert len(found.probes) <= 8
    assert git(repo.path, "status", "--porcelain") == "", "the work tree is untouched"
    assert "suture-verify" not in git(repo.path, "worktree", "list")


def test_a_merged_branch_is_bisected_down_to_its_own_commit(tmp_path) -> None:
    repo = GitRepoBuilder(tmp_path / "repo")
    repo.commit({"shop/__init__.py": "", "shop/pricing.py": GUARDED}, "Prices")
    chores(repo, 3, 0)
    git(repo.path, "checkout", "-q", "-b", "simpler")
    repo.commit({"shop/readme.txt": "pricing\n"}, "Describe pricing")
    culprit = repo.commit({"shop/pricing.py": UNGUARDED}, "Simplify average")
    repo.commit({"shop/readme.txt": "pricing, simply\n"}, "Describe it again")
    git(repo.path, "checkout", "-q", "main")
    chores(repo, 2, 3)
    git(repo.path, "merge", "-q", "--no-ff", "-m", "Merge simpler", "simpler",
        env={"GIT_AUTHOR_NAME": "M", "GIT_AUTHOR_EMAIL": "m@example.com",
             "GIT_COMMITTER_NAME": "M", "GIT_COMMITTER_EMAIL": "m@example.com"})
    chores(repo, 4, 5)
    found = culprit_of(repo)
    assert found.culprit == culprit, found.reason
    assert "inside the branch merged by" in found.reason


def test_a_crash_born_with_its_function_starts_where_the_function_appears(tmp_path) -> None:
    repo = GitRepoBuilder(tmp_path / "repo")
    repo.commit({"shop/__init__.py": "", "shop/pricing.py": "TAX = 0\n"}, "Prices")
    chores(repo, 5, 0)
    culprit = repo.commit({"shop/pricing.py": "TAX = 0\n\n\n" + UNGUARDED}, "Add average")
    chores(repo, 5, 5)
    found = culprit_of(repo)
    assert found.culprit == culprit
    assert "does not have the code it calls" in found.reason
    assert ABSENT in [p.verdict for p in found.probes]


def test_a_crash_as_old_as_the_history_names_no_culprit(tmp_path) -> None:
    repo = GitRepoBuilder(tmp_path / "repo")
    repo.commit({"shop/__init__.py": "", "shop/pricing.py": UNGUARDED}, "Prices")
    chores(repo, 6, 0)
    found = culprit_of(repo, max_probes=4)
    assert found.culprit is None
    assert found.reason == "no commit within 6 commits of history passes the reproduction"


def test_suture_verify_bisects_a_verified_patch_on_request(tmp_path, capsys) -> None:
    repo = GitRepoBuilder(tmp_path / "repo")
    repo.commit({"shop/__init__.py": "", "shop/pricing.py": GUARDED}, "Prices")
    chores(repo, 3, 0)
    culprit = repo.commit({"shop/pricing.py": UNGUARDED}, "Simplify average")
    chores(repo, 2, 3)
    patch_file = tmp_path / "fix.patch"
    patch_file.write_text(fix_patch(repo))
    status = verify_cli(GitWorkspace(repo.path), "main", patch_file, None, True, LocalSandbox(),
                        error="ZeroDivisionError", bisect=True)
    printed = json.loads(capsys.readouterr().out)
    assert status == 0 and printed["verified"] is True
    assert printed["bisection"]["culprit"] == culprit
    assert printed["bisection"]["summary"] == "Simplify average"
    verify_cli(GitWorkspace(repo.path), "main", patch_file, None, False, LocalSandbox(),
               error="ZeroDivisionError", bisect=True)
    assert f"bisection: {culprit[:12]} Simplify average (Ada Lovelace): the reproduction " \
           f"fails at {culprit[:12]}" in capsys.readouterr().out


def test_when_far_commits_cannot_run_the_test_nearer_ones_are_tried() -> None:
    # The crash started at 300; nothing older than 500 can run the test at all.
    found = first_bad(HISTORY, crash_started_at(300, frozenset(range(500, 1000))))
    assert found.culprit == HISTORY[300]
    assert len(found.probes) <= 20


# --- carrying tests to older commits ---------------------------------------------------------

def test_the_named_tests_and_missing_imports_are_carried_into_an_older_module() -> None:
    older = lines("from shop.pricing import total", "", "", "def test_total():",
                  "    assert total([1]) == 1")
    patched = lines("from __future__ import annotations", "", "import pytest",
                    "from shop.pricing import average, total", "", "",
                    "def test_total():", "    assert total([1, 2]) == 3", "", "",
                    "@pytest.mark.slow", "def test_empty():", "    assert average([]) == 0", "",
                    "", "class TestMore:", "    def test_one(self):", "        pass")
    staged = stage_tests(older, patched, {"test_empty"})
    assert staged is not None
    assert staged.startswith(older.rstrip("\n"))
    assert "from __future__" not in staged
    assert "import pytest" in staged and "from shop.pricing import average, total" in staged
    assert "@pytest.mark.slow\ndef test_empty():\n    assert average([]) == 0" in staged
    assert "TestMore" not in staged and "total([1, 2])" not in staged
    compile(staged, "t.py", "exec")
    assert stage_tests(older, patched, {"test_gone"}) is None
    assert stage_tests(older, "def (", {"test_empty"}) is None
    assert modules_of(["t/a.py::TestX::test_y[1]", "t/a.py::test_z", "t/b.go"]) == {
        "t/a.py": {"TestX", "test_z"}}


def test_a_test_appended_to_a_busy_module_is_carried_back_in_history(tmp_path) -> None:
    repo = GitRepoBuilder(tmp_path / "repo")
    suite = lines("from shop.pricing import average", "")
    repo.commit({"shop/__init__.py": "", "shop/pricing.py": GUARDED,
                 "tests/test_pricing.py": suite}, "Prices")
    for index in range(8):  # every commit appends a test, so old versions end differently
        suite += lines("", "", f"def test_average_{index}():",
                       f"    assert average([{index}, {index}]) == {index}")
        if index == 4:
            repo.commit({"shop/pricing.py": UNGUARDED, "tests/test_pricing.py": suite},
                        "Simplify average")
            culprit = git(repo.path, "rev-parse", "HEAD")
        else:
            repo.commit({"tests/test_pricing.py": suite}, f"Test {index}")
    repo.write({"shop/pricing.py": GUARDED, "tests/test_pricing.py": suite + lines(
        "", "", "def test_average_of_an_empty_cart():", "    assert average([]) == 0")})
    git(repo.path, "add", "-A")
    patch = git(repo.path, "diff", "--cached", "HEAD") + "\n"
    git(repo.path, "reset", "-q", "--hard", "HEAD")
    test_id = "tests/test_pricing.py::test_average_of_an_empty_cart"
    reproduction = Reproduction(patch=patch, tests=[test_id],
                                command=f"python -m pytest -q -p no:cacheprovider {test_id}",
                                expected_error="ZeroDivisionError", expected_function="average")
    found = find_culprit(GitWorkspace(repo.path), "main", reproduction, sandbox=LocalSandbox())
    assert found.culprit == culprit, found
    assert not any("does not apply" in p.detail for p in found.probes)


def test_no_run_starts_after_the_deadline() -> None:
    found = first_bad(HISTORY, crash_started_at(50), deadline=time.monotonic() - 1)
    assert found.culprit is None and found.probes == []
    assert found.reason == "stopped after 0 runs of the reproduction: out of time"


def test_a_test_that_passes_on_the_base_is_not_bisected_when_the_base_is_checked(tmp_path):
    repo = GitRepoBuilder(tmp_path / "repo")
    repo.commit({"shop/__init__.py": "", "shop/pricing.py": GUARDED}, "Prices")
    chores(repo, 3, 0)
    reproduction = Reproduction(patch=fix_patch(repo), tests=[REPRO_ID],
                                command=f"python -m pytest -q -p no:cacheprovider {REPRO_ID}",
                                expected_error="ZeroDivisionError", expected_function="average")
    found = find_culprit(GitWorkspace(repo.path), "main", reproduction, sandbox=LocalSandbox(),
                         check_base=True)
    assert found.culprit is None
    assert found.reason == ("the test does not show the crash on the base: every reproduction "
                            "test passes")
    assert [p.verdict for p in found.probes] == [GOOD]


def test_the_parent_verdict_tells_a_passing_parent_from_absent_code() -> None:
    assert first_bad(HISTORY, crash_started_at(9)).good_verdict == GOOD
    absent = first_bad(HISTORY, lambda sha: (BAD, "") if HISTORY.index(sha) <= 9
                       else (ABSENT, ""))
    assert absent.good_verdict == ABSENT
    assert first_bad(HISTORY[:5], crash_started_at(900)).good_verdict == ""


# --- the stage's choice ----------------------------------------------------------------------

@pytest.mark.parametrize(("fix", "seconds_left", "reason"), [
    ({"bisect_probes": 0}, 3000, "bisection is switched off"),
    ({}, 200, "no time was left in the stage to bisect"),  # a sandbox run may take 300 s
    ({}, 3000, "no test reproduces the crash to bisect with"),
])
def test_the_stage_says_why_it_did_not_bisect(fix, seconds_left, reason) -> None:
    deps = SimpleNamespace(settings=SimpleNamespace(fix=FixSettings(**fix)))
    found = bisect_crash(deps, None, "main", [], None, LocalSandbox(), None, None,  # type: ignore[arg-type]
                         seconds_left=seconds_left)
    assert (found.culprit, found.reason) == (None, reason)
