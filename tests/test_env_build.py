"""Repository environments built for real: bubblewrap, the egress proxy, PyPI and the npm
registry. A Python repository's tests import its dependency only with the environment in use;
a second preparation is a cache hit that runs no setup; a failing setup keeps nothing and says
why; no credential of the host's index configuration reaches the sandbox; node_modules built
once is used from a second worktree."""

from __future__ import annotations

import json
import logging
import os
import shutil
import socket
from pathlib import Path

import pytest
from typer.testing import CliRunner

from integrations.git import GitWorkspace
from integrations.sandbox import BubblewrapSandbox
from integrations.sandbox.environments import SandboxEnvironments
from tests.gitrepo import GitRepoBuilder
from worker.cli import cli
from worker.env.models import ENV_DIR, WORKDIR, Environment, EnvironmentFailure
from worker.fix.models import CommandResult, SandboxPolicy
from worker.verify.suite import run_tests

pytestmark = pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap not installed")

SECRET = "s3cretPassw0rd"
TEST_FILE = ('import tomli_w\n\n\ndef test_dumps():\n'
             '    assert tomli_w.dumps({"a": 1}) == "a = 1\\n"\n')
PACKAGE_JSON = '{"name": "tiny", "version": "1.0.0", "private": true, ' \
               '"dependencies": {"is-number": "7.0.0"}}\n'
PACKAGE_LOCK = json.dumps({
    "name": "tiny", "version": "1.0.0", "lockfileVersion": 3, "requires": True,
    "packages": {
        "": {"name": "tiny", "version": "1.0.0", "dependencies": {"is-number": "7.0.0"}},
        "node_modules/is-number": {
            "version": "7.0.0",
            "resolved": "https://registry.npmjs.org/is-number/-/is-number-7.0.0.tgz",
            "integrity": "sha512-41Cifkg6e8TylSpdtTpeLVMqvSBEVzTttHvERD741+pnZ8ANv0004MRL43QKPDl"
                         "K9cGvNp6NZWZUBlbGXYxxng==",
            "license": "MIT", "engines": {"node": ">=0.12.0"}}}}, indent=2) + "\n"


def needs(host: str) -> None:
    """Skip unless `host` answers on 443 (the tests reach real package indexes)."""
    try:
        socket.create_connection((host, 443), timeout=10).close()
    except OSError:
        pytest.skip(f"{host} is not reachable")


class Recording:
    """The real sandbox, keeping every command and policy it is handed."""

    def __init__(self) -> None:
        self.inner = BubblewrapSandbox()
        self.calls: list[tuple[list[str], SandboxPolicy]] = []

    def run(self, worktree: Path, argv: list[str], policy: SandboxPolicy,
            stdin: str | None = None) -> CommandResult:
        self.calls.append((list(argv), policy))
        return self.inner.run(worktree, argv, policy, stdin)

    @property
    def audit(self) -> list[CommandResult]:
        return self.inner.audit

    def setups(self) -> list[list[str]]:
        """Commands run with network (the setup's), in order."""
        return [argv for argv, policy in self.calls if policy.allow_hosts]


def repository(path: Path, files: dict[str, str]) -> GitWorkspace:
    GitRepoBuilder(path).commit(files, "init")
    return GitWorkspace(path)


