"""The folder `ArtifactStore`: evidence files under `<root>/<run_id>/<name>`, served by suture.

Names come from suture's own stages, but a name is still checked rather than trusted: it must be
one plain file name with an allowed extension, so nothing can be written or read outside the
run's folder (no separators, no `..`, no hidden files, no symbolic links followed). Only PNG
images and plain text are kept, and the extension decides the type a file is served with, so a
stored file can never become an HTML page on suture's origin. Writes go to a temporary file
first and are renamed into place, so a reader never sees half a file.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path

from worker.ports import Artifact, PermanentError

# The only types kept, by extension; the web app serves each file with exactly this type.
CONTENT_TYPES: dict[str, str] = {
    ".png": "image/png",
    ".txt": "text/plain; charset=utf-8",
    ".log": "text/plain; charset=utf-8",
    ".diff": "text/plain; charset=utf-8",
}
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")
_MAX_BYTES = 64 * 1024 * 1024


def content_type_of(name: str) -> str | None:
    """The type `name` is kept and served as, or None when it is not a valid artifact name."""
    if not _NAME.fullmatch(name) or ".." in name:
        return None
    return CONTENT_TYPES.get(os.path.splitext(name)[1].lower())


class FolderArtifacts:
    """Artifacts as files in a folder; each URL is `{public_url}/artifacts/{run_id}/{name}`."""

    def __init__(self, root: Path, public_url: str) -> None:
        self.root = root
        self.public_url = public_url.rstrip("/")

    def put(self, run_id: int, name: str, data: bytes, content_type: str) -> Artifact:
        """Write `data` as run `run_id`'s `name`; PermanentError for a bad name, type or size."""
        kept_as = self._checked(run_id, name)
        if _bare(content_type) != _bare(kept_as):
            raise PermanentError(f"artifact {name!r} must be {_bare(kept_as)}, not "
                                 f"{content_type[:60]!r}")
        if len(data) > _MAX_BYTES:
            raise PermanentError(f"artifact {name!r} is larger than {_MAX_BYTES} bytes")
        folder = self.root / str(run_id)
        try:
            folder.mkdir(parents=True, exist_ok=True)
            if folder.is_symlink():
                raise PermanentError(f"artifact folder of run {run_id} is a symbolic link")
            handle, temporary = tempfile.mkstemp(dir=folder, prefix=".incoming-")
            try:
                with os.fdopen(handle, "wb") as out:
                    out.write(data)
                os.replace(temporary, folder / name)
            except BaseException:
                Path(temporary).unlink(missing_ok=True)
                raise
        except OSError as exc:
            raise PermanentError(f"could not keep artifact {name!r}: {exc}") from exc
        return self._artifact(run_id, name, data, kept_as)

    def get(self, run_id: int, name: str) -> tuple[Artifact, bytes] | None:
        """The artifact and its bytes, or None for an unknown or invalid name."""
        try:
            kept_as = self._checked(run_id, name)
        except PermanentError:
            return None
        path = self.root / str(run_id) / name
        try:
            # O_NOFOLLOW: a symbolic link planted in the folder is refused, not followed.
            handle = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        except OSError:
            return None
        with os.fdopen(handle, "rb") as stream:
            if (self.root / str(run_id)).is_symlink():
                return None
            data = stream.read(_MAX_BYTES + 1)
        if len(data) > _MAX_BYTES:
            return None
        return self._artifact(run_id, name, data, kept_as), data

    def _checked(self, run_id: int, name: str) -> str:
        if isinstance(run_id, bool) or not isinstance(run_id, int) or run_id < 0:
            raise PermanentError(f"artifact run id must be a non-negative integer: {run_id!r}")
        kept_as = content_type_of(name)
        if kept_as is None:
            raise PermanentError(
                f"artifact name {name[:80]!r} is not a plain file name ending in one of "
                f"{', '.join(sorted(CONTENT_TYPES))}")
        return kept_as

    def _artifact(self, run_id: int, name: str, data: bytes, content_type: str) -> Artifact:
        return Artifact(url=f"{self.public_url}/artifacts/{run_id}/{name}",
                        path=str(self.root / str(run_id) / name),
                        sha256=hashlib.sha256(data).hexdigest(), size=len(data),
                        content_type=content_type)


def _bare(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()
