"""Driver attribution read from the rollup: attribution_queries, the API
(GET /api/v1/trees/{tree}/nodes/{node}/attribution/), the report's lines and the page's panel.

The plan CALLS runs from 2025-10 to 2027-03. 受注数 = 架電数 × 接続率 × アポ取得率 × 商談化率 ×
受注率 (DOMAIN.md): 27 in 2025-10 and 2026-09 (3,000 × 60 % × 10 % × 50 % × 30 %), 23 in 2026-10
(2,875 × 64 % × 10 % × 50 % × 25 %), whose targets are September's values. 受注率 is in-house;
the other inputs are CALL-1's (callnavi). リード数 is the sum of Web and イベント.
"""

from __future__ import annotations

import datetime as dt
import math

import pytest
from django.template import Context, Template
from django.test import RequestFactory
from django.urls import path
from django.utils import translation
from rest_framework.test import APIClient

import kpi_planner.urls
from kpitree.attribution_api import AttributionView
from kpitree.attribution_queries import attribution_lines, node_attribution
from kpitree.models import Actual, Node, Tree
from kpitree.recompute import tree_recompute
from kpitree.services import actuals_record, targets_record
from tests.factories import NodeFactory, TreeFactory

# Until kpi_planner/urls.py routes it, these tests route the endpoint themselves.
urlpatterns = [
    path(
        "api/v1/trees/<str:tree_code>/nodes/<str:node_code>/attribution/",
        AttributionView.as_view(),
        name="node-attribution",
    ),
    *kpi_planner.urls.urlpatterns,
]
pytestmark = pytest.mark.urls(__name__)

URL = "/api/v1/trees/CALLS/nodes/orders/attribution/"
FUNNEL = "calls * connect_rate / 100 * appt_rate / 100 * meeting_rate / 100 * win_rate / 100"
STAGES = [
    ("calls", "架電数", "件"),
    ("connect_rate", "接続率", "%"),
    ("appt_rate", "アポ取得率", "%"),
    ("meeting_rate", "商談化率", "%"),
    ("win_rate", "受注率", "%"),
]
BEFORE = {"calls": 3000, "connect_rate": 60, "appt_rate": 10, "meeting_rate": 50, "win_rate": 30}
AFTER = {"calls": 2875, "connect_rate": 64, "appt_rate": 10, "meeting_rate": 50, "win_rate": 25}
L = 4 / math.log(27 / 23)  # the logarithmic mean of 23 and 27
PARTS = [L * math.log(2875 / 3000), L * math.log(64 / 60), 0.0, 0.0, L * math.log(25 / 30)]
SENTENCE = "受注数 −4: 架電数 −1.1, 接続率 +1.6, アポ取得率 0, 商談化率 0, 受注率 −4.5"


@pytest.fixture
def calls(manager, engagement_a) -> Tree:
    tree = TreeFactory(
        code="CALLS", start_month=dt.date(2025, 10, 1), end_month=dt.date(2027, 3, 1)
    )
    orders = NodeFactory(
        tree=tree,
        code="orders",
        name="受注数",
        kind="kgi",
        rollup="formula",
        formula=FUNNEL,
        engagement=engagement_a,
    )
    for position, (code, name, unit) in enumerate(STAGES):
        owner = None if code == "win_rate" else engagement_a
        NodeFactory(
            parent=orders,
            code=code,
            name=name,
            unit=unit,
            engagement=owner,
            position=position,
            time_aggregation="sum" if code == "calls" else "avg",
        )
    leads = NodeFactory(
        tree=tree, code="leads", name="リード数", rollup="sum", engagement=engagement_a
    )
    NodeFactory(parent=leads, code="web", name="Web", engagement=engagement_a, position=0)
    NodeFactory(parent=leads, code="events", name="イベント", engagement=engagement_a, position=1)
    rows = [
        *[(code, "2025-10", v) for code, v in BEFORE.items()],
        *[(code, "2026-09", v) for code, v in BEFORE.items()],
        *[(code, "2026-10", v) for code, v in AFTER.items()],
        ("web", "2026-09", 120),
        ("events", "2026-09", 30),
        ("web", "2026-10", 100),
        ("events", "2026-10", 45),
    ]
    actuals_record(
        user=manager,
        rows=[{"tree": "CALLS", "node": n, "period": p, "value": v} for n, p, v in rows],
        channel="api",
    )
    targets_record(
        user=manager,
        tree=tree,
        rows=[{"node": code, "period": "2026-10", "value": v} for code, v in BEFORE.items()],
        channel="api",
    )
    tree_recompute(tree_id=tree.pk)
    return tree