def test_a_python_environment_is_built_used_and_then_reused(tmp_path, caplog, record_property):
    needs("pypi.org")
    caplog.set_level(logging.INFO, "suture.sandbox.egress")
    workspace = repository(tmp_path / "repo", {"requirements.txt": "tomli-w\n",
                                               "test_dump.py": TEST_FILE})
    sandbox = Recording()
    # The host's index URL names credentials: the setup gets the URL, never them.
    environ = {**os.environ, "PIP_INDEX_URL": f"https://builder:{SECRET}@pypi.org/simple"}
    engine = SandboxEnvironments(tmp_path / "envs", sandbox, environ=environ)

    first = engine.prepare(workspace, "HEAD")
    setups_after_first = len(sandbox.setups())
    second = engine.prepare(workspace, "HEAD")

    assert isinstance(first, Environment) and isinstance(second, Environment), first
    record_property("first_build_seconds", first.seconds)
    record_property("reuse_seconds", second.seconds)
    print(f"\nfirst build {first.seconds:.2f}s, reuse {second.seconds:.3f}s, "
          f"{first.size_bytes / 1_048_576:.1f} MB")
    assert not first.reused and second.reused and second.key == first.key
    assert len(sandbox.setups()) == setups_after_first == 3  # venv, requirements, pytest
    assert first.source == ("detected from requirements.txt: pip into a virtualenv; pytest "
                            "added, since no dependency file names it")
    assert first.workdir == WORKDIR and first.mounts[0].target == ENV_DIR
    assert not first.mounts[0].writable and first.env["VIRTUAL_ENV"] == f"{ENV_DIR}/venv"
    assert any("egress allowed: pypi.org:443" in r.message for r in caplog.records)
    handed = json.dumps([[argv, policy.model_dump()] for argv, policy in sandbox.calls])
    assert SECRET not in handed and "builder" not in handed
    assert "PIP_INDEX_URL" in handed

    with workspace.worktree("HEAD", tmp_path / "tree") as tree:
        suite = run_tests(sandbox, tree, "python -m pytest -q", first.apply(SandboxPolicy()))
        bare = sandbox.run(tree, ["python", "-c", "import tomli_w"], SandboxPolicy())
        # suture's own packages (pydantic is one) do not leak into the environment.
        leak = sandbox.run(tree, ["python", "-c", "import pydantic"], first.apply(SandboxPolicy()))
    assert suite.result.exit_code == 0, suite.result.stdout + suite.result.stderr
    assert leak.exit_code == 1 and "No module named 'pydantic'" in leak.stderr
    assert suite.outcomes.results == {"test_dump.py::test_dumps": "passed"}
    assert bare.exit_code == 1 and "No module named 'tomli_w'" in bare.stderr


def test_a_failing_setup_keeps_nothing_and_says_why(tmp_path):
    needs("pypi.org")
    workspace = repository(tmp_path / "repo", {
        "requirements.txt": "pytest\nsuture-no-such-package-0f9a3c\n"})
    engine = SandboxEnvironments(tmp_path / "envs", BubblewrapSandbox())

    failure = engine.prepare(workspace, "HEAD")

    assert isinstance(failure, EnvironmentFailure)
    assert failure.reason == ("setup step 2 of 2 failed (exit 1): python -m pip install -r "
                              "requirements.txt")
    assert failure.exit_code == 1 and failure.command.endswith("-r requirements.txt")
    assert "No matching distribution found for suture-no-such-package-0f9a3c" in failure.log
    assert list((tmp_path / "envs" / "entries").iterdir()) == []
    assert list((tmp_path / "envs" / "staging").iterdir()) == []


def test_no_credential_of_the_host_reaches_the_sandbox(tmp_path):
    home = tmp_path / "home"
    (home / ".config" / "pip").mkdir(parents=True)
    (home / ".config" / "pip" / "pip.conf").write_text(
        f"[global]\nindex-url = https://ci:{SECRET}@pypi.example/simple\n")
    (home / ".npmrc").write_text(f"registry=https://ci:{SECRET}@npm.example/\n"
                                 f"//npm.example/:_authToken={SECRET}\n")
    environ = {"HOME": str(home), "PATH": os.environ.get("PATH", ""), "NPM_TOKEN": SECRET,
               "PIP_EXTRA_INDEX_URL": f"https://u:{SECRET}@extra.example/simple",
               "GOPROXY": f"https://u:{SECRET}@goproxy.example"}
    workspace = repository(tmp_path / "repo", {
        "README.md": "no dependency files\n",
        ".suture.yml": "setup:\n  - env\n"})
    sandbox = Recording()
    engine = SandboxEnvironments(tmp_path / "envs", sandbox, environ=environ)

    ready = engine.prepare(workspace, "HEAD")

    assert isinstance(ready, Environment), ready
    assert ready.source == "configured in .suture.yml (1 command)"
    (argv, policy), = sandbox.calls
    assert SECRET not in json.dumps([argv, policy.model_dump()])
    assert policy.env["PIP_INDEX_URL"] == "https://pypi.example/simple"
    assert policy.env["npm_config_registry"] == "https://npm.example/"
    assert "NPM_TOKEN" not in policy.env
    assert {"pypi.example", "extra.example", "npm.example", "goproxy.example"} <= set(
        policy.allow_hosts)
    seen = sandbox.audit[0].stdout  # what the setup itself saw
    assert "PIP_INDEX_URL=https://pypi.example/simple" in seen and SECRET not in seen


