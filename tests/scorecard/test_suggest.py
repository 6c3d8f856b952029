"""Suggested targets (scorecard/suggest.py, suggest_queries.py, suggest_views.py and the
`{% suggested_targets node %}` panel). The page's URL is added here in front of the project's
until scorecard/urls.py carries it (the first match wins; use `pytest.mark.urls(URLS)`)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from django.template import Context, Template
from django.test import RequestFactory
from django.urls import include, path
from django.utils import translation

from kpi_planner import urls as project
from kpi_planner.months import month_add, month_range
from kpitree.models import Node, Target, ValueAudit
from scorecard import forecast, suggest, suggest_queries, suggest_views
from scorecard import urls as scorecard_urls
from tests.factories import ActualFactory, NodeFactory, TargetFactory, TreeFactory
from tests.kpitree.test_whatif_support import funnel_tree
from tests.scorecard.test_suggest_support import suggest_catalogue  # noqa: F401

URLS = __name__
SUGGEST = path(
    "trees/<str:tree>/kpis/<str:node>/suggested-targets/",
    suggest_views.suggest_targets,
    name="suggest_targets",
)
urlpatterns = [
    path("scorecards/", include(([SUGGEST, *scorecard_urls.urlpatterns], "scorecard"))),
    *project.urlpatterns,
]
START = dt.date(2025, 4, 1)
JULY = dt.date(2026, 7, 1)
NEEDED = 30 / (0.6 * 0.1 * 0.5 * 0.3)  # 3,333.33… calls for 30 orders


def _linear(n: int = 12) -> pd.Series:
    months = month_range(START, month_add(START, n - 1))
    return pd.Series([100.0 + 10 * k for k in range(n)], index=months)


# -- the pure part ------------------------------------------------------------------------------


def test_it_suggests_the_forecast_mean_of_a_trend() -> None:
    actual = _linear()
    nxt = month_add(START, 12)
    [s] = suggest.suggest([nxt], actual)
    frame = pd.DataFrame(
        {"actual": [*actual.to_list(), np.nan], "target": np.nan}, index=[*actual.index, nxt]
    )
    expected = forecast.forecast_kpi(frame)
    assert expected is not None and expected.method == forecast.METHOD_TREND
    assert s.value == float(expected.mean[0])
    assert s.source == suggest.FROM_FORECAST
    assert s.rationale == "past_results"
    assert abs(s.value - 220) / 220 < 0.01  # the trend's next value


def test_it_falls_back_to_the_benchmark() -> None:
    short = _linear(3)  # too few months to forecast
    [s] = suggest.suggest([month_add(START, 3)], short, benchmark=150.0, unit="件")
    assert (s.value, s.source, s.rationale, s.forecast) == (150.0, "benchmark", "benchmark", None)
    [none] = suggest.suggest([month_add(START, 3)], pd.Series([], dtype=float))
    assert (none.value, none.source, none.sentence()) == (None, "", "")


def test_the_plan_comes_first() -> None:
    need = suggest.Need(name="受注数", unit="件", goal=30, value=3150.0, reachable=True)
    month = month_add(START, 12)
    [s] = suggest.suggest([month], _linear(), benchmark=3000.0, needs={month: need})
    assert (s.value, s.source, s.rationale) == (3150.0, "plan", "past_results")
    out_of_reach = suggest.Need(name="受注数", unit="件", goal=30, value=30000.0, reachable=False)
    [s] = suggest.suggest([month], _linear(), benchmark=3000.0, needs={month: out_of_reach})
    assert s.source == "forecast"


def test_the_sentence_in_japanese_and_english() -> None:
    s = suggest.Suggestion(
        period=JULY,
        value=3150.0,
        source="plan",
        forecast=2990.0,
        past=suggest.Past(6, 2950.0, 120.0),
        benchmark=3000.0,
        need=suggest.Need(name="KGI", unit="", goal=30.0, value=3150.0, reachable=True),
    )
    assert (
        s.sentence()
        == "過去6か月 2,950 ± 120、ベンチマーク 3,000、KGI目標30にはこの率で3,150が必要"
    )
    with translation.override("en"):
        assert s.sentence() == (
            "past 6 months 2,950 ± 120; benchmark 3,000; "
            "the KGI target of 30 needs 3,150 at current rates"
        )
    one = suggest.Suggestion(
        JULY, 60.0, "forecast", 60.0, suggest.Past(1, 60.0, 0.0), None, None, "%"
    )
    assert one.sentence() == "過去1か月 60% ± 0%"
    with translation.override("en"):
        assert one.sentence() == "past 1 month 60% ± 0%"
    far = suggest.Need(name="受注数", unit="件", goal=300.0, value=30000.0, reachable=False)
    s = suggest.Suggestion(JULY, None, "", None, None, None, far, "件")
    assert s.sentence() == "受注数目標300件はこの率では届かない"
    with translation.override("en"):
        assert s.sentence() == "the 受注数 target of 300 件 is out of reach at current rates"


def test_the_past_months_are_the_last_six() -> None:
    past = suggest.past_of(_linear())
    assert (past.count, past.mean, round(past.spread, 6)) == (
        6,
        185.0,
        round(np.std([160, 170, 180, 190, 200, 210], ddof=1), 6),
    )


# -- loaded for a node ------------------------------------------------------------------------


@pytest.fixture
def tree(engagement_a):
    tree = funnel_tree(engagement_a)
    TargetFactory(node=Node.objects.get(code="orders"), period=JULY, value=30)
    return tree


def test_it_back_solves_the_funnel(tree, manager) -> None:
    calls = Node.objects.get(code="calls")
    suggestions = suggest_queries.suggestions_for(user=manager, node=calls)
    assert [s.period for s in suggestions] == month_range(JULY, dt.date(2027, 3, 1))
    july = suggestions[0]
    assert july.source == "plan"
    assert july.value == pytest.approx(NEEDED, rel=1e-9)
    assert round(july.value, 2) == 3333.33
    assert july.need.reachable and july.need.goal == 30
    assert july.sentence() == "過去1か月 3,000件 ± 0件、受注数目標30件にはこの率で3,333件が必要"
    # August has no target above 架電数: one actual is too few to forecast, no benchmark.
    assert (suggestions[1].value, suggestions[1].need) == (None, None)


def test_the_kgi_target_is_solved_through_the_sum(tree, manager) -> None:
    # 新規顧客数 = 受注数 + 広告経由CV数 (81): 111 needs 30 orders, i.e. the same calls.
    TargetFactory(node=Node.objects.get(code="customers"), period=dt.date(2026, 8, 1), value=111)
    calls = Node.objects.get(code="calls")
    [aug] = suggest_queries.suggestions_for(user=manager, node=calls, months=[dt.date(2026, 8, 1)])
    assert aug.value == pytest.approx(NEEDED, rel=1e-9)
    assert aug.need.name == "新規顧客数"


def test_a_vendor_does_not_see_the_kgi_target(tree, vendor_user) -> None:
    TargetFactory(node=Node.objects.get(code="customers"), period=dt.date(2026, 8, 1), value=111)
    calls = Node.objects.get(code="calls")
    [aug] = suggest_queries.suggestions_for(
        user=vendor_user, node=calls, months=[dt.date(2026, 8, 1)]
    )
    assert aug.need is None


def test_a_benchmark_without_actuals_fills_every_month(db, manager) -> None:
    node = NodeFactory(tree=TreeFactory(), benchmark=3000, unit="件")
    suggestions = suggest_queries.suggestions_for(user=manager, node=node)
    assert len(suggestions) == 12
    assert {(s.value, s.rationale) for s in suggestions} == {(3000.0, "benchmark")}
    assert suggestions[0].sentence() == "ベンチマーク 3,000件"


# -- the panel and the page ---------------------------------------------------------------------


def _panel(user, node: Node) -> str:
    request = RequestFactory().get("/")
    request.user = user
    template = Template("{% load suggest %}{% suggested_targets node %}")
    return template.render(Context({"node": node, "request": request}))


pages = pytest.mark.urls(URLS)
URL = "/scorecards/trees/FY2026/kpis/calls/suggested-targets/"


@pages
def test_the_panel_lists_the_months_with_their_reasoning(tree, manager) -> None:
    html = _panel(manager, Node.objects.get(code="calls"))
    assert f'action="{URL}"' in html
    assert '<tr data-period="2026-07">' in html
    assert '<input type="checkbox" name="period" value="2026-07" checked' in html
    assert 'value="2026-08"' not in html  # no suggestion: nothing to fill in
    assert "3,333件" in html
    assert "受注数目標30件にはこの率で3,333件が必要" in html
    assert 'data-testid="suggest-fill"' in html


@pages
def test_a_supervisor_sees_the_panel_without_the_button(tree, supervisor) -> None:
    html = _panel(supervisor, Node.objects.get(code="calls"))
    assert "3,333件" in html
    assert 'data-testid="suggest-fill"' not in html
    assert 'name="period"' not in html


@pages
def test_it_fills_the_targets_with_rationale_and_reason(tree, manager, client) -> None:
    client.force_login(manager)
    assert client.get(URL).status_code == 200
    r = client.post(URL, {"period": ["2026-07"]})
    assert r.status_code == 302
    assert r["Location"] == "/scorecards/trees/FY2026/kpis/calls/#suggested-targets"
    target = Target.objects.get(node__code="calls", period=JULY)
    assert target.value == pytest.approx(NEEDED, rel=1e-9)
    assert target.rationale == "past_results"
    audit = ValueAudit.objects.get(node__code="calls", period=JULY)
    assert audit.new_text == "past_results"
    assert audit.reason == "過去1か月 3,000件 ± 0件、受注数目標30件にはこの率で3,333件が必要"
    assert audit.user == manager and audit.channel == "web"


@pages
def test_it_fills_the_benchmark_in_english(db, manager, client) -> None:
    tree = TreeFactory(code="BENCH")
    NodeFactory(tree=tree, code="leads", benchmark=3000, unit="件")
    manager.language = "en"
    manager.save()
    client.force_login(manager)
    r = client.post(
        "/scorecards/trees/BENCH/kpis/leads/suggested-targets/", HTTP_ACCEPT_LANGUAGE="en"
    )
    assert r.status_code == 302
    assert (
        Target.objects.filter(node__code="leads", value=3000, rationale="benchmark").count() == 12
    )
    reasons = set(ValueAudit.objects.values_list("reason", flat=True))
    assert reasons == {"benchmark 3,000 件"}


@pages
def test_a_supervisor_gets_403_and_nothing_is_written(tree, supervisor, client) -> None:
    client.force_login(supervisor)
    r = client.post(URL, {"period": ["2026-07"]})
    assert r.status_code == 403
    assert not Target.objects.filter(node__code="calls", period=JULY).exists()
    assert not ValueAudit.objects.exists()


@pages
def test_a_month_without_a_suggestion_is_refused(tree, manager, client) -> None:
    client.force_login(manager)
    r = client.post(URL, {"period": ["2026-07", "2026-08", "nope"]})
    assert r.status_code == 400
    assert "nope, 2026-08" in r.content.decode()
    assert not ValueAudit.objects.exists()
    assert not Target.objects.filter(node__code="calls", period=JULY).exists()


@pages
def test_a_hidden_node_answers_404(tree, other_vendor_user, client) -> None:
    client.force_login(other_vendor_user)
    assert client.get(URL).status_code == 404
    assert client.post(URL, {"period": ["2026-07"]}).status_code == 404
    assert not ValueAudit.objects.exists()


def test_an_actual_in_the_plan_moves_the_months(tree, manager) -> None:
    ActualFactory(node=Node.objects.get(code="calls"), period=JULY, value=3100)
    calls = Node.objects.get(code="calls")
    assert suggest_queries.suggestions_for(user=manager, node=calls)[0].period == dt.date(
        2026, 8, 1
    )


def test_a_computed_kpi_is_suggested_after_its_last_rolled_up_month(tree, manager) -> None:
    """A formula KPI has no actuals of its own: its history is its monthly rollup, so the
    months already reported are not offered again."""
    from kpitree import recompute

    recompute.tree_recompute(tree_id=tree.pk)
    orders = Node.objects.get(code="orders")
    history = suggest_queries._actuals(orders)
    assert list(history.index) == [dt.date(2026, 6, 1)]
    assert suggest_queries.months_to_suggest(orders, history)[0] == JULY
