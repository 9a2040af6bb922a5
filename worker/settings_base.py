"""What every settings section shares: the error a bad configuration raises, secrets that are
unset when blank, and sections that refuse unknown keys."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, SecretStr


class ConfigError(Exception):
    """The configuration is invalid; the message names every bad key."""


def _blank_is_unset(value: object) -> object:
    """An empty secret means "not configured".

    An unset variable expanded by a shell or a compose file arrives as "", and an HMAC key of ""
    would let anyone sign a webhook.
    """
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    if isinstance(value, str) and not value.strip():
        return None
    return value


OptionalSecret = Annotated[SecretStr | None, BeforeValidator(_blank_is_unset)]


class Section(BaseModel):
    """A table of the configuration; an unknown key in it is an error, not a silent no-op."""

    model_config = ConfigDict(extra="forbid")
