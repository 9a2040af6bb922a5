"""`suture runs show N` (one run's whole history and record) and the streaming half of
`suture status --follow`."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from worker.cli.output import echo, echo_json
from worker.settings import ConfigError, load_settings
from worker.store import SqlStore
from worker.tail import follow_transitions, transition_line
from worker.timeline import render, summarise

runs_cli = typer.Typer(help="suture's runs, one at a time.", no_args_is_help=True)


@contextmanager
def _store(config: Path | None) -> Iterator[SqlStore]:
    try:
        settings = load_settings(config)
    except ConfigError as exc:
        echo(f"suture: {exc}", err=True)
        raise typer.Exit(2) from None
    store = SqlStore(settings.database_url)
    try:
        store.migrate()
        yield store
    finally:
        store.close()


@runs_cli.command("show")
def show(
    run_id: Annotated[int, typer.Argument(help="The run's id (`suture status` lists them).")],
    config: Annotated[Path | None, typer.Option(
        "--config", "-c", envvar="SUTURE_CONFIG", help="TOML configuration file.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """A run's whole timeline (every transition with its time and reason) and what its stages
    found: suspects, attempts and verdicts, the pull request or ticket, what followed."""
    with _store(config) as store:
        run = store.get_run(run_id)
        if run is None:
            echo(f"suture: there is no run {run_id}", err=True)
            raise typer.Exit(1)
        summary = summarise(run, store.get_cluster(run.cluster_id), store.transitions(run_id))
    if as_json:
        echo_json(summary.model_dump(mode="json"))
    else:
        echo("\n".join(render(summary)))


def stream_transitions(store: SqlStore, echo: Callable[[str], None], stop: threading.Event,
                       *, after: int | None = None, poll_seconds: float = 0.5) -> int:
    """Print each transition after id `after` (default: made from now on), one line each,
    until `stop` is set; returns the id of the last one printed."""
    return follow_transitions(store, lambda entry: echo(transition_line(entry)), stop,
                              after=after, poll_seconds=poll_seconds)


def follow_status(store: SqlStore, seconds: float | None) -> None:
    """`suture status --follow`: stream transitions until Ctrl-C (or SIGTERM), or for
    `seconds` when given."""
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set())
                for sig in (signal.SIGINT, signal.SIGTERM)}
    timer = threading.Timer(seconds, stop.set) if seconds is not None else None
    if timer is not None:
        timer.daemon = True
        timer.start()
    try:
        stream_transitions(store, lambda line: echo(line), stop)
    finally:
        if timer is not None:
            timer.cancel()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
