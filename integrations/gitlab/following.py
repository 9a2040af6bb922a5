"""The read side of `GitLabMergeRequests`: a merge request as it is now, its conversation, who
may push, who suture is, and closing a change suture gives up on.

A merged merge request names the commit that merged it in `merge_commit_sha`, or in
`squash_commit_sha` when it was squashed and fast-forwarded; a plain fast-forward leaves both
empty and its head (`sha`) is then what landed. The conversation is the merge request's notes
without GitLab's system notes ("merged", "requested review from ..."), oldest first. The
author inside a note is GitLab's basic user, which has no `bot` flag, so a note's author is
looked up once (`GET /users/:id`, which has it) and remembered. Write access is a membership
(inherited or invited included: `GET /projects/:id/members/all/:user_id`) of an active account
with at least the Developer role; an unknown username or a non-member is no access, while a 404
for the project itself stays an error. Closing comments first, once: a note suture already left
with the same text is not repeated, so a retry after a crash between the two steps stays quiet.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any, Literal

from gitlab import exceptions as gl_exc
from gitlab.v4.objects import Project, ProjectMergeRequest

from integrations.gitlab.client import WorkerGitlab
from worker.codehost import Change, ChangeComment
from worker.egress import Channel, outbound

DEVELOPER = 30  # the least role that may push branches
ChangeState = Literal["open", "closed", "merged"]
STATES: dict[str, ChangeState] = {"opened": "open", "locked": "open", "closed": "closed",
                                  "merged": "merged"}


class MergeRequestFollowing(ABC):
    """The `CodeHost` methods that read a change and close it; mixed into
    `GitLabMergeRequests`, which provides the plumbing below."""

    _gl: WorkerGitlab
    _me: str | None  # the token's username as GitLab spells it, once asked
    _bots: dict[int, bool]  # user id → a bot account

    # -- plumbing `GitLabMergeRequests` provides ----------------------------------------------

    @abstractmethod
    def _project(self, repo: str) -> Project:
        ...

    @abstractmethod
    def _errors(self, action: str) -> AbstractContextManager[None]:
        ...

    @abstractmethod
    def comment(self, repo: str, number: int, body: str) -> str:
        """Add a note (`GitLabMergeRequests.comment`)."""
        ...

    # -- the port -----------------------------------------------------------------------------

    def change(self, repo: str, number: int) -> Change:
        """Merge request `number` as it is now (PermanentError when there is none)."""
        with self._errors(f"reading !{number} in {repo}"):
            merge_request = self._project(repo).mergerequests.get(number)
        return change_record(merge_request, repo, adopted=False)

    def comments(self, repo: str, number: int) -> list[ChangeComment]:
        """The notes people left on merge request `number`, oldest first."""
        with self._errors(f"reading the notes of !{number} in {repo}"):
            merge_request = self._project(repo).mergerequests.get(number)
            found = []
            for note in merge_request.notes.list(iterator=True, sort="asc",
                                                 order_by="created_at"):
                if note.attributes.get("system"):
                    continue
                author = note.attributes.get("author") or {}
                found.append(ChangeComment(
                    id=str(note.id), author=str(author.get("username") or ""),
                    body=str(note.body or ""), author_is_bot=self._is_bot(author),
                    created_at=_when(note.attributes.get("created_at")),
                    url=f"{merge_request.web_url}#note_{note.id}"))
        return sorted(found, key=lambda made: (
            made.created_at.timestamp() if made.created_at else 0.0, int(made.id)))

    def can_write(self, repo: str, login: str) -> bool:
        """True when `login` (a username) may push branches to `repo`."""
        key = login.strip().lower()
        if not key:
            return False
        with self._errors(f"reading the role of {login} in {repo}"):
            project = self._project(repo)
            users = [user for user in self._gl.users.list(username=login.strip(), get_all=False)
                     if str(user.username).lower() == key]
            if not users or users[0].state != "active":
                return False
            try:
                member = project.members_all.get(users[0].id)
            except gl_exc.GitlabGetError as exc:
                if exc.response_code != 404:
                    raise
                project.refresh()  # a 404 here is the project's, not the membership's
                return False
        level = member.attributes.get("access_level")
        return isinstance(level, int) and level >= DEVELOPER and member.state == "active"

    def own_login(self, repo: str) -> str:
        """The username of the token's account (a project access token's bot user)."""
        with self._errors(f"reading suture's own account on {repo}"):
            self._project(repo)
            return self._own_username()

    def close_change(self, repo: str, number: int, comment: str | None = None) -> None:
        """Leave `comment` (when given and not left already) and close merge request
        `number`; a closed or merged one is left as it is."""
        # Scrubbed here as well as in `comment`, so `_said` compares what would be posted.
        comment = None if comment is None else outbound(comment, Channel.PR_COMMENT)
        with self._errors(f"closing !{number} in {repo}"):
            project = self._project(repo)
            merge_request = project.mergerequests.get(number)
            if merge_request.state not in ("opened", "locked"):
                return
            if comment is not None and comment.strip() and not self._said(merge_request,
                                                                           comment):
                self.comment(repo, number, comment)
            project.mergerequests.update(number, {"state_event": "close"})

    # -- helpers ------------------------------------------------------------------------------

    def _own_username(self) -> str:
        if self._me is None:
            self._gl.auth()
            assert self._gl.user is not None
            self._me = str(self._gl.user.username)
        return self._me

    def _said(self, merge_request: ProjectMergeRequest, text: str) -> bool:
        me = self._own_username().lower()
        return any(not note.attributes.get("system")
                   and str((note.attributes.get("author") or {}).get("username", "")).lower() == me
                   and str(note.body or "").strip() == text.strip()
                   for note in merge_request.notes.list(iterator=True))

    def _is_bot(self, author: dict[str, Any]) -> bool:
        """GitLab's `bot` flag of a note's author (where the note has it, else its profile)."""
        if "bot" in author:
            return bool(author["bot"])
        user_id = author.get("id")
        if not isinstance(user_id, int):
            return False
        if user_id not in self._bots:
            try:
                profile = self._gl.users.get(user_id)
                self._bots[user_id] = bool(profile.attributes.get("bot", False))
            except gl_exc.GitlabGetError as exc:
                if exc.response_code not in (403, 404):  # a deleted or hidden account
                    raise
                self._bots[user_id] = False
        return self._bots[user_id]


def change_record(merge_request: ProjectMergeRequest, repo: str, *, adopted: bool) -> Change:
    """The port's `Change` for a python-gitlab merge request (listed or fetched alone)."""
    attributes = merge_request.attributes
    draft = attributes.get("draft", attributes.get("work_in_progress", False))
    state = STATES.get(str(merge_request.state), "closed")
    merge_sha = ""
    if state == "merged":  # a plain fast-forward names no merge commit: its head landed
        merge_sha = str(attributes.get("merge_commit_sha") or attributes.get("squash_commit_sha")
                        or attributes.get("sha") or "")
    author = attributes.get("author") or {}
    return Change(repo=repo, number=int(merge_request.iid), url=str(merge_request.web_url),
                  branch=str(merge_request.source_branch),
                  head_sha=str(attributes.get("sha") or ""), state=state, draft=bool(draft),
                  adopted=adopted, merge_sha=merge_sha, author=str(author.get("username") or ""))


def _when(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(value)) if value else None
    except ValueError:
        return None
