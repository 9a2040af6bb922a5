"""The detectors for phone numbers, IBANs, national identifiers, prose passwords and encoded
values, each run over generated fake values (`tests.fakes`), and the text they must leave alone.
"""

from __future__ import annotations

import base64
import html
import json
import random
import string
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests import fakes
from worker.scrub import find_secrets, scrub_event, scrub_text
from worker.scrub.national import (
    codice_fiscale_valid,
    de_tax_id_valid,
    iban_valid,
    insee_valid,
)

SAMPLES = 40
ORDINARY = Path(__file__).parent / "fixtures" / "scrub-ordinary-text.txt"


def generated(make, seed: int) -> list[str]:
    rng = random.Random(seed)
    return [make(rng) for _ in range(SAMPLES)]


def assert_gone(value: str, text: str, kind: str | None = None) -> None:
    scrubbed = scrub_text(text)
    assert value not in scrubbed, (text, scrubbed)
    for piece in value.split():
        if len(piece) >= 5:
            assert piece not in scrubbed, (text, scrubbed)
    if kind is not None:
        assert f"[REDACTED:{kind}]" in scrubbed, (text, scrubbed)


# -- values and the marker each gets ----------------------------------------------------------

DETECTED = [
    ("card", fakes.card, "credit-card"),
    *[(f"iban-{c}", lambda rng, c=c: fakes.iban(rng, c), "iban")
      for c in ("GB", "DE", "FR", "ES", "IT", "NL", "BE", "CH", "PL")],
    ("phone-e164", fakes.phone_e164, "phone"),
    ("phone-national", fakes.phone_national, "phone"),
    ("us-ssn", fakes.us_ssn, "national-id"),
    ("uk-nino", fakes.uk_nino, "national-id"),
    ("fr-insee", fakes.fr_insee, "national-id"),
    ("de-tax-id", fakes.de_tax_id, "national-id"),
    ("es-dni", fakes.es_dni, "national-id"),
    ("it-codice-fiscale", fakes.it_codice_fiscale, "national-id"),
    ("stripe", fakes.stripe_key, "stripe-key"),
    ("github", fakes.github_token, "github-token"),
    ("slack", fakes.slack_token, "slack-token"),
    ("aws", fakes.aws_access_key, "aws-access-key-id"),
    ("jwt", fakes.jwt, "jwt"),
]
TEMPLATES = [
    "customer {} could not be charged",
    'ValueError: bad value "{}"',
    "{}",
    "(ref: {}).",
    '{{"value": "{}", "page": 2}}',
]


@pytest.mark.parametrize(("name", "make", "kind"), DETECTED, ids=[d[0] for d in DETECTED])
def test_generated_values_are_redacted_with_their_kind(name, make, kind) -> None:
    for index, value in enumerate(generated(make, seed=len(name))):
        assert_gone(value, TEMPLATES[index % len(TEMPLATES)].format(value), kind)


def test_checksums_reject_a_changed_digit() -> None:
    rng = random.Random(5)
    for _ in range(SAMPLES):
        account = fakes.iban(rng).replace(" ", "")
        assert iban_valid(account)
        last = account[-1]
        assert not iban_valid(account[:-1] + str((int(last) + 1) % 10))
        insee = fakes.fr_insee(rng).replace(" ", "")
        assert insee_valid(insee) and not insee_valid(insee[:-1] + str((int(insee[-1]) + 1) % 10))
        tax = fakes.de_tax_id(rng).replace(" ", "")
        assert de_tax_id_valid(tax)
        assert not de_tax_id_valid(tax[:-1] + str((int(tax[-1]) + 1) % 10))
        code = fakes.it_codice_fiscale(rng)
        assert codice_fiscale_valid(code)
        assert not codice_fiscale_valid(code[:-1] + ("A" if code[-1] != "A" else "B"))


def test_an_iban_with_a_wrong_check_is_not_redacted() -> None:
    rng = random.Random(11)
    account = fakes.iban(rng, "DE").replace(" ", "")
    broken = account[:2] + f"{(int(account[2:4]) + 1) % 100:02d}" + account[4:]
    assert scrub_text(f"account {broken}") == f"account {broken}"


# -- passwords and keys in prose ---------------------------------------------------------------

