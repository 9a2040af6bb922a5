"""Code-host webhooks about a change, turned into `worker.codehost.ChangeActivity`.

GitHub names the event in `X-GitHub-Event` and the action in the body; GitLab names it in
`X-Gitlab-Event` and the action in `object_attributes`. Each function here maps one delivery to
the one activity the follow-up stage acts on, or to None when the event is valid but says nothing
suture follows (a pull request opened or labelled, a comment on a plain issue, a check still
running). A delivery whose shape is wrong raises `PayloadError` saying what is wrong.

A check or pipeline the host could not tie to a change keeps `number` 0 with its `head_sha` and
`branch`: the change is then found by its head commit or branch. Text (comments, review bodies)
is kept raw, as data: it is scrubbed where it is used, never here.
"""

from __future__ import annotations

import re
from typing import Any

from worker.codehost import ActivityKind, ChangeActivity
from worker.normalise.fields import PayloadError, integer, optional_dict, require_dict, text

GITHUB = "github"
GITLAB = "gitlab"
# The delivery sources these activities are stored under; the reconciler routes them by it.
CODEHOST_SOURCES = frozenset({GITHUB, GITLAB})

GITHUB_EVENTS = frozenset({"pull_request", "pull_request_review", "issue_comment", "check_run"})
GITLAB_EVENTS = frozenset({"Merge Request Hook", "Note Hook", "Pipeline Hook"})

_GITHUB_CHECK_FAILED = frozenset({"failure", "timed_out"})
_GITLAB_MR_ACTIONS: dict[str, ActivityKind] = {
    "merge": "merged", "close": "closed", "reopen": "reopened"}
_GITLAB_PIPELINE: dict[str, ActivityKind] = {"failed": "check_failed", "success": "check_passed"}
# GitLab's project and group access tokens act as bot users named `project_<id>_bot_<hex>`
# (`project_<id>_bot` or `project_<id>_bot<n>` before GitLab 14.x), likewise for groups.
_GITLAB_BOT_NAME = re.compile(r"(project|group)_\d+_bot(\d*|_[0-9a-f]+)")


def from_github_webhook(event: str, payload: dict[str, Any],
                        delivery: str = "") -> ChangeActivity | None:
    """The activity a GitHub `event` delivery reports, or None when suture does not follow it."""
    repository = require_dict(payload.get("repository"), "repository")
    repo = _required_text(repository.get("full_name"), "repository.full_name")
    action = text(payload.get("action")) or ""
    sender = optional_dict(payload.get("sender"), "sender")
    base: dict[str, Any] = {"host": GITHUB, "repo": repo, "delivery": delivery,
                            "actor": text(sender.get("login")) or "",
                            "actor_is_bot": github_is_bot(sender)}
    if event == "pull_request":
        return _github_pull_request(action, payload, base)
    if event == "pull_request_review":
        return _github_review(action, payload, base)
    if event == "issue_comment":
        return _github_comment(action, payload, base)
    if event == "check_run":
        return _github_check_run(action, payload, base)
    return None


def from_gitlab_webhook(event: str, payload: dict[str, Any],
                        delivery: str = "") -> ChangeActivity | None:
    """The activity a GitLab `event` delivery reports, or None when suture does not follow it."""
    project = require_dict(payload.get("project"), "project")
    repo = _required_text(project.get("path_with_namespace"), "project.path_with_namespace")
    attributes = require_dict(payload.get("object_attributes"), "object_attributes")
    user = optional_dict(payload.get("user"), "user")
    base: dict[str, Any] = {"host": GITLAB, "repo": repo, "delivery": delivery,
                            "actor": text(user.get("username")) or "",
                            "actor_is_bot": gitlab_is_bot(user)}
    if event == "Merge Request Hook":
        kind = _GITLAB_MR_ACTIONS.get(text(attributes.get("action")) or "")
        if kind is None:
            return None
        last = optional_dict(attributes.get("last_commit"), "object_attributes.last_commit")
        return ChangeActivity(**base, kind=kind, number=_number(attributes.get("iid"),
                                                                "object_attributes.iid"),
                              branch=text(attributes.get("source_branch")) or "",
                              head_sha=text(last.get("id")) or "",
                              merge_sha=text(attributes.get("merge_commit_sha")) or "")
    if event == "Note Hook":
        return _gitlab_note(attributes, payload, base)
    if event == "Pipeline Hook":
        return _gitlab_pipeline(attributes, payload, base)
    return None


