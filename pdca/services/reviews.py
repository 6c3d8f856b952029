"""Review meetings: who met, what they found per KPI, what they decided, and applying it.

Managers hold reviews (kpi_planner.access.can_hold_review). A decision is applied through
kpitree's services, so the record keeps what it replaced with the reason: a target change is a
targets_record row with `reason` (the ValueAudit keeps the old target), a definition change is
node_update with `reason` (a NodeVersion keeps the old definition), retiring archives the KPI,
adding places the catalogue KPI under the tree's KGI. Closing a review records the day on the
KPIs it covered (Node.reviewed_on), from which the design lint's `review-overdue` counts.

A change of an engagement's phase (engagements.events.engagement_phase_changed) opens a phase
review whose decisions are proposals from the catalogue: the KPIs of the new phase's templates the
engagement lacks (add) and those only the old phase's templates have (retire).
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from engagements.models import Engagement, Phase
from kpi_planner.access import can_hold_review
from kpi_planner.errors import Problem, ServiceError, problems_of
from kpi_planner.months import parse_month
from kpi_planner.numbers import parse_number
from kpitree import services as kpitree_services
from kpitree.catalogue import KpiTemplate, TemplateNode
from kpitree.models import Channel, Node, NodeVersion, Rationale, Tree
from kpitree.services.nodes import next_position
from pdca.models import DecisionKind, Review, ReviewDecision, ReviewFinding, ReviewKind
from scorecard.models import RestatementReason, ScoreSnapshot


def _forbidden() -> ServiceError:
    return ServiceError([Problem(_("Only managers may record reviews."), code="forbidden")])


def _require(user: Any) -> None:
    if not can_hold_review(user):
        raise _forbidden()


def _open(review: Review) -> None:
    """Refuse a change of a closed review (its status as stored, not as the caller saw it)."""
    status = Review.objects.filter(pk=review.pk).values_list("status", flat=True).first()
    if status != Review.Status.OPEN:
        raise ServiceError([Problem(_("This review is closed."), code="conflict")])


def engagement_kpis(engagement: Engagement, tree: Tree | None = None) -> list[Node]:
    """The KPIs a review of the engagement (and tree) covers: its own nodes, in tree order."""
    nodes = Node.objects.filter(engagement=engagement).select_related("tree")
    if tree is not None:
        nodes = nodes.filter(tree=tree)
    return list(nodes.order_by("tree__code", "position", "id"))


@transaction.atomic
def review_create(
    *,
    user: Any,
    engagement: Engagement,
    kind: str,
    held_on: Any,
    tree: Tree | None = None,
    participants: str = "",
    summary: str = "",
) -> Review:
    _require(user)
    problems = []
    if kind not in ReviewKind.values:
        problems.append(Problem(_("Choose the kind of review."), field="kind"))
    if not isinstance(held_on, dt.date):
        problems.append(Problem(_("Enter the date of the review."), field="held_on"))
    if tree is not None and not Node.objects.filter(tree=tree, engagement=engagement).exists():
        problems.append(Problem(_("This engagement has no KPI in that tree."), field="tree"))
    if problems:
        raise ServiceError(problems)
    return Review.objects.create(
        engagement=engagement,
        tree=tree,
        kind=kind,
        held_on=held_on,
        participants=participants.strip(),
        summary=summary.strip(),
        created_by=user,
    )


REVIEW_FIELDS = ("kind", "held_on", "participants", "summary")


@transaction.atomic
def review_update(*, user: Any, review: Review, data: Mapping[str, Any]) -> Review:
    """Correct an open review's kind, date, participants or summary."""
    _require(user)
    _open(review)
    problems = [Problem(_("Unknown field."), field=k) for k in data if k not in REVIEW_FIELDS]
    if "kind" in data and data["kind"] not in ReviewKind.values:
        problems.append(Problem(_("Choose the kind of review."), field="kind"))
    if "held_on" in data and not isinstance(data["held_on"], dt.date):
        problems.append(Problem(_("Enter the date of the review."), field="held_on"))
    if problems:
        raise ServiceError(problems)
    review = Review.objects.select_for_update().get(pk=review.pk)
    for name, value in data.items():
        setattr(review, name, value.strip() if isinstance(value, str) else value)
    review.save(update_fields=[*data, "updated_at"])
    return review


