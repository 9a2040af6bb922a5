"""The playbook schema: which crashes a playbook is for and how suture tries to fix them.

A playbook is data (one YAML file per error class), validated here when it is loaded: unknown
keys, bad regular expressions, impossible limits and template names that are paths are all
errors, so a typo fails `suture playbooks check` instead of silently loosening a rule. `Match`
decides whether a playbook applies to an event; its specificity orders playbooks so the most
precise one wins and a catch-all comes last.
"""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator

from worker.fix.sandbox_env import secret_name
from worker.models import ErrorEvent

_MATCH_TEXT_LIMIT = 4_000  # attacker-controlled text; bounds the work a playbook regex can do
_PLATFORM_LANGUAGE = {
    "python": "python", "javascript": "javascript", "node": "javascript", "java": "java",
    "ruby": "ruby", "go": "go", "php": "php", "csharp": "csharp", "rust": "rust",
    "elixir": "elixir", "cocoa": "swift", "dart": "dart",
}
_EXTENSION_LANGUAGE = {
    ".py": "python", ".js": "javascript", ".mjs": "javascript", ".cjs": "javascript",
    ".jsx": "javascript", ".ts": "typescript", ".tsx": "typescript", ".java": "java",
    ".kt": "kotlin", ".rb": "ruby", ".go": "go", ".php": "php", ".cs": "csharp", ".rs": "rust",
    ".ex": "elixir", ".swift": "swift", ".dart": "dart",
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _compiles(pattern: str) -> str:
    try:
        re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"invalid regular expression {pattern!r}: {exc}") from exc
    return pattern


def languages_of(event: ErrorEvent) -> set[str]:
    """Languages an event's code is written in, from its platform and its frames' files."""
    found = {_PLATFORM_LANGUAGE.get((event.platform or "").lower(), "")}
    for frame in event.frames:
        suffix = PurePosixPath(frame.filename or frame.abs_path or "").suffix.lower()
        found.add(_EXTENSION_LANGUAGE.get(suffix, ""))
    return found - {""}


class Match(_Strict):
    """Which events a playbook is for; every criterion given must hold (none: any event)."""

    error_types: list[str] = Field(default_factory=list)  # exact names or full-match regexes
    message: str | None = None  # regex searched in the exception value
    platforms: list[str] = Field(default_factory=list)
    languages: list[str] = Field(default_factory=list)

    @field_validator("error_types")
    @classmethod
    def _types_compile(cls, value: list[str]) -> list[str]:
        return [_compiles(pattern) for pattern in value]

    @field_validator("message")
    @classmethod
    def _message_compiles(cls, value: str | None) -> str | None:
        return None if value is None else _compiles(value)

    @property
    def specificity(self) -> int:
        """How many criteria are given: more criteria, more precise."""
        return sum(bool(part) for part in (self.error_types, self.message, self.platforms,
                                            self.languages))

    def matches(self, event: ErrorEvent) -> bool:
        """True when every given criterion holds for `event`."""
        primary = event.primary
        kind = primary.type if primary else ""
        text = (primary.value if primary and primary.value else event.message)[:_MATCH_TEXT_LIMIT]
        if self.error_types and not any(_type_matches(pattern, kind)
                                        for pattern in self.error_types):
            return False
        if self.message is not None and not re.search(self.message, text):
            return False
        if self.platforms and (event.platform or "").lower() not in {
                platform.lower() for platform in self.platforms}:
            return False
        return not self.languages or bool(
            {language.lower() for language in self.languages} & languages_of(event))


def _type_matches(pattern: str, kind: str) -> bool:
    # `builtins.KeyError` and `KeyError` are the same type for a playbook that names `KeyError`.
    short = kind.rsplit(".", 1)[-1]
    return pattern in (kind, short) or any(
        re.fullmatch(pattern, name[:_MATCH_TEXT_LIMIT]) for name in (kind, short) if name)


class TemplatesAgentSpec(_Strict):
    """Deterministic fix templates (no model)."""

    kind: Literal["templates"]


