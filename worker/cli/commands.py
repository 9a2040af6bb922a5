"""The `suture` command line: run the service (embedded or as separate processes), ingest a file,
upgrade the database, show status, and run the demo."""

from __future__ import annotations

import logging
import os
import signal
import threading
from pathlib import Path
from typing import Annotated

import typer
import uvicorn

from worker.cli.env import env_cli
from worker.cli.health import health
from worker.cli.output import echo, echo_json
from worker.cli.runs import runs_cli
from worker.settings import ConfigError, Settings, load_settings

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

ConfigOption = typer.Option(None, "--config", "-c", envvar="SUTURE_CONFIG",
                            help="TOML configuration file.")


def _settings(config: Path | None, **overrides: object) -> Settings:
    try:
        return load_settings(config, **overrides)
    except ConfigError as exc:
        echo(f"suture: {exc}", err=True)
        raise typer.Exit(2) from None


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

    settings = _settings(config)
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

    settings = _settings(config)
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
    settings = _settings(config)
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

    settings = _settings(config)
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

    settings = _settings(config)
    _logging(settings)
    try:
        report = ingest_file(settings, file)
    except ValueError as exc:
        echo(f"suture: {exc}", err=True)
        raise typer.Exit(1) from None
    echo_json(report)


@cli.command()
def suspects(
    repo: Annotated[Path, typer.Option("--repo", help="The repository (work tree or bare).")],
    event: Annotated[Path, typer.Option("--event", help="Sentry or Datadog event JSON.")],
    top: Annotated[int, typer.Option("--top", min=1, help="How many suspects to list.")] = 5,
    as_json: Annotated[bool, typer.Option("--json", help="Print the JSON contract.")] = False,
    release: Annotated[str | None, typer.Option(help="Release (default: the event's).")] = None,
    previous_release: Annotated[str | None, typer.Option(help="The release before it.")] = None,
) -> None:
    """Rank the commits that may have caused an event's crash, and who owns the code."""
    from worker.cli.suspects import print_suspects

    raise typer.Exit(print_suspects(repo, event, top=top, as_json=as_json, release=release,
                                    previous_release=previous_release))


@cli.command()
def digest(
    week: Annotated[str | None, typer.Option("--week", help="ISO week YYYY-Www "
                                             "(default: the last whole week).")] = None,
    fmt: Annotated[str, typer.Option("--format", help="markdown or html.")] = "markdown",
    send: Annotated[bool, typer.Option("--send", help="Send it to digest.channels too "
                                       "(each channel gets a week's digest once).")] = False,
    config: Path | None = ConfigOption,
) -> None:
    """Print the weekly digest of what suture saw and did, and optionally send it."""
    from worker.cli.digest import run_digest

    raise typer.Exit(run_digest(_settings(config), week, fmt, send))


@cli.command()
def status(
    config: Path | None = ConfigOption,
    follow: Annotated[bool, typer.Option(
        "--follow", "-f", help="Then print each run transition as it happens, until Ctrl-C.")
    ] = False,
    for_seconds: Annotated[float | None, typer.Option(
        "--for", min=0, help="With --follow: stop after this many seconds.")] = None,
) -> None:
    """Clusters and their runs, newest first (`suture runs show N` for one run's history)."""
    from worker.cli.runs import follow_status
    from worker.scrub import scrub_text
    from worker.store import SqlStore

    settings = _settings(config)
    store = SqlStore(settings.database_url)
    store.migrate()
    for cluster in store.list_clusters():
        echo(f"cluster {cluster.id} [{cluster.status}] {scrub_text(cluster.title)} "
             f"({cluster.event_count} events, {cluster.user_count} users)")
        for run in store.list_runs(cluster.id):
            echo(f"  run {run.id} episode {run.episode}: {run.state} - "
                 f"{scrub_text(run.reason)}")
    if follow:
        follow_status(store, for_seconds)
    store.close()


@cli.command()
def doctor(
    config: Path | None = ConfigOption,
    as_json: Annotated[bool, typer.Option("--json", help="Print the checks as JSON.")] = False,
) -> None:
    """Check the setup: git, the sandbox, each repository, the forge, the database, the broker,
    the playbooks and the error sources, each with its fix; exit 1 when a check failed."""
    from worker.cli.doctor import doctor_cli

    raise typer.Exit(doctor_cli(config, as_json))


