"""Tracked actions: corrective actions on off-track or at-risk KPIs, a review's action items, and
a vendor's monthly "next action" promoted to a tracked one.

Who: managers and the users of the engagement's vendor (kpi_planner.access.can_act_on). Every
change writes an ActionEvent (the changed fields, old and new); nothing is deleted: an action
that is no longer wanted is cancelled. Closing one as done needs its evidence.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Mapping
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from engagements.models import Engagement, User
from kpi_planner.access import can_act_on
from kpi_planner.errors import Problem, ServiceError
from kpi_planner.months import month_add
from kpitree.models import Actual, Grain, Node, Rollup, Status
from pdca.models import Action, ActionEvent, Review
from portal import reminders
from portal.services.comments import split_comment
from scorecard.models import KpiForecast

EDITABLE = ("title", "owner", "due_on", "status", "evidence")
CLOSED = (Action.Status.DONE, Action.Status.CANCELLED)


def _forbidden() -> ServiceError:
    return ServiceError(
        [
            Problem(
                _("Only managers and the engagement's vendor may change its actions."),
                code="forbidden",
            )
        ]
    )


def _problems(
    engagement: Engagement,
    *,
    node: Node | None,
    owner: User | None,
    title: str,
    due_on: Any,
    status: str,
    evidence: str,
) -> list[Problem]:
    problems = []
    if not title.strip():
        problems.append(Problem(_("Say what is to be done."), field="title"))
    elif len(title) > 300:
        problems.append(Problem(_("At most 300 characters."), field="title"))
    if not isinstance(due_on, dt.date):
        problems.append(Problem(_("Enter the due date."), field="due_on"))
    if node is not None and node.engagement_id != engagement.pk:
        problems.append(Problem(_("This KPI belongs to another engagement."), field="node"))
    if owner is not None and not (owner.is_active and can_act_on(owner, engagement)):
        problems.append(
            Problem(
                _("The owner must be a manager or a user of the engagement's vendor."),
                field="owner",
            )
        )
    if status not in Action.Status.values:
        problems.append(Problem(_("Unknown status."), field="status"))
    if status == Action.Status.DONE and not evidence.strip():
        problems.append(
            Problem(
                _("Say what shows it is done (the evidence) before closing it."), field="evidence"
            )
        )
    return problems


def _source_problem(source: str, node: Node | None, period: dt.date | None) -> Problem | None:
    """A corrective action is opened from a KPI that is off track (red in `period`) or at risk."""
    if source not in Action.Source.values:
        return Problem(_("Unknown source."), field="source")
    if source not in (Action.Source.OFF_TRACK, Action.Source.AT_RISK):
        return None
    if node is None:
        return Problem(_("Choose the KPI the corrective action is about."), field="node")
    if source == Action.Source.OFF_TRACK:
        red = period is not None and (
            Rollup.objects.filter(
                node=node, grain=Grain.MONTH, period=period, status=Status.RED
            ).exists()
        )
        if not red:
            return Problem(_("This KPI is not off track in that month."), field="node")
    elif not KpiForecast.objects.filter(node=node, at_risk=True).exists():
        return Problem(_("This KPI is not at risk."), field="node")
    return None


def _event(action: Action, kind: str, changes: dict, user: Any) -> None:
    ActionEvent.objects.create(
        action=action, kind=kind, changes=changes, user=user, at=timezone.now()
    )


def _plain(value: Any) -> Any:
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, User):
        return value.username
    return value


@transaction.atomic
def action_open(
    *,
    user: Any,
    engagement: Engagement,
    source: str,
    title: str,
    due_on: Any,
    node: Node | None = None,
    review: Review | None = None,
    owner: User | None = None,
    period: dt.date | None = None,
    evidence: str = "",
) -> Action:
    """Open a tracked action; every reason it cannot be opened is listed, nothing is written."""
    if not can_act_on(user, engagement):
        raise _forbidden()
    problems = _problems(
        engagement,
        node=node,
        owner=owner,
        title=title,
        due_on=due_on,
        status=Action.Status.OPEN,
        evidence=evidence,
    )
    source_problem = _source_problem(source, node, period)
    if source_problem:
        problems.append(source_problem)
    if review is not None and review.engagement_id != engagement.pk:
        problems.append(Problem(_("This review belongs to another engagement."), field="review"))
    if problems:
        raise ServiceError(problems)
    action = Action.objects.create(
        engagement=engagement,
        node=node,
        review=review,
        source=source,
        period=period,
        title=title.strip(),
        owner=owner,
        due_on=due_on,
        evidence=evidence.strip(),
        created_by=user if getattr(user, "pk", None) else None,
    )
    opened = {
        name: [None, _plain(getattr(action, name))]
        for name in ("title", "owner", "due_on", "status", "evidence", "source", "period")
        if getattr(action, name) not in (None, "")
    }
    _event(action, "opened", opened, user)
    return action


@transaction.atomic
def action_update(*, user: Any, action: Action, data: Mapping[str, Any]) -> Action:
    """Change an action's what, owner, due date, status or evidence (the others are its
    origin). Closing (done, cancelled) sets closed_at; reopening clears it; each change is an
    ActionEvent with the fields' old and new values."""
    action = Action.objects.select_for_update().get(pk=action.pk)
    if not can_act_on(user, action.engagement):
        raise _forbidden()
    unknown = [name for name in data if name not in EDITABLE]
    if unknown:
        raise ServiceError([Problem(_("Unknown field."), field=name) for name in unknown])
    new = {name: data.get(name, getattr(action, name)) for name in EDITABLE}
    new["title"] = (new["title"] or "").strip()
    new["evidence"] = (new["evidence"] or "").strip()
    problems = _problems(
        action.engagement,
        node=action.node,
        owner=new["owner"],
        title=new["title"],
        due_on=new["due_on"],
        status=new["status"],
        evidence=new["evidence"],
    )
    if problems:
        raise ServiceError(problems)
    changes = {
        name: [_plain(getattr(action, name)), _plain(value)]
        for name, value in new.items()
        if getattr(action, name) != value
    }
    if not changes:
        return action
    was_closed = action.status in CLOSED
    for name, value in new.items():
        setattr(action, name, value)
    now_closed = action.status in CLOSED
    if now_closed and not was_closed:
        action.closed_at, kind = timezone.now(), "closed"
    elif was_closed and not now_closed:
        action.closed_at, kind = None, "reopened"
    else:
        kind = "changed"
    action.save()
    _event(action, kind, changes, user)
    return action


