"""The records of replaying a failing request on the previews: what was sent, what came back.

`ReplayRequest` is the failing request rebuilt from an event, already scrubbed: it holds only
allowlisted headers, and placeholders where the scrubber removed a value, with `placeholders`
naming each such field so the pull request can say the replay was not byte-for-byte the
original. `NoReplay` says why an event cannot be replayed. `ReplayEvidence` is the judged
outcome on the base and fixed previews; `Screenshot` is one rendered page. All are plain values
that a run record or a PR template can carry.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, computed_field

BodyKind = Literal["none", "json", "form", "raw"]


class ReplayRequest(BaseModel):
    """A failing HTTP request, scrubbed and ready to send to any preview.

    `path` starts with "/" and `query` has no leading "?". `exception` is the class name of the
    error the event reported, which a response naming it counts as reproducing.
    """

    model_config = ConfigDict(frozen=True)

    method: str
    path: str
    query: str = ""
    headers: dict[str, str] = Field(default_factory=dict)
    body: str | None = None
    body_kind: BodyKind = "none"
    exception: str | None = None
    placeholders: list[str] = Field(default_factory=list)
    dropped_headers: list[str] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)

    def target(self, base_url: str) -> str:
        """The URL of this request on a preview at `base_url` (which may carry a path prefix)."""
        url = base_url.rstrip("/") + self.path
        return f"{url}?{self.query}" if self.query else url

    def content(self) -> bytes | None:
        """The body as sent on the wire, or None when there is none."""
        return None if self.body is None else self.body.encode("utf-8")

    @property
    def placeholder_note(self) -> str:
        """One sentence for the PR: which values were stand-ins, or that none were."""
        if not self.placeholders:
            return "The request was replayed with every recorded value."
        fields = ", ".join(self.placeholders)
        return (f"Values the scrubber removed were replaced by placeholders in: {fields}; "
                "the original values never left suture.")


class NoReplay(BaseModel):
    """An event whose request cannot be replayed, and why."""

    model_config = ConfigDict(frozen=True)

    reason: str


class ReplayResponse(BaseModel):
    """What one preview answered: `status` is None when it did not answer (`error` says why)."""

    target: Literal["base", "fix"]
    url: str
    status: int | None = None
    seconds: float = 0.0
    excerpt: str = ""
    error: str | None = None
    names_exception: bool = False

    @property
    def answered(self) -> bool:
        """True when the preview sent an HTTP response at all."""
        return self.status is not None

    @property
    def server_error(self) -> bool:
        """True for a 5xx answer."""
        return self.status is not None and self.status >= 500


class ReplayEvidence(BaseModel):
    """The judged replay: did the base fail like production, and does the fix not?

    `fixed` is about the fix preview alone (it answered without the failure); only
    `confirms_fix` (reproduced on base and fixed) is evidence that the patch fixes the error.
    `reasons` explains both judgements, one sentence each.
    """

    request: ReplayRequest
    base: ReplayResponse
    fix: ReplayResponse
    reproduced_on_base: bool
    fixed: bool
    reasons: list[str] = Field(default_factory=list)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def confirms_fix(self) -> bool:
        """True when the base reproduced the failure and the fix did not."""
        return self.reproduced_on_base and self.fixed

    @computed_field  # type: ignore[prop-decorator]
    @property
    def verdict(self) -> str:
        """A headline and the reasons, as text for a PR or a log line."""
        if self.confirms_fix:
            headline = "replay confirms the fix"
        elif not self.reproduced_on_base:
            headline = "replay did not reproduce the failure"
        else:
            headline = "replay shows the failure is not fixed"
        return "; ".join([headline, *self.reasons])

    @computed_field  # type: ignore[prop-decorator]
    @property
    def placeholders_note(self) -> str:
        """Which values of the replayed request were placeholders."""
        return self.request.placeholder_note


class Screenshot(BaseModel):
    """One full-page PNG of a replayed page; `size` is in bytes, `status` the page's HTTP status."""

    path: str
    size: int
    width: int
    height: int
    status: int | None = None
    seconds: float = 0.0
    url: str = ""
    chromium_version: str = ""
