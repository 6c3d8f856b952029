"""`{% load attribution %}{% attribution_panel node month %}`: on a computed KPI's page, what
moved it in `month` — its change split between its inputs (kpitree/attribution.py), as a table
of bars sorted by size and one sentence, with the comparison (`?attribution=mom|yoy|target`)
chosen by links. Renders nothing for an entered KPI."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import template
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from kpi_planner.errors import ServiceError
from kpi_planner.numbers import Numbers
from kpitree.attribution import displayed, signed
from kpitree.attribution_queries import COMPARE_LABELS, COMPARES, COMPUTED, node_attribution
from kpitree.models import Node

register = template.Library()

#: The query parameter that chooses the comparison.
PARAMETER = "attribution"
METHODS = {
    "lmdi": gettext_lazy(
        "Method: logarithmic mean Divisia index (LMDI-I) — the KPI is a product of its inputs, "
        "and each input gets the share of the change its own relative change explains; the "
        "parts add up exactly to the change."
    ),
    "sum": gettext_lazy("Method: the KPI is the sum of its inputs: each input's own change."),
    "shapley": gettext_lazy(
        "Method: Shapley value — each input's effect averaged over every order in which the "
        "inputs could have changed, computed with the KPI's formula; the parts add up exactly "
        "to the change."
    ),
    "sequential": gettext_lazy(
        "Method: the inputs changed one after another in the formula's order, each getting the "
        "change its own step made; the parts add up exactly to the change."
    ),
}


def _links(request: Any, chosen: str) -> list[dict[str, Any]]:
    links = []
    for compare in COMPARES:
        query = request.GET.copy() if request is not None else None
        if query is not None:
            query[PARAMETER] = compare
        text = query.urlencode() if query is not None else f"{PARAMETER}={compare}"
        href = f"?{text}#attribution"
        label = COMPARE_LABELS[compare]
        current = compare == chosen
        links.append({"compare": compare, "label": label, "href": href, "current": current})
    return links


@register.inclusion_tag("kpitree/_attribution.html", takes_context=True)
def attribution_panel(context: template.Context, node: Node, month: dt.date | None) -> dict:
    if node.rollup not in COMPUTED:
        return {"show": False}
    request = context.get("request")
    compare = request.GET.get(PARAMETER, "mom") if request is not None else "mom"
    if compare not in COMPARES:
        compare = "mom"
    out: dict[str, Any] = {
        "show": True,
        "node": node,
        "month": month,
        "compare": compare,
        "links": _links(request, compare),
    }
    if month is None or request is None:
        out["problem"] = _("No month has an actual yet: there is no change to explain.")
        return out
    try:
        found = node_attribution(request.user, node, month, compare)
    except ServiceError as exc:
        out["problem"] = " ".join(exc.messages)
        return out
    result = found.result
    out.update(found=found, sentence=found.sentence, method=METHODS.get(result.method, ""))
    if not result.known:
        return out
    numbers = Numbers()
    total, shown, digits = displayed(result)
    scale = max((abs(v) for v in shown), default=0.0) or 1.0
    rows: list[tuple[float, dict[str, str | None]]] = []
    for part, value in zip(result.parts, shown, strict=True):
        unit = found.units.get(part.code, "")
        row = {
            "code": part.code,
            "name": found.names.get(part.code, part.code or ""),
            "before": numbers.value(part.before, unit),
            "after": numbers.value(part.after, unit),
            "part": signed(value, digits, numbers),
            "sign": "pos" if value > 0 else "neg" if value < 0 else "zero",
            "width": f"{abs(value) / scale * 100:.1f}",
        }
        rows.append((abs(value), row))
    rows.sort(key=lambda r: -r[0])  # stable: equal parts stay in input order
    out.update(
        rows=[row for _size, row in rows],
        before=numbers.value(result.before, node.unit),
        after=numbers.value(result.after, node.unit),
        change=signed(total, digits, numbers),
    )
    return out
