"""Paths no fix may ever change, whatever the playbook allows: places that hold or grant
credentials, that run code on a developer's machine or in git without review, or that decide
where code comes from.

A crash fix has no reason to touch them, and each is where an injected instruction ("add this
SSH key to authorized_keys", "install this hook") would land: a patch touching one is refused
with the group's reason. Patterns follow `paths.glob_match` and are matched at any depth and in
any letter case.
"""

from __future__ import annotations

from worker.verify.paths import matches_any

CREDENTIAL_PATHS = [
    ".ssh/**", "authorized_keys*", "id_rsa*", "id_dsa*", "id_ecdsa*", "id_ed25519*",
    "known_hosts", ".netrc", "_netrc", ".git-credentials", ".gitconfig", ".npmrc", ".pypirc",
    ".yarnrc", ".yarnrc.yml", ".docker/config.json", ".aws/**", ".kube/**", ".gnupg/**",
    ".config/gh/**", ".env", ".env.*", "*.pem", "*.key", "*.p12", "*.pfx", "*.keystore",
    "*.jks", "credentials.json",
]
AUTORUN_PATHS = [
    ".githooks/**", ".husky/**", ".pre-commit-config.yaml", ".pre-commit-hooks.yaml",
    "lefthook.yml", "lefthook.yaml", ".lefthook.yml", ".lefthook/**", ".envrc",
    ".bashrc", ".bash_profile", ".profile", ".zshrc", ".zprofile", ".vscode/**",
    ".devcontainer/**",
]
SOURCE_PATHS = [".gitmodules"]
# (rule, patterns, what the group is) in the order they are checked
GROUPS = (
    ("credentials-file", CREDENTIAL_PATHS, "a file that holds or grants credentials"),
    ("autorun-file", AUTORUN_PATHS,
     "a git hook or a file a shell or editor runs on its own"),
    ("source-file", SOURCE_PATHS, "where the repository fetches other code from"),
)


def sensitive(path: str) -> tuple[str, str] | None:
    """(rule, detail) when `path` may never be changed by a fix, else None."""
    for rule, patterns, what in GROUPS:
        pattern = matches_any(patterns, path, anywhere=True, ignore_case=True)
        if pattern is not None:
            return rule, f"{what} ({pattern}); no playbook can allow a fix to change it"
    return None
