"""POST /api/v1/auth/token/ and the two ways to authenticate (token, browser session)."""

import datetime as dt

import pytest
import time_machine

from engagements.models import ApiToken
from engagements.services import token_hash
from tests.api.helpers import errors_of

URL = "/api/v1/auth/token/"


NOW = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)


def test_it_gives_a_token_for_good_credentials(anon_api, manager):
    with time_machine.travel(NOW, tick=False):
        r = anon_api.post(URL, {"username": "mgr", "password": "pw-mgr"})
    assert r.status_code == 200
    body = r.json()
    assert list(body) == ["token", "expires_at"]
    assert body["expires_at"] == "2027-01-31T09:00:00+00:00"  # 90 days
    token = ApiToken.objects.get(user=manager)
    assert token.key_hash == token_hash(body["token"])
    assert token.name == f"token-{body['token'][:8]}"


def test_it_gives_a_new_token_each_time(anon_api, manager):
    first = anon_api.post(URL, {"username": "mgr", "password": "pw-mgr"}).json()["token"]
    second = anon_api.post(URL, {"username": "mgr", "password": "pw-mgr"}).json()["token"]
    assert first != second
    assert ApiToken.objects.filter(user=manager).count() == 2
    for key in (first, second):
        anon_api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
        assert anon_api.get("/api/v1/vendors/").status_code == 200


def test_it_takes_a_name_and_an_expiry(anon_api, manager):
    with time_machine.travel(NOW, tick=False):
        r = anon_api.post(
            URL, {"username": "mgr", "password": "pw-mgr", "name": "ci", "expires_in_days": 7}
        )
    assert r.status_code == 200
    assert r.json()["expires_at"] == "2026-11-09T09:00:00+00:00"
    assert ApiToken.objects.get(user=manager).name == "ci"


@pytest.mark.parametrize("days", [0, 366, "x"])
def test_it_refuses_an_expiry_beyond_a_year(anon_api, manager, days):
    r = anon_api.post(URL, {"username": "mgr", "password": "pw-mgr", "expires_in_days": days})
    assert r.status_code == 400
    assert errors_of(r) == [{"field": "expires_in_days"}]
    assert ApiToken.objects.count() == 0


def test_it_refuses_a_wrong_password(anon_api, manager):
    r = anon_api.post(URL, {"username": "mgr", "password": "wrong"})
    assert r.status_code == 400
    assert errors_of(r) == [{"field": None}]
    assert ApiToken.objects.count() == 0


def test_it_lists_every_missing_field(anon_api, db):
    r = anon_api.post(URL, {})
    assert r.status_code == 400
    assert errors_of(r) == [{"field": "username"}, {"field": "password"}]


def test_it_refuses_an_inactive_user(anon_api, manager):
    manager.is_active = False
    manager.save()
    r = anon_api.post(URL, {"username": "mgr", "password": "pw-mgr"})
    assert r.status_code == 400
    assert ApiToken.objects.count() == 0


def test_it_authenticates_with_the_token(anon_api, manager):
    token = anon_api.post(URL, {"username": "mgr", "password": "pw-mgr"}).json()["token"]
    anon_api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    r = anon_api.get("/api/v1/users/")
    assert r.status_code == 200
    assert [u["username"] for u in r.json()["results"]] == ["mgr"]


def test_it_refuses_an_unknown_token(anon_api, manager):
    anon_api.credentials(HTTP_AUTHORIZATION="Token 0123456789abcdef")
    r = anon_api.get("/api/v1/vendors/")
    assert r.status_code == 401
    assert errors_of(r) == [{"field": None}]


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/users/",
        "/api/v1/vendors/",
        "/api/v1/vendors/callnavi/",
        "/api/v1/engagements/",
        "/api/v1/trees/",
        "/api/v1/trees/rev/nodes/",
        "/api/v1/trees/rev/targets/",
        "/api/v1/trees/rev/rollup/?period=2026-04",
        "/api/v1/actuals/",
    ],
)
def test_it_refuses_anonymous_reads(anon_api, rev_tree, url):
    r = anon_api.get(url)
    assert r.status_code == 401
    assert errors_of(r) == [{"field": None}]


def test_it_refuses_an_anonymous_bulk_write(anon_api, rev_tree):
    r = anon_api.post(
        "/api/v1/actuals/bulk/",
        [{"tree": "rev", "node": "visits", "period": "2026-04", "value": 1}],
    )
    assert r.status_code == 401


def test_it_accepts_the_browser_session(anon_api, manager):
    assert anon_api.login(username="mgr", password="pw-mgr")
    assert anon_api.get("/api/v1/vendors/").status_code == 200
