"""Where sandboxed commands connected and where they were turned away: recorded on each
`CommandResult` by the real bubblewrap sandbox's egress proxy and forwarders, counted for the
model proxy's calls, carried into the run record, and shown on the run page and by
`suture runs show`, scrubbed and escaped."""

from __future__ import annotations

import shutil
import sys
import threading
import warnings
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from pydantic import SecretStr
from typer.testing import CliRunner

from integrations.agents.cli_agent import CliAgent, with_model_reach
from integrations.agents.model_meter import ModelCall
from integrations.agents.model_upstream import Upstream
from integrations.sandbox import BubblewrapSandbox, EgressRefusal
from integrations.sandbox.reach import ReachLog
from tests.pages_seed import new_run, walk
from tests.support import make_app
from tests.test_toolloop import make_task, worktree
from worker.cli import cli
from worker.cli.sandbox import sandbox_exec
from worker.fix.models import CommandResult, Forward, SandboxPolicy
from worker.models import RunState
from worker.runs import CommandSummary, FixOutcome, RunRecord
from worker.stages.scrubbing import scrubbed_attempt, scrubbed_command

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # Starlette's test client would rather have `httpx2`
    from fastapi.testclient import TestClient

__all__ = ["worktree"]

needs_bwrap = pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap not installed")
SECRET = "ghp_" + "Qr7St6Uv5Wx4" * 3  # a GitHub token's shape: never shown
TOKEN = "reach-test-token-0123456789"


