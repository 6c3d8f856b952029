"""money's REST endpoints under /api/v1/money/ (money.api)."""

from django.urls import path

from money import api

urlpatterns = [
    path("engagements/<str:code>/", api.EngagementMoneyView.as_view(), name="money-engagement"),
    path("engagements/<str:code>/charges/", api.ChargesView.as_view(), name="money-charges"),
    path(
        "engagements/<str:code>/charges/<int:charge_id>/void/",
        api.ChargeVoidView.as_view(),
        name="money-charge-void",
    ),
    path("engagements/<str:code>/reliefs/", api.ReliefsView.as_view(), name="money-reliefs"),
    path(
        "engagements/<str:code>/reliefs/<int:relief_id>/withdraw/",
        api.ReliefWithdrawView.as_view(),
        name="money-relief-withdraw",
    ),
    path(
        "engagements/<str:code>/rule-sets/",
        api.EngagementRuleSetsView.as_view(),
        name="money-rule-sets",
    ),
    path(
        "engagements/<str:code>/statements/",
        api.EngagementStatementsView.as_view(),
        name="money-statements",
    ),
    path("rule-sets/<int:rule_set_id>/", api.RuleSetView.as_view(), name="money-rule-set"),
    path(
        "rule-sets/<int:rule_set_id>/adopt/",
        api.RuleSetAdoptView.as_view(),
        name="money-rule-set-adopt",
    ),
    path(
        "rule-sets/<int:rule_set_id>/backtest/",
        api.RuleSetBacktestView.as_view(),
        name="money-rule-set-backtest",
    ),
    path("statements/<int:statement_id>/", api.StatementView.as_view(), name="money-statement"),
    path(
        "statements/<int:statement_id>/accept/",
        api.StatementAcceptView.as_view(),
        name="money-statement-accept",
    ),
    path(
        "statements/<int:statement_id>/dispute/",
        api.StatementDisputeView.as_view(),
        name="money-statement-dispute",
    ),
    path(
        "statements/<int:statement_id>/resolve/",
        api.StatementResolveView.as_view(),
        name="money-statement-resolve",
    ),
    path(
        "statements/<int:statement_id>/reopen/",
        api.StatementReopenView.as_view(),
        name="money-statement-reopen",
    ),
]
