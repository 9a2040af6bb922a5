"""After the pull request: the code host's webhook (or polling) reports a merge, the Sentry issue
is resolved in the next release, and the fix is watched: a new event on a release containing the
fix is a recurrence (the run says so, the pull request gets a comment, Slack is told), a quiet
watch period means it held. `/suture` commands are obeyed only from people with write access.

Starts from a verified run of the sample shop (real sandbox), published on the GitHub stand-in
with a real push; Sentry and Slack are stand-ins too."""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from integrations.standins.base import recorded
from integrations.standins.sentry import SentryStandIn
from integrations.standins.slack import SlackStandIn
from tests.proposal_hosts import REPO, settings_for, start_host, verified_shop
from tests.support import compact, drain, make_app, served
from worker import stages
from worker.models import ClusterStatus, RunState
from worker.stages.follow import poll_changes
from worker.stages.watch import check_held, remind_stale

pytestmark = pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap is missing")

HOOK_SECRET = "github-webhook-secret-for-tests-0123456789"
OWNER, NAME = REPO.split("/")


class Clock:
    """A clock the test moves."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(scope="module")
def verified(tmp_path_factory):
    return verified_shop(tmp_path_factory.mktemp("verified"))


@pytest.fixture
def world(verified, tmp_path) -> Iterator[dict]:
    snapshot, shop, run_id = verified
    db = tmp_path / "suture.db"
    shutil.copy(snapshot, db)
    host = start_host("github", tmp_path / "host", shop.path)
    sentry = SentryStandIn(seed=False).start()
    sentry.add_issue({"id": "4201", "shortId": "SHOP-1", "title": "ZeroDivisionError"})
    slack = SlackStandIn().start()
    settings = settings_for(db, tmp_path / "data", host.settings(), shop.path)
    settings["sentry"] = {"client_secret": "unused", "base_url": sentry.url, "org": sentry.org,
                          "token": sentry.token, "projects": ["shop"]}
    settings["notify"] = {"slack_webhook_url": slack.webhook_url,
                          "slack_users": {"grace@shop.example": "U0GRACE"}}
    clock = Clock()
    yield {"shop": shop, "run_id": run_id, "host": host, "sentry": sentry, "slack": slack,
           "settings": settings, "clock": clock, "tmp": tmp_path}
    host.stop()
    sentry.stop()
    slack.stop()


def app_of(world, **overrides):
    return make_app(world["tmp"], clock=world["clock"],
                    settings={**world["settings"], **overrides})


def proposed(world):
    """Publish the verified run: one draft pull request; its number."""
    app = app_of(world)
    try:
        assert stages.publish(app.deps, world["run_id"]) == RunState.PROPOSED
    finally:
        app.close()
    [pull] = world["host"].standin.pulls(OWNER, NAME)
    return pull["number"]


def merged_hook(world, number: int, sha: str) -> tuple[bytes, dict[str, str]]:
    """GitHub's `pull_request` closed-and-merged delivery for `number`, signed."""
    body = copy.deepcopy(recorded("github/webhook-pull_request.closed-merged.json"))
    body["number"] = number
    body["pull_request"]["number"] = number
    body["pull_request"]["merged"] = True
    body["pull_request"]["merge_commit_sha"] = sha
    body["pull_request"]["head"]["ref"] = world["host"].standin.pulls(OWNER, NAME)[0]["head"][
        "ref"]
    body["repository"]["full_name"] = REPO
    body["repository"]["name"] = NAME
    body["repository"]["owner"]["login"] = OWNER
    body["sender"] = {"login": "octocat", "type": "User", "id": 1}
    raw = json.dumps(body).encode()
    signature = "sha256=" + hmac.new(HOOK_SECRET.encode(), raw, hashlib.sha256).hexdigest()
    return raw, {"Content-Type": "application/json", "X-GitHub-Event": "pull_request",
                 "X-GitHub-Delivery": "72d3162e-cc78-11e3-81ab-4c9367dc0958",
                 "X-Hub-Signature-256": signature}


