"""Improvement proposals (改善提案): submitting and deciding them, and feeding the month's
proposal count / adoption rate into the engagement's automatic Learning & growth nodes."""

from __future__ import annotations

import datetime as dt
import logging

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from engagements.models import (
    Engagement,
    ImprovementProposal,
    ProposalStatus,
    Submission,
    SubmissionStatus,
    User,
)
from kpi_planner.access import can_manage, can_report
from kpi_planner.months import current_month
from kpitree.models import Node, RollupRule, Source
from kpitree.services import RecordError, RecordResult, actuals_record
from portal import notifications
from portal.queries import in_plan, proposal_figures
from portal.services.errors import WorkflowError

log = logging.getLogger(__name__)


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
