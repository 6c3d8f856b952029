from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils import translation


class UserLanguageMiddleware:
    """Use the language a logged-in user chose (remembered on the user, not only the cookie)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        language = getattr(user, "language", "") if user and user.is_authenticated else ""
        if language:
            translation.activate(language)
            request.LANGUAGE_CODE = language
        response = self.get_response(request)
        if language:
            response.headers.setdefault("Content-Language", language)
        return response


class NoStoreForUsersMiddleware:
    """Keep what a logged-in user (session or API token) is answered out of every cache.

    Pages, JSON and the Excel/PDF/CSV downloads carry one vendor's or the company's figures: a
    shared proxy or the browser's disk cache must not keep them (`Cache-Control: no-store`,
    plus `Pragma: no-cache` for HTTP/1.0 caches). Static files are answered by WhiteNoise before
    this runs, anonymous pages (the login form) keep their own headers, and so does a response
    that declares itself `public` (plotly.js, a versioned library file served by a view).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    # Answers under these paths are never cached, whoever asks (the API's token login answers an
    # anonymous caller with a secret).
    ALWAYS = ("/api/",)

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        # DRF authenticates a token inside the view and sets the user on the Django request.
        user = getattr(request, "user", None)
        logged_in = user is not None and user.is_authenticated
        if not logged_in and not request.path_info.startswith(self.ALWAYS):
            return response
        if "public" in response.headers.get("Cache-Control", ""):
            return response
        response.headers["Cache-Control"] = "no-store"
        response.headers["Pragma"] = "no-cache"
        response.headers.pop("Expires", None)
        return response