PROSE = [
    "Login failed for bob@example.com with password {}",
    "password is {} for the admin user",
    "reset: pwd={}&user=bob",
    "secret: {}",
    "passwd {}",
    "the passphrase was {}.",
    "db password changed to {}",
    'ValueError: password "{}" is too common',
]


def test_passwords_after_words_that_name_them_are_redacted() -> None:
    for index, value in enumerate(generated(fakes.password, seed=3)):
        assert_gone(value, PROSE[index % len(PROSE)].format(value))


def test_keys_after_words_that_name_them_are_redacted() -> None:
    for index, value in enumerate(generated(fakes.api_key, seed=4)):
        template = ["using api key {}", "secret key {} rejected", "client secret is {}",
                    "access key {}", "X-Api-Key: {}"][index % 5]
        assert_gone(value, template.format(value))


@pytest.mark.parametrize("text", [
    "Invalid password for user; password reset required.",
    "Password must contain 8 characters",
    "the password field is empty",
    "password = get_password(settings.PAYMENT_USER)",
    "password = self.password_hash",
    "def login(user, password: str = None):",
    "api key missing from request",
    "secret rotation scheduled",
    "client secret expired yesterday",
])
def test_prose_about_passwords_is_not_a_password(text: str) -> None:
    assert scrub_text(text) == text


# -- phone numbers and what merely looks like one ---------------------------------------------

def test_phone_numbers_named_by_a_word_are_redacted_bare() -> None:
    rng = random.Random(8)
    for _ in range(SAMPLES):
        digits = f"{rng.randint(2, 9)}{rng.randint(10**8, 10**9 - 1)}"
        for template in ("phone={}", 'phone_number": "{}"', "Tel: {}", "mobile {}", "fax: {}"):
            assert_gone(digits, template.format(digits), "phone")


NOT_PHONES = [
    "version 1.2.3 and 10.15.7 and 2024.06.01",
    "released 2025-06-27, 27/06/2025, 06.27.2025 and 2025-06-27T06:48:32Z",
    "06-27-2025 12:30 and 05/06/2025 10:30",
    "order 12345678901 and invoice 0123456789",
    'File "/app/x.py", line 1234, column 56',
    "took 1234567 ms; 0.012345678s; 00:01:02.345; elapsed=12345678ns",
    "epoch 1751006912866 and pid 12345 on port 8080",
    "offset +05:30 and delta +3600",
    "telemetry: 1234567 events, cells: 12345678",
    "lines 0123 through 0456 of 2025-06-27.log",
    "Chrome/120.0.0.0 Safari/605.1.15",
]


@pytest.mark.parametrize("text", NOT_PHONES)
def test_versions_dates_ids_line_numbers_and_durations_are_not_phone_numbers(text: str) -> None:
    assert scrub_text(text) == text


# -- decoding layers ---------------------------------------------------------------------------

