"""Request limits of the API, and its errors in JSON wherever they come from.

The limits (settings; README "API", "Request limits"):

- **Body size.** An API body (paths under `/api/`) may be `API_MAX_BODY_MB` MiB: the documented
  50,000-row actuals write with Japanese comments is 8-11 MB of JSON (README). Above it the API
  answers 413 in its error format: at once when `Content-Length` says so (`ApiLimitsMiddleware`,
  nothing read), and when a body without a true `Content-Length` turns out larger while it is
  read (Django raises RequestDataTooBig at DATA_UPLOAD_MAX_MEMORY_SIZE, which the settings set
  to the API's limit: `kpi_planner.api.exception_handler` in a view, `bad_request` elsewhere).
  A page's form keeps Django's 2.5 MB (`FORM_MAX_BODY_BYTES`; file uploads are not counted),
  refused with Django's 400 page as before.
- **Rows.** A bulk call takes at most `API_MAX_ROWS` rows (`check_row_count`): 413, nothing
  written.
- **Depth.** JSON nested deeper than `API_JSON_MAX_DEPTH` is refused with a 400 before it is
  parsed (`JSONParser`, DRF's parser for every API view), as is JSON that does not parse: no
  body can reach Python's recursion limit in the parser or in the code that walks the data.

Errors: DRF's views answer through `kpi_planner.api.exception_handler` (500 included). What
Django itself answers under `/api/` (a URL that matches nothing, an error page of a middleware,
the debug pages) is rewritten into the same format by `ApiLimitsMiddleware`; pages keep their
HTML error pages.

It sits below `kpi_planner.api` (DRF loads the parser while it loads its views) and imports no
app.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import numpy as np
from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import defaults
from rest_framework import exceptions, parsers
from rest_framework.response import Response
from rest_framework.utils.json import strict_constant

from kpi_planner import numbers
from kpi_planner.errors import Problem

API_PREFIX = "/api/"
MIB = 1024 * 1024

INTERNAL_ERROR_MESSAGE = gettext_lazy(
    "Internal error: it has been logged. Try again later; if it persists, tell the administrators."
)


def body_too_large_message() -> str:
    return _(
        "The request body is larger than the API accepts (%(limit)s MB); send the rows in "
        "several calls."
    ) % {"limit": settings.API_MAX_BODY_MB}


def error_body(message: str) -> dict[str, list[dict]]:
    """The API's error format (API.md "Errors") with one problem about the whole request."""
    return {"errors": [Problem(str(message)).as_dict()]}


def json_error(message: str, status_code: int) -> JsonResponse:
    """The error format outside DRF's views (this middleware, Django's error handlers)."""
    return JsonResponse(
        error_body(message), status=status_code, json_dumps_params={"ensure_ascii": False}
    )


def is_api(request: HttpRequest) -> bool:
    return request.path.startswith(API_PREFIX)


def api_max_body_bytes() -> int:
    return settings.API_MAX_BODY_MB * MIB


def _content_length(request: HttpRequest) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:  # Django reads such a body as empty
        return 0


# -- JSON depth ---------------------------------------------------------------------------------

_QUOTE = ord('"')
_OPEN = ord("(")
_BRACKETS_AS_PARENS = bytes.maketrans(b"[{]}", b"(())")
_NOT_BRACKETS = bytes(c for c in range(256) if c not in b"[]{}")
_CHUNK = 1 << 20


def nesting_exceeds(raw: bytes, limit: int) -> bool:
    """Whether the UTF-8 JSON `raw` nests arrays and objects more than `limit` deep (`[]` is 1).

    Without parsing (the parser and the code after it recurse), in C and numpy passes that take
    a fraction of json.loads' time: escaped backslashes and quotes are dropped, the bytes
    between quotes (strings may hold brackets) are masked out, and the depth is the running sum
    of the remaining brackets (+1 opening, -1 closing), a chunk at a time so memory stays small.
    UTF-8 never has these bytes inside a multi-byte character. Bytes that are not JSON get an
    answer too; the parser refuses them afterwards."""
    plain = raw.replace(b"\\\\", b"").replace(b'\\"', b"")
    codes = np.frombuffer(plain, dtype=np.uint8)
    inside = np.bitwise_xor.accumulate(codes == _QUOTE)  # True from an opening quote on
    brackets = np.frombuffer(
        codes[~inside].tobytes().translate(_BRACKETS_AS_PARENS, _NOT_BRACKETS), dtype=np.uint8
    )
    depth = 0
    for start in range(0, brackets.size, _CHUNK):
        running = np.cumsum(np.where(brackets[start : start + _CHUNK] == _OPEN, 1, -1)) + depth
        if running.max() > limit:
            return True
        depth = int(running[-1])
    return False


