"""Sentry's REST API as an `ErrorSource`: `SentrySource` polls, `SentryClient` speaks HTTP."""

from __future__ import annotations

from integrations.sentry.client import Page, SentryClient, SentryNotFound
from integrations.sentry.source import SentrySource

__all__ = ["Page", "SentryClient", "SentryNotFound", "SentrySource"]
