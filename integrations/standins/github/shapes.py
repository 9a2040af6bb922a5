"""JSON shapes of GitHub REST objects (user, repository, issue, label, commit).

Each shape but the commit starts from a recorded GitHub payload (`recorded/github/`) so field
names and defaults are GitHub's own, then has its identity and every absolute URL rewritten to
point at the stand-in. No recording holds a commit, so `commit` follows the documented `commit`
schema of `GET /repos/{owner}/{repo}/commits/{ref}` field for field, with recorded users in it.
PyGithub follows `url` fields and refuses ones on another host or port, so no API URL here may
keep `https://api.github.com`.
"""

from __future__ import annotations

import base64
import copy
import re
from functools import cache
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from integrations.standins.base import recorded

if TYPE_CHECKING:
    from integrations.standins.github.state import CommitRecord

_WEBHOOK = "github/webhook-pull_request.opened.json"
_LABELS = "github/rest-interactions.add-labels-to-issue.json"


@cache
def _templates() -> dict[str, Any]:
    webhook = recorded(_WEBHOOK)
    labels = recorded(_LABELS)
    return {
        "user": webhook["sender"],
        "repository": webhook["repository"],
        "issue": labels[0]["response"],
        "label": labels[1]["response"][0],
    }


def template(kind: str) -> dict[str, Any]:
    """A fresh copy of the recorded object of `kind` (user, repository, issue, label)."""
    return copy.deepcopy(_templates()[kind])


def node_id(kind: str, number: int) -> str:
    """An opaque GraphQL node id, stable for one object."""
    return base64.b64encode(f"{kind}{number}".encode()).decode()


def rewrite(value: Any, replacements: dict[str, str]) -> Any:
    """Replace every occurrence of each key by its value in all strings of a JSON value.

    One regex pass, longest key first, so a replacement is never itself rewritten.
    """
    keys = sorted(replacements, key=len, reverse=True)
    pattern = re.compile("|".join(re.escape(key) for key in keys))

    def walk(item: Any) -> Any:
        if isinstance(item, str):
            return pattern.sub(lambda m: replacements[m.group()], item)
        if isinstance(item, list):
            return [walk(element) for element in item]
        if isinstance(item, dict):
            return {key: walk(element) for key, element in item.items()}
        return item

    return walk(value)


def user(base: str, login: str, user_id: int) -> dict[str, Any]:
    """A `simple-user` object for `login`, its URLs under `base`."""
    shape = rewrite(
        template("user"),
        {"https://api.github.com": base, "https://github.com": base, "Codertocat": login},
    )
    shape.update(id=user_id, node_id=node_id("User", user_id))
    return shape


def repository(base: str, owner: str, name: str, repo_id: int) -> dict[str, Any]:
    """A full `repository` object as `GET /repos/{owner}/{name}` returns it."""
    shape = rewrite(
        template("repository"),
        {
            "https://api.github.com": base,
            "https://github.com": base,
            "Codertocat/Hello-World": f"{owner}/{name}",
            "Codertocat": owner,
        },
    )
    shape.update(
        id=repo_id,
        node_id=node_id("Repository", repo_id),
        name=name,
        full_name=f"{owner}/{name}",
        default_branch="main",
        permissions={"admin": True, "maintain": True, "push": True, "triage": True, "pull": True},
    )
    shape["owner"] = user(base, owner, repo_id)
    return shape


def label(base: str, full_name: str, name: str, label_id: int, color: str) -> dict[str, Any]:
    """A `label` object of repository `full_name`."""
    shape = template("label")
    shape.update(
        id=label_id,
        node_id=node_id("Label", label_id),
        url=f"{base}/repos/{full_name}/labels/{quote(name, safe='')}",
        name=name,
        color=color,
    )
    return shape


def issue(base: str, full_name: str, fields: dict[str, Any], *,
          pull: bool = False) -> dict[str, Any]:
    """An `issue` object; `fields` overrides the recorded defaults (number, title, body, ...).
    A pull request seen as an issue (`pull`) has a `pull_request` part and a `/pull/` page."""
    api = f"{base}/repos/{full_name}/issues/{fields['number']}"
    shape = template("issue")
    shape.pop("closed_by", None)
    shape.update(
        url=api,
        repository_url=f"{base}/repos/{full_name}",
        labels_url=f"{api}/labels{{/name}}",
        comments_url=f"{api}/comments",
        events_url=f"{api}/events",
        timeline_url=f"{api}/timeline",
        html_url=f"{base}/{full_name}/issues/{fields['number']}",
        node_id=node_id("Issue", fields["id"]),
        comments=0,
        author_association="OWNER",
    )
    shape["reactions"]["url"] = f"{api}/reactions"
    if pull:
        page = f"{base}/{full_name}/pull/{fields['number']}"
        shape["html_url"] = page
        shape["pull_request"] = {
            "url": f"{base}/repos/{full_name}/pulls/{fields['number']}", "html_url": page,
            "diff_url": f"{page}.diff", "patch_url": f"{page}.patch", "merged_at": None,
        }
    shape.update(fields)
    return shape


def commit(base: str, full_name: str, record: CommitRecord, author: dict[str, Any] | None,
           committer: dict[str, Any] | None) -> dict[str, Any]:
    """A `commit` object; `author`/`committer` are the linked accounts' users, or None (null)
    when no account has the commit's email, as GitHub answers then."""
    api = f"{base}/repos/{full_name}"
    committed = {"name": record.committer_name or record.author_name,
                 "email": record.committer_email or record.author_email, "date": record.date}
    return {
        "sha": record.sha,
        "node_id": node_id("Commit", int(record.sha[:8], 16)),
        "commit": {
            "author": {"name": record.author_name, "email": record.author_email,
                       "date": record.date},
            "committer": committed,
            "message": record.message,
            "tree": {"sha": "0" * 40, "url": f"{api}/git/trees/{'0' * 40}"},
            "url": f"{api}/git/commits/{record.sha}",
            "comment_count": 0,
            "verification": {"verified": False, "reason": "unsigned", "signature": None,
                             "payload": None, "verified_at": None},
        },
        "url": f"{api}/commits/{record.sha}",
        "html_url": f"{base}/{full_name}/commit/{record.sha}",
        "comments_url": f"{api}/commits/{record.sha}/comments",
        "author": author,
        "committer": committer,
        "parents": [{"sha": sha, "url": f"{api}/commits/{sha}",
                     "html_url": f"{base}/{full_name}/commit/{sha}"} for sha in record.parents],
        "stats": {"total": 0, "additions": 0, "deletions": 0},
        "files": [],
    }
