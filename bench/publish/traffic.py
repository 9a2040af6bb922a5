"""Production traffic for a public project's web app: one request, instrumented with sentry-sdk.

Run by `run.py` with the production virtualenv's Python, in a checkout of the release:

    python traffic.py OUTPUT RELEASE MODULE:APP METHOD PATH QUERY

The app is served by werkzeug on a free local port, the request is sent over HTTP, and the event
sentry-sdk builds for the crash (Flask integration) is written to OUTPUT instead of being sent
to Sentry.
"""

import importlib
import json
import sys
import threading
import urllib.error
import urllib.request

import sentry_sdk
from sentry_sdk.integrations.flask import FlaskIntegration
from sentry_sdk.transport import Transport
from werkzeug.serving import make_server


class MemoryTransport(Transport):
    """Keeps the events instead of sending them."""

    def __init__(self, options=None):
        super().__init__(options)
        self.events = []

    def capture_envelope(self, envelope):
        event = envelope.get_event()
        if event is not None:
            self.events.append(event)


def main():
    output, release, target, method, path, query = sys.argv[1:7]
    transport = MemoryTransport()
    sentry_sdk.init(dsn="https://public@sentry.invalid/1", transport=transport, release=release,
                    environment="production", integrations=[FlaskIntegration()])
    module, name = target.split(":")
    app = getattr(importlib.import_module(module), name)
    server = make_server("127.0.0.1", 0, app)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}{path}" + (f"?{query}" if query else "")
    try:
        status = urllib.request.urlopen(urllib.request.Request(url, method=method)).status
    except urllib.error.HTTPError as error:
        status = error.code
    server.shutdown()
    sentry_sdk.flush()
    if not transport.events:
        sys.exit(f"{method} {url} answered {status} and sentry-sdk captured nothing")
    with open(output, "w", encoding="utf-8") as out:
        json.dump({"status": status, "event": transport.events[-1]}, out, default=str)


if __name__ == "__main__":
    main()
