"""The code hosts' webhooks about suture's changes: mapping, authentication, dedupe, routing."""

from __future__ import annotations

import copy
import json
import uuid
from datetime import timedelta

import dramatiq
import pytest

from integrations.standins.base import recorded
from tests.support import compact, make_app, served
from worker.codehost import ChangeActivity
from worker.normalise.codehost_events import (
    activity_of,
    delivery_payload,
    from_github_webhook,
    from_gitlab_webhook,
    github_is_bot,
    gitlab_is_bot,
)
from worker.normalise.fields import PayloadError
from worker.reconcile import reconcile
from worker.web.codehost_signatures import github_signature

GH_SECRET = "test-github-webhook-secret"
GL_SECRET = "test-gitlab-webhook-token"
HOOK_SECRETS = {"github": {"webhook_secret": GH_SECRET},
                "gitlab": {"webhook_secret": GL_SECRET}}


def gh(name: str) -> dict:
    return copy.deepcopy(recorded(f"github/webhook-{name}.json"))


def gl(name: str) -> dict:
    return copy.deepcopy(recorded(f"gitlab/webhook-{name}.json"))


def gh_headers(body: bytes, event: str, delivery: str | None = None,
               secret: str = GH_SECRET) -> dict[str, str]:
    return {"Content-Type": "application/json", "X-GitHub-Event": event,
            "X-GitHub-Delivery": delivery or str(uuid.uuid4()),
            "X-Hub-Signature-256": github_signature(body, secret)}


def gl_headers(event: str, token: str = GL_SECRET, key: str | None = None) -> dict[str, str]:
    return {"Content-Type": "application/json", "X-Gitlab-Event": event, "X-Gitlab-Token": token,
            "Idempotency-Key": key or str(uuid.uuid4()),
            "X-Gitlab-Event-UUID": str(uuid.uuid4())}


def sent(app) -> list[dramatiq.Message]:
    return [dramatiq.Message.decode(data) for data in list(app.broker.queues["default"].queue)]


@pytest.fixture
def app(tmp_path):
    app = make_app(tmp_path, settings=HOOK_SECRETS)
    yield app
    app.close()


@pytest.fixture
def client(app):
    with served(app) as test_client:
        yield test_client


# --- mapping, from the recorded payloads --------------------------------------------------------

@pytest.mark.parametrize(("event", "name", "kind", "number"), [
    ("pull_request", "pull_request.closed", "closed", 2),
    ("pull_request", "pull_request.closed-merged", "merged", 3),
    ("pull_request", "pull_request.reopened", "reopened", 2),
    ("pull_request_review", "pull_request_review.submitted", "review", 2),
    ("issue_comment", "issue_comment.created", "comment", 3),
    ("check_run", "check_run.completed", "check_passed", 2),
    ("check_run", "check_run.completed-failure", "check_failed", 2),
])
def test_each_github_event_maps_to_its_activity(event, name, kind, number):
    payload = gh(name)
    activity = from_github_webhook(event, payload, "d-1")
    assert activity is not None
    assert (activity.host, activity.kind, activity.number) == ("github", kind, number)
    assert activity.repo == payload["repository"]["full_name"] and activity.delivery == "d-1"
    assert activity.actor and activity.actor_is_bot is False


def test_github_details_are_kept():
    merged = from_github_webhook("pull_request", gh("pull_request.closed-merged"))
    assert merged and merged.merge_sha == "a21683865c088b5fe1906cf6552d15a285a4986d"
    assert (merged.actor, merged.branch) == ("ailisp", "byao1276-patch-1")
    assert merged.head_sha == "7b5a809ab03679215c55926f7d111156ec98b865"
    closed = from_github_webhook("pull_request", gh("pull_request.closed"))
    assert closed and closed.merge_sha == "" and closed.branch == "changes"
    comment = from_github_webhook("issue_comment", gh("issue_comment.created"))
    assert comment and (comment.body, comment.actor) == ("/build", "chhsia0")
    assert comment.comment_id == str(gh("issue_comment.created")["comment"]["id"])
    review = from_github_webhook("pull_request_review", gh("pull_request_review.submitted"))
    assert review and (review.body, review.comment_id) == ("", "237895671")
    payload = gh("pull_request_review.submitted")
    payload["review"]["body"] = "Please add a test."
    assert from_github_webhook("pull_request_review", payload).body == "Please add a test."
    check = from_github_webhook("check_run", gh("check_run.completed-failure"))
    assert check and check.check_name == "Octocoders-linter"
    assert check.head_sha == "ec26c3e57ca3a959ca5aad62de7213c562f8c821"


