"""Admin for money: read-only. Rules, charges, reliefs and statements change through
money.services (the pages and the API), which validate, audit and recompute; the admin only
shows them, so no channel can skip those rules."""

from django.contrib import admin

from kpitree.admin import ReadOnlyAdmin
from money.models import Charge, MoneySettings, Relief, RuleSet, Statement, StatementEvent


@admin.register(MoneySettings)
class MoneySettingsAdmin(ReadOnlyAdmin):
    list_display = ("engagement", "gain_node", "acquired_node", "updated_at")


@admin.register(Charge)
class ChargeAdmin(ReadOnlyAdmin):
    list_display = ("engagement", "period", "amount", "description", "voided_at")
    list_filter = ("engagement",)


@admin.register(RuleSet)
class RuleSetAdmin(ReadOnlyAdmin):
    list_display = ("engagement", "name", "effective_from", "status", "cap_pct", "earn_back_months")
    list_filter = ("status", "engagement")


@admin.register(Relief)
class ReliefAdmin(ReadOnlyAdmin):
    list_display = ("engagement", "period", "node", "reason", "withdrawn_at")


@admin.register(Statement)
class StatementAdmin(ReadOnlyAdmin):
    list_display = ("engagement", "period", "status", "fee", "charges", "adjustment", "version")
    list_filter = ("status", "engagement")


@admin.register(StatementEvent)
class StatementEventAdmin(ReadOnlyAdmin):
    list_display = ("statement", "action", "user", "at", "adjustment_before", "adjustment_after")
