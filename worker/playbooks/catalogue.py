"""Loading playbooks, choosing one for an event, and applying a repository's own overrides.

Playbooks come from a folder of YAML files (`<name>.yaml`, the name repeated inside). The most
specific matching playbook wins and `default` is always tried last. A target repository may
adjust the chosen playbook in its `.suture.yml` (diff policy, labels, the order of agents, the
test command) and guide the agent with its `AGENTS.md`; both are read only when they are plain
files inside the repository, since a link could point anywhere on the host.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from worker.models import ErrorEvent
from worker.playbooks.model import DiffPolicyRules, Playbook

OVERRIDE_FILES = (".suture.yml", ".suture.yaml")
INSTRUCTIONS_FILE = "AGENTS.md"
INSTRUCTIONS_LIMIT = 8_000
_OVERRIDE_BYTES = 64_000


class PlaybookError(ValueError):
    """Playbooks (or a repository's override) that cannot be used; `problems` says why."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def describe_errors(prefix: str, error: ValidationError) -> list[str]:
    """One line per schema error: `prefix: key.path: message`."""
    return [f"{prefix}: {'.'.join(str(part) for part in item['loc']) or '(top level)'}: "
            f"{item['msg']}" for item in error.errors()]


def parse_playbook(file: Path) -> tuple[Playbook | None, list[str]]:
    """A playbook file parsed and validated, or the problems that stop it."""
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeError) as exc:
        return None, [f"{file.name}: cannot read: {exc}"]
    except yaml.YAMLError as exc:
        return None, [f"{file.name}: invalid YAML: {' '.join(str(exc).split())}"]
    if not isinstance(data, dict):
        return None, [f"{file.name}: must be a mapping of keys, not {type(data).__name__}"]
    try:
        playbook = Playbook.model_validate(data)
    except ValidationError as exc:
        return None, describe_errors(file.name, exc)
    if playbook.name != file.stem:
        return None, [f"{file.name}: name: {playbook.name!r} differs from the file name"]
    playbook._source = file
    return playbook, []


def playbook_files(directory: Path) -> list[Path]:
    """The playbook files of a folder, in name order."""
    return sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")])


def load_playbooks(directory: Path) -> list[Playbook]:
    """Every playbook in `directory`; PlaybookError listing all problems if any is invalid."""
    if not directory.is_dir():
        raise PlaybookError([f"{directory}: not a folder"])
    playbooks, problems = [], []
    for file in playbook_files(directory):
        playbook, found = parse_playbook(file)
        problems += found
        if playbook is not None:
            playbooks.append(playbook)
    names = [playbook.name for playbook in playbooks]
    problems += [f"{name}: defined more than once" for name in sorted(set(names))
                 if names.count(name) > 1]
    if problems:
        raise PlaybookError(problems)
    return playbooks


def ranked(playbooks: Iterable[Playbook]) -> list[Playbook]:
    """Playbooks in the order they are tried: most specific first, `default` last."""
    return sorted(playbooks, key=lambda p: (p.is_default, -p.match.specificity, p.name))


def choose_playbook(playbooks: Iterable[Playbook], event: ErrorEvent) -> Playbook:
    """The first matching playbook by specificity; PlaybookError if none (no default)."""
    for playbook in ranked(playbooks):
        if playbook.match.matches(event):
            return playbook
    kind = event.primary.type if event.primary else "an event without exception"
    raise PlaybookError([f"no playbook matches {kind} and there is no default playbook"])


class RepoOverride(BaseModel):
    """The part of a repository's `.suture.yml` that adjusts a playbook.

    Other top-level keys belong to other features and are ignored here.
    """

    model_config = ConfigDict(extra="ignore")

    diff_policy: dict[str, Any] | None = None
    labels: list[str] | None = None
    agents: list[Literal["templates", "toolloop", "cli"]] | None = None
    test_command: str | None = None
    setup: list[str] | None = None  # commands that install the dependencies (worker.env)


def _plain_file(repo_dir: Path, name: str) -> Path | None:
    """`repo_dir/name` if it is a regular file that is really inside the repository."""
    path = repo_dir / name
    if path.is_symlink() or not path.is_file():
        return None
    return path if path.resolve().is_relative_to(repo_dir.resolve()) else None


def read_override(repo_dir: Path) -> RepoOverride | None:
    """The repository's `.suture.yml`, or None when it has none."""
    for name in OVERRIDE_FILES:
        if (repo_dir / name).is_symlink():
            raise PlaybookError([f"{name}: is a symbolic link; refusing to follow it"])
        path = _plain_file(repo_dir, name)
        if path is None:
            continue
        with path.open("rb") as handle:
            return parse_override(name, handle.read(_OVERRIDE_BYTES))
    return None


def parse_override(name: str, content: bytes | str) -> RepoOverride:
    """A `.suture.yml` (called `name` in messages) from its content; PlaybookError if invalid.

    Only the first 64 kB are read, wherever the content comes from (a worktree, a git blob).
    """
    raw = content.encode("utf-8") if isinstance(content, str) else content
    try:
        data = yaml.safe_load(raw[:_OVERRIDE_BYTES].decode("utf-8"))
    except (yaml.YAMLError, UnicodeError) as exc:
        raise PlaybookError([f"{name}: invalid YAML: {' '.join(str(exc).split())}"]) from exc
    if data is None:
        return RepoOverride()
    if not isinstance(data, dict):
        raise PlaybookError([f"{name}: must be a mapping of keys"])
    try:
        return RepoOverride.model_validate(data)
    except ValidationError as exc:
        raise PlaybookError(describe_errors(name, exc)) from exc


def apply_repo_override(playbook: Playbook, repo_dir: Path) -> Playbook:
    """`playbook` as the repository's `.suture.yml` adjusts it (unchanged without one)."""
    override = read_override(repo_dir)
    if override is None:
        return playbook
    data = playbook.model_dump()
    if override.diff_policy is not None:
        merged = {**data["diff_policy"], **override.diff_policy}
        try:
            data["diff_policy"] = DiffPolicyRules.model_validate(merged).model_dump()
        except ValidationError as exc:
            raise PlaybookError(describe_errors(".suture.yml: diff_policy", exc)) from exc
    if override.labels is not None:
        data["labels"] = override.labels
    if override.agents is not None:
        data["agents"] = [agent for kind in dict.fromkeys(override.agents)
                          for agent in data["agents"] if agent["kind"] == kind]
        if not data["agents"]:
            raise PlaybookError([f".suture.yml: agents: none of {override.agents} is an agent "
                                 f"of playbook {playbook.name!r}"])
    if override.test_command is not None:
        data["checks"]["test_command"] = override.test_command
    adjusted = Playbook.model_validate(data)
    adjusted._source = playbook.source
    return adjusted


def repo_instructions(repo_dir: Path, limit: int = INSTRUCTIONS_LIMIT) -> str:
    """The repository's `AGENTS.md` (truncated), or "" when it has none."""
    path = _plain_file(repo_dir, INSTRUCTIONS_FILE)
    if path is None:
        return ""
    with path.open("rb") as handle:
        text = handle.read(limit * 4).decode("utf-8", errors="replace")
    if len(text) <= limit:
        return text
    return text[:limit] + f"\n[... {INSTRUCTIONS_FILE} truncated at {limit} characters]"
