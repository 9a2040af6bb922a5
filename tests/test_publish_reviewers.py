"""Who a pull request asks to review: the owners, then the author of the commit bisection blamed."""

from __future__ import annotations

from worker.correlate.models import Correlation, Owner, Suspect
from worker.runs import FixOutcome, RunRecord
from worker.stages.publish import reviewer_logins
from worker.verify.bisection import Bisection

CULPRIT, OTHER = "c" * 40, "d" * 40


def record(owners: list[Owner], suspects: list[Suspect], culprit: str | None) -> RunRecord:
    bisection = Bisection(culprit=culprit, reason="found") if culprit else None
    return RunRecord(correlation=Correlation(release="r", owners=owners, suspects=suspects),
                     fix=FixOutcome(bisection=bisection))


def owner(login: str | None, name: str = "someone") -> Owner:
    return Owner(name=name, login=login, source="blame", reason="last changed the line")


def suspect(sha: str, login: str | None) -> Suspect:
    return Suspect(sha=sha, score=1.0, confidence=0.5, login=login)


def test_owners_come_first_then_the_culprit_s_author_once():
    made = record([owner("grace"), owner(None), owner("ada")],
                  [suspect(OTHER, "alan"), suspect(CULPRIT, "grace"), suspect(CULPRIT, "robin")],
                  CULPRIT)
    assert reviewer_logins(made) == ["grace", "ada", "robin"]


def test_an_old_crashing_line_with_no_owner_still_gets_the_culprit_s_author():
    made = record([], [suspect(CULPRIT, "robin")], CULPRIT)
    assert reviewer_logins(made) == ["robin"]


def test_suspects_are_not_reviewers_without_a_bisection_naming_them():
    assert reviewer_logins(record([owner("ada")], [suspect(CULPRIT, "robin")], None)) == ["ada"]
    assert reviewer_logins(record([], [suspect(OTHER, "robin")], CULPRIT)) == []


def test_a_culprit_without_a_known_login_adds_nobody():
    assert reviewer_logins(record([], [suspect(CULPRIT, None)], CULPRIT)) == []
    assert reviewer_logins(RunRecord()) == []
