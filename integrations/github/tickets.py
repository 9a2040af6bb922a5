"""`GitHubTickets`: the `TicketForge` port on GitHub issues, through PyGithub.

Filing is idempotent by a marker string placed in the issue body: before creating an issue the
adapter looks for one that already carries the marker, first by listing issues with suture's
label (authoritative, no index lag), then through issue search (catches issues whose label was
removed, but lags and is limited to 30 requests a minute). PyGithub is configured so that it
never sleeps on a rate limit inside a worker: rate limits, 5xx and network failures surface as
`TransientError` with a `retry_after` hint and the actor retries later; refusals that retrying
cannot fix (bad token, missing repository, validation) surface as `PermanentError`.
"""

from __future__ import annotations

import itertools
import logging

import requests
from github import Auth, Github, GithubException
from github.Issue import Issue
from github.Repository import Repository
from urllib3.util.retry import Retry

from integrations.github.errors import (
    DEFAULT_RETRY,
    fit_body,
    fit_title,
    github_errors,
    translate_github_error,
)
from worker.egress import Channel, outbound
from worker.models import Ticket
from worker.ports import PermanentError, TicketDraft
from worker.settings import GitHubSettings

log = logging.getLogger(__name__)

# `DEFAULT_RETRY` and `translate_github_error` are also imported from here by older callers.
__all__ = ["DEFAULT_RETRY", "GitHubTickets", "translate_github_error"]

SEARCH_SCAN_LIMIT = 100  # one page of search results; more would spend the 30/minute budget


class GitHubTickets:
    """Files suture's tickets as GitHub issues carrying `settings.labels` and the draft's labels.

    `github` replaces the client built from `settings` (the pacing and retry arguments then have
    no effect). PyGithub's defaults pace requests 0.25 s apart and writes 1 s apart, which keeps
    clear of GitHub's secondary limits on content creation; tests pass 0.
    """

    def __init__(self, settings: GitHubSettings, *, github: Github | None = None,
                 seconds_between_requests: float = 0.25, seconds_between_writes: float = 1.0,
                 retry: Retry | None = DEFAULT_RETRY) -> None:
        self._labels = list(settings.labels)
        if github is None:
            if settings.token is None:
                raise ValueError("github.token is not configured")
            github = Github(
                auth=Auth.Token(settings.token.get_secret_value()),
                base_url=settings.base_url,
                timeout=15,
                per_page=100,
                retry=retry,
                seconds_between_requests=seconds_between_requests,
                seconds_between_writes=seconds_between_writes,
            )
        self._github = github

    def find_ticket(self, repo: str, marker: str) -> Ticket | None:
        """The issue of `repo` whose body carries `marker`, or None."""
        _require_marker(marker)
        with github_errors(f"looking for a ticket in {repo}"):
            return self._find(self._repo(repo), repo, marker)

    def open_ticket(self, draft: TicketDraft) -> Ticket:
        """File `draft` as an issue, or return the issue already filed with its marker."""
        _require_marker(draft.marker)
        draft = draft.model_copy(update={"title": outbound(draft.title, Channel.TICKET),
                                         "body": outbound(draft.body, Channel.TICKET)})
        with github_errors(f"filing a ticket in {draft.repo}"):
            repo = self._repo(draft.repo)
            existing = self._find(repo, draft.repo, draft.marker)
            if existing is not None:
                log.info("ticket for %s already filed in %s as #%s", draft.marker, draft.repo,
                         existing.ref)
                return existing
            issue = repo.create_issue(
                title=_fit_title(draft.title),
                body=_fit_body(draft.body, draft.marker),
                labels=_merge(self._labels, draft.labels),
            )
            log.info("filed %s in %s as #%s", draft.marker, draft.repo, issue.number)
            return _ticket(issue)

    def close(self) -> None:
        """Release the HTTP connections of the client."""
        self._github.close()

    def _repo(self, full_name: str) -> Repository:
        owner, _, name = full_name.partition("/")
        if not owner or not name or "/" in name:
            raise PermanentError(f"repository must look like owner/name, got {full_name!r}")
        return self._github.get_repo(full_name)

    def _find(self, repo: Repository, full_name: str, marker: str) -> Ticket | None:
        found = self._scan_labelled(repo, marker)
        return found if found is not None else self._search(full_name, marker)

    def _scan_labelled(self, repo: Repository, marker: str) -> Ticket | None:
        if not self._labels:
            return None  # unlabelled, every issue would have to be read; search instead
        # Every issue suture files carries the first configured label; filter on it alone so a
        # later change to the other labels does not hide older tickets.
        for issue in repo.get_issues(state="all", labels=self._labels[:1]):
            if not _is_pull_request(issue) and marker in (issue.body or ""):
                return _ticket(issue)
        return None

    def _search(self, full_name: str, marker: str) -> Ticket | None:
        """Best effort: a rate-limited or failing search is logged and treated as "not found"."""
        phrase = marker.replace('"', " ")  # keep the phrase quoted; the body check is exact
        query = f'"{phrase}" repo:{full_name} is:issue'
        try:
            for issue in itertools.islice(self._github.search_issues(query), SEARCH_SCAN_LIMIT):
                if marker in (issue.body or ""):
                    return _ticket(issue)
        except (GithubException, requests.RequestException) as exc:
            error = translate_github_error(exc, "searching issues")
            if isinstance(error, PermanentError):
                raise error from exc
            log.warning("issue search unavailable, relying on the label scan: %s", error)
        return None


def _require_marker(marker: str) -> None:
    if not marker.strip():
        raise PermanentError("a ticket marker must not be empty: every issue would match it")


def _is_pull_request(issue: Issue) -> bool:
    # The issues list includes pull requests. Reading `issue.pull_request` would cost one GET per
    # issue (PyGithub completes the object when the key is absent); the web URL tells the same.
    return "/pull/" in (issue.html_url or "")


def _ticket(issue: Issue) -> Ticket:
    return Ticket(ref=str(issue.number), url=issue.html_url)


def _merge(first: list[str], second: list[str]) -> list[str]:
    """Both label lists, duplicates (case-insensitive, as GitHub compares labels) dropped."""
    seen: set[str] = set()
    merged = []
    for name in [*first, *second]:
        if name.strip() and name.lower() not in seen:
            seen.add(name.lower())
            merged.append(name)
    return merged


def _fit_title(title: str) -> str:
    return fit_title(title, "suture ticket")


def _fit_body(body: str, marker: str) -> str:
    return fit_body(body, marker)
