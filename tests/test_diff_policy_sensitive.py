"""Paths no playbook can open to a fix: credentials, SSH keys, git hooks and autorun files, the
places an injected instruction would put its payload. Refused even when the playbook allows
every path and every protected group."""

from __future__ import annotations

import pytest

from worker.verify import DiffPolicy, check_diff_policy

EVERYTHING = DiffPolicy(allowed_paths=["**"], allow_ci=True, allow_deploy=True,
                        allow_dependencies=True, allow_test_machinery=True, max_files=50)
ATTACKER_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAttackerKeyMaterialGoesHere attacker@evil"


def new_file(path: str, content: str = "x = 1") -> str:
    return (f"diff --git a/{path} b/{path}\nnew file mode 100644\nindex 0000000..1111111\n"
            f"--- /dev/null\n+++ b/{path}\n@@ -0,0 +1 @@\n+{content}\n")


@pytest.mark.parametrize(("path", "rule"), [
    (".ssh/authorized_keys", "credentials-file"),
    ("home/deploy/.ssh/authorized_keys", "credentials-file"),
    ("authorized_keys", "credentials-file"),
    ("config/id_ed25519", "credentials-file"),
    (".netrc", "credentials-file"),
    (".git-credentials", "credentials-file"),
    (".npmrc", "credentials-file"),
    (".pypirc", "credentials-file"),
    (".aws/credentials", "credentials-file"),
    (".docker/config.json", "credentials-file"),
    (".env", "credentials-file"),
    ("app/.ENV.production", "credentials-file"),
    ("certs/server.pem", "credentials-file"),
    (".githooks/pre-commit", "autorun-file"),
    (".husky/pre-push", "autorun-file"),
    (".pre-commit-config.yaml", "autorun-file"),
    (".envrc", "autorun-file"),
    (".bashrc", "autorun-file"),
    (".vscode/tasks.json", "autorun-file"),
    (".devcontainer/devcontainer.json", "autorun-file"),
    (".gitmodules", "source-file"),
])
def test_sensitive_paths_are_refused_whatever_the_playbook_allows(path: str, rule: str) -> None:
    findings = check_diff_policy(new_file(path, ATTACKER_KEY), EVERYTHING)
    assert [f.rule for f in findings] == [rule], findings
    assert findings[0].path == path
    assert "no playbook can allow a fix to change it" in findings[0].detail


@pytest.mark.parametrize("path", [".github/workflows/deploy.yml", ".buildkite/pipeline.yml",
                                  ".travis.yml", ".gitlab/ci/build.yml"])
def test_ci_files_are_refused_unless_allowed(path: str) -> None:
    [finding] = check_diff_policy(new_file(path), DiffPolicy())
    assert finding.rule == "ci-file"
    assert check_diff_policy(new_file(path), DiffPolicy(allow_ci=True)) == []


@pytest.mark.parametrize("path", ["shop/keys.py", "docs/ssh.md", "shop/environment.py",
                                  "tests/test_authorized.py", "shop/profile.py"])
def test_ordinary_files_with_similar_names_pass(path: str) -> None:
    assert check_diff_policy(new_file(path), DiffPolicy()) == []
