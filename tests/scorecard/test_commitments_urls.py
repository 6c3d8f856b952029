"""A URL configuration for the commitments tests: the project's, with the commitments pages
routed in the `scorecard` namespace as scorecard/urls.py routes them
(`*commitment_views.urlpatterns`). Harmless once they are: the routes are only repeated."""

from __future__ import annotations

from django.urls import URLResolver, include, path

from kpi_planner import urls as project_urls
from scorecard import commitment_views
from scorecard import urls as scorecard_urls

urlpatterns = [
    p
    for p in project_urls.urlpatterns
    if not (isinstance(p, URLResolver) and p.namespace == "scorecard")
]
urlpatterns.insert(
    0,
    path(
        "scorecards/",
        include(
            ([*commitment_views.urlpatterns, *scorecard_urls.urlpatterns], "scorecard"),
            namespace="scorecard",
        ),
    ),
)
