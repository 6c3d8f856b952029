"""Reads for the KPI tree editor, scoped through kpi_planner.access.

The editor page must make the same number of queries for 50 nodes as for 5,000: everything here
reads whole sets (the tree's nodes, the month's rollup rows, the owners) in one query each and
joins them in Python.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from django.db.models import Max
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _

from kpi_planner import numbers
from kpi_planner.access import engagements_for, nodes_for, sees_everything
from kpi_planner.months import month_add, month_range, month_text
from kpitree import target_gap
from kpitree.models import Actual, Grain, Node, RollupRule, Status, Target, Tree, has_history
from kpitree.models import Rollup as RollupRow

NODE_COLUMNS = (
    "id",
    "code",
    "name",
    "kind",
    "parent_id",
    "engagement_id",
    "owner",
    "unit",
    "rollup",
    "formula",
    "okr_objective",
    "direction",
    "perspective",
    "result_type",
    "importance",
    "position",
)
CLOSE_LI = "</ul></li>"


# -- the tree -------------------------------------------------------------------------------------


@dataclass
class TreeView:
    tree: Tree
    rows: list[dict[str, Any]]
    period: dt.date | None  # the month whose values are shown
    latest: dt.date | None  # the latest month with an actual
    months: list[dt.date]
    node_count: int
    codes: list[str] = field(default_factory=list)


def latest_month(tree: Tree, user) -> dt.date | None:
    """The latest month in which a node the user sees has an actual (from the rollup rows)."""
    qs = RollupRow.objects.filter(tree=tree, grain=Grain.MONTH, actual__isnull=False)
    if not sees_everything(user):
        qs = qs.filter(node__in=nodes_for(user).filter(tree=tree))
    return qs.aggregate(latest=Max("period"))["latest"]


def owner_labels(user, engagement_ids: Iterable[int]) -> dict[int, str]:
    ids = {i for i in engagement_ids if i}
    if not ids:
        return {}
    return {e.pk: f"{e.vendor.name}（{e.code}）" for e in engagements_for(user).filter(pk__in=ids)}


def tree_view(*, user, tree: Tree, period: dt.date | None = None, node_base: str = "") -> TreeView:
    """The visible nodes of `tree` in depth-first order, with their values for `period`
    (default: the latest month with data), ready for the tree and the table templates.

    `node_base` is the URL prefix of the node pages (/trees/<code>/nodes/): each row gets its
    `url`, so the templates do not reverse thousands of URLs (codes are URL-safe characters).
    """
    nodes = list(nodes_for(user).filter(tree=tree).order_by("position", "id").values(*NODE_COLUMNS))
    months = month_range(tree.start_month, tree.end_month)
    latest = latest_month(tree, user) if nodes else None
    shown = period or latest
    values: dict[int, tuple] = {}
    if shown is not None and nodes:
        values = {
            r[0]: r[1:]
            for r in RollupRow.objects.filter(
                tree=tree, grain=Grain.MONTH, period=shown
            ).values_list("node_id", "actual", "target", "achievement", "status")
        }
    owners = owner_labels(user, (n["engagement_id"] for n in nodes))
    status_label = dict(Status.choices)
    rollup_label = dict(RollupRule.choices)
    fmt = numbers.Numbers()  # the separators looked up once: a tree formats thousands of values
    by_id = {n["id"]: n for n in nodes}
    children: dict[int | None, list[dict]] = {}
    for n in nodes:
        parent = n["parent_id"] if n["parent_id"] in by_id else None  # hidden parent: a root
        children.setdefault(parent, []).append(n)
    rows: list[dict[str, Any]] = []
    stack: list[tuple[dict, int]] = [(n, 0) for n in reversed(children.get(None, []))]
    while stack:
        n, depth = stack.pop()
        kids = children.get(n["id"], [])
        actual, target, achievement, status = values.get(n["id"], (None, None, None, "none"))
        owner = " / ".join(x for x in (owners.get(n["engagement_id"], ""), n["owner"]) if x)
        n.update(
            depth=depth,
            has_children=bool(kids),
            child_count=len(kids),
            child_codes=[k["code"] for k in kids],
            owner_label=owner,
            actual=fmt.value(actual, n["unit"]),
            target=fmt.value(target, n["unit"]),
            achievement=fmt.pct(achievement),
            status=status,
            status_label=status_label.get(status, status),
            rollup_label=rollup_label.get(n["rollup"], n["rollup"]),
            computed=n["rollup"] != RollupRule.INPUT,
            url=SafeString(f"{node_base}{n['code']}/"),  # codes are [A-Za-z0-9._-]: URL-safe
        )
        rows.append(n)
        stack.extend((k, depth + 1) for k in reversed(kids))
    _close_tags(rows)
    return TreeView(
        tree=tree,
        rows=rows,
        period=shown,
        latest=latest,
        months=months,
        node_count=len(nodes),
        codes=[n["code"] for n in rows],
    )


def _close_tags(rows: list[dict]) -> None:
    """How many nested lists close after each row, so the template draws a nested <ul> from a
    flat loop (a recursive include per node would cost far more for thousands of nodes)."""
    for i, row in enumerate(rows):
        next_depth = rows[i + 1]["depth"] if i + 1 < len(rows) else 0
        closes = row["depth"] - next_depth if not row["has_children"] else 0
        row["close_html"] = SafeString(CLOSE_LI * max(closes, 0))


# -- nodes ----------------------------------------------------------------------------------------


def parent_choices(tree: Tree, user, exclude: Node | None = None) -> list[tuple[str, str]]:
    """Every node of the tree the user sees as (code, indented label), without `exclude` and its
    subtree (a node cannot move under itself)."""
    nodes = list(
        nodes_for(user)
        .filter(tree=tree)
        .order_by("position", "id")
        .values_list("id", "code", "name", "parent_id")
    )
    children: dict[int | None, list[tuple]] = {}
    for n in nodes:
        children.setdefault(n[3], []).append(n)
    out: list[tuple[str, str]] = []
    stack = [(n, 0) for n in reversed(children.get(None, []))]
    while stack:
        (node_id, code, name, _parent), depth = stack.pop()
        if exclude is not None and node_id == exclude.pk:
            continue
        out.append((code, f"{'　' * depth}{code} — {name}"))
        stack.extend((k, depth + 1) for k in reversed(children.get(node_id, [])))
    return out


@dataclass
class DeleteImpact:
    nodes: int
    descendants: int
    actuals: int
    targets: int
    archives: bool  # the subtree has history: it is archived (and can be restored), not deleted


def delete_impact(node: Node) -> DeleteImpact:
    from kpitree.services import subtree_ids

    ids = subtree_ids(node)
    everything = subtree_ids(node, archived=True)
    actuals = Actual.objects.filter(node_id__in=ids).count()
    targets = Target.objects.filter(node_id__in=ids).count()
    return DeleteImpact(
        nodes=len(ids),
        descendants=len(ids) - 1,
        actuals=actuals,
        targets=targets,
        archives=has_history(node_id__in=everything),
    )


def archived_nodes(tree: Tree) -> list[Node]:
    """The tree's archived KPIs whose parent is not archived (restoring one brings back the
    descendants archived with it), newest first, each with `history`: the value changes of
    the KPI and the KPIs archived with it, newest first (the record stays readable)."""
    from kpitree.models import ValueAudit

    archived = Node.all_objects.filter(tree=tree, archived_at__isnull=False)
    ids = set(archived.values_list("pk", flat=True))
    tops = [n for n in archived.order_by("-archived_at", "code") if n.parent_id not in ids]
    parent_of = dict(archived.values_list("pk", "parent_id"))

    def top_of(pk: int) -> int:
        while parent_of.get(pk) in ids:
            pk = parent_of[pk]
        return pk

    history: dict[int, list] = {n.pk: [] for n in tops}
    for audit in (
        ValueAudit.objects.filter(node_id__in=ids).select_related("node", "user").order_by("-at")
    ):
        rows = history.get(top_of(audit.node_id))
        if rows is not None and len(rows) < 100:
            rows.append(audit)
    for node in tops:
        node.history = history[node.pk]
    return tops


@dataclass
class Preview:
    period: dt.date | None
    value: float | None
    display: str
    missing: list[str]


def formula_preview(node: Node, formula) -> Preview:
    """What a parsed formula gives on the children's values of their latest month with data."""
    kids = dict(Node.objects.filter(parent=node).values_list("id", "code"))
    rows = RollupRow.objects.filter(node_id__in=kids, grain=Grain.MONTH, actual__isnull=False)
    period = rows.aggregate(latest=Max("period"))["latest"]
    values: dict[str, float | None] = dict.fromkeys(kids.values())
    if period is not None:
        for node_id, actual in rows.filter(period=period).values_list("node_id", "actual"):
            values[kids[node_id]] = actual
    value = formula.evaluate_scalar(values) if period is not None else None
    missing = sorted(name for name in formula.names if values.get(name) is None)
    return Preview(period, value, numbers.value(value, node.unit), missing)


