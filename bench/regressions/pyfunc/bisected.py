"""Bisected cases: crash fixes whose message names no usable culprit.

A first-parent fix whose message (with its merged branch's messages) says it fixes a crash or an
exception is reproduced as in ``build.py``. Older first-parent commits are then probed 8, 32, 128
and 512 commits back until the test runs cleanly, and the crash-to-clean boundary is halved (an
untestable step is replaced by a neighbour, up to +-2). The culprit is the oldest first-parent
commit with the same crash whose first parent is clean; when that commit is a merge, the commit
inside its branch where the crash starts is the culprit and the merge is ``culprit_merge``. A
boundary on a commit that changes only tests or docs is rejected. Usage::

    python bench/regressions/pyfunc/bisected.py --project sympy --repo <clone> \
        --out cases-sympy-bisected.jsonl --skip cases-sympy.jsonl --python ... --legacy-python ...

``--until`` (newest fix date) builds one era with its own interpreters; a resumed build skips
the fixes ``--out`` already holds.
"""

from __future__ import annotations

import json
import re
import sys
import tempfile
import time
from pathlib import Path

sys.path.append(str(Path(__file__).resolve().parent.parent))  # the mypy builder's modules
from branch_bisect import bisect_branch  # noqa: E402
from build import _arguments, _is_merge, _sort_file, record  # noqa: E402
from candidates import Commit, git  # noqa: E402
from history import Candidate, log_text, messages_and_texts  # noqa: E402
from projects import PROJECTS, Project  # noqa: E402
from verdicts import Reproduction, Settings, parent, probe, reproduce_fix  # noqa: E402

REACH = (8, 32, 128, 512)
CRASH_WORDS = re.compile(r"crash|traceback|recursion|\b(?:Type|Attribute|Index|Key|ZeroDivision"
                         r"|UnboundLocal|Name|Value|Assertion|NotImplemented)Error\b", re.I)


def crash_fixes(repo: str, project: Project, since: str) -> list[Commit]:
    """First-parent commits whose own message (merge title included) names a crash."""
    mainline = git(repo, "rev-list", "--first-parent", f"--since={since}", "HEAD").split()
    messages, texts = messages_and_texts(repo)
    dates = dict(line.split() for line in log_text(
        repo, "--first-parent", f"--since={since}", "--format=%H %cI").splitlines())
    head = {sha: "\n".join(messages[sha].splitlines()[:3]) for sha in mainline}
    return [Commit(sha, dates[sha], messages[sha]) for sha in mainline
            if CRASH_WORDS.search(head[sha]) or CRASH_WORDS.search(texts[sha][:2000])]


def _step(cfg: Settings, repro: Reproduction, chain: list[str], low: int,
          high: int) -> tuple[int, str] | None:
    middle = (low + high) // 2
    for offset in (0, 1, -1, 2, -2):
        index = middle + offset
        if low < index < high:
            verdict = probe(cfg, repro, chain[index])
            if verdict != "unknown":
                return index, "crash" if verdict == "crash" else "clean"
    return None


def _test_only(cfg: Settings, commit: str) -> bool:
    paths = git(cfg.repo, "diff", "--name-only", f"{commit}^1", commit).split()
    return bool(paths) and all(cfg.project.is_support(p) or p.endswith((".rst", ".md", ".txt"))
                               for p in paths)


def bisect(cfg: Settings, repro: Reproduction) -> tuple[str | None, str | None, str]:
    """``(culprit, merge or None, "")`` or ``(None, None, why not)``."""
    chain = git(cfg.repo, "rev-list", "--first-parent", f"--max-count={REACH[-1] + 1}",
                repro.release).split()
    low, high = 0, None
    for reach in REACH:
        if reach >= len(chain):
            break
        verdict = probe(cfg, repro, chain[reach])
        if verdict in ("clean", "feature absent"):
            high = reach
            break
        if verdict == "crash":
            low = reach
    if high is None:
        return None, None, "bisect: no clean commit within reach"
    while high - low > 1:
        step = _step(cfg, repro, chain, low, high)
        if step is None:
            return None, None, "bisect: untestable commits around the boundary"
        low, high = (step[0], high) if step[1] == "crash" else (low, step[0])
    culprit = chain[low]
    if _is_merge(cfg.repo, culprit):
        inside, reason = bisect_branch(cfg, repro, culprit)
        return (inside, culprit, "") if inside else (None, None, f"bisect: {reason}")
    if _test_only(cfg, culprit):
        return None, None, "bisect: boundary on a commit that changes only tests"
    return culprit, None, ""


