"""Browser tests of vendor selection (相見積もり, issue 14), in Japanese and in English: a manager
reads three candidates' proposals side by side (ranked, with the cost per outcome and its chart),
adds one through the form and chooses the best, which becomes the engagement."""

from __future__ import annotations

import datetime as dt

import pytest

from engagements.models import Engagement, Role
from kpitree import catalogue_data
from kpitree.catalogue import KpiTemplate, TemplateNode, TreeTemplate
from sourcing import services
from sourcing.models import Tender
from tests.conftest import make_user
from tests.e2e.conftest import login
from tests.factories import ActualFactory, EngagementFactory, NodeFactory, VendorFactory

YEN = {"ja": ("12,000円", "12,500円", "4,500円"), "en": ("¥12,000", "¥12,500", "¥4,500")}


@pytest.fixture
def round_of_three(transactional_db) -> Tender:
    # A transactional test empties the tables the migrations filled: the catalogue, again.
    catalogue_data.sync(KpiTemplate, TreeTemplate, TemplateNode)
    manager = make_user("mgr", Role.MANAGER)
    callnavi = VendorFactory(code="callnavi", name="株式会社コールナビ")
    past = EngagementFactory(code="CALL-1", vendor=callnavi, outsourcing_type="outbound_call")
    orders = NodeFactory(code="orders", kgi=True, engagement=past, template_code="call.orders")
    for month, value in ((4, 90), (5, 100), (6, 120)):
        ActualFactory(node=orders, period=dt.date(2026, month, 1), value=value)
    tender = services.tender_create(
        user=manager,
        data={
            "name": "2027年度 テレアポ委託",
            "outsourcing_type": "outbound_call",
            "start_month": "2027-04",
            "end_month": "2027-06",
            "outcome_code": "call.orders",
            "kpis": ["call.appt_rate"],
        },
    )
    for vendor, price, promised in (
        ({"vendor": callnavi}, 1_200_000, 100),
        ({"new_vendor_name": "株式会社テレコム"}, 1_000_000, 80),
        ({"new_vendor_name": "株式会社ビッグトーク"}, 900_000, 200),
    ):
        services.proposal_save(
            user=manager,
            tender=tender,
            data={
                **vendor,
                "monthly_price": price,
                "promises": {"call.orders": promised, "call.appt_rate": 12},
            },
        )
    return tender


@pytest.mark.parametrize("language", ["ja", "en"])
def test_a_manager_compares_the_proposals_and_chooses_the_best(
    page, live_server, round_of_three, language
) -> None:
    from engagements.models import User

    User.objects.filter(username="mgr").update(language=language)
    login(page, live_server, "mgr", "pw-mgr")
    page.goto(f"{live_server.url}/sourcing/")
    assert page.locator("html").get_attribute("lang") == language
    page.locator("[data-testid=tender-row] a").first.click()
    page.wait_for_load_state("networkidle")

    heads = page.locator("[data-testid=proposal-head]").all_inner_texts()
    assert heads == ["1. 株式会社コールナビ", "2. 株式会社テレコム", "3. 株式会社ビッグトーク"]
    assert page.locator("[data-testid=cost]").all_inner_texts() == list(YEN[language])
    assert page.locator("[data-testid=unrealistic]").count() == 1
    reasons = page.locator("[data-testid=reasoning]").all_inner_texts()
    assert YEN[language][0] in reasons[0]
    if language == "en":
        assert reasons[0] == (
            "Lowest cost per unit of outcome among the realistic proposals: ¥12,000 per 件."
        )
    # The chart is drawn by the locally served plotly.js.
    page.wait_for_selector("#fig-cost .main-svg")
    assert page.locator("#fig-cost .main-svg").count() >= 1

    # A fourth candidate through the form: the price as people type it.
    page.goto(f"{live_server.url}/sourcing/{round_of_three.pk}/proposals/new/")
    page.fill("#id_new_vendor_name", "株式会社あおば")
    page.fill("#id_monthly_price", "1,100,000円")
    page.fill("#id_promise_0", "100")
    page.fill("#id_promise_1", "12")
    page.locator("[data-testid=proposal-form] button[type=submit]").click()
    page.wait_for_load_state("networkidle")
    heads = page.locator("[data-testid=proposal-head]").all_inner_texts()
    assert heads[:2] == ["1. 株式会社あおば", "2. 株式会社コールナビ"]

    page.locator("[data-testid=choose]").first.click()
    page.wait_for_load_state("networkidle")
    page.fill("#id_code", "CALL-2027")
    page.locator("[data-testid=choose-form] button[type=submit]").click()
    page.wait_for_load_state("networkidle")
    assert "CALL-2027" in page.locator("[data-testid=chosen]").inner_text()
    engagement = Engagement.objects.get(code="CALL-2027")
    assert (engagement.vendor.name, engagement.monthly_fee) == ("株式会社あおば", 1_100_000)
    assert page.console_errors == []
