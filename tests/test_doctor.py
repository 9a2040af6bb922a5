"""`suture doctor` and the start-up checks, on real things: git repositories built here, a
`file://` URL to nowhere, a bubblewrap that cannot run, SQLite files, Redis, sockets listening
here and closed ports, folders that cannot be written, and the CLI."""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from integrations.git import GitMirror
from integrations.probes import HostProbes
from tests.gitrepo import GitRepoBuilder
from worker.app.local import doctor_probes
from worker.cli import cli
from worker.doctor import Check, Status, SystemProbes, needs, run_checks
from worker.doctor.checks import (
    INSTALL_BWRAP,
    check_broker,
    check_database,
    check_forge,
    check_git,
    check_playbooks,
    check_repository,
    check_sandbox,
    is_remote,
    redact,
)
from worker.doctor.environment import (
    INDEX_GROUPS,
    check_env_cache,
    check_package_indexes,
    check_test_services,
    index_targets,
    reach,
)
from worker.doctor.model import RepositoryProbe
from worker.doctor.sources import check_datadog, check_sentry
from worker.env.indexes import DEFAULT_HOSTS
from worker.env.models import IndexConfig
from worker.settings import ServiceSettings, load_settings
from worker.store import SqlStore

ROOT = Path(__file__).resolve().parents[1]
NAMESPACE_REFUSAL = ("bwrap: No permissions to creating new namespace, likely because the kernel "
                     "does not allow non-privileged user namespaces.")


def settings(tmp_path: Path, **overrides: Any):
    values: dict[str, Any] = {"database_url": f"sqlite:///{tmp_path / 'suture.db'}",
                              "tickets_dir": tmp_path / "tickets",
                              "data_dir": tmp_path / "data"}
    return load_settings(None, **(values | overrides))


def probes(bwrap: str = "bwrap", proc_sys: Path = Path("/proc/sys")) -> SystemProbes:
    return SystemProbes(HostProbes(bwrap=bwrap, proc_sys=proc_sys))


def repo(tmp_path: Path) -> Path:
    builder = GitRepoBuilder(tmp_path / "shop")
    builder.commit({"app.py": "print('hi')\n"}, "first")
    return builder.path


def service(repository: str, branch: str = "main") -> ServiceSettings:
    return ServiceSettings(name="shop", repository=repository, default_branch=branch)


def fake_bwrap(tmp_path: Path, message: str) -> str:
    script = tmp_path / "bwrap"
    script.write_text(f"#!/bin/sh\ncat >&2 <<'END'\n{message}\nEND\nexit 1\n")
    script.chmod(0o755)
    return str(script)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def listening() -> Iterator[int]:
    """A port on 127.0.0.1 that accepts connections (the kernel completes the handshake)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield int(sock.getsockname()[1])


class Indexes(SystemProbes):
    """The real probes, with the host's index configuration replaced by `config`."""

    def __init__(self, config: IndexConfig) -> None:
        super().__init__(HostProbes())
        self.config = config

    def package_indexes(self) -> IndexConfig:
        return self.config


# git and the sandbox -----------------------------------------------------------------------


def test_git_is_found():
    check = check_git(probes())
    assert check.status is Status.OK and check.found.startswith("git version")


def test_git_that_cannot_run_is_an_error_with_the_install_line():
    class NoGit:
        def git_version(self) -> str:
            raise OSError("git: not found")

    check = check_git(NoGit())  # type: ignore[arg-type]
    assert check.status is Status.ERROR and "not found" in check.found
    assert check.fix == "install git: apt-get install -y git"


def test_the_real_sandbox_runs_true(tmp_path):
    check = check_sandbox(settings(tmp_path), probes())
    assert check == Check("sandbox", Status.OK, "bubblewrap ran `true` in a sandbox")


def test_a_missing_bwrap_says_install_it(tmp_path):
    check = check_sandbox(settings(tmp_path), probes(bwrap=str(tmp_path / "no-bwrap")))
    assert check.status is Status.ERROR and "not installed" in check.found
    assert check.fix == INSTALL_BWRAP


