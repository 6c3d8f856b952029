"""API plumbing shared by every app: the router and the error format (token login and API
tokens: engagements.token_api).

Errors follow API.md: 400 ``{"errors": [{"field", "message", "index"?}]}`` listing every problem;
other statuses carry the same shape with ``field: null``. Views let errors rise (a service's
ServiceError included): `exception_handler` is the one place that writes the error format.
"""

from __future__ import annotations

import copy
import datetime
import hashlib
import math
from typing import TYPE_CHECKING, Any

from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import ProtectedError
from django.http import Http404
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.log import log_response
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import exceptions, serializers
from rest_framework.pagination import CursorPagination
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.response import Response
from rest_framework.routers import DefaultRouter
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback

from kpi_planner.access import can_manage, sees_everything, vendor_scope
from kpi_planner.codes import CODE_PATTERN, code_validator, is_code
from kpi_planner.errors import IN_USE_MESSAGE, ServiceError
from kpi_planner.limits import INTERNAL_ERROR_MESSAGE, body_too_large_message
from kpi_planner.models import Tombstone
from kpi_planner.months import MONTH_PATTERN, month_text, parse_month
from kpi_planner.tombstones import vendor_tombstone_kind


def code_or_404(value: str) -> str:
    """A code from the URL path. Anything else names no object: 404 without asking the database
    (PostgreSQL refuses a NUL character in a query with an error, not an empty result)."""
    if not is_code(value):
        raise Http404
    return value


def code_params(request, *names: str) -> dict[str, str | None]:
    """The query parameters `names` (None when not given), each of which must have the shape of
    a code: 400 listing those that do not. A well-formed code that matches nothing simply
    filters everything out."""
    values = {name: request.query_params.get(name) or None for name in names}
    bad = {name: code_validator.message for name, v in values.items() if v and not is_code(v)}
    if bad:
        raise exceptions.ValidationError(bad)
    return values


def flatten_errors(detail: Any, *, field: str | None = None, index: int | None = None) -> list:
    """Turn DRF's nested error detail into a flat list of {field, message, index?}."""
    out: list[dict] = []
    if isinstance(detail, dict):
        for key, value in detail.items():
            name = None if key in ("non_field_errors", "__all__", "detail") else str(key)
            if field and name:
                name = f"{field}.{name}"
            out.extend(flatten_errors(value, field=name or field, index=index))
    elif isinstance(detail, list):
        nested = any(isinstance(item, dict) for item in detail)
        for i, item in enumerate(detail):
            if nested:
                if item:
                    out.extend(
                        flatten_errors(item, field=field, index=i if index is None else index)
                    )
            else:
                out.extend(flatten_errors(item, field=field, index=index))
    else:
        row: dict[str, Any] = {"field": field, "message": str(detail)}
        if index is not None:
            row["index"] = index
        out.append(row)
    return out


def error_response(errors: list[dict], status_code: int = 400) -> Response:
    return Response({"errors": errors}, status=status_code)


def _unexpected(exc: Exception, context: dict) -> Response:
    """An exception no rule expected: 500 in the error format, logged once with its traceback
    (log_response marks the response, so Django does not log it a second time)."""
    set_rollback()
    response = error_response([{"field": None, "message": str(INTERNAL_ERROR_MESSAGE)}], 500)
    request = context.get("request")
    path = request.path if request is not None else "?"
    log_response(
        "Internal Server Error: %s",
        path,
        response=response,
        request=getattr(request, "_request", request),
        exception=exc,
    )
    return response


