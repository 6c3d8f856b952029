"""Browser test of the suggested targets ({% suggested_targets node %}) on the worked funnel, in
Japanese and English: 受注数's target of 30 in July 2026 needs 3,333 calls at June's rates; the
manager clicks "Fill the targets" and July's target of 架電数 is written with its reasoning. The
panel is on its page of its own here (scorecard/suggest_views.py's GET) until the KPI detail
page carries the tag."""

from __future__ import annotations

import datetime as dt

import pytest

from kpitree.models import Node, Target, ValueAudit
from tests.e2e.conftest import login
from tests.factories import TargetFactory
from tests.kpitree.test_whatif_support import funnel_tree
from tests.scorecard.test_suggest import URLS
from tests.scorecard.test_suggest_support import suggest_catalogue  # noqa: F401

pytestmark = pytest.mark.urls(URLS)
JULY = dt.date(2026, 7, 1)
TEXT = {
    "ja": {
        "fill": "目標に入力",
        "reason": "受注数目標30件にはこの率で3,333件が必要",
        "value": "3,333件",
        "done": "8か月分の提案目標を入力しました。",
    },
    "en": {
        "fill": "Fill the targets",
        "reason": "the 受注数 target of 30 件 needs 3,333 件 at current rates",
        "value": "3,333 件",
        "done": "The suggested targets of 8 months were filled in.",
    },
}


@pytest.mark.parametrize("language", ["ja", "en"])
def test_a_manager_fills_the_suggested_targets(
    page, live_server, transactional_db, engagement_a, manager, language
) -> None:
    funnel_tree(engagement_a)
    orders = Node.objects.get(code="orders")
    for month in range(7, 13):  # July to December: 受注数 30 a month
        TargetFactory(node=orders, period=dt.date(2026, month, 1), value=30)
    TargetFactory(node=orders, period=dt.date(2027, 1, 1), value=30)
    TargetFactory(node=orders, period=dt.date(2027, 2, 1), value=30)
    manager.language = language
    manager.save()
    text = TEXT[language]
    login(page, live_server, "mgr", "pw-mgr")
    page.goto(f"{live_server.url}/scorecards/trees/FY2026/kpis/calls/suggested-targets/")
    assert page.locator("html").get_attribute("lang") == language
    july = page.locator("[data-testid=suggest-table] tr[data-period='2026-07']")
    assert july.locator("[data-testid=suggest-value]").inner_text() == text["value"]
    assert text["reason"] in july.locator("[data-testid=suggest-reason]").inner_text()
    # March has no target above 架電数 and one actual is too few to forecast: nothing to fill.
    march = page.locator("[data-testid=suggest-table] tr[data-period='2027-03']")
    assert march.locator("input[type=checkbox]").count() == 0
    button = page.locator("[data-testid=suggest-fill]")
    assert button.inner_text() == text["fill"]
    button.click()
    page.wait_for_load_state("networkidle")
    assert page.url.endswith("/scorecards/trees/FY2026/kpis/calls/#suggested-targets")
    assert text["done"] in page.locator(".messages").inner_text()
    target = Target.objects.get(node__code="calls", period=JULY)
    assert round(target.value, 2) == 3333.33
    assert target.rationale == "past_results"
    assert Target.objects.filter(node__code="calls").count() == 9  # June's and the 8 filled
    assert text["reason"] in ValueAudit.objects.get(node__code="calls", period=JULY).reason
    assert page.console_errors == []
