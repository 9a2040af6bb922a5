"""The code-hosting side of the GitHub stand-in: real bare repositories served over git's smart
HTTP, and the test-facing API for pull requests, collaborators, GitHub Apps and checks.

`ChangeHosting` is the base of `GitHubStandIn`; the routes live in `issues`, `pulls`, `checks` and
`apps`, and reach the REST plumbing (`_route`, `_in_repo`, `_issue_json`) that `GitHubStandIn`
defines. `render` gives a pull request in GitHub's shape, its head and base read from the bare
repository. Git requests (`/{owner}/{repo}.git/...`) are answered by `GitHttp` for repositories
the stand-in knows. Basic auth accepts the personal token with any user name (GitHub accepts any
for a personal token) or, with the user `x-access-token`, an unexpired installation token minted
for that repository. Bare repositories live in the folder passed in, or in a temporary folder the
stand-in removes when it stops. Every git process starts in `integrations.git.command`.
"""

from __future__ import annotations

import re
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.serialization import load_pem_public_key

from integrations.git.command import call_git, run_git
from integrations.standins.base import Call, Handler, Reply, StandIn
from integrations.standins.githttp import GitHttp
from integrations.standins.github import apps, changeshapes, shapes
from integrations.standins.github.state import (
    CommentRecord,
    CommitRecord,
    ForgeState,
    IssueRecord,
    RepoState,
)

REPO_PATH = r"/repos/(?P<owner>[^/]+)/(?P<repo>[^/]+)"
RepoHandler = Callable[[Call, RepoState], Reply]
_GIT_REPO = re.compile(r"/(?P<owner>[^/]+)/(?P<repo>[^/]+?)\.git/")
_LOG_FORMAT = "%H%x00%an%x00%ae%x00%aI%x00%cn%x00%ce%x00%P%x00%B"


class ChangeHosting(StandIn, ABC):
    """Bare repositories, GitHub Apps and the readers tests use on pull requests and checks."""

    token: str  # the personal token and its login; all four are set by `GitHubStandIn`
    login: str
    state: ForgeState
    _user_id: int

    def __init__(self, port: int = 0, git_root: Path | None = None) -> None:
        super().__init__(port)
        self._scratch: tempfile.TemporaryDirectory[str] | None = None
        if git_root is None:
            self._scratch = tempfile.TemporaryDirectory(prefix="github-standin-")
            git_root = Path(self._scratch.name)
        self.git = GitHttp(git_root, self._authorize_git)
        self.apps = apps.AppRegistry()
        for method in ("GET", "POST"):
            self.route(method, r"/[^/]+/[^/]+\.git/.*", self._serve_git)

    # -- hooks `GitHubStandIn` provides ---------------------------------------------------------

    @abstractmethod
    def _route(self, method: str, pattern: str, handler: Handler,
               resource: str | None = "core") -> None:
        ...

    @abstractmethod
    def _in_repo(self, handler: RepoHandler) -> Handler:
        ...

    @abstractmethod
    def _issue_json(self, repo: RepoState, record: IssueRecord) -> dict[str, Any]:
        ...

    # -- test-facing API ----------------------------------------------------------------------

    def seed_repo(self, owner: str, repo: str, source: Path, branch: str = "main") -> str:
        """Make `owner/repo` exist with `branch` of the local repository `source`; its sha."""
        state = self.state.add_repo(owner, repo)
        bare = self.git.repo_path(state.full_name)
        run_git(source, "push", "--quiet", str(bare.resolve()),
                f"refs/heads/{branch}:refs/heads/{branch}")
        return self.git.branches(state.full_name)[branch]

    def add_collaborator(self, owner: str, repo: str, login: str) -> None:
        """Let `login` be requested as a reviewer in `owner/repo`."""
        self._known(owner, repo).collaborators.add(login.lower())
        self.state.add_account(login)

    def add_app(self, app_id: int, public_key_pem: str, installation_id: int,
                repos: Iterable[str], *, slug: str = "suture-app") -> None:
        """Register a GitHub App (its public key in PEM) installed on `repos` (`owner/name`,
        one account's), which it acts on as `<slug>[bot]`."""
        load_pem_public_key(public_key_pem.encode())  # a bad key fails here, not on a request
        names = [full.lower() for full in repos]
        for full in names:
            self._known(*full.split("/", 1))
        self.apps.add(apps.AppRecord(app_id=app_id, public_key=public_key_pem, slug=slug,
                                     installation_id=installation_id,
                                     account=names[0].split("/")[0] if names else slug,
                                     repos=set(names)))

    def pulls(self, owner: str, repo: str) -> list[dict[str, Any]]:
        """Every pull request of `owner/repo` as `GET /pulls/{n}` returns it (labels and
        requested reviewers included), plus `issue_comments`: its comments as
        `GET /issues/{n}/comments` returns them. Lowest number first."""
        state = self._known(owner, repo)
        with self.state.lock:
            records = [record for record in state.issues.values() if record.pull is not None]
        return [{**render(self, state, record),
                 "issue_comments": render_comments(self, state, record)} for record in records]

    def check_runs(self, owner: str, repo: str) -> list[dict[str, Any]]:
        """Every check run posted to `owner/repo`, as GitHub answered the post."""
        with self.state.lock:
            return list(self._known(owner, repo).check_runs)

    def statuses(self, owner: str, repo: str) -> list[dict[str, Any]]:
        """Every commit status posted to `owner/repo`, as GitHub answered the post."""
        with self.state.lock:
            return list(self._known(owner, repo).statuses)

    def stop(self) -> None:
        """Stop serving and remove the temporary folder of bare repositories, if any."""
        super().stop()
        if self._scratch is not None:
            self._scratch.cleanup()

    # -- git ----------------------------------------------------------------------------------

    def head_of(self, repo: RepoState, branch: str) -> str | None:
        """The sha `branch` points at in the bare repository, or None."""
        return self.git.branches(repo.full_name).get(branch)

    def has_commit(self, repo: RepoState, sha: str) -> bool:
        """True when the bare repository holds commit `sha` (40 hex digits)."""
        if not re.fullmatch(r"[0-9a-fA-F]{40}", sha):
            return False
        done = call_git(self.git.repo_path(repo.full_name), "cat-file", "-e", f"{sha}^{{commit}}")
        return done.returncode == 0

    def diffstat(self, repo: RepoState, base: str, head: str) -> tuple[int, int, int, int]:
        """(commits, additions, deletions, changed files) of `head` over `base` (shas)."""
        bare = self.git.repo_path(repo.full_name)
        commits = int(run_git(bare, "rev-list", "--count", f"{base}..{head}").strip() or 0)
        added = deleted = files = 0
        for line in run_git(bare, "diff", "--numstat", f"{base}...{head}").splitlines():
            plus, minus, _ = line.split("\t", 2)
            added += int(plus) if plus.isdigit() else 0
            deleted += int(minus) if minus.isdigit() else 0
            files += 1
        return commits, added, deleted, files

    def commit_record(self, repo: RepoState, sha: str) -> CommitRecord:
        """Commit `sha` of the bare repository as the stand-in's commit record."""
        out = run_git(self.git.repo_path(repo.full_name), "log", "-1", f"--format={_LOG_FORMAT}",
                      sha)
        full, name, email, date, c_name, c_email, parents, message = out.split("\0", 7)
        return CommitRecord(sha=full, author_name=name, author_email=email, date=date,
                            message=message.rstrip("\n"), committer_name=c_name,
                            committer_email=c_email, parents=parents.split())

    def first_parent(self, repo: RepoState, sha: str) -> str | None:
        """The first parent of commit `sha` (what a merge commit merged into), or None."""
        done = call_git(self.git.repo_path(repo.full_name), "rev-parse", "--verify", "--quiet",
                        f"{sha}^1")
        parent = done.stdout.decode().strip() if done.returncode == 0 else ""
        return parent or None

    def user_json(self, login: str) -> dict[str, Any]:
        """The `simple-user` of `login` (the stand-in's own login keeps its id); an account
        marked as a bot is of type `Bot`."""
        if login == self.login:
            return changeshapes.actor(self.url, login, self._user_id)
        account = self.state.add_account(login)
        shape = changeshapes.actor(self.url, login, account.id)
        if account.bot:
            shape["type"] = "Bot"
        return shape

    # -- plumbing -----------------------------------------------------------------------------

    def _known(self, owner: str, repo: str) -> RepoState:
        state = self.state.repo(owner, repo)
        if state is None:
            raise KeyError(f"no repository {owner}/{repo} in the stand-in")
        return state

    def _authorize_git(self, user: str, password: str, repo: str, service: str) -> bool:
        if password == self.token:
            return True
        issued = self.apps.issued(password)
        return issued is not None and user == "x-access-token" and repo.lower() in issued.repos

    def _serve_git(self, call: Call) -> Reply:
        # A repository the stand-in knows has a bare repository from the start, as an empty
        # repository on GitHub can be pushed to.
        match = _GIT_REPO.match(call.path)
        if match is not None:
            state = self.state.repo(match["owner"], match["repo"])
            if state is not None:
                self.git.repo_path(state.full_name)
        return self.git.handle(call)


