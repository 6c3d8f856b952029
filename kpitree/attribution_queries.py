"""Reads for driver attribution (kpitree/attribution.py): a computed node's inputs' monthly values
for two periods, from the materialised rollup (grain month; ``actual``, and ``target`` for
actual vs target), scoped by kpi_planner/access.py.

Comparisons (``compare``): ``mom`` the month against the month before, ``yoy`` against the same
month a year before (in the same plan: a plan that does not reach back that far says so), and
``target`` the month's actual against its target. Inputs the reader may not see are given as
one part taken together (their values stay hidden; their joint part is the change less the
visible parts, which the reader could work out anyway).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from engagements.models import Engagement
from kpi_planner.access import nodes_for
from kpi_planner.errors import Problem, ServiceError
from kpi_planner.months import month_add, month_text
from kpitree.attribution import Attribution, Part, attribute, sentence
from kpitree.formula import FormulaError, formula_names, parse_formula
from kpitree.models import Grain, Node, Rollup, RollupRule

if TYPE_CHECKING:
    from kpi_planner.access import AnyUser

COMPARES = ("mom", "yoy", "target")
COMPARE_LABELS = {
    "mom": gettext_lazy("vs previous month"),
    "yoy": gettext_lazy("vs same month last year"),
    "target": gettext_lazy("actual vs target"),
}
#: A heading for the report's attribution lines (attribution_lines compares month over month).
REPORT_HEADING = gettext_lazy("What moved the computed KPIs since the previous month")
COMPUTED = (RollupRule.FORMULA, RollupRule.SUM, RollupRule.AVG, RollupRule.WEIGHTED_AVG)


@dataclass
class NodeAttribution:
    node: Node
    period: dt.date
    compare: str
    before_period: dt.date  # the month compared with (the period itself for `target`)
    result: Attribution
    names: dict[str | None, str] = field(default_factory=dict)  # part code → name
    units: dict[str | None, str] = field(default_factory=dict)  # part code → unit

    @property
    def sentence(self) -> str:
        return sentence(self.node.name, self.result, self.names)


def before_period(node: Node, period: dt.date, compare: str) -> dt.date:
    """The month ``period`` is compared with; ServiceError (field ``period`` or ``compare``)
    when the plan has no such month."""
    tree = node.tree
    span = {"first": month_text(tree.start_month), "last": month_text(tree.end_month)}
    if compare not in COMPARES:
        raise ServiceError([Problem(_("compare must be mom, yoy or target."), field="compare")])
    if not tree.start_month <= period <= tree.end_month:
        message = _("%(month)s is not a month of this plan (%(first)s to %(last)s).")
        raise ServiceError([Problem(message % {"month": month_text(period), **span}, "period")])
    if compare == "target":
        return period
    before = month_add(period, -1 if compare == "mom" else -12)
    if before >= tree.start_month:
        return before
    if compare == "mom":
        message = _("%(month)s is the first month of this plan: it has no previous month.")
    else:
        message = _(
            "This plan has no %(before)s, the same month a year before %(month)s "
            "(it runs from %(first)s to %(last)s)."
        )
    args = {"month": month_text(period), "before": month_text(before), **span}
    raise ServiceError([Problem(message % args, field="compare")])


def _inputs(node: Node, children: list[Node]) -> list[Node]:
    """The inputs of a computed node: the children its formula names (in the order they first
    appear) or, for a sum or average, all its children."""
    if node.rollup != RollupRule.FORMULA:
        return children
    by_code = {c.code: c for c in children}
    try:
        codes = parse_formula(node.formula).shape.codes
    except FormulaError:
        codes = tuple(formula_names(node.formula))
    return [by_code[c] for c in codes if c in by_code]


def _values(
    nodes: Iterable[Node], periods: Collection[dt.date]
) -> dict[tuple[int, dt.date], tuple[float | None, float | None]]:
    rows = Rollup.objects.filter(
        node__in=[n.pk for n in nodes], grain=Grain.MONTH, period__in=list(periods)
    ).values_list("node_id", "period", "actual", "target")
    return {(node_id, period): (actual, target) for node_id, period, actual, target in rows}


def _attribute(
    node: Node,
    inputs: list[Node],
    values: dict[tuple[int, dt.date], tuple[float | None, float | None]],
    period: dt.date,
    compare: str,
    visible: Collection[int],
) -> NodeAttribution:
    before_month = before_period(node, period, compare)
    column = 1 if compare == "target" else 0
    before = {c.code: values.get((c.pk, before_month), (None, None))[column] for c in inputs}
    after = {c.code: values.get((c.pk, period), (None, None))[0] for c in inputs}
    try:
        result = attribute(
            rollup=node.rollup,
            formula=node.formula,
            codes=[c.code for c in inputs],
            weights=[c.weight for c in inputs],
            before=before,
            after=after,
        )
    except FormulaError as exc:  # a stored formula the grammar no longer accepts
        raise ServiceError([Problem(exc.message)]) from exc
    names: dict[str | None, str] = {c.code: c.name for c in inputs}
    hidden = {c.code for c in inputs if c.pk not in visible}
    if hidden:
        result = _grouped(result, hidden)
        names[None] = _("other inputs")
    units: dict[str | None, str] = {c.code: c.unit for c in inputs if c.pk in visible}
    return NodeAttribution(node, period, compare, before_month, result, names, units)


def _grouped(result: Attribution, hidden: set[str]) -> Attribution:
    """The parts of ``hidden`` inputs taken together, last, with no values of their own."""
    shown = [p for p in result.parts if p.code not in hidden]
    # The change less what is shown, so that the parts still add up to the last bit.
    total = None
    if result.change is not None:
        total = result.change - math.fsum(p.part or 0.0 for p in shown)
    parts = (*shown, Part(None, None, None, total))
    return Attribution(result.before, result.after, result.change, parts, result.method)


def node_attribution(user: AnyUser, node: Node, period: dt.date, compare: str) -> NodeAttribution:
    """The attribution of ``node`` (already taken from nodes_for(user)) for ``period``.
    ServiceError for a node that is not computed, a month outside the plan, or a comparison
    the plan cannot make."""
    if node.rollup not in COMPUTED:
        message = _("%(kpi)s is entered, not computed: it has no inputs to split its change into.")
        raise ServiceError([Problem(message % {"kpi": node.name})])
    before_period(node, period, compare)  # the parameters first, before any query
    children = list(Node.objects.filter(parent=node).order_by("position", "id"))
    inputs = _inputs(node, children)
    visible = set(
        nodes_for(user).filter(pk__in=[c.pk for c in inputs]).values_list("pk", flat=True)
    )
    periods = {period, before_period(node, period, compare)}
    return _attribute(node, inputs, _values(inputs, periods), period, compare, visible)


def attribution_lines(engagement: Engagement, month: dt.date, compare: str = "mom") -> list[str]:
    """One sentence for each formula KPI of ``engagement`` that has a known change in ``month``
    (month over month by default), for the monthly report, in the active language: "受注数 −4:
    架電数 −2.1, 接続率 −0.4, …". Inputs owned by another vendor, or in-house, are taken
    together as "other inputs" (the report goes to the vendor). A KPI whose plan has no month
    to compare with, or whose change is unknown, gives no line. Three queries."""
    nodes = list(
        Node.objects.filter(
            engagement=engagement,
            rollup=RollupRule.FORMULA,
            tree__archived_at__isnull=True,
            tree__start_month__lte=month,
            tree__end_month__gte=month,
        )
        .select_related("tree")
        .order_by("tree_id", "position", "id")
    )
    children: dict[int, list[Node]] = {}
    kids = Node.objects.filter(parent__in=nodes).select_related("engagement")
    for child in kids.order_by("position", "id"):
        children.setdefault(child.parent_id, []).append(child)  # type: ignore[arg-type]
    inputs = {n.pk: _inputs(n, children.get(n.pk, [])) for n in nodes}
    everyone = [c for cs in inputs.values() for c in cs]
    periods = {month, month_add(month, -1), month_add(month, -12)}
    values = _values(everyone, periods)
    visible = {
        c.pk
        for c in everyone
        if c.engagement is not None and c.engagement.vendor_id == engagement.vendor_id
    }
    lines = []
    for node in nodes:
        try:
            found = _attribute(node, inputs[node.pk], values, month, compare, visible)
        except ServiceError:
            continue  # no month to compare with in this plan
        if found.result.known:
            lines.append(found.sentence)
    return lines
