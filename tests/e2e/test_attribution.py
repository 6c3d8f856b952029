"""The attribution panel in headless Chromium, in Japanese and in English: what moved 受注数 from
September to October 2026 (27 → 23, DOMAIN.md's funnel), the bars sorted by size, and the links
that switch the comparison.

The panel is `{% attribution_panel node month %}` on the KPI page; this module serves it on a page
of its own (base.html, as the KPI page) so that it is tested whatever else that page shows.
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
from kpitree.models import Tree
from kpitree.recompute import tree_recompute
from kpitree.services import actuals_record, targets_record
from tests.conftest import make_user
from tests.e2e.conftest import login
from tests.factories import NodeFactory, TreeFactory

PAGE = engines["django"].from_string(
    "{% extends 'base.html' %}{% load attribution %}{% block title %}{{ node.name }}{% endblock %}"
    "{% block content %}<h1>{{ node.name }}</h1>{% attribution_panel node month %}{% endblock %}"
)


@login_required
def kpi_page(request: HttpRequest, tree: str, node: str) -> HttpResponse:
    obj = get_visible_or_404(
        nodes_for(request.user).select_related("tree"), tree__code=tree, code=node
    )
    return HttpResponse(PAGE.render({"node": obj, "month": dt.date(2026, 10, 1)}, request))


urlpatterns = [
    path("attribution-page/<str:tree>/<str:node>/", kpi_page),
    *kpi_planner.urls.urlpatterns,
]
pytestmark = pytest.mark.urls(__name__)

FUNNEL = "calls * connect_rate / 100 * appt_rate / 100 * meeting_rate / 100 * win_rate / 100"
STAGES = [
    ("calls", "架電数", "件", 3000, 2875),
    ("connect_rate", "接続率", "%", 60, 64),
    ("appt_rate", "アポ取得率", "%", 10, 10),
    ("meeting_rate", "商談化率", "%", 50, 50),
    ("win_rate", "受注率", "%", 30, 25),
]
SENTENCE = "受注数 −4: 架電数 −1.1, 接続率 +1.6, アポ取得率 0, 商談化率 0, 受注率 −4.5"


@pytest.fixture
def funnel(transactional_db, engagement_a) -> Tree:
    manager = make_user("mgr", Role.MANAGER)
    tree = TreeFactory(code="CALLS", start_month=dt.date(2026, 4, 1), end_month=dt.date(2027, 3, 1))
    orders = NodeFactory(
        tree=tree,
        code="orders",
        name="受注数",
        rollup="formula",
        formula=FUNNEL,
        engagement=engagement_a,
    )
    for position, (code, name, unit, _sep, _oct) in enumerate(STAGES):
        NodeFactory(
            parent=orders,
            code=code,
            name=name,
            unit=unit,
            engagement=engagement_a,
            position=position,
        )
    rows = [(c, "2026-09", sep) for c, _n, _u, sep, _o in STAGES]
    rows += [(c, "2026-10", oct_) for c, _n, _u, _s, oct_ in STAGES]
    actuals_record(
        user=manager,
        rows=[{"tree": "CALLS", "node": n, "period": p, "value": v} for n, p, v in rows],
        channel="api",
    )
    targets_record(
        user=manager,
        tree=tree,
        rows=[{"node": c, "period": "2026-10", "value": sep} for c, _n, _u, sep, _o in STAGES],
        channel="api",
    )
    tree_recompute(tree_id=tree.pk)
    return tree


@pytest.mark.parametrize("language", ["ja", "en"])
def test_the_panel_explains_the_change_and_switches_the_comparison(
    page, live_server, funnel, language
) -> None:
    make_user("sv", Role.SUPERVISOR, language=language)
    login(page, live_server, "sv", "pw-sv")
    page.goto(f"{live_server.url}/attribution-page/CALLS/orders/")
    assert page.locator("html").get_attribute("lang") == language
    panel = page.locator("#attribution")
    assert panel.get_attribute("data-compare") == "mom"
    assert panel.locator(".attr-sentence").inner_text() == SENTENCE
    # Sorted by size: 受注率 −4.5, 接続率 +1.6, 架電数 −1.1, then the stages that did not move.
    names = panel.locator("tbody th").all_inner_texts()
    assert names == ["受注率", "接続率", "架電数", "アポ取得率", "商談化率"]
    assert panel.locator("tbody td.part-neg").all_inner_texts() == ["−4.5", "−1.1"]
    assert panel.locator("tfoot td.num").inner_text() == "−4"
    # A red bar for a fall, a green one for a rise, as wide as the part.
    bar = panel.locator('tr[data-node="win_rate"] .attr-bar i.neg')
    assert bar.evaluate("el => getComputedStyle(el).backgroundColor") == "rgb(213, 94, 0)"
    rise = panel.locator('tr[data-node="connect_rate"] .attr-bar i.pos')
    assert rise.evaluate("el => getComputedStyle(el).backgroundColor") == "rgb(0, 158, 115)"
    ratio = rise.evaluate("el => el.getBoundingClientRect().width") / bar.evaluate(
        "el => el.getBoundingClientRect().width"
    )
    assert ratio == pytest.approx(1.6 / 4.5, abs=0.02)
    previous = panel.locator('a[data-compare="mom"]').inner_text()
    assert previous == {"ja": "前月比", "en": "vs previous month"}[language]

    # Against the target (September's values): the same split.
    panel.locator('a[data-compare="target"]').click()
    page.wait_for_load_state("networkidle")
    panel = page.locator("#attribution")
    assert panel.get_attribute("data-compare") == "target"
    assert panel.locator('a[aria-current="true"]').get_attribute("data-compare") == "target"
    assert panel.locator(".attr-sentence").inner_text() == SENTENCE

    # A year before October 2026 is outside the plan: the panel says so.
    panel.locator('a[data-compare="yoy"]').click()
    page.wait_for_load_state("networkidle")
    problem = page.locator("#attribution .attr-problem").inner_text()
    assert "2025-10" in problem and "2026-04" in problem
    assert page.locator("#attribution tbody tr").count() == 0
    assert page.console_errors == []


def test_a_vendor_sees_the_panel_of_its_own_kpi_only(page, live_server, funnel, vendor_b) -> None:
    make_user("vend_b", Role.VENDOR, vendor_b)
    login(page, live_server, "vend_b", "pw-vend_b")
    response = page.goto(f"{live_server.url}/attribution-page/CALLS/orders/")
    assert response is not None and response.status == 404
