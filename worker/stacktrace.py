"""Formatting a normalised event's stack trace as readable text for tickets and PRs."""

from __future__ import annotations

from worker.models import ErrorEvent, ExceptionInfo, Frame


def format_stack(event: ErrorEvent, max_frames: int = 40) -> str:
    """Every exception of the chain, causes first, frames oldest to newest (crash last)."""
    blocks = [_format_exception(exc, max_frames) for exc in event.exceptions]
    return "\n\nwhich led to:\n\n".join(block for block in blocks if block)


def _format_exception(exc: ExceptionInfo, max_frames: int) -> str:
    frames = exc.frames[-max_frames:]
    lines = ["Traceback (most recent call last):"] if frames else []
    if len(exc.frames) > max_frames:
        lines.append(f"  ... {len(exc.frames) - max_frames} older frames omitted")
    lines.extend(_format_frame(frame) for frame in frames)
    header = exc.type + (f": {exc.value}" if exc.value else "")
    lines.append(header)
    return "\n".join(lines)


def _format_frame(frame: Frame) -> str:
    where = frame.filename or frame.abs_path or frame.module or "?"
    line = f', line {frame.lineno}' if frame.lineno is not None else ""
    marker = "" if frame.in_app else "  [library]"
    text = f'  File "{where}"{line}, in {frame.function or "?"}{marker}'
    if frame.context_line and frame.context_line.strip():
        text += f"\n    {frame.context_line.strip()}"
    return text