def test_a_bwrap_refused_a_namespace_reports_user_namespaces_disabled(tmp_path):
    bwrap = fake_bwrap(tmp_path, NAMESPACE_REFUSAL)
    check = check_sandbox(settings(tmp_path), probes(bwrap=bwrap, proc_sys=tmp_path / "none"))
    assert check.status is Status.ERROR
    assert "unprivileged user namespaces are disabled" in check.found
    assert NAMESPACE_REFUSAL in check.found  # bubblewrap's own words
    assert "seccomp=unconfined" in check.fix


def test_the_kernel_setting_that_forbids_user_namespaces_is_named_with_its_sysctl(tmp_path):
    proc_sys = tmp_path / "sys"
    (proc_sys / "kernel").mkdir(parents=True)
    (proc_sys / "kernel" / "unprivileged_userns_clone").write_text("0\n")
    bwrap = fake_bwrap(tmp_path, "bwrap: setting up uid map: Permission denied")
    check = check_sandbox(settings(tmp_path), probes(bwrap=bwrap, proc_sys=proc_sys))
    assert "(kernel.unprivileged_userns_clone = 0)" in check.found
    assert check.fix == "allow user namespaces: sysctl -w kernel.unprivileged_userns_clone=1"


def test_a_bwrap_failing_otherwise_shows_its_message(tmp_path):
    bwrap = fake_bwrap(tmp_path, "bwrap: Can't find source path /usr/lib64")
    check = check_sandbox(settings(tmp_path), probes(bwrap=bwrap, proc_sys=tmp_path / "none"))
    assert check.status is Status.ERROR and "Can't find source path /usr/lib64" in check.found
    assert "namespaces" not in check.found


def test_the_sandbox_is_not_needed_without_the_fix_loop(tmp_path):
    broken = probes(bwrap=str(tmp_path / "no-bwrap"))
    check = check_sandbox(settings(tmp_path, fix={"enabled": False}), broken)
    assert check.status is Status.OK and "fix loop is off" in check.found


# repositories ------------------------------------------------------------------------------


def test_a_local_git_repository_with_its_branch_is_ok(tmp_path):
    check = check_repository(service(str(repo(tmp_path))), probes(), 10)
    assert check.status is Status.OK and "branch main" in check.found


def test_a_folder_that_is_not_a_git_repository_is_an_error(tmp_path):
    (tmp_path / "plain").mkdir()
    check = check_repository(service(str(tmp_path / "plain")), probes(), 10)
    assert check.status is Status.ERROR and "not a git repository" in check.found
    assert 'repository of service "shop"' in check.fix


def test_a_missing_path_is_an_error(tmp_path):
    check = check_repository(service(str(tmp_path / "nowhere")), probes(), 10)
    assert check.status is Status.ERROR and "no such folder" in check.found


def test_a_local_default_branch_that_does_not_exist_is_a_warning_naming_head(tmp_path):
    check = check_repository(service(str(repo(tmp_path)), "trunk"), probes(), 10)
    assert check.status is Status.WARNING and "runs start from HEAD" in check.found
    assert check.fix == 'set default_branch = "main" for service "shop"'


def test_a_reachable_url_with_its_branch_is_ok(tmp_path):
    check = check_repository(service(repo(tmp_path).as_uri()), probes(), 10)
    assert check.status is Status.OK


def test_an_unreachable_url_is_an_error(tmp_path):
    url = (tmp_path / "missing").as_uri()
    check = check_repository(service(url), probes(), 10)
    assert check.status is Status.ERROR and "does not appear to be a git repository" in check.found
    assert "credentials" in check.fix


def test_a_url_without_the_default_branch_is_an_error_naming_its_head(tmp_path):
    check = check_repository(service(repo(tmp_path).as_uri(), "trunk"), probes(), 10)
    assert check.status is Status.ERROR and "branch trunk does not exist" in check.found
    assert check.fix == 'set default_branch = "main" for service "shop"'


def test_a_url_that_times_out_is_only_a_warning():
    class Slow:
        def remote_repository(self, url: str, branch: str, timeout: float) -> RepositoryProbe:
            return RepositoryProbe(error="git ls-remote timed out after 10 s", timed_out=True)

    check = check_repository(service("https://git.example/shop.git"), Slow(), 10)  # type: ignore[arg-type]
    assert check.status is Status.WARNING and "did not answer within 10 s" in check.found


