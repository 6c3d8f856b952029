"""engagements/ and engagements/{code}/: months written YYYY-MM."""

import datetime as dt

import pytest
from django.utils import timezone

from engagements.models import Engagement
from kpi_planner.models import Tombstone
from tests.api.helpers import codes, counts, errors_of


def new_engagement(**extra) -> dict:
    return {
        "code": "CALL-2",
        "name": "インバウンド窓口（第2期）",
        "vendor": "callnavi",
        "outsourcing_type": "support",
        "phase": "launch",
        "start_month": "2026-04",
        "end_month": "2027-03",
        "monthly_fee": 1_500_000,
        "actuals_due_day": 5,
        "review_cadence": "monthly",
        **extra,
    }


def test_it_creates_an_engagement_with_months(mgr_api, vendor_a):
    r = mgr_api.post("/api/v1/engagements/", new_engagement())
    assert r.status_code == 201
    body = r.json()
    assert {k: body[k] for k in new_engagement()} == new_engagement()
    e = Engagement.objects.get(code="CALL-2")
    assert (e.start_month, e.end_month, e.vendor.code, e.monthly_fee) == (
        dt.date(2026, 4, 1),
        dt.date(2027, 3, 1),
        "callnavi",
        1_500_000,
    )
    assert "インバウンド窓口（第2期）".encode() in r.content


def test_it_reads_an_engagement_by_code(mgr_api, engagement_a):
    body = mgr_api.get("/api/v1/engagements/CALL-1/").json()
    assert (body["code"], body["name"], body["vendor"], body["start_month"], body["end_month"]) == (
        "CALL-1",
        "テレアポ",
        "callnavi",
        "2026-04",
        "2027-03",
    )


@pytest.mark.parametrize(
    "extra,fields",
    [
        ({"code": "bad code!"}, ["code"]),
        ({"start_month": "2026-13"}, ["start_month"]),
        ({"start_month": "2026-04-01"}, ["start_month"]),
        ({"start_month": "2026-4"}, ["start_month"]),
        ({"start_month": "0001-01"}, ["start_month"]),
        ({"end_month": "9999-12"}, ["end_month"]),
        ({"start_month": 202604, "end_month": None}, ["start_month", "end_month"]),
        ({"start_month": "2027-04"}, ["end_month"]),
        ({"vendor": "nobody"}, ["vendor"]),
        ({"outsourcing_type": "consulting", "phase": "maturity"}, ["outsourcing_type", "phase"]),
        ({"actuals_due_day": 29, "monthly_fee": -1}, ["monthly_fee", "actuals_due_day"]),
        ({"review_cadence": "weekly"}, ["review_cadence"]),
        ({"code": "CALL-1"}, ["code"]),
    ],
)
def test_it_refuses_bad_input(mgr_api, engagement_a, extra, fields):
    r = mgr_api.post("/api/v1/engagements/", new_engagement(**extra))
    assert r.status_code == 400
    assert [e["field"] for e in errors_of(r)] == fields
    assert counts(Engagement) == {"Engagement": 1}


def test_it_changes_a_month(mgr_api, engagement_a):
    r = mgr_api.patch("/api/v1/engagements/CALL-1/", {"end_month": "2027-09"})
    assert r.status_code == 200
    assert r.json()["end_month"] == "2027-09"
    engagement_a.refresh_from_db()
    assert engagement_a.end_month == dt.date(2027, 9, 1)


def test_it_refuses_a_patch_that_ends_before_the_start(mgr_api, engagement_a):
    r = mgr_api.patch("/api/v1/engagements/CALL-1/", {"end_month": "2026-01"})
    assert r.status_code == 400
    assert errors_of(r) == [{"field": "end_month"}]
    engagement_a.refresh_from_db()
    assert engagement_a.end_month == dt.date(2027, 3, 1)


def test_it_shows_a_vendor_user_only_its_engagements(vendor_api, engagement_a, engagement_b):
    assert codes(vendor_api.get("/api/v1/engagements/")) == ["CALL-1"]
    assert vendor_api.get("/api/v1/engagements/CALL-1/").status_code == 200
    assert vendor_api.get("/api/v1/engagements/ADS-1/").status_code == 404
    assert codes(vendor_api.get("/api/v1/engagements/", {"vendor__code": "adbridge"})) == []


def test_it_answers_a_vendor_403_for_its_engagement_and_404_for_another(
    vendor_api, engagement_a, engagement_b
):
    assert vendor_api.patch("/api/v1/engagements/CALL-1/", {"monthly_fee": 1}).status_code == 403
    assert vendor_api.patch("/api/v1/engagements/ADS-1/", {"monthly_fee": 1}).status_code == 404
    assert vendor_api.delete("/api/v1/engagements/ADS-1/").status_code == 404
    assert sorted(Engagement.objects.values_list("monthly_fee", flat=True)) == [800_000, 1_200_000]


def test_it_lets_a_supervisor_read_but_not_write(sv_api, engagement_a, engagement_b):
    assert codes(sv_api.get("/api/v1/engagements/")) == ["CALL-1", "ADS-1"]
    assert sv_api.post("/api/v1/engagements/", new_engagement()).status_code == 403
    assert sv_api.patch("/api/v1/engagements/ADS-1/", {"name": "x"}).status_code == 403
    assert sv_api.delete("/api/v1/engagements/ADS-1/").status_code == 403
    assert counts(Engagement) == {"Engagement": 2}


