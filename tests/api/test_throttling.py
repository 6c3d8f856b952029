"""Rate limits and the sign-in lockout: 429 with Retry-After, in the API's error format on the
API, a translated page on the login form; per token, per IP, per username and per account.

Rates are set low here with override_settings; time is frozen, so Retry-After is exact."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.test import override_settings
from rest_framework.test import APIClient

from engagements.models import ApiToken
from engagements.services import token_create
from tests.api.helpers import errors_of

NOW = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)
URL = "/api/v1/auth/token/"
RATES = {"token": "1000/min", "sign_in_ip": "1000/min", "sign_in_user": "1000/min"}


def rates(**low: str) -> override_settings:
    return override_settings(API_THROTTLE_RATES={**RATES, **low})


@pytest.fixture(autouse=True)
def _frozen():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def api(key: str = "") -> APIClient:
    client = APIClient()
    client.default_format = "json"
    if key:
        client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def sign_in(client: APIClient, username: str, password: str, ip: str = "10.0.0.1", **headers):
    return client.post(URL, {"username": username, "password": password}, REMOTE_ADDR=ip, **headers)


def message_of(response) -> str:
    assert errors_of(response) == [{"field": None}]
    return response.json()["errors"][0]["message"]


# -- the API's rates --------------------------------------------------------------------------


@rates(token="3/min")
def test_it_throttles_a_token_after_its_rate(vendor_user):
    _token, key = token_create(user=vendor_user, name="cli")
    client = api(key)
    assert [client.get("/api/v1/engagements/").status_code for _ in range(3)] == [200] * 3
    r = client.get("/api/v1/engagements/")
    assert r.status_code == 429
    assert r["Retry-After"] == "60"
    assert message_of(r) == "リクエストの処理は絞られました。60秒後に再度お試しください。"


@rates(token="2/min")
def test_each_token_has_its_own_count(vendor_user, _frozen):
    _token, first = token_create(user=vendor_user, name="one")
    _token, second = token_create(user=vendor_user, name="two")
    for _ in range(2):
        assert api(first).get("/api/v1/engagements/").status_code == 200
    assert api(first).get("/api/v1/engagements/").status_code == 429
    assert api(second).get("/api/v1/engagements/").status_code == 200
    _frozen.shift(dt.timedelta(seconds=60))
    assert api(first).get("/api/v1/engagements/").status_code == 200


@rates(token="1/min")
def test_the_throttled_answer_is_in_the_token_users_language(viewer):
    _token, key = token_create(user=viewer, name="cli")
    assert api(key).get("/api/v1/vendors/").status_code == 200
    r = api(key).get("/api/v1/vendors/")
    assert r.status_code == 429
    assert message_of(r) == "Request was throttled. Try again in 60 seconds."


@rates(sign_in_ip="3/min")
def test_auth_token_is_throttled_per_ip(anon_api, manager):
    statuses = [sign_in(anon_api, f"guess{i}", "wrong").status_code for i in range(3)]
    assert statuses == [400, 400, 400]
    r = sign_in(anon_api, "mgr", "pw-mgr")
    assert r.status_code == 429
    assert r["Retry-After"] == "60"
    message_of(r)
    assert ApiToken.objects.count() == 0
    # Another address is not held back.
    assert sign_in(anon_api, "mgr", "pw-mgr", ip="10.0.0.2").status_code == 200


@rates(sign_in_user="2/min")
def test_auth_token_is_throttled_per_username(anon_api, manager, supervisor):
    assert sign_in(anon_api, "mgr", "wrong", ip="10.0.0.1").status_code == 400
    assert sign_in(anon_api, "mgr", "wrong", ip="10.0.0.2").status_code == 400
    r = sign_in(anon_api, "mgr", "pw-mgr", ip="10.0.0.3")
    assert r.status_code == 429
    assert r["Retry-After"] == "60"
    assert sign_in(anon_api, "sv", "pw-sv", ip="10.0.0.3").status_code == 200


def test_sixty_wrong_passwords_on_auth_token_end_in_429(anon_api, manager, _frozen):
    # The default settings: 10 a minute per username, and locked out after LOGIN_FAILURE_LIMIT
    # (10) failures until LOGIN_COOLOFF_MINUTES (15) after the last one.
    statuses = [sign_in(anon_api, "mgr", f"wrong-{i}").status_code for i in range(60)]
    assert statuses == [400] * 10 + [429] * 50
    r = sign_in(anon_api, "mgr", "pw-mgr", ip="10.9.9.9")
    assert (r.status_code, r["Retry-After"]) == (429, "60")  # the username's rate
    _frozen.shift(dt.timedelta(seconds=61))
    r = sign_in(anon_api, "mgr", "pw-mgr", ip="10.9.9.9")
    assert (r.status_code, r["Retry-After"]) == (429, "900")  # the account's lockout
    _frozen.shift(dt.timedelta(minutes=15))
    assert sign_in(anon_api, "mgr", "pw-mgr", ip="10.9.9.9").status_code == 200


# -- the lockout on auth/token (the same count as the login form's) ---------------------------


@override_settings(AXES_FAILURE_LIMIT=3)
def test_auth_token_locks_out_an_account(anon_api, manager, supervisor):
    for ip in ("10.0.0.1", "10.0.0.2", "10.0.0.3"):
        assert sign_in(anon_api, "mgr", "wrong", ip=ip).status_code == 400
    r = sign_in(anon_api, "mgr", "pw-mgr", ip="10.0.0.4", HTTP_ACCEPT_LANGUAGE="en")
    assert r.status_code == 429
    assert r["Retry-After"] == "900"
    assert message_of(r) == (
        "Too many failed sign-in attempts for this account or address. Try again in 900 seconds."
    )
    assert ApiToken.objects.count() == 0
    assert sign_in(anon_api, "sv", "pw-sv", ip="10.0.0.4").status_code == 200


@override_settings(AXES_FAILURE_LIMIT=3)
def test_auth_token_locks_out_an_ip(anon_api, manager):
    for name in ("a", "b", "c"):
        assert sign_in(anon_api, name, "wrong", ip="10.0.0.1").status_code == 400
    assert sign_in(anon_api, "mgr", "pw-mgr", ip="10.0.0.1").status_code == 429
    assert sign_in(anon_api, "mgr", "pw-mgr", ip="10.0.0.2").status_code == 200


@override_settings(AXES_FAILURE_LIMIT=3)
def test_the_lockout_ends_after_the_cool_off(anon_api, manager, _frozen):
    for _ in range(3):
        sign_in(anon_api, "mgr", "wrong")
    assert sign_in(anon_api, "mgr", "pw-mgr").status_code == 429
    _frozen.shift(dt.timedelta(minutes=14, seconds=59))
    assert sign_in(anon_api, "mgr", "pw-mgr").status_code == 429
    _frozen.shift(dt.timedelta(seconds=2))
    assert sign_in(anon_api, "mgr", "pw-mgr").status_code == 200


# -- the login form ---------------------------------------------------------------------------


def log_in(client, username: str, password: str, ip: str = "10.0.0.1", **headers):
    return client.post(
        "/login/", {"username": username, "password": password}, REMOTE_ADDR=ip, **headers
    )


@override_settings(AXES_FAILURE_LIMIT=3)
def test_the_login_form_locks_out_an_account(client, manager, supervisor):
    assert log_in(client, "mgr", "wrong", ip="10.0.0.1").status_code == 200
    assert log_in(client, "mgr", "wrong", ip="10.0.0.2").status_code == 200
    r = log_in(client, "mgr", "wrong", ip="10.0.0.3")
    assert r.status_code == 429
    r = log_in(client, "mgr", "pw-mgr", ip="10.0.0.4", HTTP_ACCEPT_LANGUAGE="en")
    assert r.status_code == 429
    assert r["Retry-After"] == "900"
    assert (
        "Too many failed sign-in attempts for this account or from this address. "
        "Try again in 15 minutes."
    ) in r.content.decode()
    assert "_auth_user_id" not in client.session
    assert log_in(client, "sv", "pw-sv", ip="10.0.0.4").status_code == 302


@override_settings(AXES_FAILURE_LIMIT=3)
def test_the_login_form_locks_out_an_ip(client, manager):
    for name in ("a", "b", "c"):
        log_in(client, name, "wrong", ip="10.0.0.1")
    assert log_in(client, "mgr", "pw-mgr", ip="10.0.0.1").status_code == 429
    assert log_in(client, "mgr", "pw-mgr", ip="10.0.0.2").status_code == 302


@override_settings(AXES_FAILURE_LIMIT=3)
def test_the_login_form_lockout_ends_after_the_cool_off(client, manager, _frozen):
    for _ in range(3):
        log_in(client, "mgr", "wrong")
    assert log_in(client, "mgr", "pw-mgr").status_code == 429
    _frozen.shift(dt.timedelta(minutes=16))
    assert log_in(client, "mgr", "pw-mgr").status_code == 302


@override_settings(AXES_FAILURE_LIMIT=3)
def test_the_form_and_auth_token_share_the_count(client, anon_api, manager):
    log_in(client, "mgr", "wrong")
    log_in(client, "mgr", "wrong")
    assert sign_in(anon_api, "mgr", "wrong").status_code == 400
    assert sign_in(anon_api, "mgr", "pw-mgr").status_code == 429
    assert log_in(client, "mgr", "pw-mgr").status_code == 429


@override_settings(TRUSTED_PROXY_COUNT=0, AXES_FAILURE_LIMIT=3)
def test_a_forged_forwarded_for_does_not_change_the_ip(anon_api, manager):
    for i, name in enumerate(("a", "b", "c")):
        anon_api.post(
            URL,
            {"username": name, "password": "wrong"},
            REMOTE_ADDR="10.0.0.1",
            HTTP_X_FORWARDED_FOR=f"192.0.2.{i}",
        )
    r = anon_api.post(
        URL,
        {"username": "mgr", "password": "pw-mgr"},
        REMOTE_ADDR="10.0.0.1",
        HTTP_X_FORWARDED_FOR="192.0.2.99",
    )
    assert r.status_code == 429


def test_a_garbled_forwarded_address_falls_back_to_the_peer(settings, rf) -> None:
    from engagements.auth import client_ip

    settings.TRUSTED_PROXY_COUNT = 1
    request = rf.get("/", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="unknown, <script>")
    assert client_ip(request) == "10.0.0.1"
    request = rf.get("/", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="192.0.2.7")
    assert client_ip(request) == "192.0.2.7"
    request = rf.get("/")
    request.META.pop("REMOTE_ADDR")
    assert client_ip(request) is None  # an in-process request: no address, not "unknown"
