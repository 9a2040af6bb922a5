"""Which changes cannot have changed behaviour, and which lines stop a program on purpose."""

from __future__ import annotations

import pytest

from worker.correlate.cosmetic import is_bot, is_cosmetic, is_guard
from worker.vcs import Hunk


def hunk(removed: list[str], added: list[str]) -> Hunk:
    return Hunk(sha="c" * 40, path="m.py", old_start=3, old_count=len(removed), new_start=3,
                new_count=len(added), removed=removed, added=added)


@pytest.mark.parametrize(("removed", "added"), [
    (["x = f(a)  # old note"], ["x = f(a)  # new note"]),                     # comment
    (['raise ValueError("bad rate")'], ['raise ValueError(f"bad rate {r}")']),  # message
    (["x = f(a, b)"], ["x = f(", "    a,", "    b,)"[:-2] + ")"]),              # layout
    (["node = fix(quick, q)", "use(quick)"], ["node = fix(missing, q)", "use(missing)"]),  # rename
    ([], ["# a comment", ""]),                                                # comment added
    (["// old", "x = 1;"], ["x = 1; // new"]),                                # JS comment moved
    ([") -> Generator[int, None, None]:"], [") -> Generator[int]:"]),         # return annotation
    (["call(a, b,)"], ["call(", "    a,", "    b", ")"]),                     # trailing comma
    (["def f(g, auto=True):"], ["def f(g: Poly, auto: bool = True) -> Poly:"]),  # annotations
    (["async def f(x: Optional[int] = None):"], ["async def f(x: int | None = None):"]),
    (['def f(a: "Q" = "s:t"):'], ['def f(a: str = "s:t"):']),              # a colon in a string
    (["def f(self, b=lambda x: x, **kw):"], ["def f(self, b=lambda x: x, **kw: Any) -> T:"]),
    (["def f(self: R[T]) -> T:", "    ..."], ["def f(", "    self: R[Tuple[T]],", ") -> T: ..."]),
    (["from b import y, x as z", "import c"],
     ["import c", "from b import x as z", "from b import y"]),             # imports sorted
])
def test_cosmetic_changes(removed, added):
    assert is_cosmetic([hunk(removed, added)])


@pytest.mark.parametrize(("removed", "added"), [
    (["x = f(a)"], ["x = g(a)"]),                           # another callee, not a rename
    (["if a and b:"], ["if a or b:"]),                      # a keyword changed
    (["x = 1"], ["x = 2"]),                                 # a number changed
    (["use(quick)", "keep(quick)"], ["use(missing)", "keep(other)"]),  # inconsistent rename
    ([], ["x = 1"]),                                        # code added
    (["x = 1"], []),                                        # code removed
    (["return a"], ["return a if a else None"]),            # more tokens
    (["def f(a: int = 1):"], ["def f(a: int = 2):"]),       # a default changed
    (["def f(a, b: int):"], ["def f(a, *, b: int):"]),      # keyword-only now
    (["x = {a: b}"], ["x = {a: c}"]),                       # not a signature: values count
    (["def f(b=lambda x: x):"], ["def f(b=lambda x: y):"]),  # a default's lambda changed
    (["from b import y"], ["from c import y"]),             # imported from elsewhere
    (["from b import y"], ["from b import y", "y()"]),      # imports and code
])
def test_behavioural_changes(removed, added):
    assert not is_cosmetic([hunk(removed, added)])


def located(start: int, removed: list[str], added: list[str]) -> Hunk:
    return Hunk(sha="c" * 40, path="m.py", old_start=start, old_count=len(removed),
                new_start=start, new_count=len(added), removed=removed, added=added)


def test_tokens_rewrapped_across_an_unchanged_line_are_layout():
    # A formatter rewrapped two calls; git matched the first call's `)` line with the second's,
    # so `b` left the first hunk and arrived in the second.
    first = located(10, ["items = call(a, b,"], ["items = call(", "    a,"])
    second = located(12, ["other(c)"], ["    b,", "other(c)  # kept"])
    assert is_cosmetic([first, second])
    assert not is_cosmetic([first]) and not is_cosmetic([second])


def test_a_statement_moved_far_away_in_its_file_is_not_layout():
    taken = located(10, ["setup()"], [])
    put = located(80, [], ["setup()"])
    assert not is_cosmetic([taken, put])


def test_imports_moved_between_blocks_of_a_file_are_layout():
    taken = located(3, ["from b import x"], [])
    put = located(40, [], ["from b import x"])
    assert is_cosmetic([taken, put])
    assert not is_cosmetic([taken])


def test_a_rename_spread_over_a_commit_counts_across_its_hunks():
    first = hunk(["node = fix(quick)"], ["node = fix(missing)"])
    second = hunk(["use(self.quick)"], ["use(self.missing)"])
    assert is_cosmetic([first, second])
    assert not is_cosmetic([first])
    assert not is_cosmetic([])


@pytest.mark.parametrize(("line", "guard"), [
    ("    assert info is not None", True),
    ('        raise RuntimeError("Not implemented", type(self))', True),
    ("  throw new Error('nope');", True),
    ('\tpanic("unreachable")', True),
    ("    value = items[key]", False),
    ("    raised = True", False),
    (None, False),
])
def test_guard_lines(line, guard):
    assert is_guard(line) is guard


@pytest.mark.parametrize(("author", "email", "bot"), [
    ("pre-commit-ci[bot]", "66853113+pre-commit-ci[bot]@users.noreply.github.com", True),
    ("dependabot[bot]", "49699333+dependabot[bot]@users.noreply.github.com", True),
    ("renovate", "bot@renovateapp.com", True),
    ("Ada Lovelace", "ada@example.com", False),
    ("Robert Botham", "robert@example.com", False),
])
def test_automated_authors(author, email, bot):
    assert is_bot(author, email) is bot
