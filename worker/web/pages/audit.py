"""What a run's agents read, ran, changed and reached, read back from their transcripts.

Transcripts are lists of small dictionaries whose shape depends on the agent (the tool loop's
`tool` calls, a CLI agent's `command`, a fix template's `locate` and `rewrite` steps); this
module turns any of them into labelled text for the run page and sums up each attempt. Nothing
here trusts an entry's shape: unknown keys are shown as they are, wrong types as their JSON.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, Field

from worker.fix.models import Attempt
from worker.runs import FixOutcome

MAX_FIELD = 4000
READS = {"read_file", "list_files", "search"}
WRITES = {"edit_file", "write_file"}


class AgentAudit(BaseModel):
    """One attempt in short: files it read, commands it ran, files it changed, URLs it hit."""

    agent: str
    read: list[str] = Field(default_factory=list)
    ran: list[str] = Field(default_factory=list)
    changed: list[str] = Field(default_factory=list)
    reached: list[str] = Field(default_factory=list)


def text_of(value: object, limit: int = MAX_FIELD) -> str:
    """`value` as text for a page: strings as they are, anything else as JSON; bounded."""
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= limit else text[:limit] + "…"


def entry_fields(entry: object) -> tuple[str, list[tuple[str, str]]]:
    """A transcript entry's label (its kind or step) and its other fields as text."""
    if not isinstance(entry, dict):
        return "entry", [("value", text_of(entry))]
    label = str(entry.get("kind") or entry.get("step") or "entry")
    fields = [(str(name), text_of(value)) for name, value in entry.items()
              if name not in ("kind", "step")]
    return label, fields


def _arguments(entry: dict[str, Any]) -> dict[str, Any]:
    raw = entry.get("arguments")
    try:
        parsed = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def _note(audit: AgentAudit, entry: dict[str, Any]) -> None:
    kind = entry.get("kind") or entry.get("step")
    if kind == "tool":
        name, args = str(entry.get("name") or ""), _arguments(entry)
        target = text_of(args.get("path") or args.get("pattern") or args.get("command") or "",
                         300)
        if name in READS:
            audit.read.append(f"{name} {target}".strip())
        elif name in WRITES:
            audit.changed.append(target)
        elif name == "run":
            audit.ran.append(target)
    elif kind in ("command", "run") and isinstance(entry.get("argv"), list):
        audit.ran.append(text_of(" ".join(str(part) for part in entry["argv"]), 300))
    elif kind == "locate" and entry.get("file"):
        audit.read.append(text_of(entry["file"], 300))
    elif kind == "rewrite" and entry.get("file"):
        audit.changed.append(text_of(entry["file"], 300))
    elif kind == "reproduction" and entry.get("written") and entry.get("path"):
        audit.changed.append(text_of(entry["path"], 300))
    for key in ("url", "host"):
        if isinstance(entry.get(key), str):
            audit.reached.append(text_of(entry[key], 300))


def attempt_audit(attempt: Attempt) -> AgentAudit:
    """What one attempt read, ran, changed and reached, in order, each once."""
    audit = AgentAudit(agent=attempt.agent)
    for entry in attempt.transcript:
        if isinstance(entry, dict):
            _note(audit, entry)
    return audit.model_copy(update={name: list(dict.fromkeys(getattr(audit, name)))
                                    for name in ("read", "ran", "changed", "reached")})


def run_audit(outcome: FixOutcome | None) -> list[AgentAudit]:
    """Every attempt's audit, plus the verifier's reach (the previews it replayed on)."""
    if outcome is None:
        return []
    found = [attempt_audit(attempt) for attempt in outcome.attempts]
    preview = outcome.preview
    reached = [url for url in (preview.base_url, preview.fix_url) if url] if preview else []
    if reached:
        found.append(AgentAudit(agent="verifier (preview replay)", reached=reached))
    return found