def test_github_events_suture_does_not_follow_map_to_none():
    assert from_github_webhook("pull_request", gh("pull_request.opened")) is None
    assert from_github_webhook("check_run", gh("check_run.created")) is None
    assert from_github_webhook("issue_comment", gh("issue_comment.created.on-issue")) is None
    edited = gh("issue_comment.created")
    edited["action"] = "edited"
    assert from_github_webhook("issue_comment", edited) is None
    neutral = gh("check_run.completed")
    neutral["check_run"]["conclusion"] = "neutral"
    assert from_github_webhook("check_run", neutral) is None


def test_a_timed_out_check_fails_and_a_check_without_pull_requests_keeps_its_sha():
    payload = gh("check_run.completed")
    payload["check_run"]["conclusion"] = "timed_out"
    payload["check_run"]["pull_requests"] = []
    activity = from_github_webhook("check_run", payload)
    assert activity and activity.kind == "check_failed" and activity.number == 0
    assert activity.head_sha == payload["check_run"]["head_sha"]


def test_github_bots_are_recognised():
    assert github_is_bot({"login": "renovate", "type": "Bot"})
    assert github_is_bot({"login": "suture-app[bot]", "type": "User"})
    assert not github_is_bot({"login": "Codertocat", "type": "User"})
    payload = gh("issue_comment.created")
    payload["comment"]["user"] = {"login": "dependabot[bot]", "type": "Bot"}
    activity = from_github_webhook("issue_comment", payload)
    assert activity and activity.actor == "dependabot[bot]" and activity.actor_is_bot


@pytest.mark.parametrize(("action", "kind"), [("merge", "merged"), ("close", "closed"),
                                              ("reopen", "reopened"), ("open", None),
                                              ("update", None)])
def test_gitlab_merge_request_actions(action, kind):
    payload = gl("merge_request.open")
    payload["object_attributes"]["action"] = action
    activity = from_gitlab_webhook("Merge Request Hook", payload, "k-1")
    if kind is None:
        assert activity is None
        return
    assert activity and (activity.host, activity.kind, activity.number) == ("gitlab", kind, 1)
    assert (activity.repo, activity.branch) == ("gitlabhq/gitlab-test", "ms-viewport")
    assert activity.head_sha == "da1560886d4f094c3e6c9ef40349f7d38b5d27d7"
    assert (activity.actor, activity.delivery) == ("root", "k-1")


def test_gitlab_notes_on_merge_requests_are_comments():
    activity = from_gitlab_webhook("Note Hook", gl("note.merge_request"))
    assert activity and (activity.kind, activity.number) == ("comment", 1)
    assert (activity.body, activity.comment_id) == ("This MR needs work.", "1244")
    assert activity.repo == "gitlab-org/gitlab-test" and activity.branch == "master"
    for change in ({"system": True}, {"noteable_type": "Issue"}, {"action": "update"}):
        payload = gl("note.merge_request")
        payload["object_attributes"].update(change)
        assert from_gitlab_webhook("Note Hook", payload) is None, change


def test_gitlab_pipelines_on_merge_requests_are_checks():
    passed = from_gitlab_webhook("Pipeline Hook", gl("pipeline.success"))
    assert passed and (passed.kind, passed.number) == ("check_passed", 1)
    assert passed.head_sha == "bcbb5ec396a2c0f828686f14fac9b80b780504f2"
    assert passed.check_name == "Pipeline for branch: master"
    failed = gl("pipeline.success")
    failed["object_attributes"]["status"] = "failed"
    failed["merge_request"] = None
    activity = from_gitlab_webhook("Pipeline Hook", failed)
    assert activity and (activity.kind, activity.number, activity.branch) == (
        "check_failed", 0, "master")
    running = gl("pipeline.success")
    running["object_attributes"]["status"] = "running"
    assert from_gitlab_webhook("Pipeline Hook", running) is None


def test_gitlab_bots_are_recognised():
    assert gitlab_is_bot({"username": "project_5_bot_3f9a1c0b2e"})
    assert gitlab_is_bot({"username": "project_5_bot"})
    assert gitlab_is_bot({"username": "group_12_bot_ab12"})
    assert gitlab_is_bot({"username": "anyone", "bot": True})
    assert not gitlab_is_bot({"username": "root"})
    assert not gitlab_is_bot({"username": "my_project_5_bot_fan"})
    payload = gl("note.merge_request")
    payload["user"]["username"] = "project_5_bot_0a1b"
    assert from_gitlab_webhook("Note Hook", payload).actor_is_bot