class _Hello(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (the stdlib's name)
        body = b"hello"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


@pytest.fixture
def web_server() -> Iterator[int]:
    """A plain HTTP server on the host's loopback; its port."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hello)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()
    thread.join()


# Reaches the allowed server twice, two hosts off the list, and sends the proxy a hostile
# request line carrying markup and a token.
REACHING = """
import socket, sys, urllib.request
port = int(sys.argv[1])
for path in ("/one", "/two"):
    print("got", urllib.request.urlopen(f"http://localhost:{port}{path}").read())
for url in ("http://localhost:6379/", "http://exfil.example.com/up"):
    try:
        urllib.request.urlopen(url, timeout=5)
        print("REACHED", url)
    except OSError:
        print("blocked", url)
raw = socket.create_connection(("127.0.0.1", 3128), timeout=5)
raw.sendall(("GET /<script>alert(1)</script>?t=" + sys.argv[2] + " HTTP/1.1\\r\\n\\r\\n").encode())
print("hostile", raw.recv(200)[:12])
raw.close()
"""


@needs_bwrap
def test_a_command_records_the_hosts_it_reached_and_was_refused(tmp_path, web_server):
    work = tmp_path / "work"
    work.mkdir()
    audited: list[CommandResult] = []
    sandbox = BubblewrapSandbox(audit_sink=audited.append)

    result = sandbox.run(work, ["python", "-c", REACHING, str(web_server), SECRET],
                         SandboxPolicy(allow_hosts=[f"localhost:{web_server}"]))

    assert result.stdout.count("got b'hello'") == 2, result.stdout + result.stderr
    assert "REACHED" not in result.stdout
    assert result.reached == [f"localhost:{web_server}"]  # once, though connected twice
    assert result.refused[:2] == ["localhost:6379: host not in the allowlist",
                                  "exfil.example.com:80: host not in the allowlist"]
    assert len(result.refused) == 3 and "<script>alert(1)</script>" in result.refused[2]
    assert "only CONNECT and absolute http:// requests are proxied" in result.refused[2]
    assert audited[0].reached == result.reached and audited[0].refused == result.refused
    summary = scrubbed_command(CommandSummary.of(result))
    assert summary.reached == result.reached
    assert SECRET not in str(summary.refused) and "[REDACTED:github-token]" in summary.refused[2]


@needs_bwrap
def test_a_forwarded_test_service_counts_as_reached_and_each_command_has_its_own(
        tmp_path, web_server):
    work = tmp_path / "work"
    work.mkdir()
    sandbox = BubblewrapSandbox()
    policy = SandboxPolicy(forwards=[Forward(port=15432, target_host="127.0.0.1",
                                             target_port=web_server)])
    code = "import urllib.request; print(urllib.request.urlopen('http://127.0.0.1:15432/').read())"

    first = sandbox.run(work, ["python", "-c", code], policy)
    quiet = sandbox.run(work, ["true"], policy)

    assert "hello" in first.stdout, first.stderr
    assert first.reached == [f"127.0.0.1:{web_server}"] and first.refused == []
    assert quiet.reached == [] and quiet.refused == []


@needs_bwrap
def test_the_operator_command_lists_what_the_command_reached(tmp_path, web_server, capsys):
    code = f"import urllib.request; urllib.request.urlopen('http://localhost:{web_server}/')"

    assert sandbox_exec(tmp_path, [f"localhost:{web_server}"], ["python", "-c", code]) == 0
    assert f"suture sandbox: reached localhost:{web_server}\n" in capsys.readouterr().err


def test_the_log_keeps_each_line_once_in_order_escaped_and_bounded():
    log = ReachLog(limit=2)
    for host in ("b.example", "a.example", "b.example", "c.example", "d.example"):
        log.allowed(host, 443)
    log.allowed("::1", 8080)
    log.refused(EgressRefusal(host="evil\x1b[31m.test", port=80, reason="host\nnot listed"))
    log.refused(EgressRefusal(request="\x00junk", reason="malformed request line"))

    filled = log.fill(CommandResult(argv=["x"], exit_code=0))

    assert filled.reached == ["b.example:443", "a.example:443", "... and 3 more not listed"]
    assert filled.refused == ["evil\\x1b[31m.test:80: host\\nnot listed",
                              "'\\x00junk': malformed request line"]
    assert all(line.isprintable() for line in filled.refused)


def test_model_calls_count_as_reaching_their_endpoint_when_forwarded():
    openai = Upstream(style="openai", base_url="https://api.openai.com/v1",
                      api_key=SecretStr(""))
    local = Upstream(style="anthropic", base_url="http://[::1]:8080", api_key=SecretStr(""))
    assert (openai.endpoint, local.endpoint) == ("api.openai.com:443", "[::1]:8080")
    calls = [ModelCall(style="openai", path="/v1/responses", status=200,
                       upstream=openai.endpoint),
             ModelCall(style="openai", path="/v1/responses", status=200,
                       upstream=openai.endpoint),
             ModelCall(style="openai", path="/v1/x", status=404, refused="not a model path"),
             ModelCall(style="anthropic", path="/v1/messages", status=0, upstream=local.endpoint,
                       refused="upstream failed: ConnectError")]
    result = CommandResult(argv=["cli"], exit_code=0, reached=["localhost:9"])

    reached = with_model_reach(result, calls).reached

    assert reached == ["localhost:9", "api.openai.com:443 (model proxy, 2 calls)",
                       "[::1]:8080 (model proxy, 1 call)"]
    assert with_model_reach(result, calls[2:3]) == result


def test_a_summary_stored_before_the_network_fields_still_loads():
    old = CommandSummary.model_validate({"argv": ["pytest"], "exit_code": 1, "seconds": 2.0})
    assert (old.reached, old.refused) == ([], [])


@needs_bwrap
def test_the_run_page_and_runs_show_list_what_each_agent_reached_and_was_refused(
        tmp_path, worktree, web_server, monkeypatch):
    agent = CliAgent([sys.executable, "-c", REACHING, str(web_server), SECRET], name="reacher",
                     allow_hosts=[f"localhost:{web_server}"])
    sandbox = BubblewrapSandbox()
    attempt = agent.attempt(make_task(timeout_seconds=60.0), worktree, sandbox)
    [command] = [e for e in attempt.transcript if e["kind"] == "command"]
    assert command["reached"] == [f"localhost:{web_server}"], command
    fix = FixOutcome(attempts=[scrubbed_attempt(attempt)],
                     audit=[scrubbed_command(CommandSummary.of(c)) for c in sandbox.audit],
                     verify_audit=[CommandSummary(argv=["pytest"], exit_code=0,
                                                  refused=["pypi.org:443: host not in the "
                                                           "allowlist"])])
    app = make_app(tmp_path / "app", settings={"pages": {"token": TOKEN}})
    try:
        run_id = new_run(app.store, "fp-reach", "ZeroDivisionError in mean")
        walk(app.store, run_id, (RunState.TRIAGED, "passes", None),
             (RunState.CORRELATED, "no suspect", None), (RunState.FIXING, "fix 1", None),
             (RunState.PATCHED, "1 patch", RunRecord(fix=fix)))
        page = _run_page(app, run_id)
        monkeypatch.setenv("SUTURE_DATABASE_URL", app.settings.database_url)
        shown = CliRunner().invoke(cli, ["runs", "show", str(run_id)])
    finally:
        app.close()

    for text in (page, shown.stdout):
        assert f"localhost:{web_server}" in text
        assert "localhost:6379: host not in the allowlist" in text
        assert "exfil.example.com:80: host not in the allowlist" in text
        assert "pypi.org:443: host not in the allowlist" in text
        assert SECRET not in text and "[REDACTED:github-token]" in text
    assert shown.exit_code == 0, shown.output
    assert f"  reached: localhost:{web_server}" in shown.stdout
    assert "  refused: localhost:6379: host not in the allowlist" in shown.stdout
    assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)" in page
    assert "Refused:" in page and "Reached:" in page  # the agent's own card
    assert f"reached <code>localhost:{web_server}</code>" in page  # the command's row


def _run_page(app, run_id: int) -> str:
    client = TestClient(app.web(), follow_redirects=False)
    form = client.get("/login").text
    csrf = form.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    assert client.post("/login", data={"csrf": csrf, "name": "Dana", "token": TOKEN,
                                       "next": "/"}).status_code == 303
    response = client.get(f"/runs/{run_id}")
    assert response.status_code == 200
    return " ".join(response.text.split())
