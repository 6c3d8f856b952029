"""users/ and users/{username}/: manager only."""

import pytest
from django.utils import timezone

from engagements.models import User
from tests.api.helpers import counts, errors_of

STRONG = "Kpi-Planner-2026!"


def new_user(**extra) -> dict:
    return {
        "username": "tanaka",
        "password": STRONG,
        "role": "vendor",
        "vendor": "callnavi",
        "email": "tanaka@callnavi.example.jp",
        "language": "en",
        **extra,
    }


def test_it_lists_users_for_a_manager(mgr_api, vendor_user):
    r = mgr_api.get("/api/v1/users/")
    assert r.status_code == 200
    assert [(u["username"], u["role"], u["vendor"]) for u in r.json()["results"]] == [
        ("mgr", "manager", None),
        ("vend", "vendor", "callnavi"),
    ]
    assert "password" not in r.json()["results"][0]


@pytest.mark.parametrize("caller", ["sv_api", "vendor_api", "viewer_api"])
def test_it_refuses_users_to_anyone_but_a_manager(request, manager, caller):
    api = request.getfixturevalue(caller)
    assert api.get("/api/v1/users/").status_code == 403
    assert api.get("/api/v1/users/mgr/").status_code == 403
    assert api.post("/api/v1/users/", new_user()).status_code == 403
    assert api.patch("/api/v1/users/mgr/", {"email": "x@example.jp"}).status_code == 403
    assert api.delete("/api/v1/users/mgr/").status_code == 403
    assert User.objects.get(username="mgr").email == ""


def test_it_creates_a_user_with_a_hashed_password(mgr_api, vendor_a):
    r = mgr_api.post("/api/v1/users/", new_user(first_name="健", last_name="佐藤"))
    assert r.status_code == 201
    body = r.json()
    assert "password" not in body
    assert (body["username"], body["role"], body["vendor"], body["language"]) == (
        "tanaka",
        "vendor",
        "callnavi",
        "en",
    )
    assert (body["first_name"], body["last_name"]) == ("健", "佐藤")
    user = User.objects.get(username="tanaka")
    assert user.check_password(STRONG)
    assert user.vendor == vendor_a


def test_it_refuses_a_vendor_user_without_a_vendor(mgr_api, manager):
    before = counts(User)
    r = mgr_api.post("/api/v1/users/", new_user(vendor=None))
    assert r.status_code == 400
    assert errors_of(r) == [{"field": "vendor"}]
    assert counts(User) == before


def test_it_refuses_a_user_without_a_password(mgr_api, vendor_a):
    data = new_user()
    del data["password"]
    r = mgr_api.post("/api/v1/users/", data)
    assert r.status_code == 400
    assert errors_of(r) == [{"field": "password"}]
    assert not User.objects.filter(username="tanaka").exists()


def test_it_refuses_a_weak_password_and_a_bad_role_and_language(mgr_api, vendor_a):
    r = mgr_api.post("/api/v1/users/", new_user(password="123", role="boss", language="fr"))
    assert r.status_code == 400
    assert sorted({e["field"] for e in errors_of(r)}) == ["language", "password", "role"]
    assert not User.objects.filter(username="tanaka").exists()


def test_it_refuses_an_unknown_vendor_code(mgr_api, db, manager):
    r = mgr_api.post("/api/v1/users/", new_user(vendor="nobody"))
    assert r.status_code == 400
    assert errors_of(r) == [{"field": "vendor"}]


def test_it_changes_a_role_and_a_password(mgr_api, vendor_user):
    r = mgr_api.patch("/api/v1/users/vend/", {"role": "viewer", "password": STRONG})
    assert r.status_code == 200
    assert r.json()["role"] == "viewer"
    vendor_user.refresh_from_db()
    assert vendor_user.role == "viewer"
    assert vendor_user.check_password(STRONG)


def test_it_refuses_a_supervisor_bound_to_a_vendor(mgr_api, supervisor, vendor_a):
    r = mgr_api.patch("/api/v1/users/sv/", {"vendor": "callnavi"})
    assert r.status_code == 400
    assert errors_of(r) == [{"field": "vendor"}]
    supervisor.refresh_from_db()
    assert supervisor.vendor is None


def test_it_refuses_a_stale_if_match(mgr_api, vendor_user):
    etag = mgr_api.get("/api/v1/users/vend/")["ETag"]
    assert (
        mgr_api.patch(
            "/api/v1/users/vend/", {"email": "a@callnavi.example.jp"}, HTTP_IF_MATCH=etag
        ).status_code
        == 200
    )
    r = mgr_api.patch("/api/v1/users/vend/", {"email": "b@callnavi.example.jp"}, HTTP_IF_MATCH=etag)
    assert r.status_code == 409
    assert errors_of(r) == [{"field": None}]
    assert User.objects.get(username="vend").email == "a@callnavi.example.jp"


def test_it_deletes_a_user_and_reports_it_as_a_tombstone(mgr_api, vendor_user):
    since = timezone.now()
    assert mgr_api.delete("/api/v1/users/vend/").status_code == 204
    assert not User.objects.filter(username="vend").exists()
    rows = mgr_api.get("/api/v1/users/", {"updated_since": since.isoformat()}).json()["results"]
    assert [
        (u.get("username"), u.get("code"), u.get("deleted")) for u in rows if u.get("deleted")
    ] == [(None, "vend", True)]


def test_it_answers_404_for_an_unknown_username(mgr_api):
    r = mgr_api.get("/api/v1/users/nobody/")
    assert r.status_code == 404
    assert errors_of(r) == [{"field": None}]


def test_it_lists_only_users_changed_since_a_time(mgr_api, vendor_user, supervisor):
    since = timezone.now()
    assert (
        mgr_api.patch("/api/v1/users/vend/", {"email": "new@callnavi.example.jp"}).status_code
        == 200
    )
    rows = mgr_api.get("/api/v1/users/", {"updated_since": since.isoformat()}).json()["results"]
    assert [u["username"] for u in rows] == ["vend"]
