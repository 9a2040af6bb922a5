"""A broker of its own for each scale-out round: a Redis namespace (its keys removed
afterwards) or a RabbitMQ virtual host (made with `rabbitmqctl`, deleted afterwards)."""

from __future__ import annotations

import shutil
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import redis

REDIS_URL = "redis://127.0.0.1:6379/0"
RABBITMQ = "127.0.0.1:5672"


@contextmanager
def broker_environment(kind: str) -> Iterator[dict[str, str]]:
    """`SUTURE_*` variables for a broker of `kind` this round has to itself: a Redis namespace,
    or a RabbitMQ virtual host made with `rabbitmqctl` and deleted afterwards."""
    if kind == "redis":
        namespace = f"suture-scaleout-{uuid.uuid4().hex[:8]}"
        try:
            yield {"SUTURE_BROKER_URL": REDIS_URL, "SUTURE_BROKER__NAMESPACE": namespace}
        finally:
            client = redis.Redis.from_url(REDIS_URL)
            for key in client.scan_iter(f"{namespace}:*"):
                client.delete(key)
            client.close()
        return
    if shutil.which("rabbitmqctl") is None:
        raise RuntimeError("rabbitmqctl is not installed: cannot make a virtual host")
    vhost = f"suture-scaleout-{uuid.uuid4().hex[:8]}"
    ctl = ["rabbitmqctl", "-q"]
    subprocess.run([*ctl, "add_vhost", vhost], check=True, capture_output=True, timeout=60)
    try:
        subprocess.run([*ctl, "set_permissions", "-p", vhost, "guest", ".*", ".*", ".*"],
                       check=True, capture_output=True, timeout=60)
        yield {"SUTURE_BROKER_URL": f"amqp://guest:guest@{RABBITMQ}/{vhost}"}
    finally:
        subprocess.run([*ctl, "delete_vhost", vhost], check=True, capture_output=True,
                       timeout=60)
