"""Notifiers (`worker.ports.Notifier`): Slack through an incoming webhook or a bot token, and
email through SMTP. `make_notifiers` builds one for each channel the settings configure."""

from __future__ import annotations

from integrations.notify.slack import SlackBot, SlackWebhook
from integrations.notify.smtp import SmtpEmail
from worker.notify_settings import NotifySettings
from worker.ports import Notifier
from worker.settings import Settings

__all__ = ["SlackBot", "SlackWebhook", "SmtpEmail", "make_notifiers"]


def make_notifiers(settings: Settings | NotifySettings) -> list[Notifier]:
    """A notifier per channel `settings.notify` (or the section itself) configures, in the order
    webhook, bot, email; empty when none is."""
    if isinstance(settings, Settings):
        settings = settings.notify
    notifiers: list[Notifier] = []
    if settings.slack_webhook_url is not None:
        notifiers.append(SlackWebhook(settings.slack_webhook_url.get_secret_value(),
                                      settings.slack_users, timeout=settings.timeout_seconds))
    if settings.slack_bot_token is not None and settings.slack_channel:
        notifiers.append(SlackBot(settings.slack_bot_token.get_secret_value(),
                                  settings.slack_channel, settings.slack_users,
                                  base_url=settings.slack_base_url,
                                  timeout=settings.timeout_seconds))
    if settings.smtp_host and settings.smtp_from and settings.smtp_to:
        password = settings.smtp_password
        notifiers.append(SmtpEmail(
            settings.smtp_host, settings.smtp_port, settings.smtp_from, settings.smtp_to,
            username=settings.smtp_username,
            password=password.get_secret_value() if password is not None else None,
            starttls=settings.smtp_starttls, timeout=settings.timeout_seconds))
    return notifiers
