"""How an agent CLI in the sandbox gets its model: the model proxy for the length of one
attempt, and what the sandbox is told about it.

`ModelAccess` holds the upstreams (with their keys, on the host only). `open` starts a
`ModelProxy` on a unix socket in a fresh private folder (mode 0700), routes the sandbox's
`127.0.0.1:<port>` to it, and gives the command only base URLs and a placeholder key, which
the proxy ignores: `OPENAI_BASE_URL`/`OPENAI_API_BASE` for OpenAI-style clients and
`ANTHROPIC_BASE_URL` for Anthropic's. The attempt's budget (`max_tokens`, `max_cost_usd`) is
the proxy's meter.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from pydantic import SecretStr

from integrations.agents.model_meter import ModelMeter
from integrations.agents.model_proxy import ModelProxy
from integrations.agents.model_upstream import Upstream
from worker.fix.models import FixTask, SocketRoute
from worker.stage_settings import FixSettings

SANDBOX_PORT = 4100  # where the proxy answers inside the sandbox
PLACEHOLDER_KEY = "suture-model-proxy-adds-the-key"  # not a secret: the proxy drops it


@dataclass
class ProxySession:
    """A running proxy as one command sees it: its route, its variables and its meter."""

    route: SocketRoute
    env: dict[str, str]
    meter: ModelMeter


class ModelAccess:
    """The model endpoints an agent CLI may use, reached only through the proxy."""

    def __init__(self, upstreams: list[Upstream], port: int = SANDBOX_PORT,
                 request_timeout: float = 600.0) -> None:
        if not upstreams:
            raise ValueError("model access needs at least one upstream")
        self.upstreams = list(upstreams)
        self.port = port
        self.request_timeout = request_timeout

    def sandbox_env(self) -> dict[str, str]:
        """The variables a CLI finds its model by; no key among them."""
        base = f"http://127.0.0.1:{self.port}"
        styles = {upstream.style for upstream in self.upstreams}
        # The proxy is on the sandbox's own loopback: never through the egress proxy.
        env = {"NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"}
        if "openai" in styles:
            env |= {"OPENAI_BASE_URL": f"{base}/v1", "OPENAI_API_BASE": f"{base}/v1",
                    "OPENAI_API_KEY": PLACEHOLDER_KEY}
        if "anthropic" in styles:
            env |= {"ANTHROPIC_BASE_URL": base, "ANTHROPIC_API_KEY": PLACEHOLDER_KEY}
        return env

    @contextmanager
    def open(self, task: FixTask) -> Iterator[ProxySession]:
        """Run the proxy, metered by `task`'s budget, until the block ends."""
        meter = ModelMeter(task.max_tokens, task.max_cost_usd)
        with tempfile.TemporaryDirectory(prefix="suture-model-") as folder:
            socket_path = Path(folder) / "model.sock"
            with ModelProxy(socket_path, self.upstreams, meter,
                            request_timeout=self.request_timeout):
                yield ProxySession(route=SocketRoute(port=self.port, socket=str(socket_path)),
                                   env=self.sandbox_env(), meter=meter)


def model_access(settings: FixSettings) -> ModelAccess | None:
    """The configured endpoints (`fix.agent` for OpenAI-style calls, with or without a key;
    `fix.anthropic` for Anthropic's, once it has a key), or None when there is none."""
    upstreams: list[Upstream] = []
    openai = settings.agent
    if openai.base_url:  # a local OpenAI-compatible server may need no key
        upstreams.append(Upstream(style="openai", base_url=openai.base_url,
                                  api_key=openai.api_key or SecretStr(""),
                                  price_per_1k_tokens=openai.price_per_1k_tokens))
    anthropic = settings.anthropic
    if anthropic.api_key is not None:
        upstreams.append(Upstream(style="anthropic", base_url=anthropic.base_url,
                                  api_key=anthropic.api_key,
                                  price_per_1k_tokens=anthropic.price_per_1k_tokens,
                                  anthropic_version=anthropic.version))
    return ModelAccess(upstreams) if upstreams else None