def test_wrong_shapes_raise_payload_errors():
    broken = gh("pull_request.closed")
    del broken["repository"]
    with pytest.raises(PayloadError, match="repository"):
        from_github_webhook("pull_request", broken)
    broken = gh("pull_request.closed")
    broken["pull_request"]["number"] = "two"
    broken["number"] = "two"
    with pytest.raises(PayloadError, match="number"):
        from_github_webhook("pull_request", broken)
    broken = gl("note.merge_request")
    broken["merge_request"] = []
    with pytest.raises(PayloadError, match="merge_request"):
        from_gitlab_webhook("Note Hook", broken)


# --- GitHub over HTTP ----------------------------------------------------------------------------

@pytest.mark.parametrize(("event", "name", "kind"), [
    ("pull_request", "pull_request.closed-merged", "merged"),
    ("pull_request", "pull_request.closed", "closed"),
    ("pull_request", "pull_request.reopened", "reopened"),
    ("pull_request_review", "pull_request_review.submitted", "review"),
    ("issue_comment", "issue_comment.created", "comment"),
    ("check_run", "check_run.completed-failure", "check_failed"),
    ("check_run", "check_run.completed", "check_passed"),
])
def test_a_signed_github_delivery_is_stored_then_enqueued(client, app, event, name, kind):
    body = compact(gh(name))
    headers = gh_headers(body, event, delivery="72d3162e-cc78-11e3-81ab-4c9367dc0958")
    response = client.post("/hooks/github", content=body, headers=headers)
    assert response.status_code == 202, response.text
    assert response.json()["kind"] == kind
    delivery = app.store.get_delivery(response.json()["delivery"])
    assert (delivery.source, delivery.kind, delivery.status) == ("github", kind, "pending")
    activity = activity_of(delivery.payload)
    assert activity == from_github_webhook(event, gh(name), headers["X-GitHub-Delivery"])
    [message] = sent(app)
    assert (message.actor_name, message.args) == ("follow_activity", (delivery.id,))


def test_ping_is_answered_and_nothing_is_stored(client, app):
    body = compact(gh("ping"))
    response = client.post("/hooks/github", content=body, headers=gh_headers(body, "ping"))
    assert response.status_code == 200 and response.json() == {"pong": True}
    assert app.store.count_deliveries() == 0 and not sent(app)


@pytest.mark.parametrize(("event", "name"), [("deployment_status", "deployment_status"),
                                             ("pull_request", "pull_request.opened"),
                                             ("issue_comment", "issue_comment.created.on-issue")])
def test_other_github_events_are_ignored_with_202(client, app, event, name):
    body = compact(gh(name))
    response = client.post("/hooks/github", content=body, headers=gh_headers(body, event))
    assert response.status_code == 202 and "ignored" in response.json()
    assert app.store.count_deliveries() == 0 and not sent(app)


@pytest.mark.parametrize("tamper", ["secret", "body", "missing", "sha1-only", "no-prefix"])
def test_a_forged_or_missing_github_signature_gets_401(client, app, tamper):
    body = compact(gh("issue_comment.created"))
    headers = gh_headers(body, "issue_comment",
                         secret="not-the-secret" if tamper == "secret" else GH_SECRET)
    if tamper in ("missing", "sha1-only"):
        del headers["X-Hub-Signature-256"]
    if tamper == "sha1-only":
        headers["X-Hub-Signature"] = "sha1=" + "0" * 40
    if tamper == "no-prefix":
        headers["X-Hub-Signature-256"] = headers["X-Hub-Signature-256"].removeprefix("sha256=")
    sent_body = body.replace(b"/build", b"/buile") if tamper == "body" else body
    response = client.post("/hooks/github", content=sent_body, headers=headers)
    assert response.status_code == 401 and response.json()["error"]
    assert app.store.count_deliveries() == 0 and not sent(app)


def test_the_previous_github_secret_is_accepted_while_rotating(tmp_path):
    app = make_app(tmp_path, settings={"github": {"webhook_secret": "new",
                                                  "webhook_secret_previous": GH_SECRET}})
    with served(app) as client:
        body = compact(gh("pull_request.closed"))
        old = client.post("/hooks/github", content=body, headers=gh_headers(body, "pull_request"))
        assert old.status_code == 202, old.text
        other = compact(gh("pull_request.reopened"))
        new = client.post("/hooks/github", content=other,
                          headers=gh_headers(other, "pull_request", secret="new"))
        assert new.status_code == 202, new.text
    app.close()