def test_local_and_remote_are_told_apart_as_the_mirror_does(tmp_path):
    path = repo(tmp_path)
    assert not is_remote(str(path)) and GitMirror(tmp_path / "m").ensure(str(path)) == path
    assert is_remote("git@github.com:acme/shop.git") and is_remote("file:///x")
    assert redact("https://user:s3cret@git.example/x.git") == "https://user:***@git.example/x.git"


# forge, database, broker, playbooks, sources ---------------------------------------------------


def test_forge_github_needs_a_token(tmp_path):
    check = check_forge(settings(tmp_path, forge="github"), probes())
    assert check.status is Status.ERROR and "SUTURE_GITHUB__TOKEN" in check.fix
    with_token = check_forge(settings(tmp_path, forge="github", github={"token": "t"}), probes())
    assert with_token.status is Status.OK


def test_forge_files_needs_a_writable_tickets_folder(tmp_path):
    (tmp_path / "a-file").write_text("")
    bad = check_forge(settings(tmp_path, tickets_dir=tmp_path / "a-file" / "tickets"), probes())
    assert bad.status is Status.ERROR and "is not a folder" in bad.found
    assert check_forge(settings(tmp_path), probes()).status is Status.OK
    assert not (tmp_path / "tickets").exists()  # looking creates nothing


def test_database_states(tmp_path):
    config = settings(tmp_path)
    fresh = check_database(config, probes())
    assert fresh.status is Status.OK and "not created yet" in fresh.found
    assert not (tmp_path / "suture.db").exists()
    sqlite3.connect(tmp_path / "suture.db").close()
    empty = check_database(config, probes())
    assert empty.status is Status.WARNING and "suture db upgrade" in empty.fix
    store = SqlStore(config.database_url)
    store.migrate()
    store.close()
    current = check_database(config, probes())
    assert current.status is Status.OK and "schema at head" in current.found
    with sqlite3.connect(tmp_path / "suture.db") as connection:
        connection.execute("UPDATE alembic_version SET version_num = 'f00dfeed'")
    newer = check_database(config, probes())
    assert newer.status is Status.ERROR and "f00dfeed" in newer.found


def test_a_database_that_does_not_answer_is_an_error(tmp_path):
    url = f"postgresql://suture:pw@127.0.0.1:{closed_port()}/suture"
    check = check_database(settings(tmp_path, database_url=url), probes())
    assert check.status is Status.ERROR and "SUTURE_DATABASE_URL" in check.fix
    assert "pw" not in check.found and "***" in check.found


def test_a_broker_that_does_not_answer_is_an_error(tmp_path):
    config = settings(tmp_path, broker_url=f"redis://127.0.0.1:{closed_port()}/0")
    check = check_broker(config, probes())
    assert check.status is Status.ERROR and "SUTURE_BROKER_URL" in check.fix
    assert check_broker(settings(tmp_path), probes()).status is Status.OK  # in-memory


@pytest.mark.redis
def test_a_redis_broker_that_answers_is_ok(tmp_path):
    check = check_broker(settings(tmp_path, broker_url="redis://127.0.0.1:6379/0"), probes())
    assert check.status is Status.OK


def test_playbooks_load_or_name_their_problems(tmp_path):
    assert check_playbooks(settings(tmp_path), probes()).status is Status.OK
    (tmp_path / "pb").mkdir()
    empty = check_playbooks(settings(tmp_path, playbooks_dir=tmp_path / "pb"), probes())
    assert empty.status is Status.ERROR and "no playbooks" in empty.found
    (tmp_path / "pb" / "broken.yaml").write_text("name: [unclosed\n")
    broken = check_playbooks(settings(tmp_path, playbooks_dir=tmp_path / "pb"), probes())
    assert broken.status is Status.ERROR and "broken.yaml" in broken.found
    assert "suture playbooks check" in broken.fix


def test_sources_need_whole_credential_pairs(tmp_path):
    assert check_sentry(settings(tmp_path)).found == "not configured"
    half = check_sentry(settings(tmp_path, sentry={"org": "acme"}))
    assert half.status is Status.ERROR and "SUTURE_SENTRY__TOKEN" in half.fix
    webhooks = check_sentry(settings(tmp_path, sentry={"client_secret": "s"}))
    assert webhooks.status is Status.OK
    nothing = check_sentry(settings(tmp_path, sentry={"projects": ["shop"]}))
    assert nothing.status is Status.ERROR
    dd = check_datadog(settings(tmp_path, datadog={"api_key": "k"}))
    assert dd.status is Status.ERROR and dd.fix == "set SUTURE_DATADOG__APP_KEY"
    both = check_datadog(settings(tmp_path, datadog={"api_key": "k", "app_key": "a"}))
    assert both.status is Status.OK


