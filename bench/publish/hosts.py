"""The code hosts a case is published to: the GitHub stand-in (suture as a GitHub App) or the
GitLab stand-in (a project access token), each holding the project's whole history in a bare
repository, with the same view of what came out."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from integrations.standins.github import GitHubStandIn
from integrations.standins.gitlab import GitLabStandIn
from worker.demo.world import app_key

GITHUB_TOKEN = "bench-github-token"
GITLAB_TOKEN = "glpat-" + "b" * 20
APP_ID, INSTALLATION = 3003, 4004


@dataclass
class Change:
    """A pull or merge request as the host holds it."""

    number: int
    draft: bool
    branch: str
    head: str
    reviewers: list[str]
    body: str


class Host(Protocol):
    """One started stand-in with the project on it."""

    kind: str

    def settings(self) -> dict[str, Any]:
        """What points suture's code host at this stand-in."""

    def changes(self) -> list[Change]:
        """Every pull or merge request."""

    def branch_head(self, branch: str) -> str:
        """The sha `branch` has in the host's bare repository ("" when absent)."""

    def checks(self) -> list[tuple[str, str]]:
        """(head sha, conclusion or state) of the evidence attached to commits."""

    def tickets(self) -> list[str]:
        """The text of every ticket filed."""

    def stop(self) -> None:
        """Stop the stand-in."""


class GitHubHost:
    """The GitHub stand-in, suture acting as a GitHub App installed on the project."""

    kind = "github"

    def __init__(self, folder: Path, repo: Path, slug: str, reviewer: str) -> None:
        self.slug = slug
        self.owner, self.name = slug.split("/")
        self.standin = GitHubStandIn(token=GITHUB_TOKEN, git_root=folder / "remote")
        self.standin.add_repo(self.owner, self.name)
        self.standin.start()
        self.standin.seed_repo(self.owner, self.name, repo)
        self.standin.add_collaborator(self.owner, self.name, reviewer)
        self.key_file = folder / "app.pem"
        self.key_file.write_text(app_key(self.standin, slug, APP_ID, INSTALLATION))

    def settings(self) -> dict[str, Any]:
        return {"code_host": "github", "forge": "github",
                "github": {"base_url": self.standin.url, "token": GITHUB_TOKEN,
                           "app_id": APP_ID, "app_private_key_file": str(self.key_file)}}

    def changes(self) -> list[Change]:
        return [Change(p["number"], p["draft"], p["head"]["ref"], p["head"]["sha"],
                       [user["login"] for user in p["requested_reviewers"]], p["body"])
                for p in self.standin.pulls(self.owner, self.name)]

    def branch_head(self, branch: str) -> str:
        return str(self.standin.git.branches(self.slug).get(branch, ""))

    def checks(self) -> list[tuple[str, str]]:
        return [(check["head_sha"], check["conclusion"])
                for check in self.standin.check_runs(self.owner, self.name)]

    def tickets(self) -> list[str]:
        # GitHub counts a pull request as an issue too; a ticket is an issue that is not one.
        return [f"{issue['title']}\n{issue['body']}"
                for issue in self.standin.issues(self.owner, self.name)
                if "pull_request" not in issue]

    def stop(self) -> None:
        self.standin.stop()


class GitLabHost:
    """The GitLab stand-in, suture with a token of a project member."""

    kind = "gitlab"

    def __init__(self, folder: Path, repo: Path, slug: str, reviewer: str) -> None:
        self.slug = slug
        self.tickets_dir = folder / "tickets"  # suture files tickets as files beside GitLab
        self.standin = GitLabStandIn(token=GITLAB_TOKEN, projects=[slug], root=folder / "remote")
        self.standin.start()
        self.standin.seed_repo(slug, repo)
        self.standin.add_user(reviewer)

    def settings(self) -> dict[str, Any]:
        return {"code_host": "gitlab", "tickets_dir": self.tickets_dir,
                "gitlab": {"base_url": self.standin.url, "token": GITLAB_TOKEN}}

    def changes(self) -> list[Change]:
        return [Change(m["iid"], m["draft"], m["source_branch"], m["sha"],
                       [user["username"] for user in m["reviewers"]], m["description"])
                for m in self.standin.merge_requests(self.slug)]

    def branch_head(self, branch: str) -> str:
        return str(self.standin.git.branches(self.slug).get(branch, ""))

    def checks(self) -> list[tuple[str, str]]:
        return [(status["sha"], status["status"]) for status in self.standin.statuses(self.slug)]

    def tickets(self) -> list[str]:
        return [path.read_text() for path in sorted(self.tickets_dir.rglob("*.md"))]

    def stop(self) -> None:
        self.standin.stop()


def start_host(kind: str, folder: Path, repo: Path, slug: str, reviewer: str) -> Host:
    """A started stand-in of `kind` holding `repo`'s history as `slug`."""
    hosts: dict[str, type[GitHubHost] | type[GitLabHost]] = {"github": GitHubHost,
                                                              "gitlab": GitLabHost}
    return hosts[kind](folder, repo, slug, reviewer)