def main() -> int:
    """Command-line entry point (``--skip``: a case file whose fixes are already taken)."""
    skip_file = sys.argv.pop(sys.argv.index("--skip") + 1) if "--skip" in sys.argv else None
    if skip_file:
        sys.argv.remove("--skip")
    args = _arguments(None)
    project, start = PROJECTS[args.project], time.monotonic()
    Path(args.out).touch()
    # The skipped file's fixes, and (for a resumed build) those ``--out`` already holds.
    done = {json.loads(line)["fix"] for path in filter(None, (skip_file, args.out))
            for line in Path(path).read_text().splitlines() if line.strip()}
    fixes = [f for f in crash_fixes(args.repo, project, args.since) if f.sha not in done
             and (not args.until or f.date[:10] <= args.until)]
    print(f"{len(fixes)} crash fixes", flush=True)
    kept = tried = reproduced = 0
    with tempfile.TemporaryDirectory(prefix="pyfunc-bisect-") as scratch:
        cfg = Settings(args.repo, project, args.python, args.legacy_python, scratch, args.timeout)
        for fix in fixes:
            if (args.limit and kept >= args.limit) or (
                    args.minutes and time.monotonic() - start > args.minutes * 60):
                break
            tried += 1
            verdict = _one(cfg, fix, args.out)
            kept += verdict.startswith("KEPT")
            reproduced += verdict.startswith(("KEPT", "drop (reproduced)"))
            print(f"{fix.sha[:10]} {fix.subject[:60]!r} -> {verdict}", flush=True)
    total = _sort_file(args.out)
    print(f"== bisected {project.slug}: crash fixes {len(fixes)}, tried {tried}, "
          f"reproduced {reproduced}, kept {kept} "
          f"(file holds {total}), {time.monotonic() - start:.0f}s")
    return 0


def boundary_check(cfg: Settings, repro: Reproduction, culprit: str) -> dict[str, object]:
    """The culprit check of a bisected culprit, saying when its parent only lacks the feature.

    Bisection counts "feature absent" as clean, so the crash may be older than the culprit:
    the record says so, as the named build's check does.
    """
    result: dict[str, object] = {"crash_at_culprit": True, "crash_before_culprit": False}
    if probe(cfg, repro, parent(cfg.repo, culprit)) == "feature absent":
        result["before_culprit"] = "feature absent"
    return result


def _one(cfg: Settings, fix: Commit, out: str) -> str:
    try:
        repro = reproduce_fix(cfg, fix.sha)
        if isinstance(repro, str):
            return f"drop: {repro}"
        culprit, merge, reason = bisect(cfg, repro)
    except Exception as exc:  # one broken fix must not end a long build
        return f"drop: builder error: {type(exc).__name__}"
    if culprit is None:
        return f"drop (reproduced): {reason}"
    subject = git(cfg.repo, "show", "-s", "--format=%s", merge or culprit)
    number = re.search(r"(?:\(#|pull request #)(\d+)", subject)
    fields = {"culprit": culprit, "culprit_ref": f"#{number.group(1)}" if number else culprit[:12],
              "culprit_source": "bisect", "cue": "", "cue_strength": "",
              "culprit_check": boundary_check(cfg, repro, culprit)}
    if merge:
        fields["culprit_merge"] = merge
    case = record(cfg, Candidate(fix, ()), repro, fields)
    with open(out, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(case) + "\n")
    return f"KEPT {case['exception']}"


if __name__ == "__main__":
    sys.exit(main())
