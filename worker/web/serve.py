"""`suture web` with several uvicorn worker processes.

Each process builds its own application (and so its own group-commit writer and connection
pool) from the same configuration: the file named by `SUTURE_CONFIG` and the environment, which
the worker processes inherit. The schema is migrated once, by the parent, before they start, so
the workers never race each other's migrations. The in-memory broker lives in one process, so
without `broker_url` there is one process.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import uvicorn
from fastapi import FastAPI

from worker.settings import Settings, load_settings

log = logging.getLogger("suture.web")
FACTORY = "worker.web.serve:worker_web"


def cpu_count() -> int:
    """The CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def worker_count(settings: Settings, requested: int | None) -> int:
    """How many web processes to run: as requested, else `intake.workers`, else one per CPU;
    one when the broker is in memory."""
    wanted = requested or settings.intake.workers or cpu_count()
    if wanted > 1 and not settings.broker_url:
        log.info("one web process: the in-memory broker cannot be shared (set broker_url)")
        return 1
    return max(1, wanted)


def worker_web() -> FastAPI:
    """The application one worker process serves (uvicorn calls this in each of them)."""
    from worker.app import build_app

    config = os.environ.get("SUTURE_CONFIG")
    app = build_app(load_settings(Path(config) if config else None), migrate=False)
    return app.web()


def serve(settings: Settings, config: Path | None, workers: int) -> None:
    """Serve the web application in `workers` processes until interrupted."""
    from worker.store import SqlStore

    store = SqlStore(settings.database_url)
    try:
        store.migrate()
    finally:
        store.close()
    if config is not None:
        os.environ["SUTURE_CONFIG"] = str(config.resolve())
    log.info("serving on %s:%d with %d worker processes", settings.host, settings.port, workers)
    uvicorn.run(FACTORY, factory=True, workers=workers, host=settings.host, port=settings.port,
                log_level="info", access_log=settings.intake.access_log)
