"""Telling people: a notice when a pull request or ticket is filed, when a merged fix held, and
when one recurred, sent once per channel whatever retries happen.

Each channel's send is a publication of its own (`notify:<kind>:<run>:<channel>`): leased
before it is sent and completed after, so a redelivered message or a second pass finds it done.
A channel that fails for good is logged and the others still get theirs; a transient failure
(Slack's 429 with `Retry-After`) is raised, so the actor retries later, and the channels already
done are not sent again.
"""

from __future__ import annotations

import logging
import uuid

from worker.models import RunState
from worker.notify import Notice, NoticeKind
from worker.ports import PermanentError
from worker.scrub import scrub_text
from worker.stages.deps import Deferred, Deps, open_run

log = logging.getLogger("suture.notify")


def notify(deps: Deps, run_id: int, kind: NoticeKind, title: str, text: str = "",
           url: str | None = None) -> list[str]:
    """Send the run's `kind` notice on every configured channel that has not had it; the
    channels sent to now."""
    if not deps.notifiers:
        return []
    opened = open_run(deps, run_id, tuple(RunState))
    if opened is None:
        return []
    correlation = opened.run.record.correlation
    emails = [owner.email for owner in (correlation.owners if correlation else [])
              if owner.email]
    notice = Notice(key=f"{kind}:{run_id}", kind=kind, title=scrub_text(title),
                    text=scrub_text(text), url=url, owner_emails=list(dict.fromkeys(emails)))
    sent = []
    for notifier in deps.notifiers:
        key = f"notify:{kind}:{run_id}:{notifier.name}"
        lease = deps.store.lease_publication(key, run_id, "notice", uuid.uuid4().hex,
                                             deps.settings.publish_lease_seconds)
        if lease.status == "done":
            continue
        if not lease.owned:
            raise Deferred(f"notice {key} is being sent by another worker", lease.until)
        try:
            ref = notifier.send(notice)
        except PermanentError as exc:
            log.warning("run %s: %s notice not sent on %s: %s", run_id, kind, notifier.name,
                        scrub_text(str(exc)))
            ref = f"failed: {exc}"[:200]
        deps.store.complete_publication(key, ref, url or "")
        sent.append(notifier.name)
    return sent
