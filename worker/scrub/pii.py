"""Rules for personal data: email addresses, payment card numbers, IPv4 and IPv6 addresses.

Cards are 13 to 19 digits, contiguous or in 4-digit-led groups separated by single spaces or
dashes, that pass the Luhn check and start like an issued card (2221-2720, 3, 4, 5, 6) - which
keeps epoch milliseconds and compact timestamps out. IPv4 addresses with valid octets are
redacted except 0.0.0.0 and 127.0.0.1; a four-part version number such as 1.2.3.4 is therefore
redacted too (three-part versions, `v1.2.3.4` and `Chrome/120.0.0.0` in a User-Agent are not).
IPv6 candidates are validated by `ipaddress`; loopback and unspecified addresses stay, and a
compressed form made only of one- or two-digit groups (`1::2`, a Python slice) is not treated
as an address. Times such as 12:30:45 and MAC addresses are never valid IPv6 and survive.
"""

from __future__ import annotations

import ipaddress
import re

from worker.scrub.findings import PatternRule

_LABEL = r"[A-Za-z0-9-]+"
_EMAIL_CHARS = r"A-Za-z0-9._%+-"
# The user information of a URL ends right where an email's local part would start.
_URL_USERINFO_BEFORE = re.compile(r"://(?:[^\s/?#@:\[\]]*:[^\s/?#]*)?\Z")


def _not_url_password(match: re.Match[str]) -> bool:
    """False for `user[:pass]@host` in a URL: the URL rule redacts that and keeps the host."""
    before = match.string[max(0, match.start() - 512) : match.start()]
    return _URL_USERINFO_BEFORE.search(before) is None


EMAIL = PatternRule(
    "email",
    # Also the URL-encoded form (alice%40example.com) found in query strings and logs.
    re.compile(
        rf"(?<![{_EMAIL_CHARS}])[{_EMAIL_CHARS}]+(?:@|%40){_LABEL}(?:\.{_LABEL})*\.[A-Za-z]{{2,}}"
    ),
    accept=_not_url_password,
)


def luhn_valid(digits: str) -> bool:
    """True when the decimal string `digits` passes the Luhn checksum."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def _card(match: re.Match[str]) -> bool:
    digits = re.sub(r"[^0-9]", "", match.group())
    if not 13 <= len(digits) <= 19:
        return False
    issued = digits[0] in "3456" or 2221 <= int(digits[:4]) <= 2720
    return issued and luhn_valid(digits)


CARD = PatternRule(
    "credit-card",
    re.compile(r"(?<![\w.])(?:[0-9]{13,19}|[0-9]{4}(?:[ -][0-9]{3,6}){2,4})(?![\w]|\.[0-9])"),
    accept=_card,
)

_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_KEPT_IPV4 = frozenset({"0.0.0.0", "127.0.0.1"})


def _ipv4(match: re.Match[str]) -> bool:
    if match.group() in _KEPT_IPV4:
        return False
    # `Chrome/120.0.0.0` is a product version in a User-Agent; `http://10.0.0.1` is an address.
    before = match.string[max(0, match.start() - 2) : match.start()]
    return not (len(before) == 2 and before[1] == "/" and before[0].isalnum())


IPV4 = PatternRule(
    "ipv4",
    re.compile(rf"(?<![\w.]){_OCTET}(?:\.{_OCTET}){{3}}(?!\w|\.[0-9])"),
    accept=_ipv4,
)


def _ipv6(match: re.Match[str]) -> bool:
    candidate = match.group()
    try:
        address = ipaddress.IPv6Address(candidate)
    except ValueError:
        return False
    if address.is_loopback or address.is_unspecified:
        return False
    if "::" in candidate:
        groups = [g for g in re.split(r"[:.]", candidate) if g]
        return any(len(g) >= 3 for g in groups)
    return True


IPV6 = PatternRule(
    "ipv6",
    re.compile(
        r"(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}"
        rf"(?:{_OCTET}(?:\.{_OCTET}){{3}}|[0-9A-Fa-f]{{0,4}})(?![\w:]|\.\w)"
    ),
    accept=_ipv6,
)

PII_RULES: tuple[PatternRule, ...] = (EMAIL, CARD, IPV4, IPV6)
