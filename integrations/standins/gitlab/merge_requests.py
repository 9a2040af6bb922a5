"""The merge request routes of the GitLab stand-in: list (with GitLab's filters and fuzzy
`search`), create, read, update (reviewers, labels, `state_event`) and notes.

GitLab's rules are reproduced from its source: creation needs the source and target branches
to exist (`MergeRequests::BuildService`, 422 with the reasons in `message`) and refuses a
second open merge request between the same two branches (`MergeRequest#validate_branches`,
409 "Another open merge request already exists for this source branch: !N"); `reviewer_ids`
naming users who cannot read the merge request are dropped without an error; `search` matches
every word of three or more characters (or the whole query when none is that long) in the title
or in the description.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from integrations.standins.base import Call, Reply
from integrations.standins.gitlab import wire
from integrations.standins.gitlab.following import close_record
from integrations.standins.gitlab.state import MergeRequestRecord, ProjectRecord, now_iso

if TYPE_CHECKING:
    from integrations.standins.gitlab.server import GitLabStandIn

_STATES = {"opened", "closed", "merged", "locked", "all"}
_WORDS = re.compile(r'"([^"]*)"|(\S+)')


def params(call: Call) -> dict[str, Any]:
    """Query parameters and the body (JSON or a form) as one mapping, as Grape reads them."""
    values: dict[str, Any] = {key: items[0] for key, items in call.query.items() if items}
    if not call.body:
        return values
    if "json" in call.headers.get("content-type", ""):
        body = json.loads(call.body)
        if isinstance(body, dict):
            values.update(body)
    else:
        values.update({key: items[0] for key, items in
                       parse_qs(call.body.decode(), keep_blank_values=True).items()})
    return values


def _names(value: Any) -> list[str]:
    """Label names from a comma-separated string or a list."""
    items = value.split(",") if isinstance(value, str) else list(value or [])
    return [str(item).strip() for item in items if str(item).strip()]


def _search_matches(query: str, texts: list[str]) -> bool:
    words = [quoted or word for quoted, word in _WORDS.findall(query)]
    terms = [word.lower() for word in words if len(word) >= 3] or [query.lower()]
    return any(all(term in text.lower() for term in terms) for text in texts)


class MergeRequestRoutes:
    """Handlers bound to one stand-in."""

    def __init__(self, standin: GitLabStandIn) -> None:
        self.standin = standin
        self.state = standin.state

    def _found(self, call: Call, project: ProjectRecord) -> MergeRequestRecord | None:
        return project.merge_requests.get(int(call.params["iid"]))

    def listing(self, call: Call, project: ProjectRecord) -> Reply:
        """`GET /projects/:id/merge_requests`."""
        values = params(call)
        state = values.get("state") or "all"
        if state not in _STATES:
            return wire.bad_request("state does not have a valid value")
        fields = [part.strip() for part in str(values.get("in") or "title,description")
                  .split(",")]
        labels = {name.lower() for name in _names(values.get("labels"))}
        with self.state.lock:
            records = [
                record for record in project.merge_requests.values()
                if state in ("all", record.state)
                and values.get("source_branch") in (None, record.source_branch)
                and values.get("target_branch") in (None, record.target_branch)
                and labels <= {name.lower() for name in record.labels}
                and (not values.get("search") or _search_matches(
                    str(values["search"]),
                    [getattr(record, name) for name in fields
                     if name in ("title", "description")]))
            ]
        records.sort(key=lambda record: record.iid, reverse=values.get("sort") != "asc")
        page, headers = wire.paginate(call, self.standin.url, records)
        body = [self.standin.merge_request_json(project, record) for record in page]
        return Reply(200, body, headers=headers)

    def create(self, call: Call, project: ProjectRecord) -> Reply:
        """`POST /projects/:id/merge_requests`."""
        values = params(call)
        missing = [key for key in ("source_branch", "target_branch", "title")
                   if not values.get(key)]
        if missing:
            return wire.bad_request(", ".join(f"{key} is missing" for key in missing))
        source, target = str(values["source_branch"]), str(values["target_branch"])
        branches = self.standin.git.branches(project.path)
        problems = ["You must select different branches"] if source == target else []
        problems += [f'{kind} branch "{name}" does not exist'
                     for kind, name in (("Source", source), ("Target", target))
                     if name not in branches]
        if problems:
            return wire.error(422, problems)
        with self.state.lock:
            conflict = project.open_conflict(source, target)
            if conflict is not None:
                return wire.error(409, ["Another open merge request already exists for this "
                                        f"source branch: !{conflict.iid}"])
            record = self.state.create_merge_request(
                project, title=str(values["title"]),
                description=str(values.get("description") or ""), source=source,
                target=target, author=self.standin.login, sha=branches[source],
                labels=_names(values.get("labels")))
        return Reply(201, self.standin.merge_request_json(project, record))

    def get(self, call: Call, project: ProjectRecord) -> Reply:
        """`GET /projects/:id/merge_requests/:iid`."""
        record = self._found(call, project)
        if record is None:
            return wire.not_found("Merge Request")
        return Reply(200, self.standin.merge_request_json(project, record))

    def update(self, call: Call, project: ProjectRecord) -> Reply:
        """`PUT /projects/:id/merge_requests/:iid`."""
        record = self._found(call, project)
        if record is None:
            return wire.not_found("Merge Request")
        values = params(call)
        event = values.get("state_event")
        if event not in (None, "close", "reopen"):
            return wire.bad_request("state_event does not have a valid value")
        with self.state.lock:
            if event == "reopen" and record.state == "closed":
                conflict = project.open_conflict(record.source_branch, record.target_branch)
                if conflict is not None:
                    return wire.error(409, ["Another open merge request already exists for "
                                            f"this source branch: !{conflict.iid}"])
            self._apply(record, values, event)
        return Reply(200, self.standin.merge_request_json(project, record))

    def _apply(self, record: MergeRequestRecord, values: dict[str, Any],
               event: str | None) -> None:
        for key in ("title", "description", "target_branch"):
            if values.get(key) is not None:
                setattr(record, key, str(values[key]))
        if "labels" in values:
            record.labels = _names(values["labels"])
        record.labels += [name for name in _names(values.get("add_labels"))
                          if name not in record.labels]
        removed = set(_names(values.get("remove_labels")))
        record.labels = [name for name in record.labels if name not in removed]
        if "reviewer_ids" in values:
            record.reviewers = self._reviewers(values["reviewer_ids"])
        if event == "close" and record.state == "opened":
            close_record(self.state, record, self.standin.login)
        elif event == "reopen" and record.state == "closed":
            record.state, record.closed_at = "opened", None
        record.updated_at = now_iso()

    def _reviewers(self, ids: Any) -> list[str]:
        """Usernames of the members among `ids` (GitLab silently drops the others)."""
        items = ids.split(",") if isinstance(ids, str) else list(ids or [])
        names = []
        for item in items:
            user = self.state.user_by_id(int(item)) if str(item).isdigit() else None
            if user is not None and user.member and user.state == "active" \
                    and user.username not in names:
                names.append(user.username)
        return names

    def add_note(self, call: Call, project: ProjectRecord) -> Reply:
        """`POST /projects/:id/merge_requests/:iid/notes`."""
        record = self._found(call, project)
        if record is None:
            return wire.not_found("Merge Request")
        body = params(call).get("body")
        if not body:
            return wire.bad_request("body is missing")
        note = self.state.add_note(record, str(body), self.standin.login)
        return Reply(201, self.standin.note_json(project, record, note))
