"""A service previewed by the code host's deployments (as Vercel or Render report them): the
fix branch is pushed, a deployment integration deploys each pushed commit and reports a
`deployment_status` with its URL, suture replays the failing request on the release's and the
fix's deployments, and the pull request carries that replay.

The integration is played by this test: it watches the stand-in's bare repository, serves each
new commit's shop (the real WSGI app, in its own process) and reports it through GitHub's REST
API, as a deployment app would."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from integrations.git import run_git
from integrations.standins.github import GitHubStandIn
from tests.proposal_hosts import GITHUB_TOKEN, REPO, Host, settings_for, verified_shop
from tests.support import make_app
from worker import stages
from worker.models import RunState

pytestmark = pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap is missing")

SERVE = ("from wsgiref.simple_server import make_server; from shop.web import app; "
         "make_server('127.0.0.1', {port}, app).serve_forever()")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class DeploymentApp:
    """Deploys every commit pushed to the stand-in: a checkout served on a port of its own,
    reported as a successful deployment with that URL."""

    def __init__(self, github: GitHubStandIn, folder: Path) -> None:
        self.github, self.folder = github, folder
        self.deployed: dict[str, str] = {}
        self.processes: list[subprocess.Popen[bytes]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def __enter__(self) -> DeploymentApp:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        for process in self.processes:
            process.kill()
            process.wait()

    def _watch(self) -> None:
        while not self._stop.is_set():
            for branch, sha in self.github.git.branches(REPO).items():
                if sha not in self.deployed:
                    self.deployed[sha] = self._deploy(branch, sha)
            time.sleep(0.1)

    def _deploy(self, branch: str, sha: str) -> str:
        checkout = self.folder / sha[:12]
        bare = self.github.git.repo_path(REPO)
        run_git(self.folder, "clone", "-q", str(bare), str(checkout))
        run_git(checkout, "checkout", "-q", sha)
        port = free_port()
        self.processes.append(subprocess.Popen(
            [sys.executable, "-c", SERVE.format(port=port)], cwd=checkout,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        url = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                httpx.get(url + "/cart/total", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.05)
        api = f"{self.github.url}/repos/{REPO}/deployments"
        auth = {"Authorization": f"token {GITHUB_TOKEN}"}
        made = httpx.post(api, headers=auth, json={
            "ref": sha, "environment": f"Preview – {branch}", "auto_merge": False,
            "required_contexts": [], "transient_environment": True}).json()
        httpx.post(f"{api}/{made['id']}/statuses", headers=auth, json={
            "state": "success", "environment_url": url, "auto_inactive": False})
        return url


@pytest.fixture(scope="module")
def verified(tmp_path_factory):
    return verified_shop(tmp_path_factory.mktemp("verified"))


@pytest.fixture
def github(verified, tmp_path) -> Iterator[GitHubStandIn]:
    _, shop, _ = verified
    standin = GitHubStandIn(token=GITHUB_TOKEN, repos=[REPO], git_root=tmp_path / "host")
    standin.start()
    standin.seed_repo(*REPO.split("/"), shop.path)
    yield standin
    standin.stop()


def test_the_failing_request_is_replayed_on_the_hosts_deployments(verified, tmp_path, github):
    snapshot, shop, run_id = verified
    db = tmp_path / "suture.db"
    shutil.copy(snapshot, db)
    settings = settings_for(db, tmp_path / "data", Host("github", github).settings(), shop.path)
    settings["services"][0]["preview"] = {"provider": "github", "environment": "Preview*",
                                          "wait_seconds": 60, "poll_seconds": 0.2}
    (tmp_path / "deploys").mkdir()
    with DeploymentApp(github, tmp_path / "deploys") as deployer:
        app = make_app(tmp_path, settings=settings)
        try:
            assert stages.publish(app.deps, run_id) == RunState.PROPOSED
            run = app.store.get_run(run_id)
        finally:
            app.close()
    preview = run.record.fix.preview
    assert preview.provider == "github" and preview.replay is not None, preview
    assert preview.base_url == deployer.deployed[shop.head]
    assert preview.fix_url == deployer.deployed[run.record.publication.pull_request.head]
    assert preview.replay.base.status == 500 and preview.replay.fix.status == 200
    [pull] = github.pulls(*REPO.split("/"))
    assert "replayed on previews (github)" in pull["body"]
    assert "replay confirms the fix" in pull["body"]
    assert any(t.step == "preview" for t in run.record.publication.pull_request.timings)