# -- targets ---------------------------------------------------------------------------------------


def target_warnings(
    value: float | None, benchmark: float | None, history: float | None
) -> list[str]:
    """Why a target looks far from its benchmark or the node's recent actuals (DOMAIN pitfall 5;
    the rule is kpitree.target_gap's, shared with the design lint)."""
    if value is None:
        return []
    out = []
    for reference, above, below in (
        (benchmark, _("%(pct)s above the benchmark"), _("%(pct)s below the benchmark")),
        (history, _("%(pct)s above the recent actuals"), _("%(pct)s below the recent actuals")),
    ):
        gap = target_gap.gap(value, reference)
        if gap is not None and target_gap.is_far(value, reference):
            pct = f"{abs(gap) * 100:.0f}%"
            out.append((above if gap > 0 else below) % {"pct": pct})
    return out


@dataclass
class TargetMonth:
    month: dt.date
    key: str  # "2026-04"
    target: float | None
    rationale: str
    actual: float | None
    last_year: float | None
    history: float | None  # mean of the last target_gap.HISTORY_MONTHS actuals before the month
    warnings: list[str]
    unit: str = ""

    @property
    def actual_text(self) -> str:
        return numbers.value(self.actual, self.unit)

    @property
    def last_year_text(self) -> str:
        return numbers.value(self.last_year, self.unit)

    @property
    def history_text(self) -> str:
        return numbers.value(self.history, self.unit)


