"""Test services from inside the real bubblewrap sandbox: a declared forward reaches Redis and
PostgreSQL (on this machine, as the suite needs them anyway) with the variables set; without it,
or on an undeclared port, nothing answers; a forward on the egress proxy's port is refused; a
connection that cannot be made is logged; and the pipeline verifies a fix whose suite needs
Redis only when the service declares it."""

from __future__ import annotations

import logging
import shutil
import socket
import time
import uuid
from pathlib import Path

import pytest
from pydantic import ValidationError

from integrations.sandbox import BubblewrapSandbox
from integrations.sandbox.layout import Layout
from tests.gitrepo import git
from tests.support import compact, drain, make_app
from worker.demo.sample import SampleRepo, build_sample_repo, capture_crash
from worker.env.services import TestService, services_policy, with_test_services
from worker.fix.models import Forward, SandboxPolicy
from worker.models import RunState
from worker.settings import ConfigError, load_settings

pytestmark = pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap not installed")

REDIS = TestService(name="redis", host="127.0.0.1", port=6379,
                    env={"REDIS_URL": "redis://127.0.0.1:6379/0"})
POSTGRES = TestService(name="postgres", host="localhost", port=5432,
                       env={"DATABASE_URL": "postgresql://postgres@localhost:5432/postgres"})

PING = """
import socket, sys
for port in map(int, sys.argv[1:]):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
            conn.sendall(b"PING\\r\\n")
            print(port, conn.recv(64))
    except OSError as error:
        print(port, "blocked:", type(error).__name__)
"""

BOTH = """
import concurrent.futures, os, socket, psycopg
from urllib.parse import urlsplit

def ping(number):
    url = urlsplit(os.environ["REDIS_URL"])
    with socket.create_connection((url.hostname, url.port), timeout=5) as conn:
        conn.sendall(b"ECHO %d\\r\\nPING\\r\\n" % number)
        conn.shutdown(socket.SHUT_WR)  # a half-close: the answers still come back
        answer = b""
        while chunk := conn.recv(4096):
            answer += chunk
        return answer == b"$%d\\r\\n%d\\r\\n+PONG\\r\\n" % (len(str(number)), number)

with concurrent.futures.ThreadPoolExecutor(16) as pool:
    print("redis", sum(pool.map(ping, range(40))), "of 40")
with psycopg.connect(os.environ["DATABASE_URL"], connect_timeout=5) as db:
    print("postgres", db.execute("select 1").fetchone()[0])
"""


@pytest.fixture
def worktree(tmp_path: Path) -> Path:
    path = tmp_path / "worktree"
    path.mkdir()
    return path


def test_declared_services_are_reached_over_many_connections_with_their_variables(worktree):
    sandbox = with_test_services(BubblewrapSandbox(), [REDIS, POSTGRES])

    result = sandbox.run(worktree, ["python", "-c", BOTH], SandboxPolicy(env={"KEEP": "1"}))

    assert result.exit_code == 0, result.stderr
    assert result.stdout.split("\n")[:2] == ["redis 40 of 40", "postgres 1"]
    shown = sandbox.run(worktree, ["sh", "-c", "echo $REDIS_URL $DATABASE_URL $KEEP"],
                        SandboxPolicy(env={"KEEP": "1"}))
    assert shown.stdout.split() == [REDIS.env["REDIS_URL"], POSTGRES.env["DATABASE_URL"], "1"]


def test_without_a_forward_or_on_an_undeclared_port_nothing_answers(worktree):
    sandbox = BubblewrapSandbox()
    ports = ["6379", "5432", "6380"]

    bare = sandbox.run(worktree, ["python", "-c", PING, *ports], SandboxPolicy())
    redis_only = with_test_services(sandbox, [REDIS]).run(
        worktree, ["python", "-c", PING, *ports], SandboxPolicy())

    assert bare.stdout.split("\n")[:3] == [f"{port} blocked: ConnectionRefusedError"
                                           for port in ports], bare.stderr
    assert redis_only.stdout.split("\n")[:3] == ["6379 b'+PONG\\r\\n'",
                                                 "5432 blocked: ConnectionRefusedError",
                                                 "6380 blocked: ConnectionRefusedError"]
    unset = sandbox.run(worktree, ["sh", "-c", "echo ${REDIS_URL:-unset}"], SandboxPolicy())
    assert unset.stdout == "unset\n"


