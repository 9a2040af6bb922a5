"""The two code hosts the end-to-end proposal tests run against, behind one small interface:
a started stand-in holding the sample shop's history, the settings that point suture at it,
and the host's view of its changes, checks and branches in one shape."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from integrations.git import run_git
from integrations.standins.github import GitHubStandIn
from integrations.standins.gitlab import GitLabStandIn
from tests.github_world import APP_ID, INSTALLATION, make_key
from tests.support import compact, make_app
from worker import stages
from worker.demo.sample import SampleRepo, build_sample_repo, capture_crash
from worker.models import RunState

REPO = "acme/shop"
GITHUB_TOKEN = "ghp_" + "e" * 36
GITLAB_TOKEN = "glpat-" + "e" * 20
# The sample shop's authors, by the email their commits carry, and their logins on the host.
LOGINS = {"ada@shop.example": "ada", "grace@shop.example": "grace",
          "katherine@shop.example": "katherine", "alan@shop.example": "alan"}


@dataclass
class Host:
    """One stand-in code host with the shop on it; on GitHub, as a GitHub App when `app_key`
    (the App's private key file) is given, else with a personal token."""

    kind: str
    standin: Any
    app_key: Path | None = None

    def settings(self) -> dict[str, Any]:
        """What points suture's code host at this stand-in."""
        if self.kind == "github" and self.app_key is not None:
            return {"code_host": "github",
                    "github": {"base_url": self.standin.url, "token": GITHUB_TOKEN,
                               "app_id": APP_ID, "app_private_key_file": str(self.app_key)}}
        if self.kind == "github":
            return {"code_host": "github",
                    "github": {"base_url": self.standin.url, "token": GITHUB_TOKEN}}
        return {"code_host": "gitlab",
                "gitlab": {"base_url": self.standin.url, "token": GITLAB_TOKEN}}

    def changes(self) -> list[dict[str, Any]]:
        """Every change as {number, draft, title, body, labels, reviewers, branch, head}."""
        if self.kind == "github":
            return [{"number": p["number"], "draft": p["draft"], "title": p["title"],
                     "body": p["body"], "labels": [label["name"] for label in p["labels"]],
                     "reviewers": [user["login"] for user in p["requested_reviewers"]],
                     "branch": p["head"]["ref"], "head": p["head"]["sha"]}
                    for p in self.standin.pulls(*REPO.split("/"))]
        return [{"number": m["iid"], "draft": m["draft"], "title": m["title"],
                 "body": m["description"], "labels": list(m["labels"]),
                 "reviewers": [user["username"] for user in m["reviewers"]],
                 "branch": m["source_branch"], "head": m["sha"]}
                for m in self.standin.merge_requests(REPO)]

    def checks(self) -> list[dict[str, Any]]:
        """The evidence attached to commits: check runs and statuses, as the host answered."""
        if self.kind == "github":
            owner, name = REPO.split("/")
            return [*self.standin.check_runs(owner, name), *self.standin.statuses(owner, name)]
        return self.standin.statuses(REPO)

    def comment_bodies(self) -> list[str]:
        """Every comment on the host's changes, as people read them (no system notes)."""
        if self.kind == "github":
            return [c["body"] for p in self.standin.pulls(*REPO.split("/"))
                    for c in p["issue_comments"]]
        return [n["body"] for m in self.standin.merge_requests(REPO) for n in m["notes"]
                if not n.get("system")]

    def merge(self, number: int, by: str) -> str:
        """Merge change `number` as `by` would; the merge commit."""
        if self.kind == "github":
            return str(self.standin.merge_pull(*REPO.split("/"), number, by=by))
        return str(self.standin.merge(REPO, number, by=by))

    def branches(self) -> dict[str, str]:
        """Branch → sha in the host's bare repository."""
        return self.standin.git.branches(REPO)

    def stop(self) -> None:
        """Stop the stand-in."""
        self.standin.stop()


def start_host(kind: str, root: Path, shop: Path, *, app: bool = False) -> Host:
    """A started stand-in of `kind` with the shop's `main` and its authors as reviewers; on
    GitHub with `app`, a GitHub App installed on the shop (its key written under `root`)."""
    if kind == "github":
        github = GitHubStandIn(token=GITHUB_TOKEN, repos=[REPO], git_root=root)
        github.start()
        github.seed_repo(*REPO.split("/"), shop)
        for login in LOGINS.values():
            github.add_collaborator(*REPO.split("/"), login)
        if not app:
            return Host(kind, github)
        key = make_key()
        github.add_app(APP_ID, key.public, INSTALLATION, [REPO])
        key_file = root.parent / "app.pem"
        key_file.write_text(key.private)
        return Host(kind, github, app_key=key_file)
    gitlab = GitLabStandIn(token=GITLAB_TOKEN, projects=[REPO], root=root)
    gitlab.start()
    gitlab.seed_repo(REPO, shop)
    for login in LOGINS.values():
        gitlab.add_user(login)
    return Host(kind, gitlab)


def settings_for(db: Path, data: Path, host_settings: dict[str, Any], shop: Path,
                 **extra: Any) -> dict[str, Any]:
    """Settings for the shop on a code host, with the run's database at `db`."""
    return {**host_settings, "database_url": f"sqlite:///{db}", "data_dir": str(data),
            "tickets_dir": str(data / "tickets"), "sentry": {"client_secret": "unused"},
            "services": [{"name": "shop", "sentry_project": "shop", "repository": str(shop),
                          "slug": REPO, "test_command": "python -m pytest -q"}], **extra}


def verified_shop(root: Path, files: dict[str, str] | None = None) -> tuple[Path, SampleRepo, int]:
    """The sample shop (with `files` added in one more commit, the release) and a database
    holding one run of its crash taken through triage, correlation, fix and verification."""
    shop = build_sample_repo(root / "shop")
    if files:
        for name, text in files.items():
            (shop.path / name).parent.mkdir(parents=True, exist_ok=True)
            (shop.path / name).write_text(text)
        run_git(shop.path, "add", "-A")
        run_git(shop.path, "commit", "-q", "-m", "Add project files",
                env={"GIT_AUTHOR_NAME": "Ada Lovelace", "GIT_AUTHOR_EMAIL": "ada@shop.example",
                     "GIT_COMMITTER_NAME": "Ada Lovelace",
                     "GIT_COMMITTER_EMAIL": "ada@shop.example"})
        shop.commits.append(run_git(shop.path, "rev-parse", "HEAD").strip())
    app = make_app(root, settings=settings_for(root / "suture.db", root / "data", {}, shop.path))
    event = {**capture_crash(shop, path="/cart/average", query="cart=empty"), "project": "shop",
             "issue_id": "4201"}
    delivery = app.store.add_delivery("file", "file", compact(event), event)[0]
    [run_id] = stages.ingest_delivery(app.deps, delivery).run_ids
    for stage in (stages.triage, stages.correlate, stages.fix, stages.verify):
        stage(app.deps, run_id)
    run = app.store.get_run(run_id)
    assert run is not None and run.state == RunState.VERIFIED, run
    app.close()
    return root / "suture.db", shop, run_id
