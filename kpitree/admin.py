"""Admin for KPI trees. Targets, actuals and nodes are read-only here on purpose: they change only
through kpitree.services (the one write path, with validation, locking and audit)."""

from django.contrib import admin

from kpitree.models import Actual, Node, Target, Tree, ValueAudit
from kpitree.services import mark_stale


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Tree)
class TreeAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "start_month", "end_month", "fiscal_year_start", "computed_at")
    search_fields = ("code", "name")
    readonly_fields = ("data_version", "computed_version", "computed_at")

    def save_model(self, request, obj: Tree, form, change: bool) -> None:
        super().save_model(request, obj, form, change)
        mark_stale([obj.pk])  # thresholds or months may have changed: recompute


@admin.register(Node)
class NodeAdmin(ReadOnlyAdmin):
    list_display = ("code", "name", "tree", "parent", "engagement", "rollup", "perspective")
    list_filter = ("tree", "rollup", "perspective", "result_type")
    search_fields = ("code", "name")


@admin.register(Target)
class TargetAdmin(ReadOnlyAdmin):
    list_display = ("node", "period", "value", "rationale", "updated_by", "updated_at")
    list_filter = ("node__tree", "rationale")


@admin.register(Actual)
class ActualAdmin(ReadOnlyAdmin):
    list_display = ("node", "period", "value", "status", "channel", "updated_by", "updated_at")
    list_filter = ("node__tree", "status", "channel")


@admin.register(ValueAudit)
class ValueAuditAdmin(ReadOnlyAdmin):
    list_display = ("kind", "node", "period", "old_value", "new_value", "user", "at", "channel")
    list_filter = ("kind", "channel")