def test_a_forward_on_the_egress_proxys_port_or_a_taken_one_is_refused(worktree):
    sandbox = BubblewrapSandbox()
    onto_proxy = Forward(port=3128, target_host="127.0.0.1", target_port=6379)
    twice = [Forward(port=6379, target_host="127.0.0.1", target_port=p) for p in (6379, 5432)]

    refused = sandbox.run(worktree, ["true"], SandboxPolicy(forwards=[onto_proxy],
                                                            allow_hosts=["pypi.org"]))
    duplicated = sandbox.run(worktree, ["true"], SandboxPolicy(forwards=twice))

    assert refused.exit_code == 126
    assert "may not use port 3128: it is the egress proxy's" in refused.stderr
    assert duplicated.exit_code == 126 and "same sandbox port" in duplicated.stderr
    with pytest.raises(ValidationError, match="egress proxy port"):
        TestService(name="proxy", host="127.0.0.1", port=3128)


def test_a_connection_that_cannot_be_made_is_closed_logged_and_recorded(worktree, caplog):
    caplog.set_level(logging.INFO, logger="suture.sandbox.forward")
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    sandbox = BubblewrapSandbox()
    policy = SandboxPolicy(forwards=[Forward(port=7000, target_host="127.0.0.1",
                                             target_port=closed)])

    result = sandbox.run(worktree, ["python", "-c", PING, "7000"], policy)

    assert result.stdout == "7000 b''\n", result.stderr
    [refusal] = sandbox.refused
    assert (refusal.host, refusal.port) == ("127.0.0.1", closed)
    assert refusal.reason.startswith("cannot connect") and "7000" in refusal.request
    assert f"forward refused: sandbox port 7000 to 127.0.0.1:{closed}" in caplog.text


def test_a_named_target_resolves_to_the_forward_inside(worktree, tmp_path):
    policy = SandboxPolicy(forwards=[Forward(port=6379, target_host="Redis.Test.",
                                             target_port=6379)])
    layout = Layout(worktree=worktree, run_dir=tmp_path, policy=policy, ready_fd=3)
    layout.options()
    assert (tmp_path / "etc" / "hosts").read_text().endswith("127.0.0.1 redis.test\n")

    result = BubblewrapSandbox().run(
        worktree, ["python", "-c", "import socket; print(socket.gethostbyname('redis.test'))"],
        policy)
    assert result.stdout == "127.0.0.1\n", result.stderr


def test_connections_end_with_the_command(worktree):
    import redis

    name = f"suture-{uuid.uuid4().hex[:12]}"
    linger = ("import os, socket, time\n"
              "conn = socket.create_connection(('127.0.0.1', 6379))\n"
              f"conn.sendall(b'CLIENT SETNAME {name}\\r\\n'); conn.recv(64)\n"
              "if os.fork() == 0:\n    time.sleep(60)\n"  # the child keeps the connection
              "print('left')\n")
    host = redis.Redis(host="127.0.0.1", port=6379)

    result = with_test_services(BubblewrapSandbox(), [REDIS]).run(
        worktree, ["python", "-c", linger], SandboxPolicy())

    assert result.stdout == "left\n", result.stderr
    deadline = time.monotonic() + 5
    while any(c.get("name") == name for c in host.client_list()) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(c.get("name") == name for c in host.client_list())


