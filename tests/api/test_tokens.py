"""API tokens: expiry, revocation, `auth/tokens/`, revocation on a password change or a
deactivation, the password rules on the users API, and the token user's language."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from rest_framework.test import APIClient

from engagements.models import ApiToken, User
from engagements.services import token_create, token_hash
from tests.api.helpers import errors_of

NOW = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)
TOKENS = "/api/v1/auth/tokens/"


def api(key: str = "") -> APIClient:
    client = APIClient()
    client.default_format = "json"
    if key:
        client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def token_of(user: User, name: str = "cli", days: int | None = None) -> tuple[ApiToken, str]:
    with time_machine.travel(NOW, tick=False):
        return token_create(user=user, name=name, expires_in_days=days)


def messages_of(response) -> list[str]:
    return [e["message"] for e in response.json()["errors"]]


# -- authentication -------------------------------------------------------------------------------


def test_it_accepts_a_live_token_and_notes_its_use(vendor_user):
    token, key = token_of(vendor_user)
    with time_machine.travel(NOW + dt.timedelta(hours=1), tick=False):
        r = api(key).get("/api/v1/engagements/")
    assert r.status_code == 200
    token.refresh_from_db()
    assert token.last_used_at == NOW + dt.timedelta(hours=1)


def test_it_writes_last_used_at_at_most_once_a_minute(vendor_user):
    token, key = token_of(vendor_user)
    client = api(key)
    for seconds, expected in [(0, 0), (30, 0), (59, 0), (60, 60), (100, 60), (121, 121)]:
        with time_machine.travel(NOW + dt.timedelta(seconds=seconds), tick=False):
            assert client.get("/api/v1/engagements/").status_code == 200
        token.refresh_from_db()
        assert token.last_used_at == NOW + dt.timedelta(seconds=expected), seconds


def test_it_refuses_an_expired_token_with_401(vendor_user):
    token, key = token_of(vendor_user, days=7)
    with time_machine.travel(token.expires_at, tick=False):
        r = api(key).get("/api/v1/engagements/")
    assert r.status_code == 401
    assert errors_of(r) == [{"field": None}]
    assert r["WWW-Authenticate"] == "Token"
    token.refresh_from_db()
    assert token.last_used_at is None


def test_it_refuses_a_revoked_token_with_401(vendor_user):
    _token, key = token_of(vendor_user)
    client = api(key)
    assert client.delete(f"{TOKENS}cli/").status_code == 204
    r = client.get("/api/v1/engagements/")
    assert r.status_code == 401
    assert errors_of(r) == [{"field": None}]


def test_it_refuses_a_malformed_header_with_401(vendor_user):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token two words")
    r = client.get("/api/v1/engagements/")
    assert r.status_code == 401
    assert errors_of(r) == [{"field": None}]


def test_it_stores_only_the_hash_of_the_key(vendor_user):
    token, key = token_of(vendor_user)
    stored = ApiToken.objects.values_list("key_hash", flat=True).get(pk=token.pk)
    assert stored == token_hash(key)
    assert key not in stored


# -- auth/tokens/ ---------------------------------------------------------------------------------


def test_it_lists_own_tokens_without_keys(vendor_user, other_vendor_user):
    token, key = token_of(vendor_user, name="cli")
    token_of(vendor_user, name="ci", days=30)
    token_of(other_vendor_user, name="theirs")
    with time_machine.travel(NOW, tick=False):
        r = api(key).get(TOKENS)
    assert r.status_code == 200
    rows = r.json()["results"]
    assert [row["name"] for row in rows] == ["cli", "ci"]
    assert rows[0] == {
        "id": token.pk,
        "name": "cli",
        "user": "vend",
        "created_at": "2026-11-02T18:00:00+09:00",
        "expires_at": "2027-01-31T18:00:00+09:00",
        "last_used_at": "2026-11-02T18:00:00+09:00",
        "revoked_at": None,
        "revoked_by": None,
        "revoked_reason": "",
    }
    assert rows[1]["expires_at"] == "2026-12-02T18:00:00+09:00"
    assert key not in r.content.decode()


def test_it_makes_a_token_and_shows_its_key_once(vendor_user):
    _token, key = token_of(vendor_user)
    with time_machine.travel(NOW, tick=False):
        r = api(key).post(TOKENS, {"name": "nightly", "expires_in_days": 365})
    assert r.status_code == 201
    body = r.json()
    assert body["name"] == "nightly"
    assert body["expires_at"] == "2027-11-02T18:00:00+09:00"
    new_key = body["token"]
    assert ApiToken.objects.get(name="nightly").key_hash == token_hash(new_key)
    listed = api(new_key).get(TOKENS).content.decode()
    assert new_key not in listed


def test_it_refuses_a_second_live_token_of_the_same_name(vendor_user):
    _token, key = token_of(vendor_user, name="cli")
    r = api(key).post(TOKENS, {"name": "cli"})
    assert r.status_code == 400
    assert errors_of(r) == [{"field": "name"}]
    assert ApiToken.objects.count() == 1


def test_it_refuses_an_expiry_over_a_year(vendor_user):
    _token, key = token_of(vendor_user)
    r = api(key).post(TOKENS, {"name": "long", "expires_in_days": 366})
    assert r.status_code == 400
    assert errors_of(r) == [{"field": "expires_in_days"}]
    assert ApiToken.objects.count() == 1


def test_it_revokes_by_name_and_keeps_the_token(vendor_user):
    _token, key = token_of(vendor_user, name="cli")
    other, other_key = token_of(vendor_user, name="ci")
    with time_machine.travel(NOW + dt.timedelta(days=1), tick=False):
        r = api(key).delete(f"{TOKENS}ci/")
    assert r.status_code == 204
    other.refresh_from_db()
    assert (other.revoked_at, other.revoked_by, other.revoked_reason) == (
        NOW + dt.timedelta(days=1),
        vendor_user,
        "user",
    )
    assert api(other_key).get("/api/v1/engagements/").status_code == 401
    assert api(key).get("/api/v1/engagements/").status_code == 200
    assert ApiToken.objects.count() == 2
    # Again: nothing changes, the first revocation stays the record.
    assert api(key).delete(f"{TOKENS}ci/").status_code == 204
    assert ApiToken.objects.get(pk=other.pk).revoked_at == NOW + dt.timedelta(days=1)


def test_it_revokes_by_id(vendor_user):
    token, key = token_of(vendor_user)
    assert api(key).delete(f"{TOKENS}{token.pk}/").status_code == 204
    assert ApiToken.objects.get(pk=token.pk).revoked_reason == "user"


def test_it_hides_another_users_tokens_from_a_non_manager(vendor_user, other_vendor_user):
    _token, key = token_of(vendor_user)
    theirs, _ = token_of(other_vendor_user, name="theirs")
    assert api(key).delete(f"{TOKENS}{theirs.pk}/").status_code == 404
    r = api(key).get(TOKENS, {"user": "vend_b"})
    assert r.status_code == 403
    assert errors_of(r) == [{"field": None}]
    r = api(key).delete(f"{TOKENS}theirs/?user=vend_b")
    assert r.status_code == 403
    assert ApiToken.objects.get(pk=theirs.pk).revoked_at is None


def test_a_manager_lists_and_revokes_anyones_tokens(manager, vendor_user):
    _token, mgr_key = token_of(manager, name="admin")
    theirs, their_key = token_of(vendor_user, name="cli")
    r = api(mgr_key).get(TOKENS, {"user": "vend"})
    assert r.status_code == 200
    assert [(row["user"], row["name"]) for row in r.json()["results"]] == [("vend", "cli")]
    assert api(mgr_key).get(TOKENS, {"user": "nobody"}).status_code == 404
    assert api(mgr_key).delete(f"{TOKENS}cli/?user=vend").status_code == 204
    theirs.refresh_from_db()
    assert (theirs.revoked_by, theirs.revoked_reason) == (manager, "manager")
    assert api(their_key).get("/api/v1/engagements/").status_code == 401


def test_anonymous_callers_get_401_on_the_token_list(anon_api):
    r = anon_api.get(TOKENS)
    assert r.status_code == 401
    assert errors_of(r) == [{"field": None}]


# -- revoked by a password change or a deactivation -------------------------------------------


def test_a_new_password_through_the_api_revokes_the_users_tokens(mgr_api, manager, vendor_user):
    token, key = token_of(vendor_user)
    r = mgr_api.patch("/api/v1/users/vend/", {"password": "a-much-better-secret-42"})
    assert r.status_code == 200
    token.refresh_from_db()
    assert (token.revoked_by, token.revoked_reason) == (manager, "password_change")
    assert api(key).get("/api/v1/engagements/").status_code == 401


def test_a_deactivation_through_the_api_revokes_the_users_tokens(mgr_api, manager, vendor_user):
    token, _key = token_of(vendor_user)
    r = mgr_api.patch("/api/v1/users/vend/", {"is_active": False})
    assert r.status_code == 200
    token.refresh_from_db()
    assert (token.revoked_by, token.revoked_reason) == (manager, "deactivated")


def test_other_changes_keep_the_tokens(mgr_api, vendor_user):
    token, key = token_of(vendor_user)
    assert mgr_api.patch("/api/v1/users/vend/", {"email": "v@example.jp"}).status_code == 200
    assert ApiToken.objects.get(pk=token.pk).revoked_at is None
    assert api(key).get("/api/v1/engagements/").status_code == 200


def test_the_password_change_page_revokes_the_users_tokens(client, vendor_user):
    token, key = token_of(vendor_user)
    client.force_login(vendor_user)
    r = client.post(
        "/password/",
        {
            "old_password": "pw-vend",
            "new_password1": "a-much-better-secret-42",
            "new_password2": "a-much-better-secret-42",
        },
    )
    assert r.status_code == 302
    token.refresh_from_db()
    assert token.revoked_reason == "password_change"
    assert api(key).get("/api/v1/engagements/").status_code == 401


# -- password rules on the users API ------------------------------------------------------------


@pytest.mark.parametrize(
    "password",
    ["tanaka-taro", "kpi-demo-2026", "KPI-DEMO-2026"],
    ids=["the-username", "the-demo-password", "the-demo-password-upper-case"],
)
def test_it_refuses_a_weak_password_for_a_new_user(mgr_api, manager, password):
    r = mgr_api.post(
        "/api/v1/users/", {"username": "tanaka-taro", "password": password, "role": "viewer"}
    )
    assert r.status_code == 400
    assert errors_of(r) == [{"field": "password"}]
    assert list(User.objects.values_list("username", flat=True)) == ["mgr"]


@pytest.mark.parametrize("password", ["tanaka-taro", "kpi-demo-2026"])
def test_it_refuses_a_weak_new_password_and_keeps_the_tokens(mgr_api, db, password):
    from tests.factories import UserFactory

    account = UserFactory(username="tanaka-taro")
    token, _key = token_of(account)
    r = mgr_api.patch("/api/v1/users/tanaka-taro/", {"password": password})
    assert r.status_code == 400
    assert errors_of(r) == [{"field": "password"}]
    account.refresh_from_db()
    assert account.check_password("pw-tanaka-taro")
    assert ApiToken.objects.get(pk=token.pk).revoked_at is None


def test_the_password_change_page_refuses_the_demo_password(client, vendor_user):
    client.force_login(vendor_user)
    r = client.post(
        "/password/",
        {
            "old_password": "pw-vend",
            "new_password1": "kpi-demo-2026",
            "new_password2": "kpi-demo-2026",
        },
    )
    assert r.status_code == 200
    assert r.context["form"].has_error("new_password2", "password_published")
    vendor_user.refresh_from_db()
    assert vendor_user.check_password("pw-vend")


# -- the token user's language ------------------------------------------------------------------


def test_an_english_token_user_gets_english_messages(viewer):
    _token, key = token_of(viewer)
    r = api(key).get("/api/v1/vendors/nowhere/")
    assert r.status_code == 404
    assert messages_of(r) == ["Not found."]
    assert r["Content-Language"] == "en"


def test_the_saved_language_wins_over_accept_language(viewer, vendor_user):
    _token, key = token_of(viewer)
    r = api(key).get("/api/v1/vendors/nowhere/", HTTP_ACCEPT_LANGUAGE="ja")
    assert messages_of(r) == ["Not found."]
    _token, key = token_of(vendor_user)
    r = api(key).get("/api/v1/vendors/nowhere/", HTTP_ACCEPT_LANGUAGE="en")
    assert messages_of(r) == ["見つかりませんでした。"]
    assert r["Content-Language"] == "ja"


def test_without_a_token_accept_language_decides(anon_api):
    r = anon_api.get("/api/v1/vendors/", HTTP_ACCEPT_LANGUAGE="en")
    assert r.status_code == 401
    assert messages_of(r) == ["Authentication credentials were not provided."]


def test_a_nul_character_names_no_token_and_no_user(manager, anon_api):
    _token, key = token_of(manager)
    assert api(key).delete(f"{TOKENS}a%00b/").status_code == 404
    assert api(key).get(TOKENS, {"user": "a\x00b"}).status_code == 404
    r = anon_api.post("/api/v1/auth/token/", {"username": "a\x00b", "password": "x"})
    assert r.status_code == 400
    assert errors_of(r) == [{"field": "username"}]
