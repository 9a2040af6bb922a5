"""Links into the code host, for tickets and pull requests."""

from __future__ import annotations

from worker.settings import Settings


def commit_url(settings: Settings, slug: str | None, sha: str) -> str | None:
    """The web page of a commit on the code host, when the repository lives on one."""
    if settings.forge != "github" or not slug:
        return None
    base = settings.github.base_url.rstrip("/")
    if base == "https://api.github.com":
        base = "https://github.com"
    base = base.removesuffix("/api/v3")
    return f"{base}/{slug}/commit/{sha}"
