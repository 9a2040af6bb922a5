"""Who may use the review pages (`Settings.pages`): a shared token typed into `/login`, an
authenticating proxy's header naming the user, both, or neither (then the pages are off and
`/` is a 404).

The token also keys the HMAC that signs session cookies and form tokens, so changing it signs
everyone out. A trusted header is believed only when configured: the proxy in front must set
it on every request and strip any copy a client sent.
"""

from __future__ import annotations

import re

from pydantic import Field, field_validator

from worker.settings_base import OptionalSecret, Section

_HEADER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,63}")


class PagesSettings(Section):
    """The review pages' login and refresh settings."""

    token: OptionalSecret = Field(
        default=None, description="typed into /login; keys the session and form signatures")
    trusted_header: str = Field(
        default="", description="a header an authenticating proxy sets to the user's name "
                                "(X-Forwarded-User); unset: no header is trusted")
    session_hours: float = Field(default=12.0, gt=0, le=24 * 30,
                                 description="how long a login lasts")
    refresh_seconds: float = Field(default=3.0, ge=1, le=300,
                                   description="how often a live run's timeline is refreshed")
    secure_cookie: bool | None = Field(
        default=None, description="mark the session cookie Secure; unset: when the request "
                                  "came over https")

    @field_validator("secure_cookie", mode="before")
    @classmethod
    def _blank_is_auto(cls, value: object) -> object:
        # env.example lists it empty: "" means "decide per request", not an error.
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("trusted_header")
    @classmethod
    def _header_name(cls, value: str) -> str:
        value = value.strip()
        if value and not _HEADER_NAME.fullmatch(value):
            raise ValueError(f"{value!r} is not an HTTP header name")
        return value.lower()

    @property
    def enabled(self) -> bool:
        """True when some way to log in is configured."""
        return self.token is not None or bool(self.trusted_header)
