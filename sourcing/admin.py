"""Admin for vendor selection: read-only. Rounds and proposals change through
sourcing.services (the pages and the API), which validate, and choosing makes the engagement."""

from django.contrib import admin

from kpitree.admin import ReadOnlyAdmin
from sourcing.models import Promise, Tender, TenderKpi, VendorProposal


class TenderKpiInline(admin.TabularInline):
    model = TenderKpi
    extra = 0
    can_delete = False
    fields = ("template_code", "name_ja", "name_en", "unit", "direction", "benchmark")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Tender)
class TenderAdmin(ReadOnlyAdmin):
    list_display = ("name", "outsourcing_type", "start_month", "end_month", "status", "engagement")
    list_filter = ("status", "outsourcing_type")
    search_fields = ("name",)
    inlines = [TenderKpiInline]


@admin.register(VendorProposal)
class VendorProposalAdmin(ReadOnlyAdmin):
    list_display = ("tender", "vendor", "monthly_price", "created_at", "withdrawn_at")
    list_filter = ("withdrawn_at",)
    search_fields = ("tender__name", "vendor__code", "vendor__name")


@admin.register(Promise)
class PromiseAdmin(ReadOnlyAdmin):
    list_display = ("proposal", "tender_kpi", "value")
