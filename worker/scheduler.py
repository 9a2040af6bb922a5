"""The scheduler: sends polls and reconciler passes on a timer, with one leader across processes.

Two guards keep a tick from firing twice. A Redis lock (`RedisLeader`) lets only one scheduler
process send at a time; it is held with a TTL and extended while alive, so a dead leader is
replaced within the TTL. Because a lock can be lost in a Redis failover, each tick also claims its
slot (`job`, start of the interval) in the database, which only one claimer can win.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime
from functools import partial

import redis
from apscheduler.schedulers.background import BackgroundScheduler

from worker.app import App
from worker.store import retention

log = logging.getLogger("suture.scheduler")

LOCK_NAME = "suture:scheduler:leader"


class RedisLeader:
    """Leadership through a Redis lock with a TTL, renewed by a background thread."""

    def __init__(self, url: str, ttl_seconds: float = 30.0, name: str = LOCK_NAME) -> None:
        self._client = redis.Redis.from_url(url)
        self._lock = self._client.lock(name, timeout=ttl_seconds, thread_local=False)
        self._ttl = ttl_seconds
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def held(self) -> bool:
        """True while this process owns the lock."""
        try:
            return bool(self._lock.owned())
        except redis.RedisError:
            return False

    def start(self) -> None:
        """Try for the lock now and keep trying (or renewing) in the background."""
        # The first attempt is synchronous: the scheduler's first tick runs right after start,
        # and a leader that had not tried yet would skip it and wait a whole interval.
        self._attempt()
        self._thread = threading.Thread(target=self._loop, name="suture-leader", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop renewing and give the lock up."""
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=5)
        try:
            if self._lock.owned():
                self._lock.release()
        except redis.RedisError:
            pass
        self._client.close()

    def _loop(self) -> None:
        while not self._stop.wait(self._ttl / 3):
            self._attempt()

    def _attempt(self) -> None:
        """Renew the lock if held, else try to take it; Redis trouble is logged, not raised."""
        try:
            if self._lock.owned():
                self._lock.extend(self._ttl, replace_ttl=True)
            elif self._lock.acquire(blocking=False):
                log.info("this scheduler is now the leader")
        except redis.RedisError as exc:
            log.warning("leader lock: %s", exc)


class Scheduler:
    """Interval jobs that send messages, guarded by leadership and slot claims."""

    def __init__(self, app: App, leader: RedisLeader | None = None) -> None:
        self.app = app
        self.leader = leader
        self._scheduler = BackgroundScheduler(timezone="UTC")

    def jobs(self) -> dict[str, tuple[int, Callable[[], object]]]:
        """Job name → (interval in seconds, what it sends)."""
        settings = self.app.settings
        jobs: dict[str, tuple[int, Callable[[], object]]] = {
            "reconcile": (settings.reconcile_interval_seconds, self.app.reconcile),
            "retention:purge": (settings.retention.purge_seconds, lambda: retention.purge(
                self.app.store, settings.retention, self.app.clock())),
        }
        for name in self.app.deps.sources:
            jobs[f"poll:{name}"] = (settings.poll_interval_seconds,
                                    partial(self.app.actors.poll_source.send, name))
        if self.app.deps.code_host is not None:
            # Polling is the fallback when the host's webhook is not configured.
            secret = (settings.github.webhook_secret if settings.code_host == "github"
                      else settings.gitlab.webhook_secret)
            if secret is None:
                jobs["follow:changes"] = (settings.follow.poll_seconds,
                                          self.app.actors.follow_changes.send)
            jobs["follow:watch"] = (3600, self.app.actors.watch_fixes.send)
        if self.app.deps.digest_outlets:
            # Hourly: the first tick of a week sends last week's digest, the rest find it sent.
            jobs["digest"] = (3600, self.app.actors.send_digest.send)
        return jobs

    def tick(self, job: str, interval: int, send: Callable[[], object],
             now: datetime | None = None) -> bool:
        """Fire `job` for the interval containing `now` if we lead and nobody fired it yet."""
        if self.leader is not None and not self.leader.held:
            return False
        moment = now or self.app.clock()
        slot = str(int(moment.timestamp()) // interval * interval)
        if not self.app.store.claim_slot(job, slot):
            return False
        send()
        return True

    def start(self) -> None:
        """Start the leader election (if any) and the timers."""
        if self.leader is not None:
            self.leader.start()
        for job, (interval, send) in self.jobs().items():
            self._scheduler.add_job(self.tick, "interval", seconds=interval, args=[job, interval,
                                    send], id=job, next_run_time=self.app.clock(),
                                    max_instances=1, coalesce=True)
        self._scheduler.start()

    def running(self) -> bool:
        """Whether the timers' thread is running (what the heartbeat reports)."""
        thread = getattr(self._scheduler, "_thread", None)
        return bool(self._scheduler.running) and (thread is None or thread.is_alive())

    def stop(self) -> None:
        """Stop the timers and give up leadership."""
        self._scheduler.shutdown(wait=False)
        if self.leader is not None:
            self.leader.stop()
