"""The failing request as a regression test may replay it: from the scrubbed event, with named
placeholders where the scrubber removed a value.

A test written into the repository outlives the event and may be pushed to a code host, so it
never carries the request as it arrived. Each `[REDACTED:<kind>]` marker left by
`worker.scrub.scrub_event` becomes `placeholder-<kind>` (`placeholder-email`,
`placeholder-phone`), a plain token valid in a URL, a form and JSON that no detector flags; the
test's docstring names the fields that got one, since a placeholder may be why a replay no
longer crashes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from worker.models import ErrorEvent, RequestData
from worker.scrub import scrub_event
from worker.scrub.findings import MARKER

PREFIX = "placeholder-"
_KIND = re.compile(r"\[REDACTED:(?P<kind>[a-z0-9-]+)\]")


@dataclass
class ReplayData:
    """The scrubbed request (None if the event has none) and the fields given placeholders."""

    request: RequestData | None
    placeholders: list[str] = field(default_factory=list)


def replay_data(event: ErrorEvent) -> ReplayData:
    """The event's request, scrubbed, with each removed value replaced by a named placeholder."""
    request = scrub_event(event).request
    if request is None:
        return ReplayData(None)
    found = ReplayData(None)

    def fill(text: str | None, where: str) -> str | None:
        if text is None:
            return None

        def named(match: re.Match[str]) -> str:
            kind = _KIND.fullmatch(match.group())
            name = kind.group("kind") if kind else "value"
            label = f"{where} ({name})"
            if label not in found.placeholders:
                found.placeholders.append(label)
            return PREFIX + name

        return MARKER.sub(named, text)

    found.request = request.model_copy(update={
        "url": fill(request.url, "url"),
        "query": fill(request.query, "query"),
        "body": fill(request.body, "body"),
        "headers": {key: fill(value, f"header {key}") or "" for key, value in
                    request.headers.items()},
    })
    return found


def placeholder_note(data: ReplayData) -> str:
    """A sentence naming the fields that hold placeholders, or "" when none do."""
    if not data.placeholders:
        return ""
    return ("Placeholders stand in for values the scrubber removed: "
            + ", ".join(data.placeholders) + ".")
