"""Where the model proxy forwards a call: an upstream API (its URL convention, its key, its
price) and the streamed exchange with it."""

from __future__ import annotations

import httpx
from pydantic import BaseModel, SecretStr

DEFAULT_ANTHROPIC_VERSION = "2023-06-01"


class Upstream(BaseModel):
    """Where one API style is forwarded: the base URL in its SDK's convention (OpenAI's
    includes `/v1`, Anthropic's does not), the key, and the price of its tokens."""

    style: str  # "openai" or "anthropic"
    base_url: str
    api_key: SecretStr
    price_per_1k_tokens: float = 0.0
    anthropic_version: str = DEFAULT_ANTHROPIC_VERSION

    def url(self, path: str) -> str:
        """The upstream URL for a proxy path (`/v1/...`, query included)."""
        base = self.base_url.rstrip("/")
        return base + (path[len("/v1"):] if self.style == "openai" else path)

    def auth_headers(self) -> dict[str, str]:
        """The credentials this upstream wants."""
        key = self.api_key.get_secret_value()
        if not key:
            return {}
        if self.style == "anthropic":
            return {"x-api-key": key}
        return {"Authorization": f"Bearer {key}"}


class Streamed:
    """A request sent on entering and its response closed on leaving."""

    def __init__(self, http: httpx.Client, request: httpx.Request) -> None:
        self._http, self._request = http, request
        self._response: httpx.Response | None = None

    def __enter__(self) -> httpx.Response:
        self._response = self._http.send(self._request, stream=True)
        return self._response

    def __exit__(self, *_: object) -> None:
        if self._response is not None:
            self._response.close()
