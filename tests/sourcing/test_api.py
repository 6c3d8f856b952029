"""The sourcing REST endpoints (/api/v1/sourcing/) and their place in the OpenAPI schema."""

from __future__ import annotations

import pytest
from django.utils import translation

from engagements.models import Engagement
from kpitree.models import Target
from sourcing.models import Tender, VendorProposal
from tests.api.conftest import client_for

BASE = "/api/v1/sourcing/tenders/"


@pytest.fixture
def mgr_api(manager):
    manager.language = "en"
    manager.save()
    return client_for(manager)


def test_it_opens_a_round_and_lists_it(mgr_api, supervisor) -> None:
    r = mgr_api.post(
        BASE,
        {
            "name": "Calls 2027",
            "outsourcing_type": "outbound_call",
            "start_month": "2027-04",
            "end_month": "2027-06",
            "outcome_code": "call.orders",
            "kpis": ["call.appt_rate"],
        },
    )
    assert r.status_code == 201, r.content
    body = r.json()
    assert (body["status"], body["start_month"], body["chosen"], body["engagement"]) == (
        "open",
        "2027-04",
        None,
        None,
    )
    assert [k["code"] for k in body["kpis"]] == ["call.orders", "call.appt_rate"]
    assert [t["name"] for t in client_for(supervisor).get(BASE).json()] == ["Calls 2027"]


def test_a_bad_round_answers_every_problem_and_writes_nothing(mgr_api) -> None:
    r = mgr_api.post(
        BASE,
        {
            "name": "x",
            "outsourcing_type": "outbound_call",
            "start_month": "2027-04",
            "end_month": "2027-01",
            "outcome_code": "call.none",
        },
    )
    assert r.status_code == 400
    assert r.json() == {
        "errors": [
            {"field": "end_month", "message": "The end month is before the start month."},
            {"field": "outcome_code", "message": "“call.none” is not a KPI of the catalogue."},
        ]
    }
    assert Tender.objects.count() == 0


def test_proposals_are_added_listed_compared_and_withdrawn(mgr_api, tender, vendor_a, past) -> None:
    url = f"{BASE}{tender.pk}/proposals/"
    r = mgr_api.post(
        url,
        {
            "vendor": "callnavi",
            "monthly_price": 1_200_000,
            "promises": [
                {"kpi": "call.orders", "value": 100},
                {"kpi": "call.appt_rate", "value": 12},
            ],
        },
    )
    assert r.status_code == 201, r.content
    first = r.json()
    assert (first["vendor"], first["monthly_price"], first["withdrawn"]) == (
        "callnavi",
        1_200_000,
        False,
    )
    r = mgr_api.post(
        url,
        {
            "new_vendor_name": "Bigtalk Inc.",
            "monthly_price": 900_000,
            "promises": [
                {"kpi": "call.orders", "value": 200},
                {"kpi": "call.appt_rate", "value": 13},
            ],
        },
    )
    assert r.status_code == 201
    assert [p["vendor_name"] for p in mgr_api.get(url).json()] == [
        "株式会社コールナビ",
        "Bigtalk Inc.",
    ]
    comparison = mgr_api.get(f"{BASE}{tender.pk}/comparison/").json()
    assert [
        (c["rank"], c["vendor"], c["cost_per_outcome"], c["unrealistic"])
        for c in comparison["ranking"]
    ] == [(1, "株式会社コールナビ", 12_000, False), (2, "Bigtalk Inc.", 4_500, True)]
    assert comparison["ranking"][0]["reasoning"] == (
        "Lowest cost per unit of outcome among the realistic proposals: ¥12,000 per 件."
    )
    assert [(k["code"], k["past_median"]) for k in comparison["kpis"]] == [
        ("call.orders", 100.0),
        ("call.appt_rate", 12.0),
    ]
    r = mgr_api.post(f"{url}{first['id']}/withdraw/", {"reason": "declined"})
    assert r.status_code == 200
    assert (r.json()["withdrawn"], r.json()["withdraw_reason"]) == (True, "declined")


