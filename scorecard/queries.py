"""Reads of the scorecards, scoped through kpi_planner.access.

Dashboards read the materialised rollups (kpitree.models.Rollup), never recompute a tree. Each
function reads whole sets (all KPIs of all engagements, all their rollup rows of a period) with
one query each and joins them in pandas/Python, so a page makes the same number of queries for
20 engagements as for 200, and for 30 KPIs as for 300.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from django.db.models import Max, OuterRef, QuerySet, Subquery

from engagements.models import Engagement, Submission
from kpi_planner.access import engagements_for
from kpi_planner.months import current_month, month_add, month_range, period_start
from kpitree.models import Actual, Node, Rollup, Target, Tree, ValueAudit
from scorecard import commitment_services, scoring
from scorecard.models import KpiForecast, ScoreSnapshot
from scorecard.scoring import PERSPECTIVES, Scorecard, Thresholds

NODE_FIELDS = (
    "id",
    "code",
    "name",
    "kind",
    "tree_id",
    "tree__code",
    "tree__name",
    "tree__score_cap",
    "tree__green_threshold",
    "tree__amber_threshold",
    "tree__fiscal_year_start",
    "tree__start_month",
    "copied_from_id",
    "tree__end_month",
    "engagement_id",
    "parent_id",
    "perspective",
    "weight",
    "importance",
    "unit",
    "direction",
    "rollup",
    "formula",
    "time_aggregation",
    "template_code",
    "position",
)
GRAINS = ("month", "quarter", "year")


# -- periods ------------------------------------------------------------------------------------


def previous_periods(start: dt.date, grain: str) -> tuple[dt.date, dt.date]:
    """The period before and the same period a year earlier (前月/前年同月, 前期/前年同期)."""
    step = {"month": 1, "quarter": 3, "year": 12}[grain]
    return month_add(start, -step), month_add(start, -12)


def latest_month(nodes: QuerySet[Node]) -> dt.date:
    """The last month in which one of these nodes has an actual (this month when none has)."""
    latest = Actual.objects.filter(node__in=nodes).aggregate(latest=Max("period"))["latest"]
    return latest or current_month()


# -- KPI rows ------------------------------------------------------------------------------------


def kpi_nodes(engagements: QuerySet[Engagement] | Iterable[int]) -> list[dict]:
    """Every node owned by these engagements (one query), with its tree's scoring settings."""
    return list(
        Node.objects.filter(engagement__in=engagements)
        .order_by("engagement_id", "tree_id", "position", "id")
        .values(*NODE_FIELDS)
    )


def tree_nodes(tree: Tree) -> list[dict]:
    return list(Node.objects.filter(tree=tree).order_by("position", "id").values(*NODE_FIELDS))


def _starts(nodes: list[dict], month: dt.date, grain: str) -> dict[int, dt.date]:
    """Start of the period containing `month` for each fiscal-year setting among the nodes."""
    fys = {n["tree__fiscal_year_start"] for n in nodes}
    return {fy: period_start(month, grain, fy) for fy in fys}


def rollups_at(
    nodes: list[dict], node_filter, grain: str, months: Iterable[dt.date]
) -> dict[tuple[int, dt.date], dict]:
    """Rollup rows (node, period start) of the periods containing `months`, one query.

    Trees may start their fiscal year in different months, so quarters/years of one month can
    start on different dates: ask for every candidate start and keep each node's own.
    """
    months = list(months)
    if not nodes or not months:
        return {}
    fy_of = {n["id"]: n["tree__fiscal_year_start"] for n in nodes}
    wanted: dict[int, set[dt.date]] = {
        fy: {period_start(m, grain, fy) for m in months} for fy in set(fy_of.values())
    }
    candidates = set().union(*wanted.values())
    rows = Rollup.objects.filter(
        node__in=node_filter, grain=grain, period__in=candidates
    ).values_list("node_id", "period", "actual", "target", "achievement", "status")
    out = {}
    for node_id, period, actual, target, achievement, status in rows:
        fy = fy_of.get(node_id)
        if fy is not None and period in wanted[fy]:
            out[(node_id, period)] = {
                "actual": actual,
                "target": target,
                "achievement": achievement,
                "status": status,
            }
    return out


