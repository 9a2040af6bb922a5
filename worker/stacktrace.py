"""Formatting a normalised event's stack trace as readable text for tickets, PRs and prompts.

The trace is printed in the format of the event's own runtime (`worker.stackformats`), chosen by
the event's platform, then a `source:`/`language:` tag, then the frames' file extensions; a
runtime suture does not know gets a neutral listing.
"""

from __future__ import annotations

from collections import Counter
from pathlib import PurePosixPath

from worker.models import ErrorEvent, ExceptionInfo
from worker.normalise.stacktext import language_of
from worker.stackformats import FORMATTERS

# Runtimes suture prints but does not parse from text, by the names vendors give them.
_MORE_ALIASES = {
    "ruby": "ruby", "rails": "ruby", "rb": "ruby", "php": "php", "laravel": "php",
    "symfony": "php", "csharp": "dotnet", "c#": "dotnet", "dotnet": "dotnet", ".net": "dotnet",
    "fsharp": "dotnet", "vb": "dotnet", "unity": "dotnet", "xamarin": "dotnet",
}
_EXTENSIONS = {
    ".py": "python", ".pyx": "python", ".js": "javascript", ".mjs": "javascript",
    ".cjs": "javascript", ".jsx": "javascript", ".ts": "javascript", ".tsx": "javascript",
    ".mts": "javascript", ".cts": "javascript", ".vue": "javascript", ".svelte": "javascript",
    ".java": "java", ".kt": "java", ".kts": "java", ".scala": "java", ".groovy": "java",
    ".go": "go", ".rb": "ruby", ".erb": "ruby", ".rake": "ruby", ".php": "php", ".cs": "dotnet",
    ".fs": "dotnet", ".vb": "dotnet",
}
_CHAIN = "\n\nwhich led to:\n\n"


def _named(name: str | None) -> str | None:
    if not name:
        return None
    lowered = name.strip().lower()
    return language_of(lowered) or _MORE_ALIASES.get(lowered) \
        or _MORE_ALIASES.get(lowered.split("-")[0].split(".")[0] or lowered)


def stack_language(event: ErrorEvent) -> str:
    """The runtime whose format the event's stack is printed in (`neutral` when unknown)."""
    for name in (event.platform, event.tags.get("source"), event.tags.get("language")):
        if found := _named(name):
            return found
    votes: Counter[str] = Counter()
    for exc in event.exceptions:
        for frame in exc.frames:
            path = (frame.filename or frame.abs_path or "").split("?")[0]
            if found := _EXTENSIONS.get(PurePosixPath(path.replace("\\", "/")).suffix.lower()):
                votes[found] += 1
    return votes.most_common(1)[0][0] if votes else "neutral"


def format_exception(exc: ExceptionInfo, language: str, max_frames: int = 40) -> str:
    """One exception in `language`'s format, its newest `max_frames` frames kept."""
    frames = exc.frames[-max_frames:] if max_frames > 0 else []
    formatter = FORMATTERS.get(language, FORMATTERS["neutral"])
    return formatter(exc, frames, len(exc.frames) - len(frames))


def format_stack(event: ErrorEvent, max_frames: int = 40) -> str:
    """Every exception of the chain in the event's own format ("" when there is none)."""
    language = stack_language(event)
    blocks = [format_exception(exc, language, max_frames) for exc in event.exceptions]
    if language == "java" and blocks:
        # The JVM prints the thrown exception first and each cause below it.
        thrown, *causes = reversed(blocks)
        return "\n".join([thrown, *(f"Caused by: {cause}" for cause in causes)])
    return _CHAIN.join(block for block in blocks if block)
