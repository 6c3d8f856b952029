"""Admin for the scorecard. Snapshots and forecasts are computed, so they are read-only here;
weights change through scorecard.services (which re-snapshots the scores)."""

from django.contrib import admin

from kpitree.admin import ReadOnlyAdmin
from scorecard.models import EngagementScoring, KpiForecast, ScoreSnapshot


@admin.register(EngagementScoring)
class EngagementScoringAdmin(ReadOnlyAdmin):
    list_display = (
        "engagement",
        "financial_weight",
        "customer_weight",
        "process_weight",
        "learning_weight",
        "updated_by",
        "updated_at",
    )


@admin.register(ScoreSnapshot)
class ScoreSnapshotAdmin(ReadOnlyAdmin):
    list_display = (
        "engagement",
        "period",
        "overall_score",
        "overall_status",
        "is_current",
        "reason",
        "taken_at",
    )
    list_filter = ("is_current", "reason", "overall_status")
    search_fields = ("engagement__code", "engagement__name")
    date_hierarchy = "period"


@admin.register(KpiForecast)
class KpiForecastAdmin(ReadOnlyAdmin):
    list_display = ("node", "method", "period", "probability", "at_risk", "computed_at")
    list_filter = ("at_risk", "method")
