"""Rules for credentials with a recognisable shape: vendor tokens, JWTs, auth headers, keys.

Each pattern follows the vendor's published prefix and alphabet but never a fixed length where
the vendor says the length may change: GitHub installation tokens (`ghs_`) are moving from 36
characters to a ~520-character `ghs_<appid>_<JWT>` form that contains `.`, `_` and `-`, so every
`gh?_` token is matched as "prefix, then at least 36 token characters", to its real end.
Prefixed patterns deliberately have no left word boundary: a token glued to other text is still
a token. Patterns are linear: every quantified run is bounded by a literal prefix or a
lookbehind, so attacker-sized input cannot make them backtrack quadratically.
"""

from __future__ import annotations

import base64
import binascii
import re

from worker.scrub.findings import PatternRule

_B64URL = r"[A-Za-z0-9_-]"

GITHUB = PatternRule(
    "github-token",
    # Classic and app tokens (ghp_, gho_, ghu_, ghs_, ghr_), old and stateless formats, and
    # fine-grained personal access tokens (github_pat_<22>_<59> today; not relied upon).
    re.compile(r"gh[pousr]_[A-Za-z0-9._-]{36,}|github_pat_[A-Za-z0-9_]{20,}"),
    trim=".",
)

AWS_ACCESS_KEY_ID = PatternRule("aws-access-key-id", re.compile(r"(?:AKIA|ASIA)[A-Z0-9]{16,}"))

SLACK_TOKEN = PatternRule(
    "slack-token",
    # Bot, user, app-level, legacy and refresh (xoxe.xoxp-...) tokens.
    re.compile(r"(?:xox[abposre](?:\.xox[a-z])?|xapp)-[A-Za-z0-9-]{10,}"),
)

SLACK_WEBHOOK = PatternRule(
    "slack-webhook",
    # The host and kind of hook stay readable; the ids and secret after them do not.
    re.compile(
        r"hooks\.slack(?:-gov)?\.com/(?:services|workflows|triggers)/(?P<secret>[A-Za-z0-9_/+-]+)"
    ),
    group="secret",
)

STRIPE = PatternRule(
    "stripe-key",
    re.compile(r"(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{10,}|whsec_[A-Za-z0-9+/=]{20,}"),
)

ANTHROPIC = PatternRule("anthropic-key", re.compile(r"sk-ant-[A-Za-z0-9_-]{20,}"))


def _random_looking(match: re.Match[str]) -> bool:
    """A `sk-...` body mixing digits and both cases: a key, not a slug like sk-learn-utils."""
    body = match.group("body")
    return (
        any(c.isdigit() for c in body)
        and any(c.isupper() for c in body)
        and any(c.islower() for c in body)
    )


OPENAI = PatternRule(
    "openai-key",
    # Legacy sk-<48>, sk-proj-..., sk-svcacct-..., sk-admin-...: one rule, any length >= 20.
    re.compile(r"(?<![A-Za-z0-9_-])sk-(?P<body>[A-Za-z0-9_-]{20,})"),
    accept=_random_looking,
)

SENTRY_TOKEN = PatternRule(
    # User (sntryu_) and organisation (sntrys_<base64 claims>_<secret>) auth tokens.
    "sentry-token",
    re.compile(r"sntry[su]_[A-Za-z0-9+/=_-]{20,}"),
)

GITLAB_TOKEN = PatternRule("gitlab-token", re.compile(r"glpat-[A-Za-z0-9_.-]{20,}"))

NPM_TOKEN = PatternRule("npm-token", re.compile(r"npm_[A-Za-z0-9]{36,}"))

GOOGLE_API_KEY = PatternRule("google-api-key", re.compile(r"AIza[A-Za-z0-9_-]{30,}"))

JWT = PatternRule(
    "jwt",
    # header.payload.signature (signature may be empty for alg=none); JWE has five segments.
    re.compile(rf"eyJ{_B64URL}{{4,}}\.{_B64URL}{{4,}}(?:\.{_B64URL}*){{1,3}}"),
    trim=".",
)


def _opaque_credential(match: re.Match[str]) -> bool:
    """True unless the word after `Bearer`/`Token` is prose ("Bearer token required")."""
    value = match.group("value")
    return len(value) >= 32 or any(c.isdigit() or c in "+/=_.~-" for c in value)


BEARER = PatternRule(
    "bearer",
    re.compile(r"(?i)\b(?:bearer|token)[ \t]+(?P<value>[A-Za-z0-9._~+/=-]{8,})"),
    group="value",
    accept=_opaque_credential,
    trim=".",
)


def _basic_credentials(match: re.Match[str]) -> bool:
    """True when the value after `Basic` decodes to `user:password`."""
    value = match.group("value")
    try:
        decoded = base64.b64decode(value + "=" * (-len(value) % 4), validate=True)
        readable = decoded.decode("utf-8")
    except (binascii.Error, ValueError):
        return False
    return ":" in readable and readable.isprintable()


BASIC = PatternRule(
    "basic-auth",
    re.compile(r"(?i)\bbasic[ \t]+(?P<value>[A-Za-z0-9+/]{6,}={0,2})"),
    group="value",
    accept=_basic_credentials,
)

PRIVATE_KEY = PatternRule(
    "private-key",
    # A whole BEGIN...END block (RSA, EC, DSA, OPENSSH, PKCS#8, encrypted, PGP). A block cut off
    # before its END line is redacted as far as base64, header lines and (escaped) newlines run.
    re.compile(
        r"-----BEGIN[A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----"
        r"(?:.*?-----END[A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----|[A-Za-z0-9+/=\s\\:,-]*)",
        re.DOTALL,
    ),
)

URL_CREDENTIALS = PatternRule(
    "url-credentials",
    # scheme://user:password@host -> the scheme and host stay. A user alone is redacted too: it
    # is often the credential itself (https://<token>@github.com, a Sentry DSN's key). The
    # password runs to the last `@` before the path, so an unencoded `@` in it does not leak.
    re.compile(r"://(?P<creds>[^\s/?#@:\[\]]+(?::[^\s/?#]*)?|:[^\s/?#]*)@"),
    group="creds",
)

# Most specific first: on an exact tie the earlier rule names the marker.
VENDOR_RULES: tuple[PatternRule, ...] = (
    PRIVATE_KEY,
    URL_CREDENTIALS,
    SLACK_WEBHOOK,
    GITHUB,
    SENTRY_TOKEN,
    GITLAB_TOKEN,
    NPM_TOKEN,
    AWS_ACCESS_KEY_ID,
    SLACK_TOKEN,
    STRIPE,
    ANTHROPIC,
    OPENAI,
    GOOGLE_API_KEY,
    JWT,
    BEARER,
    BASIC,
)
