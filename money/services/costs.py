"""An engagement's cost (the fee plus extra charges per month) and its designated gain and
acquired-customers KPIs, and the fed nodes that show cost, ROI, CPA and the gain ratio in the
tree without anyone typing them (kpitree Source money_*).

The fed nodes are written like the proposal counts (portal.services.proposals.proposal_feed):
through actuals_record on the "system" channel, as the person whose change moved the figures,
and never into an approved (locked) month: reopening the month and approving it again catches up.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from typing import Any

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from engagements.models import Engagement, Submission, SubmissionStatus, User
from kpi_planner.access import can_manage
from kpi_planner.errors import Problem, ServiceError
from kpi_planner.months import current_month, month_range
from kpi_planner.numbers import parse_number
from kpitree.models import Actual, Grain, Node, Rollup, RollupRule, Source
from kpitree.services import RecordError, actuals_record, has_nul, nul_message
from money.models import Charge, MoneySettings
from money.services.rules import _engagement_node, forbidden, open_month

log = logging.getLogger(__name__)

MAX_CHARGE = 10**12  # a trillion yen: anything above is a typing mistake
FED = (Source.MONEY_COST, Source.MONEY_ROI, Source.MONEY_CPA, Source.MONEY_GAIN_RATIO)


@transaction.atomic
def money_settings_update(
    *, user: User, engagement: Engagement, gain_node: Any = None, acquired_node: Any = None
) -> MoneySettings:
    """Designate the engagement's gain KPI (yen) and acquired-customers KPI; both must be KPIs
    of this engagement."""
    if not can_manage(user):
        raise forbidden()
    problems: list[Problem] = []
    gain = _engagement_node(engagement, gain_node, "gain_node", problems)
    acquired = _engagement_node(engagement, acquired_node, "acquired_node", problems)
    if problems:
        raise ServiceError(problems)
    settings, _created = MoneySettings.objects.get_or_create(engagement=engagement)
    settings.gain_node, settings.acquired_node, settings.updated_by = gain, acquired, user
    settings.save()
    transaction.on_commit(lambda: money_feed(user=user, engagement=engagement))
    return settings


@transaction.atomic
def charge_add(
    *, user: User, engagement: Engagement, period: Any, amount: Any, description: Any
) -> Charge:
    """An extra charge (negative: a discount) of one month of the engagement, in whole yen."""
    if not can_manage(user):
        raise forbidden()
    problems: list[Problem] = []
    month = open_month(engagement, period, "period", problems)
    yen = parse_number(amount)
    if yen is None or yen != int(yen) or yen == 0 or abs(yen) > MAX_CHARGE:
        problems.append(Problem(_("Enter the amount in whole yen (not zero)."), field="amount"))
    if has_nul(description):
        problems.append(Problem(nul_message(), field="description"))
    text = description.strip() if isinstance(description, str) else ""
    if not text:
        problems.append(Problem(_("Say what the charge is for."), field="description"))
    if problems:
        raise ServiceError(problems)
    assert month is not None
    charge = Charge.objects.create(
        engagement=engagement,
        period=month,
        amount=int(yen),  # type: ignore[arg-type]
        description=text[:200],
        created_by=user,
    )
    _after_cost_change(user, engagement)
    return charge


@transaction.atomic
def charge_void(*, user: User, charge: Charge, reason: Any) -> Charge:
    """Void a charge (kept, with who and why)."""
    if not can_manage(user):
        raise forbidden()
    if has_nul(reason):
        raise ServiceError([Problem(nul_message(), field="reason")])
    text = reason.strip() if isinstance(reason, str) else ""
    if not text:
        raise ServiceError([Problem(_("Give a reason."), field="reason")])
    charge = Charge.objects.select_for_update().get(pk=charge.pk)
    if charge.voided_at is not None:
        raise ServiceError([Problem(_("This charge is already voided."), code="conflict")])
    problems: list[Problem] = []
    if open_month(charge.engagement, charge.period, "period", problems) is None:
        raise ServiceError(problems)
    charge.voided_at, charge.voided_by, charge.void_reason = timezone.now(), user, text[:2000]
    charge.save(update_fields=["voided_at", "voided_by", "void_reason"])
    _after_cost_change(user, charge.engagement)
    return charge


def _after_cost_change(user: User, engagement: Engagement) -> None:
    from money.services.statements import statements_compute

    statements_compute(engagement_ids=[engagement.pk], user=user)
    transaction.on_commit(lambda: money_feed(user=user, engagement=engagement))


# -- cost per month, and the fed nodes -------------------------------------------------------------


def monthly_costs(engagement: Engagement, months: Iterable[dt.date]) -> dict[dt.date, int]:
    """Fee plus the month's extra charges (voided ones left out), per month."""
    months = list(months)
    extra = dict(
        Charge.objects.filter(engagement=engagement, period__in=months, voided_at__isnull=True)
        .values("period")
        .annotate(total=Sum("amount"))
        .values_list("period", "total")
    )
    return {m: engagement.monthly_fee + int(extra.get(m) or 0) for m in months}


