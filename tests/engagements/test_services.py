"""engagements.services: the one write path for vendors, engagements and users."""

from __future__ import annotations

import datetime as dt

import pytest
from rest_framework.test import APIClient

from engagements import services
from engagements.models import Engagement, Role, User, Vendor
from engagements.services import SYSTEM
from kpi_planner.errors import ServiceError
from kpi_planner.models import Tombstone
from tests.conftest import make_user

STRONG = "Kpi-Planner-2026!"


def tombstones() -> list[tuple[str, str]]:
    return sorted(Tombstone.objects.values_list("kind", "code"))


def engagement_data(vendor: Vendor, **extra) -> dict:
    return {
        "code": "SEO-1",
        "name": "記事制作",
        "vendor": vendor,
        "outsourcing_type": "article",
        "phase": "launch",
        "start_month": dt.date(2026, 7, 1),
        "end_month": dt.date(2027, 6, 1),
        "monthly_fee": 500_000,
        **extra,
    }


# -- vendors ------------------------------------------------------------------------------------


def test_it_creates_a_vendor(manager) -> None:
    vendor = services.vendor_create(
        user=manager, data={"code": "telema", "name": "テレマ", "contact_email": "a@telema.jp"}
    )
    assert Vendor.objects.values_list("code", "name", "contact_email").get(pk=vendor.pk) == (
        "telema",
        "テレマ",
        "a@telema.jp",
    )


def test_it_refuses_a_vendor_to_a_supervisor_and_writes_nothing(supervisor) -> None:
    with pytest.raises(ServiceError) as refused:
        services.vendor_create(user=supervisor, data={"code": "telema", "name": "テレマ"})
    assert refused.value.status == 403
    assert [p.code for p in refused.value.problems] == ["forbidden"]
    assert Vendor.objects.count() == 0


def test_it_refuses_a_duplicate_code_and_a_bad_email_and_writes_nothing(manager, vendor_a) -> None:
    with pytest.raises(ServiceError) as refused:
        services.vendor_create(
            user=manager, data={"code": "callnavi", "name": "x", "contact_email": "nope"}
        )
    assert refused.value.status == 400
    assert sorted(p.field for p in refused.value.problems) == ["code", "contact_email"]
    assert Vendor.objects.count() == 1


def test_it_refuses_an_unknown_field(manager, vendor_a) -> None:
    with pytest.raises(ServiceError) as refused:
        services.vendor_update(user=manager, vendor=vendor_a, data={"id": 99})
    assert [p.field for p in refused.value.problems] == ["id"]
    assert Vendor.objects.get().pk == vendor_a.pk


def test_it_renames_a_vendor_and_leaves_a_tombstone_for_the_old_code(manager, vendor_a) -> None:
    services.vendor_update(user=manager, vendor=vendor_a, data={"code": "callnavi-jp"})
    assert Vendor.objects.get().code == "callnavi-jp"
    assert tombstones() == [("vendor", "callnavi"), (f"vendor@{vendor_a.pk}", "callnavi")]


def test_it_changes_a_name_without_a_tombstone(manager, vendor_a) -> None:
    services.vendor_update(user=manager, vendor=vendor_a, data={"name": "コールナビ株式会社"})
    assert Vendor.objects.get().name == "コールナビ株式会社"
    assert tombstones() == []


def test_it_refuses_to_delete_a_vendor_that_has_engagements(manager, engagement_a) -> None:
    with pytest.raises(ServiceError) as refused:
        services.vendor_delete(user=manager, vendor=engagement_a.vendor)
    assert refused.value.status == 409
    assert [p.code for p in refused.value.problems] == ["in_use"]
    assert Vendor.objects.filter(code="callnavi").exists()
    assert tombstones() == []


def test_it_deletes_a_vendor_with_its_tombstones(manager, vendor_b) -> None:
    pk = vendor_b.pk
    services.vendor_delete(user=manager, vendor=vendor_b)
    assert Vendor.objects.count() == 0
    assert tombstones() == [("vendor", "adbridge"), (f"vendor@{pk}", "adbridge")]


# -- engagements --------------------------------------------------------------------------------


def test_it_creates_an_engagement_on_first_days_of_months(manager, vendor_a) -> None:
    engagement = services.engagement_create(
        user=manager,
        data=engagement_data(vendor_a, start_month=dt.date(2026, 7, 15), manager=manager),
    )
    engagement.refresh_from_db()
    assert (engagement.start_month, engagement.manager, engagement.actuals_due_day) == (
        dt.date(2026, 7, 1),
        manager,
        10,
    )


def test_it_refuses_an_end_before_the_start_and_writes_nothing(manager, vendor_a) -> None:
    with pytest.raises(ServiceError) as refused:
        services.engagement_create(
            user=manager, data=engagement_data(vendor_a, end_month=dt.date(2026, 6, 1))
        )
    assert [(p.field, p.message) for p in refused.value.problems] == [
        ("end_month", "終了月が開始月より前です。")
    ]
    assert Engagement.objects.count() == 0


