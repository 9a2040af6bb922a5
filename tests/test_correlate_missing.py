"""Errors that name a missing definition, and the commit that removed it.

The parsing rules are tested on their own; then, on a small real repository, a commit that
deleted a method from the class's own file (no file on the stack) is found and ranked first.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from integrations.git import GitRepository
from tests.gitrepo import GitRepoBuilder, lines
from worker.correlate.engine import correlate
from worker.correlate.evidence import error_identifiers
from worker.correlate.missing import (
    MESSAGE_HEAD,
    Missing,
    created_classes,
    defines,
    defines_class,
    missing_name,
    module_paths,
    removed_definitions,
)
from worker.correlate.models import Correlation
from worker.models import ErrorEvent, ExceptionInfo, Frame, Source
from worker.vcs import Hunk

FIRST_SEEN = datetime(2026, 3, 1, tzinfo=UTC)
ADA = ("Ada Lovelace", "ada@example.com")
GRACE = ("Grace Hopper", "grace@example.com")


@pytest.mark.parametrize(("message", "expected"), [
    ("AttributeError 'Engine' object has no attribute '_connect'",
     Missing("_connect", owner="Engine")),
    ("type object 'app.models.Order' has no attribute 'objects'", Missing("objects", "Order")),
    ("module 'shop.pricing' has no attribute 'rate'", Missing("rate", module="shop.pricing")),
    ("cannot import name 'rate' from 'shop.pricing' (/app/src/shop/pricing.py)",
     Missing("rate", module="shop.pricing")),
    ("ImportError cannot import name 'rate'", Missing("rate")),
    ("NameError name 'helper' is not defined", Missing("helper")),
    ("TypeError this.props.onSave is not a function", Missing("onSave")),
    # A value that is None or of a builtin type lacks nothing: the value is what is wrong.
    ("'NoneType' object has no attribute 'rate'", None),
    ("'str' object has no attribute 'items'", None),
    ("KeyError 'rate'", None),
])
def test_the_missing_name_an_error_gives(message, expected):
    assert missing_name(message) == expected


def test_only_the_head_of_a_huge_message_is_read():
    # Bounds the work on attacker-controlled text: nothing past the head is parsed.
    padding = "a." * 50_000
    assert missing_name(padding + "x.render is not a function") is None
    assert missing_name("x.render is not a function " + padding) == Missing("render")


@pytest.mark.parametrize(("line", "expected"), [
    ("    def rate(self):", True),
    ("    async def rate(self, when):", True),
    ("class rate:", True),
    ("    self.rate = 2", True),
    ("rate: float = 0.2", True),
    ("export function rate(order) {", True),
    ("  rate(order) {", True),
    ("    return self.rate", False),
    ("    if rate == 2:", False),
    ("    def rates(self):", False),
    ("    prorate = 1", False),
])
def test_which_lines_define_a_name(line, expected):
    assert defines("rate", line) is expected


def test_only_a_net_removal_counts():
    def hunk(sha: str, removed: list[str], added: list[str]) -> Hunk:
        return Hunk(sha=sha, path="p.py", old_start=3, old_count=len(removed), new_start=3,
                    new_count=len(added), removed=removed, added=added)

    hunks = [hunk("gone", ["    def rate(self):", "        return 2"], []),
             hunk("moved", ["    def rate(self):"], []), hunk("moved", [], ["    def rate(self):"]),
             hunk("used", ["    x = self.rate"], [])]
    assert removed_definitions("rate", hunks) == {"gone"}


def test_only_a_net_new_class_counts_as_created():
    def hunk(sha: str, removed: list[str], added: list[str]) -> Hunk:
        return Hunk(sha=sha, path="p.py", old_start=3, old_count=len(removed), new_start=3,
                    new_count=len(added), removed=removed, added=added)

    hunks = [hunk("made", [], ["class FlatPricing(Pricing):", "    base = 5"]),
             hunk("moved", ["class FlatPricing:"], []), hunk("moved", [], ["class FlatPricing:"]),
             hunk("used", [], ["    pricing = FlatPricing()"])]
    assert created_classes("FlatPricing", hunks) == {"made"}


def test_a_dotted_module_is_found_under_any_source_root():
    files = ["src/shop/pricing.py", "src/shop/web/__init__.py", "tests/test_pricing.py"]
    assert module_paths("shop.pricing", files) == ["src/shop/pricing.py"]
    assert module_paths("shop.web", files) == ["src/shop/web/__init__.py"]
    assert module_paths("shop.taxes", files) == []


PRICING = [
    '"""Prices."""',             # 1
    "",                          # 2
    "",                          # 3
    "class Pricing:",            # 4
    "    def rate(self):",       # 5
    "        return 0.2",        # 6
    "",                          # 7
    "    def base(self):",       # 8
    "        return 10",         # 9
]
CART = [
    "from shop.pricing import Pricing",  # 1
    "",                                  # 2
    "",                                  # 3
    "def total(items):",                 # 4
    "    pricing = Pricing()",           # 5
    "    return sum(items) * pricing.rate()",  # 6  <- the crashing line
    "",                                  # 7
    "",                                  # 8
    "def describe(items):",              # 9
    "    return str(items)",             # 10
]


@pytest.fixture
def shop(tmp_path) -> GitRepoBuilder:
    builder = GitRepoBuilder(tmp_path / "shop")
    builder.commit({"src/shop/pricing.py": lines(*PRICING), "src/shop/cart.py": lines(*CART)},
                   "import the shop", date="2022-01-01T00:00:00Z")
    return builder


def crash(message: str) -> ErrorEvent:
    frame = Frame(abs_path="/app/src/shop/cart.py", module="shop.cart", function="total",
                  lineno=6)
    kind, _, value = message.partition(" ")
    return ErrorEvent(source=Source.SENTRY, event_id="e1", timestamp=FIRST_SEEN,
                      exceptions=[ExceptionInfo(type=kind, value=value, frames=[frame])])


def run(builder: GitRepoBuilder, message: str) -> Correlation:
    return correlate(GitRepository(builder.path), crash(message), first_seen=FIRST_SEEN)


def add_removal_and_a_cart_change(shop: GitRepoBuilder) -> tuple[str, str]:
    """A commit (two months old) deleting `Pricing.rate`, and a newer one on the stack's file."""
    without = PRICING[:4] + PRICING[7:]
    removal = shop.commit({"src/shop/pricing.py": lines(*without)}, "drop unused rate",
                          author=ADA, date="2026-01-01T00:00:00Z")
    described = edit(CART, 10, "    return ', '.join(map(str, items))")
    recent = shop.commit({"src/shop/cart.py": described}, "describe items",
                         author=GRACE, date="2026-02-27T00:00:00Z")
    return removal, recent


