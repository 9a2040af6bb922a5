"""A ticket carries its playbook's labels, as the repository's `.suture.yml` overrides them.

End to end on the in-memory broker: a Sentry alert (a JavaScript `ReferenceError`) becomes a
ticket in the files forge or on the GitHub stand-in; the playbooks folder is the shipped one plus a
playbook for `ReferenceError` with labels of its own.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from integrations.github import GitHubTickets
from integrations.standins.base import recorded
from integrations.standins.github import GitHubStandIn
from tests.gitrepo import GitRepoBuilder
from tests.support import compact, drain, make_app
from worker.app import App
from worker.models import RunState
from worker.playbooks.prompt import SHIPPED_PLAYBOOKS
from worker.runs import FixOutcome, RunRecord
from worker.settings import GitHubSettings
from worker.stages.deps import open_run
from worker.stages.labels import ticket_labels

TOKEN = "labels-token"
REFERENCE_ERROR = """\
name: reference-error
description: A name used before it is defined.
match:
  error_types: [ReferenceError]
labels: [frontend, reference-error]
"""


@pytest.fixture
def playbooks(tmp_path: Path) -> Path:
    folder = tmp_path / "playbooks"
    shutil.copytree(SHIPPED_PLAYBOOKS, folder)
    (folder / "reference-error.yaml").write_text(REFERENCE_ERROR)
    return folder


@pytest.fixture
def github() -> Iterator[GitHubStandIn]:
    with GitHubStandIn(token=TOKEN, repos=["acme/shop"]) as standin:
        yield standin  # type: ignore[misc]


def shop(repository: str) -> list[dict[str, Any]]:
    return [{"name": "shop", "sentry_project": "front-end", "datadog_service": "shop",
             "repository": repository, "slug": "acme/shop"}]


def ticketed(tmp_path: Path, playbooks: Path, **kwargs: Any) -> App:
    """An app that has filed the ticket of one alert, with the fix loop off."""
    settings = {"playbooks_dir": playbooks, "fix": {"enabled": False},
                **kwargs.pop("settings", {})}
    app = make_app(tmp_path, settings=settings, **kwargs)
    payload = recorded("sentry/webhook-event-alert-triggered.json")
    delivery_id, _ = app.store.add_delivery("sentry", "event_alert", compact(payload), payload)
    app.actors.ingest_delivery.send(delivery_id)
    drain(app)
    [run] = app.store.list_runs()
    assert run.state == RunState.TICKETED, run.reason
    return app


def front_matter_labels(tmp_path: Path) -> list[str]:
    [ticket] = sorted((tmp_path / "tickets").rglob("*.md"))
    line = next(line for line in ticket.read_text().splitlines() if line.startswith("labels:"))
    return json.loads(line.removeprefix("labels:"))


def test_the_matching_playbooks_labels_reach_the_filed_ticket(tmp_path, playbooks):
    app = ticketed(tmp_path, playbooks)
    assert front_matter_labels(tmp_path) == ["frontend", "reference-error"]
    app.close()


def test_without_a_specific_playbook_the_default_ones_labels_apply(tmp_path):
    app = ticketed(tmp_path, SHIPPED_PLAYBOOKS)
    assert front_matter_labels(tmp_path) == ["suture", "ai-generated"]
    app.close()


def test_github_issue_has_the_forge_labels_and_the_repositorys_override(
        tmp_path, playbooks, github):
    repo = GitRepoBuilder(tmp_path / "shop")
    repo.commit({"app.js": "render()\n", ".suture.yml": "labels: [from-repo, triage]\n"})
    forge = GitHubTickets(GitHubSettings(base_url=github.url, token=TOKEN, labels=["suture"]),
                          seconds_between_requests=0, seconds_between_writes=0)
    app = ticketed(tmp_path, playbooks, forge=forge,
                   settings={"services": shop(str(repo.path))})
    [issue] = github.issues("acme", "shop")
    assert [label["name"] for label in issue["labels"]] == ["suture", "from-repo", "triage"]
    app.close()


def test_github_issue_without_override_has_the_playbooks_labels(tmp_path, playbooks, github):
    repo = GitRepoBuilder(tmp_path / "shop")
    repo.commit({"app.js": "render()\n"})
    forge = GitHubTickets(GitHubSettings(base_url=github.url, token=TOKEN, labels=["suture"]),
                          seconds_between_requests=0, seconds_between_writes=0)
    app = ticketed(tmp_path, playbooks, forge=forge,
                   settings={"services": shop(str(repo.path))})
    [issue] = github.issues("acme", "shop")
    assert [label["name"] for label in issue["labels"]] == [
        "suture", "frontend", "reference-error"]
    app.close()


def test_the_playbook_the_fix_stage_used_wins_and_a_broken_override_is_logged(
        tmp_path, playbooks, caplog):
    repo = GitRepoBuilder(tmp_path / "shop")
    repo.commit({"app.js": "render()\n", ".suture.yml": "labels: [unclosed\n"})
    app = ticketed(tmp_path, playbooks, settings={"services": shop(str(repo.path))})
    [run] = app.store.list_runs()
    opened = open_run(app.deps, run.id, tuple(RunState))
    assert opened is not None
    fixed = opened.run.model_copy(update={
        "record": RunRecord(fix=FixOutcome(playbook="zero-division", base=repo.shas[-1]))})
    with caplog.at_level(logging.WARNING, logger="suture.publish"):
        labels = ticket_labels(app.deps, dataclasses.replace(opened, run=fixed))
    assert labels == ["suture", "ai-generated", "zero-division"]
    assert ".suture.yml: invalid YAML" in caplog.text
    app.close()
