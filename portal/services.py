"""Vendor portal writes: monthly entry, the submission workflow and improvement proposals.

Every actual still goes through `kpitree.services.actuals_record` (validation, the lock of an
approved month, the audit, the recompute); this module adds what a month needs around it:
the Submission row and its history (SubmissionEvent), the status of the month's Actual rows,
the automatic Learning & growth values fed by proposals, and the notices to the people involved.
Reads shared by the portal pages and the API (month statuses, submission rows) live here too.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Count, Q
from django.utils import formats, timezone
from django.utils.translation import gettext as _

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
from kpi_planner.access import can_manage, can_report, nodes_for
from kpi_planner.errors import Problem, ServiceError
from kpi_planner.months import (
    current_month,
    last_reportable_month,
    month_add,
    month_range,
    parse_month,
)
from kpi_planner.numbers import clean_number
from kpitree.models import Actual, Node, RollupRule, Source, ValueAudit
from kpitree.services import (
    RecordError,
    RecordResult,
    actuals_record,
    has_nul,
    nul_message,
)
from portal import notifications

log = logging.getLogger(__name__)

# The comment of an actual holds "why the number moved" and, after this mark, the next action:
# one audited text field, readable as is in the API and the history.
NEXT_ACTION_MARK = "\n▶ "
MAX_REASON = 2000
OPEN = (SubmissionStatus.NOT_STARTED, SubmissionStatus.DRAFT, SubmissionStatus.RETURNED)
DONE = (SubmissionStatus.SUBMITTED, SubmissionStatus.APPROVED)


class WorkflowError(ServiceError):
    """A refused step: one problem. `code`: "invalid" (400), "forbidden" (403), "conflict" (409)."""

    def __init__(self, message: str, code: str = "invalid", field: str | None = None) -> None:
        super().__init__([Problem(message, field=field, code=code)])
        self.message, self.code, self.field = message, code, field


@dataclass
class Entry:
    """One cell of the monthly grid as typed: the value is text (normalised before saving)."""

    node_id: int
    value: str = ""
    why: str = ""
    next_action: str = ""


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


# -- text -----------------------------------------------------------------------------------------


def join_comment(why: str, next_action: str) -> str:
    why, next_action = (why or "").strip(), (next_action or "").strip()
    return f"{why}{NEXT_ACTION_MARK}{next_action}" if next_action else why


def split_comment(comment: str) -> tuple[str, str]:
    why, _mark, next_action = (comment or "").partition(NEXT_ACTION_MARK)
    return why, next_action


# -- reads shared by the portal and the API --------------------------------------------------------


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


# -- saving a month --------------------------------------------------------------------------------


def month_save(
    *,
    user: User,
    engagement: Engagement,
    period: dt.date,
    entries: Iterable[Entry],
    channel: str = "web",
    submit: bool = False,
) -> RecordResult:
    """Save the typed cells of one month (and, with `submit`, submit it) in one transaction.

    Blank cells are skipped; a blank cell whose month already has a value is refused (an actual
    cannot be erased, only corrected). Raises ServiceError, nothing written: a problem of one
    cell names its entry (`index`, the position in `entries`) and a field; the others name none.
    """
    if not can_report(user, engagement):
        raise WorkflowError(_("You may not enter this engagement's actuals."), "forbidden")
    nodes = {n.pk: n for n in portal_nodes(user, engagement) if is_typed(n) and in_plan(n, period)}
    saved = set(
        Actual.objects.filter(node_id__in=nodes, period=period).values_list("node_id", flat=True)
    )
    rows: list[dict] = []
    row_entry: list[int] = []  # the entry each row comes from
    errors: list[Problem] = []
    for i, entry in enumerate(entries):
        node = nodes.get(entry.node_id)
        if node is None:
            errors.append(Problem(_("A KPI of the form is not one you can enter.")))
            continue
        value = clean_number(entry.value)
        if value == "":
            if node.pk in saved:
                message = _("A saved value cannot be erased; enter the corrected number.")
                errors.append(Problem(message, field="value", index=i))
            elif (entry.why or "").strip() or (entry.next_action or "").strip():
                message = _("Enter the value that this comment explains.")
                errors.append(Problem(message, field="value", index=i))
            continue
        rows.append(
            {
                "tree": node.tree.code,
                "node": node.code,
                "period": f"{period:%Y-%m}",
                "value": value,
                "comment": join_comment(entry.why, entry.next_action),
            }
        )
        row_entry.append(i)
    if errors:
        raise ServiceError(errors)
    with transaction.atomic():
        result = RecordResult()
        if rows:
            try:
                result = actuals_record(user=user, rows=rows, channel=channel)
            except RecordError as exc:
                raise ServiceError(_problems_by_entry(exc, row_entry)) from None
        if submit:
            submission_submit(user=user, engagement=engagement, period=period)
    return result


def _problems_by_entry(exc: RecordError, row_entry: list[int]) -> list[Problem]:
    """The rows' problems as the entries' (a row's problem naming no field: the month's)."""
    return [
        Problem(p.message, field=p.field, index=row_entry[p.index], code=p.code)
        if p.field and p.index is not None and 0 <= p.index < len(row_entry)
        else Problem(p.message, code=p.code)
        for p in exc.problems
    ]


def after_write(*, engagement_id: int, periods: Iterable[dt.date]) -> None:
    """After actuals of the engagement were written for `periods` (whatever the channel: portal,
    upload, API, admin; see portal.receivers): a month with no Submission, or one not started,
    becomes a draft. (An actual's status is derived from its month, see
    kpitree.models.ActualQuerySet.with_status.)"""
    periods = set(periods)
    existing = dict(
        Submission.objects.filter(engagement_id=engagement_id, period__in=periods).values_list(
            "period", "status"
        )
    )
    for period in periods - set(existing):
        Submission.objects.get_or_create(
            engagement_id=engagement_id, period=period, defaults={"status": SubmissionStatus.DRAFT}
        )
    started = [p for p in periods if existing.get(p) == SubmissionStatus.NOT_STARTED]
    if started:
        Submission.objects.filter(engagement_id=engagement_id, period__in=started).update(
            status=SubmissionStatus.DRAFT
        )


# -- the submission workflow -------------------------------------------------------------------------


def _lock_month(engagement: Engagement, period: dt.date) -> tuple[Submission, str]:
    """The month's Submission, locked for this transaction, and its effective status."""
    if not (engagement.start_month <= period <= engagement.end_month):
        raise WorkflowError(_("This is not a month of the engagement."), field="period")
    sub, _created = Submission.objects.get_or_create(
        engagement=engagement, period=period, defaults={"status": SubmissionStatus.NOT_STARTED}
    )
    sub = Submission.objects.select_for_update().get(pk=sub.pk)
    status = sub.status
    if (
        status == SubmissionStatus.NOT_STARTED
        and Actual.objects.filter(node__engagement=engagement, period=period).exists()
    ):
        status = SubmissionStatus.DRAFT
    return sub, status


