"""Coding agents: things that propose a patch for a crash inside a sandboxed worktree."""

from __future__ import annotations

from integrations.agents.templates import TemplateAgent

__all__ = ["TemplateAgent"]
