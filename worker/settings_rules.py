"""Settings that contradict each other, refused at start (a model validator on `Settings`).

Each rule names both keys, the values it saw and what to change. They are about time: a
publication lease must outlast whatever a worker may still have in flight, and the reconciler
must not call a run stuck while a worker may legitimately still hold its lease.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from worker.settings import Settings


def contradictions(settings: Settings) -> list[str]:
    """What contradicts what in `settings`, one sentence each; empty when they agree."""
    found: list[str] = []
    lease = settings.publish_lease_seconds
    if settings.stuck_after_seconds < lease:
        found.append(
            f"stuck_after_seconds ({settings.stuck_after_seconds}) is below "
            f"publish_lease_seconds ({lease:g}): the reconciler would call a run stuck while a "
            f"worker may still hold its publication lease; set SUTURE_STUCK_AFTER_SECONDS to at "
            f"least {lease:g} or lower SUTURE_PUBLISH_LEASE_SECONDS")
    notify = settings.notify
    notifying = bool(notify.slack_webhook_url or notify.slack_bot_token or notify.smtp_host)
    if notifying and notify.timeout_seconds >= lease:
        found.append(
            f"notify.timeout_seconds ({settings.notify.timeout_seconds:g}) is not below "
            f"publish_lease_seconds ({lease:g}): a notice still in flight when its lease runs "
            f"out could be sent twice; lower SUTURE_NOTIFY__TIMEOUT_SECONDS or raise the lease")
    stage_seconds = _agent_stage_seconds()
    if settings.env.setup_seconds >= stage_seconds:
        found.append(
            f"env.setup_seconds ({settings.env.setup_seconds:g}) is not below the {stage_seconds} "
            f"s an agent-queue stage may run: the fix stage would be stopped before its "
            f"repository's environment is built; lower SUTURE_ENV__SETUP_SECONDS")
    found.extend(_broker_contradictions(settings))
    return found


def _broker_contradictions(settings: Settings) -> list[str]:
    """An unknown broker scheme, or Redis-only tuning given for RabbitMQ where it would be
    silently ignored."""
    from worker.brokers import broker_kind

    try:
        kind = broker_kind(settings.broker_url)
    except ValueError as exc:
        return [f"{exc} (SUTURE_BROKER_URL)"]
    if kind == "rabbitmq" and settings.broker.namespace != "suture":
        return [f"broker.namespace ({settings.broker.namespace}) is Redis-only: on RabbitMQ "
                f"separate deployments by virtual host instead, e.g. amqp://host:5672/<vhost> "
                f"in SUTURE_BROKER_URL, and unset SUTURE_BROKER__NAMESPACE"]
    return []


def _agent_stage_seconds() -> int:
    # Imported here: the stages import the settings, so a module-level import would be a cycle.
    from worker.stages.deps import AGENT_STAGE_SECONDS
    return AGENT_STAGE_SECONDS
