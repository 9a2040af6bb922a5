"""The `suture` command line: `commands` holds the app and the service's processes, `tools` the
operator's other commands; the others each hold one command's work (ingesting a file, ranking
suspects, the sandbox, verifying a patch, checking the setup)."""

from __future__ import annotations

from worker.cli.commands import cli, main

__all__ = ["cli", "main"]
