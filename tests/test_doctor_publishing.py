"""`suture doctor` on proposing fixes: the code host's credentials, and what previews need."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from integrations.probes import HostProbes
from worker.doctor import Status, SystemProbes, needs
from worker.doctor.publishing import check_code_host, check_following, check_previews
from worker.settings import load_settings

SHOP = {"name": "shop", "repository": ".", "slug": "acme/shop"}


def settings(tmp_path: Path, **overrides: Any):
    values: dict[str, Any] = {"database_url": f"sqlite:///{tmp_path / 'suture.db'}",
                              "data_dir": tmp_path / "data", "services": [SHOP]}
    return load_settings(None, **(values | overrides))


class NoBrowser(SystemProbes):
    """The real probes on a machine without Chromium."""

    def __init__(self) -> None:
        super().__init__(HostProbes())

    def program(self, name: str) -> str | None:
        return None


def probes() -> SystemProbes:
    return SystemProbes(HostProbes())


def test_no_code_host_files_tickets(tmp_path):
    check = check_code_host(settings(tmp_path), probes())
    assert check.status is Status.OK and "tickets" in check.found


def test_github_needs_an_app_or_a_token(tmp_path):
    bare = check_code_host(settings(tmp_path, code_host="github"), probes())
    assert bare.status is Status.ERROR and "SUTURE_GITHUB__TOKEN" in bare.fix
    token = check_code_host(settings(tmp_path, code_host="github", github={"token": "t"}),
                            probes())
    assert token.status is Status.OK and "personal token" in token.found


def test_a_github_app_needs_its_id_and_a_readable_key(tmp_path):
    half = check_code_host(settings(tmp_path, code_host="github", github={"app_id": 7}), probes())
    assert half.status is Status.ERROR and "both" in half.found
    missing = check_code_host(settings(tmp_path, code_host="github", github={
        "app_id": 7, "app_private_key_file": str(tmp_path / "nope.pem")}), probes())
    assert missing.status is Status.ERROR and "is not a file" in missing.found
    key = tmp_path / "app.pem"
    key.write_text("-----BEGIN RSA PRIVATE KEY-----\n")
    ok = check_code_host(settings(tmp_path, code_host="github", github={
        "app_id": 7, "app_private_key_file": str(key)}), probes())
    assert ok.status is Status.OK and "GitHub App 7" in ok.found


def test_gitlab_needs_a_token_and_services_without_a_slug_are_named(tmp_path):
    bare = check_code_host(settings(tmp_path, code_host="gitlab"), probes())
    assert bare.status is Status.ERROR and "SUTURE_GITLAB__TOKEN" in bare.fix
    unslugged = check_code_host(settings(tmp_path, code_host="gitlab", gitlab={"token": "t"},
                                         services=[{"name": "api", "repository": "."}]),
                                probes())
    assert unslugged.status is Status.WARNING and "api" in unslugged.found


def test_previews_need_a_writable_artifact_folder_and_warn_without_chromium(tmp_path):
    assert check_previews(settings(tmp_path), probes()).status is Status.OK  # none configured
    previewed = [{**SHOP, "preview": {"command": "python -m http.server {port}"}}]
    (tmp_path / "a-file").write_text("")
    bad = check_previews(settings(tmp_path, services=previewed,
                                  artifacts={"dir": str(tmp_path / "a-file" / "art")}), probes())
    assert bad.status is Status.ERROR and "SUTURE_ARTIFACTS__DIR" in bad.fix
    blind = check_previews(settings(tmp_path, services=previewed), NoBrowser())
    assert blind.status is Status.WARNING and "apt-get install chromium" in blind.fix


def test_previews_are_checked_where_fixes_are_verified_and_the_code_host_where_published():
    assert "previews" in needs("worker", ["agent"]) and "previews" not in needs("worker",
                                                                                 ["default"])
    assert "code host" in needs("worker", ["default"]) and "code host" in needs("doctor")


def test_following_warns_when_pull_requests_can_only_be_polled(tmp_path):
    none = check_following(settings(tmp_path), probes())
    assert none.status is Status.OK and "nothing to follow" in none.found
    polled = check_following(settings(tmp_path, code_host="github", github={"token": "t"}),
                             probes())
    assert polled.status is Status.WARNING and "SUTURE_GITHUB__WEBHOOK_SECRET" in polled.fix
    hooked = check_following(settings(tmp_path, code_host="gitlab", gitlab={
        "token": "t", "webhook_secret": "s" * 32}, notify={
        "slack_webhook_url": "https://hooks.slack.com/services/T/B/X"}), probes())
    assert hooked.status is Status.OK and "/hooks/gitlab" in hooked.found
    assert "slack" in hooked.found.lower()
