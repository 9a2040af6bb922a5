"""Ranking suspects: weigh each commit's evidence into a score, a confidence and reasons (pure).

The weights are one small table, so each reason printed next to a suspect is exactly a term of
its score. Confidence combines a suspect's share of all the evidence with how strong its own
is: a lone commit that wrote the crashing line is likely; five commits that merely touched the
file are not, and the output says so instead of pointing at an innocent author.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from worker.correlate.evidence import Evidence
from worker.correlate.models import Suspect


@dataclass(frozen=True)
class Weights:
    """How much each signal counts."""

    blame_line: float = 3.0
    blame_function: float = 1.5
    hunk_function: float = 1.5
    # Touching a file on the stack alone says little: chosen by leave-one-project-out on the
    # benchmark (every held-out project's others picked 0.1 of 0.0-0.8; held out: Top-1 35.6%
    # -> 37.5%, Top-5 52.9% -> 53.8% over 104 cases, no project worse).
    touches_file: float = 0.1
    coverage: float = 1.0
    identifier: float = 0.4
    max_identifiers: int = 4
    recency: float = 1.2
    recency_days: float = 45.0
    new_in_release: float = 1.5
    revert: float = -0.5
    # Deleting the very definition the error says is missing explains the crash better than
    # writing the line that crashed: twice `blame_line`.
    removed_definition: float = 6.0
    # Creating the class that lacks what the error looks up on it: as strong as `blame_line`.
    created_owner: float = 3.0
    # Writing the assert or raise that stopped the program is weaker evidence than writing the
    # code that broke its condition: half of `blame_line` is taken back on such lines.
    blame_guard: float = -1.5
    cosmetic: float = 0.2  # factor on the evidence of a cosmetic commit
    size: float = 0.0
    sibling: float = 0.0
    bot: float = -2.0
    # Evidence fades with age: positive terms are scaled by floor + (1 - floor) * exp(-age /
    # days), so a commit from years ago needs far stronger evidence (0 days: no fading).
    fade_days: float = 180.0
    fade_floor: float = 0.3


@dataclass(frozen=True)
class Calibration:
    """Confidence = the suspect's share of the evidence (a softmax over all candidates' scores at
    `temperature`) times how strong its own evidence is (logistic in its score)."""

    # Fitted on the real-regression benchmark (bench/regressions/fit.py): the top suspect's
    # mean confidence matches how often it is the culprit.
    temperature: float = 0.5
    strength: float = 0.2
    bias: float = 0.0


def score(evidence: Evidence, weights: Weights) -> tuple[float, list[str]]:
    """The commit's score and the reasons that make it up, strongest first."""
    terms: list[tuple[float, str]] = []
    if evidence.blame_line:
        terms.append((weights.blame_line * evidence.blame_line,
                      f"last changed the crashing line {', '.join(evidence.lines[:3])}"))
    if evidence.blame_function:
        terms.append((weights.blame_function * evidence.blame_function,
                      "wrote most of the code around the crash"
                      if evidence.blame_function > 0.5 else
                      "wrote code near a line on the stack"))
    if evidence.hunk_function:
        terms.append((weights.hunk_function * evidence.hunk_function,
                      "changed a function on the stack"))
    if evidence.touches_file:
        terms.append((weights.touches_file * evidence.touches_file,
                      "touched a file on the stack"))
    if evidence.coverage and (evidence.blame_line or evidence.blame_function
                              or evidence.hunk_function or evidence.touches_file):
        terms.append((weights.coverage * evidence.coverage,
                      f"{evidence.coverage:.0%} of the files it changed are on the stack"))
    if evidence.removed_definition and weights.removed_definition:
        terms.append((weights.removed_definition,
                      f"removed {evidence.removed_definition}, which the error says is missing"))
    if evidence.created_owner and weights.created_owner:
        terms.append((weights.created_owner,
                      f"created {evidence.created_owner}, which the error says lacks an attribute"))
    if evidence.identifiers:
        found = sorted(evidence.identifiers)[: weights.max_identifiers]
        terms.append((weights.identifier * len(found),
                      f"added code naming {', '.join(found)} from the error"))
    recency = weights.recency * math.exp(-evidence.age_days / weights.recency_days)
    terms.append((recency, f"committed {evidence.age_days:.0f} days before first seen"))
    if evidence.new_in_release:
        terms.append((weights.new_in_release, "new since the previous release"))
    if evidence.revert:
        terms.append((weights.revert, "is a revert"))
    if evidence.blame_guard and weights.blame_guard:
        terms.append((weights.blame_guard * evidence.blame_guard,
                      "wrote the assert or raise that stopped the program"))
    if evidence.bot and weights.bot:
        terms.append((weights.bot, "made by an automated author"))
    if evidence.sibling and weights.sibling:
        terms.append((weights.sibling * evidence.sibling, "changed a file beside one on the stack"))
    files = len({change.path for change in evidence.commit.changes})
    if evidence.commit.complete and files and weights.size:
        terms.append((weights.size * math.log2(1 + files), f"changed {files} files"))
    if evidence.cosmetic and weights.cosmetic < 1:
        # Rewording, renaming or reformatting cannot have made the program crash.
        terms = [(value * weights.cosmetic if value > 0 else value, reason)
                 for value, reason in terms]
        terms.append((0.0, "only reworded, renamed or reformatted the stack's code"))
    if weights.fade_days > 0:
        fade = weights.fade_floor + (1 - weights.fade_floor) * math.exp(
            -evidence.age_days / weights.fade_days)
        terms = [(value * fade if value > 0 else value, reason) for value, reason in terms]
    terms.sort(key=lambda term: -term[0])
    return sum(value for value, _ in terms), [reason for _value, reason in terms]


def rank(evidence: dict[str, Evidence], *, top: int = 5, weights: Weights | None = None,
         calibration: Calibration | None = None) -> list[Suspect]:
    """The `top` suspects, best first, each with a calibrated confidence."""
    weights = weights or Weights()
    calibration = calibration or Calibration()
    scored = []
    for sha, item in evidence.items():
        value, reasons = score(item, weights)
        direct = (item.blame_line or item.blame_function or item.hunk_function
                  or item.touches_file or item.new_in_release
                  or (item.removed_definition and weights.removed_definition)
                  or (item.created_owner and weights.created_owner)
                  or (item.sibling and weights.sibling))
        if direct:
            scored.append((value, sha, reasons))
    scored.sort(key=lambda entry: (-entry[0], -evidence[entry[1]].commit.timestamp.timestamp()))
    suspects = []
    best = scored[0][0] if scored else 0.0
    total = sum(math.exp((value - best) / calibration.temperature) for value, _s, _r in scored)
    for value, sha, reasons in scored[:top]:
        share = math.exp((value - best) / calibration.temperature) / total
        commit = evidence[sha].commit
        suspects.append(Suspect(
            sha=sha, score=round(value, 3),
            confidence=round(share * strength(value, calibration), 3),
            author=commit.author, email=commit.email, summary=commit.summary,
            date=commit.timestamp, reasons=reasons))
    return suspects


def strength(value: float, calibration: Calibration) -> float:
    """How convincing a score is on its own, from 0 to 1."""
    return 1.0 / (1.0 + math.exp(-(calibration.strength * value + calibration.bias)))
