"""CODEOWNERS with GitHub's semantics (pure).

The file is read from `.github/CODEOWNERS`, then `CODEOWNERS`, then `docs/CODEOWNERS` (the first
found wins, as on GitHub). Patterns follow gitignore rules: a pattern with no slash (or only a
trailing one) matches at any depth; a leading or inner slash anchors it at the root; `*` stays
within one path segment, `**` crosses them; a trailing `/` means a directory and everything in
it; a directory pattern also owns everything below. The LAST matching line wins, and a matching
line with no owners leaves the file unowned.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

LOCATIONS = (".github/CODEOWNERS", "CODEOWNERS", "docs/CODEOWNERS")


@dataclass(frozen=True)
class Rule:
    """One CODEOWNERS line."""

    pattern: str
    owners: tuple[str, ...]
    regex: re.Pattern[str]
    line: int


def parse(text: str) -> list[Rule]:
    """Rules in file order; comments, blank and malformed lines are skipped."""
    rules = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = _strip_comment(raw).strip()
        if not line:
            continue
        # A backslash keeps a space inside the pattern (`docs/my\ file.md`).
        pattern, *owners = re.split(r"(?<!\\)\s+", line)
        regex = _compile(pattern)
        if regex is not None:
            rules.append(Rule(pattern, tuple(owners), regex, number))
    return rules


def _strip_comment(line: str) -> str:
    if line.lstrip().startswith("#"):
        return ""
    match = re.search(r"(?<!\\)\s#", line)
    return line[: match.start()] if match else line


def owners_of(rules: list[Rule], path: str) -> tuple[Rule | None, tuple[str, ...]]:
    """The rule that decides `path` (the last match) and its owners."""
    decided: Rule | None = None
    for rule in rules:
        if rule.regex.fullmatch(path):
            decided = rule
    return decided, decided.owners if decided else ()


def _compile(pattern: str) -> re.Pattern[str] | None:
    if pattern.startswith("!") or "[" in pattern and "]" not in pattern:
        return None  # GitHub ignores negation and broken character classes
    directory = pattern.endswith("/")
    body = pattern.strip("/")
    if not body:
        return re.compile(".*")
    anchored = pattern.startswith("/") or "/" in body
    regex = _translate(body)
    prefix = "" if anchored else "(?:.*/)?"
    # Anything that matches a directory also owns what is inside it, except a lone trailing
    # `*`: GitHub's `docs/*` owns docs/a.md but not docs/build/b.md.
    lone_star = body == "*" or body.endswith("/*")
    suffix = "/.*" if directory else "" if lone_star else "(?:/.*)?"
    try:
        return re.compile(prefix + regex + suffix)
    except re.error:
        return None


def _translate(glob: str) -> str:
    out, index = [], 0
    while index < len(glob):
        char = glob[index]
        if glob.startswith("**/", index):
            out.append("(?:.*/)?")
            index += 3
            continue
        if glob.startswith("/**", index) and index + 3 == len(glob):
            out.append("/.*")
            index += 3
            continue
        if glob.startswith("**", index):
            out.append(".*")
            index += 2
            continue
        if char == "\\" and index + 1 < len(glob):  # an escaped character is literal
            out.append(re.escape(glob[index + 1]))
            index += 2
            continue
        out.append({"*": "[^/]*", "?": "[^/]"}.get(char, re.escape(char)))
        index += 1
    return "".join(out)
