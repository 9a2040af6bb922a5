"""What the command line prints: every line leaves through `worker.egress` (`Channel.CLI`).

Commands print with `echo` or `echo_json` (never `typer.echo` or `print`): a run's reason, a
cluster's title or a build log may quote an event or a vendor's answer. Live output of a
process (an environment build, a sandboxed command) goes through a `LineStream`, which scrubs
whole lines, so a secret split across two chunks of output is still found.
"""

from __future__ import annotations

import json
import sys
from typing import Any, TextIO

import typer

from worker.egress import Channel, outbound, outbound_value


def echo_json(document: Any, *, err: bool = False) -> None:
    """Print a JSON document, each string in it scrubbed on its own: a key's name is not taken
    as the context of the value that follows (an `author` is not an `auth` secret)."""
    typer.echo(json.dumps(outbound_value(document, Channel.CLI), indent=2), err=err)


def echo(message: object = "", *, err: bool = False, nl: bool = True) -> None:
    """Print `message` (as text) on standard output, or standard error with `err`, scrubbed."""
    typer.echo(outbound(str(message), Channel.CLI), err=err, nl=nl)


class LineStream:
    """A process's output passed on line by line, each line scrubbed; `close` writes what is
    left after the last newline."""

    def __init__(self, err: bool = False) -> None:
        self._err = err
        self._pending = ""

    def _stream(self) -> TextIO:
        # Looked up per write: a test runner swaps the streams after start-up.
        return sys.stderr if self._err else sys.stdout

    def write(self, text: str) -> None:
        """Add `text`; every completed line is written at once."""
        lines = (self._pending + text).split("\n")
        self._pending = lines.pop()
        if lines:
            stream = self._stream()
            stream.write("".join(outbound(line, Channel.CLI) + "\n" for line in lines))
            stream.flush()

    def close(self) -> None:
        """Write the last, unterminated line, if any."""
        if self._pending:
            stream = self._stream()
            stream.write(outbound(self._pending, Channel.CLI))
            stream.flush()
            self._pending = ""
