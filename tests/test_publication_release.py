"""A publication lease is given back when the host answered with an error (nothing of the
request is in flight), and kept after a timeout or a crash (it may still land)."""

from __future__ import annotations

import pytest

from integrations.github import GitHubTickets
from integrations.standins.base import Reply, recorded
from integrations.standins.github import GitHubStandIn
from tests.support import compact, make_app
from worker import stages
from worker.models import RunState
from worker.ports import TransientError
from worker.settings import GitHubSettings
from worker.store.waiting import live_leases

TOKEN = "release-token"
SHOP = [{"name": "shop", "sentry_project": "front-end", "repository": ".", "slug": "acme/shop"}]


@pytest.fixture
def github():
    standin = GitHubStandIn(token=TOKEN)
    standin.add_repo("acme", "shop")
    standin.start()
    yield standin
    standin.stop()


def _ready_run(tmp_path, github):
    # A forge client that does not retry by itself, so the stage sees the host's answer.
    forge = GitHubTickets(GitHubSettings(base_url=github.url, token=TOKEN), retry=None,
                          seconds_between_requests=0, seconds_between_writes=0)
    app = make_app(tmp_path, forge=forge, settings={"services": SHOP})
    payload = recorded("sentry/webhook-event-alert-triggered.json")
    delivery, _ = app.store.add_delivery("sentry", "event_alert", compact(payload), payload)
    [run_id] = stages.ingest_delivery(app.deps, delivery).run_ids
    # Straight to "nothing verified": this is about filing the ticket, not making it.
    assert app.store.transition(run_id, RunState.NEW, RunState.UNVERIFIED, "no fix attempted")
    return app, run_id


def test_a_lease_is_given_back_when_the_host_answered_with_an_error(tmp_path, github):
    app, run_id = _ready_run(tmp_path, github)
    github.fail_next(Reply(503, {"message": "Service Unavailable"}), times=1)
    with pytest.raises(TransientError) as failed:
        stages.publish(app.deps, run_id)
    assert failed.value.answered
    assert live_leases(app.store, app.deps.now()) == {}  # the retry need not wait
    assert stages.publish(app.deps, run_id) == RunState.TICKETED
    assert len(github.issues("acme", "shop")) == 1
    app.close()


def test_a_lease_is_kept_when_the_request_may_still_land(tmp_path, github):
    app, run_id = _ready_run(tmp_path, github)
    github.stop()  # refused connection: the client cannot know whether anything was done
    with pytest.raises(TransientError) as failed:
        stages.publish(app.deps, run_id)
    assert not failed.value.answered
    assert run_id in live_leases(app.store, app.deps.now())
    app.close()
