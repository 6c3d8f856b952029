"""KPI trees: a plan (Tree) whose nodes are a KGI and the KPIs that drive it, with monthly
targets and actuals, an audit of every change to them, and the materialised rollups."""

from __future__ import annotations

import datetime as dt
import json
import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from engagements.models import CodeField, Engagement, ReviewCadence

MAX_PLAN_MONTHS = 120
# Paths under /trees/ that are pages of the editor, not tree codes.
RESERVED_TREE_CODES = frozenset({"templates"})


class Tree(models.Model):
    code = CodeField(unique=True)
    name = models.CharField(_("name"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    start_month = models.DateField(_("first month"))
    end_month = models.DateField(_("last month"))
    fiscal_year_start = models.PositiveSmallIntegerField(
        _("fiscal year starts in month"),
        default=4,
        validators=[MinValueValidator(1), MaxValueValidator(12)],
    )
    green_threshold = models.FloatField(_("green from (%)"), default=100)
    amber_threshold = models.FloatField(_("amber from (%)"), default=90)
    score_cap = models.FloatField(_("score cap (%)"), default=120)
    # Writes bump data_version; a recompute records the version it saw in computed_version.
    # computed_version < data_version means the rollups are stale.
    data_version = models.PositiveBigIntegerField(default=0)
    computed_version = models.PositiveBigIntegerField(default=0)
    computed_at = models.DateTimeField(null=True, blank=True)
    # A tree with actuals, targets or audit history is archived, not deleted (see Node).
    archived_at = models.DateTimeField(_("archived at"), null=True, blank=True)
    # Set when a recompute task has been sent and has not started yet: a write that finds it set
    # sends nothing (the queued task will see its change), so one task per tree waits at most.
    queued_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True, db_index=True)

    class Meta:
        ordering = ["code"]
        verbose_name = _("KPI tree")
        verbose_name_plural = _("KPI trees")

    def __str__(self) -> str:
        return self.name

    @property
    def is_stale(self) -> bool:
        return self.computed_version < self.data_version

    def clean(self) -> None:
        """The plan's rules, shared by the API, the editor and the admin (they all call it).

        Messages are translated now (gettext), in the language of the request that asked.
        """
        super().clean()
        if self.code and self.code.lower() in RESERVED_TREE_CODES:
            raise ValidationError(
                {
                    "code": gettext("“%(code)s” is reserved; choose another code.")
                    % {"code": self.code}
                }
            )
        for name in ("start_month", "end_month"):
            value = getattr(self, name)
            if isinstance(value, dt.date):
                setattr(self, name, value.replace(day=1))
        start, end = self.start_month, self.end_month
        if isinstance(start, dt.date) and isinstance(end, dt.date):
            if end < start:
                raise ValidationError(
                    {"end_month": gettext("The last month is before the first month.")}
                )
            if (end.year - start.year) * 12 + end.month - start.month >= MAX_PLAN_MONTHS:
                raise ValidationError({"end_month": gettext("A plan may span at most 120 months.")})
        if (
            self.green_threshold is not None
            and self.amber_threshold is not None
            and self.amber_threshold > self.green_threshold
        ):
            raise ValidationError(
                {"amber_threshold": gettext("The amber threshold must not be above the green one.")}
            )


class Kind(models.TextChoices):
    KGI = "kgi", "KGI"
    KPI = "kpi", "KPI"


class Direction(models.TextChoices):
    UP = "up", _("Higher is better")
    DOWN = "down", _("Lower is better")


class TimeAggregation(models.TextChoices):
    SUM = "sum", _("Sum")
    AVG = "avg", _("Average")
    LAST = "last", _("Last value")
    MIN = "min", _("Minimum")
    MAX = "max", _("Maximum")
    RECOMPUTE = "recompute", _("Recompute the formula")


class RollupRule(models.TextChoices):
    INPUT = "input", _("Entered")
    SUM = "sum", _("Sum of children")
    AVG = "avg", _("Average of children")
    WEIGHTED_AVG = "weighted_avg", _("Weighted average of children")
    FORMULA = "formula", _("Formula")


class Perspective(models.TextChoices):
    FINANCIAL = "financial", _("Financial")
    CUSTOMER = "customer", _("Customer")
    PROCESS = "process", _("Internal process")
    LEARNING = "learning", _("Learning and growth")


class ResultType(models.TextChoices):
    OUTPUT = "output", _("Output")
    OUTCOME = "outcome", _("Outcome")


class Source(models.TextChoices):
    """Where an input node's actuals come from: entered by people, or fed by the app itself."""

    MANUAL = "", _("Entered by people")
    PROPOSAL_COUNT = "proposal_count", _("Improvement proposals submitted (count)")
    PROPOSAL_ADOPTION = "proposal_adoption", _("Improvement proposals adopted (%)")
    # Fed by money (its README section): the engagement's cost and what it returns.
    MONEY_COST = "money_cost", _("Outsourcing cost (JPY): fee and extra charges")
    MONEY_ROI = "money_roi", _("ROI (%): (gain − cost) ÷ cost")
    MONEY_CPA = "money_cpa", _("CPA (JPY): cost ÷ acquired customers")
    MONEY_GAIN_RATIO = "money_gain_ratio", _("Gain per cost (%): gain ÷ cost")


class ActiveNodeManager(models.Manager):
    """Nodes that are not archived: what editors, grids, scorecards and the rollup see."""

    def get_queryset(self) -> models.QuerySet:
        return super().get_queryset().filter(archived_at__isnull=True)


class Node(models.Model):
    tree = models.ForeignKey(Tree, on_delete=models.CASCADE, related_name="nodes")
    code = CodeField()
    name = models.CharField(_("name"), max_length=200)
    kind = models.CharField(_("kind"), max_length=8, choices=Kind.choices, default=Kind.KPI)
    parent = models.ForeignKey(
        "self",
        verbose_name=_("parent"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="children",
    )
    engagement = models.ForeignKey(
        Engagement,
        verbose_name=_("owning engagement"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="nodes",
    )
    owner = models.CharField(_("owner (department or person)"), max_length=200, blank=True)
    definition = models.TextField(_("definition"), blank=True)
    unit = models.CharField(_("unit"), max_length=16, blank=True)
    direction = models.CharField(
        _("direction"), max_length=8, choices=Direction.choices, default=Direction.UP
    )
    time_aggregation = models.CharField(
        _("time aggregation"),
        max_length=16,
        choices=TimeAggregation.choices,
        default=TimeAggregation.SUM,
    )
    rollup = models.CharField(
        _("rollup"), max_length=16, choices=RollupRule.choices, default=RollupRule.INPUT
    )
    formula = models.CharField(_("formula"), max_length=2000, blank=True)
    weight = models.FloatField(_("weight"), default=1, validators=[MinValueValidator(0)])
    perspective = models.CharField(
        _("perspective"), max_length=16, choices=Perspective.choices, blank=True
    )
    result_type = models.CharField(
        _("output or outcome"), max_length=8, choices=ResultType.choices, blank=True
    )
    importance = models.PositiveSmallIntegerField(
        _("importance"), default=3, validators=[MinValueValidator(1), MaxValueValidator(5)]
    )
    benchmark = models.FloatField(_("benchmark"), null=True, blank=True)
    benchmark_source = models.CharField(_("benchmark source"), max_length=300, blank=True)
    review_cadence = models.CharField(
        _("review cadence"), max_length=16, choices=ReviewCadence.choices, blank=True
    )
    green_threshold = models.FloatField(_("green from (%)"), null=True, blank=True)
    amber_threshold = models.FloatField(_("amber from (%)"), null=True, blank=True)
    okr_objective = models.TextField(
        _("OKR objective"),
        blank=True,
        help_text=_("The ambitious objective shared with the vendor that this KGI/KPI serves."),
    )
    source = models.CharField(
        _("source of actuals"), max_length=32, choices=Source.choices, blank=True, default=""
    )
    template_code = models.CharField(
        _("template code"),
        max_length=64,
        blank=True,
        help_text=_("Catalogue code of the KPI this node was made from; lets vendors be compared."),
    )
    position = models.PositiveIntegerField(default=0)
    # The node of the previous plan this one was copied from (kpitree.services.tree_copy): where
    # 前年同月 and "last year" are read once the month a year before is outside this tree.
    copied_from = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="copies",
        editable=False,
    )
    # The day of the last review meeting that covered this KPI (pdca.services records it through
    # kpitree.services.nodes_mark_reviewed); the lint's `review-overdue` counts from it, or from
    # the node's creation when it was never reviewed.
    reviewed_on = models.DateField(_("last reviewed on"), null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True, db_index=True)
    # A node with actuals, targets or audit history is archived, never deleted: it leaves the
    # editors, grids, scorecards and rollups, its history stays readable, and it can be
    # restored (kpitree.services.node_delete / node_restore).
    archived_at = models.DateTimeField(_("archived at"), null=True, blank=True)

    objects = ActiveNodeManager()
    all_objects = models.Manager()  # noqa: DJ012 - the unfiltered manager, after the default
    # Not a field: set on the nodes of kpitree.queries.archived_nodes (their last changes).
    history: list[ValueAudit]

    class Meta:
        # Related lookups (an audit row's node) still reach archived nodes.
        base_manager_name = "all_objects"
        ordering = ["tree_id", "position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["tree", "code"], name="node_code_unique_in_tree")
        ]
        verbose_name = _("node")
        verbose_name_plural = _("nodes")

    def __str__(self) -> str:
        return f"{self.code} {self.name}"

    @property
    def is_input(self) -> bool:
        return self.rollup == RollupRule.INPUT


class Rationale(models.TextChoices):
    BENCHMARK = "benchmark", _("Industry benchmark")
    PAST_RESULTS = "past_results", _("Past results")
    AGREEMENT = "agreement", _("Agreement with the vendor")
    STRETCH = "stretch", _("Stretch goal")


class Channel(models.TextChoices):
    WEB = "web", _("Browser")
    API = "api", _("API")
    UPLOAD = "upload", _("File upload")
    ADMIN = "admin", _("Admin")
    SYSTEM = "system", _("System")


class Target(models.Model):
    # PROTECT: a node with targets is archived, never deleted with them.
    node = models.ForeignKey(Node, on_delete=models.PROTECT, related_name="targets")
    period = models.DateField(_("month"))
    value = models.FloatField(_("target"))
    rationale = models.CharField(
        _("rationale"), max_length=16, choices=Rationale.choices, blank=True
    )
    updated_at = models.DateTimeField(auto_now=True, db_index=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["node", "period"], name="one_target_a_month")
        ]

    def __str__(self) -> str:
        return f"target {self.node_id} {self.period:%Y-%m} = {self.value}"


class ActualQuerySet(models.QuerySet):
    def with_status(self) -> ActualQuerySet:
        """Annotate `status`, the workflow status of the actual's month: derived from the
        engagement's Submission, never stored, so it cannot drift from the month (a month not
        started, or a node of no engagement, is a draft)."""
        from engagements.models import Submission

        month = Submission.objects.filter(
            engagement_id=models.OuterRef("node__engagement_id"), period=models.OuterRef("period")
        ).values("status")[:1]
        return self.annotate(month_status=models.Subquery(month)).annotate(
            status=models.Case(
                models.When(
                    models.Q(month_status__isnull=True) | models.Q(month_status="not_started"),
                    then=models.Value("draft"),
                ),
                default=models.F("month_status"),
                output_field=models.CharField(),
            )
        )


class Actual(models.Model):
    # PROTECT: a node with actuals is archived, never deleted with them.
    node = models.ForeignKey(Node, on_delete=models.PROTECT, related_name="actuals")
    period = models.DateField(_("month"))
    value = models.FloatField(_("actual"))
    comment = models.TextField(_("comment"), blank=True)
    channel = models.CharField(max_length=8, choices=Channel.choices, default=Channel.WEB)
    updated_at = models.DateTimeField(auto_now=True, db_index=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = ActualQuerySet.as_manager()
    # Not a field: annotated by ActualQuerySet.with_status() (the month's workflow status).
    status: str

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["node", "period"], name="one_actual_a_month")
        ]

    def __str__(self) -> str:
        return f"actual {self.node_id} {self.period:%Y-%m} = {self.value}"


