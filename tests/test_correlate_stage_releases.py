"""The correlate stage learns the previous release from what suture ingested.

A real repository with two tagged releases, events of both ingested through the ingest stage
(from either source), then the triage and correlate stages run on the crash's run: the stored
correlation marks the commit that only the newer release carries.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.gitrepo import GitRepoBuilder, lines
from tests.support import make_app
from worker.fingerprint import fingerprint
from worker.models import ErrorEvent, ExceptionInfo, Frame, RunState, Source
from worker.stages import correlate, ingest_events, triage

CRASHED = datetime(2026, 3, 1, tzinfo=UTC)
DAY = "2026-02-01T00:00:00Z"
NEW = "new since the previous release"
CART = ['"""Cart arithmetic."""', "", "", "def total(items, discounts):",
        "    subtotal = sum(i.price for i in items)", '    rate = discounts["rate"]',
        "    return subtotal - rate"]


def cart(**changes: str) -> str:
    rows = list(CART)
    for key, text in changes.items():
        rows[int(key[1:]) - 1] = text
    return lines(*rows)


@pytest.fixture
def shop(tmp_path) -> tuple[GitRepoBuilder, str, str]:
    """A repository tagged v1.0 then v1.1; the shas of the commit in each release only."""
    builder = GitRepoBuilder(tmp_path / "shop")
    builder.commit({"src/shop/cart.py": cart()}, "import the shop", date="2025-12-01T00:00:00Z")
    released = builder.commit({"src/shop/cart.py": cart(l5="    subtotal = sum(items)")},
                              "plain prices", date=DAY)
    builder.tag("v1.0")
    fresh = builder.commit({"src/shop/cart.py": cart(l5="    subtotal = sum(items)",
                                                     l7="    return subtotal - rate * 2")},
                           "double discounts", date=DAY)
    builder.tag("v1.1")
    return builder, released, fresh


def crash(event_id: str, release: str | None, at: datetime, *, source: Source = Source.SENTRY,
          error: str = "KeyError") -> ErrorEvent:
    frame = Frame(abs_path="/app/src/shop/cart.py", module="shop.cart", function="total",
                  lineno=6, context_line='    rate = discounts["rate"]')
    return ErrorEvent(source=source, event_id=event_id, project="shop", timestamp=at,
                      release=release, title=f"{error}: 'rate'",
                      exceptions=[ExceptionInfo(type=error, value="'rate'", frames=[frame])])


def correlated(tmp_path, repo: GitRepoBuilder, events: list[ErrorEvent]) -> dict:
    """Ingest `events`, then triage and correlate the run of the KeyError's cluster."""
    app = make_app(tmp_path, settings={"services": [{
        "name": "shop", "sentry_project": "shop", "repository": str(repo.path),
        "slug": "acme/shop"}]})
    try:
        ingest_events(app.deps, events)
        [crashed] = [event for event in events if event.primary.type == "KeyError"]
        [run] = app.store.list_runs(app.store.find_cluster(fingerprint(crashed)).id)
        run_id = run.id
        assert triage(app.deps, run_id) == RunState.TRIAGED
        assert correlate(app.deps, run_id) == RunState.CORRELATED
        return app.store.get_run(run_id).record.correlation
    finally:
        app.close()


def reasons(found: dict) -> dict[str, list[str]]:
    return {suspect.sha: suspect.reasons for suspect in found.suspects}


# Two releases seen in the project (v1.0 by another error, from Datadog), in either order of
# arrival: the crash in v1.1 is correlated against v1.0.
@pytest.mark.parametrize("late", [False, True], ids=["in-order", "out-of-order"])
def test_a_commit_new_since_the_previous_release_is_marked(tmp_path, shop, late):
    repo, released, fresh = shop
    earlier = crash("dd-1", "v1.0", CRASHED - timedelta(days=3), source=Source.DATADOG,
                    error="TypeError")
    crashed = crash("s-1", "v1.1", CRASHED)
    found = correlated(tmp_path, repo, [crashed, earlier] if late else [earlier, crashed])
    assert found.release == repo.head()
    assert NEW in reasons(found)[fresh]
    assert NEW not in reasons(found)[released]


def test_without_an_earlier_release_nothing_is_marked_new(tmp_path, shop):
    repo, released, fresh = shop
    later = crash("dd-1", "v1.0", CRASHED + timedelta(days=3), source=Source.DATADOG,
                  error="TypeError")
    found = correlated(tmp_path, repo, [crash("s-1", "v1.1", CRASHED), later])
    assert {fresh, released} <= set(reasons(found))
    assert not any(NEW in found_reasons for found_reasons in reasons(found).values())


def test_an_event_without_a_release_is_correlated_at_head_with_nothing_new(tmp_path, shop):
    repo, _released, fresh = shop
    earlier = crash("dd-1", "v1.0", CRASHED - timedelta(days=3), error="TypeError")
    found = correlated(tmp_path, repo, [earlier, crash("s-1", None, CRASHED)])
    assert fresh in reasons(found)
    assert not any(NEW in found_reasons for found_reasons in reasons(found).values())
