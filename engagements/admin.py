"""Admin for users, vendors and engagements: their saves and deletes go through
engagements.services, like the API's (the same rules, the same tombstones)."""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from typing import Any

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.contrib.auth.forms import AdminPasswordChangeForm
from django.db import models, transaction
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from engagements import services
from engagements.models import (
    ApiToken,
    Engagement,
    ImprovementProposal,
    Notification,
    ReminderLog,
    Submission,
    SubmissionEvent,
    User,
    Vendor,
)


def form_data(form, obj: models.Model, fields: Iterable[str]) -> dict[str, Any]:
    """The service's fields that the admin form edits, with the values it gave `obj`."""
    return {name: getattr(obj, name) for name in fields if name in form.cleaned_data}


def adopt(obj: models.Model, saved: models.Model) -> None:
    """Give the admin's own instance (it logs and redirects with it) what a create saved."""
    for field in obj._meta.concrete_fields:
        setattr(obj, field.attname, getattr(saved, field.attname))
    obj._state.adding, obj._state.db = False, saved._state.db


class ServiceAdmin(admin.ModelAdmin):
    """save_model / delete_model / delete_queryset call `service_create`, `service_update` and
    `service_delete` (an app's services)."""

    fields_of_service: tuple[str, ...] = ()

    def service_create(self, request, data: Mapping[str, Any]) -> models.Model:
        raise NotImplementedError

    def service_update(self, request, obj, data: Mapping[str, Any]) -> models.Model:
        raise NotImplementedError

    def service_delete(self, request, obj) -> None:
        raise NotImplementedError

    def save_model(self, request, obj, form, change: bool) -> None:
        data = form_data(form, obj, self.fields_of_service)
        if change:
            self.service_update(request, obj, data)
        else:
            adopt(obj, self.service_create(request, data))

    def delete_model(self, request, obj) -> None:
        self.service_delete(request, obj)

    @transaction.atomic
    def delete_queryset(self, request, queryset) -> None:
        for obj in queryset:  # each with its tombstones; one refusal deletes none
            self.service_delete(request, obj)


class OwnAccountForm:
    """The admin's user form refuses what user_update would (own_account_problems)."""

    actor: Any = None

    def clean(self) -> dict:
        cleaned = super().clean()  # type: ignore[misc]
        account = self.instance  # type: ignore[attr-defined]
        if account.pk:
            for problem in services.own_account_problems(
                user=self.actor, account=account, data=cleaned
            ):
                name = problem.field if problem.field in self.fields else None  # type: ignore[attr-defined]
                self.add_error(name, problem.message)  # type: ignore[attr-defined]
        return cleaned


class ServicePasswordChangeForm(AdminPasswordChangeForm):
    """The admin's password page saves through user_update as the manager using it."""

    actor: Any = None

    def save(self, commit: bool = True) -> User:
        usable = self.cleaned_data["set_usable_password"]
        return services.user_update(
            user=self.actor,
            account=self.user,
            data={},
            password=self.cleaned_data["password1"] if usable else None,
            disable_password=not usable,
        )


@admin.register(User)
class UserAdmin(ServiceAdmin, BaseUserAdmin):
    list_display = ("username", "email", "role", "vendor", "language", "is_active")
    list_filter = ("role", "vendor", "language", "is_active")
    fieldsets = (
        *(BaseUserAdmin.fieldsets or ()),
        (_("KPI Planner"), {"fields": ("role", "vendor", "language")}),
    )
    add_fieldsets = (
        *BaseUserAdmin.add_fieldsets,
        (_("KPI Planner"), {"fields": ("role", "vendor", "language", "email")}),
    )
    fields_of_service = services.USER_FIELDS

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        return type(form.__name__, (OwnAccountForm, form), {"actor": request.user})

    def has_delete_permission(self, request, obj=None) -> bool:
        # Nobody deletes their own account (user_delete refuses it): ask another manager.
        if obj is not None and obj.pk == request.user.pk:
            return False
        return super().has_delete_permission(request, obj)

    def user_change_password(self, request, id, form_url=""):
        # Django's page, with its form bound to the manager using it (this admin is shared
        # between requests, so the form class is set on a copy).
        page = copy.copy(self)
        page.change_password_form = type(
            "PasswordForm", (ServicePasswordChangeForm,), {"actor": request.user}
        )
        return BaseUserAdmin.user_change_password(page, request, id, form_url)

    def save_model(self, request, obj: User, form, change: bool) -> None:
        data = form_data(form, obj, self.fields_of_service)
        if change:
            services.user_update(user=request.user, account=obj, data=data)
            return
        # The creation form's choice: a password, or no password login.
        usable = form.cleaned_data.get("set_usable_password", True)
        password = form.cleaned_data.get("password1") if usable else None
        adopt(obj, services.user_create(user=request.user, data=data, password=password))

    def service_delete(self, request, obj: User) -> None:
        services.user_delete(user=request.user, account=obj)


@admin.register(Vendor)
class VendorAdmin(ServiceAdmin):
    list_display = ("code", "name", "contact_email", "updated_at")
    search_fields = ("code", "name")
    fields_of_service = services.VENDOR_FIELDS

    def service_create(self, request, data: Mapping[str, Any]) -> Vendor:
        return services.vendor_create(user=request.user, data=data)

    def service_update(self, request, obj: Vendor, data: Mapping[str, Any]) -> Vendor:
        return services.vendor_update(user=request.user, vendor=obj, data=data)

    def service_delete(self, request, obj: Vendor) -> None:
        services.vendor_delete(user=request.user, vendor=obj)


@admin.register(Engagement)
class EngagementAdmin(ServiceAdmin):
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
    fields_of_service = services.ENGAGEMENT_FIELDS

    def service_create(self, request, data: Mapping[str, Any]) -> Engagement:
        return services.engagement_create(user=request.user, data=data)

    def service_update(self, request, obj: Engagement, data: Mapping[str, Any]) -> Engagement:
        return services.engagement_update(user=request.user, engagement=obj, data=data)

    def service_delete(self, request, obj: Engagement) -> None:
        services.engagement_delete(user=request.user, engagement=obj)


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


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Read-only (keys are never shown: only their hash is stored); the action revokes through
    engagements.services.token_revoke, which keeps the token with when and by whom."""

    list_display = (
        "name",
        "user",
        "created_at",
        "expires_at",
        "last_used_at",
        "revoked_at",
        "revoked_by",
        "revoked_reason",
    )
    list_filter = ("revoked_reason",)
    search_fields = ("name", "user__username")
    readonly_fields = list_display
    exclude = ("key_hash",)
    actions = ["revoke"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    @admin.action(description=_("Revoke the selected tokens"), permissions=["view"])
    def revoke(self, request, queryset) -> None:
        with transaction.atomic():
            for token in queryset:
                services.token_revoke(user=request.user, token=token)
        count = len(queryset)
        message = ngettext("%(count)d token revoked.", "%(count)d tokens revoked.", count)
        self.message_user(request, message % {"count": count}, messages.SUCCESS)
