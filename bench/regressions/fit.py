"""Fit the ranking weights on real regressions, and say how well they carry to unseen projects.

Scores the current weights per project, then fits weights by coordinate search (each weight in
turn tried at a few multiples of its value, keeping what raises the objective) and reports them
under cross-validation: with two or more projects, each project is scored with weights fitted on
the others only (leave one project out), which is how a held-out project will see them; with one,
3-fold over the cases. Finally it fits the confidence calibration on the top suspects. Usage::

    python bench/regressions/fit.py --set mypy=<clone>:cases-mypy.jsonl \\
        --set mypy/bisected=<clone>:cases-mypy-bisected.jsonl \\
        --set sympy=<clone>:cases-sympy.jsonl --cache <scratch>/facts.pickle
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import sys
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from facts import CaseSet, Sample, load_facts  # noqa: E402  (a sibling script module)

from worker.correlate.engine import HORIZON_DAYS  # noqa: E402
from worker.correlate.evidence import Evidence  # noqa: E402
from worker.correlate.ranking import Calibration, Weights, rank  # noqa: E402

MULTIPLES = (0.0, 0.25, 0.5, 0.75, 1.25, 1.5, 2.0, 3.0)
ROUNDS = 3
FITTED = ("blame_line", "blame_function", "hunk_function", "touches_file", "coverage",
          "identifier", "recency", "recency_days", "revert", "blame_guard", "cosmetic", "size",
          "sibling", "fade_days", "fade_floor", "bot", "removed_definition",
          "created_owner")
# Where a weight that is zero by default starts its search.
SEEDS = {"blame_guard": -1.0, "cosmetic": 1.0, "size": 0.3, "sibling": 0.5, "fade_days": 180.0,
         "bot": -1.0}


def ranks(evidence: list[tuple[dict[str, Evidence], str]], weights: Weights) -> list[int | None]:
    """The culprit's 1-based rank in each case (None outside the top 10)."""
    found = []
    for table, culprit in evidence:
        shas = [s.sha for s in rank(table, top=10, weights=weights)]
        found.append(shas.index(culprit) + 1 if culprit in shas else None)
    return found


def metrics(found: list[int | None]) -> tuple[float, float, float]:
    """Top-1, Top-5 and MRR."""
    total = max(1, len(found))
    return (sum(1 for r in found if r == 1) / total,
            sum(1 for r in found if r and r <= 5) / total,
            sum(1 / r for r in found if r) / total)


def objective(found: list[int | None]) -> float:
    """What the search maximises: the three metrics together."""
    top1, top5, mrr = metrics(found)
    return top1 + top5 + mrr


def fit(evidence: list[tuple[dict[str, Evidence], str]], start: Weights,
        names: tuple[str, ...] = FITTED) -> Weights:
    """Coordinate search from `start` over the weights `names`."""
    if start.fade_days == 0:  # fading off: a floor below 1 lets turning it on matter
        start = dataclasses.replace(start, fade_floor=0.2)
    best, best_value = start, objective(ranks(evidence, start))
    for _ in range(ROUNDS):
        improved = False
        for name in names:
            current = getattr(best, name) or SEEDS.get(name, 0.0)
            for multiple in MULTIPLES:
                trial = dataclasses.replace(best, **{name: current * multiple})
                if trial.recency_days <= 0 or not 0 <= trial.fade_floor <= 1 \
                        or not 0 <= trial.cosmetic <= 1:
                    continue
                value = objective(ranks(evidence, trial))
                if value > best_value + 1e-9:
                    best, best_value, improved = trial, value, True
        if not improved:
            break
    return best


def project_of(sample: Sample) -> str:
    """The project a set belongs to: sets named `mypy` and `mypy/bisected` are both mypy's."""
    return sample.project.split("/")[0]


def folds(samples: list[Sample]) -> dict[str, list[int]]:
    """Held-out groups: projects when there are several (every set of a project is held out
    together), else three slices of the cases."""
    projects = sorted({project_of(s) for s in samples})
    if len(projects) > 1:
        return {p: [i for i, s in enumerate(samples) if project_of(s) == p] for p in projects}
    return {f"fold {k}": list(range(k, len(samples), 3)) for k in range(3)}


