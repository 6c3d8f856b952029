"""Scorecard pages: the SV overview, an engagement's scorecard, a KPI's detail, a tree's
scorecard, funnels, the KPI matrix, the vendor comparison and the monthly reports.

Every queryset comes from kpi_planner.access (hidden objects answer 404); a visible action a role
may not take answers 403. Each table has a CSV export (`?csv=<table key>`).

One module per page family; this package re-exports the views scorecard/urls.py routes to:

- _common: the period and grain asked for, the page-or-CSV answer, shared page context
- sv_overview: the SV overview of every visible engagement
- engagement_scorecard: an engagement's scorecard and its perspective weights form
- kpi_detail: a KPI's values, forecast and history of changes
- kpi_matrix: an engagement's KPI matrix (its table and chart are reused by tree_scorecard)
- tree_scorecard: a KPI tree's scorecard
- funnels: a formula KPI drawn as a funnel
- compare: the vendor comparison
- downloads: the monthly report (Excel, PDF) and plotly.js
"""

from scorecard.views.compare import comparison
from scorecard.views.downloads import plotly_js, report
from scorecard.views.engagement_scorecard import engagement, weights
from scorecard.views.funnels import funnel
from scorecard.views.kpi_detail import kpi
from scorecard.views.kpi_matrix import matrix
from scorecard.views.sv_overview import overview
from scorecard.views.tree_scorecard import tree

__all__ = [
    "comparison",
    "engagement",
    "funnel",
    "kpi",
    "matrix",
    "overview",
    "plotly_js",
    "report",
    "tree",
    "weights",
]
