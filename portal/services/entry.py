"""Saving the typed cells of a month (the monthly grid): Entry and month_save.

Every value goes through `kpitree.services.actuals_record` (validation, the lock of an approved
month, the audit, the recompute); with `submit` the month is then submitted in the same
transaction (portal.services.workflow).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from django.db import transaction
from django.utils.translation import gettext as _

from engagements.models import Engagement, User
from kpi_planner.access import can_report
from kpi_planner.errors import Problem, ServiceError
from kpi_planner.numbers import clean_number
from kpitree.models import Actual
from kpitree.services import RecordError, RecordResult, actuals_record
from portal.queries import in_plan, is_typed, portal_nodes
from portal.services.comments import join_comment
from portal.services.errors import WorkflowError
from portal.services.workflow import submission_submit


@dataclass
class Entry:
    """One cell of the monthly grid as typed: the value is text (normalised before saving)."""

    node_id: int
    value: str = ""
    why: str = ""
    next_action: str = ""


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