class ValueAudit(models.Model):
    """One row for every change of a target or an actual: never updated, never deleted."""

    class Kind(models.TextChoices):
        TARGET = "target", _("Target")
        ACTUAL = "actual", _("Actual")

    kind = models.CharField(max_length=8, choices=Kind.choices)
    # PROTECT: audit rows outlive what they describe; their node is archived, not deleted.
    node = models.ForeignKey(Node, on_delete=models.PROTECT, related_name="audit")
    period = models.DateField()
    old_value = models.FloatField(null=True)
    new_value = models.FloatField(null=True)
    old_text = models.TextField(blank=True)  # comment (actuals) or rationale (targets)
    new_text = models.TextField(blank=True)
    # Why the value changed where a reason is required (a target of an approved month).
    reason = models.TextField(blank=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    at = models.DateTimeField()
    channel = models.CharField(max_length=8, choices=Channel.choices)
    # Not fields: the values as the vendor portal's history page shows them (portal.views).
    old_display: str
    new_display: str

    class Meta:
        indexes = [models.Index(fields=["node", "period"])]
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return (
            f"{self.kind} {self.node_id} {self.period:%Y-%m}: {self.old_value} → {self.new_value}"
        )


class NodeVersion(models.Model):
    """The definition of a KPI as it was before a change of it: one row per change of the fields
    in DEFINITION_FIELDS once the KPI has actuals or targets (or the change gives a reason),
    written by kpitree.services.node_save with the reason given (a review decision names itself
    in it). Never updated, never deleted: a KPI's history lists them."""

    DEFINITION_FIELDS = (
        "name",
        "definition",
        "unit",
        "direction",
        "formula",
        "owner",
        "perspective",
        "result_type",
        "benchmark",
        "benchmark_source",
        "review_cadence",
        "source",
    )

    node = models.ForeignKey(Node, on_delete=models.PROTECT, related_name="versions")
    # The fields of DEFINITION_FIELDS before the change (`before`) and after it (`after`).
    before = models.JSONField()
    after = models.JSONField()
    reason = models.TextField(_("reason"), blank=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    at = models.DateTimeField()
    channel = models.CharField(max_length=8, choices=Channel.choices)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["node", "at"])]
        verbose_name = _("KPI definition version")
        verbose_name_plural = _("KPI definition versions")

    def __str__(self) -> str:
        return f"{self.node_id} {self.at:%Y-%m-%d %H:%M}"


