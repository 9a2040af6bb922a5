"""Rules for bank account numbers (IBAN) and national identifiers, each confirmed by its checksum
or its issuing rules, so ids, hashes and numbers that merely have the shape stay.

- IBAN: a country's length and the ISO 13616 mod-97 check, contiguous or in groups of four.
- US social security number: `123-45-6789` with a valid area, group and serial; nine bare
  digits only after a word that names it (`ssn`, `social security`).
- UK National Insurance number: two letters from the allowed prefixes, six digits, a suffix.
- French INSEE (NIR): sex, year, month, department, commune, order and the 97-complement key;
  contiguous only after a word that names it, else in its usual spaced form.
- German tax id (Steuer-IdNr): 11 digits with the ISO 7064 MOD 11,10 check digit and the rule
  that one digit repeats; only after a word that names it or in its `12 345 678 903` form.
- Spanish DNI/NIE: 8 digits and the mod-23 control letter.
- Italian codice fiscale: its 16-character layout and check letter.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from worker.scrub.findings import Finding

IBAN_KIND = "iban"
NATIONAL_KIND = "national-id"

# ISO 13616 lengths of the countries most likely to appear (SEPA and neighbours).
IBAN_LENGTHS = {
    "AD": 24, "AE": 23, "AT": 20, "BA": 20, "BE": 16, "BG": 22, "BH": 22, "BR": 29, "CH": 21,
    "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "EE": 20, "ES": 24, "FI": 18, "FO": 18, "FR": 27,
    "GB": 22, "GI": 23, "GL": 18, "GR": 27, "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IS": 26,
    "IT": 27, "KW": 30, "KZ": 20, "LB": 28, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "MC": 27,
    "MD": 24, "ME": 22, "MK": 19, "MT": 31, "MU": 30, "NL": 18, "NO": 15, "PK": 24, "PL": 28,
    "PT": 25, "QA": 29, "RO": 24, "RS": 22, "SA": 24, "SE": 24, "SI": 19, "SK": 24, "SM": 27,
    "TN": 24, "TR": 26, "UA": 29, "VA": 22, "XK": 20,
}
_IBAN_START = re.compile(r"(?<![A-Za-z0-9])([A-Za-z]{2})(\d{2})")


def iban_valid(candidate: str) -> bool:
    """True for a well-formed IBAN (no spaces) of a known country passing the mod-97 check."""
    code = candidate[:2].upper()
    if IBAN_LENGTHS.get(code) != len(candidate) or not candidate.isalnum():
        return False
    moved = (candidate[4:] + candidate[:4]).upper()
    return int("".join(str(int(char, 36)) for char in moved)) % 97 == 1


def _iban_end(text: str, start: int, length: int) -> int | None:
    """Where an IBAN of `length` characters starting at `start` ends, reading past single
    spaces between groups; None if the text runs out of characters first."""
    count, pos = 0, start
    while count < length and pos < len(text):
        char = text[pos]
        if char.isascii() and char.isalnum():
            count += 1
        elif not (char == " " and count % 4 == 0 and count and pos + 1 < len(text)):
            return None
        pos += 1
    if count < length or (pos < len(text) and text[pos].isascii() and text[pos].isalnum()):
        return None
    return pos


class IbanRule:
    """Finds IBANs that pass their country's length and the mod-97 check."""

    name = IBAN_KIND

    def find(self, text: str) -> Iterator[Finding]:
        """Spans of IBANs in `text`."""
        for match in _IBAN_START.finditer(text):
            length = IBAN_LENGTHS.get(match.group(1).upper())
            if length is None:
                continue
            end = _iban_end(text, match.start(), length)
            if end is not None and iban_valid(text[match.start():end].replace(" ", "")):
                yield Finding(IBAN_KIND, match.start(), end)


# A word naming an identifier, up to 30 characters before it.
_NAMED = re.compile(
    r"(?i)(?:ssn|social[ _-]?security|insee|\bnir\b|s[ée]cu(?:rit[ée])?[ _-]?sociale"
    r"|num[ée]ro[ _-]?ss|steuer|tax[ _-]?id|\btin\b|idnr|identifikationsnummer|national[ _-]?id)"
)
_SSN = re.compile(r"(?<![\w-])(\d{3})-(\d{2})-(\d{4})(?![\w-])")
_NINE = re.compile(r"(?<![\w-])(\d{3})[ ]?(\d{2})[ ]?(\d{4})(?![\w-])")
_NINO = re.compile(
    r"(?<![A-Za-z0-9])([A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z]) ?(\d{2}) ?(\d{2}) ?(\d{2}) ?([A-D])"
    r"(?![A-Za-z0-9])"
)
_NINO_BANNED = frozenset({"BG", "GB", "KN", "NK", "NT", "TN", "ZZ"})
_INSEE = re.compile(
    r"(?<![\w])([12]) ?(\d{2}) ?(0[1-9]|1[0-2]|[2-9]\d) ?(\d{2}|2[ABab]) ?(\d{3}) ?(\d{3})"
    r" ?(\d{2})(?![\w])"
)
_DE_TAX = re.compile(r"(?<![\w])([1-9]\d) ?(\d{3}) ?(\d{3}) ?(\d{3})(?![\w])")
_DNI = re.compile(r"(?<![\w])([XYZ]?)(\d{7,8})-?([A-HJ-NP-TV-Z])(?![\w])")
_DNI_LETTERS = "TRWAGMYFPDXBNJZSQVHLCKE"
_CF = re.compile(
    r"(?<![A-Za-z0-9])[A-Z]{6}[0-9LMNPQRSTUV]{2}[ABCDEHLMPRST][0-9LMNPQRSTUV]{2}[A-Z]"
    r"[0-9LMNPQRSTUV]{3}[A-Z](?![A-Za-z0-9])"
)


