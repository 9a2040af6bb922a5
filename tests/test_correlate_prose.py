"""Where Python files hold prose (docstrings), and hunks with it left out."""

from __future__ import annotations

from worker.correlate.prose import docstrings, without_prose
from worker.vcs import Hunk

SOURCE = '''"""Module doc."""

import x

def f(a):
    """Summary.

    More.
    """
    q = """a value, not a docstring"""
    call(
        """an argument""")
    return a


class C:
    \'\'\'Class doc\'\'\'
    x = {
        "k":
        """a value""",
    }
'''


def test_docstrings_are_the_strings_that_open_a_statement():
    assert docstrings(SOURCE) == ((1, 1), (6, 9), (17, 17))


def test_no_docstrings_in_code_without_triple_quotes_or_an_unclosed_one():
    assert docstrings("x = 1\n") == ()
    assert docstrings('def f():\n    """never closed\n') == ()


def test_a_hunk_loses_only_the_lines_inside_docstrings():
    hunk = Hunk(sha="c" * 40, path="m.py", old_start=7, old_count=2, new_start=7, new_count=3,
                removed=["    Old words.", "    return a"],
                added=["    New words.", "    More new words.", "    return a + 1"])
    plain = without_prose(hunk, ((6, 7),), ((6, 8),))
    assert plain.removed == ["    return a"]
    assert plain.added == ["    return a + 1"]
