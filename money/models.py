"""Money: cost and return per engagement, SLA/incentive rules, monthly statements.

Amounts of money are integer yen where they are a fact (the fee, a charge, a statement's total);
a statement line keeps its exact value (a percentage of the fee can have decimals) and only the
month's total is rounded, once, half away from zero (四捨五入) — `money.engine.round_yen`.
Nothing here is hard-deleted: a charge is voided, a relief withdrawn, a rule set superseded by a
later one, and every step of a statement is kept in StatementEvent.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from engagements.models import Engagement
from kpitree.models import Node

_USER = settings.AUTH_USER_MODEL


class MoneySettings(models.Model):
    """Which of an engagement's KPIs are its gain (sales increase, cost saved, in yen) and its
    acquired customers: ROI and CPA are computed from them and from the cost."""

    engagement = models.OneToOneField(
        Engagement, on_delete=models.CASCADE, related_name="money", primary_key=True
    )
    gain_node = models.ForeignKey(
        Node,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("gain KPI (JPY)"),
    )
    acquired_node = models.ForeignKey(
        Node,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("acquired customers KPI"),
    )
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(_USER, null=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        verbose_name = _("money settings")
        verbose_name_plural = _("money settings")

    def __str__(self) -> str:
        return str(self.engagement)


class Charge(models.Model):
    """An extra charge of one month on top of the fee (negative for a discount). Voided, never
    deleted."""

    engagement = models.ForeignKey(
        Engagement, on_delete=models.PROTECT, related_name="charges", verbose_name=_("engagement")
    )
    period = models.DateField(_("month"))
    amount = models.BigIntegerField(_("amount (JPY)"))
    description = models.CharField(_("description"), max_length=200)
    created_by = models.ForeignKey(_USER, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    voided_at = models.DateTimeField(_("voided at"), null=True, blank=True)
    voided_by = models.ForeignKey(
        _USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    void_reason = models.TextField(_("reason"), blank=True)

    class Meta:
        ordering = ["period", "pk"]
        indexes = [models.Index(fields=["engagement", "period"])]
        verbose_name = _("extra charge")
        verbose_name_plural = _("extra charges")

    def __str__(self) -> str:
        return f"{self.engagement_id} {self.period:%Y-%m} {self.amount}"


class RuleSet(models.Model):
    """A version of an engagement's SLA/incentive rules. An adopted set is in force from its
    `effective_from` month until the next adopted set's; an older month keeps the set that was in
    force. A draft can be back-tested before it is adopted; an adopted set is never edited."""

    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        ADOPTED = "adopted", _("Adopted")

    engagement = models.ForeignKey(
        Engagement, on_delete=models.PROTECT, related_name="rule_sets", verbose_name=_("engagement")
    )
    name = models.CharField(_("name"), max_length=200)
    effective_from = models.DateField(_("in force from"))
    status = models.CharField(
        _("status"), max_length=8, choices=Status.choices, default=Status.DRAFT
    )
    # The month's total adjustment is held within ± this share of the fee (None: no cap).
    cap_pct = models.DecimalField(
        _("monthly cap, share of the fee (%)"),
        max_digits=6,
        decimal_places=2,
        null=True,
        blank=True,
    )
    # A month's net credit is returned when the next N months are all green (0: no earn-back).
    earn_back_months = models.PositiveSmallIntegerField(
        _("earn-back after (green months)"), default=0
    )
    note = models.TextField(_("note"), blank=True)
    created_by = models.ForeignKey(_USER, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    adopted_by = models.ForeignKey(
        _USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    adopted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["engagement", "-effective_from", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["engagement", "effective_from"],
                condition=models.Q(status="adopted"),
                name="one_adopted_rule_set_a_month",
            )
        ]
        verbose_name = _("SLA rule set")
        verbose_name_plural = _("SLA rule sets")

    def __str__(self) -> str:
        return f"{self.name} ({self.effective_from:%Y-%m})"


class Rule(models.Model):
    """One line of a rule set: bands on a KPI's monthly achievement, assessed only in months whose
    volume (another KPI of the engagement) reaches the minimum, when one is set."""

    rule_set = models.ForeignKey(RuleSet, on_delete=models.CASCADE, related_name="rules")
    node = models.ForeignKey(
        Node, on_delete=models.PROTECT, related_name="sla_rules", verbose_name=_("KPI")
    )
    min_volume_node = models.ForeignKey(
        Node,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("volume KPI"),
    )
    min_volume = models.FloatField(_("minimum volume"), null=True, blank=True)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["rule_set", "position", "pk"]
        verbose_name = _("SLA rule")
        verbose_name_plural = _("SLA rules")

    def __str__(self) -> str:
        return f"{self.rule_set_id}: {self.node_id}"


class Band(models.Model):
    """Achievement from `lower` % (inclusive) to `upper` % (exclusive) adjusts the invoice by
    `pct_of_fee` % of the monthly fee (+ a bonus, − a credit). An open end is None."""

    rule = models.ForeignKey(Rule, on_delete=models.CASCADE, related_name="bands")
    lower = models.DecimalField(
        _("from (%)"), max_digits=8, decimal_places=2, null=True, blank=True
    )
    upper = models.DecimalField(
        _("below (%)"), max_digits=8, decimal_places=2, null=True, blank=True
    )
    pct_of_fee = models.DecimalField(
        _("adjustment, share of the fee (%)"), max_digits=6, decimal_places=2
    )

    class Meta:
        ordering = ["rule", "lower"]
        verbose_name = _("band")
        verbose_name_plural = _("bands")

    def __str__(self) -> str:
        return f"[{self.lower}, {self.upper}) {self.pct_of_fee}"


class Relief(models.Model):
    """A month a manager marks as caused by the client: the rule (or, with no node, every rule)
    is not assessed that month, and the month does not break an earn-back."""

    engagement = models.ForeignKey(
        Engagement, on_delete=models.PROTECT, related_name="reliefs", verbose_name=_("engagement")
    )
    period = models.DateField(_("month"))
    node = models.ForeignKey(
        Node,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("KPI (empty: every rule)"),
    )
    reason = models.TextField(_("reason"))
    created_by = models.ForeignKey(_USER, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    withdrawn_at = models.DateTimeField(null=True, blank=True)
    withdrawn_by = models.ForeignKey(
        _USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["period", "pk"]
        verbose_name = _("relief")
        verbose_name_plural = _("reliefs")

    def __str__(self) -> str:
        return f"{self.engagement_id} {self.period:%Y-%m}"


class Statement(models.Model):
    """The month's adjustment to an engagement's invoice, from its approved month and the rules
    in force. Open → (vendor) accepted = agreed and locked, or disputed → (manager) resolved →
    open again. Only an audited reopen changes an agreed statement."""

    class Status(models.TextChoices):
        OPEN = "open", _("Awaiting the vendor")
        DISPUTED = "disputed", _("Disputed")
        AGREED = "agreed", _("Agreed")

    engagement = models.ForeignKey(
        Engagement,
        on_delete=models.PROTECT,
        related_name="statements",
        verbose_name=_("engagement"),
    )
    period = models.DateField(_("month"))
    rule_set = models.ForeignKey(
        RuleSet, on_delete=models.PROTECT, related_name="statements", verbose_name=_("rule set")
    )
    status = models.CharField(
        _("status"), max_length=8, choices=Status.choices, default=Status.OPEN
    )
    fee = models.BigIntegerField(_("monthly fee (JPY)"))
    charges = models.BigIntegerField(_("extra charges (JPY)"), default=0)
    exact_adjustment = models.DecimalField(max_digits=20, decimal_places=4)
    adjustment = models.BigIntegerField(_("adjustment (JPY)"))
    version = models.PositiveIntegerField(default=1)
    computed_at = models.DateTimeField()
    agreed_at = models.DateTimeField(_("agreed at"), null=True, blank=True)
    agreed_by = models.ForeignKey(
        _USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["engagement", "-period"]
        constraints = [
            models.UniqueConstraint(fields=["engagement", "period"], name="one_statement_a_month")
        ]
        verbose_name = _("monthly statement")
        verbose_name_plural = _("monthly statements")

    def __str__(self) -> str:
        return f"{self.engagement_id} {self.period:%Y-%m}"

    @property
    def invoice(self) -> int:
        """What the month invoices: the fee, the extra charges and the adjustment."""
        return self.fee + self.charges + self.adjustment


class LineKind(models.TextChoices):
    BAND = "band", _("Rule")
    CAP = "cap", _("Cap")
    EARN_BACK = "earn_back", _("Earn-back")


class StatementLine(models.Model):
    """One line of a statement and how it was reached: `reason` names the case and `params` its
    numbers, rendered in the reader's language (money.engine.explain)."""

    statement = models.ForeignKey(Statement, on_delete=models.CASCADE, related_name="lines")
    position = models.PositiveSmallIntegerField(default=0)
    kind = models.CharField(_("kind"), max_length=12, choices=LineKind.choices)
    node = models.ForeignKey(
        Node, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    achievement = models.FloatField(_("achievement (%)"), null=True, blank=True)
    volume = models.FloatField(_("volume"), null=True, blank=True)
    pct_of_fee = models.DecimalField(max_digits=6, decimal_places=2, null=True, blank=True)
    amount = models.DecimalField(_("amount (JPY)"), max_digits=20, decimal_places=4)
    reason = models.CharField(max_length=32)
    params = models.JSONField(default=dict)
    # A dispute on this line by the vendor, and the manager's resolution.
    dispute = models.TextField(_("dispute"), blank=True)
    disputed_by = models.ForeignKey(
        _USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    disputed_at = models.DateTimeField(null=True, blank=True)
    resolution = models.TextField(_("resolution"), blank=True)
    resolved_by = models.ForeignKey(
        _USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["statement", "position"]
        verbose_name = _("statement line")
        verbose_name_plural = _("statement lines")

    def __str__(self) -> str:
        return f"{self.statement_id}#{self.position}"

    @property
    def open_dispute(self) -> bool:
        return bool(self.dispute) and self.resolved_at is None


class StatementAction(models.TextChoices):
    COMPUTED = "computed", _("Computed")
    RECOMPUTED = "recomputed", _("Recomputed")
    ACCEPTED = "accepted", _("Accepted")
    DISPUTED = "disputed", _("Disputed")
    RESOLVED = "resolved", _("Resolved")
    REOPENED = "reopened", _("Reopened")


class StatementEvent(models.Model):
    """Every step of a statement: who, when, why, and the total before and after."""

    statement = models.ForeignKey(Statement, on_delete=models.PROTECT, related_name="events")
    action = models.CharField(_("action"), max_length=12, choices=StatementAction.choices)
    line_position = models.PositiveSmallIntegerField(null=True, blank=True)
    comment = models.TextField(_("comment"), blank=True)
    adjustment_before = models.BigIntegerField(null=True)
    adjustment_after = models.BigIntegerField(null=True)
    user = models.ForeignKey(_USER, null=True, on_delete=models.SET_NULL, related_name="+")
    at = models.DateTimeField(_("at"))

    class Meta:
        ordering = ["statement", "at", "pk"]
        verbose_name = _("statement event")
        verbose_name_plural = _("statement events")

    def __str__(self) -> str:
        return f"{self.statement_id} {self.action}"
