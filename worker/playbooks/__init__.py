"""Playbooks: per-error-class rules for fixing a crash, loaded from YAML and checked at load.

`model` holds the schema, `catalogue` loads playbooks, chooses one for an event and applies a
repository's `.suture.yml` and `AGENTS.md`, `prompt` renders the agent's prompt with untrusted
data fenced into delimited blocks, and `check` lists every problem of a playbooks folder for
`suture playbooks check`.
"""

from __future__ import annotations

from worker.playbooks.catalogue import (
    PlaybookError,
    RepoOverride,
    apply_repo_override,
    choose_playbook,
    load_playbooks,
    ranked,
    repo_instructions,
)
from worker.playbooks.check import check_playbooks
from worker.playbooks.model import (
    AgentSpec,
    Checks,
    CliAgentSpec,
    DiffPolicyRules,
    Match,
    Playbook,
    SandboxRules,
    TemplatesAgentSpec,
    ToolLoopAgentSpec,
)
from worker.playbooks.prompt import (
    BLOCKS,
    EVENT_BLOCK,
    INSTRUCTIONS_BLOCK,
    SHIPPED_PLAYBOOKS,
    SUSPECTS_BLOCK,
    PromptContext,
    neutralise,
    render_prompt,
)

__all__ = [
    "BLOCKS",
    "EVENT_BLOCK",
    "INSTRUCTIONS_BLOCK",
    "SHIPPED_PLAYBOOKS",
    "SUSPECTS_BLOCK",
    "AgentSpec",
    "Checks",
    "CliAgentSpec",
    "DiffPolicyRules",
    "Match",
    "Playbook",
    "PlaybookError",
    "PromptContext",
    "RepoOverride",
    "SandboxRules",
    "TemplatesAgentSpec",
    "ToolLoopAgentSpec",
    "apply_repo_override",
    "check_playbooks",
    "choose_playbook",
    "load_playbooks",
    "neutralise",
    "ranked",
    "render_prompt",
    "repo_instructions",
]