def exception_handler(exc: Exception, context: dict) -> Response | None:
    """Every error of the API in the format of API.md "Errors": a service's refusal
    (ServiceError, its status from its problems' codes), DRF's and Django's validation errors,
    404, 403, 401, the 409s of a protected or stale object, 413 for a body over the limit
    (kpi_planner/limits.py) and 500 for anything unexpected (never Django's HTML page)."""
    if isinstance(exc, ServiceError):
        set_rollback()
        return error_response([p.as_dict() for p in exc.problems], exc.status)
    if isinstance(exc, RequestDataTooBig):  # a body without (or with a false) Content-Length
        return error_response([{"field": None, "message": body_too_large_message()}], 413)
    if isinstance(exc, SuspiciousOperation):
        exc = exceptions.ParseError()
    if isinstance(exc, DjangoValidationError):
        detail = exc.message_dict if hasattr(exc, "error_dict") else exc.messages
        exc = exceptions.ValidationError(detail)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    if isinstance(exc, ProtectedError):
        exc = InUse()
    response = drf_exception_handler(exc, context)
    if response is None:
        return _unexpected(exc, context)
    if isinstance(exc, exceptions.ValidationError):
        response.data = {"errors": flatten_errors(exc.detail)}
    elif isinstance(exc, exceptions.Throttled) and getattr(exc, "wait", None) is not None:
        response.data = {"errors": [{"field": None, "message": _throttled_message(exc)}]}
    else:
        detail = (
            response.data.get("detail", response.data)
            if isinstance(response.data, dict)
            else response.data
        )
        response.data = {"errors": [{"field": None, "message": str(detail)}]}
    return response


def _throttled_message(exc: exceptions.Throttled) -> str:
    """The throttle's reason and when to come back, both translated: DRF appends "Expected
    available in N seconds.", which its Japanese catalogue lacks."""
    wait = int(getattr(exc, "wait", 0) or 0)  # set by DRF's __init__ (not in its stubs)
    drf_suffix = ngettext(exc.extra_detail_singular, exc.extra_detail_plural, wait)
    reason = str(exc.detail).removesuffix(" " + drf_suffix.format(wait=wait))
    seconds = max(1, math.ceil(wait))
    return ngettext(
        "%(reason)s Try again in %(seconds)d second.",
        "%(reason)s Try again in %(seconds)d seconds.",
        seconds,
    ) % {"reason": reason, "seconds": seconds}


class CodeCursorPagination(CursorPagination):
    """Lists page with an opaque `next` cursor, in a stable order."""

    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 1000
    ordering = "id"

    def decode_cursor(self, request):
        # DRF checks the offset and direction of a cursor but not its position, which goes
        # straight into `id > position`: a hand-made cursor such as base64("p=abc") would fail
        # there. Positions are ids (BIGINT), so anything else is an invalid cursor (404, as DRF
        # answers for every other malformed cursor).
        cursor = super().decode_cursor(request)
        if cursor is not None and cursor.position is not None:
            try:
                valid = 0 <= int(cursor.position) < 2**63
            except ValueError:
                valid = False
            if not valid:
                raise exceptions.NotFound(self.invalid_cursor_message)
        return cursor


# A deleted object in an `?updated_since=` list (SyncMixin), documented beside the live rows.
TOMBSTONE_SCHEMA = {
    "type": "object",
    "description": "A deleted object (only in lists read with `updated_since`).",
    "properties": {
        "code": {"type": "string", "description": "the code (username) it had"},
        "deleted": {"type": "boolean", "description": "always true"},
        "deleted_at": {"type": "string", "format": "date-time"},
    },
    "required": ["code", "deleted", "deleted_at"],
}


class SyncCursorPagination(CodeCursorPagination):
    """The pagination of SyncMixin lists: its schema shows that a row may be a tombstone."""

    def get_paginated_response_schema(self, schema: dict) -> dict:
        # `schema` is the list's schema (an array of the objects); `results` may also hold
        # tombstones. New dicts: `schema` itself is also the page's `results` (no cycles).
        page = super().get_paginated_response_schema(schema)
        page["properties"]["results"] = {
            "type": "array",
            "items": {"oneOf": [schema["items"], copy.deepcopy(TOMBSTONE_SCHEMA)]},
        }
        return page


