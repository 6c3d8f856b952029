"""API plumbing shared by every app: the router, the error format and token login.

Errors follow API.md: 400 ``{"errors": [{"field", "message", "index"?}]}`` listing every problem;
other statuses carry the same shape with ``field: null``.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.response import Response
from rest_framework.routers import DefaultRouter
from rest_framework.views import exception_handler as drf_exception_handler


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


def exception_handler(exc: Exception, context: dict) -> Response | None:
    if isinstance(exc, DjangoValidationError):
        detail = exc.message_dict if hasattr(exc, "error_dict") else exc.messages
        exc = exceptions.ValidationError(detail)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        response.data = {"errors": flatten_errors(exc.detail)}
    else:
        detail = (
            response.data.get("detail", response.data)
            if isinstance(response.data, dict)
            else response.data
        )
        response.data = {"errors": [{"field": None, "message": str(detail)}]}
    return response


class TokenLoginView(ObtainAuthToken):
    """POST {"username", "password"} → {"token"}."""

    def post(self, request, *args, **kwargs) -> Response:
        serializer = self.serializer_class(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        from rest_framework.authtoken.models import Token

        token, _created = Token.objects.get_or_create(user=serializer.validated_data["user"])
        return Response({"token": token.key}, status=status.HTTP_200_OK)


router = DefaultRouter()
