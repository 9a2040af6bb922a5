"""What suture says to a code host about a change it proposes: the typed records of the
`CodeHost` port (GitHub pull requests, GitLab merge requests).

A change is found again by its branch and by a marker string in its body, so publishing stays
idempotent across retries and crashes. Pushing goes over HTTPS with a short-lived token the
host mints per job (`PushAccess`); the token reaches git only through its credential helper.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field, SecretStr


class PushAccess(BaseModel):
    """Where and as whom to push one repository: an HTTPS (or, for local stand-ins, HTTP) URL
    with no credentials in it, and the user name and token git's credential helper hands over.
    Minted per job and scoped to the one repository where the host allows it."""

    url: str
    username: str
    token: SecretStr
    expires_at: str | None = None


class ChangeDraft(BaseModel):
    """A change to propose: `branch` (already pushed) into `base_branch`, as a draft."""

    repo: str
    branch: str
    base_branch: str
    title: str
    body: str
    marker: str
    labels: list[str] = Field(default_factory=list)
    draft: bool = True


class Change(BaseModel):
    """A pull or merge request on the host. `adopted` is True when it existed already (found
    by branch or marker, or the host answered that it exists) rather than being created."""

    repo: str
    number: int
    url: str
    branch: str
    head_sha: str = ""
    state: Literal["open", "closed", "merged"] = "open"
    draft: bool = True
    adopted: bool = False
    merge_sha: str = ""  # the commit that merged it, once merged
    author: str = ""


class ReviewRequest(BaseModel):
    """Who was asked to review, and who was left out and why (the bot itself, the author,
    an account the host does not know or that cannot review)."""

    requested: list[str] = Field(default_factory=list)
    skipped: dict[str, str] = Field(default_factory=dict)


class CheckReport(BaseModel):
    """The verification evidence attached to the change's head commit: a check run where the
    host and credential allow one (full logs in `text`), else a commit status pointing at
    `details_url`."""

    name: str = "suture"
    head_sha: str
    conclusion: Literal["success", "failure", "neutral"]
    title: str
    summary: str
    text: str = ""
    details_url: str | None = None


class CheckPosted(BaseModel):
    """Where a check report went: `kind` is "check_run" or "status"."""

    kind: Literal["check_run", "status"]
    url: str = ""


class CheckResult(BaseModel):
    """The latest CI result of one name on one commit, as the host reports it: a check run or
    commit status (GitHub), a pipeline (GitLab). `summary` is the host's text for it (a check
    run's output title and summary, a pipeline's failed jobs), raw: scrub it before use."""

    name: str
    conclusion: Literal["success", "failure", "pending"]
    summary: str = ""
    url: str = ""


class Signature(BaseModel):
    """Who a commit is by, and when (the same `when` makes the same commit)."""

    name: str
    email: str
    when: datetime


class ChangeComment(BaseModel):
    """A comment on a change (a conversation comment or a review's text). Its body is
    attacker-controlled text: scrubbed before use, never obeyed beyond suture's own commands."""

    id: str
    author: str
    body: str
    author_is_bot: bool = False
    created_at: datetime | None = None
    url: str = ""


ActivityKind = Literal["merged", "closed", "reopened", "comment", "review", "check_failed",
                       "check_passed", "other"]


class ChangeActivity(BaseModel):
    """Something that happened on a change, read from the host's webhook or found by polling:
    the one shape the follow-up stage acts on, whichever host it came from."""

    host: Literal["github", "gitlab"]
    repo: str
    number: int
    kind: ActivityKind
    branch: str = ""
    actor: str = ""  # who did it (the commenter, the merger)
    actor_is_bot: bool = False
    body: str = ""  # a comment's or a review's text, raw as the host sent it
    comment_id: str = ""
    merge_sha: str = ""
    head_sha: str = ""
    check_name: str = ""
    delivery: str = ""  # the host's delivery id, when it came by webhook
