"""Idempotency keys of the API's writes: a client may retry a write after an unclear failure.

A POST, PUT, PATCH or DELETE under /api/v1/ (except auth/token/) sent with an
`Idempotency-Key: <up to 255 characters>` header is processed once per user and key:

- the first request claims the key (a row of `IdempotencyRecord`, unique per user and key) and
  runs; its status and body are stored with the write, in the same transaction, when the answer
  is a 2xx or a 4xx (not a 5xx, nor a 429 that asks to come back later);
- a retry with the same key, method, path and body gets the stored answer again, with
  `Idempotent-Replayed: true`, and nothing runs;
- the same key with another method, path or body answers 422 and runs nothing;
- a retry while the first request is still running answers 409 (its claim row is locked by the
  first request's transaction: `SELECT … FOR UPDATE NOWAIT` refuses at once, on any number of
  workers). A request that died or answered 5xx left its claim unlocked and unanswered: its
  write was rolled back with it, so the next retry runs instead.

Records expire after 24 hours (`TTL`): an older one counts as absent, and the periodic task
`kpi_planner.purge_idempotency_records` deletes them. Requests without the header are
untouched. DRF authenticates inside the view, so the caller is found here with the same
authentication classes (a request they refuse is passed on untouched and answered by the view).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable
from typing import Any, cast

from django.core.exceptions import RequestDataTooBig
from django.db import IntegrityError, OperationalError, transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.utils.translation import gettext as _

from kpi_planner.errors import Problem
from kpi_planner.models import IdempotencyRecord

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 255
TTL = dt.timedelta(hours=24)
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
API_PREFIX = "/api/v1/"
EXEMPT_PATHS = frozenset({"/api/v1/auth/token/"})
# Headers of the answer that a replay repeats besides its status, body and content type.
KEPT_HEADERS = ("ETag", "Location", "Content-Language")
# A 4xx that asks the client to come back later is not the answer to keep.
NOT_STORED = frozenset({429})
LOCK_NOT_AVAILABLE = "55P03"  # PostgreSQL's SQLSTATE for NOWAIT on a locked row


def expiry_cutoff(now: dt.datetime | None = None) -> dt.datetime:
    return (now or timezone.now()) - TTL


def purge_expired(now: dt.datetime | None = None) -> int:
    """Delete the records older than TTL; returns how many. Safe to run any number of times."""
    deleted, _by_model = IdempotencyRecord.objects.filter(
        created_at__lt=expiry_cutoff(now)
    ).delete()
    return deleted


def applies_to(request: HttpRequest) -> bool:
    """Whether the request is an API write that sent an idempotency key."""
    return (
        HEADER in request.headers
        and request.method in WRITE_METHODS
        and request.path.startswith(API_PREFIX)
        and request.path not in EXEMPT_PATHS
    )


def _error(message: str, status: int, **headers: str) -> JsonResponse:
    """The API's error format (API.md "Errors") about the header."""
    body = {"errors": [Problem(message, field=HEADER).as_dict()]}
    response = JsonResponse(body, status=status, json_dumps_params={"ensure_ascii": False})
    for name, value in headers.items():
        response[name] = value
    return response


def _caller(request: HttpRequest) -> Any:
    """The user the API view will authenticate (token or session), or None when it will not."""
    from rest_framework.authentication import BaseAuthentication
    from rest_framework.exceptions import APIException
    from rest_framework.request import Request
    from rest_framework.settings import api_settings

    drf_request = Request(request)
    # Imported classes at run time (the stubs type the setting as their dotted paths).
    classes = cast(list[type[BaseAuthentication]], api_settings.DEFAULT_AUTHENTICATION_CLASSES)
    for authentication in classes:
        try:
            result = authentication().authenticate(drf_request)
        except APIException:  # a bad token, a missing CSRF token: the view answers it
            return None
        if result is not None:
            return result[0]
    return None


