"""`GitHubPreview`: the `Preview` port on GitHub deployments, for repositories whose host
integration (Vercel, Netlify's GitHub app, a workflow) deploys every pushed branch and reports it
as a deployment of the commit (API-CONTRACTS §4.4).

The branch is already pushed; this waits, through PyGithub, for a deployment of the target's sha
(in an environment matching `PreviewSettings.environment`, a case-insensitive glob where
`{branch}` stands for the branch) whose latest status is `success`, and takes its
`environment_url`, else its `target_url` (Vercel sets the former only on success). A status's
order in GitHub's list is not relied on: the latest is the newest by creation time, then id.

- Any matching deployment whose latest status is `success` makes the preview ready (they all
  deploy the same commit), the newest first.
- When none is pending (`pending`, `queued`, `in_progress`, or no status yet) and one has
  `failure` or `error` as its latest status, the preview failed: `PreviewError` with that
  status's description, scrubbed.
- Otherwise it looks again every `poll_seconds` (never sleeping past the deadline) until
  `wait_seconds` pass: then `PreviewError` with what it saw last, or the `TransientError` of the
  last look when GitHub could not be read at all then. A refusal that retrying cannot fix (bad
  token, no such repository) is raised at once.

Nothing is stopped when the block ends: the environment belongs to the host's integration.
"""

from __future__ import annotations

import fnmatch
import itertools
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import requests
from github import Github, GithubException
from github.Deployment import Deployment as GitHubDeployment
from github.DeploymentStatus import DeploymentStatus
from github.Repository import Repository

from integrations.github import translate_github_error
from worker.ports import PreviewError, TransientError
from worker.preview.models import Deployment, PreviewFailure, PreviewTarget
from worker.preview.settings import PreviewSettings
from worker.scrub import scrub_text

log = logging.getLogger("suture.preview")

PENDING = frozenset({"pending", "queued", "in_progress"})
FAILED = frozenset({"failure", "error"})
MAX_DEPLOYMENTS = 10  # newest deployments of the commit looked at per poll

Pair = tuple[GitHubDeployment, DeploymentStatus | None]


@dataclass
class Look:
    """What one poll found: a ready deployment, a failed one, or what is still awaited."""

    url: str = ""
    environment: str = ""
    description: str = ""
    failed: bool = False
    seen: str = "no deployment of the commit yet"


class GitHubPreview:
    """Waits for GitHub deployments through `github` (see the module docstring); `clock` and
    `sleep` are the time it waits by."""

    name = "github"

    def __init__(self, github: Github, settings: PreviewSettings, *,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self._github = github
        self._settings = settings
        self._clock = clock
        self._sleep = sleep

    @contextmanager
    def deploy(self, target: PreviewTarget) -> Iterator[Deployment]:
        """Wait for the successful deployment of `target.sha` and yield it."""
        yield self._wait(target)

    def _wait(self, target: PreviewTarget) -> Deployment:
        if not target.repo or not target.sha:
            raise self._error("a GitHub preview needs the repository (owner/name) and the sha")
        settings = self._settings
        pattern = settings.environment.replace("{branch}", target.branch or "") \
            if settings.environment else None
        started = self._clock()
        deadline = started + settings.wait_seconds
        seen, unreadable = Look().seen, None
        repo: Repository | None = None
        while True:
            try:
                repo = repo or self._repo(target.repo)
                look, unreadable = self._look(repo, target.sha, pattern), None
            except TransientError as error:
                look, unreadable = None, error
            waited = self._clock() - started
            if look and look.url:
                log.info("GitHub deployment of %s ready at %s", target.sha[:12], look.url)
                return Deployment(url=look.url, provider=self.name, ready_seconds=round(waited, 3),
                                  log=look.description, environment=look.environment)
            if look and look.failed:
                raise self._error(f"the GitHub deployment of {target.sha[:12]} in "
                                  f"{look.environment or 'its environment'} failed: "
                                  f"{look.description or 'no description'}", waited)
            seen = look.seen if look else seen
            remaining = deadline - self._clock()
            if remaining <= 0:
                if unreadable:
                    raise unreadable
                raise self._error(f"no successful GitHub deployment of {target.sha[:12]}"
                                  f"{f' in an environment matching {pattern!r}' if pattern else ''}"
                                  f" within {settings.wait_seconds:g}s (last seen: {seen})",
                                  waited)
            self._sleep(min(settings.poll_seconds, remaining))

    def _repo(self, slug: str) -> Repository:
        try:
            return self._github.get_repo(slug)
        except (GithubException, requests.RequestException) as exc:
            raise translate_github_error(exc, f"reading the repository {slug}") from exc

    def _look(self, repo: Repository, sha: str, pattern: str | None) -> Look:
        filters: dict[str, Any] = {"sha": sha}
        if pattern and not any(char in pattern for char in "*?["):
            filters["environment"] = pattern  # exact: let GitHub filter
        try:
            listed = itertools.islice(repo.get_deployments(**filters), MAX_DEPLOYMENTS)
            pairs = [(d, _latest(d)) for d in listed if _matches(d.environment, pattern)]
        except (GithubException, requests.RequestException) as exc:
            raise translate_github_error(
                exc, f"reading the deployments of {sha[:12]} in {repo.full_name}") from exc
        return judge(pairs)

    def _error(self, reason: str, seconds: float = 0.0) -> PreviewError:
        return PreviewError(PreviewFailure(provider=self.name, reason=reason,
                                           seconds=round(seconds, 3)))


def judge(pairs: list[Pair]) -> Look:
    """The verdict on one poll's deployments and their latest statuses (module docstring)."""
    ordered = sorted(pairs, key=lambda pair: (pair[0].created_at, pair[0].id), reverse=True)
    succeeded = [(d, s) for d, s in ordered if s is not None and s.state == "success"]
    for deployment, status in succeeded:
        assert status is not None
        url = status.environment_url or status.target_url
        if url:
            return Look(url=url, environment=status.environment or deployment.environment,
                        description=scrub_text(status.description or ""))
    pending = any(s is None or s.state in PENDING for _, s in ordered)
    failed = [(d, s) for d, s in ordered if s is not None and s.state in FAILED]
    if failed and not pending:
        deployment, status = failed[0]
        assert status is not None
        return Look(environment=status.environment or deployment.environment, failed=True,
                    description=scrub_text(status.description or ""))
    if succeeded and not pending:
        return Look(environment=succeeded[0][0].environment, failed=True,
                    description="it succeeded but gave neither environment_url nor target_url")
    seen = ", ".join(f"{d.environment}: {s.state if s else 'no status yet'}"
                     for d, s in ordered[:3])
    return Look(seen=seen) if seen else Look()


def _latest(deployment: GitHubDeployment) -> DeploymentStatus | None:
    statuses = list(deployment.get_statuses())
    return max(statuses, key=lambda s: (s.created_at, s.id)) if statuses else None


def _matches(environment: str | None, pattern: str | None) -> bool:
    if not pattern:
        return True
    return fnmatch.fnmatchcase((environment or "").casefold(), pattern.casefold())
