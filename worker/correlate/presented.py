"""Which suspects suture shows people and agents: only those with evidence.

Ranking keeps every commit it weighed (the stored record and bisection's leads read them), but a
suspect with no positive score, or a confidence that rounds to 0%, would name a commit and its
author on no evidence. Tickets, pull request bodies, fix prompts and `suture suspects` all take
their list from here, so the rule is this one function.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import overload

from worker.correlate.models import Correlation, Suspect

NO_EVIDENCE = "no suspect with evidence"
# What the engine says about a weak list; it reads wrongly once no list is left.
_LEADS_NOTE = "weak evidence: no suspect stands out; treat the list as leads"


def has_evidence(suspect: Suspect) -> bool:
    """Whether a suspect may be shown: a positive score and at least 1% (as printed) confidence."""
    return suspect.score > 0 and round(suspect.confidence * 100) >= 1


def with_evidence(suspects: Iterable[Suspect]) -> list[Suspect]:
    """The suspects that may be shown, in their ranked order."""
    return [suspect for suspect in suspects if has_evidence(suspect)]


@overload
def presented(correlation: Correlation) -> Correlation: ...
@overload
def presented(correlation: None) -> None: ...
def presented(correlation: Correlation | None) -> Correlation | None:
    """The correlation as shown: suspects without evidence left out, and the note saying
    "no suspect with evidence" when that leaves none (None stays None)."""
    if correlation is None:
        return None
    kept = with_evidence(correlation.suspects)
    if len(kept) == len(correlation.suspects):
        return correlation
    note = correlation.note
    if not kept:
        dropped = len(correlation.suspects)
        rest = note.replace(_LEADS_NOTE, "").strip("; ").replace("; ; ", "; ")
        said = f"{NO_EVIDENCE} ({dropped} ranked commit{'s' if dropped != 1 else ''} left out)"
        note = f"{said}; {rest}" if rest else said
    return correlation.model_copy(update={"suspects": kept, "note": note})
