"""engagements.services' API tokens: token_create, token_revoke, the revocations of user_update
and of any saved new password, the published-password rule, the admin, and the migration of
rest_framework.authtoken's tokens."""

from __future__ import annotations

import datetime as dt
import importlib

import pytest
import time_machine
from django.apps import apps
from django.db import connection

from engagements import services
from engagements.models import ApiToken, Role, User
from engagements.services import SYSTEM, token_create, token_hash, token_revoke
from kpi_planner.errors import ServiceError
from tests.factories import UserFactory

NOW = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def _frozen():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def problems(exc: ServiceError) -> list[tuple[str | None, str]]:
    return [(p.field, p.code) for p in exc.problems]


# -- token_create -------------------------------------------------------------------------------


def test_it_makes_a_token_with_the_default_expiry(vendor_user):
    token, key = token_create(user=vendor_user)
    assert len(key) == 43
    assert token.name == f"token-{key[:8]}"
    assert token.key_hash == token_hash(key)
    assert token.expires_at == NOW + dt.timedelta(days=90)
    assert (token.last_used_at, token.revoked_at) == (None, None)


def test_it_takes_the_default_expiry_from_the_settings(vendor_user, settings):
    settings.API_TOKEN_EXPIRY_DAYS = 30
    token, _key = token_create(user=vendor_user, name="ci")
    assert token.expires_at == NOW + dt.timedelta(days=30)


@pytest.mark.parametrize(
    ("name", "days", "expected"),
    [
        ("x" * 101, 10, [("name", "invalid")]),
        ("12345", 10, [("name", "invalid")]),
        ("ok", 0, [("expires_in_days", "invalid")]),
        ("ok", 366, [("expires_in_days", "invalid")]),
        ("12", 400, [("name", "invalid"), ("expires_in_days", "invalid")]),
    ],
)
def test_it_refuses_a_bad_name_or_expiry(vendor_user, name, days, expected):
    with pytest.raises(ServiceError) as caught:
        token_create(user=vendor_user, name=name, expires_in_days=days)
    assert problems(caught.value) == expected
    assert ApiToken.objects.count() == 0


def test_it_refuses_a_second_live_token_of_a_name_but_not_after_revocation(vendor_user):
    first, _key = token_create(user=vendor_user, name="ci")
    with pytest.raises(ServiceError) as caught:
        token_create(user=vendor_user, name="ci")
    assert problems(caught.value) == [("name", "invalid")]
    token_revoke(user=vendor_user, token=first)
    second, _key = token_create(user=vendor_user, name="ci")
    assert ApiToken.objects.filter(name="ci").count() == 2
    assert second.revoked_at is None


def test_it_refuses_a_deactivated_user(vendor_user):
    vendor_user.is_active = False
    with pytest.raises(ServiceError) as caught:
        token_create(user=vendor_user)
    assert caught.value.status == 403
    assert ApiToken.objects.count() == 0


# -- token_revoke -------------------------------------------------------------------------------


def test_its_user_revokes_a_token(vendor_user):
    token, _key = token_create(user=vendor_user)
    token_revoke(user=vendor_user, token=token)
    token.refresh_from_db()
    assert (token.revoked_at, token.revoked_by, token.revoked_reason) == (NOW, vendor_user, "user")


def test_a_manager_revokes_anyones_token(manager, vendor_user):
    token, _key = token_create(user=vendor_user)
    token_revoke(user=manager, token=token)
    token.refresh_from_db()
    assert (token.revoked_by, token.revoked_reason) == (manager, "manager")


def test_nobody_else_revokes_a_token(vendor_user, other_vendor_user):
    token, _key = token_create(user=vendor_user)
    with pytest.raises(ServiceError) as caught:
        token_revoke(user=other_vendor_user, token=token)
    assert caught.value.status == 403
    assert ApiToken.objects.get(pk=token.pk).revoked_at is None


def test_a_second_revocation_keeps_the_first(manager, vendor_user, _frozen):
    token, _key = token_create(user=vendor_user)
    token_revoke(user=vendor_user, token=token)
    _frozen.shift(dt.timedelta(hours=1))
    token_revoke(user=manager, token=token)
    token.refresh_from_db()
    assert (token.revoked_at, token.revoked_by, token.revoked_reason) == (NOW, vendor_user, "user")


# -- revoked with a new password or a deactivation ------------------------------------------------


def live(user: User) -> list[str]:
    return list(
        ApiToken.objects.filter(user=user, revoked_at__isnull=True).values_list("name", flat=True)
    )


def test_user_update_with_a_password_revokes_every_token(manager, vendor_user):
    token_create(user=vendor_user, name="a")
    token_create(user=vendor_user, name="b")
    old, _key = token_create(user=vendor_user, name="old")
    token_revoke(user=vendor_user, token=old)
    services.user_update(
        user=manager, account=vendor_user, data={}, password="a-much-better-secret-42"
    )
    assert live(vendor_user) == []
    assert sorted(
        ApiToken.objects.filter(user=vendor_user).values_list("name", "revoked_reason")
    ) == [("a", "password_change"), ("b", "password_change"), ("old", "user")]
    assert set(
        ApiToken.objects.filter(name__in=["a", "b"]).values_list("revoked_by", flat=True)
    ) == {manager.pk}