def previous_plan_rollups(nodes: list[dict], grain: str, month: dt.date) -> dict[int, dict]:
    """For the nodes copied from a previous plan whose own tree does not reach `month` (a year
    before the period shown), the rollup of the period of `month` in the node they were copied
    from, by the copy's id: 前年同月比 across the copy-to-next-year workflow. One query, none
    when no node needs it."""
    wanted = {
        n["copied_from_id"]: n["id"]
        for n in nodes
        if n.get("copied_from_id") and month < n["tree__start_month"]
    }
    if not wanted:
        return {}
    # A copy keeps its original's fiscal year (tree_copy copies the tree's settings).
    fy = {
        n["copied_from_id"]: n["tree__fiscal_year_start"]
        for n in nodes
        if n["id"] in wanted.values()
    }
    originals = [{"id": pk, "tree__fiscal_year_start": fy[pk]} for pk in wanted]
    rows = rollups_at(originals, Node.all_objects.filter(pk__in=wanted), grain, [month])
    return {wanted[node_id]: row for (node_id, _period), row in rows.items()}


def strictest_thresholds(nodes: list[dict]) -> Thresholds:
    """The thresholds of an engagement's scorecard: its trees' (the strictest when they differ)."""
    if not nodes:
        return Thresholds()
    return Thresholds(
        green=max(n["tree__green_threshold"] for n in nodes),
        amber=max(n["tree__amber_threshold"] for n in nodes),
    )


def kpi_rows(nodes: list[dict], rollups: dict, grain: str, month: dt.date) -> list[dict]:
    """Rows for scoring.build_scorecard: each KPI with its rollup of the period."""
    rows = []
    for n in nodes:
        start = period_start(month, grain, n["tree__fiscal_year_start"])
        r = rollups.get((n["id"], start), {})
        rows.append(
            {
                "node_id": n["id"],
                "code": n["code"],
                "name": n["name"],
                "perspective": n["perspective"],
                "weight": n["weight"],
                "achievement": r.get("achievement"),
                "status": r.get("status", "none"),
                "cap": n["tree__score_cap"],
                "actual": r.get("actual"),
                "target": r.get("target"),
                "tree_id": n["tree_id"],
                "tree_code": n["tree__code"],
                "tree_name": n["tree__name"],
                "unit": n["unit"],
                "direction": n["direction"],
                "importance": n["importance"],
                "position": n["position"],
                "template_code": n["template_code"],
                "period": start,
            }
        )
    return rows


def weights_of(engagement: Engagement) -> dict[str, float]:
    """Perspective weights (equal when the engagement has none); reads `engagement.scoring`,
    so select_related("scoring") keeps it to the engagement's own query."""
    try:
        return engagement.scoring.weights()
    except Engagement.scoring.RelatedObjectDoesNotExist:
        return dict.fromkeys(PERSPECTIVES, 1.0)


# -- one engagement ---------------------------------------------------------------------------------


def engagement_scorecard(engagement: Engagement, month: dt.date, grain: str = "month") -> Scorecard:
    """The engagement's scorecard for the month/quarter/year containing `month` (3 queries at most:
    the weights when not select_related, the KPIs, their rollup rows)."""
    nodes = kpi_nodes([engagement.pk])
    rollups = rollups_at(nodes, [n["id"] for n in nodes], grain, [month])
    commitments = commitment_services.commitment_kpi_rows(engagement, month, grain, _fy(nodes))
    return scoring.build_scorecard(
        [*kpi_rows(nodes, rollups, grain, month), *commitments],
        weights=weights_of(engagement),
        thresholds=strictest_thresholds(nodes),
    )


@dataclass
class KpiLine:
    """One KPI row of the engagement page."""

    kpi: scoring.KpiScore
    previous: float | None  # 前月比 / 前期比 (%)
    year_ago: float | None  # 前年同月比 / 前年同期比 (%)
    series: list[tuple[dt.date, float | None, float | None]]  # 12 months of (month, actual, target)
    comments: list[tuple[dt.date, str]]
    forecast: KpiForecast | None


@dataclass
class EngagementPage:
    engagement: Engagement
    grain: str
    month: dt.date
    period: dt.date
    scorecard: Scorecard
    lines: dict[int, KpiLine]
    trend: pd.DataFrame  # index month; columns overall + perspectives
    unscored: list[dict]  # owned nodes without a perspective
    funnels: list[dict]
    snapshots: list[ScoreSnapshot]
    submission: Submission | None
    nodes: list[dict] = field(default_factory=list)

    def perspective_lines(self) -> list[tuple[scoring.PerspectiveScore, list[KpiLine]]]:
        out = []
        for p in PERSPECTIVES:
            ps = self.scorecard.perspectives[p]
            kpis = [k for k in scoring.sort_attention_first(ps.kpis) if k.node_id in self.lines]
            out.append((ps, [self.lines[k.node_id] for k in kpis]))
        return out

    def attention(self) -> list[KpiLine]:
        """Off-track (red) and amber KPIs, and those a forecast says will miss their target."""
        lines = [
            line
            for line in self.lines.values()
            if line.kpi.status in ("red", "amber") or (line.forecast and line.forecast.at_risk)
        ]
        ordered = scoring.sort_attention_first([line.kpi for line in lines])
        return [self.lines[k.node_id] for k in ordered]

    @property
    def restated(self) -> list[ScoreSnapshot]:
        return [s for s in self.snapshots if s.is_restatement]