class LintAcknowledgement(models.Model):
    """A manager's "we know, and here is why" on one design-lint finding: the finding stops
    counting as open (the editor shows it greyed, with the reason). Withdrawn, never deleted:
    withdrawing makes the finding nag again and keeps the record."""

    tree = models.ForeignKey(Tree, on_delete=models.CASCADE, related_name="lint_acknowledgements")
    rule = models.CharField(_("rule"), max_length=64)
    # What the finding is about, as the lint reports it: a node code, else "" (the tree or an
    # engagement; `subject` then holds the engagement code for engagement findings).
    node_code = models.CharField(max_length=64, blank=True)
    subject = models.CharField(max_length=64, blank=True)
    reason = models.TextField(_("reason"))
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    at = models.DateTimeField()
    withdrawn_at = models.DateTimeField(null=True, blank=True)
    withdrawn_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["tree", "rule", "node_code", "subject"],
                condition=models.Q(withdrawn_at__isnull=True),
                name="lint_ack_one_live_per_finding",
            )
        ]
        verbose_name = _("lint acknowledgement")
        verbose_name_plural = _("lint acknowledgements")

    def __str__(self) -> str:
        return f"{self.rule} {self.node_code or self.subject}"


class Grain(models.TextChoices):
    MONTH = "month", _("Month")
    QUARTER = "quarter", _("Quarter")
    YEAR = "year", _("Year")