def too_deep_message() -> str:
    return _("The JSON body nests more than %(limit)d levels deep.") % {
        "limit": settings.API_JSON_MAX_DEPTH
    }


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser with a depth limit and the API's messages (DEFAULT_PARSER_CLASSES).

    DRF hands a JSON parser the body read by Django (request.body), so the body limit has been
    applied. Refusals are ParseError: 400 in the error format. NaN and Infinity are refused, as
    by DRF's parser (STRICT_JSON)."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        raw = stream.read() if stream is not None else b""
        try:
            text = raw.decode(encoding)
        except (UnicodeDecodeError, LookupError):
            raise exceptions.ParseError(
                _("The body is not valid %(encoding)s text.") % {"encoding": encoding}
            ) from None
        utf8 = raw if encoding.lower().replace("_", "-") in ("utf-8", "utf8") else text.encode()
        if nesting_exceeds(utf8, settings.API_JSON_MAX_DEPTH):
            raise exceptions.ParseError(too_deep_message())
        try:
            return json.loads(text, parse_constant=strict_constant)
        except RecursionError:  # not reachable after the depth check; never a 500 anyway
            raise exceptions.ParseError(too_deep_message()) from None
        except ValueError as exc:
            raise exceptions.ParseError(
                _("The body is not valid JSON: %(error)s.") % {"error": exc}
            ) from None


# -- rows per call ------------------------------------------------------------------------------


class TooManyRows(exceptions.APIException):
    status_code = 413
    default_code = "too_many_rows"


def check_row_count(rows: Any) -> None:
    """A bulk call's list may hold API_MAX_ROWS rows: TooManyRows (413, nothing written)."""
    limit = settings.API_MAX_ROWS
    if isinstance(rows, list) and len(rows) > limit:
        raise TooManyRows(
            _(
                "A call may send at most %(limit)s rows; this one has %(count)s. "
                "Send them in several calls."
            )
            % {"limit": numbers.number(limit), "count": numbers.number(len(rows))}
        )


# -- Django's own errors under /api/ ------------------------------------------------------------


def _message_for(status: int) -> str:
    if status >= 500:
        return str(INTERNAL_ERROR_MESSAGE)
    messages = {
        400: _("The request could not be read."),
        403: str(exceptions.PermissionDenied.default_detail),
        404: str(exceptions.NotFound.default_detail),
        413: body_too_large_message(),
    }
    return messages.get(status) or _("The request failed (HTTP %(status)d).") % {"status": status}


def as_api_error(response: HttpResponse) -> HttpResponse:
    """An error page Django (not DRF) answered under /api/, rewritten in the error format.

    The response is changed in place, so that what Django noted on it (e.g. that it has been
    logged) stays; DRF's responses and streams are left alone (DRF renders its own errors: JSON,
    or HTML for a browser on the browsable API)."""
    if (
        response.status_code < 400
        or isinstance(response, Response)
        or response.streaming
        or response.get("Content-Type", "").startswith("application/json")
    ):
        return response
    response.content = json.dumps(
        error_body(_message_for(response.status_code)), ensure_ascii=False
    )
    response["Content-Type"] = "application/json"
    if response.has_header("Content-Length"):
        response["Content-Length"] = str(len(response.content))
    return response


class ApiLimitsMiddleware:
    """The body limits before anything reads a body, and JSON errors under /api/."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        length = _content_length(request)
        if is_api(request):
            if length > api_max_body_bytes():
                return json_error(body_too_large_message(), 413)
            return as_api_error(self.get_response(request))
        content_type = request.META.get("CONTENT_TYPE", "")
        if length > settings.FORM_MAX_BODY_BYTES and not content_type.startswith("multipart/"):
            # A page's form: Django's own refusal (its 400 page), at Django's default size.
            raise RequestDataTooBig("Request body exceeded settings.FORM_MAX_BODY_BYTES.")
        return self.get_response(request)


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    """handler400: under /api/, a body found too large while read (no true Content-Length) is
    413 and any other 400 is in the error format; pages get Django's page."""
    if is_api(request):
        if isinstance(exception, RequestDataTooBig):
            return json_error(body_too_large_message(), 413)
        return json_error(_message_for(400), 400)
    return defaults.bad_request(request, exception)