def test_it_filters_by_vendor_code(mgr_api, engagement_a, engagement_b):
    assert codes(mgr_api.get("/api/v1/engagements/", {"vendor__code": "adbridge"})) == ["ADS-1"]


def test_it_pages_with_a_next_cursor(mgr_api, engagement_a, engagement_b):
    assert mgr_api.post("/api/v1/engagements/", new_engagement()).status_code == 201
    first = mgr_api.get("/api/v1/engagements/", {"page_size": 2}).json()
    assert len(first["results"]) == 2
    assert first["next"]
    assert [e["code"] for e in mgr_api.get(first["next"]).json()["results"]] == ["CALL-2"]


def test_it_refuses_to_delete_an_engagement_that_owns_nodes(mgr_api, rev_tree):
    r = mgr_api.delete("/api/v1/engagements/CALL-1/")
    assert r.status_code == 409
    assert errors_of(r) == [{"field": None}]
    assert Engagement.objects.filter(code="CALL-1").exists()
    assert not Tombstone.objects.filter(kind__startswith="engagement").exists()


def test_it_syncs_changes_and_deletions(mgr_api, engagement_a, engagement_b):
    since = timezone.now()
    assert mgr_api.patch("/api/v1/engagements/CALL-1/", {"phase": "expansion"}).status_code == 200
    assert mgr_api.delete("/api/v1/engagements/ADS-1/").status_code == 204
    rows = mgr_api.get("/api/v1/engagements/", {"updated_since": since.isoformat()}).json()[
        "results"
    ]
    assert [(r["code"], r.get("phase"), r.get("deleted")) for r in rows] == [
        ("CALL-1", "expansion", None),
        ("ADS-1", None, True),
    ]


def test_it_shows_a_vendor_user_only_its_own_deletions(
    mgr_api, vendor_api, engagement_a, engagement_b
):
    since = timezone.now()
    assert mgr_api.delete("/api/v1/engagements/ADS-1/").status_code == 204
    assert mgr_api.delete("/api/v1/engagements/CALL-1/").status_code == 204
    rows = vendor_api.get("/api/v1/engagements/", {"updated_since": since.isoformat()}).json()[
        "results"
    ]
    assert [(r["code"], r["deleted"]) for r in rows] == [("CALL-1", True)]


def test_it_refuses_a_stale_if_match(mgr_api, engagement_a):
    etag = mgr_api.get("/api/v1/engagements/CALL-1/")["ETag"]
    assert (
        mgr_api.patch(
            "/api/v1/engagements/CALL-1/", {"monthly_fee": 1}, HTTP_IF_MATCH=etag
        ).status_code
        == 200
    )
    assert (
        mgr_api.patch(
            "/api/v1/engagements/CALL-1/", {"monthly_fee": 2}, HTTP_IF_MATCH=etag
        ).status_code
        == 409
    )
    assert Engagement.objects.get(code="CALL-1").monthly_fee == 1


def test_it_tells_the_old_vendor_when_an_engagement_moves_away(
    mgr_api, vendor_api, other_vendor_api, engagement_a, vendor_b
):
    since = timezone.now()
    assert mgr_api.patch("/api/v1/engagements/CALL-1/", {"vendor": "adbridge"}).status_code == 200
    assert vendor_api.get("/api/v1/engagements/CALL-1/").status_code == 404
    rows = vendor_api.get("/api/v1/engagements/", {"updated_since": since.isoformat()}).json()[
        "results"
    ]
    assert [(r["code"], r.get("deleted")) for r in rows] == [("CALL-1", True)]
    rows = other_vendor_api.get(
        "/api/v1/engagements/", {"updated_since": since.isoformat()}
    ).json()["results"]
    assert [(r["code"], r["vendor"], r.get("deleted")) for r in rows] == [
        ("CALL-1", "adbridge", None)
    ]
    rows = mgr_api.get("/api/v1/engagements/", {"updated_since": since.isoformat()}).json()[
        "results"
    ]
    assert [(r["code"], r.get("deleted")) for r in rows] == [("CALL-1", None)]


def test_it_scopes_a_viewer_bound_to_a_vendor_read_only(
    viewer_api, viewer, engagement_a, engagement_b
):
    viewer.vendor = engagement_b.vendor
    viewer.save()
    assert codes(viewer_api.get("/api/v1/engagements/")) == ["ADS-1"]
    assert viewer_api.get("/api/v1/engagements/CALL-1/").status_code == 404
    assert viewer_api.patch("/api/v1/engagements/ADS-1/", {"name": "x"}).status_code == 403
    assert viewer_api.patch("/api/v1/engagements/CALL-1/", {"name": "x"}).status_code == 404
    assert Engagement.objects.get(code="ADS-1").name == "広告運用"


def test_it_refuses_a_manager_in_charge_who_is_not_a_manager(
    db, manager, engagement_a, other_vendor_user
):
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(manager)
    response = client.patch(
        "/api/v1/engagements/CALL-1/", {"manager": other_vendor_user.username}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "manager"
    engagement_a.refresh_from_db()
    assert engagement_a.manager is None