def test_url_encoded_values_are_redacted() -> None:
    rng = random.Random(9)
    for _ in range(SAMPLES // 4):
        phone = fakes.phone_e164(rng)
        iban = fakes.iban(rng)
        mail = fakes.email(rng)
        query = (f"phone={quote_plus(phone)}&iban={quote_plus(iban)}"
                 f"&to={quote(mail, safe='')}&page=2")
        scrubbed = scrub_text(f"GET /checkout?{query} HTTP/1.1")
        for value in (phone, iban, mail, quote_plus(phone), quote_plus(iban)):
            assert value not in scrubbed
        assert "page=2" in scrubbed


def test_html_and_json_escaped_values_are_redacted() -> None:
    rng = random.Random(10)
    for _ in range(SAMPLES // 4):
        mail = fakes.email(rng)
        card = fakes.card(rng).replace(" ", "").replace("-", "")
        escaped_html = "".join(f"&#{ord(c)};" if c in "@." else c for c in mail)
        escaped_json = json.dumps(card).strip('"').replace("4", "\\u0034")
        for text in (f"<td>{escaped_html}</td>", f'{{"card": "{escaped_json}"}}',
                     html.escape(f"<b>{mail}</b>")):
            scrubbed = scrub_text(text)
            assert mail not in scrubbed and "[REDACTED:" in scrubbed, (text, scrubbed)


def test_base64_runs_hiding_a_value_are_redacted_whole() -> None:
    rng = random.Random(12)
    for _ in range(SAMPLES // 4):
        secret = {"email": fakes.email(rng), "iban": fakes.iban(rng)}
        encoded = base64.b64encode(json.dumps(secret).encode()).decode()
        urlsafe = base64.urlsafe_b64encode(f"card={fakes.card(rng)}".encode()).decode()
        for run in (encoded, urlsafe.rstrip("=")):
            scrubbed = scrub_text(f"state={run}; next")
            assert run not in scrubbed and "[REDACTED:" in scrubbed
            assert scrubbed.endswith("; next")


def test_values_under_several_encodings_are_redacted() -> None:
    # Two and three layers: a value URL-encoded again, a URL-encoded form inside base64.
    rng = random.Random(13)
    for _ in range(SAMPLES // 4):
        card, phone, iban = fakes.card(rng), fakes.phone_e164(rng), fakes.iban(rng)
        form = f"phone={quote_plus(phone)}&iban={quote_plus(iban)}"
        for text in (f"card={quote(quote(card))}", f"card={quote(quote(quote(card)))}",
                     f"state={base64.b64encode(form.encode()).decode()}",
                     f"next={quote(quote(form, safe=''), safe='')}"):
            scrubbed = scrub_text(f"{text}; next")
            for value in (card, phone, iban, card.replace(" ", "%20")):
                assert value not in scrubbed, (text, scrubbed)
            assert "[REDACTED:" in scrubbed and scrubbed.endswith("; next"), (text, scrubbed)


def test_ordinary_text_under_several_encodings_is_kept() -> None:
    for plain in ("/static/app v2.js?x=1+1", "page=2&sort=desc&limit=50"):
        for text in (quote(quote(plain, safe=""), safe=""),
                     base64.b64encode(quote(plain, safe="").encode()).decode()):
            assert scrub_text(f"cursor {text}") == f"cursor {text}"


def test_base64_of_ordinary_text_is_kept() -> None:
    for plain in ("just an ordinary sentence about carts", "page=2&sort=desc&limit=50"):
        run = base64.b64encode(plain.encode()).decode()
        assert scrub_text(f"cursor {run}") == f"cursor {run}"


# -- false positives ---------------------------------------------------------------------------

def test_ordinary_stack_traces_sql_paths_ids_hashes_and_times_come_through_unchanged() -> None:
    text = ORDINARY.read_text(encoding="utf-8")
    assert find_secrets(text) == []
    assert scrub_text(text) == text
    print(f"\nordinary text: {len(text.splitlines())} lines, {len(text)} characters, "
          "0 redactions")


def test_detectors_keep_scrubbing_idempotent() -> None:
    rng = random.Random(13)
    for kind in fakes.KINDS:
        value = kind.make(rng)
        once = scrub_text(f"a {value} b phone={quote_plus(value)}")
        assert scrub_text(once) == once


def test_scrub_event_applies_the_new_detectors_to_request_parts() -> None:
    from tests.test_scrub import _hand_built_event

    rng = random.Random(14)
    phone, iban, nino = fakes.phone_e164(rng), fakes.iban(rng), fakes.uk_nino(rng)
    event = _hand_built_event()
    assert event.request is not None
    request = event.request.model_copy(update={
        "query": f"phone={quote_plus(phone)}&page=2",
        "body": json.dumps({"payout": {"iban": iban}, "note": f"NI {nino}"}),
        "headers": {"X-Caller": phone},
    })
    dumped = scrub_event(event.model_copy(update={"request": request})).model_dump_json()
    for value in (phone, iban, nino, quote_plus(phone)):
        assert value not in dumped


# -- properties --------------------------------------------------------------------------------

PROSE_CHARS = string.ascii_letters + " .,;:!?()'\"_/\n"
planted_kinds = st.sampled_from([k for k in fakes.KINDS
                                 if k.name not in ("password", "api-key")])


@settings(deadline=None, max_examples=300)
@given(st.text(PROSE_CHARS, max_size=40), planted_kinds, st.randoms(use_true_random=False),
       st.text(PROSE_CHARS, max_size=40), st.sampled_from(["", " 12 times", " ok"]))
def test_a_generated_value_between_words_is_always_removed(
        before: str, kind: fakes.Kind, rng: random.Random, after: str, tail: str) -> None:
    value = kind.make(rng)
    scrubbed = scrub_text(f"{before} {value}{tail} {after}")
    assert value not in scrubbed
    assert scrub_text(scrubbed) == scrubbed
