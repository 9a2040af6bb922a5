"""Datadog integration: polling error logs and Error Tracking issues with datadog-api-client.

`DatadogSource` is the `worker.ports.ErrorSource` for Datadog; the HTTP stand-in it is tested
against lives in `integrations.standins.datadog`.
"""

from __future__ import annotations

from integrations.datadog.source import DatadogSource

__all__ = ["DatadogSource"]
