"""Verification benchmark: suture's verdicts on real bug-fix commits of other projects.

Every case in `cases.jsonl` is one fix commit of a public project. From it this script makes
three patches against the fix's parent with git: `full` (the whole commit), `tests` (only the
case's test files) and `code` (everything else). Each goes through
`suture verify --repo CLONE --base PARENT --patch FILE --setup-command ... --test-command ...
--json`, run as `python -m worker.cli verify ...` from this repository's root. The right
verdicts: `full` is verified; `tests` alone is rejected (the new tests stay red); `code` alone is
rejected (it brings no test that is red on the parent). "could not verify" is never right.

Nothing is fetched here. Get each project beforehand from wherever the machine can reach:
`git clone https://github.com/arrow-py/arrow /tmp/clones/arrow` (each case's `clone_url`), or a
bare mirror brought by other means (where GitHub is out of reach, a repository snapshot tool's
bare git directory will do); then, from the repository root:

    python bench/verify/run.py --clones arrow-py/arrow=/tmp/clones/arrow \
        Python-Markdown/markdown=/tmp/clones/markdown tj/commander.js=/tmp/clones/commander \
        BurntSushi/toml=/tmp/clones/toml [--only NAME]... [--json]

A clone is named by the case's `project` or by its last part (`arrow=...`). A bare mirror is
cloned (locally) into the scratch folder first; suture gets that working clone. Cases whose
project has no clone are listed as skipped. Right after the first case's `full` verification
the same patch is verified again: the project's environment is then in suture's cache, so that
run shows what reuse saves (the first is cold only if no earlier run cached that environment).

It prints a table (per case the three statuses, right or wrong, and the seconds of each
verification), then the right verdicts, the median seconds per verification and the two timings
of the first project; `--json` prints the same as one JSON document.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
CASES = Path(__file__).resolve().parent / "cases.jsonl"
KINDS = ("full", "tests", "code")
EXPECTED = {"full": "verified", "tests": "rejected", "code": "rejected"}


def git(repo: Path, *args: str) -> str:
    """Run git in `repo` and return its output (raises on failure)."""
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True,
                           check=True).stdout


def load_cases(path: Path, only: list[str]) -> list[dict[str, Any]]:
    """The cases in `path`, in file order, restricted to the names in `only` when given."""
    cases = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    unknown = set(only) - {case["name"] for case in cases}
    if unknown:
        sys.exit(f"unknown case(s): {', '.join(sorted(unknown))}")
    return [case for case in cases if not only or case["name"] in only]


def parse_clones(items: list[str]) -> dict[str, Path]:
    """`name=PATH` pairs as a mapping; a name is a project (`owner/name`) or its last part."""
    clones: dict[str, Path] = {}
    for item in items:
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            sys.exit(f"--clones takes name=PATH, not {item!r}")
        clones[name.lower()] = Path(path).expanduser().resolve()
    return clones


def clone_for(case: dict[str, Any], clones: dict[str, Path]) -> Path | None:
    """The clone given for the case's project, if any."""
    project = case["project"].lower()
    return clones.get(project) or clones.get(project.split("/")[-1])


def working_clone(path: Path, scratch: Path, made: dict[Path, Path]) -> Path:
    """`path` itself when it has a work tree, else a local clone of the mirror (made once)."""
    if git(path, "rev-parse", "--is-bare-repository").strip() != "true":
        return path
    if path not in made:
        target = scratch / f"clone-{len(made)}-{path.parent.name}"
        subprocess.run(["git", "clone", "-q", "--no-checkout", str(path), str(target)],
                       check=True)
        made[path] = target
    return made[path]


def make_patches(repo: Path, case: dict[str, Any], folder: Path) -> dict[str, Path]:
    """The case's `full`, `tests` and `code` patches, written to `folder`."""
    base, fix, tests = case["parent"], case["fix"], case["test_files"]
    excluded = [f":(exclude){path}" for path in tests]
    diffs = {"full": git(repo, "diff", "--binary", base, fix),
             "tests": git(repo, "diff", "--binary", base, fix, "--", *tests),
             "code": git(repo, "diff", "--binary", base, fix, "--", ".", *excluded)}
    patches = {}
    for kind, text in diffs.items():
        if not text.strip():
            raise ValueError(f"the {kind} patch of {case['name']} is empty")
        patches[kind] = folder / f"{case['name']}.{kind}.patch"
        patches[kind].write_text(text)
    return patches


