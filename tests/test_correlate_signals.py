"""Each signal of suspect ranking in isolation, on small real repositories.

Every repository starts from the same module, written long before the crash (outside the
history window, so its lines are nobody's fault). Then two commits are added that are alike in
every way but one signal, and the test checks that this signal alone orders them and that its
reason is printed. The function-range heuristics the blame signals rely on are tested first.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from integrations.git import GitRepository
from tests.gitrepo import GitRepoBuilder, lines
from worker.correlate.engine import correlate
from worker.correlate.functions import function_range
from worker.correlate.models import Correlation, Suspect
from worker.models import ErrorEvent, ExceptionInfo, Frame, Source

FIRST_SEEN = datetime(2026, 3, 1, tzinfo=UTC)
ANCIENT = "2022-01-01T00:00:00Z"  # before the two-year horizon
DAY = "2026-02-01T00:00:00Z"
ADA = ("Ada Lovelace", "ada@example.com")
GRACE = ("Grace Hopper", "grace@example.com")
LINUS = ("Linus Pauling", "linus@example.com")

CART = [
    '"""Cart arithmetic."""',            # 1
    "",                                  # 2
    "",                                  # 3
    "def total(items, discounts):",      # 4
    "    subtotal = sum(i.price for i in items)",  # 5
    '    rate = discounts["rate"]',      # 6  <- the crashing line
    "    taxed = subtotal * 1.2",        # 7
    "    return taxed - rate",           # 8
    "",                                  # 9
    "",                                  # 10
    "def describe(items):",              # 11
    "    names = [i.name for i in items]",  # 12
    '    return ", ".join(names)',       # 13
]
SORTED = '    return ", ".join(sorted(names))'
WEB = [
    "from shop.cart import total",       # 1
    "",                                  # 2
    "",                                  # 3
    "def handler(request):",             # 4
    "    return total(request.items, request.discounts)",  # 5
    "",                                  # 6
    "",                                  # 7
    "def health():",                     # 8
    '    return "ok"',                   # 9
]


def edit(base: list[str], **changes: str) -> str:
    """`base` with lines replaced (`l6="..."` replaces line 6) as file text."""
    rows = list(base)
    for key, text in changes.items():
        rows[int(key[1:]) - 1] = text
    return lines(*rows)


@pytest.fixture
def shop(tmp_path) -> GitRepoBuilder:
    """A repository whose code was all written long before the crash."""
    builder = GitRepoBuilder(tmp_path / "shop")
    builder.commit({"src/shop/cart.py": lines(*CART), "src/shop/web.py": lines(*WEB),
                    "README.md": "# shop\n"}, "import the shop", author=LINUS, date=ANCIENT)
    return builder


def crash(message: str = "boom", *, web: bool = False) -> ErrorEvent:
    """A ValueError raised at cart.py:6 in `total` (called from web.py's handler if `web`)."""
    frames = [Frame(abs_path="/usr/local/lib/python3.11/site-packages/flask/app.py",
                    function="dispatch", lineno=880, in_app=False)]
    if web:
        frames.append(Frame(abs_path="/app/src/shop/web.py", module="shop.web",
                            function="handler", lineno=5))
    frames.append(Frame(abs_path="/app/src/shop/cart.py", module="shop.cart", function="total",
                        lineno=6, context_line='    rate = discounts["rate"]'))
    return ErrorEvent(source=Source.SENTRY, event_id="e1", timestamp=FIRST_SEEN,
                      exceptions=[ExceptionInfo(type="ValueError", value=message,
                                                frames=frames)])


def run(builder: GitRepoBuilder, event: ErrorEvent | None = None, **options) -> Correlation:
    return correlate(GitRepository(builder.path), event or crash(), first_seen=FIRST_SEEN,
                     window_days=365, **options)


def by_sha(found: Correlation) -> dict[str, Suspect]:
    return {suspect.sha: suspect for suspect in found.suspects}


def order(found: Correlation) -> list[str]:
    return [suspect.sha for suspect in found.suspects]


# --- function ranges -------------------------------------------------------------------------

PYTHON = lines(
    "import functools",                  # 1
    "",                                  # 2
    "class Cart:",                       # 3
    "    rate = 2",                      # 4
    "",                                  # 5
    "    @functools.cache",              # 6
    "    @staticmethod",                 # 7
    "    def total(items):",             # 8
    "        def price(i):",             # 9
    "            return i.price * 2",    # 10
    "        s = sum(price(i) for i in items)",  # 11
    "",                                  # 12
    "        return s",                  # 13
    "",                                  # 14
    "    def other(self):",              # 15
    "        pass",                      # 16
)


@pytest.mark.parametrize(("line", "expected"), [
    (10, (9, 10)),   # a nested function: the innermost wins
    (11, (6, 13)),   # a decorated method: decorators included, trailing blank lines not
    (13, (6, 13)),
    (8, (6, 13)),    # the def line itself
    (16, (15, 16)),
])
def test_python_function_range(line, expected):
    assert function_range(PYTHON, line, "shop/cart.py") == expected


TYPED = lines(
    "class Cart:",                        # 1
    "    def total(",                     # 2
    "        self, items: list[Item],",   # 3
    "    ) -> Decimal:",                  # 4
    "        subtotal = sum(",            # 5
    "            i.price for i in items",  # 6
    "        )",                          # 7
    "        return subtotal",            # 8  <- the crashing line
    "",                                   # 9
    "    def count(self) -> int:",        # 10
)


@pytest.mark.parametrize(("line", "expected"), [
    (8, (2, 8)),   # the signature's closing `) -> Decimal:` does not end the search for the def
    (6, (2, 8)),   # nor does a call's closing bracket inside the body
])
def test_python_function_range_with_a_signature_over_several_lines(line, expected):
    assert function_range(TYPED, line, "shop/cart.py") == expected


def test_python_class_body_line_falls_back_to_the_lines_around():
    assert function_range(PYTHON, 4, "shop/cart.py") == (1, 7)


JS = lines(
    "import x from 'y';",                # 1
    "",                                  # 2
    "export const total = (items) => {",  # 3
    "  let s = 0;",                      # 4
    "  for (const i of items) {",        # 5
    "    s += i.price;",                 # 6
    "  }",                               # 7
    "  return s;",                       # 8
    "};",                                # 9
    "",                                  # 10
    "class Cart {",                      # 11
    "  constructor(items) {",            # 12
    "    this.items = items;",           # 13
    "  }",                               # 14
    "",                                  # 15
    "  sum(extra) {",                    # 16
    "    const f = function inner(a) {",  # 17
    "      return a + 1;",               # 18
    "    };",                            # 19
    "    if (extra) {",                  # 20
    "      extra += 1;",                 # 21
    "    }",                             # 22
    "    return f(extra) + this.items.length;",  # 23
    "  }",                               # 24
    "}",                                 # 25
)


@pytest.mark.parametrize(("line", "expected"), [
    (6, (3, 9)),     # inside a loop of an arrow function: the function, not the loop
    (13, (12, 14)),  # a constructor
    (18, (17, 19)),  # a function expression inside a method
    (21, (16, 24)),  # inside an `if` of a method
    (23, (16, 24)),  # after a closure that ended above: the enclosing method
])
def test_javascript_function_range(line, expected):
    assert function_range(JS, line, "web/cart.js") == expected


JAVA = lines(
    "package com.acme.cart;",            # 1
    "",                                  # 2
    "public class Cart {",               # 3
    "    private final List<Line> lines;",  # 4
    "",                                  # 5
    "    public Cart(List<Line> lines) {",  # 6
    "        this.lines = lines;",       # 7
    "    }",                             # 8
    "",                                  # 9
    "    public BigDecimal total(Map<String, Integer> discounts) throws IOException {",  # 10
    "        BigDecimal sum = BigDecimal.ZERO;",  # 11
    "        for (Line line : lines) {",  # 12
    "            if (line.qty() > 0) {",  # 13
    "                sum = sum.add(line.price());",  # 14
    "            } else if (line.free()) {",  # 15
    "                continue;",         # 16
    "            }",                     # 17
    "        }",                         # 18
    "        return sum;",               # 19
    "    }",                             # 20
    "}",                                 # 21
)


@pytest.mark.parametrize(("line", "expected"), [
    (7, (6, 8)), (14, (10, 20)), (16, (10, 20)), (19, (10, 20))])
def test_java_function_range(line, expected):
    assert function_range(JAVA, line, "src/main/java/com/acme/cart/Cart.java") == expected


GO = lines(
    "package cart",                      # 1
    "",                                  # 2
    "func (c *Cart) Total() int {",      # 3
    "\ts := 0",                          # 4
    "\tfor _, i := range c.items {",     # 5
    "\t\ts += i.Price",                  # 6
    "\t}",                               # 7
    "\tdefer func() {",                  # 8
    "\t\trecover()",                     # 9
    "\t}()",                             # 10
    "\treturn s",                        # 11
    "}",                                 # 12
)


@pytest.mark.parametrize(("line", "expected"), [(6, (3, 12)), (9, (8, 10)), (11, (3, 12))])
def test_go_function_range(line, expected):
    assert function_range(GO, line, "internal/cart/cart.go") == expected


@pytest.mark.parametrize("path", ["shop/cart.py", "web/cart.js"])
def test_line_beyond_the_end_of_the_file_gives_the_lines_around_it(path):
    assert function_range(lines("a = 1", "b = 2"), 40, path) == (37, 43)
    assert function_range(lines("a = 1", "b = 2"), 3, path) == (1, 6)


def test_lines_are_numbered_by_newlines_only():
    source = "function a() {\n  x = '\f';\n  return 1;\n}\n"
    assert function_range(source, 3, "a.js") == (1, 4)


# --- each signal alone -----------------------------------------------------------------------


def test_blame_of_the_exact_crashing_line(shop):
    line_author = shop.commit({"src/shop/cart.py": edit(CART, l6='    rate = discounts["rate"]'
                                                        " * 1")}, "tweak rate",
                              author=ADA, date=DAY)
    other = shop.commit({"src/shop/cart.py": edit(CART, l5="    subtotal = sum(i.cost for i in "
                                                   "items)", l6='    rate = discounts["rate"]'
                                                  " * 1")}, "cost not price",
                        author=GRACE, date=DAY)
    found = run(shop)
    assert order(found) == [line_author, other]
    reasons = by_sha(found)[line_author].reasons
    assert reasons[0] == "last changed the crashing line src/shop/cart.py:6"
    assert not any("crashing line" in reason for reason in by_sha(found)[other].reasons)


def test_blame_of_the_lines_around_the_crash(shop):
    much = shop.commit({"src/shop/cart.py": edit(CART, l5="    subtotal = sum(i.cost for i in "
                                                  "items)", l7="    taxed = subtotal * 1.25")},
                       "new tax", author=ADA, date=DAY)
    part = shop.commit({"src/shop/cart.py": edit(CART, l5="    subtotal = sum(i.cost for i in "
                                                  "items)", l7="    taxed = subtotal * 1.25",
                                                  l8="    return taxed - rate or 0")},
                       "no negative", author=GRACE, date=DAY)
    found = run(shop)
    assert order(found) == [much, part]
    assert "wrote most of the code around the crash" in by_sha(found)[much].reasons
    assert "wrote code near a line on the stack" in by_sha(found)[part].reasons
    for suspect in found.suspects:
        assert not any("crashing line" in reason for reason in suspect.reasons)


def test_hunk_in_the_frames_function_counts_after_its_lines_were_overwritten(shop):
    in_function = shop.commit({"src/shop/cart.py": edit(CART, l7="    taxed = subtotal * 1.3")},
                              "raise tax", author=ADA, date=DAY)
    elsewhere = shop.commit({"src/shop/cart.py": edit(CART, l7="    taxed = subtotal * 1.3",
                                                      l12="    names = [i.title for i in "
                                                      "items]")},
                            "titles", author=GRACE, date=DAY)
    shop.commit({"src/shop/cart.py": edit(CART, l7="    taxed = subtotal * 1.25",
                                          l12="    names = [i.title for i in items]")},
                "lower tax again", author=LINUS, date="2026-02-20T00:00:00Z")
    found = run(shop)
    suspects = by_sha(found)
    assert order(found).index(in_function) < order(found).index(elsewhere)
    reasons = suspects[in_function].reasons
    assert "changed a function on the stack" in reasons
    assert not any(r.startswith(("last changed", "wrote")) for r in reasons)  # blame missed it
    assert "changed a function on the stack" not in suspects[elsewhere].reasons


def test_touching_a_frame_file_only(shop):
    toucher = shop.commit({"src/shop/cart.py": edit(CART, l12="    names = [i.title for i in "
                                                     "items]")}, "titles", author=ADA, date=DAY)
    shop.commit({"README.md": "# the shop\n"}, "docs", author=GRACE, date=DAY)
    found = run(shop)
    assert order(found) == [toucher]  # the README commit is no suspect
    assert sorted(by_sha(found)[toucher].reasons) == [
        "100% of the files it changed are on the stack", "committed 28 days before first seen",
        "touched a file on the stack"]


def test_a_small_focused_commit_beats_a_huge_sweeping_one(shop):
    sweeping = {f"src/shop/generated/mod{n}.py": f"N = {n}\n" for n in range(20)}
    sweep = shop.commit({**sweeping, "src/shop/cart.py": edit(CART, l13='    return ", ".join('
                                                             "sorted(names))")},
                        "reformat everything", author=GRACE, date=DAY)
    focused = shop.commit({"src/shop/cart.py": edit(CART, l12="    names = [i.title for i in "
                                                     "items]", l13='    return ", ".join('
                                                     "sorted(names))")},
                          "titles", author=ADA, date=DAY)
    found = run(shop)
    assert order(found) == [focused, sweep]
    assert "100% of the files it changed are on the stack" in by_sha(found)[focused].reasons
    assert "5% of the files it changed are on the stack" in by_sha(found)[sweep].reasons


@pytest.mark.parametrize(("condition", "message", "word"), [
    ("i.coupon_code", "unknown coupon_code", "coupon_code"),  # named by the message
    # The message says nothing; the crashing line `rate = discounts["rate"]` names it.
    ("not i.discounts", "boom", "discounts"),
])
def test_identifiers_of_the_error_in_added_lines(shop, condition, message, word):
    filtered = f"    names = [i.name for i in items if {condition}]"
    naming = shop.commit({"src/shop/cart.py": edit(CART, l12=filtered)}, "filter items",
                         author=ADA, date=DAY)
    plain = shop.commit({"src/shop/cart.py": edit(CART, l12=filtered, l13=SORTED)},
                        "separator", author=GRACE, date=DAY)
    found = run(shop, crash(message))
    assert order(found) == [naming, plain]
    assert f"added code naming {word} from the error" in by_sha(found)[naming].reasons
    assert not any("naming" in reason for reason in by_sha(found)[plain].reasons)


@pytest.mark.parametrize(("date", "days", "in_window"), [
    ("2025-08-01T00:00:00Z", 212, True),
    ("2024-09-01T00:00:00Z", 546, False),  # older than the window, inside the 2-year horizon
])
def test_an_older_commit_scores_lower_but_is_not_dropped(shop, date, days, in_window):
    titles = "    names = [i.title for i in items]"
    old = shop.commit({"src/shop/cart.py": edit(CART, l12=titles)}, "titles", author=ADA,
                      date=date)
    new = shop.commit({"src/shop/cart.py": edit(CART, l12=titles, l13=SORTED)},
                      "separator", author=GRACE, date="2026-02-25T00:00:00Z")
    found = run(shop)
    assert order(found) == [new, old]
    assert f"committed {days} days before first seen" in by_sha(found)[old].reasons
    assert "committed 4 days before first seen" in by_sha(found)[new].reasons
    # Without a horizon, only the window's commits are read.
    assert order(run(shop, horizon_days=0)) == ([new, old] if in_window else [new])


def test_new_since_the_previous_release(shop):
    released = shop.commit({"src/shop/cart.py": edit(CART, l12="    names = [i.title for i in "
                                                      "items]")}, "titles", author=ADA,
                           date=DAY)
    shop.tag("v1.0")
    fresh = shop.commit({"src/shop/cart.py": edit(CART, l12="    names = [i.title for i in "
                                                   "items]", l13=SORTED)},
                        "separator", author=GRACE, date=DAY)
    found = run(shop, previous_release="v1.0")
    assert order(found) == [fresh, released]
    assert "new since the previous release" in by_sha(found)[fresh].reasons
    assert "new since the previous release" not in by_sha(found)[released].reasons
    without = run(shop)
    assert not any("previous release" in r for s in without.suspects for r in s.reasons)


def test_every_commit_since_the_previous_release_is_a_suspect(shop):
    shop.tag("v1.0")
    elsewhere = shop.commit({"README.md": "# the shop\n"}, "docs", author=GRACE, date=DAY)
    on_stack = shop.commit({"src/shop/cart.py": edit(CART, l12="    names = [i.title for i in "
                                                     "items]")}, "titles", author=ADA,
                           date=DAY)
    found = run(shop, previous_release="v1.0")
    assert order(found) == [on_stack, elsewhere]
    assert by_sha(found)[elsewhere].reasons[0] == "new since the previous release"
    assert elsewhere not in order(run(shop))  # without a release range it is no suspect


def test_a_revert_is_noted_and_counts_less(shop):
    revert = shop.commit({"src/shop/cart.py": edit(CART, l12="    names = [i.title for i in "
                                                    "items]")},
                         'Revert "use names"', author=ADA, date=DAY)
    normal = shop.commit({"src/shop/cart.py": edit(CART, l12="    names = [i.title for i in "
                                                    "items]", l13='    return ", ".join('
                                                    "sorted(names))")}, "separator", author=GRACE,
                         date=DAY)
    found = run(shop)
    assert order(found) == [normal, revert]
    assert by_sha(found)[revert].reasons[-1] == "is a revert"
    assert "is a revert" not in by_sha(found)[normal].reasons


def test_innermost_frames_weigh_more_than_outer_ones(shop):
    outer = shop.commit({"src/shop/web.py": edit(WEB, l9='    return "OK"')}, "shout",
                        author=GRACE, date=DAY)
    inner = shop.commit({"src/shop/cart.py": edit(CART, l12="    names = [i.title for i in "
                                                   "items]")}, "titles", author=ADA, date=DAY)
    found = run(shop, crash(web=True))
    assert order(found) == [inner, outer]
    assert by_sha(found)[inner].score > by_sha(found)[outer].score
    for sha in (inner, outer):
        assert "touched a file on the stack" in by_sha(found)[sha].reasons


def test_confidence_is_high_for_a_lone_strong_suspect(shop):
    culprit = shop.commit({"src/shop/cart.py": edit(CART, l6='    rate = discounts["rate"]  '
                                                    "# required", l7="    taxed = subtotal * 2")},
                          "require a rate", author=ADA, date="2026-02-20T00:00:00Z")
    found = run(shop)
    (suspect,) = found.suspects
    assert suspect.sha == culprit
    # Calibrated on real regressions, where such a lone suspect is right about two times in three.
    assert suspect.confidence > 0.6
    assert "weak evidence" not in found.note


def test_confidence_is_low_when_several_commits_only_touched_the_file(shop):
    shas = []
    for n, (author, row) in enumerate([(ADA, "i.title"), (GRACE, "i.label"),
                                       (LINUS, "i.caption")]):
        shas.append(shop.commit({"src/shop/cart.py": edit(CART, l12=f"    names = [{row} for i "
                                                           "in items]")},
                                f"names from {row}", author=author,
                                date=f"2026-02-1{n}T00:00:00Z"))
    found = run(shop)
    assert set(order(found)) == set(shas)
    assert all(suspect.confidence < 0.35 for suspect in found.suspects)
    assert "weak evidence" in found.note
