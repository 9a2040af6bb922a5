"""Checking a verified patch on running previews: the base commit and the fix each deployed,
the failing request rebuilt from the event and replayed on both, and the page captured.

The replay is evidence beside the tests, not instead of them: the base should fail the way
production did and the fix should not. A fix the replay shows still failing is not verified;
a preview that cannot be had, or an event with no request, leaves the tests as the oracle and
the pull request says why.
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from worker.env.models import Environment
from worker.models import ErrorEvent
from worker.ports import PermanentError, Preview, TransientError, Workspace
from worker.preview.evidence import NoReplay, ReplayRequest
from worker.preview.models import PreviewTarget
from worker.preview.outcome import PreviewOutcome, Shot, StepSeconds
from worker.preview.replay import replay, replayable
from worker.stages.deps import Deps

log = logging.getLogger("suture.preview")


@contextmanager
def _timed(outcome: PreviewOutcome, step: str) -> Iterator[None]:
    started = time.monotonic()
    try:
        yield
    finally:
        outcome.timings.append(StepSeconds(step=step,
                                           seconds=round(time.monotonic() - started, 3)))


def check_on_previews(deps: Deps, preview: Preview | None, workspace: Workspace, base: str,
                      patch: str, event: ErrorEvent, environment: Environment | None,
                      run_id: int) -> PreviewOutcome:
    """Replay the event's request on previews of `base` and of `base` + `patch`, run from
    worktrees (the local and command providers)."""
    request = replayable(event)
    if isinstance(request, NoReplay):
        return PreviewOutcome(no_replay=request.reason)
    if preview is None:
        return PreviewOutcome(no_replay="no preview is configured for the service "
                                        "(services.preview)")
    outcome = PreviewOutcome(provider=preview.name)
    try:
        with workspace.worktrees(base) as trees:
            problem = workspace.apply(trees["fix"], patch.encode())
            if problem:
                outcome.failure = f"the patch does not apply for the preview: {problem}"
                return outcome
            _replay_on(deps, preview, {
                name: PreviewTarget(sha=base, name=name, worktree=trees[name],
                                    environment=environment) for name in ("base", "fix")},
                request, outcome, run_id)
    except PermanentError as exc:
        outcome.failure = str(exc)
        log.warning("run %s: no preview replay: %s", run_id, exc)
    return outcome


def check_on_pushed(deps: Deps, preview: Preview, event: ErrorEvent, *, repo: str,
                    base: tuple[str, str], fix: tuple[str, str], run_id: int) -> PreviewOutcome:
    """Replay the event's request on the code host's deployments of two pushed commits,
    `base` and `fix`, each a (sha, branch) pair."""
    request = replayable(event)
    if isinstance(request, NoReplay):
        return PreviewOutcome(no_replay=request.reason)
    outcome = PreviewOutcome(provider=preview.name)
    try:
        _replay_on(deps, preview, {
            name: PreviewTarget(sha=sha, name=name, branch=branch, repo=repo)
            for name, (sha, branch) in (("base", base), ("fix", fix))}, request, outcome, run_id)
    except PermanentError as exc:
        outcome.failure = str(exc)
        log.warning("run %s: no preview replay: %s", run_id, exc)
    return outcome


def _replay_on(deps: Deps, preview: Preview, targets: dict[str, PreviewTarget],
               request: ReplayRequest, outcome: PreviewOutcome, run_id: int) -> None:
    """Deploy both targets, replay the request on them and capture the pages, into
    `outcome`; everything started is stopped before this returns."""
    with ExitStack() as running:
        deployed = {}
        for name, target in targets.items():
            with _timed(outcome, f"preview start ({name})"):
                deployed[name] = running.enter_context(preview.deploy(target))
        outcome.base_url, outcome.fix_url = deployed["base"].url, deployed["fix"].url
        with _timed(outcome, "replay"):
            outcome.replay = replay(request, outcome.base_url, outcome.fix_url)
        with _timed(outcome, "screenshot"):
            outcome.screenshots = _screenshots(deps, request, outcome, run_id)


def _screenshots(deps: Deps, request: ReplayRequest, outcome: PreviewOutcome,
                 run_id: int) -> list[Shot]:
    """The replayed page on each preview, kept in the artifact store; none when no browser or
    store is configured, or the browser fails (the replay stands without them)."""
    if deps.capture_page is None or deps.artifacts is None:
        return []
    shots = []
    with tempfile.TemporaryDirectory(prefix="suture-shot-") as folder:
        for label, url in (("base", outcome.base_url), ("fix", outcome.fix_url)):
            path = Path(folder) / f"{label}.png"
            try:
                taken = deps.capture_page(request, url, path)
            except (PermanentError, TransientError) as exc:
                log.warning("run %s: no screenshot of the %s preview: %s", run_id, label, exc)
                continue
            kept = deps.artifacts.put(run_id, f"replay-{label}.png", path.read_bytes(),
                                      "image/png")
            shots.append(Shot(label=label, url=kept.url, path=str(kept.path),
                              width=taken.width, height=taken.height, status=taken.status))
    return shots
