"""SentrySource.link_change against the Sentry stand-in over real HTTP: one note per change."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from integrations.datadog import DatadogSource
from integrations.sentry import SentrySource
from integrations.sentry.notes import note_id_of
from integrations.standins.base import recorded
from integrations.standins.sentry import SentryStandIn
from worker.ports import PermanentError, TransientError, UpstreamLinks
from worker.settings import SentrySettings

TOKEN = "sntrys-test-token"
ISSUE = "1"
PR = "https://github.com/acme/shop/pull/7"
TEXT = f"suture opened a draft pull request with a verified fix: {PR}"


@pytest.fixture
def standin() -> Iterator[SentryStandIn]:
    running = SentryStandIn(token=TOKEN)
    running.start()
    yield running
    running.stop()


@pytest.fixture
def make_source() -> Iterator[Callable[..., SentrySource]]:
    """Sources against a stand-in (settings overridable); closed after the test."""
    made: list[SentrySource] = []

    def make(standin: SentryStandIn, *, client: httpx.Client | None = None,
             require_token: bool = True, **overrides: Any) -> SentrySource:
        values: dict[str, Any] = {"base_url": standin.url, "org": standin.org,
                                  "token": SecretStr(TOKEN)}
        values.update(overrides)
        made.append(SentrySource(SentrySettings(**values), client=client, sleep=lambda _: None,
                                 require_token=require_token))
        return made[-1]

    yield make
    for source in made:
        source.close()


@pytest.fixture
def source(standin: SentryStandIn, make_source: Callable[..., SentrySource]) -> SentrySource:
    return make_source(standin)


def notes_path(standin: SentryStandIn, issue_id: str = ISSUE) -> str:
    return f"/api/0/organizations/{standin.org}/issues/{issue_id}/comments/"


def posts(standin: SentryStandIn) -> int:
    return sum(call.method == "POST" for call in standin.calls)


def post_note(standin: SentryStandIn, text: str) -> httpx.Response:
    return post_notes(standin, [text])[0]


def post_notes(standin: SentryStandIn, texts: list[str]) -> list[httpx.Response]:
    """Notes left by people, over one connection."""
    with httpx.Client(headers={"Authorization": f"Bearer {TOKEN}"}) as http:
        return [http.post(standin.url + notes_path(standin), json={"text": text})
                for text in texts]


def test_posts_one_note_shaped_like_sentrys(standin: SentryStandIn, source: SentrySource) -> None:
    note_id = source.link_change(ISSUE, PR, TEXT)

    [note] = standin.notes(ISSUE)
    assert note_id == note["id"]
    assert note["type"] == "note" and note["data"] == {"text": TEXT}
    assert set(note) == set(recorded("sentry/api-issue-note.json"))
    [post] = [call for call in standin.calls if call.method == "POST"]
    assert post.path == notes_path(standin)
    assert post.json() == {"text": TEXT}
    assert post.headers["authorization"] == f"Bearer {TOKEN}"


def test_a_second_call_finds_the_note_and_posts_nothing(
    standin: SentryStandIn, source: SentrySource, make_source: Callable[..., SentrySource]
) -> None:
    first = source.link_change(ISSUE, PR, TEXT)
    restarted = make_source(standin)  # a new worker process after a crash

    again = restarted.link_change(ISSUE, PR, "different words, same pull request " + PR)

    assert again == first
    assert posts(standin) == 1
    assert len(standin.notes(ISSUE)) == 1


def test_a_post_answered_too_late_is_found_by_the_retry(
    standin: SentryStandIn, make_source: Callable[..., SentrySource]
) -> None:
    standin.slow("POST", notes_path(standin), 0.6)
    with httpx.Client(timeout=0.2) as impatient, pytest.raises(TransientError, match="timed out"):
        make_source(standin, client=impatient).link_change(ISSUE, PR, TEXT)
    deadline = time.monotonic() + 5
    while not standin.notes(ISSUE) and time.monotonic() < deadline:
        time.sleep(0.05)  # Sentry kept the note although the client gave up waiting

    retried = make_source(standin).link_change(ISSUE, PR, TEXT)

    assert retried == standin.notes(ISSUE)[0]["id"]
    assert posts(standin) == 1


def test_a_longer_url_in_someone_elses_note_does_not_count(
    standin: SentryStandIn, source: SentrySource
) -> None:
    post_note(standin, f"Probably related: {PR}3 and {PR}/files")

    note_id = source.link_change(ISSUE, PR, TEXT)

    assert [note["id"] for note in standin.notes(ISSUE)][0] == note_id
    assert len(standin.notes(ISSUE)) == 2


def test_the_link_is_found_past_the_first_page(
    standin: SentryStandIn, source: SentrySource
) -> None:
    first = source.link_change(ISSUE, PR, f"Fixed in ({PR}).")
    answers = post_notes(standin, [f"comment {number}" for number in range(100)])
    assert {answer.status_code for answer in answers} == {201}

    assert source.link_change(ISSUE, PR, TEXT) == first
    assert posts(standin) == 101


def test_too_many_notes_to_read_means_no_post(
    standin: SentryStandIn, make_source: Callable[..., SentrySource]
) -> None:
    post_notes(standin, [f"comment {number}" for number in range(101)])

    assert make_source(standin, max_pages=1).link_change(ISSUE, PR, TEXT) is None
    assert len(standin.notes(ISSUE)) == 101


def test_concurrent_workers_leave_one_note(
    standin: SentryStandIn, make_source: Callable[..., SentrySource]
) -> None:
    """Both read before either post lands; Sentry refuses the second identical text, whose
    worker then finds the first one's note."""
    standin.slow("POST", notes_path(standin), 0.4)
    workers = [make_source(standin), make_source(standin)]
    results: list[str | None] = []

    threads = [threading.Thread(target=lambda w=w: results.append(w.link_change(ISSUE, PR, TEXT)))
               for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)

    [note] = standin.notes(ISSUE)
    assert results == [note["id"], note["id"]]
    assert posts(standin) == 2


