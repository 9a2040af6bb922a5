"""`suture runs show N` and `suture status --follow`: a run's whole history, and transitions
printed as they happen."""

from __future__ import annotations

import json
import queue
import threading
from datetime import UTC, datetime

from typer.testing import CliRunner

from integrations.standins.base import recorded
from tests.support import compact, drain, make_app
from tests.test_store import event
from worker.cli import cli
from worker.cli.runs import stream_transitions
from worker.correlate.models import Correlation, Owner, Suspect
from worker.fix.models import Attempt, VerdictStatus
from worker.models import RunState
from worker.runs import AttemptVerdict, FixOutcome, FollowRecord, Publication, RunRecord
from worker.store.history import last_transition_id, transitions_after

EMAIL = "ann@example.com"


def ticketed_run(tmp_path, monkeypatch):
    payload = recorded("sentry/webhook-event-alert-triggered.json")
    app = make_app(tmp_path)
    delivery_id, _ = app.store.add_delivery("sentry", "event_alert", compact(payload), payload)
    app.actors.ingest_delivery.send(delivery_id)
    drain(app)
    monkeypatch.setenv("SUTURE_DATABASE_URL", app.settings.database_url)
    return app


def test_runs_show_prints_every_transition_in_order_and_the_ticket(tmp_path, monkeypatch):
    app = ticketed_run(tmp_path, monkeypatch)
    [run] = app.store.list_runs()
    history = app.store.transitions(run.id)
    app.close()

    result = CliRunner().invoke(cli, ["runs", "show", str(run.id)])

    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == f"run {run.id} (cluster {run.cluster_id}, episode 1): ticketed"
    shown = [line for line in lines if " -> " in line]
    assert len(shown) == len(history)
    for transition, line in zip(history, shown, strict=True):
        assert f"{transition.from_state or '-'} -> {transition.to_state.value}" in line
        assert line.endswith(transition.reason)
    assert f"published: ticket {run.ticket_url}" in lines


def test_runs_show_json_has_the_timeline_and_the_record(tmp_path, monkeypatch):
    app = ticketed_run(tmp_path, monkeypatch)
    [run] = app.store.list_runs()
    history = app.store.transitions(run.id)
    app.close()

    result = CliRunner().invoke(cli, ["runs", "show", str(run.id), "--json"])

    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    assert [step["to_state"] for step in shown["timeline"]] == [
        t.to_state.value for t in history]
    assert shown["timeline"][0]["after_seconds"] is None
    assert all(step["after_seconds"] >= 0 for step in shown["timeline"][1:])
    assert shown["publication"]["url"] == run.ticket_url and shown["state"] == "ticketed"


def test_runs_show_summarises_suspects_attempts_verdicts_and_what_followed(store, monkeypatch):
    run_id = store.record_event(event("e1"), "fp1", sample_size=5).run_id
    record = RunRecord(
        correlation=Correlation(release="abc123", suspects=[Suspect(
            sha="f" * 40, score=0.91, confidence=0.8, author="Ada", summary=f"mail {EMAIL}")],
            owners=[Owner(name="Ada", login="ada", source="codeowners", reason="owns it")]),
        fix=FixOutcome(playbook="python-zero-division", base="b" * 40, attempts=[
            Attempt(agent="templates", patch="--- a\n+++ b\n", cost_usd=0.0125, tokens=900),
            Attempt(agent="toolloop", error=f"gave up for {EMAIL}")],
            verifications=[AttemptVerdict(agent="templates", verified=False,
                                          status=VerdictStatus.REJECTED,
                                          reasons=["the reproduction still fails"])]),
        publication=Publication(key="ticket:fp1:1", url="https://tickets.example/7",
                                fallback_reason="push refused"),
        follow=FollowRecord(merged_at=datetime(2026, 1, 2, 3, 4, tzinfo=UTC), merged_by="bob"))
    store.transition(run_id, RunState.NEW, RunState.TICKETED, f"filed for {EMAIL}",
                     record=record)
    monkeypatch.setenv("SUTURE_DATABASE_URL", store.url)

    result = CliRunner().invoke(cli, ["runs", "show", str(run_id)])

    assert result.exit_code == 0, result.output
    text = result.stdout
    assert EMAIL not in text and "[REDACTED:email]" in text
    assert f"{'f' * 12} 0.91 Ada: mail [REDACTED:email]" in text
    assert "owners: ada" in text
    assert ("templates: a patch, $0.0125, 900 tokens, 0.0 s; rejected: the reproduction "
            "still fails") in text
    assert "toolloop: no patch (gave up for [REDACTED:email])" in text
    assert "published: ticket https://tickets.example/7" in text
    assert "instead of a pull request: push refused" in text
    assert "merged 2026-01-02 03:04 by bob" in text


def test_runs_show_of_an_unknown_run_exits_1(tmp_path, monkeypatch):
    monkeypatch.setenv("SUTURE_DATABASE_URL", f"sqlite:///{tmp_path / 'suture.db'}")
    result = CliRunner().invoke(cli, ["runs", "show", "42"])
    assert result.exit_code == 1 and "there is no run 42" in result.output


def test_follow_streams_each_transition_as_it_is_made_and_stops(store):
    run_id = store.record_event(event("e1"), "fp1", sample_size=5).run_id
    lines: queue.Queue[str] = queue.Queue()
    stop = threading.Event()
    start = last_transition_id(store)  # the run's opening is history: not streamed
    streaming = threading.Thread(target=stream_transitions, args=(store, lines.put, stop),
                                 kwargs={"after": start, "poll_seconds": 0.05})
    streaming.start()
    try:
        steps = [(RunState.NEW, RunState.TRIAGED, "policy allows it"),
                 (RunState.TRIAGED, RunState.CORRELATED, f"owner {EMAIL}"),
                 (RunState.CORRELATED, RunState.UNVERIFIED, "fix loop off")]
        for old, new, reason in steps:
            assert store.transition(run_id, old, new, reason)
            # Each line arrives before the next transition is made: streamed, not batched.
            line = lines.get(timeout=30)
            assert line.endswith(f"run {run_id}: {old.value} -> {new.value}: "
                                 f"{reason.replace(EMAIL, '[REDACTED:email]')}")
    finally:
        stop.set()
        streaming.join(timeout=30)
    assert not streaming.is_alive() and lines.empty()


def test_a_transition_made_as_the_stream_stops_is_still_printed(store):
    run_id = store.record_event(event("e1"), "fp1", sample_size=5).run_id
    stop = threading.Event()
    printed: list[str] = []

    def echo(line: str) -> None:
        printed.append(line)
        if len(printed) == 1:  # made while the stream is stopping
            store.transition(run_id, RunState.NEW, RunState.SKIPPED, "noise")
            stop.set()

    last = stream_transitions(store, echo, stop, after=0, poll_seconds=0.05)
    assert [line.split(": ")[1] for line in printed] == ["- -> new", "new -> skipped"]
    assert last == transitions_after(store)[-1].id


def test_status_follow_for_a_while_prints_the_status_then_stops(tmp_path, monkeypatch):
    app = ticketed_run(tmp_path, monkeypatch)
    app.close()
    result = CliRunner().invoke(cli, ["status", "--follow", "--for", "0.2"])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[1].startswith("  run 1 episode 1: ticketed")
