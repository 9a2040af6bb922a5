"""The local preview provider on the real bubblewrap sandbox: a tiny stdlib application at its base
commit (500 on /boom) and at its fix (200) runs side by side, healthy, reachable and stopped
afterwards, with the repository environment in use; a command that never becomes healthy fails
within `ready_seconds` with the (scrubbed) tail of its output; one that dies says its exit code."""

from __future__ import annotations

import shutil
import socket
import time
from pathlib import Path

import httpx
import pytest

from integrations.preview import LocalPreview
from integrations.sandbox import BubblewrapSandbox
from tests.gitrepo import GitRepoBuilder, git
from worker.env.models import Environment
from worker.ports import Preview, PreviewError
from worker.preview.models import PreviewTarget
from worker.preview.settings import PreviewSettings

pytestmark = pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap not installed")

APP = """
import os, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

BROKEN = {broken}


class App(BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/boom" and BROKEN:
            status, body = 500, b"ZeroDivisionError: division by zero"
        elif self.path == "/where":
            status, body = 200, os.getcwd().encode()
        else:
            status, body = 200, b"ok"
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):
        print(format % args)


print("listening on", sys.argv[1])
ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), App).serve_forever()
"""
TOKEN = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"


@pytest.fixture
def trees(tmp_path: Path) -> dict[str, PreviewTarget]:
    """Worktrees of the base (broken) and the fix, as preview targets."""
    repo = GitRepoBuilder(tmp_path / "repo")
    shas = {"base": repo.commit({"app.py": APP.format(broken=True)}, "app"),
            "fix": repo.commit({"app.py": APP.format(broken=False)}, "fix /boom")}
    targets = {}
    for name, sha in shas.items():
        path = tmp_path / name
        git(repo.path, "worktree", "add", "-q", "--detach", str(path), sha)
        targets[name] = PreviewTarget(sha=sha, name=name, worktree=path)
    return targets


def settings(**overrides: object) -> PreviewSettings:
    values: dict[str, object] = {"command": "python app.py {port}", "health_path": "/health",
                                 "ready_seconds": 20}
    return PreviewSettings.model_validate({**values, **overrides})


def get(url: str) -> httpx.Response:
    return httpx.get(url, timeout=5, trust_env=False)


def refused(url: str) -> bool:
    port = int(url.rsplit(":", 1)[1])
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    except ConnectionRefusedError:
        return True
    return False


def test_base_and_fix_run_side_by_side_healthy_reachable_and_then_stopped(trees):
    sandbox = BubblewrapSandbox()
    preview = LocalPreview(sandbox, settings())
    assert isinstance(preview, Preview)

    with preview.deploy(trees["base"]) as base, preview.deploy(trees["fix"]) as fix:
        assert base.provider == fix.provider == "local"
        assert base.url != fix.url
        assert 0 < base.ready_seconds < 20
        assert get(base.url + "/boom").status_code == 500
        assert get(fix.url + "/boom").status_code == 200
        assert "listening on 8000" in base.log
        assert "GET /boom HTTP/1.1\" 500" in base.latest_log()

    assert refused(base.url) and refused(fix.url)
    assert [(r.argv, r.killed) for r in sandbox.audit] == [
        (["sh", "-c", "python app.py 8000"], "stopped")] * 2


def test_the_repository_environment_is_in_use(trees):
    environment = Environment(key="k", workdir="/workspace")
    target = trees["fix"].model_copy(update={"environment": environment})

    with LocalPreview(BubblewrapSandbox(), settings()).deploy(target) as deployment:
        assert get(deployment.url + "/where").text == "/workspace"


def test_a_command_that_never_becomes_healthy_fails_in_time_with_its_log_tail(trees):
    sandbox = BubblewrapSandbox()
    command = f"echo 'loading settings'; echo 'token={TOKEN}'; exec sleep 600"
    preview = LocalPreview(sandbox, settings(command=command, ready_seconds=1.5))
    started = time.monotonic()

    with pytest.raises(PreviewError) as raised, preview.deploy(trees["base"]):
        pytest.fail("the preview must not become ready")

    assert time.monotonic() - started < 10
    failure = raised.value.failure
    assert failure.provider == "local"
    assert failure.command == command.replace(TOKEN, "[REDACTED:github-token]")
    assert "did not answer GET /health with a status below 500 within 1.5s" in failure.reason
    assert failure.exit_code is None
    assert "loading settings" in failure.log and "loading settings" in str(raised.value)
    assert TOKEN not in failure.log and TOKEN not in str(raised.value)
    assert sandbox.audit[-1].killed == "stopped"


def test_a_health_check_answering_500_is_waited_out_and_reported(trees):
    preview = LocalPreview(BubblewrapSandbox(), settings(health_path="/boom", ready_seconds=1))

    with pytest.raises(PreviewError, match=r"last look: HTTP 500"), preview.deploy(trees["base"]):
        pass


def test_a_command_that_dies_is_reported_with_its_exit_code_at_once(trees):
    preview = LocalPreview(BubblewrapSandbox(), settings(command="python missing.py {port}"))
    started = time.monotonic()

    with pytest.raises(PreviewError) as raised, preview.deploy(trees["base"]):
        pass

    assert time.monotonic() - started < 10
    failure = raised.value.failure
    assert failure.exit_code == 2
    assert "`python missing.py 8000` exited with code 2" in failure.reason
    assert "missing.py" in failure.log and "No such file" in failure.log


def test_without_a_command_or_a_worktree_there_is_no_local_preview(trees):
    with pytest.raises(PreviewError, match="no preview command"), \
            LocalPreview(BubblewrapSandbox(), PreviewSettings()).deploy(trees["base"]):
        pass
    target = trees["base"].model_copy(update={"worktree": None})
    with pytest.raises(PreviewError, match="needs a worktree"), \
            LocalPreview(BubblewrapSandbox(), settings()).deploy(target):
        pass
