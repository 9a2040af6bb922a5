"""The two real brokers for tests that run worker processes: Redis with a namespace of its own,
RabbitMQ with a virtual host of its own (made with `rabbitmqctl` and deleted afterwards), so
tests never see each other's messages."""

from __future__ import annotations

import shutil
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

REDIS_URL = "redis://127.0.0.1:6379/0"
RABBITMQ = "127.0.0.1:5672"
BROKERS = ["redis", pytest.param("rabbitmq", marks=pytest.mark.rabbitmq)]


def _rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True, timeout=60)


@contextmanager
def rabbitmq_vhost() -> Iterator[str]:
    """A fresh RabbitMQ virtual host the guest user may use; its AMQP URL."""
    if shutil.which("rabbitmqctl") is None:
        pytest.skip("rabbitmqctl is not installed")
    vhost = f"suture-test-{uuid.uuid4().hex[:10]}"
    _rabbitmqctl("add_vhost", vhost)
    try:
        _rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
        yield f"amqp://guest:guest@{RABBITMQ}/{vhost}"
    finally:
        _rabbitmqctl("delete_vhost", vhost)


@contextmanager
def broker_environment(kind: str) -> Iterator[dict[str, str]]:
    """`SUTURE_*` variables pointing worker processes at a broker of `kind` all their own."""
    if kind == "rabbitmq":
        with rabbitmq_vhost() as url:
            yield {"SUTURE_BROKER_URL": url}
        return
    yield {
        "SUTURE_BROKER_URL": REDIS_URL,
        "SUTURE_BROKER__NAMESPACE": f"suture-test-{uuid.uuid4().hex[:8]}",
        # Bring a killed worker's message back within seconds (`worker.broker`).
        "SUTURE_BROKER__HEARTBEAT_TIMEOUT_MS": "2000",
        "SUTURE_BROKER__MAINTENANCE_CHANCE": "1000000",
    }
