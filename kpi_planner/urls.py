from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

import engagements.api  # noqa: F401 - each app's api module registers its viewsets on the router
import portal.api  # noqa: F401
from engagements.token_api import TokenLoginView
from kpi_planner import health, views
from kpi_planner.api import router
from kpitree import analysis_api
from kpitree import api as kpitree_api
from kpitree.attribution_api import AttributionView

admin.site.site_header = "KPI Planner"
admin.site.site_title = "KPI Planner"

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", health.healthz, name="healthz"),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("password/", auth_views.PasswordChangeView.as_view(), name="password_change"),
    path(
        "password/done/",
        auth_views.PasswordChangeDoneView.as_view(),
        name="password_change_done",
    ),
    path("language/", views.set_language, name="set_language"),
    path("engagements/", include("engagements.urls")),
    path("portal/", include("portal.urls")),
    path("trees/", include("kpitree.urls")),
    path("scorecards/", include("scorecard.urls")),
    path("pdca/", include("pdca.urls")),
    path("money/", include("money.urls")),
    path("sourcing/", include("sourcing.urls")),
    path("admin/", admin.site.urls),
    path("api/v1/auth/token/", TokenLoginView.as_view(), name="api-token"),
    path("api/v1/actuals/bulk/", kpitree_api.actuals_bulk, name="actuals-bulk"),
    path("api/v1/jobs/<uuid:job_id>/", kpitree_api.import_job_detail, name="import-job"),
    path(
        "api/v1/actuals/<str:tree_code>/<str:node_code>/<str:period>/",
        kpitree_api.ActualDetailView.as_view(),
        name="actual-by-key",
    ),
    path(
        "api/v1/trees/<str:tree_code>/targets/",
        kpitree_api.TargetView.as_view(),
        name="tree-targets",
    ),
    path(
        "api/v1/trees/<str:tree_code>/rollup/", kpitree_api.RollupView.as_view(), name="tree-rollup"
    ),
    path("api/v1/trees/<str:tree_code>/lint/", kpitree_api.LintView.as_view(), name="tree-lint"),
    path(
        "api/v1/trees/<str:tree_code>/lint/acknowledgements/",
        kpitree_api.LintAcknowledgementView.as_view(),
        name="tree-lint-acknowledgements",
    ),
    path(
        "api/v1/trees/<str:tree_code>/lint/acknowledgements/<int:ack_id>/",
        kpitree_api.LintAcknowledgementDetailView.as_view(),
        name="tree-lint-acknowledgement",
    ),
    path("api/v1/engagements/<str:code>/scorecard/", include("scorecard.api_urls")),
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
    path(
        "api/v1/trees/<str:tree_code>/nodes/<str:node_code>/attribution/",
        AttributionView.as_view(),
        name="node-attribution",
    ),
    path("api/v1/money/", include("money.api_urls")),
    path("api/v1/sourcing/", include("sourcing.api_urls")),
    path("api/v1/", include(router.urls)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves Swagger UI's start-up script as a file of its own (?script): the
    # Content-Security-Policy allows no inline script.
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="swagger-ui"),
]

# Under /api/, a body found too large while it is read answers 413 and other 400s are JSON
# (kpi_planner.limits); pages keep Django's error pages.
handler400 = "kpi_planner.limits.bad_request"