def render(host: ChangeHosting, repo: RepoState, record: IssueRecord) -> dict[str, Any]:
    """Pull request `record` in GitHub's shape, its head and base read from the bare repo."""
    pull = record.pull
    assert pull is not None
    head_sha = host.head_of(repo, pull.head) or pull.head_sha
    base_sha = host.head_of(repo, pull.base) or head_sha
    with host.state.lock:
        pull.head_sha = head_sha
        issue = host._issue_json(repo, record)
        reviewers = [host.user_json(login) for login in pull.reviewers]
        merged = None if pull.merged_at is None else (
            pull.merged_at, pull.merge_sha, host.user_json(pull.merged_by))
    if merged is not None:  # what the change brought, not what is left after the merge
        base_sha = host.first_parent(repo, pull.merge_sha) or base_sha
    repository = shapes.repository(host.url, repo.owner, repo.name, repo.id)
    return changeshapes.pull(host.url, repository, issue, pull_id=pull.id,
                             head=(pull.head, head_sha), target=(pull.base, base_sha),
                             draft=pull.draft, reviewers=reviewers,
                             stats=host.diffstat(repo, base_sha, head_sha), merged=merged)


def render_comments(host: ChangeHosting, repo: RepoState,
                    record: IssueRecord) -> list[dict[str, Any]]:
    """The comments of issue or pull request `record` in GitHub's shape, oldest first."""
    with host.state.lock:
        return [comment_json(host, repo, record, comment) for comment in record.comments]


def comment_json(host: ChangeHosting, repo: RepoState, record: IssueRecord,
                 comment: CommentRecord) -> dict[str, Any]:
    """Comment `comment` of issue or pull request `record` in GitHub's shape."""
    return changeshapes.comment(host.url, repo.full_name, record.number, {
        "id": comment.id, "body": comment.body, "user": host.user_json(comment.author),
        "created_at": comment.created_at}, pull=record.pull is not None)
