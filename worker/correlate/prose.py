"""Where a Python file holds prose rather than code: its docstrings (pure).

A commit that only rewrites docstrings writes lines that blame and the history will name, yet it
cannot have made the program crash. Docstrings are found by their triple quotes, without
parsing the file: a string that opens a statement (not one passed as an argument or assigned)
is a docstring or a bare string, and neither runs. The lines they span are left out when a
change is judged cosmetic.
"""

from __future__ import annotations

import bisect
import math
import re

from worker.vcs import Hunk

Spans = tuple[tuple[int, int], ...]  # inclusive 1-based line ranges

_STRING = re.compile(r'"""[\s\S]*?"""|\'\'\'[\s\S]*?\'\'\'')
_PREFIX = frozenset("rRuUbBfF")
# A line that leaves an expression open: a string after it is an argument or a value.
_OPEN_END = re.compile(r"[(\[{,=+\-*/%|&\\:]\s*$|\b(?:return|yield|await|in|and|or|not)\s*$")
_STATEMENT_COLON = re.compile(r"^\s*(?:async\s+def|def|class|if|elif|else|for|while|with|try|"
                              r"except|finally|match|case)\b.*:\s*(?:#.*)?$")
PYTHON = (".py", ".pyi")
# Four words in a row: a line that may be prose. Only hunks with one are worth reading whole files
# for (a false alarm costs a read, never a wrong answer).
_WORDS = re.compile(r"(?:[A-Za-z][\w']+[,;.:]?\s+){3}[A-Za-z][\w']+")


def may_hold_prose(hunk: Hunk) -> bool:
    """True when a line of the hunk reads like a sentence."""
    return any(_WORDS.search(line) for line in (*hunk.removed, *hunk.added))


def docstrings(text: str) -> Spans:
    """The line ranges of the text's docstrings and other bare string statements (one regular
    expression pass over the file: this runs on whole files of many commits)."""
    spans: list[tuple[int, int]] = []
    line, counted = 1, 0
    for match in _STRING.finditer(text):
        start = match.start()
        line += text.count("\n", counted, start)
        counted = start
        line_start = text.rfind("\n", 0, start) + 1
        prefix = text[line_start:start].strip()
        if len(prefix) <= 2 and set(prefix) <= _PREFIX and _opens_statement(text, line_start):
            spans.append((line, line + text.count("\n", start, match.end())))
    return tuple(spans)


def _opens_statement(text: str, line_start: int) -> bool:
    """True when the line starting at `line_start` begins a statement: the code line before it
    leaves nothing open."""
    end = line_start - 1
    while end > 0:
        begin = text.rfind("\n", 0, end) + 1
        body = text[begin:end]
        code = body.split("#", 1)[0].rstrip()
        if code.strip():
            return not _OPEN_END.search(code) or bool(_STATEMENT_COLON.match(body))
        end = begin - 1
    return True


def without_prose(hunk: Hunk, before: Spans, after: Spans) -> Hunk:
    """The hunk with its lines inside docstrings (of the file before and after) left out."""
    removed = [line for number, line in enumerate(hunk.removed, start=hunk.old_start)
               if not _inside(number, before)]
    added = [line for number, line in enumerate(hunk.added, start=hunk.new_start)
             if not _inside(number, after)]
    return hunk.model_copy(update={"removed": removed, "added": added})


def _inside(number: int, spans: Spans) -> bool:
    """True when line `number` lies in one of the (sorted, disjoint) spans."""
    index = bisect.bisect_right(spans, (number, math.inf)) - 1
    return index >= 0 and spans[index][0] <= number <= spans[index][1]