@transaction.atomic
def finding_save(
    *, user: Any, review: Review, node: Node, hypothesis: str, next_action: str
) -> ReviewFinding | None:
    """What the review found about one KPI; both texts empty removes nothing but records
    nothing new (an empty finding is not kept)."""
    _require(user)
    _open(review)
    if node.engagement_id != review.engagement_id or (
        review.tree_id is not None and node.tree_id != review.tree_id
    ):
        raise ServiceError([Problem(_("This KPI is not covered by the review."), field="node")])
    hypothesis, next_action = hypothesis.strip(), next_action.strip()
    existing = ReviewFinding.objects.filter(review=review, node=node).first()
    if existing is None and not (hypothesis or next_action):
        return None
    finding = existing or ReviewFinding(review=review, node=node)
    finding.hypothesis, finding.next_action = hypothesis, next_action
    finding.save()
    return finding


def _decision_problems(
    review: Review, kind: str, node: Node | None, template_code: str, detail: Mapping, reason: str
) -> list[Problem]:
    problems: list[Problem] = []
    if kind not in DecisionKind.values:
        return [Problem(_("Choose the decision."), field="kind")]
    if kind == DecisionKind.ADD:
        if not KpiTemplate.objects.filter(code=template_code).exists():
            problems.append(Problem(_("Choose a KPI of the catalogue."), field="template_code"))
    elif node is None or node.engagement_id != review.engagement_id:
        problems.append(Problem(_("Choose a KPI of this engagement."), field="node"))
    if kind != DecisionKind.KEEP and not reason.strip():
        problems.append(Problem(_("Say why (it is kept with the change)."), field="reason"))
    if kind == DecisionKind.CHANGE_TARGET and node is not None:
        targets = detail.get("targets")
        if not isinstance(targets, Mapping) or not targets:
            problems.append(Problem(_("Enter the new targets by month."), field="detail"))
        else:
            for month, value in targets.items():
                period = parse_month(month)
                if period is None or not (node.tree.start_month <= period <= node.tree.end_month):
                    problems.append(
                        Problem(
                            _("“%(month)s” is not a month of the plan.") % {"month": month},
                            field="detail",
                        )
                    )
                if parse_number(value) is None:
                    problems.append(
                        Problem(
                            _("“%(value)s” is not a number.") % {"value": value}, field="detail"
                        )
                    )
    if kind == DecisionKind.CHANGE_DEFINITION:
        unknown = [k for k in detail if k not in NodeVersion.DEFINITION_FIELDS]
        if not detail or unknown:
            problems.append(
                Problem(_("Enter the new definition (its fields only)."), field="detail")
            )
    return problems


@transaction.atomic
def decision_add(
    *,
    user: Any,
    review: Review,
    kind: str,
    node: Node | None = None,
    template_code: str = "",
    detail: Mapping | None = None,
    reason: str = "",
    status: str = ReviewDecision.Status.PROPOSED,
) -> ReviewDecision:
    _require(user)
    _open(review)
    detail = dict(detail or {})
    problems = _decision_problems(review, kind, node, template_code, detail, reason)
    if problems:
        raise ServiceError(problems)
    return ReviewDecision.objects.create(
        review=review,
        kind=kind,
        node=node,
        template_code=template_code,
        detail=detail,
        reason=reason.strip(),
        status=status,
        decided_by=user,
    )


def _reason_text(decision: ReviewDecision) -> str:
    review = decision.review
    return _("Review of %(date)s: %(reason)s") % {
        "date": review.held_on.isoformat(),
        "reason": decision.reason,
    }


