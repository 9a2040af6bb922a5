"""Rendering an agent's prompt from a playbook's Jinja2 template, with untrusted data fenced off.

Event data is attacker-controlled: an exception message can say "ignore previous instructions".
So every piece of it (exception types and values, frames, the request) is scrubbed by
`worker.scrub.scrub_event`, truncated, and handed to the template only as strings in which any
block delimiter is neutralised; the template places them inside `<untrusted-event-data>` blocks
(`check_playbooks` verifies it does). Suspect commits and the repository's `AGENTS.md` get their
own blocks and the same treatment. Rendering is strict (`StrictUndefined`) and sandboxed, and
the template folder is the playbooks' own.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from jinja2 import FileSystemLoader, StrictUndefined, TemplateError
from jinja2.sandbox import SandboxedEnvironment
from pydantic import BaseModel, Field

from worker.correlate.models import Suspect
from worker.correlate.presented import NO_EVIDENCE, with_evidence
from worker.models import ErrorEvent, ExceptionInfo, Frame, RequestData
from worker.playbooks.catalogue import PlaybookError
from worker.playbooks.model import Playbook
from worker.scrub import scrub_event, scrub_name, scrub_text
from worker.stacktrace import format_exception, stack_language

SHIPPED_PLAYBOOKS = Path(__file__).resolve().parents[2] / "playbooks"
EVENT_BLOCK = "untrusted-event-data"
SUSPECTS_BLOCK = "untrusted-suspects"
INSTRUCTIONS_BLOCK = "repository-instructions"
REVIEW_BLOCK = "untrusted-review"  # a reviewer's feedback and the pull request's thread
BLOCKS = (EVENT_BLOCK, SUSPECTS_BLOCK, INSTRUCTIONS_BLOCK, REVIEW_BLOCK)
# An opening or closing tag of any block, however spelled: `<`, `&lt;` or a look-alike bracket,
# any case, with spaces, underscores or hyphens between the words.
_TAG = re.compile(
    r"(?:<|&lt;|\uff1c|\ufe64|\u2039)(\s*/?\s*)(?=(?:"
    + "|".join(r"[\s_-]*".join(block.split("-")) for block in BLOCKS) + r"))",
    re.IGNORECASE)
_LIMITS = {"value": 2_000, "line": 300, "body": 2_000, "url": 1_000, "summary": 300,
           "stack": 12_000}
_MAX_FRAMES = 30
_MAX_HEADERS = 20
_MAX_SUSPECTS = 5
_MAX_REVIEW = 20


class PromptContext(BaseModel):
    """What a fix prompt is rendered from."""

    event: ErrorEvent
    suspects: list[Suspect] = Field(default_factory=list)
    instructions: str = ""  # the repository's AGENTS.md
    test_command: str | None = None
    crash_file: str | None = None
    crash_line: int | None = None
    crash_function: str | None = None
    # On a retry asked for in review: the feedback first, then the thread (author: text).
    review: list[str] = Field(default_factory=list)


def neutralise(text: str, limit: int | None = None) -> str:
    """`text` truncated and unable to open or close a prompt block (its `<` becomes `[`)."""
    if limit is not None and len(text) > limit:
        text = text[:limit] + f" [... {len(text) - limit} characters truncated]"
    return _TAG.sub(lambda match: "[" + match.group(1), text)


def _clean(text: str | None, limit: str = "line", *, name: bool = False) -> str:
    """Untrusted text, scrubbed (idempotent, so twice is harmless) and neutralised."""
    if text is None:
        return ""
    return neutralise((scrub_name if name else scrub_text)(text), _LIMITS[limit])


def _frame(frame: Frame) -> dict[str, Any]:
    return {"file": _clean(frame.filename or frame.abs_path or "?", name=True),
            "line": frame.lineno, "function": _clean(frame.function, name=True),
            "code": _clean((frame.context_line or "").strip()), "in_app": frame.in_app}


def _exception(exc: ExceptionInfo, language: str) -> dict[str, Any]:
    # `stack` is the exception as its runtime prints it; the parts stay for other templates.
    short = exc.model_copy(update={"value": exc.value[:_LIMITS["value"]]})
    return {"type": _clean(exc.type, name=True), "value": _clean(exc.value, "value"),
            "module": _clean(exc.module, name=True),
            "frames": [_frame(frame) for frame in exc.frames[-_MAX_FRAMES:]],
            "stack": _clean(format_exception(short, language, _MAX_FRAMES), "stack")}


def _request(request: RequestData | None) -> dict[str, Any] | None:
    if request is None:
        return None
    headers = list(request.headers.items())[:_MAX_HEADERS]
    return {"method": _clean(request.method or "GET", name=True),
            "url": _clean(request.url, "url"), "query": _clean(request.query, "url"),
            "headers": {_clean(key, name=True): _clean(value) for key, value in headers},
            "body": _clean(request.body, "body")}


def event_view(event: ErrorEvent) -> dict[str, Any]:
    """The event as the template sees it: scrubbed, truncated, neutralised strings only."""
    clean = scrub_event(event)
    language = stack_language(clean)
    return {"language": language, "title": _clean(clean.title, "value"),
            "message": _clean(clean.message, "value"),
            "platform": _clean(clean.platform, name=True),
            "release": _clean(clean.release, name=True),
            "environment": _clean(clean.environment, name=True),
            "exceptions": [_exception(exc, language) for exc in clean.exceptions],
            "request": _request(clean.request)}


def _suspect(suspect: Suspect) -> dict[str, Any]:
    # Authors are left out: the agent needs what changed, not who changed it.
    return {"sha": _clean(suspect.sha[:12], name=True), "summary": _clean(suspect.summary,
                                                                          "summary"),
            "score": round(suspect.score, 2),
            "reasons": [_clean(reason, "summary") for reason in suspect.reasons[:5]]}


def template_variables(playbook: Playbook, context: PromptContext) -> dict[str, Any]:
    """Everything a fix-prompt template may use."""
    shown = with_evidence(context.suspects)
    return {
        "playbook": playbook.model_dump(include={"name", "description", "guidance", "checks",
                                                 "diff_policy"}),
        "event": event_view(context.event),
        "crash": {"file": _clean(context.crash_file, name=True), "line": context.crash_line,
                  "function": _clean(context.crash_function, name=True)},
        "suspects": [_suspect(suspect) for suspect in shown[:_MAX_SUSPECTS]],
        # Said when correlation ranked commits but none has evidence, so the agent is not
        # left to guess whether the history was looked at.
        "suspects_note": NO_EVIDENCE if context.suspects and not shown else "",
        "instructions": neutralise(scrub_text(context.instructions)),
        "test_command": _clean(context.test_command or playbook.checks.test_command, "url"),
        "review": [_clean(text, "body") for text in context.review[:_MAX_REVIEW]],
        "blocks": {"event": EVENT_BLOCK, "suspects": SUSPECTS_BLOCK,
                   "instructions": INSTRUCTIONS_BLOCK, "review": REVIEW_BLOCK},
    }


def prompt_environment(templates: Path) -> SandboxedEnvironment:
    """A strict, sandboxed Jinja2 environment over a templates folder."""
    return SandboxedEnvironment(loader=FileSystemLoader(str(templates)),
                                undefined=StrictUndefined, autoescape=False,
                                keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True)


def templates_folder(playbook: Playbook) -> Path:
    """Where a playbook's templates live: beside its YAML file, else the shipped folder."""
    source = playbook.source
    return (source.parent if source else SHIPPED_PLAYBOOKS) / "templates"


def render_prompt(playbook: Playbook, task_context: PromptContext | Mapping[str, Any],
                  templates: Path | None = None) -> str:
    """The fix prompt for `task_context` from the playbook's template; PlaybookError on a
    missing or broken template."""
    context = PromptContext.model_validate(task_context)
    folder = templates or templates_folder(playbook)
    try:
        template = prompt_environment(folder).get_template(playbook.prompt)
        return template.render(template_variables(playbook, context))
    except TemplateError as exc:
        raise PlaybookError([f"{playbook.name}: prompt: template {playbook.prompt!r}: "
                             f"{type(exc).__name__}: {exc}"]) from exc
