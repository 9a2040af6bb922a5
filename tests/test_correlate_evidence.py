"""The signals measured beyond the stack's own lines, on small real repositories: commits beside
the stack's files, cosmetic changes, guard lines, older history and fading with age."""

from __future__ import annotations

import dataclasses

import pytest

from integrations.git import GitRepository
from tests.gitrepo import GitRepoBuilder, lines
from tests.test_correlate_signals import (
    ADA,
    ANCIENT,
    CART,
    DAY,
    FIRST_SEEN,
    GRACE,
    LINUS,
    crash,
    edit,
)
from worker.correlate.engine import collect, complete
from worker.correlate.ranking import Weights, rank

GUARDED = [*CART[:5], '    assert "rate" in discounts', *CART[6:]]


@pytest.fixture
def shop(tmp_path) -> GitRepoBuilder:
    builder = GitRepoBuilder(tmp_path / "shop")
    builder.commit({"src/shop/cart.py": lines(*CART), "src/shop/prices.py": lines("RATE = 1"),
                    "docs/prices.md": "# prices\n"}, "import", author=LINUS, date=ANCIENT)
    return builder


def evidence(builder: GitRepoBuilder, **options):
    facts = collect(GitRepository(builder.path), crash(), first_seen=FIRST_SEEN, **options)
    return facts.evidence()


def test_a_recent_commit_beside_the_stack_is_read_when_asked(shop):
    beside = shop.commit({"src/shop/prices.py": lines("RATE = 2")}, "new rate", author=ADA,
                         date="2026-02-25T00:00:00Z")
    elsewhere = shop.commit({"docs/prices.md": "# rates\n"}, "docs", author=GRACE,
                            date="2026-02-26T00:00:00Z")
    assert beside not in evidence(shop)  # the engine does not ask: the weight is 0
    found = evidence(shop, beside_days=30)
    assert found[beside].sibling == 1.0  # beside the innermost frame's file
    assert elsewhere not in found
    on = rank(found, weights=dataclasses.replace(Weights(), sibling=1.0))
    assert [s.sha for s in on] == [beside]
    assert "changed a file beside one on the stack" in on[0].reasons
    assert rank(found, weights=dataclasses.replace(Weights(), sibling=0.0)) == []


def test_a_recent_commit_further_away_counts_less(shop):
    near = shop.commit({"src/util/dates.py": lines("DAYS = 7")}, "dates", author=ADA,
                       date="2026-02-25T00:00:00Z")
    other = shop.commit({"docs/prices.md": "# rates\n"}, "docs", author=GRACE,
                        date="2026-02-26T00:00:00Z")
    found = evidence(shop, beside_days=30)
    assert found[near].sibling == 0.5  # shares src/ of src/shop/
    assert other not in found  # another top folder


def test_a_commit_beside_the_stack_older_than_a_month_is_not(shop):
    old = shop.commit({"src/shop/prices.py": lines("RATE = 2")}, "new rate", author=ADA,
                      date="2026-01-15T00:00:00Z")
    assert old not in evidence(shop, beside_days=30)


def test_reworded_renamed_or_reformatted_code_is_cosmetic(shop):
    comment = shop.commit({"src/shop/cart.py": edit(CART, l6='    rate = discounts["rate"]'
                                                    "  # the rate")}, "comment", author=ADA,
                          date=DAY)
    real = shop.commit({"src/shop/cart.py": edit(CART, l6='    rate = discounts.get("rate")')},
                       "optional rate", author=GRACE, date=DAY)
    found = evidence(shop)
    assert found[comment].cosmetic is True
    assert found[real].cosmetic is False
    weighed = {s.sha: s for s in rank(found, weights=dataclasses.replace(Weights(),
                                                                       cosmetic=0.2))}
    assert "only reworded, renamed or reformatted the stack's code" in weighed[comment].reasons
    plain = {s.sha: s for s in rank(found, weights=dataclasses.replace(Weights(), cosmetic=1.0))}
    assert weighed[comment].score < plain[comment].score


def test_annotating_the_crashing_function_is_cosmetic(shop):
    typed = shop.commit({"src/shop/cart.py": edit(
        CART, l4="def total(items: list[Item], discounts: dict[str, float]) -> float:")},
        "annotate total", author=ADA, date=DAY)
    defaulted = shop.commit({"src/shop/cart.py": edit(
        CART, l4="def total(items: list[Item], discounts: dict[str, float] = {}) -> float:")},
        "default discounts", author=GRACE, date=DAY)
    found = evidence(shop)
    assert found[typed].cosmetic is True
    assert found[defaulted].cosmetic is False


