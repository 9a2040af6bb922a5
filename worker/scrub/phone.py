"""The rule for telephone numbers: international (E.164) forms anywhere, national forms by shape
or by a word that says what follows.

Digits are everywhere in error text (ids, line numbers, durations, versions, dates, epoch
times), so a number is only a phone number when something marks it as one:

- a leading `+` and a country code, 8 to 15 digits in all (`+44 20 7946 0958`, `+14155552671`);
- a North American shape: `(415) 555-2671`, or `415-555-2671` / `415.555.2671` with valid area
  and exchange codes;
- a trunk `0` and separated groups of a national plan, 10 to 12 digits (`020 7946 0958`,
  `01 23 45 67 89`, `0171 1234567`, `089/1234567`), where dots are only accepted between
  pairs (French style) so dates and versions never qualify;
- or a word just before it (`phone`, `tel`, `mobile`, `fax`, `msisdn`, ...), which lets a bare
  run of 7 to 15 digits through (`phone=4155552671`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

from worker.scrub.findings import Finding

KIND = "phone"

_INTERNATIONAL = re.compile(
    r"(?<![\w+/=.%-])\+[1-9]\d{0,2}(?:[ .-]?\(?\d{1,5}\)?){1,6}(?![\w]|[.-]\d)"
)
_NANP_PAREN = re.compile(r"(?<![\w)])\([2-9]\d{2}\)[ ]?[2-9]\d{2}[-. ]\d{4}(?![\w]|[.-]\d)")
_NANP = re.compile(r"(?<![\w.:/-])[2-9]\d{2}([-.])[2-9]\d{2}\1\d{4}(?![\w]|[.:-]\d)")
_NATIONAL = re.compile(
    r"(?<![\w.:/+-])0[1-9]\d{0,3}(?:[ ./-]\d{1,8}){1,4}(?![\w]|[.:/-]\d)"
)
_CONTEXT = re.compile(
    r"(?i)(?:phone|mobile|msisdn|whatsapp|telefon|telefono|t[ée]l[ée]phone|rufnummer|handy"
    r"|(?<![a-z])(?:tel|fax|sms|cell|mob|portable))"
    r"(?:[_.-]?(?:no|num|number|nr|nummer|e164))?"
    r"""[^\w\n]{1,6}(?P<number>\+?\(?\d[\d ().-]{5,20}\d)"""
)
_DIGITS = re.compile(r"\d")


def _digits(text: str) -> int:
    return len(_DIGITS.findall(text))


def _national_ok(candidate: str) -> bool:
    """A separated national number: 10 to 12 digits; dots only between pairs; `/` only once,
    after the area code."""
    if not 10 <= _digits(candidate) <= 12:
        return False
    separators = re.findall(r"[ ./-]", candidate)
    groups = re.split(r"[ ./-]", candidate)
    if "." in separators:
        return set(separators) == {"."} and all(len(g) == 2 for g in groups)
    if "/" in separators:
        return separators.index("/") == 0 and separators.count("/") == 1
    # 06-27-2025 12 is a date and an hour, not a number.
    shape = tuple(len(group) for group in groups[:3])
    return not (shape in ((2, 2, 4), (4, 2, 2)) and set(separators[:2]) & {"-", "/"})


_LAST_GROUP = re.compile(r"[ ./-]\(?\d+\)?$")


def _span(match: re.Match[str], ok: Callable[[str], bool]) -> tuple[int, int] | None:
    """The match, or the match without its last group when only that makes it a number (a
    count after it: `020 7946 0958 12 times`); never shorter, so digit lists stay whole."""
    candidate = match.group()
    if ok(candidate):
        return match.span()
    last = _LAST_GROUP.search(candidate)
    if last and last.start() and ok(candidate[:last.start()]):
        return match.start(), match.start() + last.start()
    return None


def _international_ok(candidate: str) -> bool:
    return 8 <= _digits(candidate) <= 15


class PhoneRule:
    """Finds telephone numbers (see the module's docstring for what counts as one)."""

    name = KIND

    def find(self, text: str) -> Iterator[Finding]:
        """Spans of telephone numbers in `text`."""
        for match in _INTERNATIONAL.finditer(text):
            span = _span(match, _international_ok)
            if span:
                yield Finding(KIND, *span)
        for pattern in (_NANP_PAREN, _NANP):
            for match in pattern.finditer(text):
                yield Finding(KIND, *match.span())
        for match in _NATIONAL.finditer(text):
            span = _span(match, _national_ok)
            if span:
                yield Finding(KIND, *span)
        for match in _CONTEXT.finditer(text):
            number = match.group("number").rstrip(" ().-")
            if 7 <= _digits(number) <= 15:
                start = match.start("number")
                yield Finding(KIND, start, start + len(number))


PHONE = PhoneRule()