def _stored(record: IdempotencyRecord) -> HttpResponse:
    response = HttpResponse(
        bytes(record.response_body), status=record.status, content_type=record.content_type
    )
    for name, value in record.response_headers.items():
        response[name] = value
    response[REPLAYED_HEADER] = "true"
    return response


def _store(record: IdempotencyRecord, response: HttpResponse) -> None:
    record.status = response.status_code
    record.response_body = response.content
    record.content_type = response.get("Content-Type", "")
    record.response_headers = {n: response[n] for n in KEPT_HEADERS if response.has_header(n)}
    record.save(update_fields=["status", "response_body", "content_type", "response_headers"])


def _claim(user: Any, key: str, fingerprint: dict[str, str]) -> None:
    """Create the key's record unless it exists (the unique constraint decides among workers).
    Committed at once, outside the request's transaction: a concurrent duplicate then finds the
    row, locked while the first request runs."""
    try:
        with transaction.atomic():
            IdempotencyRecord.objects.create(user=user, key=key, **fingerprint)
    except IntegrityError:
        pass


class IdempotencyMiddleware:
    """Applies idempotency keys to every API write, in one place (see the module's text)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not applies_to(request):
            return self.get_response(request)
        user = _caller(request)
        if user is None:  # anonymous or refused: the view answers 401/403 as without a key
            return self.get_response(request)
        key = request.headers[HEADER]
        if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
            return _error(
                _("The idempotency key must be 1 to %(max)d printable characters.")
                % {"max": MAX_KEY_LENGTH},
                400,
            )
        try:
            body = request.body
        except RequestDataTooBig:  # refused by the view as without a key; nothing to keep
            return self.get_response(request)
        fingerprint = {
            "method": request.method or "",
            "path": request.get_full_path()[:2048],
            "body_hash": hashlib.sha256(body).hexdigest(),
        }
        for _attempt in range(3):  # a claim may also expire and be purged in between
            with transaction.atomic():
                try:
                    with transaction.atomic():
                        record = (
                            IdempotencyRecord.objects.select_for_update(nowait=True)
                            .filter(user=user, key=key)
                            .first()
                        )
                except OperationalError as exc:
                    if getattr(exc.__cause__, "sqlstate", None) != LOCK_NOT_AVAILABLE:
                        raise
                    # Locked: the first request with this key is still running.
                    request.user = user
                    return _error(
                        _(
                            "A request with this idempotency key is still being processed; "
                            "retry later."
                        ),
                        409,
                        **{"Retry-After": "1"},
                    )
                if record is not None:
                    request.user = user
                    return self._process(request, record, fingerprint)
            # Not claimed yet: claim it (committed at once), then lock it as above. Looking
            # first matters: an INSERT of a taken key would wait for the transaction running
            # the first request instead of answering 409.
            _claim(user, key, fingerprint)
        raise RuntimeError("the idempotency record vanished three times")  # pragma: no cover

    def _process(
        self, request: HttpRequest, record: IdempotencyRecord, fingerprint: dict[str, str]
    ) -> HttpResponse:
        """Inside the transaction that holds the record's lock: replay, refuse or run."""
        expired = record.created_at < expiry_cutoff()
        if record.status is not None and not expired:
            if any(getattr(record, name) != value for name, value in fingerprint.items()):
                return _error(
                    _(
                        "This idempotency key was already used for a different request "
                        "(method, path or body); use a new key."
                    ),
                    422,
                )
            return _stored(record)
        # Unanswered (a first request, or one that died or failed with 5xx and was rolled
        # back) or expired: this request takes the key.
        for name, value in fingerprint.items():
            setattr(record, name, value)
        record.status, record.response_body, record.created_at = None, b"", timezone.now()
        record.save()
        response = self.get_response(request)
        status = response.status_code
        if status >= 500:
            transaction.set_rollback(True)  # neither the write nor its answer is kept
        elif status in NOT_STORED or response.streaming:
            record.delete()
        else:
            _store(record, response)
        return response
