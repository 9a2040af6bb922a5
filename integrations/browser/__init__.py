"""The browser adapter: screenshots of replayed requests on previews, rendered by the system
Chromium through Playwright (`screenshot`)."""

from __future__ import annotations

from integrations.browser.screenshot import capture, find_chromium, png_size

__all__ = ["capture", "find_chromium", "png_size"]