def test_a_bad_proposal_answers_400_and_writes_nothing(mgr_api, tender) -> None:
    r = mgr_api.post(
        f"{BASE}{tender.pk}/proposals/",
        {
            "new_vendor_name": "X",
            "monthly_price": 1000,
            "promises": [{"kpi": "call.orders", "value": 5}],
        },
    )
    assert r.status_code == 400
    assert r.json()["errors"] == [
        {
            "field": "promises.call.appt_rate",
            "message": "Enter the promised monthly Appointment rate.",
        }
    ]
    assert VendorProposal.objects.count() == 0


def test_choosing_makes_the_engagement(mgr_api, tender, proposals) -> None:
    r = mgr_api.post(
        f"{BASE}{tender.pk}/choose/",
        {"proposal": proposals["callnavi"].pk, "code": "CALL-2027", "manager": "mgr"},
    )
    assert r.status_code == 201, r.content
    assert (r.json()["status"], r.json()["chosen"], r.json()["engagement"]) == (
        "decided",
        proposals["callnavi"].pk,
        "CALL-2027",
    )
    engagement = Engagement.objects.get(code="CALL-2027")
    assert engagement.monthly_fee == 1_200_000
    assert set(
        Target.objects.filter(node__engagement=engagement).values_list("rationale", flat=True)
    ) == {"agreement"}
    again = mgr_api.post(
        f"{BASE}{tender.pk}/choose/", {"proposal": proposals["telecom"].pk, "code": "CALL-2028"}
    )
    assert again.status_code == 409


def test_a_vendor_sees_no_round_and_cannot_write(tender, proposals, vendor_user) -> None:
    api = client_for(vendor_user)
    assert api.get(BASE).json() == []
    for path in ("", "proposals/", "comparison/"):
        assert api.get(f"{BASE}{tender.pk}/{path}").status_code == 404
    r = api.post(f"{BASE}{tender.pk}/choose/", {"proposal": proposals["callnavi"].pk, "code": "X"})
    assert r.status_code == 404
    assert api.post(BASE, {}).status_code in (400, 403)
    assert Engagement.objects.filter(code="X").exists() is False


def test_a_supervisor_reads_and_gets_403_on_a_write(tender, proposals, supervisor) -> None:
    api = client_for(supervisor)
    assert api.get(f"{BASE}{tender.pk}/comparison/").status_code == 200
    r = api.post(f"{BASE}{tender.pk}/proposals/{proposals['telecom'].pk}/withdraw/", {})
    assert r.status_code == 403
    assert VendorProposal.objects.filter(withdrawn_at__isnull=False).count() == 0


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/v1/sourcing/tenders/"),
        ("post", "/api/v1/sourcing/tenders/"),
        ("get", "/api/v1/sourcing/tenders/{tender_id}/"),
        ("get", "/api/v1/sourcing/tenders/{tender_id}/proposals/"),
        ("post", "/api/v1/sourcing/tenders/{tender_id}/proposals/"),
        ("post", "/api/v1/sourcing/tenders/{tender_id}/proposals/{proposal_id}/withdraw/"),
        ("get", "/api/v1/sourcing/tenders/{tender_id}/comparison/"),
        ("post", "/api/v1/sourcing/tenders/{tender_id}/choose/"),
    ],
)
def test_the_schema_lists_the_sourcing_endpoints(mgr_api, method, path) -> None:
    with translation.override("en"):
        schema = mgr_api.get("/api/schema/", {"format": "json"}).json()
    assert method in schema["paths"][path]
    operation = schema["paths"][path][method]
    assert {"401", "429", "500"} <= set(operation["responses"])
    if method == "post":
        assert {"400", "403", "409"} <= set(operation["responses"])
        assert "requestBody" in operation
