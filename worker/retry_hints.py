"""Retry hints honoured: a `TransientError`'s `retry_after` is a floor under Dramatiq's backoff.

Adapters read rate-limit answers (`Retry-After`, a rate-limit reset) into
`TransientError.retry_after`. Dramatiq's Retries middleware knows nothing of them: it backs off
exponentially from the actor's `min_backoff`, so a service that asked for a minute would be asked
again after a second or two, earning another refusal and spending one of the run's attempts.
Retries does honour the delay of a `dramatiq.Retry` exactly, so an actor wrapped here turns a
hinted `TransientError` into a `HintedRetry` whose delay is the longer of the usual backoff and
the hint, capped at the actor's `max_backoff`: a reset an hour away is asked about again then
(and gives a fresh hint) rather than parking the message for an hour.
"""

from __future__ import annotations

import functools
import logging
import math
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import dramatiq
from dramatiq.common import compute_backoff
from dramatiq.middleware import CurrentMessage
from sqlalchemy.exc import DisconnectionError, OperationalError

from worker.ports import TransientError

log = logging.getLogger("suture.actors")

P = ParamSpec("P")
R = TypeVar("R")


class HintedRetry(dramatiq.Retry):
    """A transient failure whose retry must wait `delay` milliseconds: the adapter's hint or
    the usual backoff, whichever is longer. `cause` is the original `TransientError`."""

    def __init__(self, cause: TransientError, delay_ms: int) -> None:
        super().__init__(str(cause), delay=delay_ms)
        self.cause = cause


def is_transient(exc: BaseException) -> bool:
    """True for a failure worth retrying: a `TransientError`, hinted or not, or the database
    out of reach for a moment (a restart, a failover, a dropped connection)."""
    return isinstance(exc, TransientError | HintedRetry | OperationalError | DisconnectionError)


def retry_delay_ms(retries: int, hint_seconds: float, *, min_backoff_ms: int,
                   max_backoff_ms: int) -> int:
    """The delay before retry number `retries + 1`: Dramatiq's own jittered backoff for that
    retry, raised to the hint (rounded up to the millisecond), never above `max_backoff_ms`."""
    _, backoff = compute_backoff(retries, factor=min_backoff_ms, max_backoff=max_backoff_ms)
    return min(max(backoff, math.ceil(hint_seconds * 1000)), max_backoff_ms)


def honour_retry_after(fn: Callable[P, R], *, min_backoff_ms: int,
                       max_backoff_ms: int) -> Callable[P, R]:
    """`fn` as an actor body whose hinted `TransientError`s become `HintedRetry`s.

    The retry count comes from the message being processed (the `CurrentMessage` middleware
    the broker carries), so the backoff is the one Retries itself would have chosen.
    """

    @functools.wraps(fn)
    def wrapped(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except TransientError as exc:
            if exc.retry_after is None or exc.retry_after <= 0:
                raise
            message = CurrentMessage.get_current_message()
            retries = int(message.options.get("retries", 0)) if message is not None else 0
            delay = retry_delay_ms(retries, exc.retry_after, min_backoff_ms=min_backoff_ms,
                                   max_backoff_ms=max_backoff_ms)
            # Dramatiq does not log a Retry as a failure: say here what failed and when next.
            log.warning("%s: %s; retrying in %.1f s (asked to wait %.1f s)", fn.__name__, exc,
                        delay / 1000, exc.retry_after)
            raise HintedRetry(exc, delay) from exc

    return wrapped
