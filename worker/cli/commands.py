"""The `suture` command line: the service's processes (embedded or separate) and ingesting a
file are here; the operator's other commands are in `worker.cli.tools`, registered below."""

from __future__ import annotations

import logging
import os
import signal
import threading
from pathlib import Path
from typing import Annotated

import typer
import uvicorn

from worker.cli import tools
from worker.cli.config import ConfigOption, settings_or_exit
from worker.cli.env import env_cli
from worker.cli.health import health
from worker.cli.output import echo, echo_json
from worker.cli.runs import runs_cli
from worker.settings import Settings

cli = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="suture: production errors in, reviewed fixes out.")
db_cli = typer.Typer(help="Database maintenance.")
cli.add_typer(db_cli, name="db")
playbooks_cli = typer.Typer(help="Fix playbooks.")
cli.add_typer(playbooks_cli, name="playbooks")
sandbox_cli = typer.Typer(help="The sandbox agents run in.")
cli.add_typer(sandbox_cli, name="sandbox")
cli.add_typer(env_cli, name="env")
cli.add_typer(runs_cli, name="runs")
cli.command("health")(health)


def _logging(settings: Settings) -> None:
    from worker.logs import configure_logging

    configure_logging(settings.log_format)


def _wait_for_signal() -> None:
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    while not stop.wait(1):
        pass


@cli.command()
def run(config: Path | None = ConfigOption, threads: int = 4) -> None:
    """Everything in one process: web, worker and scheduler (in-memory broker, SQLite)."""
    from worker.app import build_app
    from worker.cli.doctor import preflight
    from worker.scheduler import Scheduler

    settings = settings_or_exit(config)
    _logging(settings)
    preflight(settings, "run")
    app = build_app(settings)
    worker = app.worker(threads)
    worker.start()
    scheduler = Scheduler(app)
    scheduler.start()
    try:
        uvicorn.run(app.web(), host=app.settings.host, port=app.settings.port, log_level="info",
                    log_config=None, access_log=app.settings.intake.access_log)
    finally:
        scheduler.stop()
        worker.stop()
        app.close()


@cli.command()
def web(config: Path | None = ConfigOption, workers: Annotated[int | None, typer.Option(
        help="Web processes (default: intake.workers, else one per CPU).")] = None) -> None:
    """The webhook receiver (production: with `suture worker` on Redis)."""
    from worker.app import build_app
    from worker.cli.doctor import preflight
    from worker.web.serve import serve, worker_count

    settings = settings_or_exit(config)
    _logging(settings)
    preflight(settings, "web")
    if (processes := worker_count(settings, workers)) > 1:
        serve(settings, config, processes)
        return
    app = build_app(settings)
    try:
        uvicorn.run(app.web(), host=app.settings.host, port=app.settings.port, log_level="info",
                    log_config=None, access_log=app.settings.intake.access_log)
    finally:
        app.close()


@cli.command()
def worker(
    config: Path | None = ConfigOption,
    threads: int = 4,
    queues: Annotated[list[str] | None, typer.Option(
        "--queue", help="Consume only this queue (repeatable): 'default' or 'agent'.")] = None,
) -> None:
    """A Dramatiq worker on the Redis or RabbitMQ broker; re-sends stuck work at start.

    Agents are slow and heavy: run a separate `suture worker --queue agent --threads 1` pool.
    """
    from worker.app import build_app
    from worker.cli.doctor import preflight
    from worker.health import start_heartbeat, worker_alive

    if queues and "agent" in queues:
        # Prefetch no more agent jobs than there are threads, or one worker hoards them.
        os.environ.setdefault("dramatiq_queue_prefetch", str(threads))
    settings = settings_or_exit(config)
    _logging(settings)
    if not settings.broker_url:
        echo("suture: `suture worker` needs SUTURE_BROKER_URL (use `suture run` for the "
             "embedded mode)", err=True)
        raise typer.Exit(2)
    preflight(settings, "worker", queues)
    app = build_app(settings)
    dramatiq_worker = app.worker(threads, set(queues) if queues else None)
    dramatiq_worker.start()
    heartbeat = start_heartbeat(settings.health, worker_alive(dramatiq_worker))
    report = app.reconcile()
    logging.getLogger("suture").info("worker started; re-sent %d runs, %d deliveries",
                                     len(report.runs), len(report.deliveries))
    try:
        _wait_for_signal()
    finally:
        if heartbeat is not None:
            heartbeat.stop()
        dramatiq_worker.stop()
        app.close()


@cli.command()
def scheduler(config: Path | None = ConfigOption) -> None:
    """Periodic polls and reconciler passes, each tick fired once across processes."""
    from worker.app import build_app
    from worker.brokers import leader_for
    from worker.cli.doctor import preflight
    from worker.health import start_heartbeat
    from worker.scheduler import Scheduler

    settings = settings_or_exit(config)
    _logging(settings)
    preflight(settings, "scheduler")
    app = build_app(settings)
    ticker = Scheduler(app, leader_for(settings))
    ticker.start()
    heartbeat = start_heartbeat(settings.health, ticker.running)
    try:
        _wait_for_signal()
    finally:
        if heartbeat is not None:
            heartbeat.stop()
        ticker.stop()
        app.close()


@cli.command()
def ingest(file: Path, config: Path | None = ConfigOption) -> None:
    """Feed a payload file (a Sentry or Datadog event or webhook body) through the webhook path."""
    from worker.cli.ingest_file import ingest_file

    settings = settings_or_exit(config)
    _logging(settings)
    try:
        report = ingest_file(settings, file)
    except ValueError as exc:
        echo(f"suture: {exc}", err=True)
        raise typer.Exit(1) from None
    echo_json(report)


# The operator's commands, in the order `suture --help` lists them.
for command in (tools.suspects, tools.digest, tools.status, tools.doctor, tools.demo,
                tools.verify):
    cli.command()(command)
sandbox_cli.command("exec", context_settings={"allow_extra_args": True,
                                              "ignore_unknown_options": True})(tools.sandbox_exec)
playbooks_cli.command("check")(tools.playbooks_check)
db_cli.command("upgrade")(tools.db_upgrade)
db_cli.command("scrub")(tools.db_scrub)


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="suture")