def edit(base: list[str], number: int, text: str) -> str:
    rows = list(base)
    rows[number - 1] = text
    return lines(*rows)


@pytest.mark.parametrize("message", [
    "AttributeError 'Pricing' object has no attribute 'rate'",
    "ImportError cannot import name 'rate' from 'shop.pricing' (/app/src/shop/pricing.py)",
])
def test_the_commit_that_removed_the_missing_definition_comes_first(shop, message):
    removal, recent = add_removal_and_a_cart_change(shop)
    found = run(shop, message)
    assert [s.sha for s in found.suspects] == [removal, recent]
    assert "removed rate, which the error says is missing" in found.suspects[0].reasons


def test_the_commit_that_created_the_class_lacking_the_name_comes_first(shop):
    # A new class (in a file off the stack) that callers use like the old one, but that lacks
    # what they call: its creation explains the crash; the newer edit on the stack does not.
    flat = [*PRICING, "", "", "class FlatPricing:", "    def base(self):", "        return 5"]
    creation = shop.commit({"src/shop/pricing.py": lines(*flat)}, "flat pricing", author=ADA,
                           date="2026-01-01T00:00:00Z")
    described = edit(CART, 10, "    return ', '.join(map(str, items))")
    recent = shop.commit({"src/shop/cart.py": described}, "describe items", author=GRACE,
                         date="2026-02-27T00:00:00Z")
    found = run(shop, "AttributeError 'FlatPricing' object has no attribute 'rate'")
    assert [s.sha for s in found.suspects] == [creation, recent]
    assert "created FlatPricing, which the error says lacks an attribute" \
        in found.suspects[0].reasons
    # Without the error naming the class, the creation is no suspect: it changed no stack file.
    assert creation not in {s.sha for s in run(shop, "KeyError 'rate'").suspects}