def action_promote_next_action(
    *, user: Any, engagement: Engagement, node: Node, period: dt.date, due_on: dt.date | None = None
) -> Action:
    """The vendor's "next action" of a KPI and month (the second part of the actual's comment)
    becomes a tracked action, owned by whoever promotes it, due at the end of the next month
    unless said otherwise. Promoting the same one twice is refused."""
    comment = (
        Actual.objects.filter(node=node, period=period).values_list("comment", flat=True).first()
    )
    _why, next_action = split_comment(comment or "")
    if not next_action.strip():
        raise ServiceError(
            [Problem(_("This KPI has no next action for that month."), field="node")]
        )
    if Action.objects.filter(node=node, period=period, source=Action.Source.NEXT_ACTION).exists():
        raise ServiceError(
            [Problem(_("This next action is tracked already."), field="node", code="conflict")]
        )
    if due_on is None:  # the last day of the month after
        due_on = month_add(period, 2) - dt.timedelta(days=1)
    owner = user if isinstance(user, User) and can_act_on(user, engagement) else None
    return action_open(
        user=user,
        engagement=engagement,
        node=node,
        source=Action.Source.NEXT_ACTION,
        title=next_action.strip()[:300],
        due_on=due_on,
        owner=owner,
        period=period,
    )


def actions_remind_overdue(*, today: dt.date | None = None) -> int:
    """Beat, daily: each owner of open actions past due (and the engagement's manager) gets one
    reminder per engagement and day, recorded before it is sent (portal.reminders.deliver_once),
    so a second run sends nothing. Returns the reminders sent."""
    from portal import notifications

    today = today or timezone.localdate()
    overdue = (
        Action.objects.filter(
            status__in=[Action.Status.OPEN, Action.Status.IN_PROGRESS], due_on__lt=today
        )
        .select_related("engagement__manager", "owner")
        .order_by("engagement_id", "due_on", "pk")
    )
    per: dict[tuple[int, int], list[Action]] = defaultdict(list)
    people: dict[int, User] = {}
    engagements: dict[int, Engagement] = {}
    for action in overdue:
        engagements[action.engagement_id] = action.engagement
        recipients = notifications.managers_of(action.engagement)
        if action.owner is not None and action.owner.is_active:
            recipients = [action.owner, *recipients]
        for person in recipients:
            people[person.pk] = person
            per[(action.engagement_id, person.pk)].append(action)
    sent = 0
    for (engagement_id, person_id), actions in per.items():
        sent += reminders.deliver_once(
            "action_overdue",
            engagements[engagement_id],
            today,
            people[person_id],
            {"count": len(actions), "title": actions[0].title},
        )
    return sent
