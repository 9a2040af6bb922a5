"""The environment cache on disk: whole entries only, records, the per-key lock, and eviction by
age and by size, least recently used first."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from integrations.sandbox.envcache import EnvCache, tree_size
from worker.env.models import EnvRecord

START = datetime(2026, 1, 1, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


def add(cache: EnvCache, key: str, megabytes: int) -> EnvRecord:
    """Commit an entry of about `megabytes` built now, as the engine does."""
    with cache.staging() as staging:
        built = staging / "entry"
        (built / "env").mkdir(parents=True)
        (built / "keep" / "node_modules").mkdir(parents=True)
        (built / "env" / "blob").write_bytes(b"x" * megabytes * 1024 * 1024)
        now = cache.clock()
        record = EnvRecord(key=key, commands=["make"], source="test", keep=["node_modules"],
                           size_bytes=tree_size(built), build_seconds=1.0, created=now,
                           last_used=now)
        cache.commit(built, record)
    return record


def test_a_committed_entry_is_found_with_its_record_and_the_staging_is_gone(tmp_path):
    cache = EnvCache(tmp_path, max_bytes=10**9, max_age=timedelta(days=1))
    record = add(cache, "k1", 1)

    found = cache.lookup("k1")
    assert found == record and found.size_bytes >= 1024 * 1024
    assert cache.lookup("k2") is None
    assert list((tmp_path / "staging").iterdir()) == []
    assert (cache.entry("k1") / "keep" / "node_modules").is_dir()


def test_eviction_by_size_removes_the_least_recently_used_entry(tmp_path):
    clock = Clock()
    cache = EnvCache(tmp_path, max_bytes=5 * 1024 * 1024, max_age=timedelta(days=30),
                     in_use=timedelta(0), clock=clock)
    for key in ("old", "used", "new"):
        add(cache, key, 2)
        clock.now += timedelta(hours=1)
    record = cache.lookup("old")
    assert record is not None
    cache.touch(record)  # "old" is used again: "used" is now the least recently used
    clock.now += timedelta(hours=1)

    removed = cache.evict(keep="new")

    assert removed == ["used"]
    assert [r.key for r in cache.records()] == ["new", "old"]
    assert cache.lookup("used") is None and not cache.entry("used").exists()


def test_eviction_by_age_spares_the_entry_just_built_and_those_in_use(tmp_path):
    clock = Clock()
    cache = EnvCache(tmp_path, max_bytes=10**9, max_age=timedelta(days=7),
                     in_use=timedelta(hours=2), clock=clock)
    add(cache, "stale", 1)
    add(cache, "kept", 1)
    clock.now += timedelta(days=8)
    add(cache, "recent", 1)

    assert cache.evict(keep="kept") == ["stale"]
    assert {r.key for r in cache.records()} == {"kept", "recent"}


def test_the_key_lock_makes_a_second_builder_wait(tmp_path):
    cache = EnvCache(tmp_path, max_bytes=10**9, max_age=timedelta(days=1))
    order: list[str] = []
    inside = threading.Event()

    def first() -> None:
        with cache.locked("k"):
            inside.set()
            time.sleep(0.3)
            order.append("first done")

    thread = threading.Thread(target=first)
    thread.start()
    inside.wait(5)
    with cache.locked("k"):
        order.append("second in")
    thread.join()

    assert order == ["first done", "second in"]


def test_an_entry_being_used_by_another_worker_is_not_evicted(tmp_path):
    clock = Clock()
    cache = EnvCache(tmp_path, max_bytes=0, max_age=timedelta(days=1), in_use=timedelta(0),
                     clock=clock)
    add(cache, "busy", 1)
    clock.now += timedelta(days=2)
    with cache.locked("busy"):
        assert cache.evict() == []
    assert cache.evict() == ["busy"]


def test_tree_size_counts_blocks_without_following_links(tmp_path: Path):
    (tmp_path / "a").write_bytes(b"x" * 10_000)
    (tmp_path / "link").symlink_to("/usr")

    assert 10_000 <= tree_size(tmp_path) < 100_000
