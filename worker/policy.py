"""Triage policy: pure decisions over a cluster, each returning the reason it gives.

Nothing here touches the store or the network, so every rule is a plain unit test and every
"no" lands in the run's history (and later the weekly digest) as a sentence.
"""

from __future__ import annotations

from worker.models import Cluster, ClusterStatus, Decision, ErrorEvent
from worker.settings import ServiceSettings
from worker.stage_settings import PolicySettings


def triage(cluster: Cluster, event: ErrorEvent | None, service: ServiceSettings | None,
           policy: PolicySettings) -> Decision:
    """Whether suture should act on this cluster now, and why."""
    for rule in (_status, _test, _level, _type, _service):
        decision = rule(cluster, event, service, policy)
        if not decision.allowed:
            return decision
    owner = f"service {service.name}" if service else f"project {cluster.project or 'unknown'}"
    return Decision(allowed=True, reason=f"{cluster.exception_type or 'error'} in {owner} "
                                         f"passes the triage policy")


def _status(cluster: Cluster, _event: ErrorEvent | None, _service: ServiceSettings | None,
            _policy: PolicySettings) -> Decision:
    if cluster.status == ClusterStatus.IGNORED:
        return Decision(allowed=False, reason="the cluster is ignored")
    return Decision(allowed=True, reason="cluster is open")


def _test(_cluster: Cluster, event: ErrorEvent | None, _service: ServiceSettings | None,
          policy: PolicySettings) -> Decision:
    if event is not None and event.test_notification and policy.skip_test_notifications:
        return Decision(allowed=False, reason=f"a {event.source.value} test notification, not an "
                                              "error (policy.skip_test_notifications)")
    return Decision(allowed=True, reason="not a test notification")


def _level(_cluster: Cluster, event: ErrorEvent | None, _service: ServiceSettings | None,
           policy: PolicySettings) -> Decision:
    level = (event.level if event else "error").lower()
    if level not in {allowed.lower() for allowed in policy.levels}:
        # Not "below": the allowed levels are a set, not a threshold.
        return Decision(allowed=False, reason=f"level {level!r} is not one of the policy's "
                                              f"levels ({', '.join(policy.levels)})")
    return Decision(allowed=True, reason=f"level {level} is allowed")


def _type(cluster: Cluster, _event: ErrorEvent | None, _service: ServiceSettings | None,
          policy: PolicySettings) -> Decision:
    if cluster.exception_type and cluster.exception_type in policy.ignore_types:
        return Decision(allowed=False, reason=f"{cluster.exception_type} is on the ignore list")
    return Decision(allowed=True, reason="type not ignored")


def _service(cluster: Cluster, _event: ErrorEvent | None, service: ServiceSettings | None,
             policy: PolicySettings) -> Decision:
    if service is None and policy.require_service:
        return Decision(allowed=False, reason=f"no configured service maps project "
                                              f"{cluster.project or 'unknown'!r} to a repository "
                                              "(policy.require_service)")
    return Decision(allowed=True, reason="service known or not required")