def test_the_policy_gains_forwards_and_variables_and_no_services_change_nothing():
    base = SandboxPolicy(env={"REDIS_URL": "mine", "KEEP": "1"})

    policy = services_policy(base, [REDIS, POSTGRES])

    assert [f.port for f in policy.forwards] == [6379, 5432]
    assert policy.env == {"REDIS_URL": REDIS.env["REDIS_URL"], "KEEP": "1",
                          "DATABASE_URL": POSTGRES.env["DATABASE_URL"]}
    assert services_policy(base, []) is base
    sandbox = BubblewrapSandbox()
    assert with_test_services(sandbox, []) is sandbox


@pytest.mark.parametrize(("services", "message"), [
    ([{"name": "a", "host": "127.0.0.1", "port": 6379},
      {"name": "b", "host": "127.0.0.1", "port": 6379}], "same port"),
    ([{"name": "a", "host": "no such host", "port": 6379}], "host name or an IP address"),
    ([{"name": "a", "host": "127.0.0.1", "port": 80}], "greater than or equal to 1024"),
    ([{"name": "a", "host": "127.0.0.1", "port": 6379, "env": {"A=B": "x"}}], "variable"),
    ([{"name": "a", "host": "127.0.0.1", "port": 6379, "url": "x"}], "Extra inputs"),
])
def test_settings_refuse_test_services_the_sandbox_could_not_give(services, message):
    with pytest.raises(ConfigError, match=message):
        load_settings(services=[{"name": "shop", "repository": ".",
                                 "test_services": services}])


CONFTEST = """import os
import socket
from urllib.parse import urlsplit

# Like an application's fixtures: the tests need the cache, at the address they are given.
url = urlsplit(os.environ.get("SHOP_REDIS", "redis://127.0.0.1:6379/0"))
with socket.create_connection((url.hostname, url.port), timeout=5) as conn:
    conn.sendall(b"PING\\r\\n")
    assert conn.recv(64) == b"+PONG\\r\\n"
"""


def shop_needing_redis(tmp_path: Path) -> SampleRepo:
    """The sample shop, whose test suite now connects to Redis before it runs."""
    shop = build_sample_repo(tmp_path / "shop")
    (shop.path / "tests" / "conftest.py").write_text(CONFTEST)
    git(shop.path, "add", "-A")
    git(shop.path, "commit", "-q", "-m", "Tests use the cache",
        env={"GIT_AUTHOR_NAME": "Mary Jackson", "GIT_AUTHOR_EMAIL": "mary@example.com",
             "GIT_COMMITTER_NAME": "Mary Jackson", "GIT_COMMITTER_EMAIL": "mary@example.com"})
    return SampleRepo(path=shop.path, commits=[*shop.commits,
                                               git(shop.path, "rev-parse", "HEAD").strip()])


@pytest.mark.parametrize("declared", [True, False])
def test_the_pipeline_verifies_a_fix_whose_suite_needs_redis_only_when_declared(tmp_path,
                                                                                declared):
    shop = shop_needing_redis(tmp_path)
    redis = {"name": "redis", "host": "127.0.0.1", "port": 6379,
             "env": {"SHOP_REDIS": "redis://127.0.0.1:6379/0"}}
    settings = {"services": [{"name": "shop", "sentry_project": "shop",
                              "repository": str(shop.path), "slug": "acme/shop",
                              "test_command": "python -m pytest -q",
                              "test_services": [redis] if declared else []}],
                "data_dir": tmp_path / "data"}
    app = make_app(tmp_path, settings=settings)
    app.deps.environments = None  # suture's own packages run the shop's tests
    event = capture_crash(shop, path="/cart/average", query="cart=empty")
    event["project"] = "shop"
    app.actors.ingest_delivery.send(app.store.add_delivery("file", "file", compact(event),
                                                           event)[0])
    drain(app)
    [run] = app.store.list_runs()
    states = {t.to_state: t.reason for t in app.store.transitions(run.id)}
    app.close()

    if declared:
        assert RunState.VERIFIED in states, states
        verdict = run.record.fix.chosen.verification
        assert verdict.suite.counts.ran_on_base > 0 and verdict.reproduction.reproduced
    else:
        assert RunState.VERIFIED not in states
        assert "ConnectionRefusedError" in states[RunState.UNVERIFIED], states
