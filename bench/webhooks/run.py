"""Webhook acknowledgement throughput and latency: `suture web` against a bare ASGI app.

Starts `suture web --workers N` (PostgreSQL store, Redis broker) and the bare app of `bare.py`
under the same uvicorn with the same worker count, then, alternating between the two and
repeating: a closed loop with wrk (`cycle.lua`, each request a distinct signed Sentry alert)
and an open loop at a fixed offered rate (`openloop.py`). Afterwards it checks that every 202
left a delivery in the database, and reads each worker process's resident memory. With
`--floor`, `floor.py` (verify and parse, store nothing) is measured in each round too.

    python -m bench.webhooks.run --workers 2 --repeats 3 --floor
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
import redis

from bench.webhooks.bodies import write_bodies
from bench.webhooks.openloop import open_loop
from worker.web.server import free_port

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
SECRET = "bench-client-secret"


@dataclass
class Closed:
    """One wrk run."""

    target: str
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int


@dataclass
class Opened:
    """One open-loop run."""

    target: str
    offered: float
    achieved: float
    p50_ms: float
    p99_ms: float
    statuses: dict[str, int]
    failures: int


def _wait_up(url: str, seconds: float = 180) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise SystemExit(f"{url} did not come up")


def _start(argv: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(argv, env=env, cwd=ROOT, stdout=log.open("wb"),
                            stderr=subprocess.STDOUT, start_new_session=True)


def _stop(process: subprocess.Popen[bytes]) -> None:
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def rss_mib(pid: int) -> float:
    """Resident memory of `pid` in MiB."""
    status = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"VmRSS:\s+(\d+) kB", status)
    return int(match.group(1)) / 1024 if match else float("nan")


def _workers_rss(process: subprocess.Popen[bytes]) -> list[float]:
    # suture web (uvicorn's parent) -> its worker processes, and the bare app likewise;
    # multiprocessing's resource tracker is a child too, and left out.
    pids = [pid for pid in _children(process.pid)
            if b"resource_tracker" not in Path(f"/proc/{pid}/cmdline").read_bytes()]
    return sorted(rss_mib(pid) for pid in pids) or [rss_mib(process.pid)]


def wrk(port: int, seconds: int, connections: int, folder: Path) -> tuple[float, float, float,
                                                                         int, int]:
    """rps, p50 ms, p99 ms, requests, errors of one wrk run."""
    env = {**os.environ, "BENCH_BODIES": str(folder), "BENCH_THREADS": "1",
           "BENCH_TIMESTAMP": str(int(time.time()))}
    out = subprocess.run(["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "-s",
                          str(HERE / "cycle.lua"), f"http://127.0.0.1:{port}"],
                         env=env, capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    pct = {float(q): int(us) / 1000 for q, us in re.findall(r"percentile ([\d.]+) (\d+)", out)}
    counts = re.search(r"requests (\d+) errors (\d+)", out)
    assert counts is not None, out
    return rps, pct[50], pct[99], int(counts.group(1)), int(counts.group(2))


def forget(postgres: str, database: str, redis_url: str, namespace: str) -> None:
    """Drop a run's database and its Redis keys."""
    with psycopg.connect(postgres, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    client = redis.Redis.from_url(redis_url)
    for key in client.scan_iter(f"{namespace}:*"):
        client.delete(key)


def delivered(url: str) -> int:
    """How many deliveries the database at `url` holds."""
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT count(*) FROM deliveries").fetchone()
        return int(row[0]) if row else 0


def main() -> None:
    """Run the benchmark and print the table (and the raw numbers as JSON)."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--workers", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--seconds", type=int, default=10, help="each closed-loop run")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--rate", type=float, default=1000, help="open loop: offered per s")
    parser.add_argument("--rate-seconds", type=float, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--floor", action="store_true",
                        help="also measure floor.py: verify and parse, store nothing")
    args = parser.parse_args()

    name = f"suture_bench_{secrets.token_hex(4)}"
    namespace = f"bench-{secrets.token_hex(4)}"
    with psycopg.connect(args.postgres, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    database = args.postgres.rsplit("/", 1)[0] + "/" + name
    work = Path(tempfile.mkdtemp(prefix="suture-bench-"))
    suture_port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SUTURE_DATABASE_URL": database,
           "SUTURE_BROKER_URL": args.redis, "SUTURE_BROKER__NAMESPACE": namespace,
           "SUTURE_SENTRY__CLIENT_SECRET": SECRET, "SUTURE_PORT": str(suture_port),
           "SUTURE_DATA_DIR": str(work / "data"), "SUTURE_INTAKE__MAX_PENDING": "100000000"}
    suture = _start([sys.executable, "-m", "worker.cli", "web", "--workers",
                     str(args.workers)], env, work / "suture.log")
    baselines = ["bare", "floor"] if args.floor else ["bare"]
    processes = {"suture": suture}
    targets = {}
    for baseline in baselines:
        targets[baseline] = free_port()
        processes[baseline] = _start(
            [sys.executable, "-m", "uvicorn", f"bench.webhooks.{baseline}:app", "--workers",
             str(args.workers), "--port", str(targets[baseline]), "--log-level", "warning"],
            env, work / f"{baseline}.log")
    targets["suture"] = suture_port
    closed: list[Closed] = []
    opened: list[Opened] = []
    accepted = 0
    try:
        for port in targets.values():
            _wait_up(f"http://127.0.0.1:{port}")
        for _ in range(args.repeats):
            for target, port in targets.items():
                folder = work / f"bodies-{target}"
                write_bodies(folder, 150_000, SECRET)
                rps, p50, p99, requests, errors = wrk(port, args.seconds, args.connections,
                                                      folder)
                closed.append(Closed(target, rps, p50, p99, requests, errors))
                print(closed[-1], flush=True)
            for target, port in targets.items():
                bodies = write_bodies(work / f"open-{target}",
                                      int(args.rate * args.rate_seconds), SECRET)
                result = open_loop("127.0.0.1", port, bodies, args.rate, args.rate_seconds)
                opened.append(Opened(target, args.rate, len(result.latencies) / result.seconds,
                                     result.percentile(50), result.percentile(99),
                                     {str(k): v for k, v in result.statuses.items()},
                                     result.failures))
                print(opened[-1], flush=True)
                if target == "suture":
                    accepted += result.statuses.get(202, 0)
        memory = {target: _workers_rss(process) for target, process in processes.items()}
        stored = delivered(database)
    finally:
        for process in processes.values():
            _stop(process)
        forget(args.postgres, name, args.redis, namespace)
    _report(args, closed, opened, memory, stored, accepted)


def _groups(runs: list[Any]) -> list[dict[str, Any]]:
    """The runs of one round (each target once, suture last), keyed by target."""
    rounds: list[dict[str, Any]] = [{}]
    for run in runs:
        rounds[-1][run.target] = run
        if run.target == "suture":
            rounds.append({})
    return [group for group in rounds if group]


def _report(args: argparse.Namespace, closed: list[Closed], opened: list[Opened],
            memory: dict[str, list[float]], stored: int, accepted_open: int) -> None:
    print(f"\nworkers {args.workers}, closed loop wrk -t1 -c{args.connections} "
          f"{args.seconds}s; open loop {args.rate:g}/s for {args.rate_seconds:g}s\n")
    floor_head = " floor rps | floor ratio |" if args.floor else ""
    print(f"| run | bare rps |{floor_head} suture rps | ratio | suture p50 ms | suture p99 ms "
          "| bare p99 ms |")
    print("|---" * (7 + 2 * args.floor) + "|")
    for n, group in enumerate(_groups(closed), 1):
        bare, suture = group["bare"], group["suture"]
        floor = (f" {group['floor'].rps:.0f} | {group['floor'].rps / bare.rps:.2f} |"
                 if args.floor else "")
        print(f"| {n} | {bare.rps:.0f} |{floor} {suture.rps:.0f} | "
              f"{suture.rps / bare.rps:.2f} | {suture.p50_ms:.1f} | {suture.p99_ms:.1f} | "
              f"{bare.p99_ms:.1f} |")
    print("\n| run | offered | bare achieved | bare p99 ms | suture achieved | suture p50 ms "
          "| suture p99 ms | suture statuses |")
    print("|---|---|---|---|---|---|---|---|")
    for n, group in enumerate(_groups(opened), 1):
        bare, suture = group["bare"], group["suture"]
        print(f"| {n} | {bare.offered:g} | {bare.achieved:.0f} | {bare.p99_ms:.1f} | "
              f"{suture.achieved:.0f} | {suture.p50_ms:.1f} | {suture.p99_ms:.1f} | "
              f"{suture.statuses} |")
    print(f"\nRSS per worker process (MiB): {memory}")
    closed_ok = sum(run.requests - run.errors for run in closed if run.target == "suture")
    print(f"deliveries stored {stored}; suture answered 202 to {accepted_open} open-loop and "
          f"about {closed_ok} closed-loop requests (wrk counts 2xx)")
    print(json.dumps({"closed": [asdict(run) for run in closed],
                      "open": [asdict(run) for run in opened], "rss_mib": memory}))


if __name__ == "__main__":
    main()
