"""The folder artifact store and the web route that serves its files to reviewers."""

from __future__ import annotations

import hashlib
import os

import pytest

from integrations.artifacts import FolderArtifacts
from tests.support import make_app, served
from worker.app.local import make_artifacts
from worker.ports import ArtifactStore, PermanentError

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


@pytest.fixture
def store(tmp_path) -> FolderArtifacts:
    return FolderArtifacts(tmp_path / "artifacts", "https://suture.example/")


def test_put_then_get_returns_the_same_bytes_with_a_url_and_digest(store, tmp_path):
    assert isinstance(store, ArtifactStore)
    kept = store.put(7, "base.png", PNG, "image/png")
    assert kept.url == "https://suture.example/artifacts/7/base.png"
    assert kept.path == str(tmp_path / "artifacts" / "7" / "base.png")
    assert (kept.sha256, kept.size) == (hashlib.sha256(PNG).hexdigest(), len(PNG))
    assert (tmp_path / "artifacts" / "7" / "base.png").read_bytes() == PNG
    found = store.get(7, "base.png")
    assert found is not None and found == (kept, PNG)
    replaced = store.put(7, "base.png", PNG + b"!", "image/png")
    assert replaced.size == len(PNG) + 1
    assert os.listdir(tmp_path / "artifacts" / "7") == ["base.png"]  # no temporary left over


def test_text_is_kept_as_utf8_plain_text(store):
    kept = store.put(1, "replay.log", "résumé\n".encode(), "text/plain")
    assert kept.content_type == "text/plain; charset=utf-8"


@pytest.mark.parametrize("name", [
    "../escape.png", "..", "a/b.png", "/etc/passwd.txt", ".hidden.png", "a\\b.png",
    "page.html", "script.svg", "noextension", "x.png\x00.txt", "", "a" * 200 + ".png",
])
def test_names_that_could_leave_the_folder_or_are_not_png_or_text_are_refused(store, tmp_path,
                                                                              name):
    with pytest.raises(PermanentError):
        store.put(1, name, b"x", "text/plain")
    assert store.get(1, name) is None
    assert not (tmp_path / "escape.png").exists()


def test_a_type_that_disagrees_with_the_name_or_a_bad_run_id_is_refused(store):
    with pytest.raises(PermanentError, match="must be image/png"):
        store.put(1, "base.png", b"<html>", "text/html")
    with pytest.raises(PermanentError):
        store.put(-1, "base.png", PNG, "image/png")
    assert store.get(1, "missing.png") is None


def test_a_symbolic_link_in_the_store_is_not_followed(store, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("do not serve")
    (tmp_path / "artifacts" / "3").mkdir(parents=True)
    (tmp_path / "artifacts" / "3" / "leak.txt").symlink_to(secret)
    assert store.get(3, "leak.txt") is None
    (tmp_path / "artifacts" / "4").symlink_to(tmp_path)
    assert store.get(4, "secret.txt") is None


@pytest.fixture
def app(tmp_path):
    app = make_app(tmp_path, settings={"artifacts": {"dir": str(tmp_path / "artifacts"),
                                                     "public_url": "http://review.example"}})
    yield app
    app.close()


def test_the_web_app_serves_kept_files_with_their_type_and_nosniff(app):
    artifacts = make_artifacts(app.settings)
    png = artifacts.put(12, "fix.png", PNG, "image/png")
    log = artifacts.put(12, "replay.txt", b"<script>alert(1)</script>", "text/plain")
    assert png.url == "http://review.example/artifacts/12/fix.png"
    with served(app) as client:
        answer = client.get("/artifacts/12/fix.png")
        assert answer.status_code == 200 and answer.content == PNG
        assert answer.headers["content-type"] == "image/png"
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert "sandbox" in answer.headers["content-security-policy"]
        text = client.get("/artifacts/12/replay.txt")
        assert text.headers["content-type"] == "text/plain; charset=utf-8"
        assert text.text == "<script>alert(1)</script>"
        assert log.sha256 in text.headers["etag"]
        missing = client.get("/artifacts/12/missing.png")
        assert missing.status_code == 404 and missing.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize("path", [
    "/artifacts/12/unknown.png", "/artifacts/13/fix.png", "/artifacts/x/fix.png",
    "/artifacts/12/..%2F..%2Fsuture.db", "/artifacts/12/%2e%2e", "/artifacts/12/fix.html",
    "/artifacts/-1/fix.png", "/artifacts/12/",
])
def test_anything_not_in_the_store_is_a_404(app, tmp_path, path):
    make_artifacts(app.settings).put(12, "fix.png", PNG, "image/png")
    (tmp_path / "artifacts" / "12" / "fix.html").write_text("<script></script>")
    with served(app) as client:
        answer = client.get(path)
    assert answer.status_code == 404
    assert b"PNG" not in answer.content and b"script" not in answer.content