def activity_of(payload: dict[str, Any]) -> ChangeActivity:
    """The activity kept in a code-host delivery's stored payload (see `delivery_payload`)."""
    return ChangeActivity.model_validate(payload["activity"])


def delivery_payload(event: str, activity: ChangeActivity) -> dict[str, Any]:
    """What a code-host delivery stores: the host's event name and the normalised activity."""
    return {"event": event, "activity": activity.model_dump(mode="json")}


def github_is_bot(user: dict[str, Any]) -> bool:
    """True for a GitHub App or other bot account (type "Bot", or a login ending in "[bot]")."""
    login = text(user.get("login")) or ""
    return text(user.get("type")) == "Bot" or login.endswith("[bot]")


def gitlab_is_bot(user: dict[str, Any]) -> bool:
    """True for a GitLab bot user: flagged `bot`, or named as project and group bots are."""
    if user.get("bot") is True:
        return True
    return _GITLAB_BOT_NAME.fullmatch(text(user.get("username")) or "") is not None


def _github_pull_request(action: str, payload: dict[str, Any],
                         base: dict[str, Any]) -> ChangeActivity | None:
    pull = require_dict(payload.get("pull_request"), "pull_request")
    kind: ActivityKind
    if action == "closed":
        kind = "merged" if pull.get("merged") is True else "closed"
    elif action == "reopened":
        kind = "reopened"
    else:
        return None  # opened, edited, labelled, synchronised, ...
    head = optional_dict(pull.get("head"), "pull_request.head")
    merge_sha = ""
    if kind == "merged":
        merge_sha = text(pull.get("merge_commit_sha")) or ""
        merger = optional_dict(pull.get("merged_by"), "pull_request.merged_by")
        if text(merger.get("login")):  # who merged it, rather than who sent the delivery
            base = {**base, "actor": text(merger.get("login")),
                    "actor_is_bot": github_is_bot(merger)}
    return ChangeActivity(**base, kind=kind,
                          number=_number(pull.get("number", payload.get("number")),
                                         "pull_request.number"),
                          branch=text(head.get("ref")) or "", head_sha=text(head.get("sha")) or "",
                          merge_sha=merge_sha)


def _github_review(action: str, payload: dict[str, Any],
                   base: dict[str, Any]) -> ChangeActivity | None:
    if action != "submitted":
        return None
    review = require_dict(payload.get("review"), "review")
    pull = require_dict(payload.get("pull_request"), "pull_request")
    head = optional_dict(pull.get("head"), "pull_request.head")
    return ChangeActivity(**{**base, **_github_author(review, base)}, kind="review",
                          number=_number(pull.get("number"), "pull_request.number"),
                          body=_body(review.get("body"), "review.body"),
                          comment_id=text(review.get("id")) or "",
                          branch=text(head.get("ref")) or "",
                          head_sha=text(review.get("commit_id")) or text(head.get("sha")) or "")


def _github_comment(action: str, payload: dict[str, Any],
                    base: dict[str, Any]) -> ChangeActivity | None:
    issue = require_dict(payload.get("issue"), "issue")
    if action != "created" or not issue.get("pull_request"):
        return None  # an edit or deletion, or a comment on a plain issue
    comment = require_dict(payload.get("comment"), "comment")
    return ChangeActivity(**{**base, **_github_author(comment, base)}, kind="comment",
                          number=_number(issue.get("number"), "issue.number"),
                          body=_body(comment.get("body"), "comment.body"),
                          comment_id=text(comment.get("id")) or "")