@pytest.mark.parametrize("path", ["/hooks/github", "/hooks/gitlab"])
def test_without_a_configured_secret_every_delivery_is_refused(tmp_path, path):
    app = make_app(tmp_path)
    with served(app) as client:
        body = compact(gh("pull_request.closed"))
        headers = {**gh_headers(body, "pull_request"), **gl_headers("Merge Request Hook")}
        response = client.post(path, content=body, headers=headers)
        assert response.status_code == 503 and "not configured" in response.json()["error"]
        assert app.store.count_deliveries() == 0 and not sent(app)
    app.close()


def test_an_oversized_github_body_gets_413_before_anything_else(client, app):
    body = b'{"pad": "' + b"x" * 1_100_000 + b'"}'
    response = client.post("/hooks/github", content=body, headers=gh_headers(body, "ping"))
    assert response.status_code == 413
    assert app.store.count_deliveries() == 0 and not sent(app)


def test_malformed_github_deliveries_get_a_4xx_with_a_reason(client, app):
    no_repo = gh("pull_request.closed")
    del no_repo["repository"]
    cases = [(b"{not json", "pull_request", 400), (b"[1, 2]", "pull_request", 422),
             (compact(no_repo), "pull_request", 422),
             (compact({"action": "closed", "pull_request": [], "repository": {
                 "full_name": "o/r"}}), "pull_request", 422)]
    for body, event, status in cases:
        response = client.post("/hooks/github", content=body, headers=gh_headers(body, event))
        assert response.status_code == status, (body[:40], response.text)
        assert response.json()["error"]
    body = compact(gh("pull_request.closed"))
    for drop, status in [("X-GitHub-Event", 400), ("X-GitHub-Delivery", 400)]:
        headers = gh_headers(body, "pull_request")
        del headers[drop]
        assert client.post("/hooks/github", content=body, headers=headers).status_code == status
    bad_id = gh_headers(body, "pull_request", delivery="not a\tdelivery id")
    assert client.post("/hooks/github", content=body, headers=bad_id).status_code == 400
    form = {**gh_headers(body, "pull_request"),
            "Content-Type": "application/x-www-form-urlencoded"}
    assert client.post("/hooks/github", content=body, headers=form).status_code == 415
    assert app.store.count_deliveries() == 0 and not sent(app)


def test_a_github_replay_is_a_duplicate_whatever_its_delivery_id(client, app):
    body = compact(gh("issue_comment.created"))
    headers = gh_headers(body, "issue_comment")
    first = client.post("/hooks/github", content=body, headers=headers)
    assert first.status_code == 202
    redelivered = client.post("/hooks/github", content=body, headers=headers)
    replayed = client.post("/hooks/github", content=body, headers=gh_headers(body,
                                                                             "issue_comment"))
    for again in (redelivered, replayed):
        assert again.status_code == 409 and again.json() == {
            "error": "duplicate delivery: already received", "duplicate": True,
            "delivery": first.json()["delivery"]}
    assert app.store.count_deliveries() == 1 and len(sent(app)) == 1


def test_a_known_github_delivery_id_with_another_body_is_not_followed_again(client, app):
    payload = gh("issue_comment.created")
    body = compact(payload)
    headers = gh_headers(body, "issue_comment")
    assert client.post("/hooks/github", content=body, headers=headers).status_code == 202
    pretty = json.dumps(payload, indent=2).encode()  # same event, other bytes, same delivery id
    again = client.post("/hooks/github", content=pretty,
                        headers=gh_headers(pretty, "issue_comment",
                                           delivery=headers["X-GitHub-Delivery"]))
    assert again.status_code == 409 and again.json()["duplicate"] is True
    assert app.store.get_delivery(again.json()["delivery"]).status == "ignored"
    assert len(sent(app)) == 1


# --- GitLab over HTTP ----------------------------------------------------------------------------

@pytest.mark.parametrize(("event", "name", "action", "kind"), [
    ("Merge Request Hook", "merge_request.open", "merge", "merged"),
    ("Merge Request Hook", "merge_request.open", "close", "closed"),
    ("Merge Request Hook", "merge_request.open", "reopen", "reopened"),
    ("Note Hook", "note.merge_request", None, "comment"),
    ("Pipeline Hook", "pipeline.success", None, "check_passed"),
])
def test_a_gitlab_delivery_with_the_token_is_stored_then_enqueued(client, app, event, name,
                                                                  action, kind):
    payload = gl(name)
    if action:
        payload["object_attributes"]["action"] = action
    headers = gl_headers(event)
    response = client.post("/hooks/gitlab", content=compact(payload), headers=headers)
    assert response.status_code == 202, response.text
    delivery = app.store.get_delivery(response.json()["delivery"])
    assert (delivery.source, delivery.kind, delivery.status) == ("gitlab", kind, "pending")
    activity = activity_of(delivery.payload)
    assert activity.kind == kind and activity.delivery == headers["Idempotency-Key"]
    [message] = sent(app)
    assert (message.actor_name, message.args) == ("follow_activity", (delivery.id,))


