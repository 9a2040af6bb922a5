"""Find fix commits whose message names the commit that caused the bug they fix.

Like ``candidates.py`` (the mypy scanner), but for any GitHub project and for both merge styles:
squash merges whose subject ends with ``(#N)`` and merge commits "Merge pull request #N from
user/branch". A first-parent merge's message is read together with the messages of the commits
it brought in, because with merge commits the explanation ("regression from #N") is written in
the branch's commits, not in the merge. A reference ``#N`` resolves to the squash commit or the
merge of pull request N; a SHA resolves with ``git rev-parse``. A project that names tickets its
own way (SQLAlchemy's ``:ticket:`N` ``) sets ``Project.ticket_ref``; with ``Project.ticket_line``
(``Fixes: #N``) a ticket or ``#N`` also resolves to the commits whose message has that line, the
oldest first, so the earliest one that is an ancestor of the fix's parent is taken. The culprit
must be an ancestor of the fix's first parent. Only fixes that add or change test modules are
candidates.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

sys.path.append(str(Path(__file__).resolve().parent.parent))  # the mypy builder's modules
from candidates import Commit, Suspect, git, is_ancestor  # noqa: E402
from projects import Project  # noqa: E402


def log_text(repo: str, *args: str) -> str:
    """``git log`` output, tolerating messages that are not UTF-8 (old commits)."""
    result = subprocess.run(["git", "-C", repo, "log", *args], capture_output=True, timeout=600,
                            check=True)
    return result.stdout.decode("utf-8", "replace")

_STRONG = (r"caus(?:ed|ing)|introduc(?:ed|ing)|regress(?:ed|ion|ions)(?!\s+tests?\b)|broken|broke"
           r"|surfaced|exposed|triggered")
_WEAK = r"follow[- ]?up|since|after|(?:partially\s+)?revert(?:s|ing|ed)?|walks?\s+back"
_MERGE = re.compile(r"^Merge pull request #(\d+) from ")
_SQUASH = re.compile(r"\(#(\d+)\)\s*$")
MAX_SUSPECTS = 4
PLACEHOLDERS = {"#1234", "#12345"}  # "Fixes #1234" in pull-request templates
# Between a cue and its reference: no sentence end, where a dot between digits ("in 2.0.16
# by #N") is a version number, not a sentence end.
_GAP = r"(?:[^.\n]|(?<=\d)\.(?=\d)|\n(?!\n)){0,60}?"


@dataclass(frozen=True)
class Candidate:
    """A first-parent fix commit, the message text read for it, and the commits it names."""

    fix: Commit
    suspects: tuple[Suspect, ...]


def _ref_pattern(slug: str, ticket_ref: str = "") -> str:
    owner, name = (re.escape(part) for part in slug.split("/"))
    url = rf"https://github\.com/{owner}/{name}/(?:pull/\d+|commit/[0-9a-f]{{7,40}})"
    ticket = f"{ticket_ref}|" if ticket_ref else ""
    return (rf"(?P<ref>{ticket}{url}|(?<![\w/])(?:{owner}/{name})?#\d{{3,6}}\b"
            r"|(?<![\w/#])[0-9a-f]{7,40}\b)")


def references(message: str, slug: str, ticket_ref: str = "") -> list[tuple[str, str, str]]:
    """``(reference, cue, strength)`` for every reference in ``message``, strongest first."""
    ref = _ref_pattern(slug, ticket_ref)
    cue_re = re.compile(rf"\b(?P<cue>{_STRONG}|{_WEAK})\b{_GAP}{ref}", re.IGNORECASE)
    found, anchored = [], set()
    for match in cue_re.finditer(message):
        if _sha_like(match.group("ref")):
            cue = match.group("cue").lower()
            strong = re.fullmatch(_STRONG, cue, re.IGNORECASE) is not None
            found.append((match.group("ref"), cue, "strong" if strong else "weak"))
            anchored.add(match.start("ref"))
    for match in re.finditer(ref, message):
        if match.start("ref") not in anchored and _sha_like(match.group("ref")):
            found.append((match.group("ref"), "", "mention"))
    rank = {"strong": 0, "weak": 1, "mention": 2}
    return sorted(found, key=lambda item: rank[item[2]])


def _sha_like(ref: str) -> bool:
    """False for a word of hex letters only (a bare word, not a SHA); numbers always pass."""
    if "#" in ref or "/pull/" in ref:
        return True
    sha = ref.rsplit("/", 1)[-1]
    if not re.fullmatch(r"[0-9a-f]{7,40}", sha):
        return True  # a project's own ticket form
    return bool(re.search(r"\d", sha)) and bool(re.search(r"[a-f]", sha))


def pr_index(repo: str) -> dict[str, list[str]]:
    """Pull-request number -> commits that merged it (squash subject or merge commit)."""
    index: dict[str, list[str]] = {}
    for line in log_text(repo, "--format=%H %s").splitlines():
        sha, _, subject = line.partition(" ")
        match = _MERGE.match(subject) or _SQUASH.search(subject)
        if match:
            index.setdefault(match.group(1), []).append(sha)
    return index


def ticket_index(messages: dict[str, str], line: str) -> dict[str, list[str]]:
    """Ticket number -> commits whose message has a ``line`` for it, oldest first.

    ``messages`` is in ``git log`` order (newest first), so each list is reversed.
    """
    index: dict[str, list[str]] = {}
    if not line:
        return index
    pattern = re.compile(line, re.MULTILINE)
    for sha, message in messages.items():
        for number in dict.fromkeys(pattern.findall(message)):
            index.setdefault(number, []).append(sha)
    return {number: shas[::-1] for number, shas in index.items()}


def _number(ref: str, ticket_ref: str) -> str | None:
    """The pull-request or ticket number a reference names, or None for a SHA."""
    ticket = re.fullmatch(ticket_ref, ref) if ticket_ref else None
    if ticket:
        return ticket.group(1)
    number = re.search(r"(?:#|/pull/)(\d+)$", ref)
    return number.group(1) if number else None


def resolve(repo: str, ref: str, prs: dict[str, list[str]], ticket_ref: str = "",
            tickets: dict[str, list[str]] | None = None) -> list[str]:
    """Commits a reference may mean (a pull request merged twice gives two).

    A number is a pull request's merge, then the commits whose message says they fix that
    ticket (pull requests and issues share one numbering on GitHub).
    """
    number = _number(ref, ticket_ref)
    if number:
        return prs.get(number, []) + (tickets or {}).get(number, [])
    try:
        sha = ref.rsplit("/", 1)[-1]
        return [git(repo, "rev-parse", "--verify", "--quiet", f"{sha}^{{commit}}").strip()]
    except subprocess.CalledProcessError:
        return []


def _all_commits(repo: str) -> tuple[dict[str, list[str]], dict[str, str]]:
    """Parents and full message of every commit reachable from HEAD."""
    parents, messages = {}, {}
    for record in log_text(repo, "--format=%H %P%x00%B%x1e").split("\x1e"):
        record = record.strip("\n")
        if record:
            head, message = record.split("\x00", 1)
            sha, *rest = head.split()
            parents[sha], messages[sha] = rest, message.strip()
    return parents, messages


def _branch_messages(mainline: list[str], parents: dict[str, list[str]],
                     messages: dict[str, str]) -> dict[str, str]:
    """For each first-parent commit, its message plus those of the commits it merged in.

    Merges are walked oldest first, each claiming the side commits not claimed before, which is
    what ``git log F^1..F^2`` lists without one git call per merge.
    """
    claimed = set(mainline)
    text = {}
    for sha in reversed(mainline):
        parts, stack = [messages.get(sha, "")], list(parents.get(sha, [])[1:])
        while stack:
            side = stack.pop()
            if side in claimed or side not in parents:
                continue
            claimed.add(side)
            parts.append(messages[side])
            stack.extend(parents[side])
        text[sha] = "\n\n".join(parts)
    return text


def first_parents(repo: str) -> list[str]:
    """The whole first-parent history of HEAD, newest first.

    All of it, not only the scanned period: a merge's branch walk must stop at mainline commits
    older than the period too, or an old branch's messages would be read as a new merge's.
    """
    return git(repo, "rev-list", "--first-parent", "HEAD", timeout=600).split()


def messages_and_texts(repo: str) -> tuple[dict[str, str], dict[str, str]]:
    """Every commit's message, and each first-parent commit's text (with its branch's)."""
    parents, messages = _all_commits(repo)
    return messages, _branch_messages(first_parents(repo), parents, messages)


def _touches_tests(repo: str, project: Project, sha: str) -> bool:
    out = git(repo, "diff", "--name-only", "--diff-filter=AM", f"{sha}^1", sha)
    return any(project.is_test_file(path) for path in out.split())


def _suspects(repo: str, fix: Commit, text: str, project: Project, prs: dict[str, list[str]],
              tickets: dict[str, list[str]]) -> tuple[tuple[Suspect, ...], str]:
    suspects: list[Suspect] = []
    reason = "references resolve to no commit (issues, other repositories)"
    for ref, cue, strength in references(text, project.slug, project.ticket_ref):
        if ref in PLACEHOLDERS:
            continue
        for sha in resolve(repo, ref, prs, project.ticket_ref, tickets):
            if sha == fix.sha or any(s.sha == sha for s in suspects):
                continue
            if is_ancestor(repo, sha, f"{fix.sha}^1"):
                suspects.append(Suspect(sha, ref, cue, strength))
                break
            reason = "referenced commits are not ancestors of the fix's parent"
        if len(suspects) >= MAX_SUSPECTS:
            break
    return tuple(suspects), reason


def scan(repo: str, project: Project, since: str) -> tuple[list[Candidate], Counter[str]]:
    """Candidates (strong cues first, then weak, then mentions; newest first within each)."""
    mainline = git(repo, "rev-list", "--first-parent", f"--since={since}", "HEAD").split()
    messages, texts = messages_and_texts(repo)
    dates = dict(line.split() for line in log_text(
        repo, "--first-parent", f"--since={since}", "--format=%H %cI").splitlines())
    prs, skipped, found = pr_index(repo), Counter[str](), []
    tickets = ticket_index(messages, project.ticket_line)
    for sha in mainline:
        text = texts[sha]
        if not references(text, project.slug, project.ticket_ref):
            skipped["no culprit reference"] += 1
            continue
        fix = Commit(sha, dates[sha], messages[sha])
        suspects, reason = _suspects(repo, fix, text, project, prs, tickets)
        if not suspects:
            skipped[reason] += 1
        elif not _touches_tests(repo, project, sha):
            skipped["fix changes no test module"] += 1
        else:
            found.append(Candidate(fix, suspects))
    rank = {"strong": 0, "weak": 1, "mention": 2}
    found.sort(key=lambda c: min(rank[s.strength] for s in c.suspects))
    return found, skipped
