"""How often bisection with a reproduction test names the culprit of a named case.

suture bisects history with the reproduction test of a verified patch
(`worker/verify/culprit.py`). Here the fix's own regression test stands in for that test. For
each named case the crash is reproduced at the release (``verdicts.reproduce_fix``), then
suture's ``first_bad`` bisects first-parent history from the release with the benchmark's probe:
the same exception type from the same innermost function is bad, a clean run good, a missing
feature absent, anything else a skip. A merge at the boundary is followed into its branch
(``branch_bisect``). ``--project mypy`` uses the mypy builder's harness (``regression``;
commits before 2021 try ``--legacy-python`` first). Usage::

    python bench/regressions/pyfunc/bisect_named.py --project sqlalchemy --repo <clone> \
        --cases bench/regressions/cases-sqlalchemy.jsonl --era 2021-01-01 \
        --python <venv311>/bin/python --legacy-python <venv38>/bin/python \
        --old-python <venv38>/bin/python --old-legacy-python <venv37>/bin/python

Cases released before ``--era`` use the ``--old-*`` interpreters (the build's older era). One
line per case, then how many culprits bisection named exactly, how many it named as the merge
that brought them in, and the runs and seconds it took.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.append(str(Path(__file__).resolve().parent.parent))  # the mypy builder's modules
sys.path.insert(0, str(Path(__file__).resolve().parents[3]))  # suture itself
import regression  # noqa: E402
import verdicts  # noqa: E402
from branch_bisect import bisect_branch  # noqa: E402
from candidates import git  # noqa: E402
from projects import PROJECTS  # noqa: E402

from worker.verify.bisection import ABSENT, BAD, GOOD, SKIP, first_bad  # noqa: E402

VERDICTS = {"crash": BAD, "clean": GOOD, "feature absent": ABSENT}


def bisect_case(cfg: Any, repro: Any, max_probes: int) -> dict[str, object]:
    """Where suture's bisection puts the start of the reproduced crash."""
    history = git(cfg.repo, "rev-list", "--first-parent", "--max-count=4097",
                  repro.release).split()
    probe = regression.probe if isinstance(cfg, regression.Settings) else verdicts.probe
    found = first_bad(history, lambda sha: (VERDICTS.get(probe(cfg, repro, sha), SKIP), ""),
                      max_probes=max_probes)
    at = {sha: index for index, sha in enumerate(history)}
    result: dict[str, object] = {"first_parent": found.culprit, "reason": found.reason,
                                 "probes": len(found.probes), "culprit": found.culprit,
                                 "path": " ".join(f"{at[p.sha]}:{p.verdict}"
                                                  for p in found.probes)}
    if probe is verdicts.probe and found.culprit and len(git(
            cfg.repo, "rev-list", "--parents", "-n1", found.culprit).split()) > 2:
        inside, why = bisect_branch(cfg, repro, found.culprit)
        result["culprit"] = inside
        result["branch"] = why
    return result


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    args = _arguments(argv)
    cases = [json.loads(line) for line in Path(args.cases).read_text().splitlines() if line]
    cases = [c for c in cases if c["fix"].startswith(args.fix)][:args.limit or None]
    exact = merge = reproduced = runs = 0
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="pyfunc-bisect-") as scratch:
        for case in cases:
            date = git(args.repo, "show", "-s", "--format=%cI", case["release"]).strip()
            old = args.era and date < args.era
            python = args.old_python if old else args.python
            legacy = args.old_legacy_python if old else args.legacy_python
            cfg: Any = (regression.Settings(args.repo, scratch, python, legacy, "2021-01-01",
                                            args.timeout) if args.project == "mypy" else
                        verdicts.Settings(args.repo, PROJECTS[args.project], python, legacy,
                                          scratch, args.timeout))
            clock = time.monotonic()
            harness = regression if args.project == "mypy" else verdicts
            repro = harness.reproduce_fix(cfg, case["fix"])
            if isinstance(repro, str):
                print(f"{case['fix'][:12]} not reproduced: {repro}", flush=True)
                continue
            reproduced += 1
            result = bisect_case(cfg, repro, args.max_probes)
            runs += int(result["probes"])  # type: ignore[call-overload]
            hit = result["culprit"] == case["culprit"]
            via_merge = not hit and result["first_parent"] == case["culprit"]
            exact, merge = exact + hit, merge + via_merge
            mark = "culprit" if hit else "its merge" if via_merge else "other"
            print(f"{case['fix'][:12]} {mark}: {str(result['culprit'])[:12]} "
                  f"(named {case['culprit'][:12]}), {result['probes']} runs, "
                  f"{time.monotonic() - clock:.0f} s; {result['reason']}"
                  f"{'; ' + str(result['branch']) if result.get('branch') else ''}"
                  f"{' [' + str(result['path']) + ']' if args.verbose else ''}", flush=True)
    print(f"{args.project}: {len(cases)} named cases, {reproduced} reproduced; bisection named "
          f"the culprit in {exact}, its merge in {merge}; {runs} runs of the reproduction, "
          f"{time.monotonic() - started:.0f} s")
    return 0


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--project", required=True, choices=["mypy", *sorted(PROJECTS)])
    parser.add_argument("--repo", required=True, help="a clone of the project")
    parser.add_argument("--cases", required=True, help="the project's named cases")
    parser.add_argument("--python", default=sys.executable)
    parser.add_argument("--legacy-python", default=None)
    parser.add_argument("--era", default=None, help="cases released before this date use the "
                        "--old-* interpreters")
    parser.add_argument("--old-python", default=None)
    parser.add_argument("--old-legacy-python", default=None)
    parser.add_argument("--timeout", type=float, default=180)
    parser.add_argument("--max-probes", type=int, default=20, help="as suture's default")
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--fix", default="", help="only the cases whose fix starts with this")
    parser.add_argument("--verbose", action="store_true", help="print every probe's distance "
                        "from the release and verdict")
    return parser.parse_args(argv)


if __name__ == "__main__":
    sys.exit(main())
