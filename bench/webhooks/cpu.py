"""CPU per acknowledged delivery, by process: the web workers, PostgreSQL, Redis.

Starts `suture web --workers N` (PostgreSQL store, Redis broker) in its own database and Redis
namespace, runs one closed-loop wrk run, and divides the CPU time every process on the machine
spent during it (from `/proc`, grouped by process name; wrk itself exits before the second
reading and is not counted) by the deliveries stored. Read it against the bare app's rate from
`run.py`: at half that rate, two cores have 2 / (rate / 2) seconds of CPU per request for
everything.

    python -m bench.webhooks.cpu --workers 2 --seconds 10
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
import tempfile
import time
from pathlib import Path

import psycopg

from bench.webhooks.bodies import write_bodies
from bench.webhooks.run import ROOT, SECRET, _start, _stop, _wait_up, delivered, forget, wrk
from worker.web.server import free_port

_TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds_by_name() -> dict[str, float]:
    """User plus system CPU seconds of every live process, summed by process name."""
    totals: dict[str, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        name = stat[stat.index("(") + 1:stat.rindex(")")]
        fields = stat.rsplit(")", 1)[1].split()
        key = "python (suture web)" if name.startswith("python") else name
        totals[key] = totals.get(key, 0.0) + (int(fields[11]) + int(fields[12])) / _TICK
    return totals


def main() -> None:
    """Measure and print CPU microseconds per stored delivery for each busy process name."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--workers", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    args = parser.parse_args()
    name, namespace = f"suture_cpu_{secrets.token_hex(4)}", f"cpu-{secrets.token_hex(4)}"
    with psycopg.connect(args.postgres, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    database = args.postgres.rsplit("/", 1)[0] + "/" + name
    work, port = Path(tempfile.mkdtemp(prefix="suture-cpu-")), free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SUTURE_DATABASE_URL": database,
           "SUTURE_BROKER_URL": args.redis, "SUTURE_BROKER__NAMESPACE": namespace,
           "SUTURE_SENTRY__CLIENT_SECRET": SECRET, "SUTURE_PORT": str(port),
           "SUTURE_DATA_DIR": str(work / "data"), "SUTURE_INTAKE__MAX_PENDING": "100000000"}
    web = _start([sys.executable, "-m", "worker.cli", "web", "--workers", str(args.workers)],
                 env, work / "suture.log")
    try:
        _wait_up(f"http://127.0.0.1:{port}")
        folder = work / "bodies"
        write_bodies(folder, 200_000, SECRET)
        first, before = delivered(database), cpu_seconds_by_name()
        rps, *_ = wrk(port, args.seconds, args.connections, folder)
        time.sleep(1)  # the last batches commit
        after, stored = cpu_seconds_by_name(), delivered(database) - first
    finally:
        _stop(web)
        forget(args.postgres, name, args.redis, namespace)
    print(f"{rps:.0f} acknowledged/s, {stored} deliveries stored\n")
    print("| process | CPU s | µs per delivery |\n|---|---|---|")
    spent = {key: after[key] - before.get(key, 0.0) for key in after}
    for key in sorted(spent, key=spent.__getitem__, reverse=True):
        if spent[key] >= 0.05:
            print(f"| {key} | {spent[key]:.2f} | {spent[key] / stored * 1e6:.0f} |")


if __name__ == "__main__":
    main()
