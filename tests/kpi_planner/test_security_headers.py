"""Security headers on every page: the Content-Security-Policy (only our own scripts), framing
refused, no MIME sniffing, the Referrer-Policy, the Cross-Origin-Opener-Policy; HSTS and the
HTTPS redirect under production settings; and `Cache-Control: no-store` on everything a
logged-in user is answered (pages, JSON, Excel/PDF downloads), not on static files."""

from __future__ import annotations

import plotly
import pytest
from django.test import Client, override_settings

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self'; connect-src 'self'; frame-ancestors 'none'; "
    "form-action 'self'; object-src 'none'; base-uri 'self'"
)
PRODUCTION_HTTPS = {
    "SECURE_HSTS_SECONDS": 31_536_000,
    "SECURE_HSTS_INCLUDE_SUBDOMAINS": True,
    "SECURE_HSTS_PRELOAD": True,
    "SECURE_SSL_REDIRECT": True,
    "SECURE_REDIRECT_EXEMPT": [r"^healthz$"],
}


def directives(header: str) -> dict[str, str]:
    """The policy's directives by name (django-csp does not promise their order)."""
    parts = (part.strip().split(" ", 1) for part in header.split(";"))
    return {name: rest for name, rest in parts}


def test_a_page_carries_the_security_headers(client: Client, manager) -> None:
    client.force_login(manager)
    response = client.get("/")
    assert response.status_code == 200
    assert directives(response["Content-Security-Policy"]) == directives(CSP)
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"
    assert "Strict-Transport-Security" not in response  # local use: plain HTTP, no HSTS


def test_the_login_page_carries_them_too(client: Client, db) -> None:
    response = client.get("/login/")
    assert directives(response["Content-Security-Policy"]) == directives(CSP)
    assert response["X-Frame-Options"] == "DENY"


def test_pages_have_no_inline_script_or_event_handler(client: Client, manager) -> None:
    client.force_login(manager)
    for path in ("/", "/trees/", "/portal/submissions/", "/scorecards/", "/trees/templates/"):
        html = client.get(path).content.decode()
        assert "<script>" not in html, path
        assert " onchange=" not in html and " onclick=" not in html, path


def test_a_logged_in_page_is_not_stored(client: Client, manager) -> None:
    client.force_login(manager)
    response = client.get("/")
    assert (response["Cache-Control"], response["Pragma"]) == ("no-store", "no-cache")
    assert "Expires" not in response


def test_a_report_download_is_not_stored(client: Client, manager, engagement_a) -> None:
    client.force_login(manager)
    response = client.get(f"/scorecards/engagements/{engagement_a.code}/report.xlsx")
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment;")
    assert (response["Cache-Control"], response["Pragma"]) == ("no-store", "no-cache")


def test_an_api_answer_is_not_stored(client: Client, manager, engagement_a) -> None:
    client.force_login(manager)
    response = client.get("/api/v1/engagements/")
    assert response.status_code == 200
    assert (response["Cache-Control"], response["Pragma"]) == ("no-store", "no-cache")


def test_an_anonymous_api_answer_is_not_stored_either(client: Client, db) -> None:
    response = client.get("/api/v1/engagements/")
    assert response.status_code == 401
    assert response["Cache-Control"] == "no-store"


def test_the_anonymous_login_page_keeps_djangos_own_headers(client: Client, db) -> None:
    response = client.get("/login/")
    assert response["Cache-Control"] == "max-age=0, no-cache, no-store, must-revalidate, private"
    assert "Pragma" not in response


def test_a_static_file_stays_cacheable(client: Client, manager) -> None:
    client.force_login(manager)
    response = client.get("/static/js/app.js")
    assert response.status_code == 200
    assert "no-store" not in response.get("Cache-Control", "")
    assert "Pragma" not in response


def test_plotly_js_stays_public_for_a_logged_in_user(client: Client, manager) -> None:
    client.force_login(manager)
    response = client.get(f"/scorecards/plotly-{plotly.__version__}.min.js")
    assert response.status_code == 200
    assert response["Cache-Control"] == "public, max-age=31536000, immutable"
    assert "Pragma" not in response


@override_settings(**PRODUCTION_HTTPS)
def test_https_answers_carry_hsts_under_production_settings(client: Client, manager) -> None:
    client.force_login(manager)
    response = client.get("/", secure=True)
    assert response.status_code == 200
    assert response["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"


@override_settings(**PRODUCTION_HTTPS)
def test_plain_http_is_redirected_to_https_under_production_settings(client: Client, db) -> None:
    response = client.get("/login/?next=/trees/")
    assert (response.status_code, response["Location"]) == (
        301,
        "https://testserver/login/?next=/trees/",
    )
    assert "Strict-Transport-Security" not in response  # HSTS only over HTTPS


@override_settings(**PRODUCTION_HTTPS)
def test_the_health_check_is_not_redirected(client: Client, db) -> None:
    assert client.get("/healthz").status_code == 200


@pytest.mark.parametrize("path", ["/api/docs/", "/api/docs/?script="])
def test_swagger_ui_loads_its_script_from_a_url_of_its_own(client: Client, manager, path) -> None:
    client.force_login(manager)
    response = client.get(path)
    assert response.status_code == 200
    if path.endswith("?script="):
        assert response["Content-Type"].startswith("application/javascript")
        assert b"SwaggerUIBundle(" in response.content
    else:
        html = response.content.decode()
        assert '<script src="/api/docs/?script="></script>' in html
        assert "<script>" not in html
