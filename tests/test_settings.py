"""Configuration: TOML file, environment overrides, secrets, and errors that name the bad key."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pydantic import SecretStr

from worker.correlate.engine import HORIZON_DAYS
from worker.settings import ConfigError, load_settings

TOML = """
database_url = "sqlite:///from-toml.db"
port = 9000

[sentry]
org = "acme"
token = "sentry-token-from-toml"
client_secret = "client-secret-from-toml"
projects = ["shop", "api"]

[datadog]
api_key = "dd-api-key"
app_key = "dd-app-key"
services = ["checkout"]

[policy]
ignore_types = ["KeyboardInterrupt"]
require_service = false

[[services]]
name = "shop"
sentry_project = "shop"
repository = "https://git.example/acme/shop.git"
slug = "acme/shop"

[[services]]
name = "checkout"
datadog_service = "checkout"
repository = "https://git.example/acme/checkout.git"
language = "go"
"""


@pytest.fixture(autouse=True)
def no_suture_environment(monkeypatch):
    """Each test starts without SUTURE_* variables, whatever the surrounding shell has."""
    for name in list(os.environ):
        if name.startswith("SUTURE_"):
            monkeypatch.delenv(name)


def write_toml(tmp_path: Path, text: str = TOML) -> Path:
    path = tmp_path / "suture.toml"
    path.write_text(text, encoding="utf-8")
    return path


def config_error(*args, **kwargs) -> str:
    with pytest.raises(ConfigError) as caught:
        load_settings(*args, **kwargs)
    return str(caught.value)


def test_a_toml_file_fills_nested_tables_and_the_services_array(tmp_path):
    settings = load_settings(write_toml(tmp_path))

    assert settings.database_url == "sqlite:///from-toml.db"
    assert settings.port == 9000
    assert settings.sentry.org == "acme" and settings.sentry.pollable
    assert settings.sentry.projects == ["shop", "api"]
    assert settings.datadog.pollable and settings.datadog.services == ["checkout"]
    assert settings.policy.ignore_types == ["KeyboardInterrupt"]
    assert settings.policy.require_service is False
    assert [service.name for service in settings.services] == ["shop", "checkout"]
    assert settings.services[0].slug == "acme/shop"
    assert settings.services[1].language == "go"
    assert settings.service_for(sentry_project="shop").name == "shop"
    assert settings.service_for(datadog_service="checkout").name == "checkout"
    assert settings.service_for(sentry_project="nobody") is None


def test_without_a_file_the_defaults_apply():
    settings = load_settings(None)

    assert settings.forge == "files" and settings.port == 8000
    assert settings.sentry.pollable is False and settings.datadog.pollable is False
    assert settings.services == []
    # Noise stays out of tickets unless turned on: unmapped projects and test notifications.
    assert settings.policy.require_service and settings.policy.skip_test_notifications
    assert (settings.playbooks_dir / "templates" / "ticket.md.j2").is_file()
    # The service reads as far back as the engine does when called alone (the CLI).
    assert settings.correlate.horizon_days == HORIZON_DAYS


def test_environment_variables_override_the_file_key_by_key(tmp_path, monkeypatch):
    monkeypatch.setenv("SUTURE_SENTRY__ORG", "from-env")
    monkeypatch.setenv("SUTURE_PORT", "9100")
    monkeypatch.setenv("SUTURE_POLICY__LEVELS", '["fatal"]')

    settings = load_settings(write_toml(tmp_path))

    assert settings.sentry.org == "from-env"
    # The rest of the [sentry] table still comes from the file.
    assert settings.sentry.projects == ["shop", "api"]
    assert settings.sentry.token.get_secret_value() == "sentry-token-from-toml"
    assert settings.port == 9100
    assert settings.policy.levels == ["fatal"]
    assert settings.policy.require_service is False


def test_arguments_given_in_code_win_over_the_environment(monkeypatch):
    monkeypatch.setenv("SUTURE_DATABASE_URL", "postgresql://prod.example/suture")
    monkeypatch.setenv("SUTURE_FORGE", "files")

    settings = load_settings(None, database_url="sqlite:///demo.db", forge="github")

    assert (settings.database_url, settings.forge) == ("sqlite:///demo.db", "github")


def test_secrets_are_secret_strings_that_never_print(tmp_path, monkeypatch):
    monkeypatch.setenv("SUTURE_GITHUB__TOKEN", "ghp-from-env")
    settings = load_settings(write_toml(tmp_path))

    secrets = [settings.sentry.token, settings.sentry.client_secret, settings.datadog.api_key,
               settings.datadog.app_key, settings.github.token]
    assert all(isinstance(secret, SecretStr) for secret in secrets)
    assert settings.github.token.get_secret_value() == "ghp-from-env"
    printed = repr(settings) + str(settings) + repr(settings.sentry) + str(settings.model_dump())
    for value in ("sentry-token-from-toml", "client-secret-from-toml", "dd-api-key",
                  "dd-app-key", "ghp-from-env"):
        assert value not in printed


def test_an_empty_secret_counts_as_not_configured(monkeypatch):
    # An HMAC key of "" would let anyone sign a Sentry webhook.
    monkeypatch.setenv("SUTURE_SENTRY__CLIENT_SECRET", "")
    monkeypatch.setenv("SUTURE_DATADOG__WEBHOOK_SECRET", "  ")
    monkeypatch.setenv("SUTURE_ERROR_DSN", "")

    settings = load_settings(None, github={"token": ""})

    assert settings.sentry.client_secret is None
    assert settings.datadog.webhook_secret is None
    assert settings.github.token is None
    assert settings.error_dsn is None


def test_a_bad_value_in_a_services_item_names_the_dotted_key_and_the_variable(tmp_path):
    text = TOML.replace('slug = "acme/shop"', 'slug = "no-owner"')

    message = config_error(write_toml(tmp_path, text))

    assert "services.0.slug" in message
    # A list item has no variable of its own: the list is set as JSON in SUTURE_SERVICES.
    assert "(SUTURE_SERVICES)" in message
    assert "owner/name" in message


def test_a_bad_environment_value_names_the_key_and_the_variable(monkeypatch):
    monkeypatch.setenv("SUTURE_SENTRY__PAGE_LIMIT", "1000")

    message = config_error(None)

    assert "sentry.page_limit" in message and "SUTURE_SENTRY__PAGE_LIMIT" in message


def test_every_bad_key_is_named_at_once():
    message = config_error(None, port="abc", datadog={"track": "metrics"})

    assert "port (SUTURE_PORT)" in message
    assert "datadog.track (SUTURE_DATADOG__TRACK)" in message


def test_an_unknown_top_level_key_fails(tmp_path):
    message = config_error(write_toml(tmp_path, 'databse_url = "sqlite:///typo.db"\n'))

    assert "databse_url" in message and "SUTURE_DATABSE_URL" in message


def test_an_unknown_key_inside_a_table_fails_instead_of_being_ignored(tmp_path):
    text = TOML.replace('client_secret = "client-secret-from-toml"',
                        'clinet_secret = "client-secret-from-toml"')

    message = config_error(write_toml(tmp_path, text))

    assert "sentry.clinet_secret" in message


def test_an_unknown_nested_environment_variable_fails(monkeypatch):
    monkeypatch.setenv("SUTURE_GITHUB__TOKNE", "x")

    assert "github.tokne (SUTURE_GITHUB__TOKNE)" in config_error(None)


def test_a_missing_config_file_fails_clearly(tmp_path):
    missing = tmp_path / "nowhere.toml"

    message = config_error(missing)

    assert "config file not found" in message and str(missing) in message


def test_a_malformed_toml_file_is_a_config_error(tmp_path):
    path = write_toml(tmp_path, "port = \n")

    message = config_error(path)

    assert "not valid TOML" in message and str(path) in message


def test_a_list_variable_that_is_not_json_is_a_config_error(monkeypatch):
    monkeypatch.setenv("SUTURE_SERVICES", "[{not json")

    assert "services" in config_error(None)


def test_the_config_file_applies_to_one_load_only(tmp_path):
    assert load_settings(write_toml(tmp_path)).port == 9000
    assert load_settings(None).port == 8000


def test_empty_folder_variables_mean_the_default_not_the_current_folder(monkeypatch):
    # env.example lists them empty; an empty path would put worktrees in the working directory.
    monkeypatch.setenv("SUTURE_FIX__WORKTREES_DIR", "")
    monkeypatch.setenv("SUTURE_ENV__CACHE_DIR", "")
    settings = load_settings(None)
    assert settings.fix.worktrees_dir is None and settings.env.cache_dir is None
