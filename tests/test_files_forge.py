"""FilesForge: Markdown tickets in a folder, idempotent by marker, safe against hostile names."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest

from integrations.files_forge import FilesForge, repo_folder_name, slug
from worker.models import Ticket
from worker.ports import PermanentError, TicketDraft, TicketForge

MARKER = "suture-fingerprint: 3f2a9c"


def draft(marker: str = MARKER, **overrides: Any) -> TicketDraft:
    values: dict[str, Any] = {
        "repo": "acme/shop",
        "title": "ZeroDivisionError in checkout.total",
        "body": f"Seen 12 times.\n\n{marker}\n",
        "labels": ["suture", "bug"],
        "marker": marker,
    }
    values.update(overrides)
    return TicketDraft(**values)


def front_matter(path: Path) -> dict[str, str]:
    """The front matter block as raw `key: value` strings."""
    lines = path.read_text("utf-8").split("\n")
    assert lines[0] == "---"
    end = lines.index("---", 1)
    return dict(line.split(": ", 1) for line in lines[1:end])


def path_of(ticket: Ticket) -> Path:
    parts = urlsplit(ticket.url)
    assert parts.scheme == "file"
    return Path(unquote(parts.path))


def ticket_files(root: Path) -> list[Path]:
    return sorted(path for path in root.rglob("*") if path.is_file() and path.suffix == ".md")


def test_is_a_ticket_forge(tmp_path: Path) -> None:
    assert isinstance(FilesForge(tmp_path), TicketForge)


def test_open_ticket_writes_a_numbered_markdown_file(tmp_path: Path) -> None:
    ticket = FilesForge(tmp_path).open_ticket(draft())

    path = tmp_path / "acme__shop" / "0001-zerodivisionerror-in-checkout-total.md"
    assert ticket == Ticket(ref="1", url=path.resolve().as_uri())
    meta = front_matter(path)
    assert json.loads(meta["title"]) == "ZeroDivisionError in checkout.total"
    assert json.loads(meta["repo"]) == "acme/shop"
    assert json.loads(meta["labels"]) == ["suture", "bug"]
    assert json.loads(meta["marker"]) == MARKER
    assert meta["created"].endswith("Z")
    assert path.read_text("utf-8").rstrip().endswith(MARKER)


def test_opening_the_same_marker_again_adopts_the_file(tmp_path: Path) -> None:
    forge = FilesForge(tmp_path)

    first = forge.open_ticket(draft())
    second = forge.open_ticket(draft(title="Another title"))

    assert second == first
    assert len(ticket_files(tmp_path)) == 1


def test_new_markers_get_increasing_numbers(tmp_path: Path) -> None:
    forge = FilesForge(tmp_path)

    refs = [forge.open_ticket(draft(marker=f"suture-fingerprint: {n}")).ref for n in range(3)]

    assert refs == ["1", "2", "3"]
    assert [p.name[:4] for p in ticket_files(tmp_path)] == ["0001", "0002", "0003"]


def test_find_ticket(tmp_path: Path) -> None:
    forge = FilesForge(tmp_path)
    filed = forge.open_ticket(draft())

    assert forge.find_ticket("acme/shop", MARKER) == filed
    assert forge.find_ticket("acme/shop", "suture-fingerprint: other") is None
    assert forge.find_ticket("acme/elsewhere", MARKER) is None


def test_marker_is_appended_when_the_body_lacks_it(tmp_path: Path) -> None:
    forge = FilesForge(tmp_path)

    ticket = forge.open_ticket(draft(body="No marker in here."))

    text = path_of(ticket).read_text("utf-8")
    assert text.rstrip().endswith(f"No marker in here.\n\n{MARKER}")
    assert forge.find_ticket("acme/shop", MARKER) == ticket


def test_traversal_in_the_title_stays_inside_the_root(tmp_path: Path) -> None:
    root = tmp_path / "tickets"

    ticket = FilesForge(root).open_ticket(draft(title="../../etc/passwd"))

    path = path_of(ticket)
    assert path.parent == (root / "acme__shop").resolve()
    assert path.name == "0001-etc-passwd.md"
    assert ticket_files(tmp_path) == [root / "acme__shop" / "0001-etc-passwd.md"]


@pytest.mark.parametrize("repo", ["../../outside", "/etc/passwd", "acme/../../x", "..\\..\\x"])
def test_traversal_in_the_repository_stays_inside_the_root(tmp_path: Path, repo: str) -> None:
    root = tmp_path / "tickets"

    ticket = FilesForge(root).open_ticket(draft(repo=repo))

    assert path_of(ticket).is_relative_to(root.resolve())
    assert ticket_files(tmp_path) == ticket_files(root)


def test_unusable_repository_name_is_permanent(tmp_path: Path) -> None:
    with pytest.raises(PermanentError, match="repository"):
        FilesForge(tmp_path).open_ticket(draft(repo="../.."))


def test_hostile_title_cannot_break_the_front_matter(tmp_path: Path) -> None:
    title = 'x"\n---\nmarker: "forged"\n'

    ticket = FilesForge(tmp_path).open_ticket(draft(title=title))

    meta = front_matter(path_of(ticket))
    assert json.loads(meta["title"]) == title
    assert json.loads(meta["marker"]) == MARKER


def test_no_temporary_files_are_left_behind(tmp_path: Path) -> None:
    forge = FilesForge(tmp_path)
    for n in range(3):
        forge.open_ticket(draft(marker=f"m-{n}"))

    leftovers = [p.name for p in (tmp_path / "acme__shop").iterdir() if p.suffix == ".tmp"]
    assert leftovers == []


def test_concurrent_opens_of_one_marker_file_one_ticket(tmp_path: Path) -> None:
    forge = FilesForge(tmp_path)
    start = threading.Barrier(8)
    results: list[Ticket] = []

    def open_one() -> None:
        start.wait()
        results.append(forge.open_ticket(draft()))

    threads = [threading.Thread(target=open_one) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(results) == 8 and {ticket.url for ticket in results} == {results[0].url}
    assert len(ticket_files(tmp_path)) == 1


def test_empty_marker_is_refused(tmp_path: Path) -> None:
    with pytest.raises(PermanentError, match="marker"):
        FilesForge(tmp_path).open_ticket(draft(marker=" ", body="anything"))


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("TypeError: 'NoneType' object", "typeerror-nonetype-object"),
        ("Ünïcödé ÉRROR", "unicode-error"),
        ("!!!", "ticket"),
        ("a" * 200, "a" * 60),
    ],
)
def test_slug(title: str, expected: str) -> None:
    assert slug(title) == expected


def test_repo_folder_name() -> None:
    assert repo_folder_name("acme/shop") == "acme__shop"
    assert repo_folder_name("../../etc") == "etc"