class Status(models.TextChoices):
    GREEN = "green", _("On track")
    AMBER = "amber", _("At risk")
    RED = "red", _("Off track")
    NONE = "none", _("No data")


class Rollup(models.Model):
    """Materialised result of a recompute: one row per node, grain and period."""

    tree = models.ForeignKey(Tree, on_delete=models.CASCADE, related_name="rollups")
    node = models.ForeignKey(Node, on_delete=models.CASCADE, related_name="rollups")
    grain = models.CharField(max_length=8, choices=Grain.choices)
    period = models.DateField()  # first month of the month, quarter or fiscal year
    actual = models.FloatField(null=True)
    target = models.FloatField(null=True)
    achievement = models.FloatField(null=True)
    status = models.CharField(max_length=8, choices=Status.choices)
    computed_at = models.DateTimeField()
    # The same values as the rollup API writes them (JSON members, achievement rounded), kept
    # by the recompute with the values, so PostgreSQL answers a 5,000-node read by joining
    # text instead of formatting 20,000 numbers (kpitree/queries.py: rollup_nodes_json).
    fragment = models.TextField(blank=True, default="", editable=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["node", "grain", "period"], name="one_rollup_a_period")
        ]
        indexes = [models.Index(fields=["tree", "grain", "period"])]

    def __str__(self) -> str:
        return f"{self.node_id} {self.grain} {self.period:%Y-%m}: {self.actual} / {self.target}"


