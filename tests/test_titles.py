"""Titles are cut at a word boundary with an ellipsis, never past the limit, by one helper that
every place suture shortens a title uses."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from integrations.github.errors import MAX_TITLE, fit_title
from integrations.gitlab.codehost import MAX_TITLE as GITLAB_MAX_TITLE
from integrations.gitlab.codehost import _title as gitlab_title
from worker.notify import clip
from worker.stages.publish import scrub_title
from worker.titles import ELLIPSIS, one_line, shorten

# Words of letters, digits and punctuation separated by runs of spaces, tabs or newlines.
WORD = st.text(st.characters(blacklist_categories=("Z", "C")), min_size=1, max_size=30)
TEXT = st.lists(st.tuples(WORD, st.sampled_from([" ", "  ", "\t", "\n", " \n "])),
                max_size=30).map(lambda parts: "".join(w + sep for w, sep in parts).rstrip())
ANY_TEXT = st.one_of(TEXT, st.text(max_size=200))
LIMIT = st.integers(min_value=1, max_value=120)


def space_within(text: str, limit: int) -> bool:
    """Whether some whitespace ends a word at or before the last position the cut can keep."""
    room = limit - len(ELLIPSIS)
    return any(text[i].isspace() and text[:i].strip() for i in range(1, min(room, len(text) - 1)
                                                                        + 1))


@given(ANY_TEXT, LIMIT)
def test_a_shortened_title_never_exceeds_the_limit(text, limit):
    assert len(shorten(text, limit)) <= limit
    assert len(one_line(text, limit)) <= limit


@given(ANY_TEXT, LIMIT)
def test_a_title_within_the_limit_is_left_alone(text, limit):
    if len(text) <= limit:
        assert shorten(text, limit) == text
    else:
        assert shorten(text, limit).endswith(ELLIPSIS)


@given(ANY_TEXT, LIMIT)
def test_the_cut_never_splits_a_word_when_a_space_exists_within_the_limit(text, limit):
    cut = shorten(text, limit)
    if cut == text:
        return
    kept = cut.removesuffix(ELLIPSIS)
    assert text.startswith(kept)
    if space_within(text, limit):
        assert kept and not kept[-1].isspace()
        assert text[len(kept)].isspace(), f"{kept!r} ends inside a word of {text!r}"


@given(TEXT, LIMIT)
def test_one_line_titles_keep_whole_words(text, limit):
    flat = " ".join(text.split())
    cut = one_line(text, limit)
    assert "\n" not in cut and "\t" not in cut
    if cut != flat and " " in flat[1 : limit]:
        words = cut.removesuffix(ELLIPSIS).split(" ")
        assert words == flat.split(" ")[: len(words)]


def test_examples():
    title = "ZeroDivisionError: division by zero in shop.pricing.average_price"
    assert shorten(title, 40) == "ZeroDivisionError: division by zero in…"
    assert shorten(title, len(title)) == title
    # A single word longer than the limit has no boundary to cut at.
    assert shorten("a" * 50, 10) == "a" * 9 + ELLIPSIS
    assert shorten("abcd efgh", 5) == "abcd…"
    assert one_line("  \n ", 10, "error") == "error"
    with pytest.raises(ValueError):
        shorten("abc", 0)


@pytest.mark.parametrize("fit", [
    lambda text: fit_title(text, "suture ticket"),
    lambda text: gitlab_title(text, draft=False),
    scrub_title,
    lambda text: clip(text, 200),
])
def test_every_place_that_bounds_a_title_cuts_at_a_word(fit):
    title = " ".join(["KeyError: 'rate' in shop.cart.total"] * 20)
    cut = fit(title)
    assert cut.endswith(ELLIPSIS) and len(cut) <= max(MAX_TITLE, GITLAB_MAX_TITLE)
    assert title.startswith(cut.removesuffix(ELLIPSIS))
    assert title[len(cut) - 1] == " "