def test_node_modules_built_once_is_used_read_only_from_another_worktree(tmp_path):
    needs("registry.npmjs.org")
    workspace = repository(tmp_path / "repo", {"package.json": PACKAGE_JSON,
                                               "package-lock.json": PACKAGE_LOCK})
    sandbox = Recording()
    engine = SandboxEnvironments(tmp_path / "envs", sandbox)

    built = engine.prepare(workspace, "HEAD")
    again = engine.prepare(workspace, "HEAD")

    assert isinstance(built, Environment) and isinstance(again, Environment), built
    assert built.commands == ["npm ci"] and not built.reused and again.reused
    assert [argv[-1] for argv in sandbox.setups()] == ["npm ci"]
    assert [m.target for m in built.mounts] == [ENV_DIR, f"{WORKDIR}/node_modules"]
    with workspace.worktree("HEAD", tmp_path / "second") as tree:
        policy = again.apply(SandboxPolicy())
        used = sandbox.run(tree, ["node", "-e", "console.log(require('is-number')(5))"], policy)
        write = sandbox.run(tree, ["sh", "-c", "touch node_modules/planted"], policy)
        on_host = list((tree / "node_modules").iterdir()) if (tree / "node_modules").exists() \
            else []
    assert used.exit_code == 0 and used.stdout.strip() == "true", used.stderr
    assert write.exit_code != 0  # kept folders are read-only in a run
    assert on_host == []  # the worktree holds at most an empty mount point


def test_the_env_build_command_reports_a_build_then_a_reuse(tmp_path, monkeypatch):
    for name in list(os.environ):
        if name.startswith("SUTURE_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("SUTURE_ENV__CACHE_DIR", str(tmp_path / "envs"))
    GitRepoBuilder(tmp_path / "repo").commit({"README.md": "hi\n"}, "init")
    args = ["env", "build", "--repo", str(tmp_path / "repo"), "--setup-command",
            "echo set up > done.txt", "--json"]

    first = CliRunner().invoke(cli, args)
    second = CliRunner().invoke(cli, args)
    text = CliRunner().invoke(cli, args[:-1])

    assert first.exit_code == 0, first.output
    built, reused = json.loads(first.stdout), json.loads(second.stdout)
    assert built["ready"] and not built["reused"] and reused["reused"]
    assert built["key"] == reused["key"] and built["commands"] == ["echo set up > done.txt"]
    assert built["source"] == "configured for the service (1 command)"
    assert text.exit_code == 0 and f"environment {built['key'][:16]} reused" in text.stdout


def test_the_env_build_command_exits_1_on_a_failing_setup(tmp_path, monkeypatch):
    monkeypatch.setenv("SUTURE_ENV__CACHE_DIR", str(tmp_path / "envs"))
    GitRepoBuilder(tmp_path / "repo").commit({"README.md": "hi\n"}, "init")

    done = CliRunner().invoke(cli, ["env", "build", "--repo", str(tmp_path / "repo"),
                                    "--setup-command", "echo broken >&2; exit 3"])

    assert done.exit_code == 1
    assert "setup failed: setup step 1 of 1 failed (exit 3): echo broken >&2; exit 3" \
        in done.stdout
