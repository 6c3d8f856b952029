"""The admin writes vendors, engagements, users and trees through their services."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client

from engagements.models import Role, User, Vendor
from kpi_planner.models import Tombstone
from tests.factories import TreeFactory

STRONG = "Kpi-Planner-2026!"


@pytest.fixture
def admin_client(client: Client, manager) -> Client:
    client.force_login(manager)
    return client


def test_it_adds_a_vendor(admin_client) -> None:
    r = admin_client.post(
        "/admin/engagements/vendor/add/", {"code": "telema", "name": "テレマ", "contact_email": ""}
    )
    assert r.status_code == 302
    assert Vendor.objects.values_list("code", "name").get() == ("telema", "テレマ")


def test_it_renames_a_vendor_with_a_tombstone_as_the_api_does(admin_client, vendor_a) -> None:
    r = admin_client.post(
        f"/admin/engagements/vendor/{vendor_a.pk}/change/",
        {"code": "callnavi-jp", "name": vendor_a.name, "contact_email": ""},
    )
    assert r.status_code == 302
    assert Vendor.objects.get().code == "callnavi-jp"
    assert sorted(Tombstone.objects.values_list("kind", "code")) == [
        ("vendor", "callnavi"),
        (f"vendor@{vendor_a.pk}", "callnavi"),
    ]


def test_it_deletes_selected_vendors_with_their_tombstones(admin_client, vendor_a, vendor_b):
    r = admin_client.post(
        "/admin/engagements/vendor/",
        {
            "action": "delete_selected",
            "_selected_action": [vendor_a.pk, vendor_b.pk],
            "post": "yes",
        },
    )
    assert r.status_code == 302
    assert Vendor.objects.count() == 0
    assert sorted(Tombstone.objects.filter(kind="vendor").values_list("code", flat=True)) == [
        "adbridge",
        "callnavi",
    ]


def test_it_adds_a_user_only_with_a_valid_password(admin_client) -> None:
    form = {
        "username": "tanaka.makoto",
        "usable_password": "true",
        "password1": "tanaka.makoto",
        "password2": "tanaka.makoto",
        "role": Role.VIEWER,
        "language": "ja",
    }
    assert admin_client.post("/admin/engagements/user/add/", form).status_code == 200
    assert not User.objects.filter(username="tanaka.makoto").exists()
    form |= {"password1": STRONG, "password2": STRONG}
    assert admin_client.post("/admin/engagements/user/add/", form).status_code == 302
    assert User.objects.get(username="tanaka.makoto").check_password(STRONG)


def test_it_refuses_to_demote_your_own_account(admin_client, manager) -> None:
    r = admin_client.post(
        f"/admin/engagements/user/{manager.pk}/change/",
        {
            "username": "mgr",
            "role": Role.VIEWER,
            "language": "ja",
            "is_active": "on",
            "date_joined_0": "2026-04-01",
            "date_joined_1": "09:00:00",
        },
    )
    assert r.status_code == 200
    assert r.context["adminform"].form.errors["role"] == [
        "自分自身のマネージャー権限は外せません。他のマネージャーに依頼してください。"
    ]
    assert User.objects.get(pk=manager.pk).role == Role.MANAGER


def test_it_refuses_to_delete_your_own_account(admin_client, manager) -> None:
    r = admin_client.post(f"/admin/engagements/user/{manager.pk}/delete/", {"post": "yes"})
    assert r.status_code == 403
    assert User.objects.filter(pk=manager.pk).exists()


def test_it_changes_a_password_through_the_service(admin_client, vendor_user) -> None:
    url = f"/admin/engagements/user/{vendor_user.pk}/password/"
    weak = {"password1": "vend", "password2": "vend"}
    assert admin_client.post(url, weak).status_code == 200
    assert User.objects.get(pk=vendor_user.pk).check_password("pw-vend")
    assert admin_client.post(url, {"password1": STRONG, "password2": STRONG}).status_code == 302
    assert User.objects.get(pk=vendor_user.pk).check_password(STRONG)


def test_it_marks_a_tree_stale_when_its_months_change(admin_client) -> None:
    tree = TreeFactory(code="T", name="t")
    form = {
        "code": "T",
        "name": "renamed",
        "description": "",
        "start_month": "2026-04-01",
        "end_month": "2027-03-01",
        "fiscal_year_start": 4,
        "green_threshold": 100,
        "amber_threshold": 90,
        "score_cap": 120,
    }
    assert admin_client.post(f"/admin/kpitree/tree/{tree.pk}/change/", form).status_code == 302
    tree.refresh_from_db()
    assert (tree.name, tree.is_stale) == ("renamed", False)
    form["end_month"] = "2027-06-01"
    assert admin_client.post(f"/admin/kpitree/tree/{tree.pk}/change/", form).status_code == 302
    tree.refresh_from_db()
    assert (tree.end_month, tree.is_stale) == (dt.date(2027, 6, 1), True)
