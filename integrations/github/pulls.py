"""`GitHubPulls`: the `CodeHost` port on GitHub pull requests, through PyGithub.

Two ways to act. With a GitHub App configured (`integrations.github.app`), every repository gets
its own installation token (refreshed before it expires), `push_access` mints a fresh one per
call that reaches that repository only, evidence goes out as a check run, and the bot is the
App's `<slug>[bot]`. Without one, the personal token does everything, evidence becomes a commit
status (GitHub gives check runs to Apps only) and the bot is the token's own account. Which
client reaches a repository, and who the bot is, are `clients`' (`GitHubClients`).

A change is found by its branch first (`GET /pulls?head=owner:branch`, exact and without index
lag), then by the marker in its body through issue search (`is:pr`; lags, 30 requests a minute).
Opening is create-first: GitHub's 422 "A pull request already exists" means the change is there,
so it is listed again and adopted. Review requests leave out the bot and the author, and a login
GitHub refuses is skipped with GitHub's reason without losing the others. Reading a change back,
its conversation and who may push, and closing it, are `following`'s (`PullFollowing`); a
commit's CI result is `checks`' (`CommitChecks`). As in
`tickets`, nothing sleeps on a rate limit and every failure surfaces as `TransientError` or
`PermanentError`.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable
from datetime import UTC, datetime

import requests
from github import Github, GithubException
from github.GithubObject import NotSet
from github.PullRequest import PullRequest
from github.Repository import Repository
from urllib3.util.retry import Retry

from integrations.github.checks import CommitChecks
from integrations.github.clients import GitHubClients
from integrations.github.errors import (
    DEFAULT_RETRY,
    MAX_BODY,
    MAX_TITLE,
    fit_body,
    fit_title,
    github_message,
    translate_github_error,
)
from integrations.github.following import PullFollowing, change_record
from worker.codehost import Change, ChangeDraft, CheckPosted, CheckReport, PushAccess, ReviewRequest
from worker.egress import Channel, outbound, outbound_value
from worker.ports import PermanentError, TransientError
from worker.settings import GitHubSettings

log = logging.getLogger(__name__)

MAX_OUTPUT = 65_535  # a check run's summary and text, each
MAX_DESCRIPTION = 140  # a commit status's description
SEARCH_SCAN_LIMIT = 100  # one page of search results; more would spend the 30/minute budget
# A commit status has no neutral state; "error" says the check reached no verdict.
STATUS_STATES = {"success": "success", "failure": "failure", "neutral": "error"}


class GitHubPulls(GitHubClients, CommitChecks, PullFollowing):
    """Proposes changes as draft pull requests labelled `settings.labels` plus the draft's.

    PyGithub's pacing (0.25 s between requests, 1 s between writes) keeps clear of GitHub's
    secondary limits; tests pass 0. `clock` gives the current time (token renewal)."""

    name = "github"

    def __init__(self, settings: GitHubSettings, *, seconds_between_requests: float = 0.25,
                 seconds_between_writes: float = 1.0, retry: Retry | None = DEFAULT_RETRY,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        super().__init__(settings, pacing=(seconds_between_requests, seconds_between_writes),
                         retry=retry, clock=clock)
        self._labels = list(settings.labels)

    # -- the port -----------------------------------------------------------------------------

    def push_access(self, repo: str) -> PushAccess:
        """The clone URL of `repo` and a credential that can push to it."""
        with self._reaching(repo, "getting push access to"):
            remote = self._repo(repo)
            url = remote.clone_url
            if self._app is not None:
                minted = self._app.token_for(repo)
                return PushAccess(url=url, username="x-access-token", token=minted.token,
                                  expires_at=minted.expires_at.strftime("%Y-%m-%dT%H:%M:%SZ"))
            permissions = remote.permissions
            if permissions is not None and not permissions.push:
                raise PermanentError(f"the GitHub token cannot push to {repo}")
            assert self._token is not None
            return PushAccess(url=url, username="x-access-token", token=self._token)

    def default_branch(self, repo: str) -> str:
        """The branch pull requests of `repo` target by default."""
        with self._reaching(repo, "reading the default branch of"):
            return self._repo(repo).default_branch

    def find_change(self, repo: str, branch: str, marker: str) -> Change | None:
        """The pull request from `branch`, else one whose body carries `marker`, any state."""
        _require_marker(marker)
        with self._reaching(repo, "looking for a change in"):
            client = self._github(repo)
            remote = client.get_repo(repo)
            found = self._by_branch(remote, repo, branch, state="all")
            if found is not None:
                return change_record(repo, found, adopted=True)
            return self._by_marker(client, remote, repo, marker)

    def open_change(self, draft: ChangeDraft) -> Change:
        """Open `draft` as a pull request with its labels, or adopt the open one from its
        branch."""
        _require_marker(draft.marker)
        with self._reaching(draft.repo, f"opening a change from {draft.branch} in"):
            remote = self._repo(draft.repo)
            adopted = False
            try:
                pull = remote.create_pull(base=draft.base_branch, head=draft.branch,
                                          title=_fit_title(outbound(draft.title, Channel.PR_BODY)),
                                          body=_fit_body(outbound(draft.body, Channel.PR_BODY),
                                                         draft.marker),
                                          draft=draft.draft)
                log.info("opened %s#%s from %s", draft.repo, pull.number, draft.branch)
            except GithubException as exc:
                if exc.status != 422 or "already exists" not in github_message(exc):
                    raise
                existing = self._by_branch(remote, draft.repo, draft.branch, state="open")
                if existing is None:  # GitHub knows it; its list does not show it yet
                    raise TransientError(f"GitHub says a pull request from {draft.branch} is "
                                         f"open in {draft.repo} but does not list it yet",
                                         retry_after=5.0) from exc
                pull, adopted = existing, True
                log.info("adopted %s#%s from %s", draft.repo, pull.number, draft.branch)
            have = {label.name.lower() for label in pull.labels}
            missing = [name for name in _merge(self._labels, draft.labels)
                       if name.lower() not in have]
            if missing:
                pull.add_to_labels(*missing)
            return change_record(draft.repo, pull, adopted=adopted)

    def comment(self, repo: str, number: int, body: str) -> str:
        """Comment on pull request `number`; the comment's page."""
        with self._reaching(repo, f"commenting on #{number} of"):
            text = _clip(outbound(body, Channel.PR_COMMENT), MAX_BODY)
            made = self._repo(repo).get_issue(number).create_comment(text)
            return made.html_url

    def request_reviewers(self, repo: str, number: int, logins: list[str]) -> ReviewRequest:
        """Ask `logins` to review; the bot and the author are skipped, and so is anyone GitHub
        refuses (not a collaborator, unknown), each with the reason."""
        with self._reaching(repo, f"requesting reviews on #{number} of"):
            pull = self._repo(repo).get_pull(number)
            result = ReviewRequest()
            bot, author = self._bot_login().lower(), pull.user.login.lower()
            wanted: list[str] = []
            for login in dict.fromkeys(login.strip() for login in logins if login.strip()):
                if login.lower() == bot:
                    result.skipped[login] = "the bot itself"
                elif login.lower() == author:
                    result.skipped[login] = "the author of the change"
                elif login.lower() not in (w.lower() for w in wanted):
                    wanted.append(login)
            if not wanted:
                return result
            try:
                pull.create_review_request(reviewers=wanted)
                result.requested = wanted
                return result
            except GithubException as exc:
                if exc.status != 422:
                    raise
                if len(wanted) == 1:
                    result.skipped[wanted[0]] = f"GitHub refused: {github_message(exc)}"
                    return result
            # GitHub does not say which login it refused: ask for each alone.
            for login in wanted:
                try:
                    pull.create_review_request(reviewers=[login])
                    result.requested.append(login)
                except GithubException as exc:
                    if exc.status != 422:
                        raise
                    result.skipped[login] = f"GitHub refused: {github_message(exc)}"
            return result

    def report_check(self, repo: str, report: CheckReport) -> CheckPosted:
        """A check run with the evidence (App), else a commit status pointing at it."""
        report = report.model_copy(update=outbound_value(
            {"title": report.title, "summary": report.summary, "text": report.text},
            Channel.CHECK_OUTPUT))
        title = " ".join(report.title.split())
        with self._reaching(repo, f"reporting {report.name} on {report.head_sha[:12]} in"):
            remote = self._repo(repo)
            if self._app is not None:
                output: dict[str, str | list[dict[str, str | int]]] = {
                    "title": _clip(title, MAX_TITLE),
                    "summary": _clip(report.summary or title, MAX_OUTPUT)}
                if report.text:
                    output["text"] = _clip(report.text, MAX_OUTPUT, keep_tail=True)
                run = remote.create_check_run(
                    name=report.name, head_sha=report.head_sha, status="completed",
                    conclusion=report.conclusion, completed_at=self._clock(), output=output,
                    details_url=report.details_url or NotSet)
                return CheckPosted(kind="check_run", url=run.html_url)
            status = remote.get_commit(report.head_sha).create_status(
                state=STATUS_STATES[report.conclusion], context=report.name,
                description=_clip(title, MAX_DESCRIPTION),
                target_url=report.details_url or NotSet)
            return CheckPosted(kind="status", url=status.url)

    def _by_branch(self, remote: Repository, repo: str, branch: str,
                   state: str) -> PullRequest | None:
        owner = repo.partition("/")[0]
        pulls = list(itertools.islice(remote.get_pulls(state=state, head=f"{owner}:{branch}"),
                                      30))
        return next((pull for pull in pulls if pull.state == "open"), None) or (
            pulls[0] if pulls else None)

    def _by_marker(self, client: Github, remote: Repository, repo: str,
                   marker: str) -> Change | None:
        """Best effort: a rate-limited or failing search is logged and counts as not found."""
        phrase = marker.replace('"', " ")  # keep the phrase quoted; the body check is exact
        query = f'"{phrase}" repo:{repo} is:pr'
        try:
            for issue in itertools.islice(client.search_issues(query), SEARCH_SCAN_LIMIT):
                if marker in (issue.body or ""):
                    return change_record(repo, remote.get_pull(issue.number), adopted=True)
        except (GithubException, requests.RequestException) as exc:
            error = translate_github_error(exc, "searching pull requests")
            if isinstance(error, PermanentError):
                raise error from exc
            log.warning("pull request search unavailable, relying on the branch: %s", error)
        return None


def _require_marker(marker: str) -> None:
    if not marker.strip():
        raise PermanentError("a change marker must not be empty: every pull request would match")


def _merge(first: list[str], second: list[str]) -> list[str]:
    """Both label lists, duplicates (case-insensitive, as GitHub compares labels) dropped."""
    seen: dict[str, str] = {}
    for name in [*first, *second]:
        if name.strip():
            seen.setdefault(name.lower(), name)
    return list(seen.values())


def _clip(text: str, limit: int, *, keep_tail: bool = False) -> str:
    """`text` within `limit` characters, saying how much was cut; a log keeps its end too
    (where failures are reported)."""
    if len(text) <= limit:
        return text
    template = "\n\n[… {} characters cut …]\n\n"
    room = limit - len(template.format(len(text)))  # the count has at most this many digits
    note = template.format(len(text) - room)
    if not keep_tail:
        return text[:room] + note.rstrip()
    head = room // 3
    return text[:head] + note + text[len(text) - (room - head):]


def _fit_title(title: str) -> str:
    return fit_title(title, "suture fix")


def _fit_body(body: str, marker: str) -> str:
    return fit_body(body, marker)
