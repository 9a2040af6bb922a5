"""The weekly digest's ledger and rendering, on a week seeded across its boundaries, on SQLite
and PostgreSQL (`store` fixture), checked against figures written out by hand."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

import pytest

from tests.digest_world import HOSTILE_TITLE, SKIP_REASON, TOKEN, seed
from worker.digest.ledger import compute_ledger
from worker.digest.models import NoisyCluster, ReasonCount, Spread, WeekLedger
from worker.digest.render import DigestRenderer, duration
from worker.digest.sending import ledger_for
from worker.digest.week import IsoWeek
from worker.settings import load_settings
from worker.store.reports import WeekRows

GOLDEN = Path(__file__).parent / "fixtures" / "digest" / "2026-W48.md"
WEEK = IsoWeek.parse("2026-W48")


def expected_ledger(hostile_title: str, ids: dict[str, int]) -> WeekLedger:
    """The figures of W48, each with why; `ids` are the clusters' ids by name."""
    return WeekLedger(
        week="2026-W48", start=WEEK.start, end=WEEK.end,
        stale_days=7,  # follow.stale_days' default
        # A, B, F, G and C had events in W48; D and H only before it, E only after it.
        clusters_seen=5,
        # B, F, G and C were first seen in W48; A's first event was W47's last second.
        new_clusters=4,
        # A 3 (Mon 00:00:00, Tue 10:00, Tue 11:00), B 2, F 1, G 1, C 1 (Sun 23:59:59); A's
        # Sunday 23:59:59 event is W47's and C's Monday 00:00:00 event W49's.
        events=8,
        # Mon: A; Tue: A, A; Wed: B; Thu: B; Fri: F; Sat: G; Sun: C.
        events_by_day=[1, 2, 1, 1, 1, 1, 1],
        # F on Friday and C on Sunday's last second, for the same reason.
        skipped=[ReasonCount(reason=SKIP_REASON, runs=2)],
        # A (twice: Monday, and the Tuesday retry, counted once), B and G reached fixing.
        attempted=3,
        # A (first opened Monday 03:59:59) and B (Wednesday); H's W48 reminder opens nothing.
        pull_requests=2,
        tickets=1,  # G, Saturday
        merged=1,  # A on Thursday; D was merged in W47 and H in W49
        closed=1,  # B on Saturday
        # H: opened 13 Nov, still proposed at the week's end (its merge is in W49), > 7 days.
        stale=1,
        held=1,  # D, Tuesday
        recurred=0,  # A recurred only in W49
        # A: Sun 23:59:59 → Mon 03:59:59 = 4 h; B: Wed 09:00 → 14:00 = 5 h.
        time_to_pr_seconds=Spread(count=2, median=4.5 * 3600, largest=5 * 3600),
        # The chosen patches: A 4 lines, B 10.
        pr_size_lines=Spread(count=2, median=7, largest=10),
        acceptance_rate=0.5,  # 1 merged / (1 merged + 1 closed)
        reworked=1,  # A was retried once (follow.retries = 1); B never
        rework_rate=0.5,  # 1 of the 2 merged or closed
        # Attempted runs' attempts: A 0.30 + 0.10, B 0.50, G 0.20; tokens 12k + 5k + 3k.
        model_cost_usd=1.1, model_tokens=20_000,
        merged_cost_usd=0.4,  # A's two attempts
        cost_per_merged_fix_usd=0.4,  # 0.40 / 1 merged
        # By events, then by cluster id: F, G and C were first seen in that order.
        noisiest=[
            NoisyCluster(cluster_id=ids["A"], title="KeyError: 'sku'", project="shop", events=3),
            NoisyCluster(cluster_id=ids["B"], title="ZeroDivisionError: division by zero",
                         project="shop", events=2, new=True),
            NoisyCluster(cluster_id=ids["F"], title="TimeoutError: read timed out", project="shop",
                         events=1, new=True),
            NoisyCluster(cluster_id=ids["G"], title="ValueError: bad invoice", project="billing",
                         events=1, new=True),
            NoisyCluster(cluster_id=ids["C"], title=hostile_title, project="web", events=1,
                         new=True),
        ],
    )


@pytest.fixture
def seeded(store):
    world = seed(store.url)
    yield world.store
    world.store.close()


def cluster_ids(store) -> dict[str, int]:
    """Each seeded cluster's id by its name (PostgreSQL's ids have gaps: an insert that
    finds the cluster already there still takes a number)."""
    ids = {}
    for name in "ABCDEFGH":
        cluster = store.find_cluster(f"fp-{name}")
        assert cluster is not None
        ids[name] = cluster.id
    return ids


@pytest.fixture(scope="module")
def settings():
    return load_settings(None)


def test_the_ledger_of_a_seeded_week(seeded, settings):
    ledger = ledger_for(seeded, settings, WEEK)

    assert TOKEN not in ledger.model_dump_json()  # titles are scrubbed in the ledger
    hostile = ledger.noisiest[-1].title
    assert hostile.startswith("<script>alert(1)</script> | **@octocat**")
    assert "[REDACTED" in hostile
    assert ledger == expected_ledger(hostile, cluster_ids(seeded))
    assert not ledger.quiet


