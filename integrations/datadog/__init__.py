"""Datadog integration: polling error logs and Error Tracking issues with datadog-api-client.

`DatadogSource` (in `source`) is the `worker.ports.ErrorSource` for Datadog; `client` holds the
datadog-api-client configuration and error translation, `cursor` the poll cursor and window
arithmetic. The HTTP stand-in it is tested against lives in `integrations.standins.datadog`.
"""

from __future__ import annotations

from integrations.datadog.source import DatadogSource

__all__ = ["DatadogSource"]
