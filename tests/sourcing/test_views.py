"""The sourcing pages: who reads and writes them, the comparison, and the forms' round trips."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from engagements.models import Engagement, Role
from sourcing.models import Tender, VendorProposal
from tests.conftest import make_user


def client_of(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def en_manager(manager):
    manager.language = "en"
    manager.save()
    return manager


def urls(tender, proposal) -> list[str]:
    return [
        reverse("sourcing:list"),
        reverse("sourcing:create"),
        reverse("sourcing:detail", args=[tender.pk]),
        reverse("sourcing:proposal_create", args=[tender.pk]),
        reverse("sourcing:proposal_edit", args=[tender.pk, proposal.pk]),
        reverse("sourcing:choose", args=[tender.pk, proposal.pk]),
    ]


def test_a_vendor_gets_404_on_every_page(tender, proposals, vendor_user, vendor_a) -> None:
    bound_viewer = make_user("view_a", Role.VIEWER, vendor_a)
    for user in (vendor_user, bound_viewer):
        client = client_of(user)
        for url in urls(tender, proposals["callnavi"]):
            assert client.get(url).status_code == 404, (user, url)
        withdraw = reverse("sourcing:proposal_withdraw", args=[tender.pk, proposals["telecom"].pk])
        assert client.post(withdraw).status_code == 404
    assert VendorProposal.objects.filter(withdrawn_at__isnull=False).count() == 0


def test_a_supervisor_reads_the_comparison_and_may_not_write(tender, proposals, supervisor) -> None:
    client = client_of(supervisor)
    assert client.get(reverse("sourcing:list")).status_code == 200
    page = client.get(reverse("sourcing:detail", args=[tender.pk]))
    assert page.status_code == 200
    assert 'data-testid="choose"' not in page.content.decode()
    for url in urls(tender, proposals["callnavi"])[1:2] + urls(tender, proposals["callnavi"])[3:]:
        assert client.get(url).status_code == 403, url
    withdraw = reverse("sourcing:proposal_withdraw", args=[tender.pk, proposals["telecom"].pk])
    assert client.post(withdraw).status_code == 403
    assert VendorProposal.objects.filter(withdrawn_at__isnull=False).count() == 0


def test_the_comparison_shows_the_ranking_costs_and_reasons(tender, proposals, en_manager) -> None:
    page = client_of(en_manager).get(reverse("sourcing:detail", args=[tender.pk]))
    html = page.content.decode()
    assert [r.vendor for r in page.context["comparison"].ranked] == [
        "株式会社コールナビ",
        "株式会社テレコム",
        "株式会社ビッグトーク",
    ]
    assert html.index("1. 株式会社コールナビ") < html.index("2. 株式会社テレコム")
    for text in ("¥12,000", "¥12,500", "¥4,500", "¥1,200,000", "80.0% of past results"):
        assert text in html
    assert html.count('data-testid="unrealistic"') == 1
    assert "Lowest cost per unit of outcome among the realistic proposals: ¥12,000 per 件." in html
    assert 'id="fig-cost-data"' in html


def test_the_comparison_exports_its_cost_table(tender, proposals, en_manager) -> None:
    r = client_of(en_manager).get(reverse("sourcing:detail", args=[tender.pk]), {"csv": "cost"})
    assert r["Content-Type"] == "text/csv; charset=utf-8"
    lines = r.content.decode("utf-8-sig").splitlines()
    assert lines[0] == "Rank,Vendor,Monthly price,Cost per unit of outcome (JPY per 件),Realistic"
    assert lines[1] == "1,株式会社コールナビ,1200000,12000,Yes"


def test_a_manager_opens_a_round_adds_a_proposal_and_chooses_it(en_manager, vendor_a) -> None:
    client = client_of(en_manager)
    r = client.post(
        reverse("sourcing:create"),
        {
            "name": "Call centre 2027",
            "outsourcing_type": "outbound_call",
            "start_month": "2027-04",
            "end_month": "2027-05",
            "outcome_code": "call.orders",
            "kpis": ["call.appt_rate"],
        },
    )
    tender = Tender.objects.get()
    assert r.status_code == 302 and r["Location"] == reverse("sourcing:detail", args=[tender.pk])
    r = client.post(
        reverse("sourcing:proposal_create", args=[tender.pk]),
        {
            "vendor": "callnavi",
            "monthly_price": "１,０００,０００円",
            "promise_0": "50",
            "promise_1": "10",
        },
    )
    assert r.status_code == 302
    proposal = VendorProposal.objects.get()
    assert (proposal.vendor, proposal.monthly_price) == (vendor_a, 1_000_000)
    r = client.post(
        reverse("sourcing:choose", args=[tender.pk, proposal.pk]),
        {"code": "CALL-2027", "name": "Calls 2027", "phase": "launch", "manager": "mgr"},
    )
    assert r.status_code == 302
    assert Tender.objects.get().engagement == Engagement.objects.get(code="CALL-2027")


def test_a_bad_proposal_is_shown_on_its_fields_and_writes_nothing(tender, en_manager) -> None:
    r = client_of(en_manager).post(
        reverse("sourcing:proposal_create", args=[tender.pk]),
        {
            "new_vendor_name": "株式会社テレコム",
            "monthly_price": "-5",
            "promise_0": "x",
            "promise_1": "3",
        },
    )
    assert r.status_code == 200
    form = r.context["form"]
    assert form.errors == {
        "monthly_price": ["Enter the monthly price as a whole number of yen above zero."],
        "promise_0": ["Enter the promised monthly Orders won."],
    }
    assert VendorProposal.objects.count() == 0


def test_a_manager_withdraws_a_proposal(tender, proposals, en_manager) -> None:
    proposal = proposals["bigtalk"]
    r = client_of(en_manager).post(
        reverse("sourcing:proposal_withdraw", args=[tender.pk, proposal.pk]), {"reason": "late"}
    )
    assert r.status_code == 302
    proposal.refresh_from_db()
    assert (proposal.withdrawn_by, proposal.withdraw_reason) == (en_manager, "late")


def test_the_admin_shows_rounds_and_proposals_read_only(tender, proposals, manager) -> None:
    client = client_of(manager)
    assert client.get(reverse("admin:sourcing_tender_change", args=[tender.pk])).status_code == 200
    assert client.get(reverse("admin:sourcing_vendorproposal_changelist")).status_code == 200
    assert client.get(reverse("admin:sourcing_tender_add")).status_code == 403
