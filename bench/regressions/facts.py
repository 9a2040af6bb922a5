"""Case sets and the git facts behind each case, read once and kept for scoring and fitting.

A case set is a JSON-lines file of cases plus a clone of the project they come from, given as
``NAME=CLONE:CASES``. ``load_facts`` reads, for every case, what suture's engine reads out of
git (frames, history, hunks, blame), with every candidate commit's full file list, so that any
weighting can be scored without asking git again. ``--cache FILE`` keeps them between runs.
"""

from __future__ import annotations

import json
import pickle
import sys
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from integrations.git import GitRepository
from worker.correlate.engine import HORIZON_DAYS, Facts, collect, complete
from worker.normalise import detect_and_normalise

sys.path.insert(0, str(Path(__file__).resolve().parent))
from event_source import restore  # noqa: E402  (a sibling script module)

BESIDE_DAYS = 30


@dataclass(frozen=True)
class CaseSet:
    """Cases of one project and the clone they are scored against."""

    name: str
    repo: Path
    cases: Path

    @classmethod
    def parse(cls, text: str) -> CaseSet:
        """``NAME=CLONE:CASES``."""
        name, _, rest = text.partition("=")
        repo, _, cases = rest.rpartition(":")
        if not name or not repo or not cases:
            raise SystemExit(f"--set wants NAME=CLONE:CASES, got {text!r}")
        return cls(name, Path(repo), Path(cases))

    def load(self) -> list[dict[str, Any]]:
        """The set's cases."""
        lines = self.cases.read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines if line.strip()]


@dataclass
class Sample:
    """One case: its facts and the commit that really caused it."""

    project: str
    fix: str
    culprit: str
    subject: str
    facts: Facts


def read_case(repo: GitRepository, clone: Path, case: dict[str, Any],
              window_days: float = 365, horizon_days: float = HORIZON_DAYS) -> Facts:
    """The facts suture reads for a case's event at its release."""
    event = detect_and_normalise(restore(case["event"], str(clone), case["release"]))
    # Commits beside the stack are read as well, so that `fit.py` can weigh the `sibling`
    # signal the engine leaves off.
    return collect(repo, event, release=case["release"], window_days=window_days,
                   horizon_days=horizon_days, beside_days=BESIDE_DAYS,
                   first_seen=datetime.fromisoformat(case["first_seen"]))


def load_facts(sets: list[CaseSet], cache: Path | None = None,
               window_days: float = 365, horizon_days: float = HORIZON_DAYS) -> list[Sample]:
    """Facts of every case of every set, from the cache when it has them."""
    kept: dict[tuple[str, str], Sample] = {}
    if cache and cache.exists():
        kept = {(s.project, s.fix): s for s in pickle.loads(cache.read_bytes())}
    samples = []
    for case_set in sets:
        repo = GitRepository(case_set.repo)
        for case in case_set.load():
            key = (case_set.name, case["fix"])
            if key not in kept:
                facts = read_case(repo, case_set.repo, case, window_days, horizon_days)
                complete(repo, facts, list(facts.commits))
                kept[key] = Sample(case_set.name, case["fix"], repo.resolve(case["culprit"]),
                                   case.get("fix_subject", ""), facts)
            samples.append(kept[key])
    if cache:
        cache.write_bytes(pickle.dumps(list(kept.values())))
    return samples
