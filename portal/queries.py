"""Vendor portal reads: what the portal pages, the API and the reminders show, built by queries.

The months of an engagement (due date, reporting month), the nodes a user enters, the month
statuses and submission rows, the months still outstanding, what a month still lacks or changed
since it was submitted, and the month's proposal figures. Nothing here writes; the writes are in
portal.services.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from django.db.models import Count, Q
from django.utils import timezone

from engagements.models import (
    Engagement,
    ImprovementProposal,
    ProposalStatus,
    Submission,
    SubmissionAction,
    SubmissionEvent,
    SubmissionStatus,
    User,
)
from kpi_planner import numbers
from kpi_planner.access import nodes_for
from kpi_planner.months import current_month, month_add, month_range, parse_month
from kpitree.models import Actual, Node, RollupRule, Source, ValueAudit

OPEN = (SubmissionStatus.NOT_STARTED, SubmissionStatus.DRAFT, SubmissionStatus.RETURNED)
DONE = (SubmissionStatus.SUBMITTED, SubmissionStatus.APPROVED)


# -- months ---------------------------------------------------------------------------------------


def due_date(engagement: Engagement, period: dt.date) -> dt.date:
    """A month's actuals are due on the engagement's due day of the following month."""
    return month_add(period, 1).replace(day=engagement.actuals_due_day)


def engagement_months(engagement: Engagement) -> list[dt.date]:
    return month_range(engagement.start_month, engagement.end_month)


def month_of_engagement(engagement: Engagement, text: str) -> dt.date | None:
    """'2026-04' → date when it is one of the engagement's months, else None (a 404 at the edge)."""
    period = parse_month(text)
    if period is None or not (engagement.start_month <= period <= engagement.end_month):
        return None
    return period


def reporting_month(engagement: Engagement, today: dt.date | None = None) -> dt.date:
    """The month a vendor is reporting now: last month, kept inside the engagement."""
    wanted = month_add(current_month(today), -1)
    return min(max(wanted, engagement.start_month), engagement.end_month)


# -- nodes ---------------------------------------------------------------------------------------


def portal_nodes(user, engagement: Engagement):
    """The engagement's nodes the user sees, in tree order."""
    return (
        nodes_for(user)
        .filter(engagement=engagement)
        .select_related("tree")
        .order_by("tree__code", "position", "id")
    )


def is_typed(node: Node) -> bool:
    """Entered by people in the portal: an input node not fed by the app itself."""
    return node.rollup == RollupRule.INPUT and node.source == Source.MANUAL


def in_plan(node: Node, period: dt.date) -> bool:
    return node.tree.start_month <= period <= node.tree.end_month


# -- month statuses ------------------------------------------------------------------------------


def month_statuses(engagements: Sequence[Engagement]) -> dict[tuple[int, dt.date], dict]:
    """{(engagement id, month): {"status", "submission"}} for months that have a Submission or
    any actual. A month with actuals but no Submission (e.g. written through the API) is a draft;
    a month with neither is absent (= not started). Two queries whatever the size."""
    ids = [e.pk for e in engagements]
    out: dict[tuple[int, dt.date], dict] = {}
    for engagement_id, period in (
        Actual.objects.filter(node__engagement_id__in=ids)
        .values_list("node__engagement_id", "period")
        .distinct()
    ):
        out[(engagement_id, period)] = {"status": SubmissionStatus.DRAFT, "submission": None}
    for sub in Submission.objects.filter(engagement_id__in=ids).select_related(
        "submitted_by", "decided_by"
    ):
        status = sub.status
        if status == SubmissionStatus.NOT_STARTED and (sub.engagement_id, sub.period) in out:
            status = SubmissionStatus.DRAFT
        out[(sub.engagement_id, sub.period)] = {"status": status, "submission": sub}
    return out


def status_of(statuses: dict, engagement: Engagement, period: dt.date) -> str:
    return statuses.get((engagement.pk, period), {}).get("status", SubmissionStatus.NOT_STARTED)


