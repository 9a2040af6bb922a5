"""`check_playbooks`: every problem in a playbooks folder, named with its file and key.

Beyond what loading validates (YAML syntax, the schema, names, duplicates), each playbook's
prompt template must exist, render against a sample context and show the event data, and the
sample's event data, suspects and repository instructions (all carrying a marker) must appear
only inside their delimited blocks: a template that shows untrusted text outside its block is a
problem, not a style choice. A folder without a `default` playbook is a problem too, since some
crash would then have no playbook.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

from worker.correlate.models import Suspect
from worker.models import ErrorEvent, ExceptionInfo, Frame, RequestData, Source
from worker.playbooks.catalogue import PlaybookError, parse_playbook, playbook_files
from worker.playbooks.model import Playbook
from worker.playbooks.prompt import (
    EVENT_BLOCK,
    INSTRUCTIONS_BLOCK,
    REVIEW_BLOCK,
    SUSPECTS_BLOCK,
    PromptContext,
    render_prompt,
)

MARK = {EVENT_BLOCK: "zzeventzz", SUSPECTS_BLOCK: "zzsuspectzz",
        INSTRUCTIONS_BLOCK: "zzinstructionzz", REVIEW_BLOCK: "zzreviewzz"}


def sample_context() -> PromptContext:
    """A context in which every untrusted string carries its block's marker."""
    mark = MARK[EVENT_BLOCK]
    frame = Frame(filename=f"app/{mark}.py", function=f"{mark}_fn", lineno=3,
                  context_line=f"return {mark}()")
    event = ErrorEvent(
        source=Source.SENTRY, event_id="0" * 32, platform="python", title=f"Error {mark}",
        message=f"message {mark}", timestamp=datetime(2026, 1, 1, tzinfo=UTC),
        release=f"rel-{mark}", environment=f"env-{mark}",
        exceptions=[ExceptionInfo(type=f"{mark.title()}Error", value=f"value {mark}",
                                  module=f"mod_{mark}", frames=[frame])],
        request=RequestData(method="GET", url=f"https://example.invalid/{mark}",
                            query=f"q={mark}", headers={"X-Mark": mark}, body=f"body {mark}"))
    suspect = Suspect(sha="a" * 40, score=0.9, confidence=0.8,
                      summary=f"commit {MARK[SUSPECTS_BLOCK]}",
                      reasons=[f"touched {MARK[SUSPECTS_BLOCK]}"])
    return PromptContext(event=event, suspects=[suspect],
                         instructions=f"Use pytest. {MARK[INSTRUCTIONS_BLOCK]}",
                         test_command="pytest -q", crash_file=f"app/{mark}.py",
                         crash_line=3, crash_function=f"{mark}_fn",
                         review=[f"use max() {MARK[REVIEW_BLOCK]}",
                                 f"grace: please {MARK[REVIEW_BLOCK]}"])


def _outside_blocks(text: str, block: str) -> str:
    return re.sub(rf"<{block}>.*?</{block}>", "", text, flags=re.DOTALL)


def check_template(playbook: Playbook, templates: Path, label: str) -> list[str]:
    """Problems rendering the playbook's prompt, and untrusted text outside its blocks."""
    if not (templates / playbook.prompt).is_file():
        return [f"{label}: prompt: template {playbook.prompt!r} not found in {templates.name}/"]
    try:
        text = render_prompt(playbook, sample_context(), templates)
    except PlaybookError as exc:
        return [f"{label}: prompt: fails to render: {exc}"]
    problems = []
    for block, mark in MARK.items():
        if block == EVENT_BLOCK and not re.search(mark, text, re.IGNORECASE):
            problems.append(f"{label}: prompt: template never shows the <{block}> data")
        elif re.search(mark, _outside_blocks(text, block), re.IGNORECASE):
            problems.append(f"{label}: prompt: template puts <{block}> data outside its block")
    return problems


def check_playbooks(directory: Path) -> list[str]:
    """Every problem found in the playbooks folder (empty: all good)."""
    if not directory.is_dir():
        return [f"{directory}: not a folder"]
    files = playbook_files(directory)
    if not files:
        return [f"{directory}: no playbook files (*.yaml)"]
    problems: list[str] = []
    names: dict[str, str] = {}
    for file in files:
        playbook, found = parse_playbook(file)
        problems += found
        if playbook is None:
            continue
        if playbook.name in names:
            problems.append(f"{file.name}: name: {playbook.name!r} is also used by "
                            f"{names[playbook.name]}")
        names[playbook.name] = file.name
        problems += check_template(playbook, directory / "templates", file.name)
    if "default" not in names:
        problems.append("default.yaml: missing: a `default` playbook is needed for crashes no "
                        "other playbook matches")
    return problems
