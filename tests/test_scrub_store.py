"""`suture db scrub`: rows an older suture stored raw are rewritten scrubbed, on SQLite and
PostgreSQL, and running it again changes nothing."""

from __future__ import annotations

import random

from typer.testing import CliRunner

from tests import fakes
from tests.support import compact, make_settings
from tests.test_scrub_corpus import Corpus, leaks, sentry_event, webhook
from worker.cli.commands import cli
from worker.cli.scrub_store import scrub_stored
from worker.correlate.models import Correlation, MappedFrame
from worker.fingerprint import fingerprint
from worker.fix.models import Attempt
from worker.models import Frame, RunState
from worker.normalise import from_sentry_webhook
from worker.runs import FixOutcome, RunRecord
from worker.store import SqlStore


def test_rows_stored_raw_are_scrubbed_once(store: SqlStore) -> None:
    corpus = Corpus(random.Random(77))
    payload = webhook(sentry_event(corpus, "json"))
    delivery_id, _ = store.add_delivery("sentry", "event_alert", compact(payload), payload)
    event = from_sentry_webhook("event_alert", payload)
    assert event is not None
    # What an older suture did: the normalised event stored as it came.
    outcome = store.record_event(event, fingerprint(event), 20)
    store.finish_delivery(delivery_id, "processed", "ok")
    assert outcome.run_id is not None
    line = f"notify('{fakes.email(corpus.rng)}')"
    correlation = Correlation(release="1", frames=[MappedFrame(
        frame=Frame(filename="shop/views.py", lineno=3, context_line=line), source_line=line)])
    attempt = Attempt(agent="templates", patch=f"+{line}\n", transcript=[{"code": line}])
    assert store.transition(outcome.run_id, RunState.NEW, RunState.TRIAGED, f"saw {line}",
                            record=RunRecord(correlation=correlation,
                                             fix=FixOutcome(attempts=[attempt])))
    assert len(leaks(store, corpus.planted)) >= 20  # the event, title and delivery hold them

    report = scrub_stored(store)

    assert report.events == 1 and report.clusters == 1 and report.deliveries == 1
    assert report.runs == 1 and report.transitions == 1
    assert leaks(store, corpus.planted) == []
    [run] = store.list_runs()
    assert run.record.correlation is not None and run.record.fix is not None
    assert "[REDACTED:email]" in (run.record.correlation.frames[0].source_line or "")
    assert run.record.fix.attempts[0].patch == "+notify('[REDACTED:email]')\n"
    assert scrub_stored(store).__dict__ == dict.fromkeys(report.__dict__, 0)


def test_the_command_reports_what_it_changed(tmp_path) -> None:
    settings = make_settings(tmp_path)
    store = SqlStore(settings.database_url)
    store.migrate()
    payload = {"comment": "raw"}
    delivery_id, _ = store.add_delivery("github", "issue_comment", compact(payload), payload)
    store.finish_delivery(delivery_id, "processed", "ok")
    store.close()
    result = CliRunner().invoke(cli, ["db", "scrub"], env={
        "SUTURE_DATABASE_URL": settings.database_url})
    assert result.exit_code == 0, result.output
    assert "emptied 1 ingested webhook" in result.output