@transaction.atomic
def decision_apply(*, user: Any, decision: ReviewDecision) -> ReviewDecision:
    """Apply a decision once, through kpitree's services (their refusals are this one's)."""
    _require(user)
    decision = (
        ReviewDecision.objects.select_for_update()
        .select_related("review", "node__tree")
        .get(pk=decision.pk)
    )
    _open(decision.review)
    if decision.status != ReviewDecision.Status.PROPOSED:
        raise ServiceError(
            [Problem(_("This decision was applied or dismissed already."), code="conflict")]
        )
    reason = _reason_text(decision)
    try:
        if decision.kind == DecisionKind.CHANGE_TARGET:
            assert decision.node is not None
            rows = [
                {
                    "node": decision.node.code,
                    "period": month,
                    "value": value,
                    "rationale": Rationale.AGREEMENT,
                    "reason": reason,
                }
                for month, value in decision.detail["targets"].items()
            ]
            kpitree_services.targets_record(
                user=user, tree=decision.node.tree, rows=rows, channel=Channel.WEB
            )
        elif decision.kind == DecisionKind.CHANGE_DEFINITION:
            assert decision.node is not None
            kpitree_services.node_update(
                user=user, node=decision.node, data=decision.detail, reason=reason
            )
        elif decision.kind == DecisionKind.RETIRE:
            assert decision.node is not None
            kpitree_services.node_delete(user=user, node=decision.node)
        elif decision.kind == DecisionKind.ADD:
            decision.node = _add_from_catalogue(user, decision)
    except ServiceError as exc:
        raise ServiceError(
            [Problem(p.message, field="detail", code=p.code) for p in exc.problems]
        ) from None
    except ValidationError as exc:
        raise ServiceError([Problem(p.message, field="detail") for p in problems_of(exc)]) from None
    decision.status = ReviewDecision.Status.APPLIED
    decision.applied_at = timezone.now()
    decision.decided_by = user
    decision.save()
    return decision


def _add_from_catalogue(user: Any, decision: ReviewDecision) -> Node:
    """The catalogue KPI as a node of the review's tree (or the engagement's first tree), under
    its KGI, owned by the engagement."""
    review = decision.review
    kpi = KpiTemplate.objects.get(code=decision.template_code)
    tree = (
        review.tree
        or Tree.objects.filter(nodes__engagement=review.engagement).order_by("code").first()
    )
    if tree is None:
        raise ValidationError({"tree": _("The engagement has no KPI tree to add the KPI to.")})
    root = (
        Node.objects.filter(tree=tree, parent__isnull=True, kind="kgi")
        .order_by("position", "id")
        .first()
    )
    # The code the catalogue's templates give it (`cpa` for call.cpa), made unique in the tree
    # as template_apply does (`cpa_2`): a code formulas can name.
    local = (
        TemplateNode.objects.filter(
            kpi=kpi, template__outsourcing_type=review.engagement.outsourcing_type
        )
        .values_list("code", flat=True)
        .first()
    ) or kpi.code.rpartition(".")[2]
    taken = set(Node.all_objects.filter(tree=tree).values_list("code", flat=True))
    code, n = local, 2
    while code in taken:
        code, n = f"{local}_{n}", n + 1
    data = {
        "code": code,
        "name": kpi.name[:200],
        "kind": "kpi",
        "parent": root,
        "engagement": review.engagement,
        "definition": kpi.definition,
        "unit": kpi.unit,
        "direction": kpi.direction,
        "time_aggregation": kpi.time_aggregation if kpi.time_aggregation != "recompute" else "avg",
        "perspective": kpi.perspective,
        "result_type": kpi.result_type,
        "benchmark": kpi.benchmark,
        "benchmark_source": kpi.benchmark_source,
        "template_code": kpi.code,
        "position": next_position(tree, root),
    }
    if (
        root is not None
        and root.rollup in ("sum", "avg", "weighted_avg")
        and root.unit
        and kpi.unit != root.unit
    ):
        data["parent"] = None  # not added up with KPIs of another unit: its own root
    return kpitree_services.node_save(user=user, node=Node(tree=tree), data=data)


@transaction.atomic
def decision_dismiss(*, user: Any, decision: ReviewDecision) -> ReviewDecision:
    _require(user)
    _open(decision.review)
    if decision.status != ReviewDecision.Status.PROPOSED:
        raise ServiceError(
            [Problem(_("This decision was applied or dismissed already."), code="conflict")]
        )
    decision.status = ReviewDecision.Status.DISMISSED
    decision.decided_by = user
    decision.save()
    return decision


@transaction.atomic
def review_close(*, user: Any, review: Review) -> Review:
    """Close the review; its KPIs count as reviewed on its date."""
    _require(user)
    review = Review.objects.select_for_update().get(pk=review.pk)
    _open(review)
    review.status = Review.Status.CLOSED
    review.closed_at = timezone.now()
    review.save()
    kpitree_services.nodes_mark_reviewed(
        node_ids=[n.pk for n in engagement_kpis(review.engagement, review.tree)], on=review.held_on
    )
    return review


# -- a phase change ---------------------------------------------------------------------------------


def phase_kpi_codes(outsourcing_type: str, phase: str) -> set[str]:
    """The catalogue KPIs of the templates for one outsourcing type and phase."""
    return set(
        TemplateNode.objects.filter(
            template__outsourcing_type=outsourcing_type, template__phase=phase
        ).values_list("kpi__code", flat=True)
    )