def calibrate(evidence: list[tuple[dict[str, Evidence], str]], weights: Weights) -> Calibration:
    """The calibration whose top-suspect confidence best predicts being right (log loss)."""
    best, best_loss = Calibration(), math.inf
    for temperature in (0.5, 1.0, 1.5, 2.0, 3.0):
        for strength in (0.2, 0.4, 0.6, 0.8, 1.0):
            for bias in (-4.0, -3.0, -2.0, -1.0, 0.0, 1.0):
                cal = Calibration(temperature, strength, bias)
                loss = 0.0
                for table, culprit in evidence:
                    top = rank(table, top=1, weights=weights, calibration=cal)
                    if not top:
                        continue
                    p = min(max(top[0].confidence, 1e-3), 1 - 1e-3)
                    loss -= math.log(p if top[0].sha == culprit else 1 - p)
                if loss < best_loss:
                    best, best_loss = cal, loss
    return best


def reliability(evidence: list[tuple[dict[str, Evidence], str]], weights: Weights,
                calibration: Calibration) -> str:
    """Mean confidence of the top suspect next to how often it is the culprit."""
    tops = [(top[0].confidence, top[0].sha == culprit) for table, culprit in evidence
            if (top := rank(table, top=1, weights=weights, calibration=calibration))]
    if not tops:
        return "no suspects"
    mean = sum(c for c, _ in tops) / len(tops)
    right = sum(1 for _, hit in tops if hit) / len(tops)
    sure = [hit for c, hit in tops if c >= 0.5]
    return (f"top suspect: mean confidence {mean:.2f}, right {right:.0%} of {len(tops)}; "
            f"confidence >= 0.5 in {len(sure)}, right in {sum(sure)}")


def _line(label: str, found: list[int | None]) -> str:
    top1, top5, mrr = metrics(found)
    return f"{label:<34} {len(found):>4} {top1:7.1%} {top5:7.1%} {mrr:6.3f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", dest="sets", action="append", type=CaseSet.parse, required=True)
    parser.add_argument("--cache", type=Path, help="keeps the git facts (one per window)")
    parser.add_argument("--window-days", type=float, default=365)
    parser.add_argument("--horizon-days", type=float, default=HORIZON_DAYS)
    parser.add_argument("--only", default=",".join(FITTED),
                        help="comma-separated weights to fit (default: all)")
    args = parser.parse_args()
    names = tuple(name for name in args.only.split(",") if name)
    if unknown := set(names) - set(FITTED):
        parser.error(f"--only: no such weight {', '.join(sorted(unknown))} "
                     f"(known: {', '.join(FITTED)}); give --only= to fit none")
    samples = load_facts(args.sets, args.cache, args.window_days, args.horizon_days)
    evidence = [(s.facts.evidence(), s.culprit) for s in samples]
    print(f"{'':<34} {'n':>4} {'Top-1':>7} {'Top-5':>7} {'MRR':>6}")
    by_project = defaultdict(list)
    for sample, found in zip(samples, ranks(evidence, Weights()), strict=True):
        by_project[sample.project].append(found)
    for project, found in sorted(by_project.items()):
        print(_line(f"current weights: {project}", found))
    print(_line("current weights: all", ranks(evidence, Weights())))
    present = sum(1 for table, culprit in evidence if culprit in table)
    # A candidate without evidence the weights count (a commit beside the stack, while the
    # `sibling` weight is 0) cannot be ranked at all.
    rankable = sum(1 for table, culprit in evidence
                   if any(s.sha == culprit for s in rank(table, top=len(table))))
    print(f"culprit among the candidates in {present} of {len(evidence)} cases, "
          f"rankable in {rankable}")
    held_out: dict[int, int | None] = {}
    for label, members in folds(samples).items():
        train = [e for i, e in enumerate(evidence) if i not in members]
        test = [evidence[i] for i in members]
        found = ranks(test, fit(train, Weights(), names))
        held_out.update(zip(members, found, strict=True))
        print(_line(f"held out: {label}", found))
    sets = sorted({s.project for s in samples})
    if len(sets) > len({project_of(s) for s in samples}):  # say how each set fared
        for name in sets:
            print(_line(f"held out, set {name}",
                        [held_out[i] for i, s in enumerate(samples) if s.project == name]))
    print(_line("held out: all", list(held_out.values())))
    fitted = fit(evidence, Weights(), names)
    print(_line("fitted on all (in-sample)", ranks(evidence, fitted)))
    print("fitted weights:", {k: round(v, 3) for k, v in dataclasses.asdict(fitted).items()})
    print("current calibration:", reliability(evidence, Weights(), Calibration()))
    calibration = calibrate(evidence, fitted)
    print("fitted calibration:", calibration, reliability(evidence, fitted, calibration))
    return 0


if __name__ == "__main__":
    sys.exit(main())