def _step(
    sub: Submission, old: str, new: str, action: str, user: User, reason: str = ""
) -> Submission:
    now = timezone.now()
    sub.status = new
    sub.reason = reason
    if action == SubmissionAction.SUBMIT:
        sub.submitted_at, sub.submitted_by = now, user
        sub.decided_at, sub.decided_by = None, None
    elif action == SubmissionAction.WITHDRAW:  # the vendor takes it back: nobody decided
        sub.decided_at, sub.decided_by = None, None
    else:
        sub.decided_at, sub.decided_by = now, user
    sub.save()
    SubmissionEvent.objects.create(
        engagement_id=sub.engagement_id,
        period=sub.period,
        action=action,
        from_status=old,
        to_status=new,
        reason=reason,
        user=user,
        at=now,
    )
    return sub


def _clean_reason(reason: object) -> str:
    # The API passes the JSON value as sent: a list or a number is not a reason.
    if reason is not None and not isinstance(reason, str):
        raise WorkflowError(_("Write the reason as text."), field="reason")
    if has_nul(reason):
        raise WorkflowError(nul_message(), field="reason")
    reason = (reason or "").strip()
    if not reason:
        raise WorkflowError(_("Give a reason."), field="reason")
    if len(reason) > MAX_REASON:
        raise WorkflowError(_("Keep the reason under 2,000 characters."), field="reason")
    return reason


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


@transaction.atomic
def submission_submit(*, user: User, engagement: Engagement, period: dt.date) -> Submission:
    """Vendor (or manager) hands in a complete month for approval."""
    if not can_report(user, engagement):
        raise WorkflowError(_("You may not submit this engagement's actuals."), "forbidden")
    sub, status = _lock_month(engagement, period)
    if period > current_month():
        raise WorkflowError(_("This month has not begun yet."), field="period")
    if period > last_reportable_month():
        raise WorkflowError(
            _("This month has not ended yet; its actuals can be submitted from %(day)s.")
            % {"day": formats.date_format(month_add(period, 1), "DATE_FORMAT")},
            field="period",
        )
    if status == SubmissionStatus.SUBMITTED:
        raise WorkflowError(_("This month is already submitted."), "conflict")
    if status == SubmissionStatus.APPROVED:
        raise WorkflowError(_("This month is approved and locked."), "conflict")
    proposal_feed(user=user, engagement=engagement, period=period)
    missing = missing_inputs(user, engagement, period)
    if missing:
        raise WorkflowError(
            _("Enter every KPI before submitting; missing: %(names)s.")
            % {"names": "、".join(n.name for n in missing)}
        )
    sub = _step(sub, status, SubmissionStatus.SUBMITTED, SubmissionAction.SUBMIT, user)
    notifications.notify(
        recipients=notifications.managers_of(engagement),
        kind="submitted",
        engagement=engagement,
        period=period,
        extra={"user": user.display_name},
    )
    return sub


