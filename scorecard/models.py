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
    COMMITMENT_ASSESSED = "commitment_assessed", _("Commitment assessment changed")


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


# -- commitments (issue 15) -------------------------------------------------------------------------
# 共通の約束: an engagement's commitments in words (納期を守る), checked monthly by the manager
# and optionally self-assessed by the vendor. Written only by scorecard.commitment_services; a
# commitment is archived, never deleted, and every change is kept as a CommitmentCheckEvent.

from kpitree.models import Perspective  # noqa: E402  (this block's own import, kept with it)


class Assessment(models.TextChoices):
    MET = "met", _("Met")
    PARTLY = "partly", _("Partly met")
    NOT_MET = "not_met", _("Not met")


# The stated mapping of an assessment to a KPI-like score (scorecard.commitment_services).
ASSESSMENT_SCORES: dict[str, float] = {"met": 100.0, "partly": 50.0, "not_met": 0.0}


class Commitment(models.Model):
    """One commitment of an engagement. With a perspective, the manager's monthly assessment
    counts in that perspective's score like a KPI of the given weight; blank: not scored."""

    engagement = models.ForeignKey(Engagement, on_delete=models.PROTECT, related_name="commitments")
    text = models.CharField(_("commitment"), max_length=300)
    perspective = models.CharField(
        _("perspective"), max_length=16, choices=Perspective.choices, blank=True
    )
    weight = models.FloatField(
        _("weight"), default=1, validators=[MinValueValidator(0), MaxValueValidator(100)]
    )
    position = models.PositiveIntegerField(_("position"), default=0)
    created_at = models.DateTimeField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    archived_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["engagement_id", "position", "id"]
        verbose_name = _("commitment")
        verbose_name_plural = _("commitments")

    def __str__(self) -> str:
        return self.text


class CommitmentCheck(models.Model):
    """A commitment's check of one month: the manager's assessment (what is scored) and the
    vendor's self-assessment, each with a note and who wrote it when."""

    commitment = models.ForeignKey(Commitment, on_delete=models.PROTECT, related_name="checks")
    period = models.DateField(_("month"))
    manager_assessment = models.CharField(
        _("manager's assessment"), max_length=8, choices=Assessment.choices, blank=True
    )
    manager_note = models.TextField(_("manager's note"), blank=True)
    manager_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    manager_at = models.DateTimeField(null=True, blank=True)
    vendor_assessment = models.CharField(
        _("vendor's self-assessment"), max_length=8, choices=Assessment.choices, blank=True
    )
    vendor_note = models.TextField(_("vendor's note"), blank=True)
    vendor_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    vendor_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["commitment", "period"], name="one_commitment_check_a_month"
            )
        ]
        ordering = ["commitment_id", "period"]
        verbose_name = _("commitment check")
        verbose_name_plural = _("commitment checks")

    def __str__(self) -> str:
        return f"{self.commitment_id} {self.period:%Y-%m} {self.manager_assessment or '-'}"


class CommitmentCheckEvent(models.Model):
    """One change of a commitment or of one of its checks: never updated, never deleted.

    kind: "added", "changed", "archived" (the commitment; `commitment_check` empty),
    "assessed" (the manager's side of a check), "self_assessed" (the vendor's)."""

    commitment = models.ForeignKey(Commitment, on_delete=models.PROTECT, related_name="events")
    commitment_check = models.ForeignKey(
        CommitmentCheck, null=True, on_delete=models.PROTECT, related_name="events"
    )
    kind = models.CharField(max_length=16)
    changes = models.JSONField(default=dict)  # field → [old, new]
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    at = models.DateTimeField()

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.commitment_id} {self.kind} {self.at:%Y-%m-%d %H:%M}"