def client_for(user, **headers) -> APIClient:
    client = APIClient(**headers)
    client.force_authenticate(user)
    return client


def get(user, url: str = URL, **params):
    return client_for(user).get(url, params)


def fields_of(response) -> dict:
    return {e["field"]: e["message"] for e in response.json()["errors"]}


def assert_funnel(body: dict) -> None:
    assert (body["before"], body["after"], body["change"], body["method"]) == (27, 23, -4, "lmdi")
    assert [p["node"] for p in body["parts"]] == [code for code, _n, _u in STAGES]
    assert [p["part"] for p in body["parts"]] == pytest.approx(PARTS, abs=1e-12)
    assert sum(p["part"] for p in body["parts"]) == -4.0


def test_it_splits_the_change_from_the_previous_month(manager, calls) -> None:
    response = get(manager, period="2026-10", compare="mom")
    assert response.status_code == 200
    body = response.json()
    assert (body["tree"], body["node"], body["period"], body["compare"]) == (
        "CALLS",
        "orders",
        "2026-10",
        "mom",
    )
    assert body["compared_with"] == "2026-09"
    assert_funnel(body)
    assert body["parts"][0] == {
        "node": "calls",
        "name": "架電数",
        "before": 3000,
        "after": 2875,
        "part": pytest.approx(PARTS[0], abs=1e-12),
    }
    assert body["sentence"] == SENTENCE


def test_it_compares_with_the_month_before_by_default(supervisor, calls) -> None:
    body = get(supervisor, period="2026-10").json()
    assert (body["compare"], body["compared_with"]) == ("mom", "2026-09")


def test_it_splits_the_actual_against_the_target(manager, calls) -> None:
    body = get(manager, period="2026-10", compare="target").json()
    assert body["compared_with"] == "2026-10"
    assert_funnel(body)


def test_it_compares_with_the_same_month_a_year_before(manager, calls) -> None:
    body = get(manager, period="2026-10", compare="yoy").json()
    assert body["compared_with"] == "2025-10"
    assert_funnel(body)


def test_it_says_when_the_plan_has_no_month_a_year_before(manager, calls) -> None:
    english = client_for(manager, HTTP_ACCEPT_LANGUAGE="en")
    response = english.get(URL, {"period": "2026-09", "compare": "yoy"})
    assert response.status_code == 400
    assert fields_of(response) == {
        "compare": "This plan has no 2025-09, the same month a year before 2026-09 "
        "(it runs from 2025-10 to 2027-03)."
    }


def test_the_first_month_has_no_previous_month(manager, calls) -> None:
    response = get(manager, period="2025-10", compare="mom")
    assert response.status_code == 400
    assert list(fields_of(response)) == ["compare"]


def test_it_refuses_a_bad_month_and_comparison_together(manager, calls) -> None:
    response = get(manager, period="2026-13", compare="qoq")
    assert response.status_code == 400
    assert list(fields_of(response)) == ["period", "compare"]


def test_it_needs_a_month(manager, calls) -> None:
    response = get(manager)
    assert (response.status_code, list(fields_of(response))) == (400, ["period"])


def test_it_refuses_a_month_outside_the_plan(manager, calls) -> None:
    response = get(manager, period="2027-04")
    assert (response.status_code, list(fields_of(response))) == (400, ["period"])


def test_an_entered_kpi_has_nothing_to_split(manager, calls) -> None:
    response = get(manager, "/api/v1/trees/CALLS/nodes/calls/attribution/", period="2026-10")
    assert (response.status_code, list(fields_of(response))) == (400, [None])


def test_a_month_without_actuals_has_an_unknown_change(manager, calls) -> None:
    body = get(manager, period="2026-11").json()
    assert (body["before"], body["after"], body["change"], body["method"]) == (
        23,
        None,
        None,
        "none",
    )
    assert [p["part"] for p in body["parts"]] == [None] * 5


def test_it_splits_a_sum_into_each_childs_change(manager, calls) -> None:
    body = get(manager, "/api/v1/trees/CALLS/nodes/leads/attribution/", period="2026-10").json()
    assert (body["before"], body["after"], body["change"], body["method"]) == (150, 145, -5, "sum")
    assert [(p["node"], p["part"]) for p in body["parts"]] == [("web", -20), ("events", 15)]


def test_a_vendor_sees_the_in_house_input_only_as_other_inputs(vendor_user, calls) -> None:
    body = get(vendor_user, period="2026-10").json()
    assert [p["node"] for p in body["parts"]] == [
        "calls",
        "connect_rate",
        "appt_rate",
        "meeting_rate",
        None,
    ]
    hidden = body["parts"][-1]
    assert (hidden["before"], hidden["after"]) == (None, None)
    assert hidden["part"] == pytest.approx(PARTS[-1], abs=1e-12)
    assert sum(p["part"] for p in body["parts"]) == -4.0


