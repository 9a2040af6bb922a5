"""The typed run record: stored as JSON, read back validated, on SQLite and PostgreSQL.

`fixtures/run-details-before-typed-record.json` is the `details` column of the demo's run as
the code before the typed record wrote it (untyped dictionaries), with the demo's temporary
folder renamed; it must still load.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import update

from worker.correlate.models import Correlation
from worker.fix.models import Attempt, SuiteReport, Verification
from worker.models import ErrorEvent, ExceptionInfo, Frame, RunState, Source
from worker.runs import FixOutcome, Publication, RunRecord
from worker.store.tables import RunRow

STORED_BEFORE = Path(__file__).parent / "fixtures" / "run-details-before-typed-record.json"


def new_run(store) -> int:
    event = ErrorEvent(source=Source.SENTRY, event_id="e1", project="shop",
                       timestamp=datetime(2026, 11, 1, tzinfo=UTC),
                       exceptions=[ExceptionInfo(type="ZeroDivisionError", frames=[
                           Frame(filename="shop/pricing.py", function="average", lineno=9)])])
    return store.record_event(event, "fp1", sample_size=5).run_id


def store_raw(store, run_id: int, details: dict) -> None:
    with store.session() as session:
        session.execute(update(RunRow).where(RunRow.id == run_id).values(details=details))


def test_a_run_stored_in_the_untyped_format_loads_typed(store):
    run_id = new_run(store)
    store_raw(store, run_id, json.loads(STORED_BEFORE.read_text()))
    record = store.get_run(run_id).record
    assert record.unreadable == []
    assert record.correlation.suspects[0].sha == record.fix.bisection.culprit
    fixed = record.fix
    assert [a.agent for a in fixed.patched] == ["templates"]
    chosen = fixed.chosen
    assert chosen.agent == "templates" and chosen.patch.startswith("diff --git")
    verdict = chosen.verification
    assert verdict.verified and verdict.suite.ran and verdict.reproduction.ran
    assert verdict.suite.counts.passed_on_base == 6 and verdict.suite.counts.broken == 0
    assert verdict.reproduction.reproduced == verdict.reproduction.red_on_base
    assert verdict.policy.passed and verdict.policy.changed_lines == chosen.changed_lines
    assert fixed.verify_audit and fixed.verify_audit[0].argv[:2] == ["sh", "-c"]
    assert fixed.bisection.good_verdict == "good" and len(fixed.bisection.probes) == 3


def test_a_transition_replaces_the_parts_it_carries_and_keeps_the_others(store):
    run_id = new_run(store)
    store_raw(store, run_id, json.loads(STORED_BEFORE.read_text()))
    publication = Publication(key="ticket:fp1:1", url="https://example.test/1")
    assert store.transition(run_id, RunState.NEW, RunState.TICKETED, "ticket filed",
                            record=RunRecord(publication=publication))
    record = store.get_run(run_id).record
    assert record.publication == publication
    assert record.fix.chosen.agent == "templates" and record.correlation is not None


def test_a_part_that_cannot_be_read_is_named_and_the_rest_still_loads(store, caplog):
    run_id = new_run(store)
    stored = json.loads(STORED_BEFORE.read_text())
    store_raw(store, run_id, {"correlation": stored["correlation"],
                              "fix": {"attempts": "not a list"}, "from_the_future": 1})
    record = store.get_run(run_id).record
    assert record.fix is None and record.unreadable == ["fix"]
    assert record.correlation is not None and record.correlation.release
    assert "run record part 'fix' cannot be read" in caplog.text


def test_the_record_round_trips_through_its_stored_form():
    verdict = Verification(verified=False, reasons=["x"], suite=SuiteReport(note="off"))
    record = RunRecord(correlation=Correlation(release="a" * 40),
                       fix=FixOutcome(base="b" * 40, attempts=[Attempt(agent="cli", patch="p")]))
    stored = record.stored()
    assert set(stored) == {"correlation", "fix"}, "parts not yet written are left out"
    again = RunRecord.load(json.loads(json.dumps(stored)))
    assert again == record and again.fix.patched[0].agent == "cli"
    assert Verification.model_validate(verdict.model_dump(mode="json")) == verdict