def parse_updated_since(request) -> datetime.datetime | None:
    raw = request.query_params.get("updated_since")
    if raw is None:
        return None
    try:
        value = parse_datetime(raw.replace(" ", "+"))
    except ValueError:  # well formed but impossible, e.g. month 13
        value = None
    if value is not None:
        try:
            if timezone.is_naive(value):
                value = timezone.make_aware(value)
            # In UTC: PostgreSQL refuses offsets beyond ±15:59, which ISO-8601 text may carry
            # (e.g. -18:25). An instant outside years 1-9999 in UTC (0001-01-01T00:00:00+09:00)
            # cannot be compared at all.
            value = value.astimezone(datetime.UTC)
        except OverflowError:
            value = None
    if value is None:
        raise exceptions.ValidationError(
            {"updated_since": _("Use an ISO-8601 date-time, e.g. 2026-04-01T00:00:00+09:00.")}
        )
    return value


def code_parameter(name: str) -> OpenApiParameter:
    """A query parameter holding a code, for the schema (see code_params)."""
    return OpenApiParameter(name, str, pattern=CODE_PATTERN)


UPDATED_SINCE = OpenApiParameter(
    "updated_since",
    OpenApiTypes.DATETIME,
    description="Only what changed after this ISO-8601 date-time; deletions come as tombstones "
    '`{"code", "deleted": true, "deleted_at"}` on the last page.',
)


if TYPE_CHECKING:  # what the mixin is mixed into, for the type checker
    from rest_framework.viewsets import ModelViewSet as _SyncBase
else:
    _SyncBase = object


class SyncMixin(_SyncBase):
    """`?updated_since=` for incremental sync (deletions as tombstones on the last page), and an
    ETag on single objects with `If-Match` refusing stale writes with 409.

    Tombstones are scoped like the objects were: callers who see everything read the plain
    `kind`; a caller confined to a vendor reads only the copies `kind@<vendor id>` written for the
    vendors that could see the object, so another vendor's deletions do not leak.

    Writes are the viewset's: its perform_create / perform_update / perform_destroy call the
    app's services, which write the tombstones (kpi_planner.tombstones). perform_update sets
    `self._saved` (the URL may name the old code of an object just renamed); perform_destroy
    calls check_if_match first."""

    tombstone_kind: str = ""

    def tombstone_scope(self) -> str:
        return ""

    def visible_tombstones(self, since: datetime.datetime):
        user = self.request.user
        if sees_everything(user):
            kind = self.tombstone_kind
        elif (vendor := vendor_scope(user)) is not None:
            kind = vendor_tombstone_kind(self.tombstone_kind, vendor)
        else:
            return Tombstone.objects.none()
        return Tombstone.objects.filter(
            kind=kind, scope=self.tombstone_scope(), deleted_at__gt=since
        ).order_by("deleted_at", "id")

    def filter_queryset(self, queryset):
        queryset = super().filter_queryset(queryset)
        since = parse_updated_since(self.request) if self.action == "list" else None
        return queryset.filter(updated_at__gt=since) if since else queryset

    @extend_schema(parameters=[UPDATED_SINCE])
    def list(self, request, *args, **kwargs) -> Response:
        response = super().list(request, *args, **kwargs)
        since = parse_updated_since(request)
        if since and self.tombstone_kind and not response.data.get("next"):
            response.data["results"] += [
                {"code": t.code, "deleted": True, "deleted_at": t.deleted_at.isoformat()}
                for t in self.visible_tombstones(since)
            ]
        return response

    def retrieve(self, request, *args, **kwargs) -> Response:
        response = super().retrieve(request, *args, **kwargs)
        response["ETag"] = etag_of(self.get_object())
        return response

    def update(self, request, *args, **kwargs) -> Response:
        check_if_match(request, self.get_object())
        response = super().update(request, *args, **kwargs)
        # Not get_object(): the URL may name the old code of an object just renamed.
        saved = getattr(self, "_saved", None) or self.get_object()
        response["ETag"] = etag_of(type(saved)._default_manager.get(pk=saved.pk))
        return response