def test_it_tells_the_old_vendor_of_an_engagement_moved_away(
    manager, engagement_a, vendor_b
) -> None:
    old_vendor = engagement_a.vendor_id
    services.engagement_update(user=manager, engagement=engagement_a, data={"vendor": vendor_b})
    assert Engagement.objects.get().vendor == vendor_b
    assert tombstones() == [(f"engagement@{old_vendor}", "CALL-1")]


def test_it_refuses_a_manager_in_charge_without_the_role_and_changes_nothing(
    manager, engagement_a, supervisor
) -> None:
    with pytest.raises(ServiceError) as refused:
        services.engagement_update(
            user=manager, engagement=engagement_a, data={"manager": supervisor, "name": "x"}
        )
    # The field's own choices (limit_choices_to) and Engagement.clean both say so.
    assert [p.field for p in refused.value.problems] == ["manager", "manager"]
    assert Engagement.objects.values_list("name", "manager").get() == ("テレアポ", None)


def test_it_deletes_an_engagement_with_its_tombstones(manager, engagement_b) -> None:
    services.engagement_delete(user=manager, engagement=engagement_b)
    assert Engagement.objects.count() == 0
    assert tombstones() == [
        ("engagement", "ADS-1"),
        (f"engagement@{engagement_b.vendor_id}", "ADS-1"),
    ]


# -- users --------------------------------------------------------------------------------------


def test_it_creates_a_user_with_a_hashed_password(manager, vendor_a) -> None:
    account = services.user_create(
        user=manager,
        data={"username": "tanaka", "role": Role.VENDOR, "vendor": vendor_a},
        password=STRONG,
    )
    account = User.objects.get(username="tanaka")
    assert account.check_password(STRONG)
    assert (account.role, account.vendor, account.is_staff) == (Role.VENDOR, vendor_a, False)


def test_it_refuses_a_password_like_the_username_and_creates_no_user(manager) -> None:
    with pytest.raises(ServiceError) as refused:
        services.user_create(
            user=manager, data={"username": "tanaka.makoto"}, password="tanaka.makoto"
        )
    assert [(p.field, p.message) for p in refused.value.problems] == [
        ("password", "このパスワードは ユーザー名 と似すぎています。")
    ]
    assert not User.objects.filter(username="tanaka.makoto").exists()


def test_it_creates_a_user_without_password_login(manager) -> None:
    services.user_create(user=manager, data={"username": "sso"}, password=None)
    assert User.objects.get(username="sso").has_usable_password() is False


def test_it_refuses_a_weak_new_password_and_keeps_the_old_one(manager, vendor_user) -> None:
    with pytest.raises(ServiceError) as refused:
        services.user_update(user=manager, account=vendor_user, data={}, password="12345678")
    assert {p.field for p in refused.value.problems} == {"password"}
    assert User.objects.get(username="vend").check_password("pw-vend")


def test_it_refuses_to_demote_or_deactivate_your_own_account(manager) -> None:
    with pytest.raises(ServiceError) as refused:
        services.user_update(
            user=manager, account=manager, data={"role": Role.VIEWER, "is_active": False}
        )
    assert refused.value.status == 400
    assert [p.field for p in refused.value.problems] == ["is_active", "role"]
    assert User.objects.values_list("role", "is_active").get(username="mgr") == (
        Role.MANAGER,
        True,
    )


def test_it_lets_another_manager_demote_a_manager(manager) -> None:
    other = make_user("mgr2", Role.MANAGER)
    services.user_update(user=manager, account=other, data={"role": Role.SUPERVISOR})
    assert User.objects.values_list("role", "is_staff").get(username="mgr2") == (
        Role.SUPERVISOR,
        False,
    )


def test_it_renames_a_user_and_leaves_a_tombstone(manager, supervisor) -> None:
    services.user_update(user=manager, account=supervisor, data={"username": "sato"})
    assert User.objects.filter(username="sato").exists()
    assert tombstones() == [("user", "sv")]


def test_it_refuses_to_delete_your_own_account(manager) -> None:
    with pytest.raises(ServiceError) as refused:
        services.user_delete(user=manager, account=manager)
    assert refused.value.status == 409
    assert User.objects.filter(username="mgr").exists()
    assert tombstones() == []


def test_it_deletes_a_user_with_a_tombstone(manager, vendor_user) -> None:
    services.user_delete(user=manager, account=vendor_user)
    assert not User.objects.filter(username="vend").exists()
    assert tombstones() == [("user", "vend")]


def test_it_lets_the_system_write_without_a_role(db) -> None:
    account = services.user_create(
        user=SYSTEM, data={"username": "manager", "role": Role.MANAGER}, password=STRONG
    )
    assert User.objects.get(pk=account.pk).is_staff is True


# -- through the API ----------------------------------------------------------------------------


def test_it_refuses_an_api_user_whose_password_is_its_username(manager) -> None:
    api = APIClient()
    api.force_authenticate(manager)
    r = api.post(
        "/api/v1/users/",
        {"username": "tanaka.makoto", "password": "tanaka.makoto", "role": "viewer"},
        format="json",
    )
    assert r.status_code == 400
    assert r.json() == {
        "errors": [
            {"field": "password", "message": "このパスワードは ユーザー名 と似すぎています。"}
        ]
    }
    assert not User.objects.filter(username="tanaka.makoto").exists()
