"""`python -m worker.cli`: the same as the `suture` command."""

from __future__ import annotations

from worker.cli.commands import main

main()