def etag_of(instance) -> str:
    """Changes whenever the object does: its updated_at, or (models without one, e.g. users) the
    values of all its columns."""
    if getattr(instance, "updated_at", None):
        stamp = instance.updated_at.isoformat()
    else:
        stamp = repr([getattr(instance, f.attname) for f in instance._meta.concrete_fields])
    digest = hashlib.sha1(f"{instance.pk}:{stamp}".encode(), usedforsecurity=False).hexdigest()
    return f'"{digest[:20]}"'


class InUse(exceptions.APIException):
    status_code = 409
    default_detail = IN_USE_MESSAGE
    default_code = "in_use"


class PreconditionConflict(exceptions.APIException):
    status_code = 409
    default_detail = _("The object changed since you read it (If-Match is stale); read it again.")
    default_code = "stale"


def check_if_match(request, instance) -> None:
    wanted = request.headers.get("If-Match")
    if (
        wanted
        and wanted.strip() != "*"
        and etag_of(instance) not in [t.strip() for t in wanted.split(",")]
    ):
        raise PreconditionConflict()


class IsManagerOrReadOnly(BasePermission):
    """Reads follow the access scope; writes need the manager role (403 on a visible object).

    Anonymous callers get 401. A write to one object is decided on the object, after the scoped
    lookup: an object the caller cannot see answers 404 (its existence does not leak), a visible
    one it may not change answers 403.
    """

    def has_permission(self, request, view) -> bool:
        if not (request.user and request.user.is_authenticated):
            return False
        if request.method in SAFE_METHODS or can_manage(request.user):
            return True
        lookup = getattr(view, "lookup_url_kwarg", None) or getattr(view, "lookup_field", None)
        return bool(lookup) and lookup in getattr(view, "kwargs", {})

    def has_object_permission(self, request, view, obj) -> bool:
        return request.method in SAFE_METHODS or can_manage(request.user)


router = DefaultRouter()


# -- serializer fields shared by every app's API -----------------------------------------------

MONTH_SCHEMA = {
    "type": "string",
    "pattern": MONTH_PATTERN,
    "example": "2026-04",
    "description": "a month, YYYY-MM",
}


@extend_schema_field(MONTH_SCHEMA)
class MonthTextField(serializers.CharField):
    """A "YYYY-MM" month in a serializer that only documents a body (the service parses it)."""


@extend_schema_field(MONTH_SCHEMA)
class MonthField(serializers.DateField):
    """A month written "YYYY-MM" at the edges, the first day of the month inside.

    The months that actuals, targets and rollups accept (kpi_planner.months.parse_month),
    written exactly: no spaces around them."""

    default_error_messages = {"month": _("Write the month as YYYY-MM.")}

    def __init__(self, **kwargs) -> None:
        super().__init__(format="%Y-%m", input_formats=["%Y-%m"], **kwargs)

    def to_internal_value(self, value):
        month = parse_month(value) if isinstance(value, str) and value == value.strip() else None
        if month is None:
            self.fail("month")
        return month

    def to_representation(self, value):
        return None if value is None else month_text(value)


class ValidatedModelSerializer(serializers.ModelSerializer):
    """Runs the model's own clean() so the API and the admin enforce the same rules.

    clean() runs on a copy: the instance itself keeps its stored values until save(), so an
    update can still compare old and new (and a refused one leaves it untouched)."""

    def validate(self, attrs: dict) -> dict:
        model: Any = self.Meta.model
        instance = copy.copy(self.instance) if self.instance is not None else model()
        for key, value in attrs.items():
            if key != "password":
                setattr(instance, key, value)
        try:
            instance.clean()
        except DjangoValidationError as exc:
            raise serializers.ValidationError(
                exc.message_dict if hasattr(exc, "error_dict") else exc.messages
            ) from None
        return attrs


class NulSafeSlugRelatedField(serializers.SlugRelatedField):
    """A reference by code or username. Text with a NUL character names nothing: it answers
    "does not exist" without a query (PostgreSQL refuses NUL in a query with an error)."""

    def to_internal_value(self, data):
        if isinstance(data, str) and "\x00" in data:
            self.fail("does_not_exist", slug_name=self.slug_field, value=data)
        return super().to_internal_value(data)