def test_user_update_disabling_the_password_revokes_the_tokens(manager, vendor_user):
    token_create(user=vendor_user, name="a")
    services.user_update(user=manager, account=vendor_user, data={}, disable_password=True)
    assert live(vendor_user) == []


def test_user_update_deactivating_revokes_the_tokens(manager, vendor_user):
    token_create(user=vendor_user, name="a")
    services.user_update(user=manager, account=vendor_user, data={"is_active": False})
    assert ApiToken.objects.get(name="a").revoked_reason == "deactivated"


def test_a_refused_password_revokes_nothing(manager, vendor_user):
    token_create(user=vendor_user, name="a")
    with pytest.raises(ServiceError):
        services.user_update(user=manager, account=vendor_user, data={}, password="vend")
    assert live(vendor_user) == ["a"]


def test_any_saved_new_password_revokes_the_tokens(vendor_user):
    # Django's password-change and reset forms, `manage.py changepassword`: set_password + save.
    token_create(user=vendor_user, name="a")
    vendor_user.set_password("a-much-better-secret-42")
    vendor_user.save()
    token = ApiToken.objects.get(name="a")
    assert (token.revoked_at, token.revoked_by, token.revoked_reason) == (
        NOW,
        None,
        "password_change",
    )


def test_a_save_without_a_new_password_keeps_the_tokens(vendor_user):
    token_create(user=vendor_user, name="a")
    vendor_user.email = "v@example.jp"
    vendor_user.save()
    assert live(vendor_user) == ["a"]


# -- the published (demo) password --------------------------------------------------------------


def test_a_manager_cannot_give_the_demo_password(manager):
    from engagements.demo import DEMO_PASSWORD

    with pytest.raises(ServiceError) as caught:
        services.user_create(
            user=manager, data={"username": "newbie", "role": Role.VIEWER}, password=DEMO_PASSWORD
        )
    assert problems(caught.value) == [("password", "invalid")]
    assert not User.objects.filter(username="newbie").exists()


def test_the_demo_seed_may_use_the_demo_password(db):
    from engagements.demo import DEMO_PASSWORD

    account = services.user_create(
        user=SYSTEM, data={"username": "demo", "role": Role.VIEWER}, password=DEMO_PASSWORD
    )
    assert account.check_password(DEMO_PASSWORD)


# -- the admin ------------------------------------------------------------------------------------


def test_the_admin_lists_tokens_read_only_and_revokes_them(client, manager, vendor_user):
    token, key = token_create(user=vendor_user, name="cli")
    client.force_login(manager)
    page = client.get("/admin/engagements/apitoken/")
    assert page.status_code == 200
    assert "cli" in page.content.decode()
    assert key not in page.content.decode()
    assert client.get(f"/admin/engagements/apitoken/{token.pk}/delete/").status_code == 403
    r = client.post(
        "/admin/engagements/apitoken/",
        {"action": "revoke", "_selected_action": [token.pk]},
    )
    assert r.status_code == 302
    token.refresh_from_db()
    assert (token.revoked_by, token.revoked_reason) == (manager, "manager")


def test_the_admin_password_page_revokes_the_tokens(client, manager, vendor_user):
    token_create(user=vendor_user, name="cli")
    client.force_login(manager)
    r = client.post(
        f"/admin/engagements/user/{vendor_user.pk}/password/",
        {
            "set_usable_password": "true",
            "password1": "a-much-better-secret-42",
            "password2": "a-much-better-secret-42",
        },
    )
    assert r.status_code == 302
    token = ApiToken.objects.get(name="cli")
    assert (token.revoked_by, token.revoked_reason) == (manager, "password_change")


# -- rest_framework.authtoken's tokens ------------------------------------------------------------


def test_the_migration_turns_old_tokens_into_api_tokens(db):
    account = UserFactory(username="legacy")
    key = "0123456789abcdef0123456789abcdef01234567"
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE authtoken_token (key varchar(40) PRIMARY KEY, created datetime, "
            "user_id bigint)"
        )
        cursor.execute(
            "INSERT INTO authtoken_token VALUES (%s, %s, %s)",
            [key, "2026-01-05 10:00:00", account.pk],
        )
    migration = importlib.import_module("engagements.migrations.0008_api_tokens")

    class Editor:
        pass

    editor = Editor()
    editor.connection = connection  # type: ignore[attr-defined]
    try:
        migration.convert_legacy_tokens(apps, editor)
        token = ApiToken.objects.get(user=account)
        assert token.key_hash == token_hash(key)
        assert token.name == "token-01234567"
        assert token.expires_at == NOW + dt.timedelta(days=90)
        assert token.created_at == dt.datetime(2026, 1, 5, 10, 0, tzinfo=dt.UTC)
        with connection.cursor() as cursor:
            cursor.execute("SELECT COUNT(*) FROM authtoken_token")
            assert cursor.fetchone() == (0,)
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE authtoken_token")
