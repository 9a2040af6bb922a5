"""Which environment variables may cross into an agent's sandbox: never a credential.

An agent CLI reaches its model through the model proxy on the host, which adds the key itself,
so nothing in the sandbox needs one. A variable is kept out when its name says it holds a
credential (a `KEY`, `TOKEN`, `SECRET`, `PASSWORD`, `CREDENTIALS`, `AUTH` or `DSN` part, or a
name ending in `KEY`/`TOKEN`), or when its value looks like one to the scrubber. Playbooks naming
such a variable are refused when loaded; the CLI agent strips any that still arrive and says
which, by name only.
"""

from __future__ import annotations

import re

from worker.scrub import find_secrets

_SECRET_PARTS = frozenset({"KEY", "APIKEY", "TOKEN", "SECRET", "SECRETS", "PASSWORD", "PASSWD",
                           "PASS", "CREDENTIAL", "CREDENTIALS", "AUTH", "DSN", "COOKIE",
                           "PRIVATE", "SESSION", "PAT"})
_NOT_SECRETS = frozenset({"email", "ipv4", "ipv6"})


def secret_name(name: str) -> bool:
    """Whether a variable's name says it holds a credential."""
    upper = name.upper()
    parts = {part for part in re.split(r"[_\-.]+", upper) if part}
    return bool(parts & _SECRET_PARTS) or upper.endswith(("KEY", "TOKEN", "SECRET"))


def secret_reason(name: str, value: str) -> str:
    """Why `name=value` may not enter a sandbox, or "" when it may."""
    if secret_name(name):
        return f"{name} is named like a credential"
    kinds = sorted({found.kind for found in find_secrets(value)} - _NOT_SECRETS)
    if kinds:
        return f"the value of {name} looks like a credential ({kinds[0]})"
    return ""


def split_env(env: dict[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """`env` parted into what may enter the sandbox and what may not (name → reason)."""
    kept: dict[str, str] = {}
    dropped: dict[str, str] = {}
    for name, value in env.items():
        reason = secret_reason(name, value)
        if reason:
            dropped[name] = reason
        else:
            kept[name] = value
    return kept, dropped
