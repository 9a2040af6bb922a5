"""GitLab adapters: `GitLabMergeRequests` (the `CodeHost` port on merge requests) and the
python-gitlab client they share, which never waits on a rate limit inside a worker."""

from __future__ import annotations

from integrations.gitlab.client import WorkerGitlab, translate_gitlab_error
from integrations.gitlab.codehost import GitLabMergeRequests

__all__ = ["GitLabMergeRequests", "WorkerGitlab", "translate_gitlab_error"]
