"""Derived records are scrubbed before they are stored: correlation frames and source lines,
agents' patches (added lines only), transcripts, errors and command lines."""

from __future__ import annotations

import random

from tests import fakes
from worker.correlate.models import Correlation, MappedFrame, Suspect
from worker.fix.models import Attempt
from worker.models import Frame
from worker.runs import CommandSummary
from worker.scrub import scrub_patch, scrub_value
from worker.stages.scrubbing import scrubbed_attempt, scrubbed_command, scrubbed_correlation

RNG = random.Random(21)
MAIL = fakes.email(RNG)
PHONE = fakes.phone_e164(RNG)
IBAN = fakes.iban(RNG, "DE")

PATCH = (
    "diff --git a/app/views.py b/app/views.py\n"
    "--- a/app/views.py\n"
    "+++ b/app/views.py\n"
    "@@ -1,3 +1,3 @@\n"
    f" ADMIN = '{MAIL}'\n"
    f"-CONTACT = '{PHONE}'\n"
    f"+CONTACT = '{PHONE}'  # called by {MAIL}\n"
    "+TIMEOUT = 30\r\n"
)


def test_a_patch_loses_secrets_only_in_the_lines_it_adds() -> None:
    scrubbed = scrub_patch(PATCH)
    lines = scrubbed.splitlines(keepends=True)
    assert lines[:6] == PATCH.splitlines(keepends=True)[:6]  # headers, context, removed
    assert lines[6] == "+CONTACT = '[REDACTED:phone]'  # called by [REDACTED:email]\n"
    assert lines[7] == "+TIMEOUT = 30\r\n"
    assert scrub_patch(scrubbed) == scrubbed
    assert scrub_patch("") == ""


def test_an_attempt_is_stored_scrubbed_and_says_its_patch_was_changed() -> None:
    attempt = Attempt(agent="templates", patch=PATCH, error=f"failed for {MAIL}",
                      transcript=[{"step": "locate", "code": f"send({PHONE!r})",
                                   "nested": {"password": "Hunter2-x", "n": [IBAN]}}])
    scrubbed = scrubbed_attempt(attempt)
    dumped = scrubbed.model_dump_json()
    assert PHONE not in scrubbed.transcript[0]["code"]  # type: ignore[operator]
    assert "Hunter2-x" not in dumped and IBAN not in dumped
    assert scrubbed.error == "failed for [REDACTED:email]"
    assert scrubbed.transcript[-1]["step"] == "scrub"
    clean = Attempt(agent="templates", patch="+x = 1\n", transcript=[{"step": "locate"}])
    assert scrubbed_attempt(clean) == clean  # nothing to redact: nothing said


def test_a_correlation_is_stored_scrubbed() -> None:
    frame = Frame(filename="app/views.py", function="pay", lineno=3,
                  context_line=f"    pay(iban='{IBAN}')")
    found = Correlation(
        release="1.2.3.4",
        frames=[MappedFrame(frame=frame, path="app/views.py", depth=0,
                            source_line=f"CONTACT = '{PHONE}'")],
        suspects=[Suspect(sha="a" * 40, score=1.0, confidence=0.5, author="Dev",
                          email="dev@example.org", summary=f"Call {PHONE} on failure",
                          reasons=[f"touches the line with {MAIL}"])],
        note=f"mapped for {MAIL}")
    scrubbed = scrubbed_correlation(found)
    dumped = scrubbed.model_dump_json()
    for value in (IBAN, PHONE, MAIL):
        assert value not in dumped
    assert scrubbed.release == "1.2.3.4"
    assert scrubbed.suspects[0].email == "dev@example.org"  # an owner is not event data
    assert scrubbed.frames[0].frame.function == "pay" and scrubbed.frames[0].depth == 0


def test_command_lines_and_values_are_scrubbed() -> None:
    command = CommandSummary(argv=["curl", f"https://api.example.com/?to={MAIL}"], exit_code=0)
    assert MAIL not in " ".join(scrubbed_command(command).argv)
    assert scrub_value({"card": 4111111111111111, "ok": 3, "flag": True, "pwd": "x"}) == {
        "card": "[REDACTED:credit-card]", "ok": 3, "flag": True, "pwd": "[REDACTED:field]"}
