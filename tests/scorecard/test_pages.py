"""KPI detail, tree scorecard, matrix, funnel, comparison and the locally served plotly.js."""

import datetime as dt

import plotly
import pytest
from django.test import Client

from engagements.models import Engagement
from kpitree.models import Node
from kpitree.recompute import tree_recompute
from kpitree.services import node_save, targets_record
from tests.scorecard.conftest import kpi, record


def login(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_kpi_page_shows_values_comments_history_and_a_forecast(
    manager, supervisor, small
) -> None:
    months = ["2026-04", "2026-05", "2026-06", "2026-07", "2026-08", "2026-09"]
    record(manager, [("fin_a", m, 100 + i) for i, m in enumerate(months)], comment="定例報告")
    targets_record(
        user=manager,
        tree=small["fin_a"].tree,
        rows=[{"node": "fin_a", "period": m, "value": 100} for m in months],
        channel="web",
    )
    tree_recompute(tree_id=small["fin_a"].tree_id)
    response = login(supervisor).get("/scorecards/trees/SC/kpis/fin_a/")
    assert response.status_code == 200
    forecast = response.context["forecast"]
    assert forecast.months[0] == dt.date(2026, 11, 1) and len(forecast.months) == 5
    html = response.content.decode()
    assert 'id="fig-forecast"' in html and "定例報告" in html
    audit = response.context["tables"]["audit"]
    assert len(audit.rows) == 7 + 7  # six months and October, actuals and targets


def test_the_kpi_page_exports_its_tables(supervisor, small) -> None:
    response = login(supervisor).get("/scorecards/trees/SC/kpis/fin_a/", {"csv": "values"})
    lines = response.content.decode("utf-8-sig").splitlines()
    assert lines[7].startswith("2026-10,150.0,100.0,150.0,green")


def test_the_kpi_page_hides_other_vendors_kpis(other_vendor_user, small) -> None:
    client = login(other_vendor_user)
    assert client.get("/scorecards/trees/SC/kpis/fin_a/").status_code == 404
    assert client.get("/scorecards/trees/SC/kpis/ads_a/").status_code == 200


def test_the_tree_scorecard_groups_the_trees_kpis_by_perspective(supervisor, small) -> None:
    response = login(supervisor).get("/scorecards/trees/SC/", {"period": "2026-10"})
    card = response.context["card"]
    # financial: fin_a 120 × 2, fin_b 90, ads_a 100 → 430 / 4
    assert card.perspectives["financial"].score == 107.5
    assert card.overall_score == pytest.approx((107.5 + 80) / 2)


def test_the_matrix_puts_each_kpi_at_its_importance_and_achievement(supervisor, small) -> None:
    response = login(supervisor).get(
        "/scorecards/engagements/CALL-1/matrix/", {"period": "2026-10"}
    )
    rows = response.context["tables"]["matrix"].rows
    assert [(r[0][0], r[2], r[3]) for r in rows] == [
        ("受注金額", 5, 150.0),
        ("粗利", 4, 90.0),
        ("解約数", 2, 80.0),
        ("改善提案件数", 1, None),
    ]


@pytest.fixture
def call_funnel(manager, sc_tree, engagement_a) -> Node:
    orders = kpi(sc_tree, "orders", engagement_a, "financial", rollup="formula", name="受注数")
    for code, name, unit in [
        ("calls", "架電数", "件"),
        ("connect_rate", "接続率", "%"),
        ("appt_rate", "アポ取得率", "%"),
        ("meeting_rate", "商談化率", "%"),
        ("win_rate", "受注率", "%"),
    ]:
        kpi(sc_tree, code, engagement_a, "process", parent=orders, name=name, unit=unit)
    node_save(
        user=manager,
        node=orders,
        data={
            "formula": "calls * connect_rate / 100 * appt_rate / 100 * meeting_rate / 100 * win_rate / 100"
        },
    )
    targets_record(
        user=manager,
        tree=sc_tree,
        rows=[
            {"node": c, "period": "2026-10", "value": v}
            for c, v in [
                ("calls", 3000),
                ("connect_rate", 60),
                ("appt_rate", 10),
                ("meeting_rate", 50),
                ("win_rate", 30),
            ]
        ],
        channel="api",
    )
    # DOMAIN.md: 3,000 calls × 60 % × 10 % × 50 % × 30 % = 27 orders.
    record(
        manager,
        [
            ("calls", "2026-10", 3000),
            ("connect_rate", "2026-10", 60),
            ("appt_rate", "2026-10", 8),
            ("meeting_rate", "2026-10", 50),
            ("win_rate", "2026-10", 30),
        ],
    )
    return orders


def test_the_funnel_shows_each_stage_and_conversion_against_target(supervisor, call_funnel) -> None:
    response = login(supervisor).get("/scorecards/trees/SC/funnels/orders/", {"period": "2026-10"})
    steps = response.context["steps"]
    assert [(s.name, round(s.count, 2)) for s in steps] == [
        ("架電数", 3000),
        ("接続", 1800),
        ("アポ取得", 144),
        ("商談化", 72),
        ("受注数", 21.6),
    ]
    assert [round(s.count_target, 2) for s in steps][-1] == 27
    assert [s.status for s in steps[1:]] == ["green", "red", "green", "green"]
    assert 'id="fig-funnel"' in response.content.decode()


def test_the_engagement_page_links_its_funnel(supervisor, call_funnel) -> None:
    html = (
        login(supervisor)
        .get("/scorecards/engagements/CALL-1/", {"period": "2026-10"})
        .content.decode()
    )
    assert "/scorecards/trees/SC/funnels/orders/" in html


def test_a_node_that_is_not_a_funnel_has_no_funnel_page(supervisor, small) -> None:
    assert login(supervisor).get("/scorecards/trees/SC/funnels/fin_a/").status_code == 404


@pytest.fixture
def shared(manager, sc_tree, vendor_a) -> None:
    """Two call centres on the same catalogue KPI (call.orders), of different sizes."""
    big = Engagement.objects.create(
        code="CALL-BIG",
        name="大規模",
        vendor=vendor_a,
        outsourcing_type="outbound_call",
        phase="expansion",
        start_month=dt.date(2026, 4, 1),
        end_month=dt.date(2027, 3, 1),
        monthly_fee=2_000_000,
    )
    small_e = Engagement.objects.create(
        code="CALL-SMALL",
        name="小規模",
        vendor=vendor_a,
        outsourcing_type="outbound_call",
        phase="launch",
        start_month=dt.date(2026, 4, 1),
        end_month=dt.date(2027, 3, 1),
        monthly_fee=500_000,
    )
    kpi(sc_tree, "big_orders", big, "financial", template_code="call.orders", name="受注数")
    kpi(sc_tree, "small_orders", small_e, "financial", template_code="call.orders", name="受注数")
    targets_record(
        user=manager,
        tree=sc_tree,
        rows=[
            {"node": "big_orders", "period": "2026-10", "value": 100},
            {"node": "small_orders", "period": "2026-10", "value": 20},
        ],
        channel="api",
    )
    record(manager, [("big_orders", "2026-10", 80), ("small_orders", "2026-10", 25)])


def test_the_comparison_normalises_by_achievement_and_by_fees(supervisor, shared) -> None:
    client = login(supervisor)
    rows = (
        client.get("/scorecards/comparison/", {"period": "2026-10"})
        .context["tables"]["comparison"]
        .rows
    )
    assert [(r[2], r[-1]) for r in rows] == [
        ("CALL-BIG 株式会社コールナビ", 80.0),
        ("CALL-SMALL 株式会社コールナビ", 125.0),
    ]
    rows = (
        client.get("/scorecards/comparison/", {"period": "2026-10", "measure": "per_fee"})
        .context["tables"]["comparison"]
        .rows
    )
    assert [r[-1] for r in rows] == [4.0, 5.0]  # orders per 100,000 yen: 80 / 20, 25 / 5


def test_the_comparison_shows_only_what_the_user_may_see(other_vendor_user, shared) -> None:
    response = login(other_vendor_user).get("/scorecards/comparison/", {"period": "2026-10"})
    assert response.context["tables"]["comparison"].rows == []


def test_plotly_js_is_served_locally_with_long_caching(db) -> None:
    response = Client().get(
        f"/scorecards/plotly-{plotly.__version__}.min.js", HTTP_ACCEPT_ENCODING="gzip"
    )
    assert response.status_code == 200
    assert response["Cache-Control"] == "public, max-age=31536000, immutable"
    assert response["Content-Encoding"] == "gzip"
    assert Client().get("/scorecards/plotly-0.0.1.min.js").status_code == 404


def test_the_kpi_page_reads_the_forecast_the_worker_stored(
    manager, supervisor, small, monkeypatch
) -> None:
    from scorecard import services
    from scorecard.models import KpiForecast

    months = ["2026-04", "2026-05", "2026-06", "2026-07", "2026-08", "2026-09"]
    record(manager, [("fin_a", m, 100 + i) for i, m in enumerate(months)])
    assert services.forecast_tree(small["fin_a"].tree_id)["forecast"] == 1
    # Nothing changed: the next run skips fin_a (the others have too few months to forecast).
    assert services.forecast_tree(small["fin_a"].tree_id) == {
        "forecast": 0,
        "unchanged": 1,
        "removed": 0,
    }
    stored = KpiForecast.objects.get(node=small["fin_a"])

    def not_again(*args, **kwargs):
        raise AssertionError("the stored forecast should have been used")

    monkeypatch.setattr(services, "forecast_for", not_again)
    response = login(supervisor).get("/scorecards/trees/SC/kpis/fin_a/")
    assert response.context["forecast"].probability == stored.probability
