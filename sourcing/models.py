"""Choosing a vendor (相見積もり, issue 14): a sourcing round and the proposals made in it.

A `Tender` is one round: what is outsourced (type and months), the catalogue KPIs the vendors
promise on (`TenderKpi`, copied from the catalogue with their benchmark when the round is
opened, so that a later change of the catalogue does not change a comparison already made) and
which of them is the outcome the price is divided by (`outcome_code`). Each candidate vendor's
`VendorProposal` is a monthly price in whole yen and one `Promise` (a monthly value) per KPI of
the round. Choosing a proposal decides the round: the engagement, its KPI tree, targets and SLA
rules are made from it (sourcing.services.tender_choose), and the round keeps both the chosen
proposal and the engagement it became.

Nothing here is hard-deleted: a proposal is withdrawn (kept, with who and when), an edited
proposal keeps its rows and changes their values.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from engagements.models import Engagement, OutsourcingType, Vendor
from kpitree.models import Direction

_USER = settings.AUTH_USER_MODEL


class Tender(models.Model):
    """A sourcing round: the candidates' proposals for the same KPIs, compared side by side."""

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        DECIDED = "decided", _("Decided")

    name = models.CharField(_("name"), max_length=200)
    outsourcing_type = models.CharField(
        _("outsourcing type"), max_length=16, choices=OutsourcingType.choices
    )
    start_month = models.DateField(_("start month"))
    end_month = models.DateField(_("end month"))
    # The catalogue code of the outcome KPI (one of the round's KPIs): price ÷ its promise is the
    # cost per unit of outcome the proposals are ranked by.
    outcome_code = models.CharField(_("outcome KPI"), max_length=64)
    note = models.TextField(_("note"), blank=True)
    status = models.CharField(
        _("status"), max_length=8, choices=Status.choices, default=Status.OPEN
    )
    chosen = models.OneToOneField(
        "sourcing.VendorProposal",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("chosen proposal"),
    )
    engagement = models.ForeignKey(
        Engagement,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("engagement"),
    )
    created_by = models.ForeignKey(_USER, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    decided_by = models.ForeignKey(
        _USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("sourcing round")
        verbose_name_plural = _("sourcing rounds")

    def __str__(self) -> str:
        return self.name

    @property
    def is_open(self) -> bool:
        return self.status == self.Status.OPEN


class TenderKpi(models.Model):
    """A catalogue KPI the candidates promise on, as the catalogue gave it when the round was
    opened (names in both languages, unit, direction, benchmark)."""

    tender = models.ForeignKey(Tender, on_delete=models.PROTECT, related_name="kpis")
    template_code = models.CharField(_("catalogue KPI"), max_length=64)
    name_ja = models.CharField(_("name (Japanese)"), max_length=200)
    name_en = models.CharField(_("name (English)"), max_length=200, blank=True)
    unit = models.CharField(_("unit"), max_length=16, blank=True)
    direction = models.CharField(
        _("direction"), max_length=8, choices=Direction.choices, default=Direction.UP
    )
    benchmark = models.FloatField(_("benchmark"), null=True, blank=True)
    benchmark_source = models.CharField(_("benchmark source"), max_length=300, blank=True)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["tender", "position", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["tender", "template_code"], name="one_kpi_of_a_code_a_tender"
            )
        ]
        verbose_name = _("compared KPI")
        verbose_name_plural = _("compared KPIs")

    def __str__(self) -> str:
        return f"{self.tender_id}: {self.template_code}"

    @property
    def name(self) -> str:
        """The English name for an English reader when there is one, else the Japanese name."""
        if (get_language() or "ja").startswith("en") and self.name_en:
            return self.name_en
        return self.name_ja


class VendorProposal(models.Model):
    """A candidate vendor's proposal: a monthly price (integer yen) and its promises. Withdrawn,
    never deleted; one active proposal per vendor and round."""

    tender = models.ForeignKey(Tender, on_delete=models.PROTECT, related_name="proposals")
    vendor = models.ForeignKey(
        Vendor, on_delete=models.PROTECT, related_name="+", verbose_name=_("vendor")
    )
    monthly_price = models.PositiveBigIntegerField(_("monthly price (JPY)"))
    note = models.TextField(_("note"), blank=True)
    created_by = models.ForeignKey(_USER, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    withdrawn_at = models.DateTimeField(_("withdrawn at"), null=True, blank=True)
    withdrawn_by = models.ForeignKey(
        _USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    withdraw_reason = models.TextField(_("reason"), blank=True)

    class Meta:
        ordering = ["tender", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["tender", "vendor"],
                condition=models.Q(withdrawn_at__isnull=True),
                name="one_active_proposal_a_vendor",
            )
        ]
        verbose_name = _("vendor proposal")
        verbose_name_plural = _("vendor proposals")

    def __str__(self) -> str:
        return f"{self.tender_id}: {self.vendor_id}"

    @property
    def is_active(self) -> bool:
        return self.withdrawn_at is None


class Promise(models.Model):
    """What a proposal promises for one KPI of the round, as a monthly value."""

    proposal = models.ForeignKey(VendorProposal, on_delete=models.PROTECT, related_name="promises")
    tender_kpi = models.ForeignKey(TenderKpi, on_delete=models.PROTECT, related_name="promises")
    value = models.FloatField(_("promised monthly value"))

    class Meta:
        ordering = ["proposal", "tender_kpi__position"]
        constraints = [
            models.UniqueConstraint(
                fields=["proposal", "tender_kpi"], name="one_promise_a_kpi_a_proposal"
            )
        ]
        verbose_name = _("promise")
        verbose_name_plural = _("promises")

    def __str__(self) -> str:
        return f"{self.proposal_id}: {self.tender_kpi_id} = {self.value}"
