"""`suture health`: the health check of a container or a Kubernetes probe, for any process."""

from __future__ import annotations

from pathlib import Path

import typer

from worker.cli.output import echo
from worker.settings import ConfigError, load_settings

ConfigOption = typer.Option(None, "--config", "-c", envvar="SUTURE_CONFIG",
                            help="TOML configuration file.")


LivenessOption = typer.Option(False, "--liveness",
                              help="Only the heartbeat: a liveness probe must not restart every "
                                   "process when the database is down.")


def health(config: Path | None = ConfigOption, liveness: bool = LivenessOption) -> None:
    """Check the heartbeat (when configured), the database and the broker; exit 1 if any fails."""
    from worker.health import check_health

    try:
        settings = load_settings(config)
    except ConfigError as exc:
        echo(f"suture: {exc}", err=True)
        raise typer.Exit(2) from None
    checks = check_health(settings)
    if liveness:
        checks = [check for check in checks if check.name == "heartbeat"]
    for check in checks:
        echo(f"{'ok' if check.ok else 'FAIL'} {check.name}: {check.detail}")
    raise typer.Exit(0 if all(check.ok for check in checks) else 1)