class ToolLoopAgentSpec(_Strict):
    """The chat-completions tool loop; unset budgets keep the task's defaults."""

    kind: Literal["toolloop"]
    model: str | None = None
    max_steps: int | None = Field(default=None, ge=1, le=200)
    max_tokens: int | None = Field(default=None, ge=1)
    max_cost_usd: float | None = Field(default=None, gt=0)
    timeout_seconds: float | None = Field(default=None, gt=0)


class CliAgentSpec(_Strict):
    """An agent command-line program run in the sandbox; `{prompt_file}`/`{prompt}` filled in."""

    kind: Literal["cli"]
    command: list[str] = Field(min_length=1)
    name: str = "cli"
    timeout_seconds: float | None = Field(default=None, gt=0)


AgentSpec = Annotated[TemplatesAgentSpec | ToolLoopAgentSpec | CliAgentSpec,
                      Field(discriminator="kind")]
AGENT_KINDS = ("templates", "toolloop", "cli")


class Checks(_Strict):
    """What verification runs on a patch. The suite may be switched off (a suite too slow to run
    twice per patch); the reproduction test may not: without one, nothing shows the fix works."""

    reproduction_test: bool = True
    suite: bool = True
    test_command: str | None = None

    @field_validator("reproduction_test")
    @classmethod
    def _reproduction_required(cls, value: bool) -> bool:
        if not value:
            raise ValueError("a verified fix always needs a reproduction test; it cannot be "
                             "switched off")
        return value


class DiffPolicyRules(_Strict):
    """Limits on a patch, in the field names (and path semantics) of verification's
    `DiffPolicy`, so one converts into the other field by field."""

    allowed_paths: list[str] = Field(default_factory=lambda: ["**"], min_length=1)
    max_files: int = Field(default=5, ge=1)
    max_changed_lines: int = Field(default=200, ge=1)
    allow_ci: bool = False
    allow_deploy: bool = False
    allow_dependencies: bool = False
    allow_test_deletion: bool = False
    allow_test_machinery: bool = False


class SandboxRules(_Strict):
    """What an agent's sandbox may reach: hosts, and the names of env variables passed in (never
    a credential's: `worker.fix.sandbox_env`)."""

    allow_hosts: list[str] = Field(default_factory=list)
    env: list[str] = Field(default_factory=list)

    @field_validator("env")
    @classmethod
    def _env_names(cls, value: list[str]) -> list[str]:
        for name in value:
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
                raise ValueError(f"{name!r} is not an environment variable name")
            if secret_name(name):
                raise ValueError(f"{name!r} is named like a credential, and no credential "
                                 "enters the sandbox: an agent CLI reaches its model through "
                                 "suture's model proxy, which adds the key itself")
        return value


def _default_agents() -> list[TemplatesAgentSpec | ToolLoopAgentSpec | CliAgentSpec]:
    return [TemplatesAgentSpec(kind="templates"), ToolLoopAgentSpec(kind="toolloop")]


class Playbook(_Strict):
    """How suture handles one class of error."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    description: str
    guidance: str = ""  # advice for the agent on this class of bug
    match: Match = Field(default_factory=Match)
    prompt: str = "fix_prompt.md.j2"
    agents: list[AgentSpec] = Field(default_factory=_default_agents, min_length=1)
    checks: Checks = Field(default_factory=Checks)
    diff_policy: DiffPolicyRules = Field(default_factory=DiffPolicyRules)
    labels: list[str] = Field(default_factory=list)
    max_attempts: int = Field(default=2, ge=1, le=10)
    sandbox: SandboxRules = Field(default_factory=SandboxRules)
    _source: Path | None = PrivateAttr(default=None)

    @field_validator("prompt")
    @classmethod
    def _plain_file_name(cls, value: str) -> str:
        if not value or "/" in value or "\\" in value or value.startswith("."):
            raise ValueError("must be a file name in the templates folder, not a path")
        return value

    @property
    def source(self) -> Path | None:
        """The YAML file this playbook was loaded from, if any."""
        return self._source

    @property
    def is_default(self) -> bool:
        """True for the catch-all playbook, which is tried last."""
        return self.name == "default"