# test services, the environment cache, package indexes ------------------------------------------


def with_tests_services(port: int, *others: dict[str, Any]) -> ServiceSettings:
    return ServiceSettings(name="shop", repository="/srv/shop", test_services=[
        {"name": "redis", "host": "127.0.0.1", "port": port}, *others])


def test_test_services_that_answer_are_ok(listening):
    check = check_test_services(with_tests_services(listening), probes())
    assert check == Check("test services shop", Status.OK, f"redis at 127.0.0.1:{listening} answer")


def test_a_test_service_that_does_not_answer_is_a_warning_naming_service_and_address(listening):
    port = closed_port()
    pg = {"name": "pg", "host": "127.0.0.1", "port": port}
    check = check_test_services(with_tests_services(listening, pg), probes())
    assert check.status is Status.WARNING
    assert f"pg at 127.0.0.1:{port} does not answer" in check.found
    assert "refused" in check.found and "cannot be verified" in check.found
    assert "redis" not in check.found
    assert check.fix == (f'start pg (127.0.0.1:{port}) or correct its host and port in '
                         'test_services of service "shop"')


def test_test_services_are_checked_per_service_only_with_the_fix_loop(tmp_path, listening):
    shop = {"name": "shop", "repository": str(tmp_path),
            "test_services": [{"name": "redis", "host": "127.0.0.1", "port": closed_port()}]}
    plain = {"name": "blog", "repository": str(tmp_path)}
    on = run_checks(settings(tmp_path, services=[shop, plain]), probes(), ["test services"])
    assert [(c.name, c.status) for c in on] == [("test services shop", Status.WARNING)]
    off = run_checks(settings(tmp_path, services=[shop], fix={"enabled": False}), probes(),
                     ["test services"])
    assert [(c.name, c.status) for c in off] == [("test services", Status.OK)]
    none = run_checks(settings(tmp_path, services=[plain]), probes(), ["test services"])
    assert none[0].found.startswith("none declared")


def test_a_hanging_connect_is_cut_off():
    class Hangs:
        def connect(self, host: str, port: int, timeout: float) -> None:
            time.sleep(30)

    started = time.monotonic()
    answers = reach(Hangs(), [("db.example", 5432)], 0.2)  # type: ignore[arg-type]
    assert time.monotonic() - started < 5
    assert answers == {("db.example", 5432): "no answer within 0.2 s"}


def test_a_writable_environment_cache_is_ok_and_nothing_is_created(tmp_path):
    config = settings(tmp_path, env={"cache_dir": "", "max_cache_mb": 1})  # the default
    check = check_env_cache(config, probes())
    assert check.status is Status.OK
    assert check.found.startswith(f"{tmp_path / 'data' / 'envs'}: writable")
    assert not (tmp_path / "data").exists()


def test_an_environment_cache_under_a_file_is_an_error(tmp_path):
    (tmp_path / "a-file").write_text("")
    config = settings(tmp_path, env={"cache_dir": str(tmp_path / "a-file" / "envs")})
    check = check_env_cache(config, probes())
    assert check.status is Status.ERROR and "is not a folder" in check.found
    assert "SUTURE_ENV__CACHE_DIR" in check.fix


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_an_environment_cache_under_a_read_only_folder_is_an_error(tmp_path):
    (tmp_path / "ro").mkdir(mode=0o555)
    config = settings(tmp_path, env={"cache_dir": str(tmp_path / "ro" / "cache" / "envs")})
    check = check_env_cache(config, probes())
    assert check.status is Status.ERROR and "not writable by this user" in check.found


def test_less_free_space_than_the_cache_may_take_is_a_warning(tmp_path):
    config = settings(tmp_path, env={"cache_dir": str(tmp_path / "envs"),
                                     "max_cache_mb": 10**12})
    check = check_env_cache(config, probes())
    assert check.status is Status.WARNING and "less than env.max_cache_mb" in check.found
    assert "SUTURE_ENV__MAX_CACHE_MB" in check.fix


