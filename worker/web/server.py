"""Serving the web application on a background thread (the demo and the tests use it)."""

from __future__ import annotations

import socket
import threading
import time

import uvicorn
from fastapi import FastAPI


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on now (the kernel's choice)."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def serve_in_thread(web: FastAPI, host: str = "127.0.0.1", log_level: str = "warning",
                    port: int | None = None) -> tuple[uvicorn.Server, str]:
    """Start uvicorn on `port` (default: a free one) in a daemon thread; returns the server and
    its base URL.

    Stop it with `server.should_exit = True`.
    """
    port = port or free_port(host)
    server = uvicorn.Server(uvicorn.Config(web, host=host, port=port, log_level=log_level))
    thread = threading.Thread(target=server.run, name="suture-web", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    if not server.started:
        raise RuntimeError("the web server did not start")
    return server, f"http://{host}:{port}"
