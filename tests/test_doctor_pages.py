"""The review pages' settings and doctor check: off, on, and the two setups it warns about."""

from __future__ import annotations

import pytest

from tests.support import make_settings
from worker.doctor import Status, needs
from worker.doctor.pages import MIN_TOKEN, check_pages
from worker.settings import ConfigError


def test_pages_without_a_way_to_sign_in_are_reported_off(tmp_path):
    check = check_pages(make_settings(tmp_path))
    assert check.status == Status.OK and check.found.startswith("off") and "404" in check.found


def test_a_long_token_is_ok_and_a_short_one_is_a_warning_with_the_fix(tmp_path):
    good = check_pages(make_settings(tmp_path, pages={"token": "x" * MIN_TOKEN}))
    assert good.status == Status.OK and "token login" in good.found
    short = check_pages(make_settings(tmp_path, pages={"token": "hunter2"}))
    assert short.status == Status.WARNING and "SUTURE_PAGES__TOKEN" in short.fix
    assert "hunter2" not in short.found + short.fix


def test_a_header_alone_warns_that_forms_do_not_survive_a_restart(tmp_path):
    check = check_pages(make_settings(tmp_path, pages={"trusted_header": "X-Forwarded-User"}))
    assert check.status == Status.WARNING and "x-forwarded-user" in check.found
    assert "restart" in check.found


def test_doctor_checks_the_pages_and_the_worker_does_not():
    assert "review pages" in needs("doctor") and "review pages" not in needs("worker")


def test_pages_settings_read_blanks_as_unset_and_refuse_a_bad_header(tmp_path, monkeypatch):
    monkeypatch.setenv("SUTURE_PAGES__TOKEN", "")
    monkeypatch.setenv("SUTURE_PAGES__SECURE_COOKIE", "")
    pages = make_settings(tmp_path).pages
    assert pages.token is None and pages.secure_cookie is None and not pages.enabled
    with pytest.raises(ConfigError, match="pages.trusted_header"):
        make_settings(tmp_path, pages={"trusted_header": "X-User: admin"})
