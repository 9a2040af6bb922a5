"""Suspects with no evidence (no positive score, or a confidence printed as 0%) stay out of
tickets, pull request bodies, fix prompts and `suture suspects`, by the one rule in
`worker.correlate.presented`; when none is left, each says "no suspect with evidence"."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.support import make_app
from worker.cli.suspects import contract, table
from worker.correlate.models import Correlation, Suspect
from worker.correlate.presented import NO_EVIDENCE, has_evidence, presented, with_evidence
from worker.fix.models import SuiteReport, Verification
from worker.models import ErrorEvent, ExceptionInfo, Frame, RunState, Source
from worker.playbooks.catalogue import load_playbooks
from worker.playbooks.check import sample_context
from worker.playbooks.prompt import render_prompt
from worker.runs import ChosenPatch, FixOutcome, PullRequestRecord, RunRecord
from worker.settings import load_settings
from worker.stages.deps import open_run
from worker.stages.evidence import pull_request_body
from worker.stages.publish import draft_ticket

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
STRONG = Suspect(sha="a" * 40, score=2.4, confidence=0.62, author="Ann",
                 summary="Divide by the item count", reasons=["last changed the crashing line"])
WEAK = Suspect(sha="b" * 40, score=0.8, confidence=0.04, author="Bob",
               summary="Rename the totals helper", reasons=["touched a stack file"])
ZERO_CONFIDENCE = Suspect(sha="c" * 40, score=0.3, confidence=0.004, author="Cid",
                          summary="Bump the linter", reasons=["touched a stack file"])
ZERO_SCORE = Suspect(sha="d" * 40, score=0.0, confidence=0.2, author="Dee",
                     summary="Reformat everything", reasons=[])
NEGATIVE = Suspect(sha="e" * 40, score=-0.5, confidence=0.3, author="Eve",
                   summary="Reword comments", reasons=["only reworded"])
NOTHING = [ZERO_CONFIDENCE, ZERO_SCORE, NEGATIVE]
LEADS = "weak evidence: no suspect stands out; treat the list as leads"


def correlation(*suspects: Suspect, note: str = "") -> Correlation:
    return Correlation(release="f" * 40, suspects=list(suspects), note=note)


@pytest.mark.parametrize(("suspect", "shown"), [
    (STRONG, True), (WEAK, True), (ZERO_CONFIDENCE, False), (ZERO_SCORE, False),
    (NEGATIVE, False),
    (STRONG.model_copy(update={"confidence": 0.006}), True),  # printed as 1%
])
def test_a_suspect_is_shown_only_with_evidence(suspect, shown):
    assert has_evidence(suspect) is shown


def test_with_evidence_keeps_the_ranked_order():
    assert with_evidence([STRONG, ZERO_SCORE, WEAK, ZERO_CONFIDENCE]) == [STRONG, WEAK]


def test_when_none_is_left_the_note_says_so_and_drops_the_leads_advice():
    shown = presented(correlation(*NOTHING, note=f"release unknown; {LEADS}"))
    assert shown.suspects == []
    assert shown.note == f"{NO_EVIDENCE} (3 ranked commits left out); release unknown"
    alone = presented(correlation(ZERO_SCORE, note=LEADS))
    assert alone.note == f"{NO_EVIDENCE} (1 ranked commit left out)"


def test_a_correlation_with_only_evidence_is_unchanged():
    found = correlation(STRONG, WEAK, note=LEADS)
    assert presented(found) is found
    assert presented(None) is None


def test_suture_suspects_lists_only_suspects_with_evidence():
    shown = presented(correlation(STRONG, ZERO_CONFIDENCE))
    assert [s["sha"] for s in contract(shown)["suspects"]] == [STRONG.sha]
    assert "c" * 12 not in table(shown)
    none_left = table(presented(correlation(*NOTHING)))
    assert f"note: {NO_EVIDENCE}" in none_left and "Cid" not in none_left


def test_the_fix_prompt_lists_only_suspects_with_evidence():
    [playbook, *_] = load_playbooks(load_settings(None).playbooks_dir)
    context = sample_context().model_copy(update={"suspects": [ZERO_SCORE, STRONG]})
    prompt = render_prompt(playbook, context)
    assert STRONG.sha[:12] in prompt and ZERO_SCORE.sha[:12] not in prompt
    nothing = render_prompt(playbook, context.model_copy(update={"suspects": NOTHING}))
    assert "<untrusted-suspects>" not in nothing and f"None: {NO_EVIDENCE}." in nothing
    assert f"None: {NO_EVIDENCE}" not in render_prompt(
        playbook, context.model_copy(update={"suspects": []}))


def event() -> ErrorEvent:
    frame = Frame(filename="shop/cart.py", function="average", lineno=12)
    return ErrorEvent(source=Source.SENTRY, event_id="1" * 32, project="shop", timestamp=NOW,
                      exceptions=[ExceptionInfo(type="ZeroDivisionError",
                                                value="division by zero", frames=[frame])])


@pytest.fixture
def app_with_run(tmp_path):
    """An app whose one run carries a correlation (set per test) and a verified patch."""
    app = make_app(tmp_path)
    outcome = app.store.record_event(event(), "f" * 32, 20)
    assert outcome.run_id is not None

    def correlated(found: Correlation) -> int:
        chosen = ChosenPatch(agent="templates", patch="--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+b\n",
                             changed_lines=2,
                             verification=Verification(verified=True, suite=SuiteReport()))
        assert app.store.transition(outcome.run_id, RunState.NEW, RunState.VERIFIED, "test",
                                    record=RunRecord(correlation=found,
                                                     fix=FixOutcome(chosen=chosen)))
        return outcome.run_id

    yield app, correlated
    app.close()


def pr_body(app, run_id: int) -> str:
    opened = open_run(app.deps, run_id, tuple(RunState))
    return pull_request_body(app.deps, opened, PullRequestRecord(branch="suture/x"), None,
                             "suture:pr", NOW)


def test_tickets_and_pull_requests_list_only_suspects_with_evidence(app_with_run):
    app, correlated = app_with_run
    run_id = correlated(correlation(STRONG, ZERO_CONFIDENCE, WEAK, ZERO_SCORE))
    for body in (draft_ticket(app.deps, run_id, "ticket:x").body, pr_body(app, run_id)):
        assert "aaaaaaaaaaaa" in body and "bbbbbbbbbbbb" in body
        assert "cccccccccccc" not in body and "dddddddddddd" not in body
        assert "0%" not in body


def test_tickets_and_pull_requests_say_no_suspect_with_evidence(app_with_run):
    app, correlated = app_with_run
    run_id = correlated(correlation(*NOTHING, note=LEADS))
    ticket = draft_ticket(app.deps, run_id, "ticket:x").body
    pull = pr_body(app, run_id)
    for body in (ticket, pull):
        assert NO_EVIDENCE in body and "Cid" not in body and "treat the list" not in body
    assert "| commit | confidence |" not in ticket
