"""vendors/ and vendors/{code}/."""

import pytest
from django.utils import timezone

from engagements.models import Vendor
from kpi_planner.models import Tombstone
from tests.api.helpers import codes, counts, errors_of

NAME = "株式会社テレマ・ジャパン（東京）"


def test_it_creates_a_vendor_and_keeps_japanese_text_unchanged(mgr_api, db):
    r = mgr_api.post(
        "/api/v1/vendors/",
        {"code": "telema.jp", "name": NAME, "contact_email": "info@telema.example.jp"},
    )
    assert r.status_code == 201
    assert NAME.encode() in r.content
    got = mgr_api.get("/api/v1/vendors/telema.jp/").json()
    assert (got["code"], got["name"], got["contact_email"]) == (
        "telema.jp",
        NAME,
        "info@telema.example.jp",
    )
    assert Vendor.objects.get(code="telema.jp").name == NAME


@pytest.mark.parametrize("code", ["bad code!", "", "a" * 65, "日本語"])
def test_it_refuses_a_bad_code(mgr_api, db, code):
    r = mgr_api.post("/api/v1/vendors/", {"code": code, "name": "x"})
    assert r.status_code == 400
    assert {e["field"] for e in errors_of(r)} == {"code"}
    assert counts(Vendor) == {"Vendor": 0}


def test_it_refuses_a_duplicate_code_and_a_bad_email(mgr_api, vendor_a):
    r = mgr_api.post("/api/v1/vendors/", {"code": "callnavi", "name": "x", "contact_email": "nope"})
    assert r.status_code == 400
    assert errors_of(r) == [{"field": "code"}, {"field": "contact_email"}]
    assert counts(Vendor) == {"Vendor": 1}


def test_it_changes_a_vendor_by_code(mgr_api, vendor_a):
    r = mgr_api.patch("/api/v1/vendors/callnavi/", {"name": "コールナビ株式会社"})
    assert r.status_code == 200
    assert r.json()["name"] == "コールナビ株式会社"
    vendor_a.refresh_from_db()
    assert vendor_a.name == "コールナビ株式会社"


def test_it_refuses_to_delete_a_vendor_that_has_engagements(mgr_api, engagement_a):
    r = mgr_api.delete("/api/v1/vendors/callnavi/")
    assert r.status_code == 409
    assert errors_of(r) == [{"field": None}]
    assert Vendor.objects.filter(code="callnavi").exists()
    assert Tombstone.objects.count() == 0


def test_it_refuses_to_delete_a_vendor_that_has_users(mgr_api, vendor_user):
    assert mgr_api.delete("/api/v1/vendors/callnavi/").status_code == 409
    assert Vendor.objects.filter(code="callnavi").exists()


def test_it_deletes_an_unused_vendor(mgr_api, vendor_b):
    assert mgr_api.delete("/api/v1/vendors/adbridge/").status_code == 204
    assert not Vendor.objects.exists()
    assert mgr_api.get("/api/v1/vendors/adbridge/").status_code == 404


def test_it_shows_a_vendor_user_only_its_own_vendor(vendor_api, vendor_b):
    r = vendor_api.get("/api/v1/vendors/")
    assert codes(r) == ["callnavi"]
    assert vendor_api.get("/api/v1/vendors/callnavi/").status_code == 200
    r = vendor_api.get("/api/v1/vendors/adbridge/")
    assert r.status_code == 404
    assert errors_of(r) == [{"field": None}]


def test_it_answers_403_to_a_vendor_changing_its_own_vendor_and_404_for_another(
    vendor_api, vendor_b
):
    assert vendor_api.patch("/api/v1/vendors/callnavi/", {"name": "x"}).status_code == 403
    assert vendor_api.patch("/api/v1/vendors/adbridge/", {"name": "x"}).status_code == 404
    assert vendor_api.delete("/api/v1/vendors/adbridge/").status_code == 404
    assert vendor_api.delete("/api/v1/vendors/nobody/").status_code == 404
    assert vendor_api.post("/api/v1/vendors/", {"code": "new", "name": "x"}).status_code == 403
    assert sorted(Vendor.objects.values_list("name", flat=True)) == [
        "株式会社アドブリッジ",
        "株式会社コールナビ",
    ]


def test_it_lets_a_supervisor_read_everything_and_write_nothing(sv_api, vendor_a, vendor_b):
    assert codes(sv_api.get("/api/v1/vendors/")) == ["callnavi", "adbridge"]
    assert sv_api.get("/api/v1/vendors/adbridge/").status_code == 200
    assert sv_api.post("/api/v1/vendors/", {"code": "new", "name": "x"}).status_code == 403
    r = sv_api.patch("/api/v1/vendors/adbridge/", {"name": "x"})
    assert r.status_code == 403
    assert errors_of(r) == [{"field": None}]
    assert sv_api.delete("/api/v1/vendors/adbridge/").status_code == 403
    assert counts(Vendor) == {"Vendor": 2}
    assert Vendor.objects.get(code="adbridge").name == "株式会社アドブリッジ"


