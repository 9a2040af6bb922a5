"""Where a crash happened, inside a worktree: the innermost in-app frame's file (as a path
relative to the repository), line and function, checked against the frame's context line so a
template never edits a line that has moved or changed since the crash.

Frame paths come from the event and are untrusted: they are only ever looked up as relative paths
that must resolve inside the worktree.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from integrations.agents.cstedit import NoRewrite
from worker.fix.models import FixTask
from worker.models import Frame


@dataclass(frozen=True)
class CrashSite:
    """The crashing line: repository-relative `path`, 1-based `line`, and its function."""

    path: str
    line: int
    function: str | None
    frame: Frame


def locate(task: FixTask, worktree: Path) -> CrashSite:
    """The crash site of `task` in `worktree`; raises NoRewrite when it cannot be trusted."""
    frames = task.event.frames
    if not frames:
        raise NoRewrite("the event has no stack frames")
    in_app = [frame for frame in frames if frame.in_app] or frames
    frame = in_app[-1]
    path = _inside(worktree, task.crash_file) if task.crash_file else frame_path(frame, worktree)
    if path is None:
        raise NoRewrite("the crashing file is not in the repository")
    if not path.endswith(".py"):
        raise NoRewrite(f"the crash site {path} is not a Python file")
    lineno = task.crash_line or frame.lineno
    if not lineno:
        raise NoRewrite("the event does not say which line crashed")
    line = _confirm_line(worktree / path, lineno, frame.context_line)
    return CrashSite(path=path, line=line, function=task.crash_function or frame.function,
                     frame=frame)


def frame_path(frame: Frame, worktree: Path) -> str | None:
    """The repository-relative path of a frame's file, if the worktree has it: the reported
    filename, then the module's file, then the longest tail of the runtime path that exists."""
    candidates: list[str] = []
    if frame.filename:
        candidates.append(frame.filename)
    if frame.module:
        stem = frame.module.replace(".", "/")
        candidates += [f"{stem}.py", f"src/{stem}.py", f"{stem}/__init__.py"]
    if frame.abs_path:
        parts = PurePosixPath(frame.abs_path.replace("\\", "/")).parts
        candidates += ["/".join(parts[i:]) for i in range(1, len(parts))]
    return next((found for c in candidates if (found := _inside(worktree, c))), None)


def module_name(path: str) -> str | None:
    """The importable module of a repository-relative Python path (`src/` layouts too)."""
    parts = list(PurePosixPath(path).with_suffix("").parts)
    if parts and parts[0] == "src":
        parts = parts[1:]
    if parts and parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts) if parts and all(p.isidentifier() for p in parts) else None


def _inside(worktree: Path, candidate: str) -> str | None:
    """`candidate` as a relative POSIX path if it names a file inside the worktree."""
    relative = PurePosixPath(candidate.replace("\\", "/"))
    if relative.is_absolute() or ".." in relative.parts or not relative.parts:
        return None
    root = worktree.resolve()
    target = (root / relative).resolve()
    if not target.is_relative_to(root) or not target.is_file():
        return None
    return target.relative_to(root).as_posix()


def _confirm_line(file: Path, lineno: int, context: str | None) -> int:
    """`lineno` if the file still has the crashing code there; else the one line that has it."""
    lines = file.read_bytes().decode("utf-8", errors="replace").splitlines()
    if not context or not context.strip():
        if lineno > len(lines):
            raise NoRewrite(f"{file.name} has no line {lineno}")
        return lineno
    wanted = context.strip()
    if 0 < lineno <= len(lines) and lines[lineno - 1].strip() == wanted:
        return lineno
    matches = [n for n, text in enumerate(lines, 1) if text.strip() == wanted]
    if len(matches) != 1:
        raise NoRewrite(f"the crashing line is no longer at line {lineno} of {file.name}")
    return matches[0]
