"""Review meetings, corrective actions and alerts (issue 13; DOMAIN.md "PDCA").

Every write goes through `pdca.services`; nothing here is hard-deleted: a review is closed, an
action is cancelled, an alert is cleared, and each change of an action is kept in ActionEvent.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from engagements.models import Engagement, Phase
from kpitree.models import Node, Tree


class ReviewKind(models.TextChoices):
    MONTHLY = "monthly", _("Monthly check")
    QUARTERLY = "quarterly", _("Quarterly review")
    YEARLY = "yearly", _("Yearly redesign")
    MARKET = "market", _("Market change")
    PHASE = "phase", _("Phase change")


class Review(models.Model):
    """One review meeting of an engagement (and optionally one of its trees): who met, what they
    found per KPI, what they decided, and the action items that came out of it."""

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        CLOSED = "closed", _("Closed")

    engagement = models.ForeignKey(
        Engagement, on_delete=models.PROTECT, related_name="reviews", verbose_name=_("engagement")
    )
    tree = models.ForeignKey(
        Tree,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="reviews",
        verbose_name=_("KPI tree"),
    )
    kind = models.CharField(_("kind"), max_length=16, choices=ReviewKind.choices)
    held_on = models.DateField(_("date"))
    participants = models.TextField(_("participants"), blank=True)
    summary = models.TextField(_("summary"), blank=True)
    status = models.CharField(
        _("status"), max_length=8, choices=Status.choices, default=Status.OPEN
    )
    # A phase-change review: the phases it moves between (the proposals come from the catalogue).
    from_phase = models.CharField(max_length=16, choices=Phase.choices, blank=True)
    to_phase = models.CharField(max_length=16, choices=Phase.choices, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-held_on", "-id"]
        indexes = [models.Index(fields=["engagement", "held_on"])]
        verbose_name = _("review")
        verbose_name_plural = _("reviews")

    def __str__(self) -> str:
        return f"{self.engagement_id} {self.kind} {self.held_on:%Y-%m-%d}"


class ReviewFinding(models.Model):
    """What a review found about one KPI: the hypothesis for its movement and the next action."""

    review = models.ForeignKey(Review, on_delete=models.CASCADE, related_name="findings")
    node = models.ForeignKey(Node, on_delete=models.PROTECT, related_name="+")
    hypothesis = models.TextField(_("hypothesis"), blank=True)
    next_action = models.TextField(_("next action"), blank=True)

    class Meta:
        ordering = ["review_id", "id"]
        constraints = [
            models.UniqueConstraint(fields=["review", "node"], name="review_finding_per_kpi")
        ]
        verbose_name = _("review finding")
        verbose_name_plural = _("review findings")

    def __str__(self) -> str:
        return f"{self.review_id}/{self.node_id}"


class DecisionKind(models.TextChoices):
    KEEP = "keep", _("Keep")
    CHANGE_TARGET = "change_target", _("Change the target")
    CHANGE_DEFINITION = "change_definition", _("Change the definition")
    RETIRE = "retire", _("Retire")
    ADD = "add", _("Add")


class ReviewDecision(models.Model):
    """A decision of a review about one KPI (or a KPI to add), applied through kpitree's services
    (targets_record / node_update with the reason, node_delete, the catalogue) so that the old
    target or definition is kept with the reason. A phase-change review starts with proposals
    (`proposed`), each applied or dismissed with one click."""

    class Status(models.TextChoices):
        PROPOSED = "proposed", _("Proposed")
        APPLIED = "applied", _("Applied")
        DISMISSED = "dismissed", _("Dismissed")

    review = models.ForeignKey(Review, on_delete=models.CASCADE, related_name="decisions")
    kind = models.CharField(_("decision"), max_length=20, choices=DecisionKind.choices)
    # The KPI decided on; for `add`, empty until applied (then the node made).
    node = models.ForeignKey(
        Node, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # For `add`: the catalogue KPI's code. For change_target: {"targets": {"YYYY-MM": value}};
    # for change_definition: the new field values ({"definition": ..., "unit": ...}).
    template_code = models.CharField(max_length=64, blank=True)
    detail = models.JSONField(default=dict, blank=True)
    reason = models.TextField(_("reason"), blank=True)
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.PROPOSED
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    applied_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["review_id", "id"]
        verbose_name = _("review decision")
        verbose_name_plural = _("review decisions")

    def __str__(self) -> str:
        return f"{self.review_id} {self.kind} {self.node_id or self.template_code}"


class Action(models.Model):
    """A tracked action: a corrective action opened from an off-track or at-risk KPI, a review's
    action item, or a vendor's monthly "next action" promoted. Shown on the KPI, the engagement
    scorecard, the owner's home page and the vendor portal until closed; reminded when overdue."""

    class Source(models.TextChoices):
        OFF_TRACK = "off_track", _("Off-track KPI")
        AT_RISK = "at_risk", _("KPI at risk")
        REVIEW = "review", _("Review")
        NEXT_ACTION = "next_action", _("Vendor's next action")
        MANUAL = "manual", _("Manual")

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        IN_PROGRESS = "in_progress", _("In progress")
        DONE = "done", _("Done")
        CANCELLED = "cancelled", _("Cancelled")

    engagement = models.ForeignKey(
        Engagement, on_delete=models.PROTECT, related_name="actions", verbose_name=_("engagement")
    )
    node = models.ForeignKey(
        Node,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="actions",
        verbose_name=_("KPI"),
    )
    review = models.ForeignKey(
        Review, null=True, blank=True, on_delete=models.PROTECT, related_name="actions"
    )
    source = models.CharField(_("source"), max_length=16, choices=Source.choices)
    # The month the action is about (the off-track month, the next action's month).
    period = models.DateField(_("month"), null=True, blank=True)
    title = models.CharField(_("what"), max_length=300)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="actions",
        verbose_name=_("owner"),
    )
    due_on = models.DateField(_("due"))
    status = models.CharField(
        _("status"), max_length=12, choices=Status.choices, default=Status.OPEN
    )
    evidence = models.TextField(_("evidence"), blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True, db_index=True)

    class Meta:
        ordering = ["due_on", "id"]
        indexes = [
            models.Index(fields=["engagement", "status"]),
            models.Index(fields=["owner", "status"]),
        ]
        verbose_name = _("action")
        verbose_name_plural = _("actions")

    def __str__(self) -> str:
        return self.title

    @property
    def is_open(self) -> bool:
        return self.status in (self.Status.OPEN, self.Status.IN_PROGRESS)


