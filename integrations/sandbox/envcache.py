"""The on-disk cache of repository environments.

    <root>/entries/<key>/{record.json, env/, keep/<folder>}   one finished environment
    <root>/staging/<random>/                                  builds (and their worktrees)
    <root>/locks/<key>.lock, <root>/locks/evict.lock          file locks

An entry appears only whole: it is built in `staging/` on the same file system and renamed into
place. A lock per key (an exclusive `flock`) keeps two workers from building the same key, and
the second one finds the first one's entry. After each build entries unused for `max_age` go,
then the least recently used ones until the total fits `max_bytes`; entries used within
`in_use` are spared, since a run may still be mounting them (the total may then stay over the
limit for a while).
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import shutil
import stat
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from worker.env.models import EnvRecord

log = logging.getLogger("suture.env")

RECORD = "record.json"
STALE_STAGING = timedelta(days=1)  # a build folder this old was left by a killed worker


def utc_now() -> datetime:
    """The current time, timezone-aware."""
    return datetime.now(UTC)


class EnvCache:
    """Entries by key under `root` (see the module docstring)."""

    def __init__(self, root: Path, *, max_bytes: int, max_age: timedelta,
                 in_use: timedelta = timedelta(hours=2),
                 clock: Callable[[], datetime] = utc_now) -> None:
        self.root = Path(os.path.abspath(root))
        self.max_bytes = max_bytes
        self.max_age = max_age
        self.in_use = in_use
        self.clock = clock
        for name in ("entries", "staging", "locks"):
            (self.root / name).mkdir(parents=True, exist_ok=True)

    def entry(self, key: str) -> Path:
        """Where the entry for `key` is (or would be)."""
        return self.root / "entries" / key

    @contextlib.contextmanager
    def locked(self, key: str) -> Iterator[None]:
        """Hold the key's lock (waiting for it) for the block."""
        with self._lock(f"{key}.lock", wait=True):
            yield

    def lookup(self, key: str) -> EnvRecord | None:
        """The entry's record, or None when there is no usable entry."""
        entry = self.entry(key)
        record = _read_record(entry)
        if record is None or not (entry / "env").is_dir():
            return None
        if any(not (entry / "keep" / folder).is_dir() for folder in record.keep):
            return None
        return record

    def touch(self, record: EnvRecord) -> EnvRecord:
        """Note that the entry was used now; the updated record."""
        updated = record.model_copy(update={"last_used": self.clock()})
        _write_record(self.entry(record.key), updated)
        return updated

    @contextlib.contextmanager
    def staging(self) -> Iterator[Path]:
        """A fresh build folder, removed with whatever is left in it when the block ends."""
        folder = self.root / "staging" / uuid.uuid4().hex
        folder.mkdir()
        try:
            yield folder
        finally:
            remove_tree(folder)

    def commit(self, built: Path, record: EnvRecord) -> None:
        """Make the folder `built` (holding `env/` and `keep/`) the entry for `record.key`."""
        _write_record(built, record)
        target = self.entry(record.key)
        if target.exists():  # unusable (lookup said so): replaced under the key's lock
            self._discard(target)
        os.rename(built, target)

    def records(self) -> list[EnvRecord]:
        """Every entry's record, least recently used first."""
        found = []
        for entry in sorted((self.root / "entries").iterdir()):
            record = _read_record(entry)
            if record is not None:
                found.append(record)
        return sorted(found, key=lambda r: r.last_used)

    def evict(self, keep: str | None = None) -> list[str]:
        """Remove entries too old, then the least recently used beyond the size limit (never
        `keep`, nor entries another worker holds or used within `in_use`); the removed keys."""
        with self._lock("evict.lock", wait=False) as mine:
            if not mine:
                return []  # another worker is evicting
            self._sweep_staging()
            now = self.clock()
            removed: list[str] = []
            live = self.records()
            total = sum(record.size_bytes for record in live)
            for record in live:
                idle = now - record.last_used
                if record.key == keep or idle < self.in_use:
                    continue
                if (idle > self.max_age or total > self.max_bytes) and self._remove(record.key):
                    removed.append(record.key)
                    total -= record.size_bytes
            if removed:
                log.info("environment cache: removed %d entries, %d bytes kept", len(removed),
                         total)
            return removed

    def _remove(self, key: str) -> bool:
        with self._lock(f"{key}.lock", wait=False) as mine:
            if not mine:
                return False
            self._discard(self.entry(key))
            return True

    def _discard(self, entry: Path) -> None:
        # Renamed away first: a reader never sees an entry half deleted.
        trash = self.root / "staging" / f"{uuid.uuid4().hex}.trash"
        with contextlib.suppress(FileNotFoundError):
            os.rename(entry, trash)
            remove_tree(trash)

    def _sweep_staging(self) -> None:
        cutoff = self.clock() - STALE_STAGING
        for folder in (self.root / "staging").iterdir():
            with contextlib.suppress(OSError):
                if datetime.fromtimestamp(folder.stat().st_mtime, UTC) < cutoff:
                    remove_tree(folder)

    @contextlib.contextmanager
    def _lock(self, name: str, *, wait: bool) -> Iterator[bool]:
        path = self.root / "locks" / name
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
            held = True
        except BlockingIOError:
            held = False
        try:
            yield held
        finally:
            os.close(fd)  # closing the descriptor releases the lock


def tree_size(path: Path) -> int:
    """Bytes a folder takes on disk, links not followed."""
    total = 0
    stack = [path]
    while stack:
        with contextlib.suppress(OSError), os.scandir(stack.pop()) as entries:
            for item in entries:
                info = item.stat(follow_symlinks=False)
                total += info.st_blocks * 512
                if stat.S_ISDIR(info.st_mode):
                    stack.append(Path(item.path))
    return total


def remove_tree(path: Path) -> None:
    """Remove a folder, making its read-only folders writable first (a setup may leave some)."""
    if path.is_symlink() or not path.is_dir():
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        return
    for folder, _, _ in os.walk(path):
        with contextlib.suppress(OSError):
            if not os.access(folder, os.W_OK | os.X_OK):
                os.chmod(folder, 0o700)
    shutil.rmtree(path, ignore_errors=True)


def _read_record(entry: Path) -> EnvRecord | None:
    try:
        return EnvRecord.model_validate_json((entry / RECORD).read_bytes())
    except (OSError, ValueError):
        return None


def _write_record(entry: Path, record: EnvRecord) -> None:
    temporary = entry / f".{RECORD}.{uuid.uuid4().hex}"
    temporary.write_text(record.model_dump_json(indent=2), "utf-8")
    os.replace(temporary, entry / RECORD)