def test_unknown_issue_is_permanent(standin: SentryStandIn, source: SentrySource) -> None:
    with pytest.raises(PermanentError, match="404"):
        source.link_change("999", PR, TEXT)

    assert posts(standin) == 0


def test_rate_limit_is_transient_with_retry_after(
    standin: SentryStandIn, source: SentrySource
) -> None:
    standin.rate_limit_next(reset_in=60)

    with pytest.raises(TransientError) as raised:
        source.link_change(ISSUE, PR, TEXT)

    assert raised.value.retry_after is not None and 50 < raised.value.retry_after <= 61
    assert standin.notes(ISSUE) == []


def test_text_without_the_url_is_refused(standin: SentryStandIn, source: SentrySource) -> None:
    with pytest.raises(PermanentError, match="url"):
        source.link_change(ISSUE, PR, "a fix is on its way")

    assert standin.calls == []


def test_ids_that_would_leave_the_issue_path_are_refused(
    standin: SentryStandIn, source: SentrySource
) -> None:
    with pytest.raises(PermanentError):
        source.link_change("../../projects", PR, TEXT)

    assert standin.calls == []


def test_no_token_returns_none_and_says_why_once(
    standin: SentryStandIn, make_source: Callable[..., SentrySource],
    caplog: pytest.LogCaptureFixture,
) -> None:
    webhook_only = make_source(standin, token=None, require_token=False)

    with caplog.at_level(logging.WARNING, logger="integrations.sentry.source"):
        assert webhook_only.link_change(ISSUE, PR, TEXT) is None
        assert webhook_only.link_change(ISSUE, PR, TEXT) is None

    [record] = caplog.records
    assert "sentry.token" in record.getMessage()
    assert standin.calls == []
    with pytest.raises(PermanentError, match="org and sentry.token"):
        webhook_only.poll(None)


def test_note_id_prefers_comment_id() -> None:
    """Newer Sentry names the action-log entry in `id` and the note in `commentId`."""
    assert note_id_of({"id": "77", "commentId": "4633816001"}) == "4633816001"
    assert note_id_of(recorded("sentry/api-issue-note.json")) == "4633816000"
    assert note_id_of({"type": "note"}) is None


def test_sentry_links_upstream_and_datadog_does_not(source: SentrySource) -> None:
    assert isinstance(source, UpstreamLinks)
    assert not hasattr(DatadogSource, "link_change")


def test_standin_notes_route_checks_token_issue_and_text(standin: SentryStandIn) -> None:
    url = standin.url + f"/api/0/organizations/{standin.org}/issues/{ISSUE}/notes/"
    auth = {"Authorization": f"Bearer {TOKEN}"}

    assert httpx.get(url).status_code == 401
    assert httpx.get(url.replace(f"/{ISSUE}/", "/999/"), headers=auth).status_code == 404
    empty = httpx.post(url, json={"text": " "}, headers=auth)
    assert (empty.status_code, empty.json()) == (400, {"text": ["This field is required."]})
    assert httpx.post(url, json={"text": "hello"}, headers=auth).status_code == 201
    again = httpx.post(url, json={"text": "hello"}, headers=auth)
    assert again.json() == {"detail": "You have already posted that comment."}
    listed = httpx.get(url, headers=auth)
    assert [note["data"]["text"] for note in listed.json()] == ["hello"]
    assert listed.links["next"]["results"] == "false"
    assert "X-Sentry-Rate-Limit-Remaining" in listed.headers


def test_a_merged_fix_resolves_the_issue_in_the_next_release(standin, source):
    assert source.resolve_in_next_release(ISSUE) is True
    issue = standin.issue(ISSUE)
    assert issue["status"] == "resolved" and issue["statusDetails"] == {"inNextRelease": True}
    assert source.resolve_in_next_release(ISSUE) is True  # again: no change, no error
    with pytest.raises(PermanentError):
        source.resolve_in_next_release("404404")


def test_a_webhook_only_source_cannot_resolve(standin, make_source):
    assert make_source(standin, token=None, require_token=False).resolve_in_next_release(
        ISSUE) is False
