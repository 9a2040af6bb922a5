"""Generated fake secrets and personal values, valid in shape and checksum, for scrubber tests.

Each generator takes a `random.Random` so a test's values are the same on every run but cover
many digits and letters. Card numbers pass Luhn, IBANs mod-97, national identifiers their own
checks; tokens follow their vendor's prefix and alphabet. Secrets are assembled from pieces so
this file holds no literal a secret scanner would flag.
"""

from __future__ import annotations

import base64
import random
import string
from collections.abc import Callable
from dataclasses import dataclass

from worker.scrub.national import IBAN_LENGTHS

ALNUM = string.ascii_letters + string.digits
UPPER_ALNUM = string.ascii_uppercase + string.digits


def _pick(rng: random.Random, alphabet: str, length: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(length))


def _digits(rng: random.Random, length: int) -> str:
    return _pick(rng, string.digits, length)


def luhn_complete(partial: str) -> str:
    """`partial` with the Luhn check digit appended."""
    total = 0
    for position, char in enumerate(reversed(partial)):
        value = int(char)
        if position % 2 == 0:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return partial + str((10 - total % 10) % 10)


def card(rng: random.Random) -> str:
    """A Luhn-valid Visa, Mastercard, Amex or Discover number, plain or grouped."""
    prefix, length = rng.choice([("4", 16), ("51", 16), ("55", 16), ("2221", 16), ("37", 15),
                                 ("6011", 16)])
    number = luhn_complete(prefix + _digits(rng, length - len(prefix) - 1))
    if length == 16 and rng.random() < 0.6:
        separator = rng.choice([" ", "-"])
        return separator.join(number[i:i + 4] for i in range(0, 16, 4))
    return number


def iban(rng: random.Random, country: str | None = None) -> str:
    """A checksum-valid IBAN of `country` (or a random one of several), grouped or not."""
    country = country or rng.choice(["GB", "DE", "FR", "ES", "IT", "NL", "BE", "CH", "PL"])
    length = IBAN_LENGTHS[country]
    bban = (_pick(rng, string.ascii_uppercase, 4) + _digits(rng, length - 8) if country in
            ("GB", "NL") else _digits(rng, length - 4))
    moved = bban + country + "00"
    check = 98 - int("".join(str(int(c, 36)) for c in moved)) % 97
    value = f"{country}{check:02d}{bban}"
    if rng.random() < 0.5:
        return " ".join(value[i:i + 4] for i in range(0, len(value), 4))
    return value


def phone_e164(rng: random.Random) -> str:
    """An international number: +44, +1, +33 or +49, in the country's usual grouping."""
    form = rng.randrange(5)
    if form == 0:
        return f"+44 20 7946 {_digits(rng, 4)}"
    if form == 1:
        return f"+1 ({rng.randint(201, 989)}) {rng.randint(200, 999)}-{_digits(rng, 4)}"
    if form == 2:
        return "+33 " + str(rng.randint(1, 9)) + "".join(f" {_digits(rng, 2)}" for _ in range(4))
    if form == 3:
        return f"+49 30 {_digits(rng, 8)}"
    return f"+1{rng.randint(201, 989)}{rng.randint(200, 999)}{_digits(rng, 4)}"


def phone_national(rng: random.Random) -> str:
    """A national number as people write it: UK, US, French or German."""
    form = rng.randrange(5)
    if form == 0:
        return f"020 7946 {_digits(rng, 4)}"
    if form == 1:
        return f"07700 900{_digits(rng, 3)}"
    if form == 2:
        return f"({rng.randint(201, 989)}) {rng.randint(200, 999)}-{_digits(rng, 4)}"
    if form == 3:
        return "0" + str(rng.randint(1, 7)) + "".join(f" {_digits(rng, 2)}" for _ in range(4))
    return f"0171 {_digits(rng, 7)}"


def us_ssn(rng: random.Random) -> str:
    """A US social security number with a valid area, group and serial."""
    area = rng.choice([a for a in range(1, 900) if a != 666])
    return f"{area:03d}-{rng.randint(1, 99):02d}-{rng.randint(1, 9999):04d}"


def uk_nino(rng: random.Random) -> str:
    """A UK National Insurance number with an allowed prefix and suffix."""
    first = rng.choice("ABCEGHJKLMNOPRSTWXYZ")
    second = rng.choice("ABCEGHJKLMNPRSTWXYZ")
    if first + second in ("BG", "GB", "KN", "NK", "NT", "TN", "ZZ"):
        first, second = "A", "B"
    digits = _digits(rng, 6)
    suffix = rng.choice("ABCD")
    if rng.random() < 0.5:
        return f"{first}{second} {digits[:2]} {digits[2:4]} {digits[4:]} {suffix}"
    return f"{first}{second}{digits}{suffix}"


def fr_insee(rng: random.Random) -> str:
    """A French NIR in its usual spaced form, with its 97-complement key."""
    body = (str(rng.randint(1, 2)) + f"{rng.randint(0, 99):02d}" + f"{rng.randint(1, 12):02d}"
            + f"{rng.randint(1, 95):02d}" + _digits(rng, 3) + _digits(rng, 3))
    key = 97 - int(body) % 97
    return (f"{body[0]} {body[1:3]} {body[3:5]} {body[5:7]} {body[7:10]} {body[10:13]} "
            f"{key:02d}")


