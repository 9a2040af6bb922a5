"""From a production crash to a draft pull request, on public projects fetched at run time.

For each case of `cases.json` and a clone (or bare mirror) of its project, this:

1. checks the release out as `main` and plants the case's regression on it as one commit by
   a named author (it removes the lines the case names; nothing of the project is stored here);
2. installs the regressed release into a production virtualenv with sentry-sdk and sends the
   case's request through it over HTTP (`traffic.py`): the crash is captured by sentry-sdk's
   Flask integration as production would;
3. starts a code host stand-in holding the project's whole history (pushed into a bare
   repository), and suture (web and worker in one process, SQLite, in-memory broker) publishing
   to it, with the service configured as an operator would (its test command and how
   to run it as a preview);
4. delivers the event as Sentry's signed webhook, twice, and follows the run to its end: the
   environment built from the project's own files, the fix, the verification in bubblewrap,
   bisection, the local previews of base and fix with the request replayed and screenshots
   taken in Chromium, the push, the draft pull request, its check run and reviewers.

Each case runs once per code host (`--hosts`, both by default): the GitHub stand-in with suture
as a GitHub App, and the GitLab stand-in with a project token (a draft merge request and a
commit status).

It prints every transition, the pull request, and a table; `--json` prints the results.

    python -m bench.publish.run --clones psf/httpbin=/path/to/httpbin [--only NAME]
        [--hosts github gitlab] [--keep] [--json]
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.publish.world import Outcome, run_case
from bench.verify.run import clone_for, parse_clones

HERE = Path(__file__).resolve().parent


def load_cases(only: list[str]) -> list[dict[str, Any]]:
    """The cases of `cases.json`, or only those named."""
    cases: list[dict[str, Any]] = json.loads((HERE / "cases.json").read_text())
    return [case for case in cases if not only or case["name"] in only]


def print_table(outcomes: list[Outcome]) -> None:
    """One line per case: what it took and whether every check held."""
    print("\n| case | host | error | environment | run | replay base → fix | changes "
          "| tickets | check | reviewers | total |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for outcome in outcomes:
        print(f"| {outcome.name} | {outcome.host} | {outcome.error_type} | "
              f"{outcome.environment} | {outcome.state} | {outcome.replay or '-'} | "
              f"{outcome.pulls} | {outcome.tickets} | {outcome.check or '-'} | "
              f"{', '.join(outcome.reviewers) or 'none'} | {outcome.seconds:.0f} s |")
    for outcome in outcomes:
        for failed in outcome.failed:
            print(f"{outcome.name}: FAILED: {failed}")


def main() -> int:
    """Run the cases that have a clone; exit 1 when any check failed."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--clones", nargs="+", default=[], metavar="NAME=PATH",
                        help="a clone or bare mirror of each project")
    parser.add_argument("--only", action="append", default=[])
    parser.add_argument("--hosts", nargs="+", default=["github", "gitlab"],
                        choices=["github", "gitlab"], help="the code hosts to publish to")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds per run")
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    clones = parse_clones(args.clones)
    scratch = Path(tempfile.mkdtemp(prefix="suture-publish-"))
    outcomes = []
    try:
        for case in load_cases(args.only):
            clone = clone_for(case, clones)
            if clone is None:
                print(f"{case['name']}: skipped, no clone given for {case['project']}")
                continue
            for kind in args.hosts:
                started = time.monotonic()
                outcomes.append(run_case(case, clone, scratch / f"{case['name']}-{kind}",
                                         args.timeout, kind))
                outcomes[-1].seconds = time.monotonic() - started
    finally:
        if args.keep:
            print(f"kept {scratch}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)
    print_table(outcomes)
    if args.json:
        print(json.dumps([outcome.__dict__ for outcome in outcomes], default=str))
    return 1 if any(outcome.failed for outcome in outcomes) or not outcomes else 0


if __name__ == "__main__":
    raise SystemExit(main())
