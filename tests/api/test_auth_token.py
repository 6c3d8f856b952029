"""POST /api/v1/auth/token/ and the two ways to authenticate (token, browser session)."""

import pytest
from rest_framework.authtoken.models import Token

from tests.api.helpers import errors_of

URL = "/api/v1/auth/token/"


def test_it_gives_a_token_for_good_credentials(anon_api, manager):
    r = anon_api.post(URL, {"username": "mgr", "password": "pw-mgr"})
    assert r.status_code == 200
    assert r.json() == {"token": Token.objects.get(user=manager).key}


def test_it_gives_the_same_token_twice(anon_api, manager):
    first = anon_api.post(URL, {"username": "mgr", "password": "pw-mgr"}).json()
    second = anon_api.post(URL, {"username": "mgr", "password": "pw-mgr"}).json()
    assert first == second
    assert Token.objects.count() == 1


def test_it_refuses_a_wrong_password(anon_api, manager):
    r = anon_api.post(URL, {"username": "mgr", "password": "wrong"})
    assert r.status_code == 400
    assert errors_of(r) == [{"field": None}]
    assert Token.objects.count() == 0


def test_it_lists_every_missing_field(anon_api, db):
    r = anon_api.post(URL, {})
    assert r.status_code == 400
    assert errors_of(r) == [{"field": "username"}, {"field": "password"}]


def test_it_refuses_an_inactive_user(anon_api, manager):
    manager.is_active = False
    manager.save()
    r = anon_api.post(URL, {"username": "mgr", "password": "pw-mgr"})
    assert r.status_code == 400
    assert Token.objects.count() == 0


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
