"""The labels a run's ticket carries: its playbook's, as the repository's `.suture.yml` sets them.

The playbook is the one the fix stage used (named in the run's record), else the one the run's
error matches now (the fix loop may be off). The override is read from the repository at the
commit the fix attempts started from, else at the service's default branch, through the
`Repository` port, as the fix stage reads it from its worktree. The forge adds its own labels
(`github.labels`) to these.
"""

from __future__ import annotations

import logging

from worker.playbooks.catalogue import (
    OVERRIDE_FILES,
    PlaybookError,
    RepoOverride,
    choose_playbook,
    load_playbooks,
    parse_override,
)
from worker.playbooks.model import Playbook
from worker.ports import PermanentError, Repository
from worker.stages.deps import Deps, RunContext

log = logging.getLogger("suture.publish")


def ticket_labels(deps: Deps, opened: RunContext) -> list[str]:
    """The labels for the ticket of the run in `opened` (none when no playbook applies)."""
    playbook = run_playbook(deps, opened)
    if playbook is None:
        return []
    override = repo_override(deps, opened)
    if override is not None and override.labels is not None:
        return list(override.labels)
    return list(playbook.labels)


def run_playbook(deps: Deps, opened: RunContext) -> Playbook | None:
    """The playbook the run was (or would be) fixed under; None when none can be chosen."""
    try:
        playbooks = load_playbooks(deps.settings.playbooks_dir)
    except PlaybookError as exc:
        # Filing the ticket matters more than its labels; `suture playbooks check` names this.
        log.warning("run %s: playbooks unusable, ticket filed without their labels: %s",
                    opened.run.id, exc)
        return None
    fix = opened.run.record.fix
    used = next((p for p in playbooks if fix is not None and p.name == fix.playbook), None)
    if used is not None:
        return used
    event = opened.event or (opened.events[0] if opened.events else None)
    if event is None:
        return next((p for p in playbooks if p.is_default), None)
    try:
        return choose_playbook(playbooks, event)
    except PlaybookError:
        return None  # no playbook matches and there is no default: nothing to add


def repo_override(deps: Deps, opened: RunContext) -> RepoOverride | None:
    """The service repository's `.suture.yml`, or None (no service, no file, or unreadable).

    A repository that cannot be opened, or an override that does not parse, is logged and left
    out rather than failing the ticket; a transient failure to read is retried as usual.
    """
    service = opened.service
    if service is None or deps.open_repository is None:
        return None
    try:
        repository = deps.open_repository(service.repository)
        rev = _revision(repository, opened, service.default_branch)
        for name in OVERRIDE_FILES:
            text = repository.read(rev, name)
            if text is not None:
                return parse_override(name, text)
    except (PermanentError, PlaybookError) as exc:
        log.warning("run %s: the repository's .suture.yml is not used for labels: %s",
                    opened.run.id, exc)
    return None


def _revision(repository: Repository, opened: RunContext, default_branch: str) -> str:
    fix = opened.run.record.fix
    if fix is not None and fix.base:
        return fix.base
    try:
        return repository.resolve(default_branch)
    except PermanentError:
        return repository.resolve("HEAD")
