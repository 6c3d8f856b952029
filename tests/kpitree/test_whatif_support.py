"""What the what-if tests share (no tests here): the worked funnel in the database, and the URLs
of the what-if API and pages until kpi_planner/urls.py and kpitree/urls.py carry them (these
first, then the project's: the first match wins, so this keeps working once the project has
them too; use it with `pytest.mark.urls`)."""

from __future__ import annotations

import datetime as dt

from django.urls import include, path

from kpi_planner import urls as project
from kpitree import analysis_api, analysis_views
from kpitree import urls as kpitree_urls
from kpitree.models import Node, Tree
from tests.factories import ActualFactory, TargetFactory, TreeFactory

URLS = __name__
FUNNEL = "calls * connect_rate / 100 * appt_rate / 100 * meeting_rate / 100 * win_rate / 100"
MONTH = dt.date(2026, 6, 1)
LEAVES = {
    # code: (name, unit, the month's actual, its target)
    "calls": ("架電数", "件", 3000, 3000),
    "connect_rate": ("接続率", "%", 60, 60),
    "appt_rate": ("アポ取得率", "%", 10, 10),
    "meeting_rate": ("商談化率", "%", 50, 50),
    "win_rate": ("受注率", "%", 30, 40),
}


def funnel_tree(engagement, code: str = "FY2026") -> Tree:
    """KGI 新規顧客数 (in-house, the sum of its children) over 受注数 = the funnel of DOMAIN.md
    (3,000 × 60 % × 10 % × 50 % × 30 % = 27 in June 2026) owned by `engagement`'s vendor, and
    広告経由CV数 (in-house, 81)."""
    tree = TreeFactory(code=code, name="FY2026 新規顧客獲得")
    kgi = Node.objects.create(
        tree=tree, code="customers", name="新規顧客数", kind="kgi", rollup="sum", unit="件"
    )
    orders = Node.objects.create(
        tree=tree,
        code="orders",
        name="受注数",
        parent=kgi,
        engagement=engagement,
        rollup="formula",
        formula=FUNNEL,
        unit="件",
        position=1,
    )
    for k, (leaf, (name, unit, actual, target)) in enumerate(LEAVES.items()):
        node = Node.objects.create(
            tree=tree,
            code=leaf,
            name=name,
            parent=orders,
            engagement=engagement,
            unit=unit,
            position=k,
        )
        ActualFactory(node=node, period=MONTH, value=actual)
        TargetFactory(node=node, period=MONTH, value=target)
    ads = Node.objects.create(
        tree=tree, code="ads_cv", name="広告経由CV数", parent=kgi, unit="件", position=2
    )
    ActualFactory(node=ads, period=MONTH, value=81)
    return tree


PAGES = [
    path("<str:code>/what-if/", analysis_views.whatif_view, name="whatif"),
    path("<str:code>/goal-seek/", analysis_views.goal_seek_view, name="goal_seek"),
]
API = [
    path(
        "api/v1/trees/<str:tree_code>/what-if/",
        analysis_api.WhatIfView.as_view(),
        name="tree-what-if",
    ),
    path(
        "api/v1/trees/<str:tree_code>/sensitivity/",
        analysis_api.SensitivityView.as_view(),
        name="tree-sensitivity",
    ),
    path(
        "api/v1/trees/<str:tree_code>/goal-seek/",
        analysis_api.GoalSeekView.as_view(),
        name="tree-goal-seek",
    ),
]
urlpatterns = [
    *API,
    path("trees/", include(([*PAGES, *kpitree_urls.urlpatterns], "kpitree"))),
    *project.urlpatterns,
]
handler400 = project.handler400
