"""What the correlate and fix stages store, scrubbed first.

Correlation keeps each mapped frame (with the event's crash line) and the repository's line at
that place; the fix stage keeps agents' patches, transcripts, errors and the commands they ran.
All of it can repeat what the event carried, so it passes `worker.scrub` before it reaches the
store, as the event did at ingestion. A patch loses only secrets in the lines it adds
(`scrub_patch`); when that changes it, the attempt's transcript says so.
"""

from __future__ import annotations

from worker.correlate.models import Correlation, MappedFrame, Suspect
from worker.fix.models import Attempt
from worker.runs import CommandSummary
from worker.scrub import scrub_frame, scrub_patch, scrub_text, scrub_value


def scrubbed_correlation(found: Correlation) -> Correlation:
    """`found` with frames, source lines, commit summaries, reasons and the note scrubbed."""
    return found.model_copy(update={
        "frames": [_frame(item) for item in found.frames],
        "suspects": [_suspect(suspect) for suspect in found.suspects],
        "note": scrub_text(found.note),
    })


def _frame(item: MappedFrame) -> MappedFrame:
    return item.model_copy(update={
        "frame": scrub_frame(item.frame),
        "source_line": None if item.source_line is None else scrub_text(item.source_line),
        "reason": scrub_text(item.reason),
    })


def _suspect(suspect: Suspect) -> Suspect:
    return suspect.model_copy(update={"summary": scrub_text(suspect.summary),
                                      "reasons": [scrub_text(r) for r in suspect.reasons]})


def scrubbed_attempt(attempt: Attempt) -> Attempt:
    """`attempt` with its patch's added lines, transcript and error scrubbed."""
    patch = scrub_patch(attempt.patch)
    transcript = [scrub_value(entry) for entry in attempt.transcript]
    if patch != attempt.patch:
        transcript.append({"step": "scrub",
                           "reason": "secrets in lines the patch adds were redacted before it "
                                     "was stored; verification judges the stored patch"})
    return attempt.model_copy(update={"patch": patch, "transcript": transcript,
                                      "error": scrub_text(attempt.error)})


def scrubbed_command(command: CommandSummary) -> CommandSummary:
    """A command of the audit trail with its arguments and network lines scrubbed."""
    return command.model_copy(update={
        name: [scrub_text(text) for text in getattr(command, name)]
        for name in ("argv", "reached", "refused")})