def _named_before(text: str, start: int) -> bool:
    return _NAMED.search(text, max(0, start - 30), start) is not None


def ssn_valid(area: str, group: str, serial: str) -> bool:
    """The SSA's issuing rules: no area 000, 666 or 900-999, no group 00, no serial 0000."""
    return (area not in ("000", "666") and area[0] != "9" and group != "00"
            and serial != "0000")


def insee_valid(digits: str) -> bool:
    """A 15-character NIR (Corsica's 2A/2B allowed) whose last two digits are its key."""
    body = digits[:13].upper().replace("2A", "19").replace("2B", "18")
    if not body.isdigit() or not digits[13:].isdigit():
        return False
    return 97 - int(body) % 97 == int(digits[13:])


def de_tax_id_valid(digits: str) -> bool:
    """The Steuer-IdNr: ISO 7064 MOD 11,10 check digit, and in the first ten digits exactly
    one digit appearing two or three times."""
    if len(digits) != 11 or not digits.isdigit() or digits[0] == "0":
        return False
    counts = [digits[:10].count(d) for d in set(digits[:10])]
    if sorted(c for c in counts if c > 1) not in ([2], [3]):
        return False
    product = 10
    for char in digits[:10]:
        total = (int(char) + product) % 10 or 10
        product = total * 2 % 11
    return (11 - product) % 10 == int(digits[10])


def dni_valid(prefix: str, number: str, letter: str) -> bool:
    """A DNI (8 digits) or NIE (X/Y/Z and 7 digits) with its mod-23 control letter."""
    if prefix:
        if len(number) != 7:
            return False
        number = str("XYZ".index(prefix)) + number
    elif len(number) != 8:
        return False
    return _DNI_LETTERS[int(number) % 23] == letter


_CF_ODD = [1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20, 11, 3, 6, 8, 12, 14, 16, 10, 22, 25,
           24, 23]


def codice_fiscale_valid(code: str) -> bool:
    """The Italian codice fiscale's check letter (odd and even positions weighted apart)."""
    total = 0
    for index, char in enumerate(code[:15]):
        value = int(char) if char.isdigit() else ord(char) - ord("A")
        total += _CF_ODD[value] if index % 2 == 0 else value
    return chr(ord("A") + total % 26) == code[15]


class NationalIdRule:
    """Finds national identifiers that pass their checks (see the module's docstring)."""

    name = NATIONAL_KIND

    def find(self, text: str) -> Iterator[Finding]:
        """Spans of national identifiers in `text`."""
        yield from self._us(text)
        for match in _NINO.finditer(text):
            if match.group(1) not in _NINO_BANNED:
                yield Finding(NATIONAL_KIND, *match.span())
        for match in _INSEE.finditer(text):
            raw = match.group()
            if insee_valid(raw.replace(" ", "")) and (
                    raw.count(" ") >= 3 or _named_before(text, match.start())):
                yield Finding(NATIONAL_KIND, *match.span())
        for match in _DE_TAX.finditer(text):
            raw = match.group()
            if de_tax_id_valid(raw.replace(" ", "")) and (
                    raw.count(" ") == 3 or _named_before(text, match.start())):
                yield Finding(NATIONAL_KIND, *match.span())
        for match in _DNI.finditer(text):
            if dni_valid(*match.groups()):
                yield Finding(NATIONAL_KIND, *match.span())
        for match in _CF.finditer(text):
            if codice_fiscale_valid(match.group()):
                yield Finding(NATIONAL_KIND, *match.span())

    def _us(self, text: str) -> Iterator[Finding]:
        for match in _SSN.finditer(text):
            if ssn_valid(*match.groups()):
                yield Finding(NATIONAL_KIND, *match.span())
        for match in _NINE.finditer(text):
            if ssn_valid(*match.groups()) and _named_before(text, match.start()):
                yield Finding(NATIONAL_KIND, *match.span())


IBAN = IbanRule()
NATIONAL_ID = NationalIdRule()
