"""`suture env build`: build (or reuse) a repository's environment, the way the fix and verify
stages get theirs, and say what it is: its key, size, build time and whether it was reused.

Setup output streams to stderr as it comes, so `--json` keeps stdout to the JSON alone. The exit
status is 0 when the environment is ready, 1 when the setup failed, and 2 when it could not be
attempted (no repository, an unknown base, a broken sandbox).
"""

from __future__ import annotations

import codecs
from pathlib import Path
from typing import Annotated

import typer

from worker.cli.output import LineStream, echo, echo_json

READY, SETUP_FAILED, CANNOT_BUILD = 0, 1, 2

env_cli = typer.Typer(help="Repository environments: dependencies installed once, reused by "
                           "every sandboxed run.")


class _ToStderr:
    """The build's output, line by line and scrubbed, on standard error."""

    def __init__(self) -> None:
        self.lines = LineStream(err=True)
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")

    def __call__(self, _: str, chunk: bytes) -> None:
        self.lines.write(self._decoder.decode(chunk))


@env_cli.command("build")
def build(
    repo: Annotated[Path, typer.Option("--repo", help="The repository.")],
    base: Annotated[str, typer.Option("--base", help="The commit to build for.")] = "HEAD",
    setup_command: Annotated[list[str] | None, typer.Option(
        "--setup-command", help="A setup command (repeatable; the repository's .suture.yml "
                                "`setup:` wins; none: detected).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the environment as JSON.")
                       ] = False,
    config: Annotated[Path | None, typer.Option(
        "--config", "-c", envvar="SUTURE_CONFIG", help="TOML configuration file.")] = None,
) -> None:
    """Build or reuse the environment of `--repo` at `--base`."""
    from worker.app.local import make_environments, new_sandbox, open_local_workspace
    from worker.env.models import EnvironmentFailure
    from worker.ports import SutureError
    from worker.settings import ConfigError, load_settings

    tee = _ToStderr()
    try:
        settings = load_settings(config)
        environments = make_environments(settings, new_sandbox(tee=tee))
        result = environments.prepare(open_local_workspace(repo), base, setup_command or None)
    except (ConfigError, SutureError) as exc:
        echo(f"suture: the environment could not be built: {exc}", err=True)
        raise typer.Exit(CANNOT_BUILD) from None
    finally:
        tee.lines.close()
    failed = isinstance(result, EnvironmentFailure)
    if as_json:
        echo_json({"ready": not failed, **result.model_dump(mode="json")})
    elif isinstance(result, EnvironmentFailure):
        echo(f"setup failed: {result.reason}\n{result.log}")
    elif not result.key:
        echo(result.source)
    else:
        echo("\n".join([
            f"environment {result.key[:16]} {'reused' if result.reused else 'built'}",
            f"  {result.source}",
            *(f"  $ {command}" for command in result.commands),
            f"  size {result.size_bytes / 1_048_576:.1f} MB, built in "
            f"{result.build_seconds:.1f} s, ready in {result.seconds:.1f} s"]))
    raise typer.Exit(SETUP_FAILED if failed else READY)