def test_other_vendors_and_unknown_nodes_get_404(other_vendor_user, manager, calls) -> None:
    assert get(other_vendor_user, period="2026-10").status_code == 404
    assert (
        get(manager, "/api/v1/trees/CALLS/nodes/nope/attribution/", period="2026-10").status_code
        == 404
    )
    assert (
        get(manager, "/api/v1/trees/NOPE/nodes/orders/attribution/", period="2026-10").status_code
        == 404
    )


def test_it_writes_nothing(manager, calls) -> None:
    before = (Actual.objects.count(), Node.objects.count())
    get(manager, period="2026-10")
    get(manager, period="2026-13")
    assert (Actual.objects.count(), Node.objects.count()) == before


def test_node_attribution_reads_in_a_fixed_number_of_queries(
    manager, calls, django_assert_num_queries
) -> None:
    node = Node.objects.select_related("tree").get(tree=calls, code="orders")
    with django_assert_num_queries(3):  # children, visible inputs, rollups
        found = node_attribution(manager, node, dt.date(2026, 10, 1), "mom")
    assert found.sentence == SENTENCE


def test_the_report_gets_one_line_for_each_formula_kpi(calls, engagement_a) -> None:
    # The report goes to the vendor: 受注率 is in-house, so it is among the other inputs.
    with translation.override("en"):
        lines = attribution_lines(engagement_a, dt.date(2026, 10, 1))
    assert lines == [
        "受注数 −4: 架電数 −1.1, 接続率 +1.6, アポ取得率 0, 商談化率 0, other inputs −4.5"
    ]


def test_the_report_skips_a_month_with_nothing_to_compare(calls, engagement_a) -> None:
    assert attribution_lines(engagement_a, dt.date(2025, 10, 1)) == []
    assert attribution_lines(engagement_a, dt.date(2026, 11, 1)) == []


def render_panel(user, node_code: str, month: dt.date | None, **query) -> str:
    request = RequestFactory().get("/scorecards/trees/CALLS/kpis/orders/", query)
    request.user = user
    node = Node.objects.select_related("tree").get(tree__code="CALLS", code=node_code)
    template = Template("{% load attribution %}{% attribution_panel node month %}")
    return template.render(Context({"request": request, "node": node, "month": month}))


def test_the_panel_lists_the_parts_by_size(manager, calls) -> None:
    html = render_panel(manager, "orders", dt.date(2026, 10, 1))
    assert SENTENCE in html
    rows = [html.index(f'data-node="{code}"') for code in ("win_rate", "connect_rate", "calls")]
    assert rows == sorted(rows)
    assert html.index('data-node="calls"') < html.index('data-node="appt_rate"')
    assert '<i class="neg" style="width: 100.0%">' in html
    assert '<i class="pos" style="width: 35.6%">' in html  # 1.6 / 4.5
    assert 'href="?attribution=yoy#attribution"' in html


def test_the_panel_follows_the_chosen_comparison(manager, calls) -> None:
    html = render_panel(manager, "orders", dt.date(2026, 9, 1), attribution="yoy")
    assert 'data-compare="yoy"' in html
    assert "2025-09" in html  # the plan has no September 2025: the panel says so


def test_the_panel_shows_nothing_for_an_entered_kpi(manager, calls) -> None:
    assert render_panel(manager, "calls", dt.date(2026, 10, 1)).strip() == ""


def test_a_stored_formula_that_no_longer_parses_answers_400(manager, calls) -> None:
    Node.objects.filter(tree=calls, code="orders").update(formula="calls * (")
    response = get(manager, period="2026-10")
    assert (response.status_code, list(fields_of(response))) == (400, [None])


def test_the_monthly_excel_report_says_what_moved_the_kpi(calls, engagement_a) -> None:
    import io

    from openpyxl import load_workbook

    from scorecard.reports import excel_report

    _name, body, _kind = excel_report(engagement_a, "2026-10", "en")
    sheet = load_workbook(io.BytesIO(body)).worksheets[0]
    texts = [str(c.value) for c in sheet["A"] if c.value]
    heading = texts.index("What moved the computed KPIs since the previous month")
    assert texts[heading + 1] == (
        "受注数 −4: 架電数 −1.1, 接続率 +1.6, アポ取得率 0, 商談化率 0, other inputs −4.5"
    )