class RollupChange(models.Model):
    """What a write changed since the last recompute, written in the write's transaction.

    `node_id` is the node whose actuals or targets changed; NULL means the structure changed
    (nodes added, moved or deleted, a formula or a setting changed) and the whole tree must be
    evaluated. The recompute that consumes a change deletes it in the transaction that writes
    the rollups, so a change is never lost between a write and a recompute, whatever crashes.
    A plain integer, not a foreign key, so that writes take no lock on the node.
    """

    tree = models.ForeignKey(Tree, on_delete=models.CASCADE, related_name="+")
    node_id = models.BigIntegerField(null=True)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["tree"])]

    def __str__(self) -> str:
        return f"change {self.tree_id}/{self.node_id or '*'}"


class ImportJob(models.Model):
    """An actuals bulk write run in the background (API "Actuals bulk write": a large payload,
    or `?async=1`, answers 202 and `/api/v1/jobs/{id}/`). A worker claims it (queued → running,
    a conditional update), runs `services.actuals_record` with the sender's rights and the same
    audit, and records the result: the counts, or the problems in the API's error format with
    the status the synchronous call would have answered. The rows are dropped once it has run
    (the value audit keeps every change). Addressed by a random UUID."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.QUEUED)
    channel = models.CharField(max_length=8, choices=Channel.choices, default=Channel.API)
    # The sender's language, for the messages of the problems found.
    language = models.CharField(max_length=8, blank=True)
    # JSON text, not a JSONField: PostgreSQL's jsonb refuses the NUL character (\u0000) that a
    # bad row may hold, which the service must see to report it.
    payload_json = models.TextField(blank=True, editable=False)
    rows = models.PositiveIntegerField()
    created = models.PositiveIntegerField(null=True)
    updated = models.PositiveIntegerField(null=True)
    unchanged = models.PositiveIntegerField(null=True)
    errors_json = models.TextField(default="[]", editable=False)  # JSON text, as payload_json
    error_status = models.PositiveSmallIntegerField(null=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # When its task was last sent to the broker (the sweep sends a lost one again).
    sent_at = models.DateTimeField(null=True)
    started_at = models.DateTimeField(null=True)
    finished_at = models.DateTimeField(null=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["status", "sent_at"])]
        verbose_name = _("import job")
        verbose_name_plural = _("import jobs")

    def __str__(self) -> str:
        return f"import {self.pk} ({self.status}, {self.rows} rows)"

    @property
    def payload(self) -> list:
        return json.loads(self.payload_json) if self.payload_json else []

    @property
    def errors(self) -> list[dict]:
        """The problems of a failed job, in the API's error format."""
        return json.loads(self.errors_json or "[]")