def verify(repo: Path, case: dict[str, Any], patch: Path, timeout: float) -> dict[str, Any]:
    """One `suture verify` run: its status, reasons, exit code and seconds."""
    command = [sys.executable, "-m", "worker.cli", "verify", "--repo", str(repo),
               "--base", case["parent"], "--patch", str(patch)]
    for setup in case.get("setup", []):
        command += ["--setup-command", setup]
    if case.get("test_command"):
        command += ["--test-command", case["test_command"]]
    command.append("--json")
    start = time.monotonic()
    try:
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True,
                              timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"status": "error", "error": f"timed out after {timeout:.0f} s",
                "seconds": round(time.monotonic() - start, 1), "exit": None}
    seconds = round(time.monotonic() - start, 1)
    try:
        shown = json.loads(done.stdout)
    except json.JSONDecodeError:
        tail = (done.stderr.strip() or done.stdout.strip()).splitlines()[-3:]
        return {"status": "error", "error": " | ".join(tail) or "no output",
                "seconds": seconds, "exit": done.returncode}
    return {"status": shown.get("status") or ("verified" if shown.get("verified") else "?"),
            "verified": shown.get("verified"), "reasons": shown.get("reasons", []),
            "reproduced": shown.get("reproduction", {}).get("reproduced", []),
            "environment": _environment_timing(shown.get("environment")),
            "seconds": seconds, "exit": done.returncode}


def _environment_timing(shown: dict[str, Any] | None) -> dict[str, Any] | None:
    """What preparing the environment cost this verification: `setup_seconds` (building it,
    or finding it in the cache) and whether it was reused."""
    if not shown:
        return None
    return {"setup_seconds": shown.get("seconds"), "reused": shown.get("reused"),
            "build_seconds": shown.get("build_seconds"), "key": shown.get("key")}


def run_case(case: dict[str, Any], repo: Path, folder: Path, timeout: float,
             repeat: bool) -> dict[str, Any]:
    """The three verifications of one case (and a repeat of `full` when asked)."""
    result: dict[str, Any] = {"name": case["name"], "project": case["project"],
                              "runner": case["runner"], "runs": {}}
    try:
        patches = make_patches(repo, case, folder)
    except (subprocess.CalledProcessError, ValueError) as exc:
        error = f"could not make the patches: {(getattr(exc, 'stderr', '') or str(exc)).strip()}"
        result["error"] = error
        result["runs"] = {kind: {"status": "error", "error": error, "seconds": None,
                                 "expected": EXPECTED[kind], "right": False} for kind in KINDS}
        return result
    for kind in KINDS:
        run = verify(repo, case, patches[kind], timeout)
        run["expected"] = EXPECTED[kind]
        run["right"] = run["status"] == EXPECTED[kind]
        result["runs"][kind] = run
        if kind == "full" and repeat:
            result["repeat"] = verify(repo, case, patches["full"], timeout)
    return result


def summarise(results: list[dict[str, Any]]) -> dict[str, Any]:
    """Right verdicts, median seconds, and the first project's first and repeated timing."""
    runs = [run for result in results for run in result["runs"].values()]
    seconds = [run["seconds"] for run in runs if run["seconds"] is not None]
    summary: dict[str, Any] = {
        "right": sum(run["right"] for run in runs), "total": len(runs),
        "could_not_verify": sum(run["status"] == "could not verify" for run in runs),
        "errors": sum(run["status"] == "error" for run in runs),
        "median_seconds": round(statistics.median(seconds), 1) if seconds else None}
    first = next((result for result in results if "repeat" in result), None)
    if first is not None:
        before = first["runs"]["full"].get("environment") or {}
        after = first["repeat"].get("environment") or {}
        summary["reuse"] = {"case": first["name"], "project": first["project"],
                            "first_seconds": first["runs"]["full"]["seconds"],
                            "second_seconds": first["repeat"]["seconds"],
                            "second_status": first["repeat"]["status"],
                            "first_setup_seconds": before.get("setup_seconds"),
                            "first_reused": before.get("reused"),
                            "second_setup_seconds": after.get("setup_seconds"),
                            "second_reused": after.get("reused")}
    return summary


