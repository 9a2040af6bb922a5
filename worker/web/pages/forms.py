"""Reading the review pages' form posts: URL-encoded, small, one value per field.

The forms hold a token, a name, a short note; anything larger, of another type, or garbled is
refused with a 4xx saying so, before any field is looked at.
"""

from __future__ import annotations

from urllib.parse import parse_qs

from starlette.requests import Request

from worker.web.pages.render import PageRefusal

MAX_FORM_BYTES = 8192
MAX_FIELDS = 16
FORM_TYPE = "application/x-www-form-urlencoded"


async def read_form(request: Request) -> dict[str, str]:
    """The posted form's fields (the first value of each); PageRefusal when it is not one."""
    kind = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if kind != FORM_TYPE:
        raise PageRefusal(415, f"a form post must be sent as {FORM_TYPE}")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_FORM_BYTES:
        raise PageRefusal(413, f"the form is larger than {MAX_FORM_BYTES} bytes")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise PageRefusal(413, f"the form is larger than {MAX_FORM_BYTES} bytes")
    try:
        fields = parse_qs(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False,
                          errors="strict", max_num_fields=MAX_FIELDS)
    except UnicodeDecodeError:
        raise PageRefusal(400, "the form is not UTF-8") from None
    except ValueError as exc:  # more fields than allowed
        raise PageRefusal(400, f"the form is not one suture sent: {exc}") from None
    return {name: values[0] for name, values in fields.items() if values}

