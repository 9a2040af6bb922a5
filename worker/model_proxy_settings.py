"""Where the model proxy sends an agent CLI's Anthropic-style calls (`fix.anthropic`).

OpenAI-style calls go to the tool loop's endpoint (`fix.agent`: its `base_url`, which includes
`/v1`, its key and its price). Anthropic-style calls (`/v1/messages`) go to this endpoint,
whose `base_url` follows Anthropic's SDK and has no `/v1`. An endpoint without a key is not
offered: the proxy answers its calls with a 503 that says so. Keys stay on the host; the
sandbox only ever sees the proxy's address and a placeholder key.
"""

from __future__ import annotations

from pydantic import Field

from worker.settings_base import OptionalSecret, Section


class AnthropicEndpointSettings(Section):
    """Anthropic's Messages API, as agent CLIs reach it through the model proxy."""

    base_url: str = "https://api.anthropic.com"
    api_key: OptionalSecret = None
    version: str = Field(default="2023-06-01", description="sent as anthropic-version when the "
                                                          "CLI sends none")
    price_per_1k_tokens: float = Field(default=0.0, ge=0)
