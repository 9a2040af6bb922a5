"""`suture demo`: the offline loop opens exactly one draft pull request, with a real push, the
failing request replayed on previews and screenshots, and shows dedupe and authentication."""

from __future__ import annotations

import re

from worker.demo import run_demo


def test_the_demo_opens_one_pull_request_and_leaves_the_configured_database_alone(
        tmp_path, monkeypatch):
    # An operator's configuration must not leak into the demo, nor the demo into their database.
    elsewhere = tmp_path / "production.db"
    monkeypatch.setenv("SUTURE_DATABASE_URL", f"sqlite:///{elsewhere}")
    monkeypatch.setenv("SUTURE_FORGE", "files")
    monkeypatch.setenv("SUTURE_TICKETS_DIR", str(tmp_path / "tickets"))
    lines: list[str] = []

    status = run_demo(say=lines.append)

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