class ActionEvent(models.Model):
    """One change of an action (opened, edited, status changed, evidence added): never updated,
    never deleted."""

    action = models.ForeignKey(Action, on_delete=models.PROTECT, related_name="events")
    kind = models.CharField(max_length=16)  # "opened", "changed", "closed", "reopened"
    changes = models.JSONField(default=dict)  # field → [old, new]
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    at = models.DateTimeField()

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.action_id} {self.kind} {self.at:%Y-%m-%d %H:%M}"


class Alert(models.Model):
    """A KPI that went red, or whose forecast fell below the at-risk threshold: raised once (the
    partial unique constraint lets one alert per KPI and kind be open, so concurrent recomputes
    on several workers raise it once), notified once, cleared when the KPI recovers; falling
    again raises a new one."""

    class Kind(models.TextChoices):
        RED = "red", _("Off track")
        AT_RISK = "at_risk", _("At risk")

    node = models.ForeignKey(Node, on_delete=models.PROTECT, related_name="alerts")
    kind = models.CharField(max_length=8, choices=Kind.choices)
    period = models.DateField(null=True, blank=True)  # the month that was red
    raised_at = models.DateTimeField()
    cleared_at = models.DateTimeField(null=True, blank=True)
    notified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-raised_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["node", "kind"],
                condition=models.Q(cleared_at__isnull=True),
                name="alert_one_open_per_kpi_and_kind",
            )
        ]
        verbose_name = _("alert")
        verbose_name_plural = _("alerts")

    def __str__(self) -> str:
        return f"{self.node_id} {self.kind} {self.raised_at:%Y-%m-%d %H:%M}"
