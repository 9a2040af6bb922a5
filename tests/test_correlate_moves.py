"""What blame credits a commit with: the lines around the crash, and not lines it only moved."""

from __future__ import annotations

import pytest

from integrations.git import GitRepository
from tests.gitrepo import GitRepoBuilder, lines
from tests.test_correlate_signals import (
    ANCIENT,
    CART,
    DAY,
    FIRST_SEEN,
    GRACE,
    LINUS,
    by_sha,
)
from worker.correlate.engine import correlate
from worker.correlate.evidence import NEAR_LINES, blamed_span
from worker.correlate.models import MappedFrame
from worker.correlate.moves import is_moved, removed_texts
from worker.models import ErrorEvent, ExceptionInfo, Frame, Source

BILLING = ['"""Billing."""', "", "", *CART[3:8]]  # `total`, moved: the crash is on line 6


@pytest.fixture
def shop(tmp_path) -> GitRepoBuilder:
    """Cart arithmetic written long before the crash."""
    builder = GitRepoBuilder(tmp_path / "shop")
    builder.commit({"src/shop/cart.py": lines(*CART)}, "import the shop", author=LINUS,
                   date=ANCIENT)
    return builder


def crash_in_billing() -> ErrorEvent:
    frame = Frame(abs_path="/app/src/shop/billing.py", module="shop.billing", function="total",
                  lineno=6)
    return ErrorEvent(source=Source.SENTRY, event_id="e1", timestamp=FIRST_SEEN,
                      exceptions=[ExceptionInfo(type="KeyError", value="rate", frames=[frame])])


def move_total(shop: GitRepoBuilder, billing: list[str]) -> str:
    """A commit that takes `total` out of cart.py into billing.py."""
    return shop.commit({"src/shop/cart.py": lines(*CART[:3], *CART[10:]),
                        "src/shop/billing.py": lines(*billing)},
                       "move total into billing", author=GRACE, date=DAY)


def test_a_commit_that_only_moved_the_crashing_code_did_not_write_it(shop):
    mover = move_total(shop, BILLING)
    found = correlate(GitRepository(shop.path), crash_in_billing(), first_seen=FIRST_SEEN)
    reasons = by_sha(found)[mover].reasons
    assert "touched a file on the stack" in reasons
    assert not any("crash" in reason or "wrote" in reason for reason in reasons)


def test_a_line_changed_while_moving_is_written_by_the_mover(shop):
    changed = [*BILLING[:5], '    rate = discounts.get("rate", 0)', *BILLING[6:]]
    mover = move_total(shop, changed)
    found = correlate(GitRepository(shop.path), crash_in_billing(), first_seen=FIRST_SEEN)
    assert by_sha(found)[mover].reasons[0] == \
        "last changed the crashing line src/shop/billing.py:6"


def test_moved_lines_are_long_enough_to_tell():
    removed = removed_texts(["        total = subtotal * rate", "    else:", "    return x"])
    assert is_moved("total = subtotal * rate", removed)  # indentation does not count
    assert not is_moved("    else:", removed)  # too common to say where it came from
    assert not is_moved("total = subtotal * rate * 2", removed)
    assert not is_moved(None, removed)


def frame(line: int | None, function_range: tuple[int, int] | None) -> MappedFrame:
    return MappedFrame(frame=Frame(filename="a.py", lineno=line), path="a.py", depth=0,
                       function_range=function_range)


def test_blame_counts_the_lines_around_the_crash_inside_its_function():
    assert blamed_span(frame(50, (10, 90))) == (50 - NEAR_LINES, 50 + NEAR_LINES)
    assert blamed_span(frame(11, (10, 90))) == (10, 11 + NEAR_LINES)  # not above the def
    assert blamed_span(frame(50, None)) == (50, 50)
    assert blamed_span(frame(None, (10, 20))) == (10, 20)
    assert blamed_span(frame(None, None)) is None
