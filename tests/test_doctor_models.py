"""The doctor's check of the model endpoints the tool loop and agent CLIs reach."""

from __future__ import annotations

from pathlib import Path

from worker.doctor.model import Status
from worker.doctor.models import check_models
from worker.doctor.plan import needs
from worker.settings import load_settings


def settings(tmp_path: Path, **fix: object):
    return load_settings(None, data_dir=tmp_path, fix=fix)


def test_no_endpoint_is_fine_and_says_what_that_means(tmp_path: Path) -> None:
    check = check_models(settings(tmp_path))
    assert check.status is Status.OK
    assert check.found.startswith("no model endpoint: only the fix templates propose patches")
    off = check_models(settings(tmp_path, enabled=False))
    assert off.status is Status.OK and off.found == "the fix loop is off"


def test_configured_endpoints_are_named_without_their_keys(tmp_path: Path) -> None:
    check = check_models(settings(
        tmp_path, agent={"base_url": "https://llm.example/v1", "api_key": "sk-secret-value"},
        anthropic={"api_key": "sk-ant-secret-value"}))
    assert check.status is Status.OK
    assert check.found == ("OpenAI-compatible at https://llm.example/v1; Anthropic at "
                           "https://api.anthropic.com; agent CLIs reach them through the model "
                           "proxy")
    local = check_models(settings(tmp_path, agent={"base_url": "http://127.0.0.1:8080/v1"}))
    assert local.status is Status.OK and "(no key)" in local.found


def test_a_key_sent_over_plain_http_to_another_host_is_a_warning(tmp_path: Path) -> None:
    check = check_models(settings(
        tmp_path, agent={"base_url": "http://llm.internal/v1", "api_key": "sk-secret-value"}))
    assert check.status is Status.WARNING
    assert "fix.agent.base_url sends its key over plain HTTP" in check.found
    assert check.fix == "use an https:// URL for fix.agent.base_url"


def test_only_the_agent_queue_checks_the_models() -> None:
    assert "models" in needs("doctor") and "models" in needs("worker", ["agent"])
    assert "models" not in needs("worker", ["default"]) and "models" not in needs("web")
