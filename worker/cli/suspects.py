"""`suture suspects`: the correlation engine on one event file, for people and other tools.

With `--json` it prints the contract other tools depend on:
`{"suspects": [{"sha", "score", "confidence", "author", "summary", "reasons"}], "owners": [...]}`
best first; without it, a readable table.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from worker.app.local import open_local_repository
from worker.cli.output import echo, echo_json
from worker.correlate.engine import correlate
from worker.correlate.models import Correlation
from worker.correlate.presented import presented
from worker.normalise import PayloadError, detect_and_normalise
from worker.ports import SutureError
from worker.titles import shorten


def print_suspects(repo: Path, event_file: Path, *, top: int, as_json: bool,
                   release: str | None, previous_release: str | None) -> int:
    """Run correlation and print it; returns the exit status."""
    try:
        payload = json.loads(event_file.read_text("utf-8"))
        event = detect_and_normalise(payload)
        found = correlate(open_local_repository(repo), event, release=release,
                          previous_release=previous_release, top=top)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, PayloadError) as exc:
        echo(f"suture: cannot read the event: {exc}", err=True)
        return 1
    except SutureError as exc:
        echo(f"suture: {exc}", err=True)
        return 1
    shown = presented(found)
    if as_json:
        echo_json(contract(shown))
    else:
        echo(table(shown))
    return 0


def contract(found: Correlation) -> dict[str, Any]:
    """The JSON shape other tools read."""
    return {
        "release": found.release,
        "suspects": [{"sha": s.sha, "score": s.score, "confidence": s.confidence,
                      "author": s.author, "summary": s.summary, "reasons": s.reasons}
                     for s in found.suspects],
        "owners": [{"name": o.name, "login": o.login, "source": o.source, "reason": o.reason}
                   for o in found.owners],
        "note": found.note,
    }


def table(found: Correlation) -> str:
    """A readable report."""
    lines = [f"release {found.release[:12]}"]
    if found.note:
        lines.append(f"note: {found.note}")
    lines.append(f"{'#':>2}  {'commit':12}  {'score':>6}  {'conf':>5}  author / summary")
    for n, s in enumerate(found.suspects, start=1):
        lines.append(f"{n:>2}  {s.sha[:12]}  {s.score:6.2f}  {s.confidence:5.0%}  "
                     f"{s.author}: {shorten(s.summary, 70)}")
        lines.extend(f"{'':28}- {reason}" for reason in s.reasons[:4])
    if found.owners:
        lines.append("owners:")
        lines.extend(f"  {o.login and '@' + o.login or o.name} ({o.source}: {o.reason})"
                     for o in found.owners)
    return "\n".join(lines)