def de_tax_id(rng: random.Random) -> str:
    """A German Steuer-IdNr: one digit twice in the first ten, MOD 11,10 check digit."""
    while True:
        digits = rng.sample(string.digits, 9)
        if digits[0] == "0":
            continue
        digits.insert(rng.randint(1, 9), rng.choice(digits))
        body = "".join(digits)
        product = 10
        for char in body:
            total = (int(char) + product) % 10 or 10
            product = total * 2 % 11
        value = body + str((11 - product) % 10)
        return f"{value[:2]} {value[2:5]} {value[5:8]} {value[8:]}"


def es_dni(rng: random.Random) -> str:
    """A Spanish DNI with its control letter."""
    number = rng.randint(10_000_000, 99_999_999)
    return f"{number}{'TRWAGMYFPDXBNJZSQVHLCKE'[number % 23]}"


def it_codice_fiscale(rng: random.Random) -> str:
    """An Italian codice fiscale with its check letter."""
    odd = [1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20, 11, 3, 6, 8, 12, 14, 16, 10, 22,
           25, 24, 23]
    body = (_pick(rng, string.ascii_uppercase, 6) + _digits(rng, 2) + rng.choice("ABCDEHLMPRST")
            + f"{rng.randint(1, 71):02d}" + rng.choice("ABCDEFGHILMZ") + _digits(rng, 3))
    total = sum(odd[int(c) if c.isdigit() else ord(c) - 65] if i % 2 == 0 else
                (int(c) if c.isdigit() else ord(c) - 65) for i, c in enumerate(body))
    return body + chr(65 + total % 26)


def email(rng: random.Random) -> str:
    """A personal email address."""
    user = rng.choice(["alice", "bob", "chen.wei", "d.okafor", "emma+shop"]) + _digits(rng, 3)
    return f"{user}@{rng.choice(['example.com', 'mail.example.org', 'corp.example.net'])}"


def ipv4(rng: random.Random) -> str:
    """A public-looking IPv4 address."""
    return f"{rng.choice([81, 92, 145, 203])}.{rng.randint(0, 255)}.{rng.randint(0, 255)}." \
           f"{rng.randint(1, 254)}"


def ipv6(rng: random.Random) -> str:
    """A global IPv6 address in compressed form."""
    groups = [f"{rng.randint(4096, 65535):x}" for _ in range(3)]
    return f"2a02:{groups[0]}:{groups[1]}::{groups[2]}"


def password(rng: random.Random) -> str:
    """A password a person might pick: a word, digits and a symbol."""
    return (rng.choice(["Hunter", "Summer", "Dragon", "Monkey", "Secret"]) + _digits(rng, 2)
            + rng.choice("-!#$%*") + _pick(rng, ALNUM, 4))


def stripe_key(rng: random.Random) -> str:
    """A live-looking Stripe secret key."""
    return "sk" + "_live_" + _pick(rng, ALNUM, 24)


def github_token(rng: random.Random) -> str:
    """A classic GitHub personal access token."""
    return "gh" + "p_" + _pick(rng, ALNUM, 36)


def slack_token(rng: random.Random) -> str:
    """A Slack bot token."""
    return "xo" + "xb-" + f"{_digits(rng, 10)}-{_digits(rng, 13)}-{_pick(rng, ALNUM, 24)}"


def aws_access_key(rng: random.Random) -> str:
    """An AWS access key id."""
    return "AK" + "IA" + _pick(rng, string.ascii_uppercase + "234567", 16)


def jwt(rng: random.Random) -> str:
    """A signed JWT whose payload names a user."""
    def segment(raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    header = segment(b'{"alg":"HS256","typ":"JWT"}')
    payload = segment(f'{{"sub":"{_digits(rng, 8)}","iat":{_digits(rng, 10)}}}'.encode())
    return f"{header}.{payload}.{segment(rng.randbytes(32))}"


def api_key(rng: random.Random) -> str:
    """An opaque API key: 32 characters of letters and digits."""
    key = _pick(rng, ALNUM, 31)
    return key + rng.choice(string.digits)


@dataclass(frozen=True)
class Kind:
    """A kind of planted value: its name and its generator."""

    name: str
    make: Callable[[random.Random], str]


KINDS: tuple[Kind, ...] = (
    Kind("card", card),
    Kind("iban-gb", lambda rng: iban(rng, "GB")),
    Kind("iban-de", lambda rng: iban(rng, "DE")),
    Kind("iban-fr", lambda rng: iban(rng, "FR")),
    Kind("iban-es", lambda rng: iban(rng, "ES")),
    Kind("iban-nl", lambda rng: iban(rng, "NL")),
    Kind("phone-e164", phone_e164),
    Kind("phone-national", phone_national),
    Kind("us-ssn", us_ssn),
    Kind("uk-nino", uk_nino),
    Kind("fr-insee", fr_insee),
    Kind("de-tax-id", de_tax_id),
    Kind("es-dni", es_dni),
    Kind("it-codice-fiscale", it_codice_fiscale),
    Kind("email", email),
    Kind("ipv4", ipv4),
    Kind("ipv6", ipv6),
    Kind("password", password),
    Kind("stripe-key", stripe_key),
    Kind("github-token", github_token),
    Kind("slack-token", slack_token),
    Kind("aws-access-key", aws_access_key),
    Kind("jwt", jwt),
    Kind("api-key", api_key),
    Kind("iban-it", lambda rng: iban(rng, "IT")),
)