@transaction.atomic
def submission_approve(*, user: User, engagement: Engagement, period: dt.date) -> Submission:
    """Manager approves a submitted month: from now on every write to it is refused."""
    if not can_manage(user):
        raise WorkflowError(_("Only managers approve months."), "forbidden")
    sub, status = _lock_month(engagement, period)
    if status != SubmissionStatus.SUBMITTED:
        raise WorkflowError(_("Only a submitted month can be approved."), "conflict")
    sub = _step(sub, status, SubmissionStatus.APPROVED, SubmissionAction.APPROVE, user)
    notifications.notify(
        recipients=notifications.vendor_users(engagement),
        kind="approved",
        engagement=engagement,
        period=period,
    )
    return sub


@transaction.atomic
def submission_return(
    *, user: User, engagement: Engagement, period: dt.date, reason: str
) -> Submission:
    """Manager sends a submitted month back to the vendor with the reason."""
    if not can_manage(user):
        raise WorkflowError(_("Only managers return months."), "forbidden")
    reason = _clean_reason(reason)
    sub, status = _lock_month(engagement, period)
    if status != SubmissionStatus.SUBMITTED:
        raise WorkflowError(_("Only a submitted month can be returned."), "conflict")
    sub = _step(sub, status, SubmissionStatus.RETURNED, SubmissionAction.RETURN, user, reason)
    notifications.notify(
        recipients=notifications.vendor_users(engagement),
        kind="returned",
        engagement=engagement,
        period=period,
        extra={"reason": reason},
    )
    return sub


@transaction.atomic
def submission_reopen(
    *, user: User, engagement: Engagement, period: dt.date, reason: str
) -> Submission:
    """Manager unlocks an approved month (audited with the reason); it becomes a draft again."""
    if not can_manage(user):
        raise WorkflowError(_("Only managers reopen months."), "forbidden")
    reason = _clean_reason(reason)
    sub, status = _lock_month(engagement, period)
    if status != SubmissionStatus.APPROVED:
        raise WorkflowError(_("Only an approved month can be reopened."), "conflict")
    sub = _step(sub, status, SubmissionStatus.DRAFT, SubmissionAction.REOPEN, user, reason)
    # Proposal changes made while the month was locked were not written: catch up now.
    proposal_feed(user=user, engagement=engagement, period=period)
    notifications.notify(
        recipients=notifications.vendor_users(engagement),
        kind="reopened",
        engagement=engagement,
        period=period,
        extra={"reason": reason},
    )
    return sub


@transaction.atomic
def submission_withdraw(*, user: User, engagement: Engagement, period: dt.date) -> Submission:
    """The vendor takes back a submitted month to correct it (a submitted month is locked for
    the vendor): it becomes a draft again and the managers are told."""
    if not can_report(user, engagement):
        raise WorkflowError(_("You may not withdraw this engagement's submission."), "forbidden")
    sub, status = _lock_month(engagement, period)
    if status != SubmissionStatus.SUBMITTED:
        raise WorkflowError(_("Only a submitted month can be withdrawn."), "conflict")
    sub = _step(sub, status, SubmissionStatus.DRAFT, SubmissionAction.WITHDRAW, user)
    notifications.notify(
        recipients=notifications.managers_of(engagement),
        kind="withdrawn",
        engagement=engagement,
        period=period,
        extra={"user": user.display_name},
    )
    return sub


def submission_step(
    action: str, *, user: User, engagement: Engagement, period: dt.date, reason: str = ""
) -> Submission:
    """Dispatch a workflow action by name (submit, withdraw, approve, return, reopen)."""
    if action == "submit":
        return submission_submit(user=user, engagement=engagement, period=period)
    if action == "withdraw":
        return submission_withdraw(user=user, engagement=engagement, period=period)
    if action == "approve":
        return submission_approve(user=user, engagement=engagement, period=period)
    if action == "return":
        return submission_return(user=user, engagement=engagement, period=period, reason=reason)
    if action == "reopen":
        return submission_reopen(user=user, engagement=engagement, period=period, reason=reason)
    raise WorkflowError(_("Unknown action."), field="action")


