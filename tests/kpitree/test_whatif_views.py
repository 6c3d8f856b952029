"""The what-if panel (`{% whatif_panel node %}`) and its two pages (kpitree/analysis_views.py)."""

from __future__ import annotations

import pytest
from django.template import Context, Template
from django.test import RequestFactory

from kpitree.models import Actual, Node
from kpitree.recompute import tree_recompute
from tests.kpitree.test_whatif_support import URLS, funnel_tree

pytestmark = pytest.mark.urls(URLS)
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def tree(engagement_a):
    return funnel_tree(engagement_a)


def _panel(user, node: Node) -> str:
    request = RequestFactory().get("/")
    request.user = user
    template = Template("{% load whatif %}{% whatif_panel node %}")
    return template.render(Context({"node": node, "request": request}))


def test_the_panel_offers_the_leaves_and_the_kpis_to_reach(tree, manager) -> None:
    tree_recompute(tree_id=tree.pk)  # the latest month with an actual comes from the rollups
    html = _panel(manager, Node.objects.get(code="connect_rate"))
    assert 'action="/trees/FY2026/what-if/"' in html
    assert '<option value="connect_rate" selected>接続率</option>' in html
    assert '<option value="orders" selected>受注数</option>' in html  # its parent, to reach
    assert '<option value="2026-06" selected>' in html  # the latest month with an actual


def test_it_shows_the_ancestors_before_and_after(tree, manager, client) -> None:
    client.force_login(manager)
    body = {"period": "2026-06", "leaf": "calls", "pct": "１０", "of": ""}
    r = client.post("/trees/FY2026/what-if/", body, **HTMX)
    html = r.content.decode()
    assert r.status_code == 200
    assert "+10.0%" in html
    assert '<tr data-node="orders"><th scope="row">受注数</th><td class="num">27件</td>' in html
    assert "<strong>29.7件</strong>" in html
    assert "<strong>110.7件</strong>" in html  # the KGI
    # The elasticities of the KGI, largest first: 広告経由CV数 (75 %) then the funnel's 25 %.
    assert html.index('data-node="ads_cv"') < html.index('data-node="win_rate"')
    assert "width: 100.0%" in html
    assert Actual.objects.get(node__code="calls").value == 3000


def test_it_answers_a_plain_post_with_a_page(tree, manager, client) -> None:
    client.force_login(manager)
    body = {"period": "2026-06", "leaf": "calls", "pct": "10", "of": "orders"}
    r = client.post("/trees/FY2026/what-if/", body)
    assert "<html" in r.content.decode()
    assert "29.7件" in r.content.decode()


def test_it_shows_what_was_wrong(tree, manager, client) -> None:
    client.force_login(manager)
    body = {"period": "2026-06", "leaf": "orders", "pct": "abc"}
    r = client.post("/trees/FY2026/what-if/", body, **HTMX)
    assert 'data-testid="whatif-errors"' in r.content.decode()
    assert "数値を入力してください" in r.content.decode() or "Enter a number" in r.content.decode()
    body = {"period": "2026-06", "leaf": "orders", "pct": "5"}
    r = client.post("/trees/FY2026/what-if/", body, **HTMX)
    assert "orders" in r.content.decode()
    assert 'data-testid="whatif-moves"' not in r.content.decode()


def test_it_solves_for_a_leaf(tree, manager, client) -> None:
    client.force_login(manager)
    body = {"period": "2026-06", "node": "orders", "value": "30", "leaf": "connect_rate"}
    html = client.post("/trees/FY2026/goal-seek/", body, **HTMX).content.decode()
    assert '<p class="ok big-line" data-testid="goal-answer">' in html
    assert "66.7%" in html
    body["value"] = "300"
    html = client.post("/trees/FY2026/goal-seek/", body, **HTMX).content.decode()
    assert '<p class="risk big-line" data-testid="goal-answer">' in html
    assert "45件" in html
    assert "100%" in html


def test_another_vendors_tree_answers_404(tree, other_vendor_user, client) -> None:
    client.force_login(other_vendor_user)
    body = {"period": "2026-06", "leaf": "calls", "pct": "10"}
    assert client.post("/trees/FY2026/what-if/", body).status_code == 404
    assert client.post("/trees/FY2026/goal-seek/", body).status_code == 404