@pytest.mark.parametrize("token", [None, "", "wrong", GL_SECRET[:-1], GL_SECRET + "x"])
def test_a_wrong_or_missing_gitlab_token_gets_401(client, app, token):
    headers = gl_headers("Note Hook")
    if token is None:
        del headers["X-Gitlab-Token"]
    else:
        headers["X-Gitlab-Token"] = token
    response = client.post("/hooks/gitlab", content=compact(gl("note.merge_request")),
                           headers=headers)
    assert response.status_code == 401 and response.json()["error"]
    assert app.store.count_deliveries() == 0 and not sent(app)


def test_other_gitlab_events_are_ignored_and_bad_ones_refused(client, app):
    push = compact({"object_kind": "push", "project": {"path_with_namespace": "a/b"}})
    ignored = client.post("/hooks/gitlab", content=push, headers=gl_headers("Push Hook"))
    assert ignored.status_code == 202 and "ignored" in ignored.json()
    opened = client.post("/hooks/gitlab", content=compact(gl("merge_request.open")),
                         headers=gl_headers("Merge Request Hook"))
    assert opened.status_code == 202 and "ignored" in opened.json()
    for body, status in [(b"{", 400), (b"7", 422), (compact({"object_kind": "note"}), 422)]:
        response = client.post("/hooks/gitlab", content=body, headers=gl_headers("Note Hook"))
        assert response.status_code == status, response.text
    headers = gl_headers("Note Hook")
    del headers["X-Gitlab-Event"]
    no_event = client.post("/hooks/gitlab", content=compact(gl("note.merge_request")),
                           headers=headers)
    assert no_event.status_code == 400
    assert app.store.count_deliveries() == 0 and not sent(app)


def test_a_gitlab_replay_is_a_duplicate(client, app):
    body = compact(gl("note.merge_request"))
    headers = gl_headers("Note Hook")
    first = client.post("/hooks/gitlab", content=body, headers=headers)
    assert first.status_code == 202
    retried = client.post("/hooks/gitlab", content=body, headers=headers)
    replayed = client.post("/hooks/gitlab", content=body, headers=gl_headers("Note Hook"))
    bare = {key: value for key, value in headers.items()
            if key not in ("Idempotency-Key", "X-Gitlab-Event-UUID")}
    unnamed = client.post("/hooks/gitlab", content=body, headers=bare)
    for again in (retried, replayed, unnamed):
        assert again.status_code == 409 and again.json()["duplicate"] is True
    other = json.dumps(gl("note.merge_request")).encode()
    same_key = client.post("/hooks/gitlab", content=other, headers=headers)
    assert same_key.status_code == 409 and same_key.json()["duplicate"] is True
    assert len(sent(app)) == 1


# --- the reconciler ------------------------------------------------------------------------------

def test_the_reconciler_sends_code_host_deliveries_to_follow_activity(client, app):
    body = compact(gh("pull_request.closed-merged"))
    followed = client.post("/hooks/github", content=body,
                           headers=gh_headers(body, "pull_request")).json()["delivery"]
    ingested, _ = app.store.add_delivery("file", "file", b'{"x":1}', {"x": 1})
    app.broker.flush_all()
    later = app.clock() + timedelta(hours=1)
    report = reconcile(app.deps, app.actors, later)
    assert sorted(report.deliveries) == sorted([followed, ingested])
    routed = {message.args[0]: message.actor_name for message in sent(app)}
    assert routed == {followed: "follow_activity", ingested: "ingest_delivery"}


# --- the actor -----------------------------------------------------------------------------------

def test_follow_activity_hands_the_delivery_to_the_follow_stage(app):
    activity = ChangeActivity(host="github", repo="acme/shop", number=7, kind="merged",
                              actor="octocat", merge_sha="a" * 40)
    payload = delivery_payload("pull_request", activity)
    known = app.store.add_delivery("github", "merged", compact(payload), payload)[0]
    app.actors.follow_activity(known)
    done = app.store.get_delivery(known)
    assert done.status == "processed" and "not one of suture's open changes" in done.reason
    app.actors.follow_activity(known)  # a redelivery: already processed, nothing more
    assert app.store.get_delivery(known).status == "processed"
    broken = app.store.add_delivery("github", "merged", compact({"n": 1}), {"n": 1})[0]
    app.actors.follow_activity(broken)
    failed = app.store.get_delivery(broken)
    assert failed.status == "failed" and "malformed activity" in failed.reason
