"""The diff policy: which changes a patch may make at all, judged from its text alone (pure).

A patch is refused, whatever its tests say, when it: touches `.git`, an unsafe path or a
sensitive one (credentials, hooks and autorun files: `sensitive`, never allowed); leaves
the playbook's allowed paths; edits CI, deployment, dependency or test-runner files the
playbook does not allow; carries a binary file, a symlink or a submodule; adds a secret;
exceeds the file or line budget; or weakens tests (see `weakening`). `check_diff_policy`
returns every finding, not just the first, so a reviewer sees the whole picture; an empty list
means the patch may go on to be tested.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterator

from pydantic import BaseModel, ConfigDict, Field

from worker.fix.models import PolicyFinding
from worker.scrub import find_secrets
from worker.verify.diffparse import DiffError, FileDiff, parse_diff
from worker.verify.paths import TEST_MACHINERY, in_git_dir, matches_any, unsafe_reason
from worker.verify.sensitive import sensitive
from worker.verify.weakening import weakening_findings

CI_PATHS = [".github/**", ".gitlab-ci.yml", ".gitlab/**", ".circleci/**", "Jenkinsfile",
            "azure-pipelines.yml", ".buildkite/**", ".travis.yml", "bitbucket-pipelines.yml",
            ".drone.yml", ".woodpecker/**", ".woodpecker.yml"]
DEPLOY_PATHS = ["deploy/**", "Dockerfile*", "docker-compose*.yml", "k8s/**", "helm/**", "*.tf"]
DEPENDENCY_PATHS = [
    "*.lock", "poetry.lock", "package-lock.json", "yarn.lock", "pnpm-lock.yaml", "Pipfile.lock",
    "requirements*.txt", "requirements/**", "pyproject.toml", "setup.py", "setup.cfg",
    "package.json", "go.mod", "go.sum", "Cargo.toml", "Cargo.lock", "pom.xml", "build.gradle*",
]
# Personal data is for scrubbing, not a reason to refuse: tests are full of example addresses.
_NOT_SECRETS = frozenset({"email", "ipv4", "ipv6"})
_SYMLINK, _SUBMODULE = "120000", "160000"


class DiffPolicy(BaseModel):
    """What a playbook lets a patch change. Protected groups are refused unless allowed."""

    model_config = ConfigDict(extra="forbid")

    allowed_paths: list[str] = Field(default_factory=lambda: ["**"])
    max_files: int = Field(default=10, ge=0)
    max_changed_lines: int = Field(default=200, ge=0)
    allow_test_deletion: bool = False
    allow_ci: bool = False
    allow_deploy: bool = False
    allow_dependencies: bool = False
    allow_test_machinery: bool = False
    ci_paths: list[str] = Field(default_factory=lambda: list(CI_PATHS))
    deploy_paths: list[str] = Field(default_factory=lambda: list(DEPLOY_PATHS))
    dependency_paths: list[str] = Field(default_factory=lambda: list(DEPENDENCY_PATHS))
    test_machinery_paths: list[str] = Field(default_factory=lambda: list(TEST_MACHINERY))


def check_diff_policy(diff_text: str, policy: DiffPolicy) -> list[PolicyFinding]:
    """Every way `diff_text` breaks `policy`; an empty list means it may be tested."""
    try:
        files = parse_diff(diff_text)
    except DiffError as exc:
        return [PolicyFinding(rule="unparsable", detail=f"the patch is not a readable diff: {exc}")]
    if not files:
        return [PolicyFinding(rule="empty", detail="the patch changes no file")]
    findings = list(_budget(files, policy))
    for file in files:
        findings.extend(_file_findings(file, policy))
    return findings


def _budget(files: list[FileDiff], policy: DiffPolicy) -> Iterator[PolicyFinding]:
    if len(files) > policy.max_files:
        yield PolicyFinding(rule="too-many-files",
                            detail=f"the patch changes {len(files)} files; at most "
                                   f"{policy.max_files} are allowed")
    lines = sum(file.changed_lines for file in files)
    if lines > policy.max_changed_lines:
        yield PolicyFinding(rule="too-many-lines",
                            detail=f"the patch changes {lines} lines; at most "
                                   f"{policy.max_changed_lines} are allowed")


def _file_findings(file: FileDiff, policy: DiffPolicy) -> Iterator[PolicyFinding]:
    for path in file.paths:
        yield from _path_findings(path, policy)
    if file.binary:
        yield PolicyFinding(rule="binary", path=file.path,
                            detail="binary files cannot be reviewed in a diff")
    for mode in (file.old_mode, file.new_mode):
        if mode in (_SYMLINK, _SUBMODULE):
            kind = "a symbolic link" if mode == _SYMLINK else "a submodule"
            yield PolicyFinding(rule="special-file", path=file.path,
                                detail=f"the patch touches {kind}")
            break
    yield from _secrets(file)
    yield from weakening_findings(file, allow_test_deletion=policy.allow_test_deletion)


def _path_findings(path: str, policy: DiffPolicy) -> Iterator[PolicyFinding]:
    unsafe = unsafe_reason(path)
    if unsafe:
        yield PolicyFinding(rule="path-unsafe", path=path, detail=f"the path {unsafe}")
        return
    if in_git_dir(path):
        yield PolicyFinding(rule="git-dir", path=path,
                            detail="nothing under .git may ever be changed")
        return
    refused = sensitive(path)
    if refused is not None:
        yield PolicyFinding(rule=refused[0], path=path, detail=refused[1])
        return
    if matches_any(policy.allowed_paths, path) is None:
        yield PolicyFinding(rule="outside-allowed-paths", path=path,
                            detail="the playbook allows only " + ", ".join(policy.allowed_paths))
    groups = (
        ("ci-file", policy.allow_ci, policy.ci_paths, "allow_ci", "CI configuration"),
        ("deploy-file", policy.allow_deploy, policy.deploy_paths, "allow_deploy",
         "deployment configuration"),
        ("dependency-file", policy.allow_dependencies, policy.dependency_paths,
         "allow_dependencies", "a dependency or lock file"),
        ("test-machinery", policy.allow_test_machinery, policy.test_machinery_paths,
         "allow_test_machinery", "test-runner configuration, which decides how tests run"),
    )
    for rule, allowed, patterns, flag, what in groups:
        if allowed:
            continue
        pattern = matches_any(patterns, path, anywhere=True, ignore_case=True)
        if pattern is not None:
            yield PolicyFinding(rule=rule, path=path,
                                detail=f"{what} ({pattern}) is changed only when the playbook "
                                       f"sets {flag}")


def _secrets(file: FileDiff) -> Iterator[PolicyFinding]:
    if not file.added:
        return
    text = "\n".join(line for _, line in file.added)
    starts = [0]
    for _, line in file.added[:-1]:
        starts.append(starts[-1] + len(line) + 1)
    for found in find_secrets(text):
        if found.kind in _NOT_SECRETS:
            continue
        number = file.added[bisect_right(starts, found.start) - 1][0]
        # The secret itself is never quoted: findings end up in logs and pull requests.
        yield PolicyFinding(rule="secret", path=file.path,
                            detail=f"line {number} adds what looks like a {found.kind}")
