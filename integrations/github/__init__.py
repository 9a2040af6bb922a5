"""suture's GitHub adapters, built on PyGithub.

`GitHubTickets` files tickets as issues (the `TicketForge` port); `translate_github_error` maps
PyGithub and network failures onto the port errors for any GitHub adapter.
"""

from __future__ import annotations

from integrations.github.tickets import GitHubTickets, translate_github_error

__all__ = ["GitHubTickets", "translate_github_error"]
