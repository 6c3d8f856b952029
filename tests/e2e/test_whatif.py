"""Browser test of the what-if panel ({% whatif_panel node %}) on the demo's call funnel, in
Japanese and English: +10 % calls in June 2026 moves 受注数 from 27 to 29.7, the elasticities
are drawn as bars, and goal-seek finds the 接続率 for 30 orders (66.7 %) and says 300 is out
of reach. The panel is shown on a page of its own here (base.html, which has no htmx: the
panel's script loads it) until the KPI detail page carries the tag."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.template import engines
from django.urls import path

from engagements.demo import DEMO_PASSWORD, seed_accounts_and_engagements
from engagements.models import User
from kpi_planner.access import get_visible_or_404, nodes_for
from kpitree.demo import seed_trees
from kpitree.models import Rollup, Tree
from kpitree.recompute import tree_recompute
from tests.e2e.conftest import login
from tests.kpitree.test_whatif_support import urlpatterns as whatif_urls

PAGE = engines["django"].from_string(
    '{% extends "base.html" %}{% load whatif %}{% block content %}<h1>{{ node.name }}</h1>'
    "{% whatif_panel node %}{% endblock %}"
)


@login_required
def panel_page(request, tree: str, node: str):
    obj = get_visible_or_404(nodes_for(request.user), tree__code=tree, code=node)
    return HttpResponse(PAGE.render({"node": obj}, request))


urlpatterns = [path("whatif-test/<str:tree>/<str:node>/", panel_page), *whatif_urls]
pytestmark = pytest.mark.urls(__name__)
JUNE = dt.date(2026, 6, 1)
MONTH = {"ja": "2026年6月", "en": "June 2026"}


@pytest.fixture
def demo(transactional_db) -> None:
    seed_accounts_and_engagements()
    seed_trees()
    for t in Tree.objects.all():
        tree_recompute(tree_id=t.pk)


@pytest.mark.parametrize("language", ["ja", "en"])
def test_a_manager_tries_more_calls_and_solves_for_the_connect_rate(
    page, live_server, demo, language
) -> None:
    User.objects.filter(username="manager").update(language=language)
    login(page, live_server, "manager", DEMO_PASSWORD)
    page.goto(f"{live_server.url}/whatif-test/FY2026-ACQ/calls/")
    assert page.locator("html").get_attribute("lang") == language
    page.wait_for_function("window.htmx !== undefined")
    page.select_option("[data-testid=whatif-month]", "2026-06")
    page.fill("[data-testid=whatif-pct]", "10")
    page.click("[data-testid=whatif-submit]")
    heading = page.wait_for_selector("[data-testid=whatif-heading]")
    assert MONTH[language] in heading.inner_text()
    assert "/whatif-test/" in page.url  # swapped in place, no navigation
    orders = page.locator("[data-testid=whatif-moves] tr[data-node=orders] td")
    unit = "件" if language == "ja" else " 件"
    assert [orders.nth(0).inner_text(), orders.nth(1).inner_text()] == [f"27{unit}", f"29.7{unit}"]
    bars = page.locator("[data-testid=whatif-elasticities] tbody tr")
    assert bars.count() >= 5
    rates = page.locator("[data-testid=whatif-elasticities] tr[data-node=connect_rate] td")
    # Each funnel factor's elasticity of the KGI (a sum) is 受注数's share of it.
    kgi = Rollup.objects.get(node__code="new_customers", grain="month", period=JUNE).actual
    assert rates.nth(1).inner_text() == f"{27 / kgi:.2f}"

    page.select_option("[data-testid=goal-node]", "orders")
    page.select_option("[data-testid=goal-leaf]", "connect_rate")
    page.select_option("[data-testid=goal-form] select[name=period]", "2026-06")
    page.fill("[data-testid=goal-value]", "30")
    page.click("[data-testid=goal-submit]")
    answer = page.wait_for_selector("[data-testid=goal-answer].ok")
    assert "66.7%" in answer.inner_text()
    page.fill("[data-testid=goal-value]", "300")
    page.click("[data-testid=goal-submit]")
    answer = page.wait_for_selector("[data-testid=goal-answer].risk")
    assert f"45{unit}" in answer.inner_text()
    assert page.console_errors == []