DOCUMENTED = [CART[0], CART[3], '    """The total,', '    less the discount."""', *CART[4:]]


def test_rewording_the_crashing_functions_docstring_changes_no_function(tmp_path):
    shop = GitRepoBuilder(tmp_path / "documented")
    shop.commit({"src/shop/cart.py": lines(*DOCUMENTED)}, "import", author=LINUS, date=ANCIENT)
    assert DOCUMENTED[5] == CART[5]  # the crashing line stays line 6
    reworded = shop.commit({"src/shop/cart.py": edit(
        DOCUMENTED, l4="    less the discount's rate, as a share.\"\"\"")},
        "reword the docstring", author=ADA, date=DAY)
    changed = shop.commit({"src/shop/cart.py": edit(
        DOCUMENTED, l5="    subtotal = sum(i.price * i.count for i in items)")},
        "count items", author=GRACE, date=DAY)
    repo = GitRepository(shop.path)
    facts = collect(repo, crash(), first_seen=FIRST_SEEN)
    complete(repo, facts, list(facts.commits))
    found = facts.evidence()
    assert found[reworded].cosmetic is True
    assert found[reworded].hunk_function == 0
    assert found[changed].cosmetic is False
    assert found[changed].hunk_function > 0


def test_blame_of_an_assert_or_raise_is_told_apart(shop):
    guard = shop.commit({"src/shop/cart.py": lines(*GUARDED)}, "check the rate", author=ADA,
                        date=DAY)
    found = evidence(shop)
    assert found[guard].blame_line == found[guard].blame_guard == 1.0
    shop.commit({"src/shop/cart.py": edit(GUARDED, l6='    rate = discounts["rate"]')},
                "back to the lookup", author=GRACE, date=DAY)
    again = evidence(shop)
    assert all(item.blame_guard == 0 for item in again.values())


def test_older_commits_touching_the_stack_are_kept_up_to_the_horizon(shop):
    old = shop.commit({"src/shop/cart.py": edit(CART, l12="    names = [i.title for i in items]")},
                      "titles", author=ADA, date="2024-06-01T00:00:00Z")
    assert old not in evidence(shop, window_days=365, horizon_days=0)
    found = evidence(shop, window_days=365, horizon_days=1095)
    assert found[old].touches_file == 1.0
    assert found[old].age_days > 600


def test_fading_lowers_old_evidence_but_keeps_its_order(shop):
    old = shop.commit({"src/shop/cart.py": edit(CART, l7="    taxed = subtotal * 1.3")},
                      "tax", author=ADA, date="2025-04-01T00:00:00Z")
    found = evidence(shop)
    plain = rank(found, weights=Weights())[0]
    faded = rank(found, weights=dataclasses.replace(Weights(), fade_days=90, fade_floor=0.2))[0]
    assert plain.sha == faded.sha == old
    assert 0 < faded.score < plain.score


def test_an_automated_authors_commit_ranks_below_a_persons(shop):
    person = shop.commit({"src/shop/cart.py": edit(CART, l7="    taxed = subtotal * 1.3")},
                         "tax", author=ADA, date=DAY)
    bot = shop.commit({"src/shop/cart.py": edit(CART, l7="    taxed = subtotal * 1.3",
                                                l12="    names = [i.title for i in items]")},
                      "auto fixes", author=("pre-commit-ci[bot]", "ci[bot]@example.com"),
                      date=DAY)
    found = rank(evidence(shop))
    assert [s.sha for s in found] == [person, bot]
    assert "made by an automated author" in found[1].reasons


def test_the_writer_of_a_guard_line_gets_half_the_line_credit(shop):
    guard = shop.commit({"src/shop/cart.py": lines(*GUARDED)}, "check the rate", author=ADA,
                        date=DAY)
    (suspect,) = rank(evidence(shop))
    assert suspect.sha == guard
    assert "wrote the assert or raise that stopped the program" in suspect.reasons
    plain = rank(evidence(shop), weights=dataclasses.replace(Weights(), blame_guard=0.0))[0]
    assert suspect.score == pytest.approx(plain.score - Weights().blame_line / 2)


def test_deep_blame_names_the_old_writer_of_the_crashing_line(shop):
    writer = shop.commit({"src/shop/cart.py": edit(CART, l6='    rate = discounts["rate"] * 1')},
                         "rates", author=ADA, date="2023-06-01T00:00:00Z")
    assert writer not in evidence(shop, horizon_days=0)  # older than the window: boundary
    found = evidence(shop, deep_lines=1)
    assert found[writer].blame_line == 1.0
    assert found[writer].age_days > 900
