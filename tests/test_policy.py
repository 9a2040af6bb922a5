"""The triage policy: every rule's yes and no, each with the sentence it records."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from worker.models import Cluster, ClusterStatus, ErrorEvent, ExceptionInfo, Source
from worker.policy import triage
from worker.settings import ServiceSettings
from worker.stage_settings import PolicySettings

NOW = datetime(2025, 6, 27, 6, 0, tzinfo=UTC)
SHOP = ServiceSettings(name="shop", sentry_project="shop", repository="/srv/shop",
                       slug="acme/shop")


def cluster(**changes) -> Cluster:
    values = {"id": 1, "fingerprint": "f" * 32, "title": "ZeroDivisionError: division by zero",
              "exception_type": "ZeroDivisionError", "project": "shop", "first_seen": NOW,
              "last_seen": NOW}
    return Cluster(**{**values, **changes})


def event(level: str = "error") -> ErrorEvent:
    return ErrorEvent(source=Source.SENTRY, event_id="e1", level=level, timestamp=NOW,
                      exceptions=[ExceptionInfo(type="ZeroDivisionError")])


def test_an_open_error_of_a_known_service_passes_and_says_so():
    decision = triage(cluster(), event(), SHOP, PolicySettings())

    assert decision.allowed
    assert decision.reason == "ZeroDivisionError in service shop passes the triage policy"


def test_without_a_service_the_reason_names_the_project():
    decision = triage(cluster(exception_type=""), event(), None,
                      PolicySettings(require_service=False))

    assert decision.allowed
    assert decision.reason == "error in project shop passes the triage policy"


def test_an_ignored_cluster_is_denied():
    decision = triage(cluster(status=ClusterStatus.IGNORED), event(), SHOP, PolicySettings())

    assert not decision.allowed
    assert decision.reason == "the cluster is ignored"


@pytest.mark.parametrize("status", [ClusterStatus.OPEN, ClusterStatus.RESOLVED])
def test_a_cluster_that_is_not_ignored_passes_the_status_rule(status):
    assert triage(cluster(status=status), event(), SHOP, PolicySettings()).allowed


def test_a_level_outside_the_policy_is_denied_with_the_allowed_levels():
    decision = triage(cluster(), event("warning"), SHOP, PolicySettings())

    assert not decision.allowed
    assert decision.reason == ("level 'warning' is not one of the policy's levels "
                               "(error, fatal, critical)")


def test_levels_are_a_set_not_a_threshold():
    # With only warnings wanted, a fatal error is outside the policy, and not "below" it.
    decision = triage(cluster(), event("fatal"), SHOP, PolicySettings(levels=["warning"]))

    assert not decision.allowed
    assert "below" not in decision.reason and "'fatal'" in decision.reason


@pytest.mark.parametrize("level", ["error", "FATAL", "Critical"])
def test_allowed_levels_match_without_regard_to_case(level):
    assert triage(cluster(), event(level), SHOP, PolicySettings()).allowed


def test_a_cluster_without_events_counts_as_an_error():
    assert triage(cluster(), None, SHOP, PolicySettings()).allowed
    denied = triage(cluster(), None, SHOP, PolicySettings(levels=["fatal"]))
    assert denied.reason == "level 'error' is not one of the policy's levels (fatal)"


def test_an_ignored_exception_type_is_denied():
    policy = PolicySettings(ignore_types=["ZeroDivisionError"])

    decision = triage(cluster(), event(), SHOP, policy)

    assert not decision.allowed
    assert decision.reason == "ZeroDivisionError is on the ignore list"


def test_the_ignore_list_does_not_match_other_types():
    policy = PolicySettings(ignore_types=["KeyboardInterrupt"])

    assert triage(cluster(), event(), SHOP, policy).allowed
    assert triage(cluster(exception_type=""), event(), SHOP, policy).allowed


def test_an_unmapped_project_is_denied_when_a_service_is_required():
    policy = PolicySettings(require_service=True)

    decision = triage(cluster(project="mystery"), event(), None, policy)

    assert not decision.allowed
    assert decision.reason == ("no configured service maps project 'mystery' to a repository "
                               "(policy.require_service)")


def test_an_unmapped_project_without_a_name_is_called_unknown():
    decision = triage(cluster(project=""), event(), None, PolicySettings(require_service=True))

    assert decision.reason == ("no configured service maps project 'unknown' to a repository "
                               "(policy.require_service)")


def test_a_known_service_passes_when_a_service_is_required():
    assert triage(cluster(), event(), SHOP, PolicySettings(require_service=True)).allowed


def test_the_first_failing_rule_gives_the_reason():
    policy = PolicySettings(levels=["fatal"], ignore_types=["ZeroDivisionError"],
                            require_service=True)

    decision = triage(cluster(status=ClusterStatus.IGNORED), event(), None, policy)

    assert decision.reason == "the cluster is ignored"
    assert triage(cluster(), event(), None, policy).reason.startswith("level 'error'")


def test_the_default_policy_denies_an_unmapped_project():
    decision = triage(cluster(project="mystery"), event(), None, PolicySettings())

    assert not decision.allowed and "project 'mystery'" in decision.reason


def monitor_test(**changes) -> ErrorEvent:
    return ErrorEvent(source=Source.DATADOG, event_id="m1", timestamp=NOW,
                      title="[Triggered] [TEST] Host Cluster Alert", test_notification=True,
                      **changes)


def test_a_test_notification_is_denied_by_default_with_the_setting_named():
    decision = triage(cluster(), monitor_test(), SHOP, PolicySettings())

    assert not decision.allowed
    assert decision.reason == ("a datadog test notification, not an error "
                               "(policy.skip_test_notifications)")


def test_the_policy_can_let_test_notifications_through():
    assert triage(cluster(), monitor_test(), SHOP,
                  PolicySettings(skip_test_notifications=False)).allowed


def test_an_ignored_cluster_is_reported_before_a_test_notification():
    decision = triage(cluster(status=ClusterStatus.IGNORED), monitor_test(), SHOP,
                      PolicySettings())

    assert decision.reason == "the cluster is ignored"
