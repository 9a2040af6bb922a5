"""`suture demo`: the loop end to end, offline, on a bundled sample application.

It builds the sample shop as a real git repository with a seeded regression, runs one production
request through it under sentry-sdk to get a real Sentry event, starts suture (web + worker,
in-memory broker, SQLite) and a GitHub stand-in, delivers the event as a signed Sentry
`event_alert` webhook, waits for the ticket, delivers the same webhook again to show nothing new is
made, and prints what happened. Exit status 0 means exactly one ticket was filed.
"""

from __future__ import annotations

from worker.demo.run import run_demo

__all__ = ["run_demo"]