def engagement_page(engagement: Engagement, month: dt.date, grain: str) -> EngagementPage:
    """Everything the engagement scorecard shows, in a fixed number of queries (7–8)."""
    nodes = kpi_nodes([engagement.pk])
    scored = [n for n in nodes if n["perspective"] in PERSPECTIVES]
    node_filter = Node.objects.filter(engagement=engagement, perspective__in=PERSPECTIVES)
    start = period_start(month, grain, scored[0]["tree__fiscal_year_start"]) if scored else month
    window = month_range(month_add(month, -12), month)
    monthly = rollups_at(scored, node_filter, "month", window)  # 13 months: trend, 前月, 前年同月
    if grain == "month":
        current = monthly
    else:
        prev, year_ago = previous_periods(start, grain)
        current = rollups_at(scored, node_filter, grain, [month, prev, year_ago])
    thresholds = strictest_thresholds(scored)
    weights = weights_of(engagement)
    card = scoring.build_scorecard(
        [
            *kpi_rows(scored, current, grain, month),
            *commitment_services.commitment_kpi_rows(engagement, month, grain, _fy(scored)),
        ],
        weights=weights,
        thresholds=thresholds,
    )
    trend = score_trend(engagement.pk, scored, monthly, window[1:], weights)
    period_months = [m for m in window if period_start(m, grain, _fy(scored)) == start] or [month]
    comments = _comments(node_filter, period_months)
    forecasts = {f.node_id: f for f in KpiForecast.objects.filter(node__in=node_filter)}
    last_plan = previous_plan_rollups(scored, grain, month_add(start, -12))
    lines = {}
    for k in card.kpis():
        if "commitment_id" in k.extra:  # scored beside the KPIs, shown in its own section
            continue
        n_start = k.extra["period"]
        prev, year_ago = previous_periods(n_start, grain)
        table = monthly if grain == "month" else current
        lines[k.node_id] = KpiLine(
            kpi=k,
            previous=scoring.change_pct(
                k.extra["actual"], table.get((k.node_id, prev), {}).get("actual")
            ),
            year_ago=scoring.change_pct(
                k.extra["actual"],
                table.get((k.node_id, year_ago), last_plan.get(k.node_id, {})).get("actual"),
            ),
            series=[
                (
                    m,
                    monthly.get((k.node_id, m), {}).get("actual"),
                    monthly.get((k.node_id, m), {}).get("target"),
                )
                for m in window[1:]
            ],
            comments=comments.get(k.node_id, []),
            forecast=forecasts.get(k.node_id),
        )
    snapshots = list(
        ScoreSnapshot.objects.filter(engagement=engagement, grain="month", period=month).order_by(
            "taken_at", "id"
        )
    )
    for before, after in zip([None, *snapshots], snapshots, strict=False):
        after.previous = before  # what a restatement replaced
    submission = Submission.objects.filter(engagement=engagement, period=month).first()
    return EngagementPage(
        engagement=engagement,
        grain=grain,
        month=month,
        period=start,
        scorecard=card,
        lines=lines,
        trend=trend,
        unscored=[n for n in nodes if n["perspective"] not in PERSPECTIVES],
        funnels=[n for n in nodes if is_funnel(n)],
        snapshots=snapshots,
        submission=submission,
        nodes=nodes,
    )


def _fy(nodes: list[dict]) -> int:
    return nodes[0]["tree__fiscal_year_start"] if nodes else 4


def _comments(node_filter, months: list[dt.date]) -> dict[int, list[tuple[dt.date, str]]]:
    out: dict[int, list[tuple[dt.date, str]]] = defaultdict(list)
    rows = (
        Actual.objects.filter(node__in=node_filter, period__in=months)
        .exclude(comment="")
        .order_by("period")
        .values_list("node_id", "period", "comment")
    )
    for node_id, period, comment in rows:
        out[node_id].append((period, comment))
    return out


