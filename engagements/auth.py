"""Signing in: API token authentication, the API's rate limits and the sign-in lockout.

- `ApiTokenAuthentication` (REST_FRAMEWORK's authentication classes): `Authorization: Token
  <key>` against the stored SHA-256 of engagements.ApiToken; an unknown, expired or revoked key
  answers 401. It also activates the token user's language (User.language), which the
  session's UserLanguageMiddleware cannot do: DRF authenticates after the middleware.
- Throttles (cache-based, API_THROTTLE_RATES): per token (or per user of a browser session),
  and per client IP and per username on `auth/token/`.
- `LockoutBackend` (django-axes, database handler): failed sign-ins counted per account and
  per IP on every channel that authenticates with a request (login form, admin, auth/token);
  the login form then answers `lockout_response`.

Kept apart from the views: DRF imports this module while it builds APIView.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from axes.backends import AxesStandaloneBackend
from axes.helpers import get_cool_off
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.throttling import SimpleRateThrottle

from engagements import services
from engagements.models import ApiToken, User

KEYWORD = "Token"


class ApiTokenAuthentication(BaseAuthentication):
    """`Authorization: Token <key>` → (user, ApiToken)."""

    def authenticate(self, request) -> tuple[User, ApiToken] | None:
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != KEYWORD.lower().encode():
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed(
                _("Invalid token header: write `Authorization: Token <key>`.")
            )
        try:
            key = parts[1].decode()
        except UnicodeError:
            raise exceptions.AuthenticationFailed(_("Invalid token.")) from None
        token = (
            ApiToken.objects.select_related("user")
            .filter(key_hash=services.token_hash(key))
            .first()
        )
        if token is None:
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        now = timezone.now()
        if token.revoked_at is not None:
            raise exceptions.AuthenticationFailed(_("This token was revoked."))
        if token.expires_at <= now:
            raise exceptions.AuthenticationFailed(_("This token has expired; make a new one."))
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed(_("User inactive or deleted."))
        services.token_used(token, now)
        use_language(request, token.user.language)
        return token.user, token

    def authenticate_header(self, request) -> str:
        return KEYWORD


def use_language(request, language: str) -> None:
    """Answer in `language` (a token user's saved one) from now on in this request."""
    if language in dict(settings.LANGUAGES):
        translation.activate(language)
        request._request.LANGUAGE_CODE = language


# -- rate limits --------------------------------------------------------------------------------


def _address(text: str) -> str | None:
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return None


def client_ip(request: Any) -> str | None:
    """The caller's address: REMOTE_ADDR, or with TRUSTED_PROXY_COUNT proxies in front, the
    address the outermost trusted proxy saw (X-Forwarded-For counted from the right), so that a
    client cannot choose its own address by sending the header. One rule for the API's
    throttles and the sign-in lockout (AXES_CLIENT_IP_CALLABLE). None when there is no valid
    address (a request made in process, a garbled header): the lockout's log stores addresses
    in an inet column, which refuses anything else."""
    meta = request.META
    proxies = settings.TRUSTED_PROXY_COUNT
    forwarded = [a.strip() for a in meta.get("HTTP_X_FORWARDED_FOR", "").split(",") if a.strip()]
    if proxies and forwarded:
        chosen = _address(forwarded[-min(proxies, len(forwarded))])
        if chosen is not None:
            return chosen
    return _address(meta.get("REMOTE_ADDR", "") or "")


class _Throttle(SimpleRateThrottle):
    """Rates read from settings.API_THROTTLE_RATES when a request comes (so that a test's
    override_settings applies), answered as 429 with Retry-After by DRF."""

    def get_rate(self) -> str | None:
        return settings.API_THROTTLE_RATES.get(self.scope or "")

    def get_ident(self, request) -> str:
        return client_ip(request) or "unknown"


class TokenRateThrottle(_Throttle):
    """Every authenticated API call: per token, or per user of a browser session."""

    scope = "token"

    def get_cache_key(self, request, view) -> str | None:
        if isinstance(request.auth, ApiToken):
            ident = f"t{request.auth.pk}"
        elif request.user and request.user.is_authenticated:
            ident = f"u{request.user.pk}"
        else:
            return None  # anonymous callers get 401, or a throttle of their own (auth/token)
        return self.cache_format % {"scope": self.scope, "ident": ident}


class SignInIPThrottle(_Throttle):
    """`POST auth/token/` per client IP."""

    scope = "sign_in_ip"

    def get_cache_key(self, request, view) -> str | None:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class SignInUsernameThrottle(_Throttle):
    """`POST auth/token/` per username asked for (whoever asks)."""

    scope = "sign_in_user"

    def get_cache_key(self, request, view) -> str | None:
        username = request.data.get("username") if hasattr(request.data, "get") else None
        if not isinstance(username, str) or not username:
            return None
        ident = services.token_hash(username.casefold())[:32]  # any text, a short cache key
        return self.cache_format % {"scope": self.scope, "ident": ident}


# -- sign-in lockout (django-axes) --------------------------------------------------------------


class LockoutBackend(AxesStandaloneBackend):
    """Axes' check, first in AUTHENTICATION_BACKENDS: a locked-out account or IP is refused
    before its password is tried. Every web channel passes the request; code that calls
    `authenticate()` without one (a management command, the test client's `login()`) has no
    client to count and is not checked."""

    def authenticate(self, request, username=None, password=None, **kwargs) -> None:
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)


def cool_off_seconds(request: Any = None) -> int:
    """How long a lockout lasts after the last failed attempt (AXES_COOLOFF_TIME)."""
    cool_off = get_cool_off(request)
    return int(cool_off.total_seconds()) if cool_off else 0


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None = None, credentials: Any = None
) -> HttpResponse:
    """The login form (and the admin's) after too many failed attempts: 429, in the visitor's
    language, saying when to try again, with Retry-After (AXES_LOCKOUT_CALLABLE)."""
    seconds = cool_off_seconds(request)
    response = render(
        request,
        "registration/lockout.html",
        {"minutes": max(1, -(-seconds // 60))},
        status=429,
    )
    response["Retry-After"] = str(seconds)
    return response
