"""GitHubTickets through PyGithub against the GitHub stand-in over real HTTP.

Covers filing and adopting issues by marker, the label scan and the search fallback, the mapping
of GitHub's refusals onto TransientError/PermanentError, and the stand-in's own faithfulness to
GitHub's wire format (the search type-qualifier rule, both label body forms, auth).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import httpx
import pytest
from github import Auth, Github, GithubException
from pydantic import SecretStr

from integrations.github import GitHubTickets, translate_github_error
from integrations.standins.base import Call, Reply, recorded
from integrations.standins.github import GitHubStandIn
from worker.ports import PermanentError, TicketDraft, TicketForge, TransientError
from worker.settings import GitHubSettings

TOKEN = "ghp_test_token"
OWNER, NAME = "acme", "shop"
REPO = f"{OWNER}/{NAME}"
MARKER = "suture-fingerprint: 3f2a9c"


@pytest.fixture
def standin() -> Iterator[GitHubStandIn]:
    with GitHubStandIn(token=TOKEN, repos=[REPO]) as running:
        yield running  # type: ignore[misc]


@pytest.fixture
def lagging() -> Iterator[GitHubStandIn]:
    """A stand-in whose search index has not caught up with new issues."""
    with GitHubStandIn(token=TOKEN, repos=[REPO], search_lag=True) as running:
        yield running  # type: ignore[misc]


def make_tickets(url: str, token: str = TOKEN, labels: list[str] | None = None) -> GitHubTickets:
    settings = GitHubSettings(base_url=url, token=SecretStr(token),
                              labels=["suture"] if labels is None else labels)
    return GitHubTickets(settings, seconds_between_requests=0, seconds_between_writes=0)


@pytest.fixture
def tickets(standin: GitHubStandIn) -> Iterator[GitHubTickets]:
    forge = make_tickets(standin.url)
    yield forge
    forge.close()


def draft(marker: str = MARKER, **overrides: Any) -> TicketDraft:
    values: dict[str, Any] = {
        "repo": REPO,
        "title": "ZeroDivisionError in checkout.total",
        "body": f"Seen 12 times.\n\n{marker}\n",
        "labels": ["bug"],
        "marker": marker,
    }
    values.update(overrides)
    return TicketDraft(**values)


def calls_to(standin: GitHubStandIn, method: str, path_pattern: str) -> list[Call]:
    return [c for c in standin.calls if c.method == method and re.fullmatch(path_pattern, c.path)]


# -- filing and adopting ----------------------------------------------------------------------


def test_is_a_ticket_forge(tickets: GitHubTickets) -> None:
    assert isinstance(tickets, TicketForge)


def test_open_ticket_files_one_issue_with_labels_and_marker(
    standin: GitHubStandIn, tickets: GitHubTickets
) -> None:
    ticket = tickets.open_ticket(draft())

    [issue] = standin.issues(OWNER, NAME)
    assert ticket.ref == str(issue["number"]) == "1"
    assert ticket.url == issue["html_url"]
    assert issue["title"] == "ZeroDivisionError in checkout.total"
    assert MARKER in issue["body"]
    assert [label["name"] for label in issue["labels"]] == ["suture", "bug"]


def test_marker_is_appended_when_the_body_lacks_it(
    standin: GitHubStandIn, tickets: GitHubTickets
) -> None:
    tickets.open_ticket(draft(body="No marker here."))

    [issue] = standin.issues(OWNER, NAME)
    assert issue["body"].startswith("No marker here.")
    assert issue["body"].rstrip().endswith(MARKER)


def test_second_open_ticket_with_the_same_marker_adopts_the_issue(
    standin: GitHubStandIn, tickets: GitHubTickets
) -> None:
    first = tickets.open_ticket(draft())
    second = tickets.open_ticket(draft(title="A different title"))

    assert second == first
    assert len(standin.issues(OWNER, NAME)) == 1
    assert len(calls_to(standin, "POST", r"/repos/acme/shop/issues")) == 1


def test_a_different_marker_files_a_new_issue(
    standin: GitHubStandIn, tickets: GitHubTickets
) -> None:
    first = tickets.open_ticket(draft())
    second = tickets.open_ticket(draft(marker="suture-fingerprint: 77e1"))

    assert (first.ref, second.ref) == ("1", "2")


def test_find_ticket_finds_the_filed_issue(tickets: GitHubTickets) -> None:
    filed = tickets.open_ticket(draft())

    assert tickets.find_ticket(REPO, MARKER) == filed
    assert tickets.find_ticket(REPO, "suture-fingerprint: unknown") is None


def test_label_scan_finds_issues_the_search_index_has_not_seen(lagging: GitHubStandIn) -> None:
    forge = make_tickets(lagging.url)
    try:
        first = forge.open_ticket(draft())
        second = forge.open_ticket(draft())
    finally:
        forge.close()

    assert second == first
    assert len(lagging.issues(OWNER, NAME)) == 1


def test_label_scan_follows_pagination(lagging: GitHubStandIn) -> None:
    lagging.add_issue(OWNER, NAME, title="old", body=f"first one\n{MARKER}", labels=["suture"])
    for number in range(2, 151):
        lagging.add_issue(OWNER, NAME, title=f"issue {number}", body="x", labels=["suture"])
    forge = make_tickets(lagging.url)
    try:
        found = forge.find_ticket(REPO, MARKER)
    finally:
        forge.close()

    assert found is not None and found.ref == "1"
    pages = calls_to(lagging, "GET", r"/repos/acme/shop/issues")
    assert [call.arg("page", "1") for call in pages] == ["1", "2"]


def test_search_finds_an_issue_whose_label_was_removed(
    standin: GitHubStandIn, tickets: GitHubTickets
) -> None:
    standin.add_issue(OWNER, NAME, title="filed by hand", body=f"context\n{MARKER}", labels=[])

    found = tickets.find_ticket(REPO, MARKER)

    assert found is not None and found.ref == "1"
    [search] = calls_to(standin, "GET", r"/search/issues")
    query = search.arg("q") or ""
    assert f'"{MARKER}"' in query
    assert "is:issue" in query.split() and f"repo:{REPO}" in query.split()


def test_search_hits_without_the_exact_marker_are_not_adopted(
    standin: GitHubStandIn, tickets: GitHubTickets
) -> None:
    standin.add_issue(OWNER, NAME, title=MARKER, body="the marker is only in the title")

    assert tickets.find_ticket(REPO, MARKER) is None


def test_rate_limited_search_counts_as_not_found(
    standin: GitHubStandIn, tickets: GitHubTickets
) -> None:
    standin.limits.set_remaining("search", 0)

    assert tickets.find_ticket(REPO, MARKER) is None
    assert len(calls_to(standin, "GET", r"/search/issues")) == 1


def test_empty_marker_is_refused(tickets: GitHubTickets) -> None:
    with pytest.raises(PermanentError, match="marker"):
        tickets.open_ticket(draft(marker="  ", body="anything"))


# -- errors -----------------------------------------------------------------------------------


def test_bad_token_is_permanent(standin: GitHubStandIn) -> None:
    forge = make_tickets(standin.url, token="ghp_wrong")
    try:
        with pytest.raises(PermanentError, match="Bad credentials"):
            forge.open_ticket(draft())
    finally:
        forge.close()
    assert standin.issues(OWNER, NAME) == []


def test_unknown_repository_is_permanent(tickets: GitHubTickets) -> None:
    with pytest.raises(PermanentError, match="404"):
        tickets.find_ticket("acme/missing", MARKER)


def test_malformed_repository_name_is_permanent(tickets: GitHubTickets) -> None:
    with pytest.raises(PermanentError, match="owner/name"):
        tickets.find_ticket("no-slash", MARKER)


def test_validation_failure_is_permanent_with_githubs_reasons(
    standin: GitHubStandIn, tickets: GitHubTickets
) -> None:
    [recording] = recorded("github/rest-interactions.errors.json")
    standin.fail_next(Reply(recording["status"], recording["response"]))

    with pytest.raises(PermanentError, match=r"422.*Validation Failed \(Label color invalid\)"):
        tickets.open_ticket(draft())


def test_secondary_rate_limit_is_transient_with_retry_after(
    standin: GitHubStandIn, tickets: GitHubTickets
) -> None:
    standin.fail_secondary_rate_limit(retry_after=30)

    with pytest.raises(TransientError, match="secondary rate limit") as caught:
        tickets.open_ticket(draft())

    assert caught.value.retry_after == 30
    assert standin.issues(OWNER, NAME) == []


def test_secondary_rate_limit_without_retry_after_waits_a_minute(
    standin: GitHubStandIn, tickets: GitHubTickets
) -> None:
    standin.fail_secondary_rate_limit(retry_after=None)

    with pytest.raises(TransientError) as caught:
        tickets.open_ticket(draft())

    assert caught.value.retry_after == 60


def test_429_is_transient_with_retry_after(
    standin: GitHubStandIn, tickets: GitHubTickets
) -> None:
    standin.fail_secondary_rate_limit(retry_after=7, status=429)

    with pytest.raises(TransientError) as caught:
        tickets.find_ticket(REPO, MARKER)

    assert caught.value.retry_after == 7


def test_exhausted_primary_rate_limit_waits_until_the_reset(
    standin: GitHubStandIn, tickets: GitHubTickets
) -> None:
    standin.limits.set_remaining("core", 0)

    with pytest.raises(TransientError, match="API rate limit exceeded") as caught:
        tickets.open_ticket(draft())

    # The core window is an hour: the hint comes from x-ratelimit-reset, not a default minute.
    assert caught.value.retry_after is not None
    assert 60 < caught.value.retry_after <= 3601


def test_server_errors_are_transient(standin: GitHubStandIn, tickets: GitHubTickets) -> None:
    standin.fail_server_error(502, times=3)  # the first try and both quick retries of the GET

    with pytest.raises(TransientError, match="502"):
        tickets.open_ticket(draft())

    assert standin.issues(OWNER, NAME) == []


def test_a_single_server_error_on_a_read_is_retried(
    standin: GitHubStandIn, tickets: GitHubTickets
) -> None:
    standin.fail_server_error(503)

    ticket = tickets.open_ticket(draft())

    assert ticket.ref == "1"


def test_a_create_answered_with_5xx_is_not_repeated_and_is_adopted_later(
    standin: GitHubStandIn, tickets: GitHubTickets
) -> None:
    # GitHub sometimes files the issue and still answers 502; the retry must not file it twice.
    index, (method, pattern, create) = next(
        (i, route) for i, route in enumerate(standin.routes)
        if route[0] == "POST" and route[1].pattern.endswith("/issues")
    )

    def create_then_fail(call: Call) -> Reply:
        create(call)
        return Reply(502, {"message": "Server Error"})

    standin.routes[index] = (method, pattern, create_then_fail)
    with pytest.raises(TransientError):
        tickets.open_ticket(draft())
    standin.routes[index] = (method, pattern, create)

    adopted = tickets.open_ticket(draft())

    assert len(calls_to(standin, "POST", r"/repos/acme/shop/issues")) == 1
    assert [issue["number"] for issue in standin.issues(OWNER, NAME)] == [int(adopted.ref)]


def test_unreachable_github_is_transient() -> None:
    with GitHubStandIn(token=TOKEN) as stopped:
        url = stopped.url  # nothing listens here once the block ends
    forge = make_tickets(url)
    try:
        with pytest.raises(TransientError, match="unreachable"):
            forge.find_ticket(REPO, MARKER)
    finally:
        forge.close()


def test_retry_after_as_an_http_date_is_understood() -> None:
    when = datetime.now(UTC) + timedelta(seconds=120)
    exc = GithubException(429, {"message": "Too Many Requests"},
                          {"Retry-After": format_datetime(when, usegmt=True)})

    error = translate_github_error(exc, "testing")

    assert isinstance(error, TransientError)
    assert error.retry_after is not None and 100 < error.retry_after <= 120


def test_a_plain_403_is_permanent() -> None:
    exc = GithubException(403, {"message": "Resource not accessible by integration"}, {})

    error = translate_github_error(exc, "testing")

    assert isinstance(error, PermanentError)
    assert "Resource not accessible by integration" in str(error)


# -- the stand-in's faithfulness --------------------------------------------------------------


def test_standin_refuses_search_without_a_type_qualifier(standin: GitHubStandIn) -> None:
    client = Github(auth=Auth.Token(TOKEN), base_url=standin.url, retry=None,
                    seconds_between_requests=0, seconds_between_writes=0)
    try:
        with pytest.raises(GithubException) as caught:
            list(client.search_issues(f'"{MARKER}" repo:{REPO}'))
        typed = client.search_issues(f'"{MARKER}" repo:{REPO} is:issue')
        assert typed.totalCount == 0
    finally:
        client.close()

    assert caught.value.status == 422
    assert caught.value.data["message"] == "Query must include 'is:issue' or 'is:pull-request'"


def test_standin_search_reports_search_rate_limit_headers(standin: GitHubStandIn) -> None:
    response = httpx.get(f"{standin.url}/search/issues", params={"q": "x is:issue"},
                         headers={"Authorization": f"Bearer {TOKEN}"})

    assert response.status_code == 200
    assert response.headers["x-ratelimit-resource"] == "search"
    assert response.headers["x-ratelimit-limit"] == "30"
    assert response.json() == {"total_count": 0, "incomplete_results": False, "items": []}


@pytest.mark.parametrize("body", [["Foo", "bAr"], {"labels": ["Foo", "bAr"]}])
def test_standin_adds_labels_from_either_body_form(standin: GitHubStandIn, body: Any) -> None:
    standin.add_issue(OWNER, NAME, title="t", body="b")

    response = httpx.post(f"{standin.url}/repos/{REPO}/issues/1/labels", json=body,
                          headers={"Authorization": f"token {TOKEN}"})

    assert response.status_code == 200
    assert [(label["name"], label["color"]) for label in response.json()] == [
        ("Foo", "ededed"), ("bAr", "ededed")]


def test_standin_urls_point_at_itself(standin: GitHubStandIn, tickets: GitHubTickets) -> None:
    tickets.open_ticket(draft())
    [issue] = standin.issues(OWNER, NAME)
    repo = httpx.get(f"{standin.url}/repos/{REPO}",
                     headers={"Authorization": f"token {TOKEN}"}).json()

    api_urls = [repo["url"], repo["issues_url"], repo["owner"]["url"], issue["url"],
                issue["user"]["url"], issue["labels"][0]["url"]]
    assert all(url.startswith(standin.url) for url in api_urls)
    assert "api.github.com" not in str(repo) + str(issue)


def test_standin_search_lags_until_reindexed(lagging: GitHubStandIn) -> None:
    lagging.add_issue(OWNER, NAME, title="t", body=MARKER)

    def hits() -> int:
        response = httpx.get(f"{lagging.url}/search/issues",
                             params={"q": f'"{MARKER}" repo:{REPO} is:issue'},
                             headers={"Authorization": f"token {TOKEN}"})
        return int(response.json()["total_count"])

    before = hits()
    lagging.reindex()

    assert (before, hits()) == (0, 1)


def test_standin_requires_a_token(standin: GitHubStandIn) -> None:
    response = httpx.get(f"{standin.url}/repos/{REPO}")

    assert response.status_code == 401
    assert response.json()["message"] == "Requires authentication"
