"""The email notifier: `worker.notify.render_for_email`'s message sent with stdlib `smtplib`.

One connection per notice: EHLO, STARTTLS when configured (a server that does not offer it is
refused, never silently used in the clear), login when a username is set, then the message.
SMTP's reply codes decide the error: a 4xx reply (greylisting, a full queue) and a failed or
dropped connection are transient; a 5xx reply (a refused sender or recipient, bad credentials)
is permanent, as is a certificate that does not verify. The Message-ID comes from the notice's
key, so a send retried after a crash can be recognised by the receiving side.
"""

from __future__ import annotations

import logging
import smtplib
import ssl

from worker.egress import Channel, outbound
from worker.notify import Notice, render_for_email
from worker.ports import PermanentError, SutureError, TransientError

log = logging.getLogger(__name__)


class SmtpEmail:
    """Emails notices to a fixed list of recipients through one SMTP server."""

    name = "email"

    def __init__(self, host: str, port: int, sender: str, recipients: list[str], *,
                 username: str | None = None, password: str | None = None,
                 starttls: bool = True, timeout: float = 10.0) -> None:
        self.host = host
        self.port = port
        self.sender = sender
        self.recipients = list(recipients)
        self._username = username
        self._password = password
        self._starttls = starttls
        self._timeout = timeout

    def send(self, notice: Notice) -> str:
        """Send `notice` to every recipient; returns the message's Message-ID."""
        # Owner addresses stay: the renderer names owners by their local part only.
        notice = notice.model_copy(update={
            "title": outbound(notice.title, Channel.EMAIL),
            "text": outbound(notice.text, Channel.EMAIL),
            "html": None if notice.html is None else outbound(notice.html, Channel.EMAIL)})
        message = render_for_email(notice, sender=self.sender, recipients=self.recipients)
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self._timeout) as smtp:
                smtp.ehlo()
                if self._starttls:
                    smtp.starttls(context=ssl.create_default_context())
                    smtp.ehlo()
                if self._username:
                    smtp.login(self._username, self._password or "")
                refused = smtp.send_message(message, self.sender, self.recipients)
        except OSError as exc:  # smtplib's and ssl's errors are all OSErrors
            raise smtp_error(exc) from None
        if refused:  # some recipients took it; the rest are named by the server's log
            log.warning("email notice %s refused by %d of %d recipients", notice.key,
                        len(refused), len(self.recipients))
        return str(message["Message-ID"])


def smtp_error(exc: OSError) -> SutureError:
    """The error for a failed exchange."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = sorted({code for code, _ in exc.recipients.values()})
        text = f"SMTP server refused every recipient ({', '.join(map(str, codes))})"
        return TransientError(text) if any(400 <= c < 500 for c in codes) else PermanentError(text)
    if isinstance(exc, smtplib.SMTPResponseException):
        reply = exc.smtp_error.decode("utf-8", "replace") if isinstance(
            exc.smtp_error, bytes) else str(exc.smtp_error)
        text = f"SMTP server answered {exc.smtp_code}: {reply[:200]}"
        return PermanentError(text) if 500 <= exc.smtp_code < 600 else TransientError(text)
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return PermanentError(f"SMTP server does not support what is configured: {exc}")
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return TransientError("SMTP server closed the connection")
    if isinstance(exc, smtplib.SMTPException):
        return PermanentError(f"SMTP exchange failed: {exc}")
    if isinstance(exc, ssl.SSLCertVerificationError):
        return PermanentError(f"SMTP server's certificate does not verify: {exc.verify_message}")
    # refused, unreachable, timed out, TLS dropped
    return TransientError(f"SMTP server unreachable ({type(exc).__name__})")