def test_a_merged_fix_resolves_sentry_and_a_recurrence_is_reported(world):
    number = proposed(world)
    slack = world["slack"]
    [filed] = slack.messages()  # one message per filed pull request, the owner mentioned
    assert "<@U0GRACE>" in json.dumps(filed["payload"])
    sha = world["host"].standin.merge_pull(OWNER, NAME, number, by="grace")
    app = app_of(world, github={**world["settings"]["github"], "webhook_secret": HOOK_SECRET})
    try:
        raw, headers = merged_hook(world, number, sha)
        with served(app) as client:
            forged = client.post("/hooks/github", content=raw,
                                 headers={**headers, "X-Hub-Signature-256": "sha256=" + "0" * 64})
            assert forged.status_code == 401
            assert client.post("/hooks/github", content=raw, headers=headers).status_code == 202
            drain(app)
            again = client.post("/hooks/github", content=raw, headers=headers)
            assert again.status_code in (200, 202)
            drain(app)
        run = app.store.get_run(world["run_id"])
        assert run.state == RunState.MERGED, [t.reason for t in app.store.transitions(run.id)]
        assert run.record.follow.merge_sha == sha and run.record.follow.upstream_resolved
        assert world["sentry"].issue("4201")["statusDetails"] == {"inNextRelease": True}
        assert app.store.get_cluster(run.cluster_id).status == ClusterStatus.RESOLVED

        # The error again, on a release whose history has the merged fix.
        event = {**recorded_event(app, run.cluster_id), "event_id": "f" * 32, "release": sha,
                 "timestamp": (world["clock"].now + timedelta(hours=1)).timestamp()}
        delivery = app.store.add_delivery("file", "file", compact(event), event)[0]
        result = stages.ingest_delivery(app.deps, delivery)
        run = app.store.get_run(world["run_id"])
        assert run.state == RunState.RECURRED, result.summary
        assert [r.release for r in run.record.follow.recurrences] == [sha]
        assert len(result.run_ids) == 1  # the cluster's new episode opens a run
        [pull] = world["host"].standin.pulls(OWNER, NAME)
        assert any("came back after this fix was merged" in c["body"]
                   for c in pull["issue_comments"])
        kinds = [m["text"] for m in slack.messages()]
        assert len(kinds) == 2 and kinds[1].startswith("Recurred:")
    finally:
        app.close()


def recorded_event(app, cluster_id: int) -> dict:
    """The raw event first recorded for the cluster (its delivery's payload)."""
    for delivery_id in range(1, 50):
        delivery = app.store.get_delivery(delivery_id)
        if delivery is not None and delivery.source == "file":
            return dict(delivery.payload)
    raise AssertionError("no recorded event")


def test_polling_sees_the_merge_and_a_quiet_watch_means_held(world):
    number = proposed(world)
    world["host"].standin.merge_pull(OWNER, NAME, number, by="grace")
    app = app_of(world)  # no webhook secret: polling is how suture learns of the merge
    try:
        assert poll_changes(app.deps) == [f"run {world['run_id']}: merged"]
        assert check_held(app.deps) == []  # the watch has only begun
        world["clock"].now += timedelta(days=8)
        assert check_held(app.deps) == [f"run {world['run_id']}: held"]
        assert app.store.get_run(world["run_id"]).state == RunState.HELD
        [pull] = world["host"].standin.pulls(OWNER, NAME)
        assert any("The fix held" in c["body"] for c in pull["issue_comments"])
        assert [m["text"] for m in world["slack"].messages()][-1].startswith("Fix held:")
    finally:
        app.close()


def test_commands_are_obeyed_only_from_writers(world):
    number = proposed(world)
    standin = world["host"].standin
    standin.set_permission(OWNER, NAME, "mallory", "read")
    standin.comment(OWNER, NAME, number, "/suture stop", as_user="mallory")
    standin.comment(OWNER, NAME, number, "/suture stop", as_user="dependabot[bot]", bot=True)
    standin.comment(OWNER, NAME, number, "/suture retry please add a test for carts of one",
                    as_user="grace")
    app = app_of(world)
    try:
        poll_changes(app.deps)
        poll_changes(app.deps)  # a second pass acts on nothing twice
        run = app.store.get_run(world["run_id"])
        assert run.state == RunState.PROPOSED
        reasons = [t.reason for t in app.store.transitions(run.id)]
        assert sum("ignored: mallory has no write access" in r for r in reasons) == 1
        assert sum("ignored: comments by bots are not commands" in r for r in reasons) == 1
        assert sum("/suture retry from grace recorded" in r for r in reasons) == 1
        standin.comment(OWNER, NAME, number, "/suture stop", as_user="grace")
        poll_changes(app.deps)
        run = app.store.get_run(world["run_id"])
        assert run.state == RunState.CLOSED
        assert app.store.get_cluster(run.cluster_id).status == ClusterStatus.IGNORED
        assert standin.pulls(OWNER, NAME)[0]["state"] == "closed"
    finally:
        app.close()


def test_a_pull_request_left_waiting_gets_one_reminder(world):
    number = proposed(world)
    app = app_of(world)
    try:
        assert remind_stale(app.deps) == []
        world["clock"].now += timedelta(days=8)
        assert remind_stale(app.deps) == [f"run {world['run_id']}: reminded"]
        assert remind_stale(app.deps) == []  # once
        [pull] = world["host"].standin.pulls(OWNER, NAME)
        reminders = [c for c in pull["issue_comments"] if "A reminder" in c["body"]]
        assert len(reminders) == 1 and pull["number"] == number
    finally:
        app.close()
