"""The read side of `GitHubPulls`: a pull request as it is now, its conversation, who may push,
who suture is, and closing a change suture gives up on.

A pull request is merged when it has `merged_at` (list items carry no `merged` flag), and its
`merge_commit_sha` then names the merge (before that GitHub fills it with a test merge, which
is ignored). The conversation is the issue comments of the pull request plus every submitted
review that says something (an approval without text is not a comment), oldest first. Ids are
GitHub's own (a review's is its review id), as the `issue_comment` and `pull_request_review`
webhooks carry them, so a comment seen both ways is recognised as one. An author is a bot when
GitHub says `type: "Bot"` or the login ends in `[bot]`. Write access is GitHub's legacy
`permission` (`admin` or `write`; `maintain` is reported as `write`) or the `role_name`; GitHub's
404 for an unknown login is told apart from one for an unreachable repository by asking for the
repository. Closing comments first, once: a comment suture already left with
the same text is not repeated, so a retry after a crash between the two steps stays quiet.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import Literal
from urllib.parse import quote

from github import Github, GithubException
from github.NamedUser import NamedUser
from github.Organization import Organization
from github.PullRequest import PullRequest
from github.Repository import Repository

from worker.codehost import Change, ChangeComment
from worker.egress import Channel, outbound

WRITE_ROLES = frozenset({"admin", "maintain", "write"})
_EPOCH = datetime.min.replace(tzinfo=UTC)


class PullFollowing(ABC):
    """The `CodeHost` methods that read a change and close it; mixed into `GitHubPulls`,
    which provides the plumbing below."""

    # -- plumbing `GitHubPulls` provides (`GitHubClients`) -------------------------------------

    @abstractmethod
    def _github(self, repo: str) -> Github:
        ...

    @abstractmethod
    def _repo(self, full_name: str) -> Repository:
        ...

    @abstractmethod
    def _reaching(self, repo: str, action: str) -> AbstractContextManager[None]:
        ...

    @abstractmethod
    def _bot_login(self) -> str:
        ...

    @abstractmethod
    def comment(self, repo: str, number: int, body: str) -> str:
        """Comment on the change (`GitHubPulls.comment`)."""
        ...

    # -- the port -----------------------------------------------------------------------------

    def change(self, repo: str, number: int) -> Change:
        """Pull request `number` as it is now (PermanentError when there is none)."""
        with self._reaching(repo, f"reading #{number} of"):
            return change_record(repo, self._repo(repo).get_pull(number), adopted=False)

    def comments(self, repo: str, number: int) -> list[ChangeComment]:
        """The conversation on pull request `number`, oldest first."""
        with self._reaching(repo, f"reading the conversation on #{number} of"):
            pull = self._repo(repo).get_pull(number)
            found: list[tuple[datetime, int, ChangeComment]] = []
            for comment in pull.get_issue_comments():
                found.append((comment.created_at or _EPOCH, comment.id, ChangeComment(
                    id=str(comment.id), author=_login(comment.user), body=comment.body or "",
                    author_is_bot=_is_bot(comment.user), created_at=comment.created_at,
                    url=comment.html_url or "")))
            for review in pull.get_reviews():
                if review.state == "PENDING" or not (review.body or "").strip():
                    continue
                found.append((review.submitted_at or _EPOCH, review.id, ChangeComment(
                    id=str(review.id), author=_login(review.user), body=review.body,
                    author_is_bot=_is_bot(review.user), created_at=review.submitted_at,
                    url=review.html_url or "")))
        return [comment for _, _, comment in sorted(found, key=lambda item: item[:2])]

    def can_write(self, repo: str, login: str) -> bool:
        """True when `login` may push to `repo`; False for an account GitHub does not know."""
        login = login.strip()
        if not login:
            return False
        owner, _, name = repo.partition("/")
        path = f"/repos/{quote(owner, safe='')}/{quote(name, safe='')}"
        with self._reaching(repo, f"reading the permission of {login} on"):
            requester = self._github(repo).requester
            try:
                _, data = requester.requestJsonAndCheck(
                    "GET", f"{path}/collaborators/{quote(login, safe='')}/permission")
            except GithubException as exc:
                if exc.status != 404:
                    raise
                requester.requestJsonAndCheck("GET", path)  # 404 here: the repository's
                return False
        return bool({data.get("permission"), data.get("role_name")} & WRITE_ROLES)

    def own_login(self, repo: str) -> str:
        """The account suture acts as on `repo`: the App's `<slug>[bot]`, else the token's."""
        with self._reaching(repo, "reading suture's own account on"):
            self._github(repo)
            return self._bot_login()

    def close_change(self, repo: str, number: int, comment: str | None = None) -> None:
        """Say `comment` (when given and not said already) and close pull request `number`;
        a closed or merged one is left as it is."""
        # Scrubbed here as well as in `comment`, so `_said` compares what would be posted.
        comment = None if comment is None else outbound(comment, Channel.PR_COMMENT)
        with self._reaching(repo, f"closing #{number} of"):
            pull = self._repo(repo).get_pull(number)
            if pull.state != "open":
                return
            if comment is not None and comment.strip() and not self._said(pull, comment):
                self.comment(repo, number, comment)
            pull.edit(state="closed")

    def _said(self, pull: PullRequest, text: str) -> bool:
        me = self._bot_login().lower()
        return any(_login(made.user).lower() == me and (made.body or "").strip() == text.strip()
                   for made in pull.get_issue_comments())


def change_record(repo: str, pull: PullRequest, *, adopted: bool) -> Change:
    """The port's `Change` for a PyGithub pull request (from a list or fetched alone)."""
    merged = pull.merged_at is not None
    state: Literal["open", "closed", "merged"] = (
        "merged" if merged else "open" if pull.state == "open" else "closed")
    return Change(repo=repo, number=pull.number, url=pull.html_url, branch=pull.head.ref,
                  head_sha=pull.head.sha, state=state, draft=bool(pull.draft), adopted=adopted,
                  merge_sha=(pull.merge_commit_sha or "") if merged else "",
                  author=_login(pull.user))


def _login(user: NamedUser | Organization | None) -> str:
    return "" if user is None else str(user.login or "")


def _is_bot(user: NamedUser | Organization | None) -> bool:
    return user is not None and (user.type == "Bot" or _login(user).endswith("[bot]"))
