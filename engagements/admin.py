from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.utils.translation import gettext_lazy as _

from engagements.models import (
    Engagement,
    ImprovementProposal,
    Notification,
    ReminderLog,
    Submission,
    SubmissionEvent,
    User,
    Vendor,
)


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = ("username", "email", "role", "vendor", "language", "is_active")
    list_filter = ("role", "vendor", "language", "is_active")
    fieldsets = (
        *BaseUserAdmin.fieldsets,
        (_("KPI Planner"), {"fields": ("role", "vendor", "language")}),
    )
    add_fieldsets = (
        *BaseUserAdmin.add_fieldsets,
        (_("KPI Planner"), {"fields": ("role", "vendor", "language", "email")}),
    )


@admin.register(Vendor)
class VendorAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "contact_email", "updated_at")
    search_fields = ("code", "name")


@admin.register(Engagement)
class EngagementAdmin(admin.ModelAdmin):
    list_display = (
        "code",
        "name",
        "vendor",
        "outsourcing_type",
        "phase",
        "start_month",
        "end_month",
    )
    list_filter = ("outsourcing_type", "phase", "vendor")
    search_fields = ("code", "name", "vendor__name")
    autocomplete_fields = ("vendor",)


# -- vendor portal ---------------------------------------------------------------------------------


@admin.register(Submission)
class SubmissionAdmin(admin.ModelAdmin):
    """Read-only: the workflow (and its audit) goes through the portal or the API. Deleting a
    submission would unlock an approved month without a reopen, so it is refused too."""

    list_display = ("engagement", "period", "status", "submitted_by", "submitted_at", "decided_by")
    list_filter = ("status", "engagement")
    date_hierarchy = "period"

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(SubmissionEvent)
class SubmissionEventAdmin(admin.ModelAdmin):
    list_display = ("at", "engagement", "period", "action", "from_status", "to_status", "user")
    list_filter = ("action", "engagement")

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(ImprovementProposal)
class ImprovementProposalAdmin(admin.ModelAdmin):
    list_display = ("title", "engagement", "period", "status", "submitted_by", "decided_by")
    list_filter = ("status", "engagement")
    search_fields = ("title", "description")
    readonly_fields = ("status", "decided_by", "decided_at", "decided_period", "period")


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ("created_at", "recipient", "kind", "subject", "read_at", "emailed_at")
    list_filter = ("kind",)
    search_fields = ("subject", "recipient__username")


@admin.register(ReminderLog)
class ReminderLogAdmin(admin.ModelAdmin):
    list_display = ("created_at", "kind", "engagement", "period", "recipient", "sent_at", "error")
    list_filter = ("kind",)
    search_fields = ("key",)
