"""Admin for the PDCA records: read-only. Reviews, actions and alerts change only through
pdca.services (audited in ActionEvent, never deleted), so the admin shows them and nothing more."""

from django.contrib import admin

from kpitree.admin import ReadOnlyAdmin
from pdca.models import Action, ActionEvent, Alert, Review, ReviewDecision, ReviewFinding


@admin.register(Review)
class ReviewAdmin(ReadOnlyAdmin):
    list_display = ("engagement", "kind", "held_on", "status", "created_by")
    list_filter = ("kind", "status")


@admin.register(ReviewFinding)
class ReviewFindingAdmin(ReadOnlyAdmin):
    list_display = ("review", "node", "hypothesis", "next_action")


@admin.register(ReviewDecision)
class ReviewDecisionAdmin(ReadOnlyAdmin):
    list_display = ("review", "kind", "node", "template_code", "status", "applied_at")
    list_filter = ("kind", "status")


@admin.register(Action)
class ActionAdmin(ReadOnlyAdmin):
    list_display = ("title", "engagement", "node", "source", "owner", "due_on", "status")
    list_filter = ("status", "source", "engagement")


@admin.register(ActionEvent)
class ActionEventAdmin(ReadOnlyAdmin):
    list_display = ("action", "kind", "user", "at")


@admin.register(Alert)
class AlertAdmin(ReadOnlyAdmin):
    list_display = ("node", "kind", "period", "raised_at", "cleared_at", "notified_at")
    list_filter = ("kind",)
