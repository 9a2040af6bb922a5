"""Pieces of a pull request's evidence: the `Fixes` line from Sentry's short id (kept on the
cluster when an issue webhook brings it), the files a patch changes, and the check report."""

from __future__ import annotations

from datetime import UTC, datetime

from worker.fix.models import ReproductionReport, TestRunReport, Verification
from worker.models import ErrorEvent, Source
from worker.stages.deps import RunContext
from worker.stages.evidence import CHECK_TEXT_LIMIT, changed_paths, check_report, fixes_line
from worker.store import SqlStore

NOW = datetime(2026, 3, 1, tzinfo=UTC)


def event(event_id: str, short_id: str | None) -> ErrorEvent:
    return ErrorEvent(source=Source.SENTRY, event_id=event_id, issue_id="4201",
                      short_id=short_id, project="shop", title="ZeroDivisionError",
                      timestamp=NOW)


def test_a_sentry_short_id_reaches_the_cluster_and_the_fixes_line(tmp_path):
    store = SqlStore(f"sqlite:///{tmp_path / 'suture.db'}", clock=lambda: NOW)
    store.migrate()
    first = store.record_event(event("a", None), "fp", 20)
    cluster = store.get_cluster(first.cluster_id)
    assert cluster is not None and "sentry_short_id" not in cluster.upstream
    store.record_event(event("b", "SHOP-1A"), "fp", 20)  # an issue webhook names it
    cluster = store.get_cluster(first.cluster_id)
    assert cluster is not None and cluster.upstream["sentry_short_id"] == "SHOP-1A"
    run = store.get_run(first.run_id)
    assert run is not None
    opened = RunContext(run=run, cluster=cluster, events=[], service=None, event=None)
    assert fixes_line(opened) == "Fixes SHOP-1A"
    without = cluster.model_copy(update={"upstream": {"sentry": "4201"}})
    assert fixes_line(RunContext(run=run, cluster=without, events=[], service=None,
                                 event=None)) == ""
    store.close()


def test_changed_paths_lists_each_file_once_in_order():
    patch = ("diff --git a/x.py b/x.py\n--- a/x.py\n+++ b/x.py\n@@ -1 +1 @@\n-a\n+b\n"
             "diff --git a/t/test_x.py b/t/test_x.py\nnew file mode 100644\n--- /dev/null\n"
             "+++ b/t/test_x.py\n@@ -0,0 +1 @@\n+c\n")
    assert changed_paths(patch) == ["x.py", "t/test_x.py"]


def test_the_check_report_carries_the_logs_scrubbed_and_bounded():
    secret = "ghp_" + "a" * 36
    log = f"token={secret}\n" + "x" * 100_000
    verdict = Verification(verified=True, reasons=["red on base, green on fix"],
                           reproduction=ReproductionReport(
                               ran=True, base=TestRunReport(command="pytest", exit_code=1,
                                                            log=log)))
    report = check_report(verdict, "a" * 40, "http://suture.example/artifacts/1/v.log")
    assert report.conclusion == "success" and report.head_sha == "a" * 40
    assert secret not in report.text and len(report.text) <= CHECK_TEXT_LIMIT
    assert "reproduction on base (exit 1)" in report.text
