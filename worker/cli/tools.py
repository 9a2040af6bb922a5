"""The operator's commands beside the service's processes: rank suspects, print the digest,
show status, check the setup, run the demo, run a command in the sandbox, verify a patch, check
the playbooks and maintain the database. `worker.cli.commands` registers each under its name."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from worker.cli.config import ConfigOption, settings_or_exit
from worker.cli.output import echo


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

    raise typer.Exit(run_digest(settings_or_exit(config), week, fmt, send))


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

    settings = settings_or_exit(config)
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


def doctor(
    config: Path | None = ConfigOption,
    as_json: Annotated[bool, typer.Option("--json", help="Print the checks as JSON.")] = False,
) -> None:
    """Check the setup: git, the sandbox, each repository, the forge, the database, the broker,
    the playbooks and the error sources, each with its fix; exit 1 when a check failed."""
    from worker.cli.doctor import doctor_cli

    raise typer.Exit(doctor_cli(config, as_json))


def demo(keep: bool = typer.Option(False, help="Keep the demo's working folder.")) -> None:
    """The whole loop offline: a sample app crashes, Sentry's webhook arrives, a ticket is filed."""
    from worker.demo import run_demo

    raise typer.Exit(run_demo(keep=keep))


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
    environments = make_environments(settings_or_exit(None), sandbox)
    raise typer.Exit(verify_cli(workspace, base, patch, test_command, as_json, sandbox,
                                error=error, bisect=bisect, environments=environments,
                                setup=setup_command))


def playbooks_check(config: Path | None = ConfigOption) -> None:
    """Validate every playbook and render its templates once; exit 1 on any problem."""
    from worker.playbooks import check_playbooks

    directory = settings_or_exit(config).playbooks_dir
    problems = check_playbooks(directory)
    for problem in problems:
        echo(f"problem: {problem}", err=True)
    count = len(list(directory.glob("*.yaml")))
    echo(f"{count} playbooks checked, {len(problems)} problem(s)")
    raise typer.Exit(1 if problems else 0)


def db_upgrade(config: Path | None = ConfigOption) -> None:
    """Create or upgrade the database schema."""
    from worker.store import SqlStore

    store = SqlStore(settings_or_exit(config).database_url)
    store.migrate()
    store.close()
    echo("database is up to date")


def db_scrub(config: Path | None = ConfigOption) -> None:
    """Scrub secrets and personal data out of rows stored before ingestion scrubbed them."""
    from worker.cli.scrub_store import scrub_store_cli

    raise typer.Exit(scrub_store_cli(settings_or_exit(config)))