# -- improvement proposals (改善提案) ---------------------------------------------------------------


@transaction.atomic
def proposal_submit(
    *, user: User, engagement: Engagement, title: str, description: str, expected_effect: str = ""
) -> ImprovementProposal:
    if not can_report(user, engagement):
        raise WorkflowError(_("You may not submit proposals for this engagement."), "forbidden")
    title, description = (title or "").strip(), (description or "").strip()
    if not title or len(title) > 200:
        raise WorkflowError(_("Give a title of at most 200 characters."), field="title")
    if not description:
        raise WorkflowError(_("Describe the proposal."), field="description")
    now = timezone.now()
    proposal = ImprovementProposal.objects.create(
        engagement=engagement,
        title=title,
        description=description,
        expected_effect=(expected_effect or "").strip(),
        period=current_month(),
        submitted_by=user,
        submitted_at=now,
    )
    proposal_feed(user=user, engagement=engagement, period=proposal.period)
    notifications.notify(
        recipients=notifications.managers_of(engagement),
        kind="proposal",
        engagement=engagement,
        extra={"title": title, "user": user.display_name},
    )
    return proposal


@transaction.atomic
def proposal_decide(
    *, user: User, proposal: ImprovementProposal, accept: bool, note: str = ""
) -> ImprovementProposal:
    if not can_manage(user):
        raise WorkflowError(_("Only managers decide on proposals."), "forbidden")
    proposal = ImprovementProposal.objects.select_for_update().get(pk=proposal.pk)
    if proposal.status != ProposalStatus.PENDING:
        raise WorkflowError(_("This proposal has already been decided."), "conflict")
    proposal.status = ProposalStatus.ACCEPTED if accept else ProposalStatus.DECLINED
    proposal.decided_by, proposal.decided_at = user, timezone.now()
    proposal.decided_period = current_month()
    proposal.decision_note = (note or "").strip()
    proposal.save()
    proposal_feed(user=user, engagement=proposal.engagement, period=proposal.decided_period)
    notifications.notify(
        recipients=notifications.vendor_users(proposal.engagement),
        kind="proposal_accepted" if accept else "proposal_declined",
        engagement=proposal.engagement,
        extra={"title": proposal.title},
    )
    return proposal


def proposal_figures(engagement: Engagement, period: dt.date) -> tuple[int, float | None]:
    """(proposals submitted in the month, % adopted of those decided in the month or None)."""
    counts = ImprovementProposal.objects.filter(engagement=engagement).aggregate(
        submitted=Count("pk", filter=Q(period=period)),
        decided=Count("pk", filter=Q(decided_period=period) & ~Q(status=ProposalStatus.PENDING)),
        adopted=Count("pk", filter=Q(decided_period=period, status=ProposalStatus.ACCEPTED)),
    )
    rate = round(100 * counts["adopted"] / counts["decided"], 1) if counts["decided"] else None
    return counts["submitted"], rate


def proposal_feed(*, user: User, engagement: Engagement, period: dt.date) -> RecordResult | None:
    """Write the month's proposal count / adoption rate into the engagement's nodes whose
    source is proposal_count / proposal_adoption, through actuals_record (channel "system").

    Written as `user`, the person whose action changed the figures (the vendor user submitting
    a proposal or a month, the manager deciding or reopening): both may write the engagement's
    actuals, and the audit then says who caused the change. A month that is approved (locked)
    is left alone; reopening it catches up. Never fails the action that triggered it.
    """
    nodes = [
        n
        for n in Node.objects.filter(
            engagement=engagement,
            rollup=RollupRule.INPUT,
            source__in=[Source.PROPOSAL_COUNT, Source.PROPOSAL_ADOPTION],
        ).select_related("tree")
        if in_plan(n, period)
    ]
    if not nodes:
        return None
    if Submission.objects.filter(
        engagement=engagement, period=period, status=SubmissionStatus.APPROVED
    ).exists():
        return None
    count, rate = proposal_figures(engagement, period)
    rows = [
        {
            "tree": n.tree.code,
            "node": n.code,
            "period": f"{period:%Y-%m}",
            "value": count if n.source == Source.PROPOSAL_COUNT else rate,
            "comment": "",
        }
        for n in nodes
        if n.source == Source.PROPOSAL_COUNT or rate is not None
    ]
    if not rows:
        return None
    try:
        with transaction.atomic():
            return actuals_record(user=user, rows=rows, channel="system")
    except RecordError as exc:
        log.warning("proposal feed of %s %s refused: %s", engagement.code, period, exc.problems)
        return None
