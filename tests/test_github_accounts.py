"""GitHubAccounts through PyGithub against the GitHub stand-in over real HTTP.

Covers the login of a linked commit, a null author, a sha GitHub does not have, 5xx and rate
limits (None, a log line without the email, then a pause), the per-email cache and its bound,
and the stand-in's `GET /repos/{owner}/{repo}/commits/{ref}` in GitHub's wire shape.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import httpx
import pytest
from pydantic import SecretStr

from integrations.github.accounts import PERMANENT_PAUSE, TRANSIENT_PAUSE, GitHubAccounts
from integrations.standins.github import GitHubStandIn
from worker.ports import AccountDirectory
from worker.settings import GitHubSettings

TOKEN = "ghp_test_token"
OWNER, NAME = "acme", "shop"
REPO = f"{OWNER}/{NAME}"
GRACE = "1" * 40
GRACE_AGAIN = "2" * 40
STRANGER = "3" * 40
MISSING = "f" * 40
SECRET_EMAIL = "grace.private@corp.example"


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def standin() -> Iterator[GitHubStandIn]:
    with GitHubStandIn(token=TOKEN, repos=[REPO]) as running:
        running.add_commit(OWNER, NAME, GRACE, email=SECRET_EMAIL, name="Grace Hopper",
                           login="ghopper", message="tweak totals")
        running.add_commit(OWNER, NAME, GRACE_AGAIN, email=SECRET_EMAIL.upper(),
                           message="again", parents=[GRACE])
        running.add_commit(OWNER, NAME, STRANGER, email="nobody@corp.example")
        yield running  # type: ignore[misc]


@pytest.fixture
def clock() -> Clock:
    return Clock()


def make_accounts(standin: GitHubStandIn, clock: Clock, token: str = TOKEN,
                  **kwargs) -> GitHubAccounts:
    settings = GitHubSettings(base_url=standin.url, token=SecretStr(token))
    return GitHubAccounts(settings, REPO, seconds_between_requests=0, clock=clock, **kwargs)


@pytest.fixture
def accounts(standin: GitHubStandIn, clock: Clock) -> Iterator[GitHubAccounts]:
    directory = make_accounts(standin, clock)
    yield directory
    directory.close()


def commit_reads(standin: GitHubStandIn) -> list[str]:
    """The shas of every commit read, in order."""
    prefix = f"/repos/{REPO}/commits/"
    return [c.path.removeprefix(prefix) for c in standin.calls
            if c.method == "GET" and c.path.startswith(prefix)]


def test_is_an_account_directory(accounts: GitHubAccounts) -> None:
    assert isinstance(accounts, AccountDirectory)


def test_the_linked_account_s_login_is_found_with_one_request(standin, accounts) -> None:
    assert accounts.login_of(GRACE, SECRET_EMAIL) == "ghopper"
    assert commit_reads(standin) == [GRACE]  # the lazy repository costs no request of its own


def test_a_commit_no_account_is_linked_to_has_no_login(standin, accounts) -> None:
    assert accounts.login_of(STRANGER, "nobody@corp.example") is None
    assert accounts.login_of(STRANGER, "nobody@corp.example") is None
    assert commit_reads(standin) == [STRANGER]  # "no account" is an answer, kept too


def test_a_sha_github_does_not_have_is_none_for_that_sha_only(standin, accounts) -> None:
    assert accounts.login_of(MISSING, SECRET_EMAIL) is None
    assert accounts.login_of(MISSING, SECRET_EMAIL) is None  # not asked twice
    assert accounts.login_of(GRACE, SECRET_EMAIL) == "ghopper"  # the email is still open
    assert commit_reads(standin) == [MISSING, GRACE]


def test_a_repository_github_does_not_show_is_none_and_logged(standin, clock, caplog) -> None:
    settings = GitHubSettings(base_url=standin.url, token=SecretStr(TOKEN))
    directory = GitHubAccounts(settings, f"{OWNER}/elsewhere", seconds_between_requests=0,
                               clock=clock)
    with caplog.at_level(logging.WARNING, logger="integrations.github.accounts"):
        assert directory.login_of(GRACE, SECRET_EMAIL) is None
    assert "404" in caplog.text and SECRET_EMAIL not in caplog.text
    directory.close()


def test_one_request_per_distinct_email(standin, accounts) -> None:
    for sha, email in [(GRACE, SECRET_EMAIL), (GRACE_AGAIN, SECRET_EMAIL.upper()),
                       (GRACE, f" {SECRET_EMAIL} "), (STRANGER, "nobody@corp.example"),
                       (GRACE_AGAIN, SECRET_EMAIL)]:
        accounts.login_of(sha, email)
    assert commit_reads(standin) == [GRACE, STRANGER]


def test_the_cache_is_bounded(standin, clock) -> None:
    directory = make_accounts(standin, clock, cache_size=1)
    try:
        assert directory.login_of(GRACE, SECRET_EMAIL) == "ghopper"
        assert directory.login_of(STRANGER, "nobody@corp.example") is None
        assert directory.login_of(GRACE, SECRET_EMAIL) == "ghopper"  # forgotten: asked again
    finally:
        directory.close()
    assert commit_reads(standin) == [GRACE, STRANGER, GRACE]


def test_a_server_error_is_none_logged_and_pauses_lookups(standin, accounts, clock,
                                                          caplog) -> None:
    standin.fail_server_error(502, times=3)  # the first read and both quick retries
    with caplog.at_level(logging.WARNING, logger="integrations.github.accounts"):
        assert accounts.login_of(GRACE, SECRET_EMAIL) is None
    assert len(commit_reads(standin)) == 3
    [record] = caplog.records
    assert "502" in record.getMessage() and GRACE[:12] in record.getMessage()
    assert SECRET_EMAIL not in caplog.text and TOKEN not in caplog.text
    assert accounts.login_of(GRACE, SECRET_EMAIL) is None  # paused: GitHub is not asked
    assert len(commit_reads(standin)) == 3
    clock.now += TRANSIENT_PAUSE + 1
    assert accounts.login_of(GRACE, SECRET_EMAIL) == "ghopper"


def test_a_secondary_rate_limit_pauses_for_github_s_wait(standin, accounts, clock,
                                                         caplog) -> None:
    standin.fail_secondary_rate_limit(retry_after=30)
    with caplog.at_level(logging.WARNING, logger="integrations.github.accounts"):
        assert accounts.login_of(GRACE, SECRET_EMAIL) is None
    assert "paused for 30 s" in caplog.text and SECRET_EMAIL not in caplog.text
    clock.now += 29
    assert accounts.login_of(GRACE, SECRET_EMAIL) is None
    clock.now += 2
    assert accounts.login_of(GRACE, SECRET_EMAIL) == "ghopper"
    assert commit_reads(standin) == [GRACE, GRACE]


def test_an_exhausted_primary_rate_limit_is_none(standin, accounts, caplog) -> None:
    standin.limits.set_remaining("core", 0)
    with caplog.at_level(logging.WARNING, logger="integrations.github.accounts"):
        assert accounts.login_of(GRACE, SECRET_EMAIL) is None
    assert "rate limit" in caplog.text.lower()
    assert accounts.login_of(GRACE_AGAIN, SECRET_EMAIL) is None
    assert commit_reads(standin) == [GRACE]


def test_a_bad_token_is_none_and_pauses_for_long(standin, clock, caplog) -> None:
    directory = make_accounts(standin, clock, token="wrong")
    try:
        with caplog.at_level(logging.WARNING, logger="integrations.github.accounts"):
            assert directory.login_of(GRACE, SECRET_EMAIL) is None
        assert "Bad credentials" in caplog.text and "wrong" not in caplog.text
        clock.now += PERMANENT_PAUSE - 1
        assert directory.login_of(GRACE, SECRET_EMAIL) is None
    finally:
        directory.close()
    assert commit_reads(standin) == [GRACE]


def test_an_unreachable_github_is_none(clock) -> None:
    with GitHubStandIn(token=TOKEN, repos=[REPO]) as gone:
        url = gone.url
    settings = GitHubSettings(base_url=url, token=SecretStr(TOKEN))
    directory = GitHubAccounts(settings, REPO, seconds_between_requests=0, retry=None,
                               clock=clock)
    assert directory.login_of(GRACE, SECRET_EMAIL) is None


def test_the_repository_must_be_owner_slash_name() -> None:
    with pytest.raises(ValueError, match="owner/name"):
        GitHubAccounts(GitHubSettings(token=SecretStr(TOKEN)), "just-a-name")


# -- the stand-in's commit route --------------------------------------------------------------


def get(standin: GitHubStandIn, path: str) -> httpx.Response:
    return httpx.get(standin.url + path, headers={"Authorization": f"token {TOKEN}"})


def test_the_stand_in_serves_a_commit_in_github_s_shape(standin) -> None:
    reply = get(standin, f"/repos/{REPO}/commits/{GRACE_AGAIN[:7]}")
    assert reply.status_code == 200
    body = reply.json()
    assert body["sha"] == GRACE_AGAIN
    assert body["commit"]["author"] == {"name": "Someone", "email": SECRET_EMAIL.upper(),
                                        "date": "2026-01-01T00:00:00Z"}
    assert body["commit"]["message"] == "again"
    assert body["author"]["login"] == body["committer"]["login"] == "ghopper"
    assert isinstance(body["author"]["id"], int) and body["author"]["type"] == "User"
    assert body["parents"] == [{"sha": GRACE, "url": f"{standin.url}/repos/{REPO}/commits/{GRACE}",
                                "html_url": f"{standin.url}/{REPO}/commit/{GRACE}"}]
    assert body["html_url"] == f"{standin.url}/{REPO}/commit/{GRACE_AGAIN}"
    assert reply.headers["x-ratelimit-resource"] == "core"


def test_the_stand_in_answers_null_author_and_422_like_github(standin) -> None:
    body = get(standin, f"/repos/{REPO}/commits/{STRANGER}").json()
    assert body["author"] is None and body["committer"] is None
    missing = get(standin, f"/repos/{REPO}/commits/{MISSING}")
    assert missing.status_code == 422
    assert missing.json()["message"] == f"No commit found for SHA: {MISSING}"
    assert get(standin, f"/repos/{OWNER}/nope/commits/{GRACE}").status_code == 404
    with pytest.raises(ValueError, match="40 hex"):
        standin.add_commit(OWNER, NAME, "not-a-sha", email="x@corp.example")
