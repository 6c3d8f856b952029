"""Browser tests of the scorecard screens: each draws its plotly chart, without console errors,
in Japanese and in English; vendors see only their own scorecard."""

from __future__ import annotations

import pytest

from engagements.demo import DEMO_PASSWORD, seed_accounts_and_engagements
from engagements.models import Engagement, User
from kpitree.demo import seed_trees
from kpitree.models import Node, Tree
from kpitree.recompute import tree_recompute
from kpitree.services import actuals_record, targets_record
from scorecard.services import forecast_tree, snapshot_engagements_for_tree
from tests.e2e.conftest import login

SCREENS = {
    # path: (Japanese h1 starts with, English h1 starts with)
    "/scorecards/?period=2026-10": ("スコアカード一覧", "Scorecard overview"),
    "/scorecards/engagements/CALL-2026/?period=2026-10": (
        "スコアカード：新規開拓テレアポ代行",
        "Scorecard: 新規開拓テレアポ代行",
    ),
    "/scorecards/trees/FY2026-ACQ/kpis/calls/": ("架電数", "架電数"),
    "/scorecards/trees/FY2026-ACQ/funnels/orders/?period=2026-10": (
        "ファネル：受注数",
        "Funnel: 受注数",
    ),
    "/scorecards/engagements/CALL-2026/matrix/?period=2026-10": ("KPIマトリクス", "KPI matrix"),
    "/scorecards/comparison/?period=2026-10": ("外注先比較", "Vendor comparison"),
    "/scorecards/trees/FY2026-ACQ/?period=2026-10": (
        "スコアカード：FY2026 新規顧客獲得",
        "Scorecard: FY2026 新規顧客獲得",
    ),
}


@pytest.fixture
def demo(transactional_db) -> None:
    seed_accounts_and_engagements()
    seed_trees()
    # A second engagement on a catalogue KPI of the ad agency, for the vendor comparison.
    tree = Tree.objects.get(code="FY2026-ACQ")
    manager = User.objects.get(username="manager")
    Node.objects.create(
        tree=tree,
        code="lp_cvr",
        name="LP CVR",
        engagement=Engagement.objects.get(code="LP-2026"),
        perspective="customer",
        unit="%",
        time_aggregation="avg",
        template_code="ads.cvr",
    )
    targets_record(
        user=manager,
        tree=tree,
        rows=[{"node": "lp_cvr", "period": "2026-10", "value": 2}],
        channel="system",
    )
    actuals_record(
        user=manager,
        rows=[{"tree": tree.code, "node": "lp_cvr", "period": "2026-10", "value": 2.4}],
        channel="system",
    )
    for t in Tree.objects.all():
        tree_recompute(tree_id=t.pk)
        snapshot_engagements_for_tree(t.pk)
        forecast_tree(t.pk)


@pytest.mark.parametrize("language", ["ja", "en"])
@pytest.mark.parametrize("path", list(SCREENS))
def test_each_screen_draws_its_chart(page, live_server, demo, path, language) -> None:
    User.objects.filter(username="supervisor").update(language=language)
    login(page, live_server, "supervisor", DEMO_PASSWORD)
    page.goto(live_server.url + path)
    page.wait_for_selector(".js-plotly-plot .main-svg", timeout=20_000)
    assert page.locator("html").get_attribute("lang") == language
    expected = SCREENS[path][0 if language == "ja" else 1]
    assert page.locator("h1").inner_text().startswith(expected)
    assert page.locator(".js-plotly-plot").count() >= 1
    assert page.console_errors == []


def test_the_chart_has_a_table_view(page, live_server, demo) -> None:
    login(page, live_server, "supervisor", DEMO_PASSWORD)
    page.goto(live_server.url + "/scorecards/engagements/CALL-2026/?period=2026-10")
    page.wait_for_selector(".js-plotly-plot")
    page.click("text=表で表示")
    assert page.locator(".chart-table table tbody tr").count() == 12
    assert page.console_errors == []


def test_a_click_on_an_overview_row_opens_the_engagement(page, live_server, demo) -> None:
    login(page, live_server, "supervisor", DEMO_PASSWORD)
    page.goto(live_server.url + "/scorecards/?period=2026-10")
    with page.expect_navigation():
        page.locator("tr[data-href]", has_text="CALL-2026").locator("td").nth(2).click()
    assert "/scorecards/engagements/CALL-2026/" in page.url
    assert page.locator(".score-card").count() == 5


def test_a_vendor_sees_its_own_scorecard_only(page, live_server, demo) -> None:
    login(page, live_server, "vendor", DEMO_PASSWORD)
    page.goto(live_server.url + "/scorecards/?period=2026-10")
    assert page.locator("table.overview tbody tr").count() == 1
    page.goto(live_server.url + "/scorecards/engagements/CALL-2026/?period=2026-10")
    page.wait_for_selector(".js-plotly-plot")
    assert page.locator(".weights").count() == 0
    response = page.goto(live_server.url + "/scorecards/engagements/ADS-2026/")
    assert response.status == 404


def test_a_manager_changes_the_perspective_weights(page, live_server, demo) -> None:
    login(page, live_server, "manager", DEMO_PASSWORD)
    page.goto(live_server.url + "/scorecards/engagements/CALL-2026/?period=2026-10")
    page.fill("input[name=financial]", "2")
    with page.expect_navigation():
        page.click("text=重みを保存")
    assert "視点の重みを保存し、スコアを再計算しました。" in page.locator(".messages").inner_text()
    assert "視点の重みの変更" in page.locator(".restated").inner_text()
