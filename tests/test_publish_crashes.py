"""A worker killed at each step of opening a pull request, then restarted, leaves exactly one
draft pull request and one fix branch: never two, never a pushed branch without its request.

The run is taken to "verified" once (real sandbox, real fix and verification), and its database
is copied for each step. A separate process (forked, `tests/kill_publish.py`) publishes it and
dies with `os._exit` when it reaches the step; a restarted worker (this process) then publishes
until the run is proposed.
"""

from __future__ import annotations

import json
import shutil
import time

import pytest

from tests.kill_publish import KILLED, publish_killed
from tests.proposal_hosts import settings_for, start_host, verified_shop
from tests.support import make_app
from worker import stages
from worker.models import RunState

pytestmark = [pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap is missing"),
              pytest.mark.slow]

STEPS = ("access", "lookup", "push", "open", "reviewers", "check", "complete", "recorded")
LEASE = 1.0  # seconds a dead worker's publication lease lasts here


@pytest.fixture(scope="module")
def verified(tmp_path_factory):
    """A database holding one verified run of the shop, and the shop itself."""
    return verified_shop(tmp_path_factory.mktemp("verified"))


@pytest.mark.parametrize("kind", ["github", "gitlab"])
@pytest.mark.parametrize("step", STEPS)
def test_a_worker_killed_at_a_step_and_restarted_opens_one_pull_request(
        verified, tmp_path, kind, step):
    snapshot, shop, run_id = verified
    db = tmp_path / "suture.db"
    shutil.copy(snapshot, db)
    host = start_host(kind, tmp_path / "host", shop.path)
    try:
        settings = settings_for(db, tmp_path / "data", host.settings(), shop.path,
                                publish_lease_seconds=LEASE)
        settings_file = tmp_path / "settings.json"
        settings_file.write_text(json.dumps(settings))
        code, output = publish_killed(settings_file, run_id, step, timeout=300)
        assert code == KILLED, output[-2000:]

        app = make_app(tmp_path, settings=settings)
        deadline = time.monotonic() + 60
        state = None
        while state != RunState.PROPOSED and time.monotonic() < deadline:
            try:
                state = stages.publish(app.deps, run_id) or app.store.get_run(run_id).state
            except stages.Deferred:
                time.sleep(LEASE / 4)  # the dead worker's lease has not run out yet
        run = app.store.get_run(run_id)
        assert run.state == RunState.PROPOSED, [t.reason for t in app.store.transitions(run_id)]
        assert stages.publish(app.deps, run_id) is None  # done: a redelivery changes nothing
        app.close()

        changes = host.changes()
        assert len(changes) == 1, changes
        fix_branches = [name for name in host.branches() if name.startswith("suture/")]
        assert fix_branches == [changes[0]["branch"]]
        assert run.ticket_url and str(changes[0]["number"]) in run.ticket_url
        assert not list((tmp_path / "data" / "tickets").rglob("*.md"))  # no fallback ticket
    finally:
        host.stop()