def test_the_neighbouring_weeks_see_their_own_boundary_events(seeded, settings):
    before = ledger_for(seeded, settings, WEEK.previous())
    after = ledger_for(seeded, settings, IsoWeek.parse("2026-W49"))

    # W47: D (18 Nov) and A (Sunday 23:59:59); D's fix merged on the 17th.
    assert (before.clusters_seen, before.events, before.merged) == (2, 2, 1)
    assert before.events_by_day[6] == 1  # A's last-second event is Sunday's
    # W49: C (Monday 00:00:00) and E; H merged, A recurred, D's hold came in W48.
    assert (after.clusters_seen, after.events, after.merged, after.recurred) == (2, 2, 1, 1)
    assert after.events_by_day[0] == 1 and after.held == 0
    assert [item.title for item in after.noisiest][-1] == "OSError: disk full"


def test_the_markdown_shows_the_figures(seeded, settings):
    digest = DigestRenderer(settings.playbooks_dir).render(ledger_for(seeded, settings, WEEK))

    assert digest.markdown == GOLDEN.read_text("utf-8")
    assert TOKEN not in digest.markdown and "<script>" not in digest.markdown
    assert "@octocat" not in digest.markdown  # a mention is broken by a word joiner


def test_the_html_parses_holds_the_svg_and_escapes_titles(seeded, settings):
    ledger = ledger_for(seeded, settings, WEEK)
    html = DigestRenderer(settings.playbooks_dir).render(ledger).html
    page = Page()
    page.feed(html)
    page.close()

    assert page.tags.count("svg") == 2 and page.tags.count("rect") >= 7 + 9
    assert "script" not in page.tags and "a" not in page.tags  # the hostile title is text
    assert HOSTILE_TITLE.split(" | ")[0] not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert TOKEN not in html
    figures = dict(page.figures)
    assert figures == {"clusters seen": "5", "new clusters": "4", "events": "8",
                       "pull requests": "2", "merged": "1"}
    text = " ".join(page.text.split())
    for shown in ("Events per day, 2026-W48", "Runs by outcome, 2026-W48",
                  "median 4 h 30 min, max 5 h (2 opened)", "median 7 changed lines, max 10",
                  "50 % (1 merged, 1 closed)", "50 % (1 of 2 needed a retry or repair)",
                  "$1.10 for the runs attempted (20,000 tokens); $0.40 per merged fix",
                  f"2 × {SKIP_REASON}", "KeyError: 'sku'",
                  "3 attempted, 2 skipped, 2 pull requests, 1 ticket, 1 merged, 1 closed, "
                  "1 stale (open over 7 days at the week's end), 1 held, 0 recurred."):
        assert shown in text, shown


def test_a_quiet_week_says_so_in_one_line(store, settings):
    renderer = DigestRenderer(settings.playbooks_dir)
    ledger = ledger_for(store, settings, WEEK)
    digest = renderer.render(ledger)

    assert ledger.quiet and digest.quiet
    body = [line for line in digest.markdown.splitlines()[4:] if line.strip()]
    assert body == ["Quiet week: no errors seen, and no run skipped, attempted, published or "
                    "decided."]
    assert "Quiet week" in digest.html and "<svg" not in digest.html
    assert digest.text.strip().splitlines()[-1].startswith("Quiet week")


def test_an_open_pull_request_alone_is_not_a_quiet_week():
    rows = WeekRows(start=WEEK.start, end=WEEK.end)
    ledger = compute_ledger(rows, WEEK, stale_days=7)
    assert ledger.quiet
    assert not ledger.model_copy(update={"stale": 1}).quiet


@pytest.mark.parametrize(("label", "start"), [
    ("2026-W48", "2026-11-23T00:00:00+00:00"),
    ("2026-W01", "2025-12-29T00:00:00+00:00"),  # ISO week 1 starts in the year before
    ("2026-W53", "2026-12-28T00:00:00+00:00"),  # 2026 has 53 ISO weeks
])
def test_iso_weeks(label, start):
    week = IsoWeek.parse(label)
    assert week.start.isoformat() == start
    assert (week.end - week.start).days == 7
    assert IsoWeek.containing(week.end).previous() == week


@pytest.mark.parametrize("text", ["2026-48", "2025-W53", "2026-W00", "W48", "2026-W4"])
def test_a_bad_week_is_refused_with_a_reason(text):
    with pytest.raises(ValueError, match="ISO week"):
        IsoWeek.parse(text)


def test_durations_read_as_people_say_them():
    assert [duration(s) for s in (42, 720, 3 * 3600, 12_000, 2 * 86_400 + 4 * 3600)] == [
        "42 s", "12 min", "3 h", "3 h 20 min", "2 d 4 h"]


class Page(HTMLParser):
    """Every tag, the figures' values and the visible text of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.figures: list[tuple[str, str]] = []
        self.text = ""
        self._figure: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        found = dict(attrs)
        self._figure = found.get("data-name") if found.get("class") == "figure" else None

    def handle_data(self, data: str) -> None:
        if self._figure is not None:
            self.figures.append((self._figure, data.strip()))
            self._figure = None
        self.text += data + " "
