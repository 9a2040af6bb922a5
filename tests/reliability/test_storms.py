"""429 storms, server errors and hanging answers from the code host and from Sentry.

While the run is being verified, the GitHub and Sentry stand-ins are told to answer the next
requests with 429s (`Retry-After`) and 5xx, and to hold the first pull-request creation and the
first note longer than the clients wait, carrying them out anyway, as a real server does when
the answer is lost. The run must still end with one pull request and one note. When the storm
never ends, the run gives up with the reason recorded, and nothing was published twice.
"""

from __future__ import annotations

import pytest

from integrations.standins.base import Reply
from integrations.standins.sentry import SentryStandIn
from tests.proposal_hosts import GITHUB_TOKEN, start_host
from tests.reliability.stack import Stack, crash_webhook, wait_until
from worker.demo.sample import build_sample_repo
from worker.models import RunState

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.redis]

HANG = 18.0  # longer than the clients' 15 s timeout, shorter than the publication lease
RATE_LIMITED = Reply(429, {"message": "API rate limit exceeded"}, headers={"Retry-After": "1"})
UNAVAILABLE = Reply(503, {"message": "Service Unavailable"})
BAD_GATEWAY = Reply(502, b"<html>502 Bad Gateway</html>", content_type="text/html")


@pytest.fixture
def world(tmp_path):
    """A factory: the shop on GitHub, Sentry holding its issue, and a stack with `settings`."""
    made = []

    def make(**settings: str):
        shop = build_sample_repo(tmp_path / "shop")
        host = start_host("github", tmp_path / "host", shop.path)
        sentry = SentryStandIn(seed=False).start()
        sentry.add_issue({"id": "4201", "shortId": "SHOP-1", "title": "ZeroDivisionError"})
        # The Sentry note needs the API; polling it is not what these tests are about.
        stack = Stack(tmp_path, shop.path, host.standin.url, GITHUB_TOKEN,
                      sentry__base_url=sentry.url, sentry__token=sentry.token,
                      sentry__org=sentry.org, poll_interval_seconds="86400",
                      publish_lease_seconds="40", stuck_after_seconds="40", **settings)
        made.append((stack, host, sentry))
        return stack, host, sentry, shop

    yield make
    for stack, host, sentry in made:
        stack.stop()
        host.stop()
        sentry.stop()


def _verifying(stack: Stack) -> bool:
    return any(run.state in (RunState.PATCHED, RunState.VERIFYING) for run in stack.runs())


def test_storms_and_hangs_end_in_one_pull_request_and_one_note(world):
    stack, host, sentry, shop = world(max_attempts="8")
    stack.start_web()
    stack.start_scheduler()
    stack.start_worker()
    assert stack.post(crash_webhook(shop, "/cart/average", "cart=empty", "4201")).status_code == 202
    wait_until(lambda: _verifying(stack), 240, f"the verification\n{stack.logs()}")
    github = host.standin
    github.fail_next(RATE_LIMITED, times=3)
    github.fail_next(BAD_GATEWAY, times=2)
    github.fail_next(UNAVAILABLE, times=1)
    github.slow("POST", r"/repos/acme/shop/pulls", HANG, times=1)
    sentry.fail_next(RATE_LIMITED, times=3)
    sentry.fail_next(UNAVAILABLE, times=2)
    sentry.slow("POST", r"/api/0/organizations/[^/]+/issues/4201/(?:comments|notes)/", HANG,
                times=1)
    wait_until(lambda: stack.all_settled(1) and sentry.notes("4201"), 300,
               f"the run to settle and the note\n{stack.logs()}")
    [run] = stack.runs()
    assert run.state == RunState.PROPOSED, (run.state, run.reason)
    assert len(host.changes()) == 1
    assert len(sentry.notes("4201")) == 1
    assert stack.store.count_publications("pull_request") == 1
    # Every fault was served: the storm really happened.
    assert not github._faults and not sentry._faults


def test_a_storm_that_never_ends_gives_up_with_its_reason_and_publishes_nothing(world):
    stack, host, _sentry, shop = world(max_attempts="2")
    stack.start_web()
    stack.start_scheduler()
    stack.start_worker()
    assert stack.post(crash_webhook(shop, "/cart/average", "cart=empty", "4201")).status_code == 202
    wait_until(lambda: _verifying(stack), 240, f"the verification\n{stack.logs()}")
    host.standin.fail_next(UNAVAILABLE, times=10_000)
    wait_until(lambda: stack.all_settled(1), 300, f"the run to give up\n{stack.logs()}")
    [run] = stack.runs()
    assert run.state == RunState.FAILED
    assert "gave up" in run.reason and "publish" in run.reason, run.reason
    assert "503" in run.reason or "unavailable" in run.reason.lower(), run.reason
    assert host.changes() == [] and host.standin.issues("acme", "shop") == []