def fed_value(source: str, cost: int, gain: float | None, acquired: float | None) -> float | None:
    """A fed node's monthly value: cost in yen, ROI and the gain ratio in %, CPA in yen."""
    if source == Source.MONEY_COST:
        return float(cost)
    if source == Source.MONEY_CPA:
        return cost / acquired if acquired else None
    if gain is None or cost <= 0:
        return None
    if source == Source.MONEY_ROI:
        return (gain - cost) / cost * 100
    return gain / cost * 100  # MONEY_GAIN_RATIO


def _measured(
    node_ids: list[int], months: list[dt.date]
) -> dict[tuple[int | None, dt.date], float | None]:
    """The gain and acquired values of the months: the actual when one is entered (it is current
    at once), else the monthly rollup (a formula node has no actuals of its own)."""
    values: dict[tuple[int | None, dt.date], float | None] = {
        (node_id, period): value
        for node_id, period, value in Rollup.objects.filter(
            node_id__in=node_ids, grain=Grain.MONTH, period__in=months, actual__isnull=False
        ).values_list("node_id", "period", "actual")
    }
    values.update(
        ((node_id, period), value)
        for node_id, period, value in Actual.objects.filter(
            node_id__in=node_ids, period__in=months
        ).values_list("node_id", "period", "value")
    )
    return values


def money_feed(
    *, user: User, engagement: Engagement, months: Iterable[dt.date] | None = None
) -> int:
    """Write the fed nodes of the engagement for `months` (every month of the engagement up to
    now by default) that are not approved. Returns the rows written; never raises for a refusal
    (it is logged): the change that triggered it stands."""
    nodes = list(
        Node.objects.filter(engagement=engagement, rollup=RollupRule.INPUT, source__in=FED)
        .select_related("tree")
        .order_by("pk")
    )
    if not nodes:
        return 0
    last = current_month()
    wanted = [
        m
        for m in (months or month_range(engagement.start_month, engagement.end_month))
        if engagement.start_month <= m <= min(engagement.end_month, last)
    ]
    locked = set(
        Submission.objects.filter(
            engagement=engagement, period__in=wanted, status=SubmissionStatus.APPROVED
        ).values_list("period", flat=True)
    )
    wanted = [m for m in wanted if m not in locked]
    if not wanted:
        return 0
    settings = MoneySettings.objects.filter(engagement=engagement).first()
    measured = (
        [n for n in (settings.gain_node_id, settings.acquired_node_id) if n] if settings else []
    )
    values = _measured(measured, wanted)
    costs = monthly_costs(engagement, wanted)
    rows = []
    for node in nodes:
        for m in wanted:
            if not node.tree.start_month <= m <= node.tree.end_month:
                continue
            gain = values.get((settings.gain_node_id, m)) if settings else None
            acquired = values.get((settings.acquired_node_id, m)) if settings else None
            value = fed_value(node.source, costs[m], gain, acquired)
            if value is not None:
                rows.append(
                    {
                        "tree": node.tree.code,
                        "node": node.code,
                        "period": f"{m:%Y-%m}",
                        "value": value,
                        "comment": "",
                    }
                )
    if not rows:
        return 0
    try:
        with transaction.atomic():
            result = actuals_record(user=user, rows=rows, channel="system")
    except RecordError as exc:
        log.warning("money feed of %s refused: %s", engagement.code, exc.problems)
        return 0
    return result.created + result.updated
