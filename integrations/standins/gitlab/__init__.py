"""A stand-in for GitLab's REST API v4 and git smart HTTP, for python-gitlab and `git push` to
run against unchanged.

`GitLabStandIn` (in `server`) serves the routes; `merge_requests` holds the merge request
routes, `state` keeps users, projects, merge requests, notes and statuses in memory, `shapes`
renders them in GitLab's JSON shapes and `wire` the shared conventions (errors, pagination,
rate limits).
"""

from __future__ import annotations

from integrations.standins.gitlab.server import GitLabStandIn

__all__ = ["GitLabStandIn"]
