"""Finding the function around a frame's line in the release's source (pure).

Python is parsed with `ast`, so decorators, nested functions and methods come out exactly. Other
languages use a brace or indentation heuristic from the nearest line that looks like a function
header; when nothing convincing is found the frame's own line, with a few lines around it, stands
in for the function.
"""

from __future__ import annotations

import ast
import re

AROUND = 3
_HEADER = re.compile(
    r"^\s*(?:(?:public|private|protected|static|final|async|export|default|override|abstract|"
    r"synchronized|suspend|open|internal)\s+)*(?:func\s|function\b|fun\s|def\s|"
    r"[\w<>\[\],.?\s]+\s+\w+\s*\([^;]*\)\s*(?:throws [\w., ]+)?\s*\{|"
    r"\w+\s*[:=]\s*(?:async\s*)?(?:function\b|\([^)]*\)\s*=>))")


def function_range(source: str, line: int, path: str) -> tuple[int, int]:
    """Inclusive (first, last) lines of the function containing `line` (1-based)."""
    lines = source.splitlines()
    if not 1 <= line <= len(lines):
        return (max(1, line - AROUND), max(1, line + AROUND))
    if path.endswith(".py"):
        found = _python_range(source, line)
        if found:
            return found
    return _brace_range(lines, line) or (max(1, line - AROUND), min(len(lines), line + AROUND))


def _python_range(source: str, line: int) -> tuple[int, int] | None:
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return None
    best: tuple[int, int] | None = None
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            last = node.end_lineno or node.lineno
            if first <= line <= last and (best is None or first >= best[0]):
                best = (first, last)  # the innermost function wins
    return best


def _brace_range(lines: list[str], line: int) -> tuple[int, int] | None:
    for start in range(line - 1, max(-1, line - 400), -1):
        if _HEADER.match(lines[start]):
            end = _block_end(lines, start)
            if end >= line - 1:
                return (start + 1, end + 1)
            return None
    return None


def _block_end(lines: list[str], start: int) -> int:
    """The last line of the block opened at `start`: balanced braces, else an indented suite."""
    depth, opened = 0, False
    for index in range(start, min(len(lines), start + 2000)):
        text = _strip_strings(lines[index])
        depth += text.count("{") - text.count("}")
        opened = opened or "{" in text
        if opened and depth <= 0:
            return index
    if opened:
        return min(len(lines), start + 2000) - 1
    indent = len(lines[start]) - len(lines[start].lstrip())
    end = start
    for index in range(start + 1, len(lines)):
        text = lines[index]
        if text.strip() and len(text) - len(text.lstrip()) <= indent:
            break
        end = index
    return end


def _strip_strings(text: str) -> str:
    return re.sub(r'"(?:\\.|[^"\\])*"|\'(?:\\.|[^\'\\])*\'|//.*$', "", text)
