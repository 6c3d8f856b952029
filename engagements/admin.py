from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.utils.translation import gettext_lazy as _

from engagements.models import Engagement, User, Vendor


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