def previous_plan_actuals(node: Node, months: list[dt.date]) -> dict[dt.date, float]:
    """The actuals of `months` of the node this one was copied from (and its own original, up
    the chain), where this node's tree does not reach: a plan copied to the next fiscal year
    keeps comparing with the year before."""
    out: dict[dt.date, float] = {}
    previous_id, seen = node.copied_from_id, {node.pk}
    while previous_id is not None and previous_id not in seen and len(seen) < 10:
        seen.add(previous_id)
        out = {
            **dict(
                Actual.objects.filter(node_id=previous_id, period__in=months).values_list(
                    "period", "value"
                )
            ),
            **out,
        }
        previous_id = (
            Node.all_objects.filter(pk=previous_id).values_list("copied_from_id", flat=True).first()
        )
    return out


def target_grid(node: Node, first: dt.date, count: int = 12) -> list[TargetMonth]:
    tree = node.tree
    months = [m for m in month_range(first, tree.end_month) if m >= tree.start_month][:count]
    if not months:
        return []
    targets = {
        p: (v, r)
        for p, v, r in Target.objects.filter(node=node, period__in=months).values_list(
            "period", "value", "rationale"
        )
    }
    actuals = sorted(
        Actual.objects.filter(node=node, period__lte=months[-1]).values_list("period", "value")
    )
    by_month = dict(actuals)
    # Last year from the previous plan when this tree is a copy (its own months come first).
    last_years = {**previous_plan_actuals(node, [month_add(m, -12) for m in months]), **by_month}
    out = []
    for m in months:
        history = target_gap.history_mean(actuals, before=m)
        value, rationale = targets.get(m, (None, ""))
        last_year = last_years.get(dt.date(m.year - 1, m.month, 1))
        out.append(
            TargetMonth(
                month=m,
                key=month_text(m),
                target=value,
                rationale=rationale,
                actual=by_month.get(m),
                last_year=last_year,
                history=history,
                warnings=target_warnings(value, node.benchmark, history),
                unit=node.unit,
            )
        )
    return out


