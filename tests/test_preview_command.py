"""The command preview provider on the real bubblewrap sandbox: the operator's deploy script runs
in the worktree with its variables and prints the URL last; the URL must answer; the stop
command runs afterwards with the URL; a script that fails or prints no URL is a PreviewError
with its exit code and (scrubbed) output."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from integrations.preview import CommandPreview
from integrations.sandbox import BubblewrapSandbox
from worker.ports import Preview, PreviewError
from worker.preview.models import PreviewTarget
from worker.preview.settings import PreviewSettings

pytestmark = pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap not installed")

SHA = "3f2a9c" + "0" * 34


class _Up(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (the stdlib's name)
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


@pytest.fixture
def remote() -> Iterator[str]:
    """A "deployed" application on the host's loopback; its URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Up)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture
def target(tmp_path: Path) -> PreviewTarget:
    worktree = tmp_path / "tree"
    worktree.mkdir()
    return PreviewTarget(sha=SHA, name="fix", worktree=worktree, branch="suture/3f2a9c",
                         repo="acme/shop")


def settings(**values: object) -> PreviewSettings:
    return PreviewSettings.model_validate({"provider": "command", "ready_seconds": 5, **values})


def test_the_deploy_script_gives_the_url_and_the_stop_script_runs_after(remote, target):
    deploy = ('echo "deploying $SUTURE_PREVIEW_SHA of $SUTURE_PREVIEW_REPO '
              '($SUTURE_PREVIEW_BRANCH) with $DEPLOY_TOKEN"; pwd > where; echo "{url}"')
    stop = 'echo "$SUTURE_PREVIEW_URL" > stopped'
    sandbox = BubblewrapSandbox()
    preview = CommandPreview(sandbox, settings(
        deploy_command=deploy.format(url=remote), stop_command=stop,
        deploy_env={"DEPLOY_TOKEN": "t0ken"}))
    assert isinstance(preview, Preview)

    with preview.deploy(target) as deployment:
        assert deployment.url == remote and deployment.provider == "command"
        assert f"deploying {SHA} of acme/shop (suture/3f2a9c) with t0ken" in deployment.log
        assert not (target.worktree / "stopped").exists()

    assert (target.worktree / "where").read_text().strip() == str(target.worktree)
    assert (target.worktree / "stopped").read_text().strip() == remote
    assert [r.exit_code for r in sandbox.audit] == [0, 0]


def test_a_failing_deploy_script_is_a_preview_error_with_its_output(target):
    preview = CommandPreview(BubblewrapSandbox(), settings(
        deploy_command="echo 'Error: no credentials found' >&2; exit 4", stop_command="true"))

    with pytest.raises(PreviewError) as raised, preview.deploy(target):
        pass
    failure = raised.value.failure
    assert failure.exit_code == 4 and "exited with code 4" in failure.reason
    assert "no credentials found" in failure.log


def test_a_deploy_script_that_prints_no_url_last_is_a_preview_error(target):
    preview = CommandPreview(BubblewrapSandbox(), settings(
        deploy_command="echo https://preview.example; echo done"))

    with pytest.raises(PreviewError, match="did not print the preview's http"), \
            preview.deploy(target):
        pass


def test_a_url_that_does_not_answer_is_a_preview_error_and_the_stop_script_still_runs(target):
    preview = CommandPreview(BubblewrapSandbox(), settings(
        deploy_command="echo http://127.0.0.1:9", ready_seconds=0.5,
        stop_command="touch stopped"))

    with pytest.raises(PreviewError, match="did not answer GET / with a status below 500"), \
            preview.deploy(target):
        pass
    assert (target.worktree / "stopped").exists()
