"""One way out: every channel text leaves suture by has a real call site of `worker.egress`, and
no adapter writes to the outside without importing it.

The static rule, kept simple on purpose: a module under `integrations/` (stand-ins aside) that
calls an outward write (an HTTP POST/PUT/PATCH through a client, a vendor SDK's create call, a
Slack post, an SMTP send) must import `worker.egress`; the few that write only fixed fields
say so in `FIXED_FIELDS`. The command line prints only through `worker/cli/output.py`.
"""

from __future__ import annotations

import random
import re
from pathlib import Path

from jinja2 import Environment
from markupsafe import Markup

from tests import fakes
from worker import egress
from worker.egress import JOINER, Channel, outbound, outbound_value

ROOT = Path(__file__).resolve().parents[1]
EXPECTED = {"ticket", "pr_body", "pr_comment", "check_output", "prompt", "log", "cli", "web",
            "slack", "email", "digest", "error_report", "upstream_note", "commit_message"}
WRITES = re.compile(
    r"\b_?(?:api|client|http|session|requests|httpx)\.(?:post|put|patch)\("
    r"|\bcreate_(?:pull|issue|comment|check_run|status)\("
    r"|\.(?:notes|statuses|mergerequests|issues)\.create\("
    r"|\bchat_postMessage\(|\bsend_message\(|\bsendmail\(")
# Modules whose outward writes carry no text of anyone's: each with what it sends.
FIXED_FIELDS = {
    "integrations/sentry/source.py": "resolves an issue: {status, statusDetails} only",
}


def _sources(*folders: str) -> dict[str, str]:
    return {str(path.relative_to(ROOT)): path.read_text("utf-8")
            for folder in folders for path in sorted((ROOT / folder).rglob("*.py"))}


def test_the_channels_are_the_expected_ones():
    assert {channel.value for channel in Channel} == EXPECTED


def test_every_channel_has_a_call_site_outside_the_egress_module():
    sources = {name: text for name, text in _sources("worker", "integrations").items()
               if name != "worker/egress.py"}
    used = {channel for channel in Channel
            if any(f"Channel.{channel.name}" in text for text in sources.values())}
    print(f"\nchannels: {len(Channel)}, with a call site: {len(used)}")
    assert used == set(Channel), sorted(set(Channel) - used)


def test_every_adapter_that_writes_outward_imports_egress():
    writers = {name: text for name, text in _sources("integrations").items()
               if not name.startswith("integrations/standins/") and WRITES.search(text)}
    assert len(writers) >= 8  # the rule sees the adapters (a broken pattern would see none)
    missing = [name for name, text in writers.items()
               if "from worker.egress import" not in text and name not in FIXED_FIELDS]
    assert missing == [], f"these write outward without worker.egress: {missing}"


def test_the_command_line_prints_only_through_its_output_module():
    offenders = [f"{name}: {line.strip()}"
                 for name, text in _sources("worker/cli").items()
                 if name != "worker/cli/output.py"
                 for line in text.splitlines()
                 if re.search(r"\btyper\.echo\(|\bprint\(|sys\.std(?:out|err)\.write\(", line)]
    assert offenders == []


def test_outbound_redacts_every_kind_and_counts_per_channel():
    egress.reset_counts()
    rng = random.Random(7)
    values = [(kind.name, kind.make(rng)) for kind in fakes.KINDS]
    texts = [f"with password {v}" if k == "password" else
             f"api key {v}" if k == "api-key" else f"for customer {v}" for k, v in values]
    cleaned = [outbound(text, Channel.TICKET) for text in texts]
    assert all(value not in text for (_, value), text in zip(values, cleaned, strict=True))
    assert outbound("nothing to hide here", Channel.TICKET) == "nothing to hide here"
    [ticket] = [c for c in egress.counts() if c.channel == Channel.TICKET]
    assert (ticket.sent, ticket.redacted) == (len(texts) + 1, len(texts))
    assert all(c.sent == 0 for c in egress.counts() if c.channel != Channel.TICKET)


def test_suture_s_own_mention_guard_survives_but_a_split_token_does_not():
    token = "ghp_" + "a1B2c3D4" * 5
    text = f"**@{JOINER}octocat** gh{JOINER}p_{token[4:]} mail ann@{JOINER}example.com"
    clean = outbound(text, Channel.PR_BODY)
    assert clean.startswith(f"**@{JOINER}octocat** ")  # nobody is pinged
    assert "a1B2c3D4" not in clean and "ann@" not in clean
    assert outbound("bidi \u202eevil", Channel.PR_BODY) == "bidi evil"


def test_a_document_is_scrubbed_string_by_string_keys_included():
    doc = {"author": "Grace Hopper", "note": ["ann@example.com", 3, None],
           "ann@example.com": True}
    clean = outbound_value(doc, Channel.CLI)
    assert clean["author"] == "Grace Hopper"  # a name is not a secret without a key beside it
    assert clean["note"] == ["[REDACTED:email]", 3, None]
    assert "[REDACTED:email]" in clean


def test_a_page_rendered_with_the_finalize_hook_shows_no_secret_and_stays_escaped():
    env = Environment(autoescape=True, finalize=egress.finalize)
    page = env.from_string("<p>{{ title }}</p><p>{{ safe }}</p>").render(
        title="<b>ann@example.com</b>", safe=Markup("<i>bob@example.org</i>"))
    assert page == ("<p>&lt;b&gt;[REDACTED:email]&lt;/b&gt;</p>"
                    "<p><i>[REDACTED:email]</i></p>")
