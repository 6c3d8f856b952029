"""`{% load whatif %}{% whatif_panel node %}`: the what-if and goal-seek panel of a KPI.

The panel's forms post to kpitree/analysis_views.py (htmx swaps the answer in; without a script
the answer is a page of its own). Its choices are the nodes the reader may see: the input KPIs
to change or solve for, the computed KPIs to reach, the plan's months (the latest month with an
actual chosen). The elasticities are of the KPI itself when it is computed, else of the KGI.
"""

from __future__ import annotations

from django import template

from kpi_planner.access import nodes_for
from kpitree import analysis, queries
from kpitree.models import Node, RollupRule

register = template.Library()


@register.inclusion_tag("kpitree/_whatif.html", takes_context=True)
def whatif_panel(context: template.Context, node: Node) -> dict:
    user = context["request"].user
    tree = node.tree
    rows = list(
        nodes_for(user)
        .filter(tree=tree)
        .order_by("position", "id")
        .values_list("id", "code", "name", "rollup", "parent_id")
    )
    parent = {r[0]: r[4] for r in rows}

    def depth(node_id: int) -> int:
        d, current = 0, parent.get(node_id)
        while current in parent:
            d, current = d + 1, parent[current]
        return d

    def below(node_id: int) -> bool:
        current = parent.get(node_id)
        while current in parent and current != node.pk:
            current = parent[current]
        return current == node.pk

    leaves = [(r[1], r[2]) for r in rows if r[3] == RollupRule.INPUT]
    own = [r[1] for r in rows if r[3] == RollupRule.INPUT and below(r[0])]
    computed = sorted((r for r in rows if r[3] != RollupRule.INPUT), key=lambda r: depth(r[0]))
    goals = [(r[1], r[2]) for r in computed]
    is_input = node.rollup == RollupRule.INPUT
    goal = node.code if not is_input else (node.parent.code if node.parent else "")
    if goal not in {code for code, _name in goals}:
        goal = goals[0][0] if goals else ""
    latest = queries.latest_month(tree, user)
    months = analysis.plan_months(tree)
    return {
        "request": context["request"],
        "node": node,
        "tree": tree,
        "leaves": leaves,
        "goals": goals,
        "leaf": node.code if is_input else (own or [c for c, _n in leaves] or [""])[0],
        "goal": goal,
        "of": "" if is_input else node.code,
        "months": months,
        "month": latest if latest in months else months[0] if months else None,
    }