@cli.command()
def demo(keep: bool = typer.Option(False, help="Keep the demo's working folder.")) -> None:
    """The whole loop offline: a sample app crashes, Sentry's webhook arrives, a ticket is filed."""
    from worker.demo import run_demo

    raise typer.Exit(run_demo(keep=keep))


@sandbox_cli.command("exec", context_settings={"allow_extra_args": True,
                                               "ignore_unknown_options": True})
def sandbox_exec(
    ctx: typer.Context,
    worktree: Annotated[Path, typer.Option("--worktree", help="The only writable folder.")],
    allow_host: Annotated[list[str] | None, typer.Option(
        "--allow-host", help="A host the command may reach (repeatable).")] = None,
) -> None:
    """Run one command in exactly the sandbox an agent gets: `... -- CMD ARGS`."""
    from worker.cli.sandbox import sandbox_exec as run_in_sandbox

    if not ctx.args:
        echo("suture: give the command after --", err=True)
        raise typer.Exit(2)
    raise typer.Exit(run_in_sandbox(worktree, allow_host or [], list(ctx.args)))


@cli.command()
def verify(
    repo: Annotated[Path, typer.Option("--repo", help="The repository.")],
    base: Annotated[str, typer.Option("--base", help="The commit the patch applies to.")],
    patch: Annotated[Path, typer.Option("--patch", help="A unified diff.")],
    test_command: Annotated[str | None, typer.Option(
        "--test-command", help="The test command; {tests} becomes the selected tests in the "
                               "runner's own format.")] = None,
    setup_command: Annotated[list[str] | None, typer.Option(
        "--setup-command", help="Repeatable: builds the repository's environment in the "
                                "sandbox (network to the package indexes only) before any "
                                "test; without it, detected from the repository.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the JSON contract.")] = False,
    error: Annotated[str | None, typer.Option(
        "--error", help="The crash's exception type, which the reproduction must show.")] = None,
    bisect: Annotated[bool, typer.Option(
        "--bisect", help="Run a verified reproduction back in history to find the commit "
                         "that brought the crash in.")] = False,
) -> None:
    """Verify a patch outside any model: diff policy, reproduction test, suite (sandboxed)."""
    from worker.app.local import make_environments, new_sandbox, open_local_workspace
    from worker.cli.verify import CANNOT_VERIFY, verify_cli
    from worker.ports import SutureError

    try:
        workspace = open_local_workspace(repo)
    except SutureError as exc:
        echo(f"suture: verification could not run: {exc}", err=True)
        raise typer.Exit(CANNOT_VERIFY) from None
    sandbox = new_sandbox()
    environments = make_environments(_settings(None), sandbox)
    raise typer.Exit(verify_cli(workspace, base, patch, test_command, as_json, sandbox,
                                error=error, bisect=bisect, environments=environments,
                                setup=setup_command))


@playbooks_cli.command("check")
def playbooks_check(config: Path | None = ConfigOption) -> None:
    """Validate every playbook and render its templates once; exit 1 on any problem."""
    from worker.playbooks import check_playbooks

    directory = _settings(config).playbooks_dir
    problems = check_playbooks(directory)
    for problem in problems:
        echo(f"problem: {problem}", err=True)
    count = len(list(directory.glob("*.yaml")))
    echo(f"{count} playbooks checked, {len(problems)} problem(s)")
    raise typer.Exit(1 if problems else 0)


@db_cli.command("upgrade")
def db_upgrade(config: Path | None = ConfigOption) -> None:
    """Create or upgrade the database schema."""
    from worker.store import SqlStore

    store = SqlStore(_settings(config).database_url)
    store.migrate()
    store.close()
    echo("database is up to date")


@db_cli.command("scrub")
def db_scrub(config: Path | None = ConfigOption) -> None:
    """Scrub secrets and personal data out of rows stored before ingestion scrubbed them."""
    from worker.cli.scrub_store import scrub_store_cli

    raise typer.Exit(scrub_store_cli(_settings(config)))


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="suture")

