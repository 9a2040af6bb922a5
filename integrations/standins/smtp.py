"""A small SMTP server on 127.0.0.1 (RFC 5321's commands, stdlib only) that keeps what it is sent.

It speaks enough SMTP for `smtplib`: the greeting, EHLO/HELO, `AUTH PLAIN` (offered only when a
username is set, and then required before MAIL), MAIL, RCPT, DATA with dot-unstuffing, RSET,
NOOP and QUIT. It never offers STARTTLS, so a client that insists on it is refused the way a
server without TLS refuses it. `fail_next(command, code, text)` answers the next use of a
command (`"MAIL"`, `"RCPT"`, `"DATA"`, `"AUTH"`, or `"CONNECT"` for the greeting) with that reply,
e.g. `451 4.3.0 try later` or `550 5.1.1 no such user`. `messages()` returns each accepted message
parsed, with its envelope.
"""

from __future__ import annotations

import base64
import socketserver
import threading
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import cast


@dataclass
class Received:
    """One accepted message: the envelope and the parsed message."""

    mail_from: str
    rcpt_to: list[str]
    message: EmailMessage
    authenticated_as: str | None = None


@dataclass
class _Session:
    mail_from: str | None = None
    rcpt_to: list[str] = field(default_factory=list)
    user: str | None = None


class SmtpStandIn:
    """An SMTP server in a daemon thread; `host` and `port` are where it listens."""

    def __init__(self, username: str | None = None, password: str | None = None) -> None:
        self.username = username
        self.password = password
        self._received: list[Received] = []
        self._faults: dict[str, list[str]] = {}
        self._lock = threading.Lock()
        standin = self

        class _Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                standin._converse(self)

        self._server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def host(self) -> str:
        """The address it listens on."""
        return str(self._server.server_address[0])

    @property
    def port(self) -> int:
        """The port it listens on."""
        return int(self._server.server_address[1])

    def start(self) -> SmtpStandIn:
        """Serve in a daemon thread; returns self."""
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
        self._server.server_close()

    def __enter__(self) -> SmtpStandIn:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def fail_next(self, command: str, code: int, text: str, times: int = 1) -> None:
        """Answer the next `times` uses of `command` with `code text` instead of handling it."""
        with self._lock:
            self._faults.setdefault(command.upper(), []).extend([f"{code} {text}"] * times)

    def messages(self) -> list[Received]:
        """Accepted messages, oldest first."""
        with self._lock:
            return list(self._received)

    def _fault(self, command: str) -> str | None:
        with self._lock:
            queue = self._faults.get(command)
            return queue.pop(0) if queue else None

    def _converse(self, conn: socketserver.StreamRequestHandler) -> None:
        def reply(line: str) -> None:
            conn.wfile.write(line.encode() + b"\r\n")
            conn.wfile.flush()

        fault = self._fault("CONNECT")
        if fault:
            reply(fault)
            return
        reply("220 standin.local ESMTP suture stand-in")
        session = _Session()
        while line := conn.rfile.readline(65536):
            verb, _, arg = line.decode("utf-8", "replace").rstrip("\r\n").partition(" ")
            verb = verb.upper()
            fault = self._fault(verb)
            if fault:
                reply(fault)
            elif verb == "QUIT":
                reply("221 2.0.0 bye")
                return
            elif verb == "DATA" and session.mail_from is not None and session.rcpt_to:
                reply("354 end data with <CR><LF>.<CR><LF>")
                self._accept(session, _read_data(conn))
                session = _Session(user=session.user)
                reply("250 2.0.0 queued")
            else:
                reply(self._command(session, verb, arg))

    def _command(self, session: _Session, verb: str, arg: str) -> str:
        if verb == "EHLO":
            auth = ["250-AUTH PLAIN"] if self.username else []
            return "\r\n".join(["250-standin.local", *auth, "250 8BITMIME"])
        if verb == "HELO":
            return "250 standin.local"
        if verb == "AUTH":
            return self._auth(session, arg)
        if verb == "MAIL":
            if self.username and session.user is None:
                return "530 5.7.0 authentication required"
            session.mail_from, session.rcpt_to = _address(arg), []
            return "250 2.1.0 ok"
        if verb == "RCPT":
            if session.mail_from is None:
                return "503 5.5.1 need MAIL first"
            session.rcpt_to.append(_address(arg))
            return "250 2.1.5 ok"
        if verb == "DATA":
            return "503 5.5.1 need MAIL and RCPT first"
        if verb == "RSET":
            session.mail_from, session.rcpt_to = None, []
            return "250 2.0.0 ok"
        if verb == "NOOP":
            return "250 2.0.0 ok"
        return "502 5.5.2 command not implemented"

    def _auth(self, session: _Session, arg: str) -> str:
        mechanism, _, initial = arg.partition(" ")
        if not self.username or mechanism.upper() != "PLAIN" or not initial:
            return "504 5.5.4 unrecognised authentication type"
        try:
            _, user, password = base64.b64decode(initial).decode().split("\0")
        except ValueError:
            return "501 5.5.2 cannot decode"
        if (user, password) != (self.username, self.password):
            return "535 5.7.8 authentication credentials invalid"
        session.user = user
        return "235 2.7.0 authentication successful"

    def _accept(self, session: _Session, data: bytes) -> None:
        message = cast(EmailMessage, BytesParser(policy=policy.default).parsebytes(data))
        with self._lock:
            self._received.append(Received(session.mail_from or "", list(session.rcpt_to),
                                           message, session.user))


def _address(arg: str) -> str:
    """`FROM:<a@b>` or `TO:<a@b> SIZE=…` → `a@b`."""
    return arg.partition(":")[2].strip().split(" ")[0].strip("<>")


def _read_data(conn: socketserver.StreamRequestHandler) -> bytes:
    lines: list[bytes] = []
    while line := conn.rfile.readline(1 << 20):
        if line in (b".\r\n", b".\n"):
            break
        lines.append(line[1:] if line.startswith(b"..") else line)
    return b"".join(lines)