@transaction.atomic
def phase_review_open(
    *, user: Any, engagement: Engagement, old_phase: str, new_phase: str, on: dt.date | None = None
) -> Review | None:
    """The review a phase change opens, with its proposals; None when the same change has an
    open phase review already (the event delivered twice)."""
    if Review.objects.filter(
        engagement=engagement,
        kind=ReviewKind.PHASE,
        status=Review.Status.OPEN,
        from_phase=old_phase,
        to_phase=new_phase,
    ).exists():
        return None
    review = Review.objects.create(
        engagement=engagement,
        kind=ReviewKind.PHASE,
        held_on=on or timezone.localdate(),
        from_phase=old_phase,
        to_phase=new_phase,
        created_by=user if getattr(user, "pk", None) else None,
    )
    new = phase_kpi_codes(engagement.outsourcing_type, new_phase)
    old = phase_kpi_codes(engagement.outsourcing_type, old_phase)
    have = {n.template_code: n for n in engagement_kpis(engagement) if n.template_code}
    phases = dict(Phase.choices)
    reason = _("Phase change: %(old)s → %(new)s") % {
        "old": phases.get(old_phase, old_phase),
        "new": phases.get(new_phase, new_phase),
    }
    for code in sorted(new - set(have)):
        ReviewDecision.objects.create(
            review=review, kind=DecisionKind.ADD, template_code=code, reason=reason
        )
    for code in sorted((old - new) & set(have)):
        ReviewDecision.objects.create(
            review=review, kind=DecisionKind.RETIRE, node=have[code], reason=reason
        )
    return review


# -- what the decisions restated (reads, for the scorecard pages' tags) ----------------------------


@dataclass
class Restatement:
    """A month's scores restated after a review decision changed a target or a definition."""

    period: dt.date
    restated_at: dt.datetime
    review: Review
    decision: ReviewDecision
    old_score: float | None
    new_score: float | None


RESTATING: dict[str, str] = {
    DecisionKind.CHANGE_TARGET: RestatementReason.TARGET_CHANGED,
    DecisionKind.CHANGE_DEFINITION: RestatementReason.DEFINITION_CHANGED,
}


def review_restatements(engagement: Engagement, node: Node | None = None) -> list[Restatement]:
    """The months whose scores were restated because of an applied review decision, newest
    first. The snapshots keep their history (scorecard.ScoreSnapshot: the replaced one stays,
    the new one says why and which KPIs changed): a decision restated a month when the first
    restatement of that month after it was applied names the decision's KPI and its reason is
    the decision's kind (a target change only for the months it changed)."""
    applied = (
        ReviewDecision.objects.filter(
            review__engagement=engagement,
            status=ReviewDecision.Status.APPLIED,
            kind__in=list(RESTATING),
            node__isnull=False,
        )
        .select_related("review", "node")
        .order_by("applied_at", "id")
    )
    if node is not None:
        applied = applied.filter(node=node)
    decisions = list(applied)
    if not decisions:
        return []
    by_period: dict[dt.date, list[ScoreSnapshot]] = {}
    for snap in ScoreSnapshot.objects.filter(engagement=engagement, grain="month").order_by(
        "period", "taken_at", "id"
    ):
        by_period.setdefault(snap.period, []).append(snap)
    found: list[Restatement] = []
    for decision in decisions:
        assert decision.node is not None and decision.applied_at is not None
        months = None
        if decision.kind == DecisionKind.CHANGE_TARGET:
            months = {parse_month(m) for m in decision.detail.get("targets", {})}
        for period, snaps in by_period.items():
            if months is not None and period not in months:
                continue
            for before, snap in itertools.pairwise(snaps):
                if snap.taken_at < decision.applied_at or not snap.reason:
                    continue
                if snap.reason == RESTATING[decision.kind] and decision.node.code in {
                    code for code, *_rest in snap.changed_kpis
                }:
                    found.append(
                        Restatement(
                            period=period,
                            restated_at=snap.taken_at,
                            review=decision.review,
                            decision=decision,
                            old_score=before.overall_score,
                            new_score=snap.overall_score,
                        )
                    )
                break  # only the first restatement after the decision is its doing
    return sorted(found, key=lambda r: (r.restated_at, r.period), reverse=True)