# The template catalogue's models live in kpitree/catalogue.py; importing them here registers
# them with the app as Django loads kpitree.models.
def has_history(**node_lookup: object) -> bool:
    """Whether the nodes matching `node_lookup` (a lookup on a `node` relation, e.g.
    `node_id__in=ids` or `node__tree=tree`) hold anything of the record, which is never erased:
    actuals, targets, their audit rows or definition versions. Such nodes are archived instead of
    deleted (services.node_delete, tree_delete; the editor's delete impact)."""
    return any(
        model.objects.filter(**node_lookup).exists()
        for model in (Actual, Target, ValueAudit, NodeVersion)
    )


from kpitree.catalogue import KpiTemplate, TemplateNode, TreeTemplate  # noqa: E402, F401

# -- segments (issue 15) --------------------------------------------------------------------------


class SegmentActual(models.Model):
    """One segment's actual of an input KPI for a month (a talk-script variant, an operator, a
    list source, a channel): written only by kpitree.services.actuals_record from rows that
    carry a `segment`. The KPI's own Actual of that month is then the segments' total, written
    in the same transaction through the same path (so rollups, locks and scores are unchanged):
    their sum for a count, their recomputed ratio for a rate (unit %): Σnumerator / Σdenominator
    × 100 when every segment gives both, else the mean of their values weighted by the
    denominator when every segment gives one, else their plain mean
    (kpitree.services.values.segment_total).

    `segment` is a short free code ("script-b", "operator:田中", "list:展示会"); a "kind:" prefix is
    only a convention. Never deleted with its node (PROTECT, like Actual)."""

    node = models.ForeignKey(Node, on_delete=models.PROTECT, related_name="segment_actuals")
    period = models.DateField(_("month"))
    segment = models.CharField(_("segment"), max_length=64)
    value = models.FloatField(_("actual"))
    # For a rate: what it is a ratio of (e.g. connected calls / calls), optional.
    numerator = models.FloatField(_("numerator"), null=True, blank=True)
    denominator = models.FloatField(_("denominator"), null=True, blank=True)
    comment = models.TextField(_("comment"), blank=True)
    channel = models.CharField(max_length=8, choices=Channel.choices, default=Channel.WEB)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["node", "period", "segment"], name="one_segment_actual_a_month"
            )
        ]
        ordering = ["node", "period", "segment"]

    def __str__(self) -> str:
        return f"segment {self.segment} {self.node_id} {self.period:%Y-%m} = {self.value}"


class SegmentAudit(models.Model):
    """One row for every change of a segment's actual (value, numerator, denominator, comment):
    never updated, never deleted. The change of the KPI's total is in ValueAudit as usual."""

    node = models.ForeignKey(Node, on_delete=models.PROTECT, related_name="segment_audit")
    period = models.DateField()
    segment = models.CharField(max_length=64)
    old_value = models.FloatField(null=True)
    new_value = models.FloatField(null=True)
    old_numerator = models.FloatField(null=True)
    new_numerator = models.FloatField(null=True)
    old_denominator = models.FloatField(null=True)
    new_denominator = models.FloatField(null=True)
    old_text = models.TextField(blank=True)
    new_text = models.TextField(blank=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    at = models.DateTimeField()
    channel = models.CharField(max_length=8, choices=Channel.choices)

    class Meta:
        indexes = [models.Index(fields=["node", "period"])]
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return (
            f"segment {self.segment} {self.node_id} {self.period:%Y-%m}: "
            f"{self.old_value} → {self.new_value}"
        )
