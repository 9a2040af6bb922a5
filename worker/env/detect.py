"""Choosing a repository's setup: the commands its `.suture.yml` or the service's settings name,
else the ones its tracked dependency files call for (`detect_setup`), with a sentence saying
what was chosen and why.

Pure functions over a list of tracked paths and a way to read a file's text: nothing here runs
anything or touches the disk, so the same inputs always give the same plan.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable

from worker.env.ecosystems import Part, ReadText, go_part, node_part
from worker.env.models import SetupPlan
from worker.env.python import python_part
from worker.playbooks.catalogue import OVERRIDE_FILES, PlaybookError, parse_override

# Tools a plan may prefer when the machine has them; the others (pip, npm, go) are assumed.
OPTIONAL_TOOLS = ("uv", "poetry", "pnpm", "yarn", "corepack")
_PYTHONISH = re.compile(r"(?:^|[\s;&|(/])(?:python3?|pip3?|uv|poetry|pytest)(?:$|[\s;&|)])")


def detect_setup(tracked: Iterable[str], read_text: ReadText,
                 tools: Collection[str] = ()) -> SetupPlan:
    """The setup a repository's root dependency files call for (`tools`: which of
    `OPTIONAL_TOOLS` the machine has). No dependency file: a plan with no commands."""
    root = {path for path in tracked if "/" not in path}
    parts = {name: part for name, part in (("python", python_part(root, read_text, tools)),
                                           ("node", node_part(root, tools)),
                                           ("go", go_part(root))) if part is not None}
    if not parts:
        return SetupPlan(source="nothing to set up: no dependency file found at the root")
    return _plan(parts, [c for part in parts.values() for c in part.commands],
                 "; ".join(part.sentence for part in parts.values()))


def plan_setup(tracked: Iterable[str], read_text: ReadText, configured: list[str] | None = None,
               tools: Collection[str] = ()) -> SetupPlan:
    """The repository's setup: its `.suture.yml` `setup:` list, else `configured` (the
    service's settings), else detected. Configured commands still get what detection knows of
    the repository (a virtualenv, kept folders, the files the cache key reads).

    Raises PlaybookError when the `.suture.yml` is invalid."""
    paths = list(tracked)
    detected = detect_setup(paths, read_text, tools)
    override = next((name for name in OVERRIDE_FILES if name in paths), None)
    repo_setup = None
    if override is not None:
        text = read_text(override)
        repo_setup = parse_override(override, text).setup if text is not None else None
    if repo_setup is not None:
        commands, source = repo_setup, f"configured in {override}"
    elif configured is not None:
        commands, source = configured, "configured for the service"
    else:
        return detected
    commands = [command for command in commands if command.strip()]
    python = detected.python or any(_PYTHONISH.search(command) for command in commands)
    return detected.model_copy(update={
        "commands": commands, "python": python and bool(commands), "generated": {},
        "source": f"{source} ({len(commands)} command{'s' * (len(commands) != 1)})"
                  if commands else f"{source}: no setup"})


def _plan(parts: dict[str, Part], commands: list[str], source: str) -> SetupPlan:
    files = list(dict.fromkeys(f for part in parts.values() for f in part.files))
    return SetupPlan(
        commands=commands, source=source, files=files, python="python" in parts,
        node="node" in parts, go="go" in parts,
        go_mod_mod=any(part.go_mod_mod for part in parts.values()),
        keep=[k for part in parts.values() for k in part.keep],
        generated={k: v for part in parts.values() for k, v in part.generated.items()})


__all__ = ["OPTIONAL_TOOLS", "PlaybookError", "detect_setup", "plan_setup"]
