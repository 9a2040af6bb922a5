"""Preview providers, the `Preview` port's adapters: `LocalPreview` runs the service's command in
the sandbox, `CommandPreview` runs the operator's deploy script, `GitHubPreview` waits for the
code host's deployment of the pushed commit. `health` is the readiness check the first two share.
"""

from __future__ import annotations

from integrations.preview.command import CommandPreview
from integrations.preview.github import GitHubPreview
from integrations.preview.local import LocalPreview

__all__ = ["CommandPreview", "GitHubPreview", "LocalPreview"]
