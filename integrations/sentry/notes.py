"""Notes (comments) on a Sentry issue: the one suture leaves to say where the fix is.

Sentry serves an issue's notes at `/api/0/organizations/{org}/issues/{issue_id}/comments/`
(`notes/` is the same route): GET lists them newest first, a page of up to 100 with the usual
`Link` header, and POST `{"text": ...}` answers 201 with the new activity (`id`, `type: "note"`,
`data.text`, `user`, `dateCreated`). Newer Sentry also sends `commentId`, the note's own id, when
`id` names its action-log entry; `commentId` wins when present. POST needs `event:write` and a
token that acts as a user (an internal integration's token does; an org auth token gets 403), and
Sentry refuses the same text from the same user twice within an hour with a 400.

`link_note` is idempotent: it first looks for a note that already carries the url (after a crash,
a retry, or another worker's post) and only posts when there is none.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from integrations.sentry.client import SentryClient
from worker.egress import Channel, outbound
from worker.ports import PermanentError

log = logging.getLogger(__name__)

# Sentry's answer to the same text posted twice within an hour by the same user.
DUPLICATE_NOTE = "You have already posted that comment."
PAGE_SIZE = 100


class _Unsure:
    """The notes could not all be read, so absence of the url is not proven."""


UNSURE = _Unsure()


def link_note(
    api: SentryClient, notes_path: str, url: str, text: str, *, max_pages: int = 10
) -> str | None:
    """The id of the note on the issue carrying `url`, posting `text` first when there is none.

    Returns None, posting nothing, when the issue has more notes than `max_pages` pages hold and
    none of those read carries the url: a second note is worse than none.
    """
    if not url or not _mentions(text, url):
        raise PermanentError("a Sentry note linking a change must contain the change's url")
    found = find_note(api, notes_path, url, max_pages=max_pages)
    if isinstance(found, str):
        return found
    if found is UNSURE:
        log.warning("sentry %s: more notes than suture reads and none links %s; not posting",
                    notes_path, url)
        return None
    try:
        created = api.post(notes_path, {"text": outbound(text, Channel.UPSTREAM_NOTE)})
    except PermanentError as exc:
        if DUPLICATE_NOTE not in str(exc):
            raise
        # Another worker posted the same text between our read and our post.
        again = find_note(api, notes_path, url, max_pages=max_pages)
        if isinstance(again, str):
            return again
        raise
    note_id = note_id_of(created)
    if note_id is None:
        raise PermanentError(f"sentry {notes_path}: the created note has no id")
    log.info("sentry %s: linked %s in note %s", notes_path, url, note_id)
    return note_id


def find_note(
    api: SentryClient, notes_path: str, url: str, *, max_pages: int = 10
) -> str | _Unsure | None:
    """The id of the newest note whose text carries `url`; None when no note does, and
    `UNSURE` when the notes ran past `max_pages` pages without one."""
    page = None
    for page in api.pages(notes_path, {"per_page": PAGE_SIZE}, max_pages=max_pages):
        for note in page.items:
            if isinstance(note, dict) and _mentions(_text(note), url):
                found = note_id_of(note)
                if found is not None:
                    return found
    if page is not None and page.next_cursor is not None:
        return UNSURE
    return None


def note_id_of(note: Any) -> str | None:
    """A note's own id: `commentId` when Sentry sends it, else `id`."""
    if not isinstance(note, dict):
        return None
    value = note.get("commentId") or note.get("id")
    return str(value) if value not in (None, "") else None


def _text(note: dict[str, Any]) -> str:
    data = note.get("data")
    text = data.get("text") if isinstance(data, dict) else None
    return text if isinstance(text, str) else ""


def _mentions(text: str, url: str) -> bool:
    """Whether `text` carries `url` itself, not a longer url it is the start of (`/pull/1` is
    not in `/pull/12`); punctuation such as `.`, `)` or `>` may follow it."""
    return re.search(re.escape(url) + r"(?![0-9A-Za-z_/-])", text) is not None
