"""Issue notes for the Sentry stand-in, kept and served as Sentry's `GroupNotesEndpoint` does.

GET lists an issue's notes newest first in pages of `per_page` (at most 100) with Sentry's `Link`
header; POST `{"text": ...}` answers 201 with the new note, shaped like the recorded
`sentry/api-issue-note.json`. Like Sentry, a POST without text answers 400 with the serializer's
field errors, and the same text from the same user within an hour answers 400
"You have already posted that comment." An unknown issue answers 404 either way.
"""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from integrations.standins.base import Call, Reply, recorded

NOT_FOUND = {"detail": "The requested resource does not exist"}
DUPLICATE = {"detail": "You have already posted that comment."}
DUPLICATE_WINDOW = 3600.0  # seconds, as in Sentry's group_notes.py

LinkHeader = Callable[[Call, int, int, int], str]
CursorOffset = Callable[[str | None, int], int]


class IssueNotes:
    """The notes of each issue, paged like the stand-in's other lists.

    `exists(issue_id)` says whether the issue is known; `offset(cursor, limit)` reads a cursor
    and `link(call, offset, limit, total)` builds the `Link` header, both the stand-in's own.
    """

    def __init__(
        self,
        exists: Callable[[str], bool],
        offset: CursorOffset,
        link: LinkHeader,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._exists = exists
        self._offset = offset
        self._link = link
        self._clock = clock
        self._lock = threading.Lock()
        self._notes: dict[str, list[dict[str, Any]]] = {}  # per issue, newest first
        self._posted: dict[str, list[float]] = {}  # per issue, parallel to _notes
        self._next_id = 4633816000
        self._template = recorded("sentry/api-issue-note.json")

    def notes(self, issue_id: str) -> list[dict[str, Any]]:
        """Copies of an issue's notes as the API lists them, newest first."""
        with self._lock:
            return copy.deepcopy(self._notes.get(issue_id, []))

    def list(self, call: Call) -> Reply:
        """`GET .../issues/{issue_id}/comments/`."""
        issue_id = call.params["issue_id"]
        if not self._exists(issue_id):
            return Reply(404, NOT_FOUND)
        try:
            per_page = int(call.arg("per_page") or 100)
            offset = self._offset(call.arg("cursor"), per_page)
        except ValueError as exc:
            return Reply(400, {"detail": str(exc)})
        if not 1 <= per_page <= 100:
            return Reply(400, {"detail": "Invalid per_page parameter."})
        notes = self.notes(issue_id)
        page = notes[offset : offset + per_page]
        return Reply(200, page, {"Link": self._link(call, offset, per_page, len(notes))})

    def create(self, call: Call) -> Reply:
        """`POST .../issues/{issue_id}/comments/` with `{"text": ...}`."""
        issue_id = call.params["issue_id"]
        if not self._exists(issue_id):
            return Reply(404, NOT_FOUND)
        try:
            body = call.json()
        except ValueError:
            return Reply(400, {"detail": "JSON parse error"})
        text = body.get("text") if isinstance(body, dict) else None
        if not isinstance(text, str) or not text.strip():
            return Reply(400, {"text": ["This field is required."]})
        now = self._clock()
        with self._lock:
            notes = self._notes.setdefault(issue_id, [])
            posted = self._posted.setdefault(issue_id, [])
            if any(note["data"] == {"text": text} and now - at < DUPLICATE_WINDOW
                   for note, at in zip(notes, posted, strict=True)):
                return Reply(400, DUPLICATE)
            note = self._note(text, now)
            notes.insert(0, note)
            posted.insert(0, now)
            return Reply(201, copy.deepcopy(note))

    def _note(self, text: str, now: float) -> dict[str, Any]:
        self._next_id += 1
        note = copy.deepcopy(self._template)
        note["id"] = str(self._next_id)
        note["data"] = {"text": text}
        created = datetime.fromtimestamp(now, UTC)
        note["dateCreated"] = created.isoformat(timespec="milliseconds").replace("+00:00", "Z")
        return note

