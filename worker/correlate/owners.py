"""Owners of a crash: CODEOWNERS of the stack's files, then authors of the crashing lines.

Commit emails become code-host logins where that can be known without guessing: a configured
map first (the operator's word), then GitHub noreply addresses (they carry the login), then the
code host's own record of which account a commit belongs to (an `AccountDirectory`, when one is
configured). An owner never appears twice; CODEOWNERS entries come first (they are what the team
declared), innermost frame first. Suspects get their author's login the same way.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from worker.correlate import codeowners
from worker.correlate.models import MappedFrame, Owner, Suspect
from worker.ports import AccountDirectory, Repository, SutureError
from worker.vcs import BlameLine

_NOREPLY = re.compile(
    r"^(?:\d+\+)?([A-Za-z0-9][A-Za-z0-9-]{0,38})@users\.noreply\.github\.com$", re.IGNORECASE)


def login_for(email: str, logins: Mapping[str, str]) -> str | None:
    """The code-host login of a commit email, when it is known."""
    lowered = email.strip().lower()
    for known, login in logins.items():
        if known.lower() == lowered:
            return login
    match = _NOREPLY.match(email.strip())  # the login as its owner spells it
    return match.group(1) if match else None


def resolve_login(email: str, sha: str, logins: Mapping[str, str],
                  accounts: AccountDirectory | None = None) -> str | None:
    """The login of commit `sha`'s author: the map, the noreply address, then the code host."""
    login = login_for(email, logins)
    # An all-zero sha is git's "not committed yet": no code host has heard of it.
    if login is not None or accounts is None or not email.strip() or not sha.strip("0"):
        return login
    try:
        return accounts.login_of(sha, email.strip())
    except SutureError:  # the port promises not to raise; a lookup never fails correlation
        return None


def name_suspects(suspects: list[Suspect], logins: Mapping[str, str],
                  accounts: AccountDirectory | None = None) -> list[Suspect]:
    """The suspects with their author's login filled in where it can be known."""
    return [suspect.model_copy(update={"login": suspect.login or resolve_login(
        suspect.email, suspect.sha, logins, accounts)}) for suspect in suspects]


def find_owners(repo: Repository, release: str, app: list[MappedFrame],
                blame: Mapping[str, Mapping[int, BlameLine]],
                logins: Mapping[str, str],
                accounts: AccountDirectory | None = None) -> list[Owner]:
    """Owners for the in-app frames, best first, without duplicates."""
    owners: list[Owner] = []
    seen: set[str] = set()
    rules = _rules(repo, release)
    ordered = sorted(app, key=lambda item: item.depth or 0)
    for item in ordered:
        rule, names = codeowners.owners_of(rules, item.path or "")
        for name in names:
            if name.lower() not in seen:
                seen.add(name.lower())
                owners.append(Owner(name=name, login=name.lstrip("@") if name.startswith("@")
                                    else None, email=name if "@" in name[1:] else "",
                                    source="codeowners",
                                    reason=f"CODEOWNERS line {rule.line if rule else '?'} "
                                           f"({rule.pattern if rule else ''}) owns {item.path}"))
    for item in ordered:
        line = blame.get(item.path or "", {}).get(item.frame.lineno or -1)
        if line is None or not line.email:
            continue
        login = resolve_login(line.email, line.sha, logins, accounts)
        key = (login or line.email).lower()
        if key in seen or f"@{key}" in seen:
            continue
        seen.add(key)
        owners.append(Owner(name=line.author or line.email, login=login, email=line.email,
                            source="blame",
                            reason=f"last changed {item.path}:{line.line}"))
    return owners


def _rules(repo: Repository, release: str) -> list[codeowners.Rule]:
    present = set(repo.files(release))
    for location in codeowners.LOCATIONS:
        if location in present:
            text = repo.read(release, location)
            return codeowners.parse(text) if text else []
    return []
