"""Names whose values are secret whatever they look like: header names, JSON keys, query names.

A value under `Authorization`, `password` or `DD-API-KEY` is redacted without inspecting it,
because no pattern can recognise every password. Matching is on a normalised name (lower case,
without `-`, `_`, `.` and spaces) and by substring, so `X-Api-Key`, `client_secret`,
`SESSION_ID` and `csrftoken` all match. Substring matching over-redacts a little (`author`
contains `auth`); that is the intended side to err on.
"""

from __future__ import annotations

import re

from worker.scrub.hidden import strip_hidden

# Normalised fragments (see `normalise_key`). `apikey` covers api_key, x-api-key and dd-api-key;
# `signature` covers sentry-hook-signature; `cookie` covers set-cookie. The Datadog application
# key, AWS access keys, PHP/Express session cookies and `pwd` (mysql_pwd, db_pwd) are added
# because their names carry none of the other fragments.
DENYLIST: tuple[str, ...] = (
    "password",
    "passwd",
    "secret",
    "token",
    "apikey",
    "auth",
    "cookie",
    "session",
    "sessid",
    "csrf",
    "xsrf",
    "privatekey",
    "credential",
    "signature",
    "appkey",
    "applicationkey",
    "accesskey",
    "pwd",
    "passphrase",
    "passcode",
)

_SEPARATORS = re.compile(r"[-_.\s]+")


def normalise_key(key: str) -> str:
    """A name folded for comparison: visible characters only, lower case, no separators."""
    return _SEPARATORS.sub("", strip_hidden(key).lower())


def is_denylisted(key: str) -> bool:
    """True when a value stored under `key` must be redacted regardless of its content."""
    folded = normalise_key(key)
    return any(fragment in folded for fragment in DENYLIST)
