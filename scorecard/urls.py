from django.urls import path

from scorecard import commitment_views, suggest_views, views

app_name = "scorecard"
urlpatterns = [
    path("", views.overview, name="overview"),
    path("comparison/", views.comparison, name="comparison"),
    path("engagements/<str:code>/", views.engagement, name="engagement"),
    path("engagements/<str:code>/weights/", views.weights, name="weights"),
    path("engagements/<str:code>/matrix/", views.matrix, name="matrix"),
    path("engagements/<str:code>/report.<str:fmt>", views.report, name="report"),
    path("trees/<str:code>/", views.tree, name="tree"),
    path("trees/<str:tree>/kpis/<str:node>/", views.kpi, name="kpi"),
    path("trees/<str:tree>/funnels/<str:node>/", views.funnel, name="funnel"),
    path(
        "trees/<str:tree>/kpis/<str:node>/suggested-targets/",
        suggest_views.suggest_targets,
        name="suggest_targets",
    ),
    path("plotly-<str:version>.min.js", views.plotly_js, name="plotly_js"),
    *commitment_views.urlpatterns,
]
