"""The `--config` option the commands share, and loading settings the command line's way."""

from __future__ import annotations

from pathlib import Path

import typer

from worker.cli.output import echo
from worker.settings import ConfigError, Settings, load_settings

ConfigOption = typer.Option(None, "--config", "-c", envvar="SUTURE_CONFIG",
                            help="TOML configuration file.")


def settings_or_exit(config: Path | None, **overrides: object) -> Settings:
    """The settings from `config`, the environment and `overrides`; a configuration error is
    printed and ends the command with status 2."""
    try:
        return load_settings(config, **overrides)
    except ConfigError as exc:
        echo(f"suture: {exc}", err=True)
        raise typer.Exit(2) from None