# -- the rollup API's read -----------------------------------------------------------------------


def rollup_nodes(user, tree: Tree, grain: str, start: dt.date) -> list[dict]:
    """Every visible node's rollup for one period, in the tree's order (the API's `nodes`)."""
    # Two plain reads joined here, not `node__in=<subquery>`: the planner may turn that join
    # into a nested loop over a bloated or freshly changed table.
    rows = {
        r[0]: r
        for r in RollupRow.objects.filter(tree=tree, grain=grain, period=start).values_list(
            "node_id", "actual", "target", "achievement", "status"
        )
    }
    out = []
    empty = (None, None, None, None, Status.NONE.value)
    for node_id, code, rollup in (
        nodes_for(user)
        .filter(tree=tree)
        .order_by("position", "id")
        .values_list("id", "code", "rollup")
    ):
        _id, actual, target, achievement, status = rows.get(node_id, empty)
        out.append(
            {
                "node": code,
                "actual": actual,
                "target": target,
                "achievement": None if achievement is None else round(achievement, 4),
                "status": status,
                "computed": rollup != RollupRule.INPUT,
            }
        )
    return out


def rollup_nodes_json(user, tree: Tree, grain: str, start: dt.date) -> str:
    """rollup_nodes as JSON text assembled by PostgreSQL: each rollup row carries its values
    already written as JSON (`Rollup.fragment`, kept by the recompute), so a 5,000-node read
    is one query that joins text, with no Python and no number formatting per node.

    The period's rollup rows are read by the (tree, grain, period) index into a materialised
    CTE and hash-joined to the visible nodes: a plan that does not depend on statistics. A row
    written before fragments existed is formatted by PostgreSQL instead.
    """
    from django.db import connection

    nodes = nodes_for(user).filter(tree=tree).values("id", "code", "rollup", "position")
    node_sql, node_params = nodes.query.sql_with_params()
    sql = f"""
        WITH r AS MATERIALIZED (
            SELECT node_id, fragment, actual, target, achievement, status
            FROM {RollupRow._meta.db_table}
            WHERE tree_id = %s AND grain = %s AND period = %s
        )
        SELECT '[' || coalesce(string_agg(
            '{{"node":' || to_json(n.code)::text || ',' || coalesce(
                nullif(r.fragment, ''),
                '"actual":' || coalesce(r.actual::text, 'null')
                || ',"target":' || coalesce(r.target::text, 'null')
                || ',"achievement":'
                || coalesce(round(r.achievement::numeric, 4)::float8::text, 'null')
                || ',"status":"' || coalesce(r.status, 'none') || '"'
            ) || ',"computed":' || CASE WHEN n.rollup = 'input' THEN 'false' ELSE 'true' END
            || '}}',
            ',' ORDER BY n.position, n.id
        ), '') || ']'
        FROM ({node_sql}) AS n LEFT JOIN r ON r.node_id = n.id
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, [tree.pk, grain, start, *node_params])
        return cursor.fetchone()[0]


# -- the design lint of a tree ---------------------------------------------------------------------


def _formula_names_or_empty(text: str) -> frozenset[str]:
    from kpitree.formula import FormulaError, referenced_names

    try:
        return referenced_names(text) if text.strip() else frozenset()
    except FormulaError:
        return frozenset()


def tree_findings(user: Any, tree: Tree, *, today: dt.date | None = None) -> list:
    """The design findings (kpitree.lint) of the nodes of `tree` the user sees, in the caller's
    language, each marked with its live acknowledgement (LintAcknowledgement), in a fixed number
    of queries."""
    from django.utils import timezone

    from kpitree import lint
    from kpitree.models import LintAcknowledgement

    nodes = nodes_for(user).filter(tree=tree)
    lint_nodes, code_of = [], {}
    for n in nodes.select_related("parent", "engagement").only(
        "id",
        "code",
        "name",
        "kind",
        "parent__code",
        "engagement__code",
        "engagement__review_cadence",
        "owner",
        "definition",
        "perspective",
        "result_type",
        "rollup",
        "formula",
        "benchmark",
        "review_cadence",
        "reviewed_on",
        "created_at",
        "template_code",
        "unit",
    ):
        code_of[n.pk] = n.code
        engagement = n.engagement
        lint_nodes.append(
            lint.LintNode(
                code=n.code,
                name=n.name,
                kind=n.kind,
                parent=n.parent.code if n.parent else None,
                engagement=engagement.code if engagement else None,
                owner=n.owner,
                definition=n.definition,
                perspective=n.perspective,
                result_type=n.result_type,
                rollup=n.rollup,
                unit=n.unit,
                formula_names=_formula_names_or_empty(n.formula),
                benchmark=n.benchmark,
                review_cadence=n.review_cadence
                or (engagement.review_cadence if engagement else "")
                or "quarterly",
                reviewed_at=n.reviewed_on or timezone.localdate(n.created_at),
                template_code=n.template_code,
            )
        )
    targets = [
        (code_of[n], p, v, r)
        for n, p, v, r in Target.objects.filter(node__in=nodes).values_list(
            "node_id", "period", "value", "rationale"
        )
    ]
    actuals = [
        (code_of[n], p, v)
        for n, p, v in Actual.objects.filter(node__in=nodes).values_list(
            "node_id", "period", "value"
        )
    ]
    findings = lint.lint_tree(lint_nodes, targets, actuals, today=today or timezone.localdate())
    acks = {
        (a.rule, a.node_code, a.subject): a
        for a in LintAcknowledgement.objects.filter(
            tree=tree, withdrawn_at__isnull=True
        ).select_related("by")
    }
    marked = []
    for f in findings:
        ack = acks.get((f.rule, f.node or "", f.subject))
        if ack is not None:
            f = replace(
                f,
                acknowledged={
                    "id": ack.pk,
                    "reason": ack.reason,
                    "by": ack.by.display_name if ack.by else "",
                    "at": timezone.localtime(ack.at).isoformat(),
                },
            )
        marked.append(f)
    return marked


def node_smart(node: Node) -> list:
    """The SMART check of a node (kpitree.smart), from its targets and actuals in the plan."""
    from kpitree.lint import LintSettings
    from kpitree.smart import smart_check

    tree = node.tree
    months = month_range(tree.start_month, tree.end_month)
    targets = list(
        Target.objects.filter(node=node, period__in=months).values_list("period", "value")
    )
    actuals = list(
        Actual.objects.filter(node=node).order_by("period").values_list("period", "value")
    )
    parent_of = dict(Node.objects.filter(tree=tree).values_list("id", "parent_id"))
    kind_of = dict(Node.objects.filter(tree=tree).values_list("id", "kind"))
    current, seen, reaches = node.parent_id, set(), False
    while current is not None and current not in seen:
        if kind_of.get(current) == "kgi":
            reaches = True
            break
        seen.add(current)
        current = parent_of.get(current)
    return smart_check(
        name=node.name,
        definition=node.definition,
        unit=node.unit,
        source=node.source,
        benchmark=node.benchmark,
        targets=targets,
        actuals=actuals,
        reaches_kgi=reaches or node.kind == "kgi",
        plan_months=len(months),
        entered_by=node.owner or (str(node.engagement_id) if node.engagement_id else ""),
        computed=node.rollup != "input",
        far=LintSettings().far,
    )
