"""Finding the function around a frame's line in the release's source (pure).

Python follows indentation outwards to the enclosing `def` (decorators included, the innermost
nested function winning). Other languages use a brace or indentation heuristic from the nearest
line that looks like a function header; when nothing convincing is found the frame's own line,
with a few lines around it, stands in for the function.
"""

from __future__ import annotations

import re

AROUND = 3
# Words that open a block with parentheses but are not functions (`if (x) {`, `catch (e) {`).
_NOT_A_NAME = (r"(?!(?:if|for|foreach|while|switch|catch|do|else|return|new|throw|await|yield|"
               r"with|try|case|typeof|using|lock|synchronized)\b)")
_HEADER = re.compile(rf"""
    ^\s*(?:(?:public|private|protected|static|final|async|export|default|override|abstract|
             synchronized|suspend|open|internal|const|let|var|get|set)\s+)*
    (?:
        func\s | function\b | fun\s | def\s
      # a typed method (Java, C#, Kotlin) or a Go closure after `defer`/`go`
      | {_NOT_A_NAME}[\w<>\[\],.?]+(?:\s+[\w<>\[\],.?]+)*\s+{_NOT_A_NAME}\w+\s*\([^;]*\)\s*
        (?:throws\s[\w.,\s]+)?\{{
      # a method without a type: JS/TS classes and objects, constructors
      | {_NOT_A_NAME}[A-Za-z_$][\w$]*\s*\([^;]*\)\s*(?::\s*[^{{;=]+)?\{{\s*$
      # a function or an arrow function assigned to a name or a property
      | [\w$]+\s*[:=]\s*(?:async\s*)?(?:function\b|(?:\([^)]*\)|[\w$]+)\s*(?::\s*[^=]+)?=>)
    )""", re.VERBOSE)


def function_range(source: str, line: int, path: str) -> tuple[int, int]:
    """Inclusive (first, last) lines of the function containing `line` (1-based)."""
    # Numbered as git and runtimes number them: \f or U+2028 inside a line splits nothing.
    lines = source.removesuffix("\n").split("\n")
    if not 1 <= line <= len(lines):
        return (max(1, line - AROUND), max(1, line + AROUND))
    found = _python_range(lines, line) if path.endswith(".py") else _brace_range(lines, line)
    return found or (max(1, line - AROUND), min(len(lines), line + AROUND))


def _python_range(lines: list[str], line: int) -> tuple[int, int] | None:
    """Walk outwards by indentation to the enclosing `def`, then to the end of its suite.

    Much cheaper than parsing the module (these files can be thousands of lines, and a worker
    does this for every frame); a dedented string literal can mislead it, and then the caller
    falls back to the lines around the frame.
    """
    target = line - 1
    current = _indent(lines[target]) if lines[target].strip() else 10**6
    for index in range(target, -1, -1):
        text = lines[index]
        stripped = text.lstrip()
        # A line that starts by closing a bracket (`) -> int:` of a signature split over lines)
        # continues a statement: its indentation says nothing about the enclosing blocks.
        if not stripped or stripped.startswith(("#", ")", "]", "}")):
            continue
        width = _indent(text)
        is_def = stripped.startswith(("def ", "async def "))
        if is_def and (width < current or index == target):
            first = _decorators_start(lines, index, width)
            return (first + 1, _suite_end(lines, target, width) + 1)
        if width < current:
            if stripped.startswith("class "):
                return None  # class-level code, not inside a function
            current = width
    return None


def _indent(text: str) -> int:
    return len(text) - len(text.lstrip())


def _decorators_start(lines: list[str], index: int, width: int) -> int:
    while index > 0 and lines[index - 1].lstrip().startswith("@") and \
            _indent(lines[index - 1]) == width:
        index -= 1
    return index


def _suite_end(lines: list[str], target: int, width: int) -> int:
    end = target
    for index in range(target + 1, len(lines)):
        text = lines[index]
        stripped = text.strip()
        if stripped and not stripped.startswith("#") and _indent(text) <= width:
            break
        if stripped:
            end = index
    return end


def _brace_range(lines: list[str], line: int) -> tuple[int, int] | None:
    for start in range(line - 1, max(-1, line - 400), -1):
        if _HEADER.match(lines[start]):
            end = _block_end(lines, start)
            if end >= line - 1:
                return (start + 1, end + 1)
            # A function that ended above the line (a sibling, a closure): look further out.
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