def score_trend(
    engagement_id: int,
    nodes: list[dict],
    monthly: dict[tuple[int, dt.date], dict],
    months: list[dt.date],
    weights: dict[str, float],
) -> pd.DataFrame:
    """Overall and perspective scores of each month (one groupby over KPIs × months)."""
    rows = [
        {
            "engagement_id": engagement_id,
            "period": m,
            "perspective": n["perspective"],
            "weight": n["weight"],
            "achievement": monthly.get((n["id"], m), {}).get("achievement"),
            "cap": n["tree__score_cap"],
        }
        for n in nodes
        for m in months
    ]
    columns = ["overall", *PERSPECTIVES]
    if not rows:
        return pd.DataFrame(index=pd.Index(months, name="period"), columns=columns, dtype=float)
    frame = pd.DataFrame(rows)
    frame["achievement"] = pd.to_numeric(frame["achievement"], errors="coerce")
    extra = commitment_services.commitment_scores([engagement_id], months)
    if not extra.empty:
        frame = pd.concat([frame, extra[frame.columns]], ignore_index=True)
    table = scoring.score_table(
        frame, ["engagement_id", "period"], pd.DataFrame([weights], index=[engagement_id])
    )
    table = table.droplevel("engagement_id")
    return table.reindex(months)[columns]


# -- the SV overview ---------------------------------------------------------------------------------


@dataclass
class OverviewRow:
    engagement: Engagement
    overall: float | None
    overall_status: str
    perspectives: dict[str, tuple[float | None, str, int]]  # score, status, number of KPIs
    n_kpis: int
    off_track: int
    at_risk: int
    last_period: dt.date | None
    last_status: str | None
    last_at: dt.datetime | None


def overview(user, month: dt.date, grain: str) -> list[OverviewRow]:
    """One row per engagement the user may see (6 queries whatever their number)."""
    last = Submission.objects.filter(
        engagement=OuterRef("pk"), submitted_at__isnull=False
    ).order_by("-period", "-submitted_at")
    engagements = list(
        engagements_for(user)
        .select_related("scoring")
        .annotate(
            last_period=Subquery(last.values("period")[:1]),
            last_status=Subquery(last.values("status")[:1]),
            last_at=Subquery(last.values("submitted_at")[:1]),
        )
        .order_by("vendor__name", "code")
    )
    visible = engagements_for(user)
    node_filter = Node.objects.filter(engagement__in=visible, perspective__in=PERSPECTIVES)
    fields = (
        "id",
        "engagement_id",
        "perspective",
        "weight",
        "tree__score_cap",
        "tree__fiscal_year_start",
        "tree__green_threshold",
        "tree__amber_threshold",
    )
    nodes = list(node_filter.values(*fields))
    rollups = rollups_at(nodes, node_filter.values("id"), grain, [month])
    at_risk_ids = set(
        KpiForecast.objects.filter(node__in=node_filter.values("id"), at_risk=True).values_list(
            "node_id", flat=True
        )
    )
    starts = {
        fy: period_start(month, grain, fy) for fy in {n["tree__fiscal_year_start"] for n in nodes}
    }
    by_engagement: dict[int, list[dict]] = defaultdict(list)
    achievement, status = [], []
    for n in nodes:
        by_engagement[n["engagement_id"]].append(n)
        r = rollups.get((n["id"], starts[n["tree__fiscal_year_start"]]), {})
        achievement.append(r.get("achievement"))
        status.append(r.get("status", "none"))
    frame = pd.DataFrame(
        {
            "engagement_id": [n["engagement_id"] for n in nodes],
            "perspective": [n["perspective"] for n in nodes],
            "weight": [n["weight"] for n in nodes],
            "achievement": pd.array(achievement, dtype="Float64").astype(float),
            "cap": [n["tree__score_cap"] for n in nodes],
            "status": status,
        }
    )
    weights = pd.DataFrame({e.pk: weights_of(e) for e in engagements}).T
    extra = commitment_services.commitment_period_scores([e.pk for e in engagements], month, grain)
    if not extra.empty:  # scored in their perspectives; counted off track like a red KPI
        frame = pd.concat([frame, extra[frame.columns]], ignore_index=True)
    table = scoring.score_table(frame, ["engagement_id"], weights if not weights.empty else None)
    scores = table.to_dict("index")  # plain dicts: reading a DataFrame cell by cell is slow
    off_track = frame.loc[frame["status"] == "red", "engagement_id"].value_counts().to_dict()
    rows = []
    for e in engagements:
        own = by_engagement.get(e.pk, [])
        thresholds = strictest_thresholds(own)
        sc = scores.get(e.pk)
        perspectives = {}
        for p in PERSPECTIVES:
            s = None if sc is None or pd.isna(sc[p]) else float(sc[p])
            perspectives[p] = (
                s,
                scoring.status_for(s, thresholds),
                0 if sc is None else int(sc[f"{p}_kpis"]),
            )
        overall = None if sc is None or pd.isna(sc["overall"]) else float(sc["overall"])
        rows.append(
            OverviewRow(
                engagement=e,
                overall=overall,
                overall_status=scoring.status_for(overall, thresholds),
                perspectives=perspectives,
                n_kpis=len(own),
                off_track=int(off_track.get(e.pk, 0)),
                at_risk=sum(1 for n in own if n["id"] in at_risk_ids),
                last_period=e.last_period,
                last_status=e.last_status,
                last_at=e.last_at,
            )
        )
    return rows


