"""`FilesForge`: the `TicketForge` port on a folder of Markdown files, for running without GitHub.

Each repository gets a folder under `root` (`owner/name` becomes `owner__name`); each ticket is
`<NNNN>-<slug>.md` with a front matter block (title, repo, labels, marker, created) and the
body. Filing is idempotent by the marker, like on GitHub: a file whose text carries the marker
is the ticket. Titles and repository names are untrusted, so file names are built from a safe
alphabet only and every path is checked to stay under `root`. Files are written to a temporary
name and renamed into place, and numbering plus the marker check run under an exclusive lock on
the folder, so concurrent workers neither see half-written tickets nor file one twice.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import re
import tempfile
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from worker.egress import Channel, outbound
from worker.models import Ticket
from worker.ports import PermanentError, SutureError, TicketDraft, TransientError

_NUMBERED = re.compile(r"(\d+)-.*\.md")
_UNSAFE = re.compile(r"[^a-z0-9]+")
_UNSAFE_DIR = re.compile(r"[^A-Za-z0-9._-]+")
MAX_SLUG = 60
_LOCK_NAME = ".lock"


class FilesForge:
    """Tickets as Markdown files under `root`; `Ticket.url` is the file's `file://` URI."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def find_ticket(self, repo: str, marker: str) -> Ticket | None:
        """The ticket file of `repo` whose text carries `marker`, or None."""
        _require_marker(marker)
        folder = self._folder(repo)
        with _os_errors(f"reading tickets of {repo}"):
            return _find(folder, marker) if folder.is_dir() else None

    def open_ticket(self, draft: TicketDraft) -> Ticket:
        """Write the ticket file, or return the one already written with the draft's marker."""
        _require_marker(draft.marker)
        draft = draft.model_copy(update={"title": outbound(draft.title, Channel.TICKET),
                                         "body": outbound(draft.body, Channel.TICKET)})
        folder = self._folder(draft.repo)
        with _os_errors(f"filing a ticket for {draft.repo}"):
            folder.mkdir(parents=True, exist_ok=True)
            with _locked(folder):
                existing = _find(folder, draft.marker)
                if existing is not None:
                    return existing
                number = _next_number(folder)
                path = self._inside(folder / f"{number:04d}-{slug(draft.title)}.md")
                _write_atomically(path, render(draft))
                return Ticket(ref=str(number), url=path.resolve().as_uri())

    def _folder(self, repo: str) -> Path:
        return self._inside(self.root / repo_folder_name(repo))

    def _inside(self, path: Path) -> Path:
        """`path`, after checking that it resolves to somewhere under `root`."""
        if not path.resolve().is_relative_to(self.root.resolve()):
            raise PermanentError(f"refusing a ticket path outside the tickets folder: {path}")
        return path


def repo_folder_name(repo: str) -> str:
    """`owner/name` as one safe folder name (`owner__name`)."""
    parts = [_UNSAFE_DIR.sub("-", part).lstrip(".") for part in repo.split("/")]
    name = "__".join(part for part in parts if part)
    if not name:
        raise PermanentError(f"unusable repository name for a tickets folder: {repo!r}")
    return name


def slug(title: str) -> str:
    """A short lower-case ASCII file-name fragment of `title` (letters, digits, dashes)."""
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    text = _UNSAFE.sub("-", ascii_title.lower()).strip("-")
    return text[:MAX_SLUG].rstrip("-") or "ticket"


def render(draft: TicketDraft) -> str:
    """The file's text: front matter (values JSON-encoded, so valid YAML) and the body."""
    created = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    body = draft.body if draft.marker in draft.body else f"{draft.body.rstrip()}\n\n{draft.marker}"
    front = [
        f"title: {json.dumps(draft.title)}",
        f"repo: {json.dumps(draft.repo)}",
        f"labels: {json.dumps(draft.labels)}",
        f"marker: {json.dumps(draft.marker)}",
        f"created: {created}",
    ]
    return "---\n" + "\n".join(front) + "\n---\n\n" + body.rstrip("\n") + "\n"


def _find(folder: Path, marker: str) -> Ticket | None:
    for number, path in _tickets(folder):
        if marker in path.read_text("utf-8", errors="replace"):
            return Ticket(ref=str(number), url=path.resolve().as_uri())
    return None


def _tickets(folder: Path) -> list[tuple[int, Path]]:
    """Numbered ticket files with their numbers, in number order."""
    found = []
    for path in folder.iterdir():
        match = _NUMBERED.fullmatch(path.name)
        if match is not None and path.is_file():
            found.append((int(match.group(1)), path))
    return sorted(found)


def _next_number(folder: Path) -> int:
    return max((number for number, _ in _tickets(folder)), default=0) + 1


def _write_atomically(path: Path, text: str) -> None:
    """Write to a temporary file beside `path`, flush it to disk, then rename it into place."""
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


@contextmanager
def _locked(folder: Path) -> Iterator[None]:
    """Hold an exclusive lock on `folder` (across threads and processes) while numbering."""
    with (folder / _LOCK_NAME).open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


@contextmanager
def _os_errors(action: str) -> Iterator[None]:
    """File-system failures as port errors: permission problems are permanent, others not."""
    try:
        yield
    except SutureError:
        raise
    except OSError as exc:
        message = f"{action} failed: {exc.strerror or exc}"
        if isinstance(exc, PermissionError) or exc.errno in {errno.EROFS, errno.ENAMETOOLONG}:
            raise PermanentError(message) from exc
        raise TransientError(message) from exc


def _require_marker(marker: str) -> None:
    if not marker.strip():
        raise PermanentError("a ticket marker must not be empty: every ticket would match it")
