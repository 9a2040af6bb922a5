"""A stand-in for GitHub's REST API, for PyGithub to run against unchanged.

`GitHubStandIn` (in `server`) serves the routes, those for issues through `issues`; `state` keeps
repositories, issues, commits and accounts in memory, `shapes` renders them in GitHub's JSON
shapes, `search` implements the issue-search `q` language and `wire` the shared conventions
(errors, pagination, rate limits).
"""

from __future__ import annotations

from integrations.standins.github.server import GitHubStandIn

__all__ = ["GitHubStandIn"]
