"""A request the web process refuses, and the one shape every refusal is answered in."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from worker.web.refusals import refused


class Rejection(Exception):
    """A request we refuse, with the status, a reason for the sender and any extra headers."""

    def __init__(self, status: int, reason: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.headers = headers or {}


def refusal(status: int, reason: str, headers: dict[str, str] | None = None) -> JSONResponse:
    """`{"error": reason}` with `status`; the reason also in `Sentry-Hook-Error` (Sentry's
    delivery log shows it)."""
    # Headers are latin-1 on the wire: the reason may quote attacker text, so keep it ASCII.
    header = reason[:200].encode("ascii", "backslashreplace").decode("ascii")
    return JSONResponse({"error": reason}, status_code=status,
                        headers={"Sentry-Hook-Error": header, **(headers or {})})


def install_refusals(web: FastAPI) -> None:
    """Answer `Rejection` and the framework's own refusals (405, 404) as `refusal` does."""

    @web.exception_handler(Rejection)
    async def _rejected(request: Request, exc: Rejection) -> JSONResponse:
        refused(request, exc.status, exc.reason)
        return refusal(exc.status, exc.reason, exc.headers)

    @web.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> JSONResponse:
        reason = str(exc.detail)
        if exc.status_code == 405:
            reason = f"method {request.method[:16]} is not allowed here"
        refused(request, exc.status_code, reason)
        return refusal(exc.status_code, reason, dict(exc.headers or {}))