def test_a_missing_value_does_not_point_at_the_removal(shop):
    removal, recent = add_removal_and_a_cart_change(shop)
    found = run(shop, "AttributeError 'NoneType' object has no attribute 'rate'")
    assert [s.sha for s in found.suspects] == [recent]
    assert removal not in {s.sha for s in found.suspects}


def test_moving_the_definition_within_its_file_is_not_a_removal(shop):
    moved = PRICING[:4] + PRICING[7:] + ["", "    def rate(self):", "        return 0.2"]
    mover = shop.commit({"src/shop/pricing.py": lines(*moved)}, "reorder", author=ADA,
                        date="2026-01-01T00:00:00Z")
    found = run(shop, "AttributeError 'Pricing' object has no attribute 'rate'")
    assert mover not in {s.sha for s in found.suspects}


def test_grep_gives_the_files_and_lines_that_match(shop):
    repo = GitRepository(shop.path)
    assert repo.grep("HEAD", ["class Pricing", "type Pricing struct"]) == [
        ("src/shop/pricing.py", 4, "class Pricing:")]
    assert repo.grep("HEAD", ["Pricing()", "return 10"]) == [
        ("src/shop/cart.py", 5, "    pricing = Pricing()"),
        ("src/shop/pricing.py", 9, "        return 10")]
    assert repo.grep("HEAD", ["no such text anywhere"]) == []


@pytest.mark.parametrize(("line", "expected"), [
    ("class Pricing:", True), ("class Pricing(Base):", True), ("    class Pricing:", True),
    ("export default class Pricing extends Base {", True), ("type Pricing struct {", True),
    ("class PricingRule:", False), ("# class Pricing is gone", False),
])
def test_which_lines_define_a_class(line, expected):
    assert defines_class("Pricing", line) is expected


def test_a_rename_that_left_a_caller_behind_is_not_cosmetic(shop):
    calling = [*CART[:5], "    return sum(items) * rate()", *CART[6:]]
    helpers = [*calling, "", "", "def rate():", "    return 0.2", "", "", "def show():",
               "    return rate()"]
    shop.commit({"src/shop/cart.py": lines(*helpers)}, "helpers", date="2022-02-01T00:00:00Z")
    # Renamed where it is defined and in one caller: the crashing line still says `rate()`.
    renamed = [*helpers[:12], "def tax_rate():", *helpers[13:17], "    return tax_rate()"]
    rename = shop.commit({"src/shop/cart.py": lines(*renamed)}, "rename rate", author=ADA,
                         date="2026-01-01T00:00:00Z")
    described = [*renamed[:9], "    return ', '.join(map(str, items))", *renamed[10:]]
    recent = shop.commit({"src/shop/cart.py": lines(*described)}, "describe items",
                         author=GRACE, date="2026-02-27T00:00:00Z")
    found = run(shop, "NameError name 'rate' is not defined")
    assert [s.sha for s in found.suspects] == [rename, recent]
    assert "removed rate, which the error says is missing" in found.suspects[0].reasons
    assert not any("only reworded" in reason for reason in found.suspects[0].reasons)


def test_the_error_words_come_from_the_head_of_a_huge_message():
    head = "KeyError coupon_code "
    words = error_identifiers(head + "x" * MESSAGE_HEAD + " discounts", [])
    assert "coupon_code" in words
    assert "discounts" not in words
