"""Admin for KPI trees. Targets, actuals and nodes are read-only here on purpose: they change only
through kpitree.services (the one write path, with validation, locking and audit)."""

from collections.abc import Mapping
from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError

from engagements.admin import ServiceAdmin
from kpi_planner.access import can_manage
from kpitree import services
from kpitree.catalogue import KpiTemplate, TemplateNode, TreeTemplate, template_problems
from kpitree.models import Actual, Node, Target, Tree, ValueAudit

ROLLUP_STATE = ("data_version", "computed_version", "computed_at", "queued_at")


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Tree)
class TreeAdmin(ServiceAdmin):
    """Saves through tree_create / tree_update. Archiving is a delete through the API or the
    editor (tree_delete, with its tombstones), so `archived_at` is only shown here."""

    list_display = ("code", "name", "start_month", "end_month", "fiscal_year_start", "computed_at")
    search_fields = ("code", "name")
    fields = (*services.TREE_FIELDS, "archived_at", *ROLLUP_STATE)
    readonly_fields = ("archived_at", *ROLLUP_STATE)
    fields_of_service = services.TREE_FIELDS

    def has_delete_permission(self, request, obj=None) -> bool:
        # Deleting a tree would take its actuals, targets and audit rows with it.
        return False

    def service_create(self, request, data: Mapping[str, Any]) -> Tree:
        return services.tree_create(user=request.user, data=data)

    def service_update(self, request, obj: Tree, data: Mapping[str, Any]) -> Tree:
        # New months, fiscal year or thresholds mark the rollups stale (tree_update).
        return services.tree_update(user=request.user, tree=obj, data=data)


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
    list_display = ("node", "period", "value", "channel", "updated_by", "updated_at")
    list_filter = ("node__tree", "channel")


@admin.register(ValueAudit)
class ValueAuditAdmin(ReadOnlyAdmin):
    list_display = ("kind", "node", "period", "old_value", "new_value", "user", "at", "channel")
    list_filter = ("kind", "channel")


# -- the template catalogue: data that managers extend here ---------------------------------------


class ManagersEditAdmin(admin.ModelAdmin):
    """Every manager extends the catalogue, not only superusers with model permissions."""

    def has_module_permission(self, request) -> bool:
        return can_manage(request.user)

    def has_view_permission(self, request, obj=None) -> bool:
        return can_manage(request.user)

    def has_add_permission(self, request, obj=None) -> bool:
        return can_manage(request.user)

    def has_change_permission(self, request, obj=None) -> bool:
        return can_manage(request.user)

    def has_delete_permission(self, request, obj=None) -> bool:
        return can_manage(request.user)


@admin.register(KpiTemplate)
class KpiTemplateAdmin(ManagersEditAdmin):
    list_display = (
        "code",
        "name_ja",
        "name_en",
        "unit",
        "direction",
        "perspective",
        "result_type",
        "benchmark",
        "builtin",
    )
    list_filter = ("perspective", "result_type", "direction", "builtin")
    search_fields = ("code", "name_ja", "name_en", "definition_ja", "definition_en")


class TemplateNodeFormSet(forms.BaseInlineFormSet):
    """Checks the template as a whole: parents exist, no cycle, formulas name children."""

    def clean(self) -> None:
        super().clean()
        nodes = [
            f.instance
            for f in self.forms
            if f.cleaned_data and not f.cleaned_data.get("DELETE") and f.instance.code
        ]
        problems = template_problems(nodes)
        if problems:
            raise ValidationError(problems)


class TemplateNodeInline(admin.TabularInline):
    model = TemplateNode
    formset = TemplateNodeFormSet
    fields = ("position", "code", "kpi", "parent_code", "rollup", "formula", "weight", "importance")
    autocomplete_fields = ("kpi",)
    extra = 1

    def has_view_permission(self, request, obj=None) -> bool:
        return can_manage(request.user)

    has_add_permission = has_change_permission = has_delete_permission = has_view_permission


@admin.register(TreeTemplate)
class TreeTemplateAdmin(ManagersEditAdmin):
    list_display = ("code", "name_ja", "outsourcing_type", "phase", "position", "builtin")
    list_filter = ("outsourcing_type", "phase", "builtin")
    search_fields = ("code", "name_ja", "name_en")
    inlines = [TemplateNodeInline]