def test_package_indexes_that_answer_are_ok(tmp_path, listening):
    hosts = [f"127.0.0.1:{listening}"]
    check = check_package_indexes(settings(tmp_path), Indexes(IndexConfig(allow_hosts=hosts)))
    assert check == Check("package indexes", Status.OK, f"127.0.0.1:{listening} answer")


def test_a_package_index_that_does_not_answer_is_a_warning(tmp_path, listening):
    port = closed_port()
    config = IndexConfig(allow_hosts=[f"127.0.0.1:{listening}", f"127.0.0.1:{port}"],
                         env={"PIP_INDEX_URL": f"http://127.0.0.1:{port}/simple"})
    check = check_package_indexes(settings(tmp_path), Indexes(config))
    assert check.status is Status.WARNING
    assert check.found.startswith(f"127.0.0.1:{port} does not answer (")
    assert str(listening) not in check.found
    assert check.fix.startswith("environments cannot be built")
    assert "correct the index configuration" in check.fix


def test_pypi_unanswered_says_configure_a_mirror(tmp_path):
    class Offline(Indexes):
        def connect(self, host: str, port: int, timeout: float) -> None:
            raise OSError(f"{host}: no route")

    check = check_package_indexes(settings(tmp_path),
                                  Offline(IndexConfig(allow_hosts=list(DEFAULT_HOSTS))))
    assert check.status is Status.WARNING
    assert "pypi.org:443 does not answer" in check.found
    assert "registry.npmjs.org" not in check.found  # no JavaScript service
    assert "set PIP_INDEX_URL (pip.conf index-url) to a mirror" in check.fix
    off = check_package_indexes(settings(tmp_path, fix={"enabled": False}),
                                Offline(IndexConfig(allow_hosts=list(DEFAULT_HOSTS))))
    assert off.status is Status.OK and "fix loop is off" in off.found


def test_index_targets_follow_the_configuration_and_the_services_languages():
    assert {host for group, _, _ in INDEX_GROUPS for host in group} == set(DEFAULT_HOSTS)
    defaults = IndexConfig(allow_hosts=list(DEFAULT_HOSTS))
    assert index_targets(defaults, {"python"}) == [("pypi.org", 443),
                                                   ("files.pythonhosted.org", 443)]
    assert ("registry.npmjs.org", 443) in index_targets(defaults, {"typescript"})
    assert ("sum.golang.org", 443) in index_targets(defaults, {"go"})
    mirror = IndexConfig(allow_hosts=[*DEFAULT_HOSTS, "pypi.corp", "[::1]:8443"],
                         env={"PIP_INDEX_URL": "http://pypi.corp/simple",
                              "PIP_EXTRA_INDEX_URL": "https://[::1]:8443/simple"})
    assert index_targets(mirror, {"python"}) == [("pypi.corp", 80), ("::1", 8443)]
    local = IndexConfig(allow_hosts=list(DEFAULT_HOSTS), env={"PIP_INDEX_URL": "/host/simple"})
    assert index_targets(local, {"python"}) == []


def test_the_host_probe_reads_the_index_configuration_as_setups_do(tmp_path):
    environ = {"HOME": str(tmp_path), "PIP_CONFIG_FILE": os.devnull,
               "PIP_INDEX_URL": "https://user:secret@mirror.corp:8443/simple"}
    config = HostProbes(environ=environ).package_indexes()
    assert "pypi.org" in config.allow_hosts and "mirror.corp:8443" in config.allow_hosts
    assert config.env["PIP_INDEX_URL"] == "https://mirror.corp:8443/simple"
    assert index_targets(config, {"python"}) == [("mirror.corp", 8443)]


# which command checks what -------------------------------------------------------------------


def test_each_command_checks_what_it_needs():
    assert set(needs("web")) == set(needs("scheduler")) == {"database", "broker"}
    assert "sandbox" in needs("worker") and "sandbox" in needs("worker", ["agent"])
    assert "sandbox" not in needs("worker", ["default"])
    assert "repositories" in needs("worker", ["default"])
    for name in ("environment cache", "package indexes", "test services"):
        assert name in needs("worker") and name not in needs("worker", ["default"])
    assert needs("run") == needs("doctor")