# -- KPI detail ---------------------------------------------------------------------------------------


@dataclass
class KpiHistory:
    node: Node
    monthly: pd.DataFrame  # index month; actual, target, achievement, status (rollup)
    actuals: list[Actual]
    targets: dict[dt.date, Target]
    audit: list[ValueAudit]
    year_rollups: dict[dt.date, Mapping[str, Any]]  # period → the year's rollup values


def kpi_history(node: Node) -> KpiHistory:
    """A KPI's whole plan: monthly rollups, every actual with its comment, targets, the audit."""
    tree = node.tree
    months = month_range(tree.start_month, tree.end_month)
    rows: dict[dt.date, Mapping[str, Any]] = {
        r["period"]: r
        for r in Rollup.objects.filter(node=node, grain__in=["month"]).values(
            "period", "actual", "target", "achievement", "status"
        )
    }
    monthly = pd.DataFrame(
        [
            {
                "period": m,
                "actual": rows.get(m, {}).get("actual"),
                "target": rows.get(m, {}).get("target"),
                "achievement": rows.get(m, {}).get("achievement"),
                "status": rows.get(m, {}).get("status", "none"),
            }
            for m in months
        ]
    ).set_index("period")
    for column in ("actual", "target", "achievement"):
        monthly[column] = pd.to_numeric(monthly[column], errors="coerce")
    years: dict[dt.date, Mapping[str, Any]] = {
        r["period"]: r
        for r in Rollup.objects.filter(node=node, grain="year").values(
            "period", "actual", "target", "achievement", "status"
        )
    }
    return KpiHistory(
        node=node,
        monthly=monthly,
        actuals=list(
            Actual.objects.filter(node=node)
            .with_status()
            .select_related("updated_by")
            .order_by("period")
        ),
        targets={
            t.period: t for t in Target.objects.filter(node=node).select_related("updated_by")
        },
        audit=list(
            ValueAudit.objects.filter(node=node).select_related("user").order_by("-at", "-id")[:500]
        ),
        year_rollups=years,
    )


# -- funnels ------------------------------------------------------------------------------------------


def is_funnel(node: dict) -> bool:
    from scorecard.funnel import funnel_factors

    return node["rollup"] == "formula" and funnel_factors(node["formula"]) is not None


# -- vendor comparison --------------------------------------------------------------------------------


def comparison_rows(user, month: dt.date, grain: str) -> list[dict]:
    """Every visible KPI that has a template code shared by at least two visible engagements,
    with its rollup of the period (3 queries)."""
    visible = engagements_for(user)
    node_filter = Node.objects.filter(engagement__in=visible).exclude(template_code="")
    nodes = list(
        node_filter.values(
            *NODE_FIELDS,
            "engagement__code",
            "engagement__name",
            "engagement__monthly_fee",
            "engagement__vendor__name",
        )
    )
    engagements_of: dict[str, set[int]] = defaultdict(set)
    for n in nodes:
        engagements_of[n["template_code"]].add(n["engagement_id"])
    shared = {code for code, ids in engagements_of.items() if len(ids) >= 2}
    nodes = [n for n in nodes if n["template_code"] in shared]
    rollups = rollups_at(nodes, [n["id"] for n in nodes], grain, [month])
    out = []
    for n in nodes:
        start = period_start(month, grain, n["tree__fiscal_year_start"])
        r = rollups.get((n["id"], start), {})
        out.append(
            {
                **n,
                "period": start,
                **{k: r.get(k) for k in ("actual", "target", "achievement")},
                "status": r.get("status", "none"),
            }
        )
    return out
