"""Webhook authentication: Sentry's HMAC over the raw bytes, its timestamp, and shared secrets."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from integrations.standins.base import recorded
from worker.web.signatures import sentry_signature, verify_secret_header, verify_sentry

VECTOR = recorded("sentry/webhook-request-issue-created.signed.DERIVED.json")
BODY = VECTOR["raw_body"].encode("utf-8")
SECRET = VECTOR["client_secret"]
SIGNATURE = VECTOR["headers"]["Sentry-Hook-Signature"]
SENT = VECTOR["headers"]["Sentry-Hook-Timestamp"]
SENT_AT = datetime.fromtimestamp(int(SENT), UTC)
MAX_AGE = 300


def verify(body: bytes = BODY, signature: str | None = SIGNATURE, timestamp: str | None = SENT,
           now: datetime = SENT_AT + timedelta(seconds=5), secret: str = SECRET):
    return verify_sentry(body, signature, secret, timestamp, now, MAX_AGE)


def test_the_recorded_delivery_verifies_over_its_raw_bytes():
    assert sentry_signature(BODY, SECRET) == VECTOR["expected_signature"] == SIGNATURE

    decision = verify()

    assert decision.allowed and decision.reason == "signature and timestamp valid"


def test_a_pretty_re_serialisation_of_the_same_json_does_not_verify():
    pretty = json.dumps(json.loads(BODY), indent=2).encode("utf-8")
    assert json.loads(pretty) == json.loads(BODY)
    assert sentry_signature(pretty, SECRET) == (
        VECTOR["reserialized_pretty_body_signature_DOES_NOT_MATCH"])

    decision = verify(body=pretty)

    assert not decision.allowed and decision.reason == "bad signature"


def test_the_signature_is_read_case_and_whitespace_insensitively():
    assert verify(signature=f" {SIGNATURE.upper()}\t").allowed


def test_the_wrong_secret_is_rejected():
    assert verify(secret="another-secret").reason == "bad signature"


@pytest.mark.parametrize("signature", [None, ""])
def test_a_missing_signature_is_rejected(signature):
    decision = verify(signature=signature)

    assert not decision.allowed and decision.reason == "missing Sentry-Hook-Signature header"


@given(position=st.integers(min_value=0, max_value=len(BODY) - 1),
       mask=st.integers(min_value=1, max_value=255))
def test_flipping_any_byte_of_the_body_rejects(position, mask):
    tampered = bytearray(BODY)
    tampered[position] ^= mask

    decision = verify(body=bytes(tampered))

    assert not decision.allowed and decision.reason == "bad signature"


@given(position=st.integers(min_value=0, max_value=len(SIGNATURE) - 1),
       mask=st.integers(min_value=1, max_value=255))
def test_flipping_any_byte_of_the_signature_rejects(position, mask):
    raw = bytearray(SIGNATURE.encode("ascii"))
    raw[position] ^= mask
    # Headers reach the app decoded as Latin-1, so any byte is a character here.
    tampered = raw.decode("latin-1")
    # Hex is case-insensitive ("a" and "A" are the same digit) and surrounding space is trimmed.
    assume(tampered.strip().lower() != SIGNATURE)

    decision = verify(signature=tampered)

    assert not decision.allowed and decision.reason == "bad signature"


@given(st.text(min_size=1))
def test_any_text_as_a_signature_is_an_answer_never_an_error(text):
    assume(text.strip().lower() != SIGNATURE)

    assert not verify(signature=text).allowed


@pytest.mark.parametrize("seconds", [-MAX_AGE, -1, 0, 1, MAX_AGE])
def test_a_timestamp_within_the_maximum_age_is_accepted(seconds):
    assert verify(now=SENT_AT + timedelta(seconds=seconds)).allowed


def test_a_stale_timestamp_is_rejected_with_its_age():
    decision = verify(now=SENT_AT + timedelta(seconds=MAX_AGE + 1))

    assert not decision.allowed
    assert decision.reason == f"stale timestamp: {MAX_AGE + 1} s old, the limit is {MAX_AGE} s"


def test_a_timestamp_from_the_future_is_rejected_as_such():
    decision = verify(now=SENT_AT - timedelta(seconds=MAX_AGE + 60))

    assert not decision.allowed
    assert decision.reason == f"timestamp {MAX_AGE + 60} s in the future, the limit is {MAX_AGE} s"


def test_a_replay_much_later_is_rejected():
    assert not verify(now=SENT_AT + timedelta(days=400)).allowed


@pytest.mark.parametrize("timestamp", ["yesterday", "", "0x5d5b0d7d", "nan", "NaN", "inf",
                                       "-inf", "1e999"])
def test_a_timestamp_that_is_not_a_finite_number_is_rejected(timestamp):
    # "nan" parses as a float and compares false with everything: it must not pass as fresh.
    decision = verify(timestamp=timestamp)

    assert not decision.allowed
    assert decision.reason == "Sentry-Hook-Timestamp is not a number"


def test_a_missing_timestamp_is_rejected():
    decision = verify(timestamp=None)

    assert not decision.allowed and decision.reason == "missing Sentry-Hook-Timestamp header"


def test_the_signature_is_checked_before_the_timestamp():
    assert verify(body=b"{}", timestamp="nan").reason == "bad signature"


def test_the_right_shared_secret_is_accepted():
    decision = verify_secret_header("s3cret-token", "s3cret-token")

    assert decision.allowed and decision.reason == "secret valid"


@pytest.mark.parametrize("value", [None, ""])
def test_a_missing_shared_secret_is_rejected(value):
    decision = verify_secret_header(value, "s3cret-token")

    assert not decision.allowed and decision.reason == "missing secret header"


@pytest.mark.parametrize("value", ["s3cret-tokeN", "s3cret-token ", "s3cret", "s3cret-token-x",
                                   "s3crét-token", "\udcff"])
def test_a_wrong_shared_secret_is_rejected(value):
    decision = verify_secret_header(value, "s3cret-token")

    assert not decision.allowed and decision.reason == "wrong secret"


def test_a_non_ascii_shared_secret_is_compared_exactly():
    assert verify_secret_header("clé-secrète", "clé-secrète").allowed
    assert not verify_secret_header("cle-secrete", "clé-secrète").allowed
