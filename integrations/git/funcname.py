"""git's function context for hunk headers: which line names the function a hunk is in."""

from __future__ import annotations

import tempfile
import threading
from pathlib import Path

# git's own function-context patterns for these languages, plus one for JavaScript/TypeScript,
# which git lacks.
_ATTRIBUTES = "\n".join([
    "*.py diff=python", "*.java diff=java", "*.kt diff=kotlin", "*.go diff=golang",
    "*.rb diff=ruby", "*.rs diff=rust", "*.php diff=php", "*.cs diff=csharp",
    *(f"*.{ext} diff=suturejs" for ext in ("js", "jsx", "mjs", "cjs", "ts", "tsx")),
]) + "\n"
# The first line rejects control-flow lines, which the method pattern below would also take
# (`if (x) {`, `} else if (y) {`), as git's own Java pattern does.
_JS_FUNCNAME = (r"!^[ \t]*(\}[ \t]*)?(if|for|while|switch|catch|do|else|return|with|try)"
                r"([ \t(]|$)" "\n"
                r"^[ \t]*((export[ \t]+)?(default[ \t]+)?(async[ \t]+)?function[ \t*]*[A-Za-z_$]"
                r".*|.*[A-Za-z_$][A-Za-z0-9_$]*[ \t]*[:=][ \t]*(async[ \t]*)?(function\b.*|\(.*\)"
                r"[ \t]*=>.*)|[ \t]*(static[ \t]+|async[ \t]+|get[ \t]+|set[ \t]+)*[A-Za-z_$]"
                r"[A-Za-z0-9_$]*[ \t]*\([^;]*\)[ \t]*\{.*)$")
_attributes_lock = threading.Lock()
_attributes_file: Path | None = None


def funcname_config() -> tuple[str, ...]:
    """`git -c` options that give hunks the function context of these languages."""
    global _attributes_file
    with _attributes_lock:
        if _attributes_file is None or not _attributes_file.exists():
            folder = Path(tempfile.mkdtemp(prefix="suture-git-"))
            _attributes_file = folder / "attributes"
            _attributes_file.write_text(_ATTRIBUTES)
    return ("-c", f"core.attributesFile={_attributes_file}",
            "-c", f"diff.suturejs.xfuncname={_JS_FUNCNAME}")
