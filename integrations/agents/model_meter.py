"""What one attempt's model calls cost, and whether another may be made: the budget the model
proxy enforces for a sandboxed agent CLI.

The task's `max_tokens` and `max_cost_usd` bound the attempt; a call is admitted only while
both have room, and each answered call is charged its reported (or estimated) tokens at its
upstream's price. Calls in flight are not charged until they end, so a CLI running calls in
parallel can overshoot by what those calls use; the proxy bounds how many run at once. Every
call, admitted or refused, is recorded for the attempt's transcript.
"""

from __future__ import annotations

import threading

from pydantic import BaseModel, Field

from integrations.agents.model_usage import Usage


class ModelCall(BaseModel):
    """One request the proxy handled."""

    style: str  # "openai" or "anthropic"
    path: str
    status: int
    stream: bool = False
    model: str = ""
    input_tokens: int = 0
    output_tokens: int = 0
    estimated: bool = False  # the upstream reported no usage; sizes were counted
    cost_usd: float = 0.0
    seconds: float = 0.0
    refused: str = ""  # why the proxy answered itself instead of forwarding


class MeterSummary(BaseModel):
    """The attempt's model calls in numbers, for its transcript."""

    calls: int = 0
    refused: int = 0
    tokens: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    max_tokens: int = 0
    max_cost_usd: float = 0.0
    log: list[ModelCall] = Field(default_factory=list)


class ModelMeter:
    """Counts tokens and cost against a budget; safe to use from the proxy's threads."""

    def __init__(self, max_tokens: int, max_cost_usd: float, log_limit: int = 200) -> None:
        self.max_tokens = max_tokens
        self.max_cost_usd = max_cost_usd
        self._log_limit = log_limit
        self._lock = threading.Lock()
        self._summary = MeterSummary(max_tokens=max_tokens, max_cost_usd=max_cost_usd)

    def refusal(self) -> str:
        """Why no further call may be made, or "" while the budget has room."""
        with self._lock:
            spent = self._summary
            if spent.tokens >= self.max_tokens:
                return (f"the attempt's token budget is spent: {spent.tokens} of "
                        f"{self.max_tokens} tokens used")
            if spent.cost_usd >= self.max_cost_usd:
                return (f"the attempt's cost budget is spent: ${spent.cost_usd:.4f} of "
                        f"${self.max_cost_usd:g}")
            return ""

    def charge(self, call: ModelCall, usage: Usage | None, price_per_1k_tokens: float) -> None:
        """Record `call`, charged `usage` (None: nothing) at `price_per_1k_tokens`."""
        if usage is not None:
            call.input_tokens, call.output_tokens = usage.input_tokens, usage.output_tokens
            call.estimated = not usage.reported
            call.cost_usd = usage.total * price_per_1k_tokens / 1000
        with self._lock:
            spent = self._summary
            spent.calls += 1
            spent.refused += bool(call.refused)
            spent.input_tokens += call.input_tokens
            spent.output_tokens += call.output_tokens
            spent.tokens += call.input_tokens + call.output_tokens
            spent.cost_usd += call.cost_usd
            if len(spent.log) < self._log_limit:
                spent.log.append(call)

    def summary(self) -> MeterSummary:
        """A copy of the counts so far."""
        with self._lock:
            return self._summary.model_copy(deep=True)