def test_run_checks_gives_one_result_per_repository_in_order(tmp_path):
    config = settings(tmp_path, services=[
        {"name": "a", "repository": str(repo(tmp_path))},
        {"name": "b", "repository": str(tmp_path / "nowhere")}])
    checks = run_checks(config, doctor_probes(), needs("web") + ("repositories",))
    assert [check.name for check in checks] == ["repository a", "repository b", "database",
                                                "broker"]
    assert [check.status for check in checks][:2] == [Status.OK, Status.ERROR]


# the command line -----------------------------------------------------------------------------


@pytest.fixture
def env(tmp_path, monkeypatch) -> dict[str, str]:
    for name in list(os.environ):
        if name.startswith("SUTURE_"):
            monkeypatch.delenv(name)
    values = {"SUTURE_DATABASE_URL": f"sqlite:///{tmp_path / 'suture.db'}",
              "SUTURE_TICKETS_DIR": str(tmp_path / "tickets"),
              "SUTURE_DATA_DIR": str(tmp_path / "data")}
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values


def test_doctor_prints_every_check_and_exits_0_when_none_failed(tmp_path, env, monkeypatch):
    monkeypatch.setenv("SUTURE_SERVICES", json.dumps([{"name": "shop",
                                                       "repository": str(repo(tmp_path))}]))
    result = CliRunner().invoke(cli, ["doctor"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split()[:2] == ["ok", "git"]
    assert any(line.split()[:3] == ["ok", "repository", "shop"] for line in lines)
    assert lines[-1].endswith("0 failed")


def test_doctor_exits_1_with_the_failure_and_its_fix(tmp_path, env, monkeypatch):
    monkeypatch.setenv("SUTURE_SERVICES", json.dumps([{"name": "shop",
                                                       "repository": str(tmp_path)}]))
    result = CliRunner().invoke(cli, ["doctor"])
    assert result.exit_code == 1
    assert "FAIL  repository shop" in result.stdout
    assert 'fix: set the repository of service "shop"' in result.stdout
    as_json = CliRunner().invoke(cli, ["doctor", "--json"])
    report = json.loads(as_json.stdout)
    assert as_json.exit_code == 1 and report["ok"] is False
    failed = [check for check in report["checks"] if check["status"] == "error"]
    assert [check["name"] for check in failed] == ["repository shop"]


def test_doctor_reports_an_invalid_configuration_as_a_failed_check(env, monkeypatch):
    monkeypatch.setenv("SUTURE_PORT", "eighty")
    result = CliRunner().invoke(cli, ["doctor"])
    assert result.exit_code == 1 and "FAIL  configuration" in result.stdout
    assert "SUTURE_PORT" in result.stdout


def test_web_refuses_to_start_without_its_broker(env, monkeypatch):
    monkeypatch.setenv("SUTURE_BROKER_URL", f"redis://127.0.0.1:{closed_port()}/0")
    result = CliRunner().invoke(cli, ["web"])
    assert result.exit_code == 2
    assert "`suture web` cannot start" in result.stderr and "FAIL  broker" in result.stderr


def test_run_refuses_a_wrong_repository_path_quickly_and_without_a_traceback(tmp_path):
    config = tmp_path / "suture.toml"
    config.write_text(f'database_url = "sqlite:///{tmp_path / "suture.db"}"\n'
                      f'data_dir = "{tmp_path / "data"}"\n'
                      f'tickets_dir = "{tmp_path / "tickets"}"\n'
                      f"port = {closed_port()}\n"
                      "[[services]]\n"
                      'name = "shop"\n'
                      f'repository = "{tmp_path / "no-such-clone"}"\n')
    clean = {name: value for name, value in os.environ.items() if not name.startswith("SUTURE_")}
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "worker.cli", "run", "--config", str(config)],
                          cwd=ROOT, env=clean, capture_output=True, text=True, timeout=60,
                          check=False)
    assert time.monotonic() - started < 30
    assert done.returncode == 2, done.stderr
    assert "`suture run` cannot start: 1 check(s) failed" in done.stderr
    assert "FAIL  repository shop" in done.stderr and "no such folder" in done.stderr
    assert 'fix: set the repository of service "shop"' in done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    assert not (tmp_path / "suture.db").exists()  # nothing was started
