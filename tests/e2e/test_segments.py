"""The segments breakdown in headless Chromium, in Japanese and in English: 架電数 entered per
operator for September and October 2026 (1,000 + 1,200 + 800 = 3,000, then 2,875), the total as
the KPI's actual, the latest month's table, the 6-month trend and the segment that drives the
change.

The breakdown is `{% segment_breakdown node %}` on the KPI page; this module serves it on a page of
its own (base.html, as the KPI page) so that it is tested whatever else that page shows.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.template import engines
from django.urls import path

import kpi_planner.urls
from engagements.models import Role
from kpi_planner.access import get_visible_or_404, nodes_for
from kpitree.models import Actual, Tree
from kpitree.services import actuals_record
from tests.conftest import make_user
from tests.e2e.conftest import login
from tests.factories import NodeFactory, TreeFactory

PAGE = engines["django"].from_string(
    "{% extends 'base.html' %}{% load segments %}{% block title %}{{ node.name }}{% endblock %}"
    "{% block content %}<h1>{{ node.name }}</h1>{% segment_breakdown node %}{% endblock %}"
)


@login_required
def kpi_page(request: HttpRequest, tree: str, node: str) -> HttpResponse:
    obj = get_visible_or_404(
        nodes_for(request.user).select_related("tree"), tree__code=tree, code=node
    )
    return HttpResponse(PAGE.render({"node": obj}, request))


urlpatterns = [
    path("segments-page/<str:tree>/<str:node>/", kpi_page),
    *kpi_planner.urls.urlpatterns,
]
pytestmark = pytest.mark.urls(__name__)

OPERATORS = [  # (segment, September, October)
    ("operator:田中", 1_000, 1_000),
    ("operator:佐藤", 1_200, 900),
    ("operator:鈴木", 800, 975),
]
SENTENCES = {
    "ja": "変化の主因は operator:佐藤 です：−125 のうち −300。",
    "en": "operator:佐藤 drives the change: −300 of −125.",
}


@pytest.fixture
def calls(transactional_db, engagement_a) -> Tree:
    manager = make_user("mgr", Role.MANAGER)
    tree = TreeFactory(code="CALLS", start_month=dt.date(2026, 4, 1), end_month=dt.date(2027, 3, 1))
    node = NodeFactory(tree=tree, code="calls", name="架電数", unit="件", engagement=engagement_a)
    rows = [
        {"tree": "CALLS", "node": "calls", "period": period, "value": value, "segment": segment}
        for segment, sep, oct_ in OPERATORS
        for period, value in (("2026-09", sep), ("2026-10", oct_))
    ]
    actuals_record(user=manager, rows=rows, channel="api")
    assert list(Actual.objects.filter(node=node).values_list("value", flat=True)) == [3000, 2875]
    return tree


@pytest.mark.parametrize("language", ["ja", "en"])
def test_the_breakdown_shows_the_segments_and_the_driver(page, live_server, calls, language):
    make_user("sv", Role.SUPERVISOR, language=language)
    login(page, live_server, "sv", "pw-sv")
    page.goto(f"{live_server.url}/segments-page/CALLS/calls/")
    assert page.locator("html").get_attribute("lang") == language
    panel = page.locator("#segments")
    assert (
        panel.locator("h2").inner_text() == {"ja": "セグメント別内訳", "en": "Segments"}[language]
    )
    assert panel.locator("[data-testid=segment-driver]").inner_text() == SENTENCES[language]
    # The latest month, largest first: value, share of the total, part of the change.
    latest = panel.locator("table.seg-latest tbody tr")
    assert latest.locator("th").all_inner_texts() == [
        "operator:田中",
        "operator:鈴木",
        "operator:佐藤",
    ]
    assert [row.locator("td").all_inner_texts() for row in latest.all()] == [
        [{"ja": "1,000件", "en": "1,000 件"}[language], "34.8%", "0"],
        [{"ja": "975件", "en": "975 件"}[language], "33.9%", "+175"],
        [{"ja": "900件", "en": "900 件"}[language], "31.3%", "−300"],
    ]
    # The trend: September and October (the plan's earlier months have no segments), with bars.
    assert panel.locator("table.seg-trend thead th").count() == 3
    assert panel.locator("table.seg-trend meter").count() == 6
    widths = panel.locator("table.seg-trend meter").evaluate_all(
        "els => els.map(el => el.getBoundingClientRect().width)"
    )
    assert min(widths) > 0
    totals = panel.locator("table.seg-trend tfoot td").all_inner_texts()
    assert totals == {"ja": ["3,000件", "2,875件"], "en": ["3,000 件", "2,875 件"]}[language]
    assert page.console_errors == []


def test_a_vendor_sees_the_breakdown_of_its_own_kpi_only(page, live_server, calls, vendor_b):
    make_user("vend_b", Role.VENDOR, vendor_b)
    login(page, live_server, "vend_b", "pw-vend_b")
    response = page.goto(f"{live_server.url}/segments-page/CALLS/calls/")
    assert response is not None and response.status == 404
