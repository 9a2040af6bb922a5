"""What people do to a pull request in the GitHub stand-in, for tests to drive: merge it (a real
merge commit in the bare repository, `main` moved), close it, comment on it, review it, and
give accounts a role on the repository.

`ConversationActions` sits between `ChangeHosting` and `GitHubStandIn`. A merge writes what
GitHub's merge button writes: a commit whose parents are the base branch's tip and the pull
request's head, by the merger and committed by GitHub, titled "Merge pull request #N from
owner/branch" with the pull request's title below; the pull request is then closed with
`merged_at`, `merged_by` and `merge_commit_sha` set.
"""

from __future__ import annotations

from typing import Any

from integrations.standins.github.conversation import ROLES, review_json
from integrations.standins.github.hosting import ChangeHosting, comment_json
from integrations.standins.github.state import (
    CommentRecord,
    IssueRecord,
    RepoState,
    ReviewRecord,
    now_iso,
)
from integrations.standins.merging import merge_commit

REVIEW_STATES = {"APPROVED": "APPROVED", "APPROVE": "APPROVED",
                 "CHANGES_REQUESTED": "CHANGES_REQUESTED", "REQUEST_CHANGES": "CHANGES_REQUESTED",
                 "COMMENTED": "COMMENTED", "COMMENT": "COMMENTED", "PENDING": "PENDING"}
_GITHUB = ("GitHub", "noreply@github.com")  # who commits what the merge button writes


class ConversationActions(ChangeHosting):
    """Test-facing actions of people on pull requests and repositories."""

    def merge_pull(self, owner: str, repo: str, number: int, *, by: str) -> str:
        """Merge open pull request `number` as `by` with a merge commit on its base branch;
        the merge commit's sha. ValueError when it is not open or conflicts."""
        state, record = self._pull_record(owner, repo, number)
        pull = record.pull
        assert pull is not None
        if record.state != "open":
            raise ValueError(f"pull request #{number} is {record.state}, not open")
        head = self.head_of(state, pull.head) or pull.head_sha
        message = f"Merge pull request #{number} from {state.owner}/{pull.head}\n\n{record.title}"
        sha = merge_commit(self.git.repo_path(state.full_name), pull.base, head, message,
                           name=by, email=f"{by}@users.noreply.github.com", committer=_GITHUB)
        self.state.add_account(by)
        with self.state.lock:
            merged_at = now_iso()
            pull.head_sha, pull.merged_at, pull.merged_by, pull.merge_sha = head, merged_at, by, sha
            record.state, record.closed_at, record.updated_at = "closed", merged_at, merged_at
        return sha

    def close_pull(self, owner: str, repo: str, number: int) -> None:
        """Close pull request `number` without merging it (nothing when it is closed)."""
        _, record = self._pull_record(owner, repo, number)
        with self.state.lock:
            if record.state == "open":
                record.state, record.closed_at = "closed", now_iso()
                record.updated_at = record.closed_at

    def comment(self, owner: str, repo: str, number: int, body: str, *, as_user: str,
                bot: bool = False) -> dict[str, Any]:
        """Comment on pull request (or issue) `number` as `as_user`, an account of type `Bot`
        when `bot`; the comment as GitHub lists it."""
        state = self._known(owner, repo)
        record = state.issues[number]
        self.state.add_account(as_user).bot |= bot
        with self.state.lock:
            made = CommentRecord(id=self.state.next_id(), author=as_user, body=body)
            record.comments.append(made)
            record.updated_at = made.created_at
            return comment_json(self, state, record, made)

    def review(self, owner: str, repo: str, number: int, body: str = "", *, as_user: str,
               state: str = "COMMENTED") -> dict[str, Any]:
        """Review pull request `number` as `as_user`: `state` is GitHub's verdict (APPROVED,
        CHANGES_REQUESTED, COMMENTED, PENDING) or the event that gives it (APPROVE, ...)."""
        verdict = REVIEW_STATES.get(state.upper())
        if verdict is None:
            raise ValueError(f"unknown review state {state!r}")
        repo_state, record = self._pull_record(owner, repo, number)
        pull = record.pull
        assert pull is not None
        head = self.head_of(repo_state, pull.head) or pull.head_sha
        self.state.add_account(as_user)
        with self.state.lock:
            made = ReviewRecord(id=self.state.next_id(), author=as_user, body=body,
                                state=verdict, commit_id=head)
            if verdict == "PENDING":
                made.submitted_at = None
            pull.reviews.append(made)
            record.updated_at = now_iso()
            return review_json(self, repo_state, record, made)

    def set_permission(self, owner: str, repo: str, login: str, role: str) -> None:
        """Give `login` the role `role` on `owner/repo` (none, read, triage, write, maintain,
        admin); anyone with a role may also be asked to review."""
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}; GitHub's are {', '.join(ROLES)}")
        state = self._known(owner, repo)
        self.state.add_account(login)
        with self.state.lock:
            state.roles[login.lower()] = role
            if role == "none":
                state.collaborators.discard(login.lower())
            else:
                state.collaborators.add(login.lower())

    def _pull_record(self, owner: str, repo: str, number: int) -> tuple[RepoState, IssueRecord]:
        state = self._known(owner, repo)
        record = state.issues.get(number)
        if record is None or record.pull is None:
            raise KeyError(f"no pull request #{number} in {owner}/{repo}")
        return state, record
