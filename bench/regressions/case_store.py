"""Keep a long build's results on disk as they are found, so a stopped build resumes.

``CaseFile`` holds one JSON-lines case file: a kept case is added (with its event's source lines
stripped, see ``event_source``) and the file is rewritten at once, newest release first, through
a temporary file so a build killed mid-write leaves the previous version intact. Cases already
in the file are kept and their fixes are not tried again.

``ProgressLog`` (optional) records the verdict on every fix tried, kept or dropped, one JSON
object per line, so a restarted build skips the fixes an earlier run already settled and its
summary still counts them.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from event_source import strip


def _read_jsonl(path: str | None) -> list[dict[str, Any]]:
    if not path or not Path(path).exists():
        return []
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


class CaseFile:
    """A case file that is rewritten every time a case is added."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.cases = _read_jsonl(path)

    def fixes(self) -> set[str]:
        """The fix commits that already have a case here."""
        return {case["fix"] for case in self.cases}

    def add(self, case: dict[str, Any]) -> None:
        """Strip the case's source lines and write it (with every earlier case) to disk."""
        strip(case["event"])  # the benchmarked project's code is not committed
        self.cases.append(case)
        ordered = sorted(self.cases, key=lambda c: c["first_seen"], reverse=True)
        temporary = f"{self.path}.partial"
        with open(temporary, "w", encoding="utf-8") as out:
            out.writelines(json.dumps(c) + "\n" for c in ordered)
        os.replace(temporary, self.path)


@dataclass
class Verdict:
    """What became of one fix in one phase ("named" or "bisect")."""

    phase: str
    fix: str
    subject: str
    kept: bool
    reproduced: bool
    reason: str
    exception: str = ""
    check: dict[str, bool | None] | None = None


class ProgressLog:
    """Verdicts of the fixes tried so far, appended as they come (``path`` None: memory only)."""

    def __init__(self, path: str | None) -> None:
        self.path = path
        self.verdicts = [Verdict(**record) for record in _read_jsonl(path)]

    def tried(self, phase: str) -> set[str]:
        """Fixes already settled in ``phase``."""
        return {v.fix for v in self.verdicts if v.phase == phase}

    def of(self, phase: str) -> list[Verdict]:
        """The verdicts of ``phase``, oldest first."""
        return [v for v in self.verdicts if v.phase == phase]

    def add(self, verdict: Verdict) -> None:
        """Record a verdict (and append it to the log file, if there is one)."""
        self.verdicts.append(verdict)
        if self.path:
            with open(self.path, "a", encoding="utf-8") as out:
                out.write(json.dumps(asdict(verdict)) + "\n")