def print_table(results: list[dict[str, Any]], skipped: list[str],
                summary: dict[str, Any]) -> None:
    """The human-readable report."""
    header = f"{'case':<22} {'runner':<9}" + "".join(f" {kind:<28}" for kind in KINDS)
    print(header)
    print("-" * len(header))
    for result in results:
        line = f"{result['name']:<22} {result['runner']:<9}"
        if "error" in result:
            print(f"{line} {result['error']}")
            continue
        for kind in KINDS:
            run = result["runs"][kind]
            mark = "right" if run["right"] else "WRONG"
            line += f" {run['status'][:16]:<16} {mark:<5} {run['seconds']:>5.0f}s"
        print(line)
        for kind in KINDS:
            run = result["runs"][kind]
            if not run["right"]:
                why = run.get("error") or "; ".join(run.get("reasons", []))[:160]
                print(f"    {kind}: {why}")
    for name in skipped:
        print(f"{name:<22} skipped: no clone given for its project")
    print(f"\nright verdicts: {summary['right']}/{summary['total']} "
          f"({summary['could_not_verify']} could not verify, {summary['errors']} errors)")
    print(f"median seconds per verification: {summary['median_seconds']}")
    reuse = summary.get("reuse")
    if reuse:
        print(f"{reuse['project']} ({reuse['case']}): first verification "
              f"{reuse['first_seconds']:.1f} s, second (environment reused) "
              f"{reuse['second_seconds']:.1f} s ({reuse['second_status']})")
        if reuse["first_setup_seconds"] is not None and reuse["second_setup_seconds"] is not None:
            cached = " (already cached)" if reuse["first_reused"] else ""
            print(f"  environment setup: first {reuse['first_setup_seconds']:.2f} s{cached}, "
                  f"second {reuse['second_setup_seconds']:.2f} s "
                  f"({'reused' if reuse['second_reused'] else 'rebuilt'})")


def main() -> int:
    """Run the benchmark; exit 0 when every verdict was right."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clones", nargs="+", action="extend", default=[],
                        metavar="NAME=PATH", help="a clone or mirror of each project")
    parser.add_argument("--cases", type=Path, default=CASES)
    parser.add_argument("--only", action="append", default=[], metavar="NAME")
    parser.add_argument("--timeout", type=float, default=1800,
                        help="seconds for one verification")
    parser.add_argument("--json", action="store_true", help="print JSON")
    args = parser.parse_args()
    cases = load_cases(args.cases, args.only)
    clones = parse_clones(args.clones)
    results: list[dict[str, Any]] = []
    skipped: list[str] = []
    made: dict[Path, Path] = {}
    with tempfile.TemporaryDirectory(prefix="suture-verify-bench-") as scratch:
        for case in cases:
            given = clone_for(case, clones)
            if given is None:
                skipped.append(case["name"])
                continue
            repo = working_clone(given, Path(scratch), made)
            result = run_case(case, repo, Path(scratch), args.timeout, repeat=not results)
            results.append(result)
            print(f"[{len(results)}/{len(cases)}] {case['name']}: "
                  + ", ".join(f"{k} {r['status']} ({r['seconds'] or 0:.0f} s)"
                              for k, r in result["runs"].items()),
                  file=sys.stderr, flush=True)  # progress; stdout keeps the report alone
    summary = summarise(results)
    if args.json:
        print(json.dumps({"cases": results, "skipped": skipped, "summary": summary}, indent=2))
    else:
        print_table(results, skipped, summary)
    return 0 if results and summary["right"] == summary["total"] else 1


if __name__ == "__main__":
    sys.exit(main())