def _github_check_run(action: str, payload: dict[str, Any],
                      base: dict[str, Any]) -> ChangeActivity | None:
    run = require_dict(payload.get("check_run"), "check_run")
    conclusion = text(run.get("conclusion")) or ""
    if action != "completed" or conclusion not in (_GITHUB_CHECK_FAILED | {"success"}):
        return None  # still running, or neutral, cancelled, skipped, stale, action required
    suite = optional_dict(run.get("check_suite"), "check_run.check_suite")
    branch = text(suite.get("head_branch")) or ""
    return ChangeActivity(**base, kind="check_failed" if conclusion != "success"
                          else "check_passed", number=_checked_pull(run, branch), branch=branch,
                          head_sha=text(run.get("head_sha")) or "",
                          check_name=text(run.get("name")) or "")


def _checked_pull(run: dict[str, Any], branch: str) -> int:
    """The pull request a check ran for; 0 when GitHub names none (a fork's, for one)."""
    pulls = run.get("pull_requests") or []
    if not isinstance(pulls, list):
        raise PayloadError("check_run.pull_requests must be a list")
    found: list[tuple[int, str]] = []
    for item in pulls:
        pull = require_dict(item, "check_run.pull_requests[]")
        head = optional_dict(pull.get("head"), "check_run.pull_requests[].head")
        found.append((_number(pull.get("number"), "check_run.pull_requests[].number"),
                      text(head.get("ref")) or ""))
    # Several pull requests can share a head commit: prefer the one from the checked branch.
    return next((number for number, ref in found if branch and ref == branch),
                found[0][0] if found else 0)


def _github_author(item: dict[str, Any], base: dict[str, Any]) -> dict[str, Any]:
    """Who wrote a comment or review: its `user`, else whoever sent the delivery."""
    user = optional_dict(item.get("user"), "user")
    login = text(user.get("login"))
    if not login:
        return {}
    return {"actor": login, "actor_is_bot": github_is_bot(user)}


def _gitlab_note(attributes: dict[str, Any], payload: dict[str, Any],
                 base: dict[str, Any]) -> ChangeActivity | None:
    if text(attributes.get("noteable_type")) != "MergeRequest" or attributes.get("system"):
        return None  # a note on an issue, commit or snippet, or one GitLab wrote itself
    if (text(attributes.get("action")) or "create") != "create":
        return None  # an edited note (GitLab 16.11 and later say "update")
    request = require_dict(payload.get("merge_request"), "merge_request")
    last = optional_dict(request.get("last_commit"), "merge_request.last_commit")
    return ChangeActivity(**base, kind="comment",
                          number=_number(request.get("iid"), "merge_request.iid"),
                          body=_body(attributes.get("note"), "object_attributes.note"),
                          comment_id=text(attributes.get("id")) or "",
                          branch=text(request.get("source_branch")) or "",
                          head_sha=text(last.get("id")) or "")


def _gitlab_pipeline(attributes: dict[str, Any], payload: dict[str, Any],
                     base: dict[str, Any]) -> ChangeActivity | None:
    kind = _GITLAB_PIPELINE.get(text(attributes.get("status")) or "")
    if kind is None or attributes.get("tag") is True:
        return None  # still running, cancelled, skipped, or a tag's pipeline
    request = optional_dict(payload.get("merge_request"), "merge_request")
    number = _number(request.get("iid"), "merge_request.iid") if request else 0
    name = text(attributes.get("name")) or f"pipeline {text(attributes.get('id')) or ''}".strip()
    return ChangeActivity(**base, kind=kind, number=number,
                          branch=text(request.get("source_branch")) or text(attributes.get("ref"))
                          or "", head_sha=text(attributes.get("sha")) or "", check_name=name)


def _required_text(value: Any, where: str) -> str:
    found = text(value)
    if not found:
        raise PayloadError(f"{where} is missing")
    return found


def _number(value: Any, where: str) -> int:
    number = integer(value)
    if number is None or number <= 0:
        raise PayloadError(f"{where} must be a positive number, got {value!r}")
    return number


def _body(value: Any, where: str) -> str:
    if value is None:
        return ""  # a review approved without a comment has a null body
    if not isinstance(value, str):
        raise PayloadError(f"{where} must be a string")
    return value
