"""`suture demo`: the offline loop opens exactly one draft pull request, with a real push, the
failing request replayed on previews and screenshots, and shows dedupe and authentication."""

from __future__ import annotations

import contextlib
import re
import shutil
import sqlite3
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from worker.demo import run_demo


@pytest.fixture
def demo_tmp() -> Iterator[Path]:
    """The demo's temporary folder, straight under the system's: the sandbox's egress proxy
    listens on a Unix socket inside it, whose path may be at most 107 bytes, and `tmp_path`
    (longer still under pytest-xdist, `popen-gwN/`) leaves too little room."""
    folder = Path(tempfile.mkdtemp(prefix="suture-demo-"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def test_the_demo_opens_one_pull_request_and_leaves_the_configured_database_alone(
        tmp_path, demo_tmp, monkeypatch):
    # An operator's configuration must not leak into the demo, nor the demo into their database.
    elsewhere = tmp_path / "production.db"
    monkeypatch.setenv("SUTURE_DATABASE_URL", f"sqlite:///{elsewhere}")
    monkeypatch.setenv("SUTURE_FORGE", "files")
    monkeypatch.setenv("SUTURE_TICKETS_DIR", str(tmp_path / "tickets"))
    # The demo's folder lands here, so each line can be checked against its database as it
    # is said: what the run had reached when the line arrived.
    monkeypatch.setattr(tempfile, "tempdir", str(demo_tmp))
    lines: list[str] = []
    arrivals: list[tuple[str, list[str] | None]] = []

    def say(line: str) -> None:
        lines.append(line)
        arrivals.append((line, states_so_far(demo_tmp)))

    status = run_demo(say=say)

    printed = "\n".join(lines)
    assert status == 0, printed
    assert re.search(r"^4\. signed Sentry webhook delivered: HTTP 202 ", printed, re.M)
    assert re.search(r"^5\. the same webhook again: HTTP 200 \{'duplicate': True", printed, re.M)
    assert re.search(r"^6\. a webhook with a bad signature: HTTP 401 ", printed, re.M)
    assert re.search(r"^7\. draft pull requests on the GitHub stand-in for acme/shop: 1$",
                     printed, re.M)
    assert "publishing -> proposed: draft pull request opened" in printed
    assert re.search(r"branch suture/\S+-zerodivisionerror pushed to the bare remote at "
                     r"[0-9a-f]{12}", printed)
    assert re.search(r"replayed GET /cart/average\?cart=empty: base 500 .* fix 200 ", printed)
    shots = re.findall(r"screenshot of the (base|fix) preview: \S+\.png \(\d+x\d+\), linked "
                       r"as \S+ \(served: 200 image/png\)", printed)
    assert shots == ["base", "fix"]
    assert re.search(r"check run 'suture' on [0-9a-f]{12}: success, \d+ characters of logs",
                     printed)
    # The shop's tests ran with the pytest its requirements-dev.txt names, installed in its own
    # environment (a virtualenv without suture's packages), not with suture's own.
    assert "the shop's tests ran in its own environment (detected from requirements-dev.txt" \
        in printed
    assert "ZeroDivisionError" in printed
    assert printed.splitlines()[-1].startswith("demo succeeded")
    assert not elsewhere.exists()
    assert not (tmp_path / "tickets").exists()
    check_steps_arrived_while_running(arrivals)


def states_so_far(folder) -> list[str] | None:
    """The states the demo's run has entered so far (None before suture's database exists)."""
    found = list(folder.glob("suture-demo-*/suture.db"))
    if not found:
        return None
    with contextlib.closing(sqlite3.connect(f"file:{found[0]}?mode=ro", uri=True)) as db:
        try:
            return [row[0] for row in db.execute("SELECT to_state FROM transitions ORDER BY id")]
        except sqlite3.OperationalError:  # the schema is being made
            return []


def check_steps_arrived_while_running(arrivals) -> None:
    """Each step was said as it happened: the demo's own steps before suture even started, and
    every transition in order, the first ones while the run was still going."""
    said = [line for line, _ in arrivals]
    assert arrivals[0][0].startswith("1. sample app") and arrivals[0][1] is None
    assert arrivals[1][0].startswith("2. production request") and arrivals[1][1] is None
    steps = [(index, line, seen) for index, (line, seen) in enumerate(arrivals)
             if re.match(r"   run \d+: \S+ -> \S+: ", line)]
    pairs = [re.match(r"   run \d+: (\S+) -> (\S+): ", line).groups() for _, line, _ in steps]
    assert pairs[0] == ("-", "new") and pairs[-1][1] == "proposed"
    # In order: each transition starts where the one before it ended.
    assert all(pairs[n][0] == pairs[n - 1][1] for n in range(1, len(pairs)))
    # Said between the webhook's delivery and the duplicate's, one per transition stored.
    delivered = next(n for n, line in enumerate(said) if line.startswith("4. "))
    again = next(n for n, line in enumerate(said) if line.startswith("5. "))
    assert delivered < steps[0][0] and steps[-1][0] < again
    assert len(pairs) == len(arrivals[again][1])
    # Not all at the end: the run's first transition was said before it was proposed.
    first_seen = steps[0][2]
    assert first_seen is not None and "proposed" not in first_seen