def test_it_pages_with_a_next_cursor(mgr_api, vendor_a, vendor_b):
    Vendor.objects.create(code="third", name="3")
    first = mgr_api.get("/api/v1/vendors/", {"page_size": 2}).json()
    assert [v["code"] for v in first["results"]] == ["callnavi", "adbridge"]
    assert first["next"]
    second = mgr_api.get(first["next"]).json()
    assert [v["code"] for v in second["results"]] == ["third"]
    assert second["next"] is None


def test_it_returns_only_what_changed_since_with_deletions_as_tombstones(
    mgr_api, vendor_a, vendor_b
):
    Vendor.objects.create(code="third", name="3")
    since = timezone.now()
    assert mgr_api.patch("/api/v1/vendors/callnavi/", {"name": "新しい名前"}).status_code == 200
    assert mgr_api.delete("/api/v1/vendors/third/").status_code == 204
    rows = mgr_api.get("/api/v1/vendors/", {"updated_since": since.isoformat()}).json()["results"]
    assert [(r["code"], r.get("name"), r.get("deleted")) for r in rows] == [
        ("callnavi", "新しい名前", None),
        ("third", None, True),
    ]


def test_it_returns_nothing_when_nothing_changed(mgr_api, vendor_a):
    since = timezone.now()
    assert (
        mgr_api.get("/api/v1/vendors/", {"updated_since": since.isoformat()}).json()["results"]
        == []
    )


def test_it_accepts_an_unencoded_plus_in_updated_since(mgr_api, vendor_a):
    r = mgr_api.get("/api/v1/vendors/?updated_since=2000-01-01T00:00:00+09:00")
    assert r.status_code == 200
    assert codes(r) == ["callnavi"]


@pytest.mark.parametrize("since", ["yesterday", "2026-13-01T00:00:00", "2026-02-30T10:00:00+09:00"])
def test_it_refuses_a_malformed_updated_since(mgr_api, vendor_a, since):
    r = mgr_api.get("/api/v1/vendors/", {"updated_since": since})
    assert r.status_code == 400
    assert errors_of(r) == [{"field": "updated_since"}]


def test_it_hides_other_vendors_deletions_from_a_vendor_user(mgr_api, vendor_api, vendor_b):
    since = timezone.now()
    assert mgr_api.delete("/api/v1/vendors/adbridge/").status_code == 204
    assert (
        vendor_api.get("/api/v1/vendors/", {"updated_since": since.isoformat()}).json()["results"]
        == []
    )


def test_it_sends_an_etag_and_refuses_a_stale_if_match(mgr_api, vendor_a):
    r = mgr_api.get("/api/v1/vendors/callnavi/")
    etag = r["ETag"]
    assert etag.startswith('"')
    Vendor.objects.filter(pk=vendor_a.pk).update(
        name="changed elsewhere", updated_at=timezone.now()
    )
    r = mgr_api.patch("/api/v1/vendors/callnavi/", {"name": "mine"}, HTTP_IF_MATCH=etag)
    assert r.status_code == 409
    assert errors_of(r) == [{"field": None}]
    assert Vendor.objects.get(pk=vendor_a.pk).name == "changed elsewhere"
    current = mgr_api.get("/api/v1/vendors/callnavi/")["ETag"]
    assert current != etag
    r = mgr_api.patch("/api/v1/vendors/callnavi/", {"name": "mine"}, HTTP_IF_MATCH=current)
    assert r.status_code == 200
    assert r["ETag"] != current
    assert Vendor.objects.get(pk=vendor_a.pk).name == "mine"


def test_it_refuses_a_delete_with_a_stale_if_match(mgr_api, vendor_a):
    etag = mgr_api.get("/api/v1/vendors/callnavi/")["ETag"]
    assert mgr_api.patch("/api/v1/vendors/callnavi/", {"name": "x"}).status_code == 200
    assert mgr_api.delete("/api/v1/vendors/callnavi/", HTTP_IF_MATCH=etag).status_code == 409
    assert Vendor.objects.filter(code="callnavi").exists()


def test_it_renames_a_vendor_and_reports_the_old_code_as_deleted(mgr_api, vendor_api, vendor_a):
    since = timezone.now()
    r = mgr_api.patch("/api/v1/vendors/callnavi/", {"code": "callnavi-jp"})
    assert r.status_code == 200
    assert r.json()["code"] == "callnavi-jp"
    assert r["ETag"] == mgr_api.get("/api/v1/vendors/callnavi-jp/")["ETag"]
    assert mgr_api.get("/api/v1/vendors/callnavi/").status_code == 404
    rows = mgr_api.get("/api/v1/vendors/", {"updated_since": since.isoformat()}).json()["results"]
    assert [(r["code"], r.get("deleted")) for r in rows] == [
        ("callnavi-jp", None),
        ("callnavi", True),
    ]
    rows = vendor_api.get("/api/v1/vendors/", {"updated_since": since.isoformat()}).json()[
        "results"
    ]
    assert [(r["code"], r.get("deleted")) for r in rows] == [
        ("callnavi-jp", None),
        ("callnavi", True),
    ]
