"""`GitHubStandIn`: a local HTTP server speaking enough of GitHub's REST API to file issues.

Routes here: the authenticated user, a repository, reading a commit (with the account it belongs
to) and `/rate_limit`; listing, creating and reading issues, adding labels and issue search are
the `issues` routes. Every route checks the token (`token X` or `Bearer X`; 401 "Requires
authentication" without one, "Bad credentials" for a wrong one), spends one request from a
primary rate-limit bucket and answers with `x-ratelimit-*` headers. Faults GitHub really produces
(secondary rate limits, 5xx) can be queued with `fail_secondary_rate_limit` and
`fail_server_error`. State is in memory (`state`), readable in GitHub's shapes through
`issues()`, and seeded with `add_issue`, `add_account` and `add_commit`. Pull requests, branches,
comments, checks, GitHub Apps and git over HTTP come from `ChangeHosting` (`hosting`) and the
`pulls` (with `conversation`), `checks` and `apps` routes; what people do to pull requests
(merge, close, comment, review, roles) from `following`; CI results on commits (listed check
runs, the combined status, `add_check_run`) from `checkruns`.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from integrations.standins.base import Call, Handler, Reply
from integrations.standins.github import apps, checks, deployments, issues, pulls, shapes, wire
from integrations.standins.github.checkruns import CheckRunActions
from integrations.standins.github.following import ConversationActions
from integrations.standins.github.hosting import REPO_PATH, RepoHandler
from integrations.standins.github.state import CommitRecord, ForgeState, IssueRecord, RepoState

_DOC_COMMIT = "https://docs.github.com/rest/commits/commits#get-a-commit"


class GitHubStandIn(CheckRunActions, ConversationActions):
    """GitHub's REST API on 127.0.0.1 for one personal token (and the installation tokens of
    its Apps); `repos` are `owner/name` strings; bare repositories live in `git_root`."""

    def __init__(self, *, token: str = "test-token", login: str = "suture-bot",
                 repos: Iterable[str] = (), search_lag: bool = False, port: int = 0,
                 git_root: Path | None = None) -> None:
        super().__init__(port, git_root)
        self.token = token
        self.login = login
        self.state = ForgeState(search_lag=search_lag)
        self.limits = wire.RateLimits()
        self._user_id = self.state.next_id()
        for full_name in repos:
            self.add_repo(*full_name.split("/", 1))
        self._routes()

    # -- test-facing API ----------------------------------------------------------------------

    def add_repo(self, owner: str, repo: str) -> None:
        """Make repository `owner/repo` exist."""
        self.state.add_repo(owner, repo)

    def issues(self, owner: str, repo: str) -> list[dict[str, Any]]:
        """Every issue of `owner/repo` in GitHub's shape, lowest number first."""
        state = self._repo_or_raise(owner, repo)
        with self.state.lock:
            return [self._issue_json(state, record) for record in state.issues.values()]

    def add_issue(self, owner: str, repo: str, *, title: str, body: str = "",
                  labels: Iterable[str] = (), author: str = "someone-else") -> dict[str, Any]:
        """File an issue directly, as another user would have."""
        state = self._repo_or_raise(owner, repo)
        record = self.state.create_issue(state, title=title, body=body, labels=labels,
                                         author=author)
        return self._issue_json(state, record)

    def add_account(self, login: str, *emails: str) -> None:
        """Make account `login` exist, commits written as any of `emails` linked to it."""
        self.state.add_account(login, emails)

    def add_commit(self, owner: str, repo: str, sha: str, *, email: str, name: str = "Someone",
                   message: str = "", login: str | None = None, parents: Iterable[str] = (),
                   date: str = "2026-01-01T00:00:00Z") -> None:
        """Record commit `sha` (40 hex digits) written as `email`; `login` links the email to
        that account (without one, the commit's `author` is null unless an account has it)."""
        state = self._repo_or_raise(owner, repo)
        if login is not None:
            self.state.add_account(login, [email])
        self.state.add_commit(state, CommitRecord(sha=sha, author_name=name, author_email=email,
                                                  date=date, message=message,
                                                  parents=list(parents)))

    def reindex(self) -> None:
        """Let search see every issue filed so far (see `search_lag`)."""
        self.state.reindex()

    def fail_secondary_rate_limit(self, *, retry_after: int | None = 60, status: int = 403,
                                  times: int = 1) -> None:
        """Answer the next requests with GitHub's secondary rate-limit refusal."""
        headers = {"retry-after": str(retry_after)} if retry_after is not None else {}
        reply = wire.error(status, wire.SECONDARY_LIMIT_MESSAGE,
                           f"{wire.DOCS}/using-the-rest-api/rate-limits-for-the-rest-api",
                           headers={**self.limits.headers("core"), **headers})
        self.fail_next(reply, times)

    def fail_server_error(self, status: int = 502, times: int = 1) -> None:
        """Answer the next requests with a 5xx, as GitHub does when it is unwell."""
        self.fail_next(wire.error(status, "Server Error"), times)

    # -- plumbing -----------------------------------------------------------------------------

    def _repo_or_raise(self, owner: str, repo: str) -> RepoState:
        state = self.state.repo(owner, repo)
        if state is None:
            raise KeyError(f"no repository {owner}/{repo} in the stand-in")
        return state

    def _routes(self) -> None:
        self._route("GET", r"/user", self._get_user)
        self._route("GET", r"/rate_limit", self._get_rate_limit, resource=None)
        self._route("GET", REPO_PATH, self._in_repo(self._get_repo))
        self._route("GET", REPO_PATH + r"/commits/(?P<ref>[^/]+)", self._in_repo(self._get_commit))
        for module in (issues, pulls, checks, apps, deployments):
            module.register(self)
        self._serve_ci_results()

    def _route(self, method: str, pattern: str, handler: Handler,
               resource: str | None = "core") -> None:
        """Register a route behind the token check and the rate-limit bucket of `resource`."""

        def guarded(call: Call) -> Reply:
            refusal = self._check_token(call)
            if refusal is not None:
                return refusal
            if resource is None:
                return handler(call)
            allowed, headers = self.limits.charge(resource)
            if not allowed:
                return wire.error(403, "API rate limit exceeded for user ID "
                                  f"{self._user_id}.", headers=headers)
            reply = handler(call)
            reply.headers = {**headers, **reply.headers}
            return reply

        self.route(method, pattern, guarded)

    def _check_token(self, call: Call) -> Reply | None:
        scheme, _, value = call.headers.get("authorization", "").partition(" ")
        if not value:
            return wire.error(401, "Requires authentication")
        if scheme.lower() not in {"token", "bearer"}:
            return wire.error(401, "Bad credentials")
        if value.strip() != self.token:
            return self.apps.api_refusal(call.path, value.strip())
        return None

    def _in_repo(self, handler: RepoHandler) -> Handler:
        """Resolve `owner/repo` from the path; unknown repositories are GitHub's plain 404."""

        def resolved(call: Call) -> Reply:
            state = self.state.repo(call.params["owner"], call.params["repo"])
            return wire.not_found() if state is None else handler(call, state)

        return resolved

    def _issue_json(self, repo: RepoState, record: IssueRecord) -> dict[str, Any]:
        labels = [repo.labels[name.lower()] for name in record.labels]
        return shapes.issue(self.url, repo.full_name, {
            "comments": len(record.comments),
            "closed_at": record.closed_at,
            "id": record.id,
            "number": record.number,
            "title": record.title,
            "body": record.body,
            "state": record.state,
            "user": shapes.user(self.url, record.author, self._author_id(record.author)),
            "labels": [shapes.label(self.url, repo.full_name, label.name, label.id, label.color)
                       for label in labels],
            "created_at": record.created_at,
            "updated_at": record.updated_at,
        }, pull=record.pull is not None)

    def _author_id(self, login: str) -> int:
        return self._user_id if login == self.login else self._user_id + 1

    # -- routes -------------------------------------------------------------------------------

    def _get_user(self, call: Call) -> Reply:
        return Reply(200, shapes.user(self.url, self.login, self._user_id))

    def _get_rate_limit(self, call: Call) -> Reply:
        return Reply(200, self.limits.snapshot())

    def _get_repo(self, call: Call, repo: RepoState) -> Reply:
        body = shapes.repository(self.url, repo.owner, repo.name, repo.id)
        body["open_issues_count"] = body["open_issues"] = sum(
            1 for issue in repo.issues.values() if issue.state == "open"
        )
        return Reply(200, body)

    def _get_commit(self, call: Call, repo: RepoState) -> Reply:
        record = self.state.find_commit(repo, call.params["ref"])
        if record is None:  # what GitHub answers for a sha the repository does not have
            return wire.error(422, f"No commit found for SHA: {call.params['ref']}", _DOC_COMMIT)
        return Reply(200, shapes.commit(self.url, repo.full_name, record,
                                        self._account_json(record.author_email),
                                        self._account_json(record.committer_email
                                                           or record.author_email)))

    def _account_json(self, email: str) -> dict[str, Any] | None:
        account = self.state.account_for(email)
        return None if account is None else shapes.user(self.url, account.login, account.id)
