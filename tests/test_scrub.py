"""The scrubber: every vendor format is redacted, ordinary text survives, scrubbing is idempotent.

Secrets are assembled at run time from pieces so this file holds no contiguous token that a
secret scanner or push-protection hook would flag; each is shaped like the vendor's real format.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import worker.scrub.text as scrub_text_module
from integrations.standins.base import recorded
from worker.models import ErrorEvent, ExceptionInfo, Frame, RequestData, Source
from worker.scrub import (
    Finding,
    find_secrets,
    pseudonym,
    scrub_event,
    scrub_mapping,
    scrub_text,
    strip_hidden,
)
from worker.scrub.assignment import kind_for
from worker.scrub.findings import KINDS, PatternRule

_NOISE = "aB3dE5gH7jK9mN1pQ3sT5vW7yZ9bC1dF3hJ5kL7"


def body(length: int, alphabet: str = _NOISE) -> str:
    """A deterministic random-looking string of `length` characters."""
    return (alphabet * (length // len(alphabet) + 1))[:length]


def b64url(length: int) -> str:
    return body(length, _NOISE + "-_")


GHP = "gh" + "p_" + body(36)
GHS_OLD = "gh" + "s_" + body(36)
# The stateless installation token: ghs_<app id>_<JWT>, ~520 characters, with `.`, `_`, `-`.
GHS_NEW = "gh" + "s_" + "1234567_" + "eyJ" + b64url(40) + ".eyJ" + b64url(380) + "." + b64url(86)
FINE_GRAINED = "github" + "_pat_" + body(22) + "_" + body(59)
AKIA = "AK" + "IA" + "QYLPMN5HXR2TBV7W"
ASIA = "AS" + "IA" + "ZX4KQ7ABCDEFGH23"
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/" + "bPxRfiCYEXAMPLEKEY12"
SLACK_BOT = "xo" + "xb-" + "2368541209-4729811200536-" + body(24)
SLACK_USER = "xo" + "xp-" + "2368541209-2368541210-4729811200536-" + body(32).lower()
SLACK_HOOK_PATH = "T0" + "1ABCDEF2/B0" + "23GHIJK45/" + body(24)
STRIPE_LIVE = "sk" + "_live_" + body(24)
STRIPE_RESTRICTED = "rk" + "_live_" + body(24)
STRIPE_TEST = "sk" + "_test_" + body(24)
OPENAI_LEGACY = "sk" + "-" + body(48)
OPENAI_PROJECT = "sk" + "-proj-" + b64url(120)
ANTHROPIC_KEY = "sk" + "-ant-api03-" + b64url(93) + "AA"
GOOGLE_KEY = "AI" + "za" + b64url(35)
JWT = "eyJ" + "hbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9" + ".eyJ" + b64url(60) + "." + b64url(43)
OPAQUE = "mF_9.B5f-4.1JqM"
BASIC_CREDS = "YWxhZGRpbjpvcGVuc2VzYW1l"  # aladdin:opensesame
PEM_LINES = [body(64, _NOISE + "+/") for _ in range(3)]
PEM_KIND = "RSA PRIVATE" + " KEY"
PEM = "\n".join([f"-----BEGIN {PEM_KIND}-----", *PEM_LINES, f"-----END {PEM_KIND}-----"])
DD_API_KEY = "0123456789abcdef" * 2
DD_APP_KEY = "fedcba9876543210" * 2 + "01234567"
EMAIL = "alice.smith@example.com"
VISA = "4111 1111 1111 1111"
MASTERCARD = "5555-5555-5555-4444"
AMEX = "378282246310005"

POSITIVES: list[tuple[str, str, tuple[str, ...]]] = [
    ("ghp", f"using {GHP} for the API", (GHP,)),
    ("gho", "oauth " + "gh" + "o_" + body(36), ("gh" + "o_" + body(36),)),
    ("ghu", "user-to-server " + "gh" + "u_" + body(36), ("gh" + "u_" + body(36),)),
    ("ghs-old", f"installation {GHS_OLD}.", (GHS_OLD,)),
    ("ghs-stateless", f"x-access-token:{GHS_NEW} end", (GHS_NEW, GHS_NEW[-60:])),
    ("ghr", "refresh=" + "gh" + "r_" + body(76), ("gh" + "r_" + body(76),)),
    ("github-fine-grained", f"GITHUB_TOKEN {FINE_GRAINED}", (FINE_GRAINED, FINE_GRAINED[-30:])),
    ("github-in-json", json.dumps({"headers": {"X-Custom": f"token {GHP}"}}), (GHP,)),
    (
        "github-in-traceback",
        f'  File "/srv/app/client.py", line 42, in call\n'
        f'    requests.get(url, headers={{"X-Upstream": "{GHP}"}})',
        (GHP,),
    ),
    ("aws-akia", f"aws configure set aws_access_key_id {AKIA}", (AKIA,)),
    ("aws-asia", f"temporary credentials {ASIA} expired", (ASIA,)),
    ("aws-secret-assign", f"aws_secret_access_key={AWS_SECRET}", (AWS_SECRET,)),
    ("aws-secret-json", json.dumps({"AWS_SECRET_ACCESS_KEY": AWS_SECRET}), (AWS_SECRET,)),
    ("slack-bot", f"slack client with {SLACK_BOT}", (SLACK_BOT,)),
    ("slack-user", f"token={SLACK_USER}&channel=C1", (SLACK_USER,)),
    (
        "slack-hook",
        f"POST https://hooks.slack.com/services/{SLACK_HOOK_PATH} failed",
        (SLACK_HOOK_PATH,),
    ),
    ("stripe-live", f"stripe.api_key = '{STRIPE_LIVE}'", (STRIPE_LIVE,)),
    ("stripe-restricted", f"key {STRIPE_RESTRICTED} lacks scope", (STRIPE_RESTRICTED,)),
    ("stripe-test", f"InvalidRequestError for {STRIPE_TEST}", (STRIPE_TEST,)),
    (
        "openai-legacy",
        f"openai.AuthenticationError: Incorrect API key {OPENAI_LEGACY}",
        (OPENAI_LEGACY,),
    ),
    ("openai-project", f"OPENAI_API_KEY {OPENAI_PROJECT}", (OPENAI_PROJECT,)),
    ("anthropic", f"x-api-key header {ANTHROPIC_KEY} rejected", (ANTHROPIC_KEY,)),
    (
        "google",
        f"https://maps.googleapis.com/maps/api/geocode/json?key={GOOGLE_KEY}",
        (GOOGLE_KEY,),
    ),
    ("jwt", f"invalid signature on {JWT}", (JWT, JWT.split(".")[1])),
    ("bearer-opaque", f"curl -H 'Authorization: Bearer {OPAQUE}'", (OPAQUE,)),
    ("bearer-in-prose", f"sent bearer {OPAQUE} to upstream", (OPAQUE,)),
    ("basic", f"Basic {BASIC_CREDS}", (BASIC_CREDS,)),
    ("pem", f"loaded key:\n{PEM}\nthen failed", tuple(PEM_LINES)),
    ("pem-in-json", json.dumps({"key_material": PEM}), tuple(PEM_LINES)),
    (
        "pem-truncated",
        f"-----BEGIN OPENSSH {PEM_KIND.split()[1]} KEY-----\n{PEM_LINES[0]}\n{PEM_LINES[1]}",
        (PEM_LINES[0], PEM_LINES[1]),
    ),
    (
        "url-password",
        "could not connect to postgres://app:Sup3rS3cret!@db.internal:5432/app",
        ("Sup3rS3cret!", "app:"),
    ),
    ("url-password-only", "redis://:r3d1sPa55@cache:6379/0", ("r3d1sPa55",)),
    (
        "url-password-with-at",
        "https://bob:p@ss@w0rd@git.example.org/repo.git",
        ("p@ss@w0rd", "w0rd"),
    ),
    (
        "sentry-dsn-key",
        "init(dsn='https://f3e8a1b2c4d5@o1.ingest.sentry.io/42')",
        ("f3e8a1b2c4d5",),
    ),
    ("url-user-token", f"git clone https://{GHP}@github.com/o/r.git", (GHP,)),
    ("password-assign", "login failed: password=hunter2 user=bob", ("hunter2",)),
    ("api-key-json", '{"api_key": "k-3f9a2b", "page": 2}', ("k-3f9a2b",)),
    ("token-yaml", "token: tok_5f2a9c81", ("tok_5f2a9c81",)),
    (
        "python-repr",
        "KeyError in handler: {'user': 'bob', 'password': 'correct horse'}",
        ("correct horse",),
    ),
    (
        "json-in-json",
        json.dumps({"body": json.dumps({"client_secret": "cs-9d8f7e"})}),
        ("cs-9d8f7e",),
    ),
    ("query-token", "GET /callback?code=ok&access_token=at.a1b2c3&state=x", ("at.a1b2c3",)),
    ("datadog-api-key", f"DD_API_KEY={DD_API_KEY}", (DD_API_KEY,)),
    ("datadog-app-header", f"DD-APPLICATION-KEY: {DD_APP_KEY}", (DD_APP_KEY,)),
    (
        "cookie-line",
        "Cookie: sessionid=s3ss10n; theme=dark; csrftoken=c5rf70k3n",
        ("s3ss10n", "c5rf70k3n"),
    ),
    ("authorization-line", f"Authorization: Bearer {OPAQUE}", (OPAQUE,)),
    ("email", f"user {EMAIL} not found", (EMAIL,)),
    ("email-in-path", f'  File "/home/{EMAIL}/app/views.py", line 7, in index', (EMAIL,)),
    ("email-url-encoded", "GET /reset?email=alice.smith%40example.com HTTP/1.1", ("alice.smith",)),
    ("email-in-json", json.dumps({"customer": {"contact": EMAIL}}), (EMAIL,)),
    ("card-visa", f"charge failed for card {VISA} (declined)", (VISA,)),
    ("card-mastercard", f"card={MASTERCARD}", (MASTERCARD,)),
    ("card-amex", f"pan {AMEX}", (AMEX,)),
    ("card-trailing-number", f"card {VISA} 2 items", (VISA,)),
    ("ipv4", "connection from 203.0.113.42:5123 refused", ("203.0.113.42",)),
    (
        "ipv4-in-header-list",
        "X-Forwarded-For: 198.51.100.7, 10.0.0.1",
        ("198.51.100.7", "10.0.0.1"),
    ),
    ("ipv6-full", "peer 2001:0db8:85a3:0000:0000:8a2e:0370:7334 reset", ("2001:0db8:85a3",)),
    ("ipv6-compressed", "listen on [2001:db8::8a2e:370:7334]:443", ("2001:db8::8a2e",)),
    ("ipv6-link-local", "from fe80::1ff:fe23:4567:890a", ("fe80::1ff",)),
    ("ipv6-mapped", "client ::ffff:192.0.2.128 closed", ("192.0.2.128",)),
    ("hidden-split-token", GHP[:6] + "\u200b" + GHP[6:], (GHP, GHP[6:])),
]


@pytest.mark.parametrize(
    ("text", "secrets"),
    [(text, secrets) for _, text, secrets in POSITIVES],
    ids=[p[0] for p in POSITIVES],
)
def test_secret_is_redacted(text: str, secrets: tuple[str, ...]) -> None:
    scrubbed = scrub_text(text)
    assert "[REDACTED:" in scrubbed
    for secret in secrets:
        assert secret not in scrubbed


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        (GHS_NEW, "github-token"),
        (AKIA, "aws-access-key-id"),
        (f"aws_secret_access_key = {AWS_SECRET}", "aws-secret-key"),
        (SLACK_BOT, "slack-token"),
        (STRIPE_LIVE, "stripe-key"),
        (OPENAI_PROJECT, "openai-key"),
        (ANTHROPIC_KEY, "anthropic-key"),
        (GOOGLE_KEY, "google-api-key"),
        (JWT, "jwt"),
        (PEM, "private-key"),
        (EMAIL, "email"),
        (VISA, "credit-card"),
        ("8.8.8.8", "ipv4"),
        ("2001:db8::1", "ipv6"),
        (f"dd_api_key: {DD_API_KEY}", "datadog-key"),
        ("password=hunter2", "password"),
    ],
)
def test_marker_names_the_kind(text: str, kind: str) -> None:
    assert f"[REDACTED:{kind}]" in scrub_text(text)


def test_stateless_installation_token_is_redacted_whole() -> None:
    assert scrub_text(f"git clone https://x-access-token:{GHS_NEW}@github.com/o/r.git") == (
        "git clone https://[REDACTED:url-credentials]@github.com/o/r.git"
    )
    assert scrub_text(f"token {GHS_NEW}.") == "token [REDACTED:github-token]."


def test_url_credentials_keep_scheme_and_host() -> None:
    scrubbed = scrub_text("postgres://app:Sup3rS3cret!@db.internal:5432/app")
    assert scrubbed == "postgres://[REDACTED:url-credentials]@db.internal:5432/app"


def test_assignment_keeps_the_name() -> None:
    assert scrub_text('{"password": "hunter2", "page": 2}') == (
        '{"password": "[REDACTED:password]", "page": 2}'
    )


NEGATIVES = [
    "commit 9fceb02d0ae598e95dc970b74767f19372d61af8",
    "event 5b055874a7aa6bc55c511b66694a1fbe",
    "trace 550e8400-e29b-41d4-a716-446655440000",
    f"hex {DD_API_KEY} alone",
    "upgraded to v1.2.3 and v1.2.3.4",
    "Python 3.11.4 on CPython 3.13.5",
    "started at 12:30:45, finished 2025-06-27T06:48:32.866410Z",
    "epoch 1751006912866 and 1751006912866410",
    '  File "/usr/lib/python3.13/site-packages/django/core/handlers/base.py", line 55, in inner',
    "services/auth.py:42: in authenticate",
    "get_token_for_user(session_key, auth_backend)",
    "line 1234, column 56",
    "listening on 127.0.0.1:8000 and 0.0.0.0:8080 and [::1]:9000",
    "std::vector<int> and foo::bar::baz and Vec::new",
    "values[1::2] and values[::3]",
    "MAC 00:1a:2b:3c:4d:5e",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0",
    "card 4111 1111 1111 1112 fails Luhn",
    "order 12345678901234567890 and id 4111111111111111111111",
    "Bearer token required",
    "Basic authentication failed",
    "sk-learn-compatibility-module-name",
    "@app.route('/login') and @property",
    "KeyError: 'user_id'",
    "token = get_token()",
    "def login(user, password: str = None, token: Optional[str] = None):",
    "self.session = request.session",
    "ssh ok; see https://example.com/docs?page=2#auth",
    "TypeError: unsupported operand type(s) for +: 'int' and 'str'",
    "redis.exceptions.AuthenticationError: invalid username-password pair",
    "rest_framework.exceptions.NotAuthenticated: Authentication credentials were not provided.",
    "jwt.exceptions.ExpiredSignatureError: Signature has expired",
]


@pytest.mark.parametrize("text", NEGATIVES)
def test_ordinary_text_survives(text: str) -> None:
    assert scrub_text(text) == text
    assert find_secrets(text) == []


def test_four_part_version_is_treated_as_an_address() -> None:
    # A deliberate trade-off: 1.2.3.4 cannot be told from an IPv4 address, and leaking an address
    # is worse than hiding a version number; three-part and `v`-prefixed versions survive.
    assert scrub_text("release 1.2.3.4") == "release [REDACTED:ipv4]"


def test_hidden_characters_are_stripped() -> None:
    text = (
        "ab\u200bc\u200d\u2060d\ufeff"  # zero-width characters
        "\u202eevil\u202c\u2066iso\u2069"  # bidi override, isolate
        "\U000e0049\U000e0047\U000e004e"  # Unicode tag characters ("IGN")
        "\x07\x1b[31m\x7f\x85"  # controls
        "\tkeep\r\n"
    )
    assert scrub_text(text) == "abcdeviliso[31m\tkeep\r\n"
    assert strip_hidden("line\nnext\ttab\r") == "line\nnext\ttab\r"
    assert strip_hidden("lone \ud800surrogate") == "lone surrogate"


def test_hidden_characters_in_mapping_keys_do_not_hide_a_denylisted_name() -> None:
    assert scrub_mapping({"pass\u200bword": "hunter2"}) == {"password": "[REDACTED:field]"}


@pytest.mark.parametrize(
    "key",
    [
        "Authorization",
        "authorization",
        "Proxy-Authorization",
        "X-API-Key",
        "x_api_key",
        "apikey",
        "DD-API-KEY",
        "DD-APPLICATION-KEY",
        "Cookie",
        "Set-Cookie",
        "Sentry-Hook-Signature",
        "X-Hub-Signature-256",
        "X-CSRFToken",
        "client_secret",
        "SESSION_ID",
        "X-Auth-Token",
        "private-key",
        "passwd",
        "DB_PASSWORD",
        "Credentials",
    ],
)
def test_denylisted_keys_are_redacted_whatever_the_value(key: str) -> None:
    assert scrub_mapping({key: "plain"}) == {key: "[REDACTED:field]"}


def test_other_mapping_values_are_scrubbed_as_text() -> None:
    scrubbed = scrub_mapping({"Accept": "text/html", "From": EMAIL, "X-Real-Ip": "198.51.100.7"})
    assert scrubbed == {
        "Accept": "text/html",
        "From": "[REDACTED:email]",
        "X-Real-Ip": "[REDACTED:ipv4]",
    }


def test_find_secrets_returns_sorted_non_overlapping_findings() -> None:
    text = f"{EMAIL} then password={GHP} then 8.8.8.8"
    findings = find_secrets(text)
    assert [f.kind for f in findings] == ["email", "github-token", "ipv4"]
    assert all(isinstance(f, Finding) for f in findings)
    assert all(a.end <= b.start for a, b in zip(findings, findings[1:], strict=False))
    assert text[findings[0].start : findings[0].end] == EMAIL
    assert text[findings[2].start : findings[2].end] == "8.8.8.8"


def test_text_dressed_as_a_marker_is_still_scrubbed() -> None:
    slack_token = "xo" + "xb-" + "2368541209-abcdefghijkl"
    scrubbed = scrub_text(f'password="[REDACTED:hunter]" [REDACTED:{slack_token}]')
    assert "hunter" not in scrubbed
    assert slack_token not in scrubbed


def test_every_kind_a_rule_can_emit_is_a_known_marker_kind() -> None:
    rules = scrub_text_module.ALL_RULES
    pattern_kinds = {rule.name for rule in rules if isinstance(rule, PatternRule)}
    names = ["password", "token", "aws_secret_access_key", "DD_API_KEY", "dd-application-key"]
    assert pattern_kinds | {kind_for(name) for name in names} <= KINDS


class _BrokenRule:
    name = "broken"

    def find(self, text: str) -> list[Finding]:
        raise RuntimeError("rule bug")


def test_a_broken_rule_does_not_stop_the_others(monkeypatch: pytest.MonkeyPatch) -> None:
    rules = (_BrokenRule(), *scrub_text_module.ALL_RULES)
    monkeypatch.setattr(scrub_text_module, "ALL_RULES", rules)
    assert scrub_text(f"mail {EMAIL}") == "mail [REDACTED:email]"


def test_an_unexpected_failure_withholds_the_text(monkeypatch: pytest.MonkeyPatch) -> None:
    def explode(text: str) -> str:
        raise MemoryError

    monkeypatch.setattr(scrub_text_module, "strip_hidden", explode)
    assert scrub_text(f"mail {EMAIL}") == "[REDACTED:unscrubbable]"


# -- properties ---------------------------------------------------------------------------------

FRAGMENTS = [
    "password",
    "token",
    "=",
    ": ",
    '"',
    "'",
    '\\"',
    "@",
    "%40",
    "example.com",
    ".",
    ":",
    "::",
    "/",
    "://u:",
    "?",
    "&",
    " ",
    "\n",
    "-",
    "_",
    "1.2.3.4",
    "10.0.0.",
    "fe80",
    "4111 1111 1111 1111",
    "4111",
    "Bearer ",
    "Basic ",
    "AKIA",
    "gh" + "p_",
    "eyJ",
    "[REDACTED:email]",
    "[",
    "]",
    "\u200b",
    "\u202e",
    "-----BEGIN " + PEM_KIND + "-----",
    "sk-",
    "xo" + "xb-",
    "Cookie: ",
]
mixed_text = st.lists(st.sampled_from(FRAGMENTS) | st.text(max_size=6), max_size=30).map("".join)


@settings(deadline=None)
@given(st.text())
def test_never_raises_and_is_idempotent_on_any_text(text: str) -> None:
    once = scrub_text(text)
    assert isinstance(once, str)
    assert scrub_text(once) == once


@settings(deadline=None)
@given(mixed_text)
def test_idempotent_on_secret_like_text(text: str) -> None:
    once = scrub_text(text)
    assert scrub_text(once) == once


token_alphabet = st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
github_tokens = st.builds(
    lambda prefix, chars: prefix + "".join(chars),
    st.sampled_from(["gh" + p + "_" for p in "pousr"]),
    st.lists(token_alphabet, min_size=36, max_size=60),
)
aws_keys = st.builds(
    lambda prefix, chars: prefix + "".join(chars),
    st.sampled_from(["AK" + "IA", "AS" + "IA"]),
    st.lists(st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"), min_size=16, max_size=16),
)
emails = st.builds(
    "{}@{}.{}".format,
    st.from_regex(r"[a-z0-9][a-z0-9._+-]{0,15}", fullmatch=True),
    st.from_regex(r"[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?", fullmatch=True),
    st.from_regex(r"[a-z]{2,6}", fullmatch=True),
)


@settings(deadline=None)
@given(st.text(), github_tokens | aws_keys | emails, st.text())
def test_an_inserted_secret_is_always_removed(before: str, secret: str, after: str) -> None:
    assert secret not in scrub_text(before + secret + after)


# -- events -------------------------------------------------------------------------------------


def _hand_built_event() -> ErrorEvent:
    frames = [
        Frame(
            filename="app/views.py",
            abs_path=f"/home/{EMAIL}/app/views.py",
            module="app.views",
            function="checkout",
            lineno=42,
            context_line=f"    charge(card, api_key='{STRIPE_LIVE}')",
        ),
        Frame(filename="lib/http.cc", function="net::HttpClient::Send", lineno=7),
    ]
    return ErrorEvent(
        source=Source.SENTRY,
        event_id="5b055874a7aa6bc55c511b66694a1fbe",
        title=f"HTTPError: 401 for {EMAIL}",
        message=f"upstream rejected {GHP}",
        exceptions=[
            ExceptionInfo(
                type="requests.exceptions.HTTPError", value=f"401 with {JWT}", frames=frames
            )
        ],
        timestamp=datetime(2025, 6, 27, 6, 48, 32, tzinfo=UTC),
        user=EMAIL,
        tags={
            "server_name": "web01.example.org",
            "session_id": "abc",
            "client_ip": "198.51.100.7",
            "sentry:user": f"email:{EMAIL}",
        },
        request=RequestData(
            method="POST",
            url="https://shop.example.com/pay?page=2&token=t0k3n&email=alice.smith%40example.com",
            query="page=2&api_key=k3y",
            headers={"Authorization": f"Bearer {OPAQUE}", "X-Note": f"from {EMAIL}"},
            body=json.dumps(
                {
                    "card": VISA,
                    "profile": {"password": "hunter2", "items": [GHP]},
                    "n": 4111111111111111,
                }
            ),
        ),
    )


def _assert_structure_kept(original: ErrorEvent, scrubbed: ErrorEvent) -> None:
    assert [e.type for e in scrubbed.exceptions] == [e.type for e in original.exceptions]
    for before, after in zip(original.exceptions, scrubbed.exceptions, strict=True):
        assert [f.function for f in after.frames] == [f.function for f in before.frames]
        assert [f.lineno for f in after.frames] == [f.lineno for f in before.frames]
        assert [f.module for f in after.frames] == [f.module for f in before.frames]


def test_scrub_event_on_a_hand_built_event() -> None:
    event = _hand_built_event()
    scrubbed = scrub_event(event)
    _assert_structure_kept(event, scrubbed)
    dumped = scrubbed.model_dump_json()
    for secret in (
        EMAIL,
        "alice.smith",
        GHP,
        JWT,
        STRIPE_LIVE,
        OPAQUE,
        "hunter2",
        "t0k3n",
        "k3y",
        "198.51.100.7",
        "4111",
    ):
        assert secret not in dumped
    assert scrubbed.request is not None
    assert scrubbed.request.url is not None and scrubbed.request.url.startswith(
        "https://shop.example.com/pay?page=2&token=[REDACTED:field]&email="
    )
    assert scrubbed.request.query == "page=2&api_key=[REDACTED:field]"
    assert scrubbed.request.headers["Authorization"] == "[REDACTED:field]"
    body_json = json.loads(scrubbed.request.body or "")
    assert body_json["profile"] == {
        "password": "[REDACTED:field]",
        "items": ["[REDACTED:github-token]"],
    }
    assert scrubbed.tags["session_id"] == "[REDACTED:field]"
    assert scrubbed.tags["server_name"] == "web01.example.org"
    assert scrubbed.tags["sentry:user"] == pseudonym(f"email:{EMAIL}")
    assert scrubbed.exceptions[0].frames[0].abs_path == "/home/[REDACTED:email]/app/views.py"
    assert scrubbed.user == pseudonym(EMAIL)
    assert event.user == EMAIL  # the original is untouched


def test_user_pseudonym_is_stable_and_short() -> None:
    assert re.fullmatch(r"user-[0-9a-f]{8}", pseudonym(EMAIL) or "")
    assert pseudonym(EMAIL) == pseudonym(EMAIL) != pseudonym("bob@example.com")
    assert pseudonym(pseudonym(EMAIL)) == pseudonym(EMAIL)
    assert pseudonym(None) is None


def test_non_json_body_is_scrubbed_as_text() -> None:
    event = _hand_built_event()
    assert event.request is not None
    form = event.model_copy(
        update={"request": event.request.model_copy(update={"body": "user=bob&password=hunter2"})}
    )
    scrubbed = scrub_event(form)
    assert scrubbed.request is not None
    assert scrubbed.request.body == "user=bob&password=[REDACTED:password]"


def test_scrub_event_on_the_recorded_sentry_event() -> None:
    normalise = pytest.importorskip("worker.normalise")
    event = normalise.from_sentry_stored(recorded("sentry/raw-event-python.json"))
    assert event.exceptions, "the fixture carries an exception"
    injected = event.model_copy(
        update={
            "message": f"{event.message} reported by {EMAIL}",
            "request": RequestData(
                url="https://api.example.com/v1/items",
                headers={"X-Forwarded-Token": GHP, "X-Contact": EMAIL},
                body=json.dumps({"note": f"ping {EMAIL}", "auth": {"token": GHP}}),
            ),
        }
    )
    scrubbed = scrub_event(injected)
    _assert_structure_kept(event, scrubbed)
    assert [f.abs_path for f in scrubbed.frames] == [f.abs_path for f in event.frames]
    assert scrubbed.title == event.title
    dumped = scrubbed.model_dump_json()
    assert EMAIL not in dumped
    assert GHP not in dumped
    assert scrubbed.request is not None
    assert scrubbed.request.headers == {
        "X-Forwarded-Token": "[REDACTED:field]",
        "X-Contact": "[REDACTED:email]",
    }


def test_scrub_event_on_the_recorded_sentry_api_event() -> None:
    normalise = pytest.importorskip("worker.normalise")
    event = normalise.from_sentry_api(recorded("sentry/api-event-javascript-cloudflare.json"))
    scrubbed = scrub_event(event)
    _assert_structure_kept(event, scrubbed)
    assert event.user is not None and scrubbed.user == pseudonym(event.user)
    assert event.user not in scrubbed.model_dump_json()
