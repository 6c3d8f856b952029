"""Balanced Scorecard: per-engagement perspective weights, monthly score snapshots with their
restatements, and the materialised KPI forecasts the dashboards read.

Scores themselves are computed from the materialised rollups (kpitree.models.Rollup) by
scorecard.scoring; the snapshots keep what was reported for each month so that a later change
(a corrected actual, a new definition) shows up as a restatement with its reason instead of
silently rewriting last month's score.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from engagements.models import Engagement
from kpitree.models import Grain, Node, Status

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

PERSPECTIVES = ("financial", "customer", "process", "learning")


def _weight_field(label: StrOrPromise) -> models.FloatField:
    return models.FloatField(
        label, default=1, validators=[MinValueValidator(0), MaxValueValidator(100)]
    )


class EngagementScoring(models.Model):
    """How the four perspective scores of an engagement combine into its overall score.

    Kept here (one-to-one to the engagement) so that scoring settings live with the scorecard;
    an engagement without a row uses equal weights.
    """

    engagement = models.OneToOneField(
        Engagement, on_delete=models.CASCADE, related_name="scoring", primary_key=True
    )
    financial_weight = _weight_field(_("weight of the financial perspective"))
    customer_weight = _weight_field(_("weight of the customer perspective"))
    process_weight = _weight_field(_("weight of the internal process perspective"))
    learning_weight = _weight_field(_("weight of the learning and growth perspective"))
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = _("scoring weights")
        verbose_name_plural = _("scoring weights")

    def __str__(self) -> str:
        return f"{self.engagement.code}: {self.weights()}"

    def weights(self) -> dict[str, float]:
        return {p: getattr(self, f"{p}_weight") for p in PERSPECTIVES}


class RestatementReason(models.TextChoices):
    # The order is the order of precedence when several things changed at once.
    DEFINITION_CHANGED = "definition_changed", _("KPI definition changed")
    WEIGHTS_CHANGED = "weights_changed", _("Perspective weights changed")
    TARGET_CHANGED = "target_changed", _("Target changed")
    ACTUAL_CORRECTED = "actual_corrected", _("Actual corrected")
    LATE_DATA = "late_data", _("Actuals added after the month was submitted")


class ScoreSnapshot(models.Model):
    """The scores of one engagement for one month as they were computed at `taken_at`.

    Exactly one snapshot per engagement, grain and period is current. When a recompute changes
    an already-snapshotted score the old row stays (is_current=False) and the new one records
    why (`reason`) and which KPIs changed, so the page can say "restated on …, because …".
    """

    engagement = models.ForeignKey(
        Engagement, on_delete=models.CASCADE, related_name="score_snapshots"
    )
    grain = models.CharField(max_length=8, choices=Grain.choices, default=Grain.MONTH)
    period = models.DateField()
    overall_score = models.FloatField(null=True)
    overall_status = models.CharField(max_length=8, choices=Status.choices)
    financial_score = models.FloatField(null=True)
    financial_status = models.CharField(max_length=8, choices=Status.choices)
    customer_score = models.FloatField(null=True)
    customer_status = models.CharField(max_length=8, choices=Status.choices)
    process_score = models.FloatField(null=True)
    process_status = models.CharField(max_length=8, choices=Status.choices)
    learning_score = models.FloatField(null=True)
    learning_status = models.CharField(max_length=8, choices=Status.choices)
    # {node_id: [actual, target, achievement]} of every KPI: what a restatement compares.
    kpis = models.JSONField(default=dict)
    # Hash of everything that defines how the scores are computed (KPI set, weights,
    # perspectives, formulas, directions, thresholds, caps): a change means "definition changed".
    definition = models.CharField(max_length=64)
    weights = models.JSONField(default=dict)  # perspective weights used
    taken_at = models.DateTimeField()
    is_current = models.BooleanField(default=True)
    reason = models.CharField(
        _("reason for the restatement"),
        max_length=20,
        choices=RestatementReason.choices,
        blank=True,
    )
    changed_kpis = models.JSONField(default=list)  # [[code, name], ...] whose values changed
    # Not a field: set by scorecard.queries on the snapshots of a page (what a restatement
    # replaced; None for the first).
    previous: ScoreSnapshot | None

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["engagement", "grain", "period"],
                condition=models.Q(is_current=True),
                name="one_current_snapshot",
            )
        ]
        indexes = [models.Index(fields=["engagement", "grain", "period"])]
        ordering = ["engagement_id", "grain", "period", "taken_at", "id"]
        verbose_name = _("score snapshot")
        verbose_name_plural = _("score snapshots")

    def __str__(self) -> str:
        return f"{self.engagement_id} {self.period:%Y-%m} {self.overall_score}"

    @property
    def is_restatement(self) -> bool:
        return bool(self.reason)

    def score_of(self, perspective: str) -> float | None:
        return getattr(self, f"{perspective}_score")


class KpiForecast(models.Model):
    """The latest forecast of a scorecard KPI (computed by a task, read by the dashboards)."""

    node = models.OneToOneField(
        Node, on_delete=models.CASCADE, related_name="forecast", primary_key=True
    )
    fingerprint = models.CharField(max_length=64)  # of the series it was computed from
    method = models.CharField(max_length=32)
    period = models.DateField()  # first month of the fiscal year the probability is about
    target = models.FloatField(null=True)
    expected = models.FloatField(null=True)
    probability = models.FloatField(null=True)
    at_risk = models.BooleanField(default=False)
    # [["YYYY-MM", mean, lower, upper], ...]: the forecast months with their 80 % interval.
    points = models.JSONField(default=list)
    computed_at = models.DateTimeField()

    class Meta:
        verbose_name = _("KPI forecast")
        verbose_name_plural = _("KPI forecasts")

    def __str__(self) -> str:
        return f"{self.node_id}: {self.probability}"

    @property
    def percent(self) -> int | None:
        """The probability of reaching the target, in whole percent."""
        return None if self.probability is None else round(self.probability * 100)