def submission_row(engagement: Engagement, period: dt.date, statuses: dict) -> dict:
    """One month as the API (and the pages) show it."""
    entry = statuses.get((engagement.pk, period), {})
    sub: Submission | None = entry.get("submission")
    return {
        "period": f"{period:%Y-%m}",
        "status": entry.get("status", SubmissionStatus.NOT_STARTED),
        "due_date": due_date(engagement, period).isoformat(),
        "submitted_at": sub.submitted_at.isoformat() if sub and sub.submitted_at else None,
        "submitted_by": sub.submitted_by.username if sub and sub.submitted_by else None,
        "decided_at": sub.decided_at.isoformat() if sub and sub.decided_at else None,
        "decided_by": sub.decided_by.username if sub and sub.decided_by else None,
        "reason": sub.reason if sub else "",
    }


def submission_rows(engagement: Engagement) -> list[dict]:
    statuses = month_statuses([engagement])
    return [submission_row(engagement, p, statuses) for p in engagement_months(engagement)]


@dataclass
class Outstanding:
    engagement: Engagement
    period: dt.date
    status: str
    due: dt.date
    overdue: bool
    reason: str = ""


def outstanding_months(
    engagements: Sequence[Engagement], today: dt.date | None = None
) -> list[Outstanding]:
    """Months that have ended and are not yet submitted or approved, oldest due first, with
    their due date; returned months carry the manager's reason."""
    today = today or timezone.localdate()
    statuses = month_statuses(engagements)
    out = []
    for engagement in engagements:
        last = min(month_add(current_month(today), -1), engagement.end_month)
        for period in (
            month_range(engagement.start_month, last) if last >= engagement.start_month else []
        ):
            status = status_of(statuses, engagement, period)
            if status in DONE:
                continue
            sub = statuses.get((engagement.pk, period), {}).get("submission")
            due = due_date(engagement, period)
            out.append(
                Outstanding(engagement, period, status, due, today > due, sub.reason if sub else "")
            )
    return sorted(out, key=lambda o: (o.due, o.engagement.code))


# -- a month under review ------------------------------------------------------------------------


def missing_inputs(user: User, engagement: Engagement, period: dt.date) -> list[Node]:
    """Typed KPIs of the month that have no value yet. A month submitted before asks only for
    the KPIs that existed when it was first submitted: a KPI added to the plan later was not
    part of what the vendor reported, and no value should be invented for it."""
    first = first_submitted_at(engagement, period)
    nodes = [
        n
        for n in portal_nodes(user, engagement)
        if is_typed(n) and in_plan(n, period) and (first is None or n.created_at <= first)
    ]
    done = set(
        Actual.objects.filter(node__in=nodes, period=period).values_list("node_id", flat=True)
    )
    return [n for n in nodes if n.pk not in done]


def first_submitted_at(engagement: Engagement, period: dt.date) -> dt.datetime | None:
    return (
        SubmissionEvent.objects.filter(
            engagement=engagement, period=period, action=SubmissionAction.SUBMIT
        )
        .order_by("at")
        .values_list("at", flat=True)
        .first()
    )


def changes_since_submission(engagement: Engagement, period: dt.date) -> list[dict]:
    """The month's actuals changed after it was first submitted (corrections after a
    withdrawal or a return, a manager's own corrections), oldest first: what the manager
    reviews beyond what was first handed in."""
    first = first_submitted_at(engagement, period)
    if first is None:
        return []
    rows = (
        ValueAudit.objects.filter(
            kind=ValueAudit.Kind.ACTUAL, node__engagement=engagement, period=period, at__gt=first
        )
        .select_related("node", "user")
        .order_by("at", "id")[:200]
    )
    return [
        {
            "node": a.node,
            "before": numbers.value(a.old_value, a.node.unit),
            "after": numbers.value(a.new_value, a.node.unit),
            "user": a.user,
            "at": a.at,
        }
        for a in rows
    ]


# -- improvement proposals (改善提案) ---------------------------------------------------------------


def proposal_figures(engagement: Engagement, period: dt.date) -> tuple[int, float | None]:
    """(proposals submitted in the month, % adopted of those decided in the month or None)."""
    counts = ImprovementProposal.objects.filter(engagement=engagement).aggregate(
        submitted=Count("pk", filter=Q(period=period)),
        decided=Count("pk", filter=Q(decided_period=period) & ~Q(status=ProposalStatus.PENDING)),
        adopted=Count("pk", filter=Q(decided_period=period, status=ProposalStatus.ACCEPTED)),
    )
    rate = round(100 * counts["adopted"] / counts["decided"], 1) if counts["decided"] else None
    return counts["submitted"], rate
