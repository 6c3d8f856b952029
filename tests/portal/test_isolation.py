"""A vendor user tries every portal page and API endpoint with another vendor's codes: 404,
and nothing of the other vendor shows up on the pages it may open."""

from __future__ import annotations

import pytest
from django.urls import URLPattern
from rest_framework.test import APIClient

from engagements.models import ImprovementProposal, Notification
from engagements.services import token_create
from kpitree.services import actuals_record
from portal import services
from portal import urls as portal_urls

# Values for the path parameters of every portal URL, pointing at adbridge's engagement ADS-1.
PARAMS = {"code": "ADS-1", "period": "2026-10", "fmt": "csv"}


@pytest.fixture
def theirs(plan, other_vendor_user, manager):
    """adbridge's month and proposal, and a notice addressed to adbridge's user."""
    actuals_record(
        user=other_vendor_user,
        rows=[{"tree": "FY2026", "node": "ads_cv", "period": "2026-10", "value": 80}],
        channel="web",
    )
    proposal = services.proposal_submit(
        user=other_vendor_user,
        engagement=plan["ads_cv"].engagement,
        title="LP改修でCVR改善",
        description="ファーストビューを変更",
    )
    note = Notification.objects.filter(recipient=manager).first()
    mine = Notification.objects.create(recipient=other_vendor_user, kind="x", subject="秘密")
    return {"proposal": proposal, "note": note, "their_note": mine}


def portal_paths(theirs) -> list[str]:
    out = []
    for pattern in portal_urls.urlpatterns:
        assert isinstance(pattern, URLPattern)
        keys = set(pattern.pattern.converters)
        if "code" not in keys and "pk" not in keys:
            continue
        path = str(pattern.pattern)
        for key, value in {**PARAMS, "pk": theirs["proposal"].pk}.items():
            path = path.replace(f"<str:{key}>", str(value)).replace(f"<yyyymm:{key}>", str(value))
            path = path.replace(f"<int:{key}>", str(value))
        if "notifications" in path:
            path = path.replace(str(theirs["proposal"].pk), str(theirs["their_note"].pk))
        out.append("/portal/" + path)
    return out


def test_it_covers_every_portal_url_with_a_parameter(theirs):
    assert len(portal_paths(theirs)) == 10


def test_it_answers_404_on_every_portal_url_of_another_vendor(client, vendor_user, theirs):
    client.force_login(vendor_user)
    for path in portal_paths(theirs):
        codes = {
            method: getattr(client, method)(
                path, {"action": "submit", "decision": "accept"}
            ).status_code
            for method in ("get", "post")
        }
        # The method a page accepts answers 404; the other one 405, whatever the code.
        assert sorted(codes.values()) in ([404, 404], [404, 405]), (path, codes)
    assert ImprovementProposal.objects.get().status == "pending"


def test_it_shows_no_trace_of_another_vendor_on_the_shared_pages(client, vendor_user, theirs):
    client.force_login(vendor_user)
    for path in ("/portal/", "/portal/submissions/", "/portal/notifications/"):
        body = client.get(path).content.decode()
        assert "広告運用" not in body and "ADS-1" not in body and "秘密" not in body, path


def test_it_answers_404_for_the_same_kpi_code_in_the_own_history_filter(client, vendor_user, plan):
    client.force_login(vendor_user)
    response = client.get(f"/portal/engagements/CALL-1/history/?node={plan['ads_cv'].pk}")
    assert response.status_code == 200
    assert list(response.context["page"]) == []


def test_it_answers_404_on_every_api_endpoint_of_another_vendor(vendor_user, theirs):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token_create(user=vendor_user)[1]}")
    base = "/api/v1/engagements/ADS-1/submissions/"
    assert client.get(base).status_code == 404
    assert client.get(base + "2026-10/").status_code == 404
    for action in ("submit", "approve", "return", "reopen"):
        assert client.post(base + f"2026-10/{action}/", {"reason": "x"}).status_code == 404


def test_it_lets_the_vendor_reach_its_own_pages(client, vendor_user, plan):
    client.force_login(vendor_user)
    for path in (
        "/portal/engagements/CALL-1/",
        "/portal/engagements/CALL-1/2026-10/",
        "/portal/engagements/CALL-1/2026-10/upload/",
        "/portal/engagements/CALL-1/2026-10/scorecard/",
        "/portal/engagements/CALL-1/2026-10/template.xlsx",
        "/portal/engagements/CALL-1/history/",
        "/portal/engagements/CALL-1/proposals/",
    ):
        assert client.get(path).status_code == 200, path
