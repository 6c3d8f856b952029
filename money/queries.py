"""Reads of money for pages, the API and exports (scoped by kpi_planner.access in the callers)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import QuerySet

from engagements.models import Engagement
from kpi_planner.months import current_month, month_range, period_start
from kpitree.models import Grain, Node, Rollup
from money import engine
from money.models import Charge, MoneySettings, RuleSet, Statement
from money.services.costs import monthly_costs

GRAINS = ("month", "quarter", "year", "lifetime")


@dataclass(frozen=True)
class ReturnRow:
    grain: str
    period: dt.date | None  # first month of the month, quarter or fiscal year; None: lifetime
    months: list[dt.date]
    figures: engine.Return


def money_settings(engagement: Engagement) -> MoneySettings | None:
    return (
        MoneySettings.objects.filter(engagement=engagement)
        .select_related("gain_node__tree", "acquired_node__tree")
        .first()
    )


def _fiscal_start(settings: MoneySettings | None) -> int:
    node = (settings.gain_node or settings.acquired_node) if settings else None
    return node.tree.fiscal_year_start if node is not None else 4


def _monthly(node: Node | None, months: list[dt.date]) -> dict[dt.date, float | None]:
    if node is None:
        return {}
    return dict(
        Rollup.objects.filter(node=node, grain=Grain.MONTH, period__in=months).values_list(
            "period", "actual"
        )
    )


def returns(engagement: Engagement, upto: dt.date | None = None) -> list[ReturnRow]:
    """Cost, gain, acquired, ROI, CPA and the gain ratio per month, quarter, fiscal year and
    over the engagement's life so far (up to `upto`, the current month by default). A span's
    ratios are over its months that have the gain (or the acquired count): see engine.returns."""
    last = min(engagement.end_month, upto or current_month())
    months = month_range(engagement.start_month, last) if engagement.start_month <= last else []
    settings = money_settings(engagement)
    costs = monthly_costs(engagement, months)
    gain = _monthly(settings.gain_node if settings else None, months)
    acquired = _monthly(settings.acquired_node if settings else None, months)
    fy = _fiscal_start(settings)

    def figures(span: list[dt.date]) -> engine.Return:
        return engine.returns(
            [costs[m] for m in span], [gain.get(m) for m in span], [acquired.get(m) for m in span]
        )

    rows: list[ReturnRow] = []
    for grain in ("month", "quarter", "year"):
        spans: dict[dt.date, list[dt.date]] = {}
        for m in months:
            spans.setdefault(period_start(m, grain, fy), []).append(m)
        rows += [ReturnRow(grain, start, span, figures(span)) for start, span in spans.items()]
    if months:
        rows.append(ReturnRow("lifetime", None, months, figures(months)))
    return rows


def charges_of(engagement: Engagement) -> QuerySet[Charge]:
    return Charge.objects.filter(engagement=engagement).select_related("created_by", "voided_by")


def rule_sets_of(engagement: Engagement, visible: QuerySet[RuleSet]) -> QuerySet[RuleSet]:
    return (
        visible.filter(engagement=engagement)
        .prefetch_related("rules__bands", "rules__node", "rules__min_volume_node")
        .order_by("-effective_from", "-pk")
    )


def statements_of(engagement: Engagement, visible: QuerySet[Statement]) -> QuerySet[Statement]:
    return visible.filter(engagement=engagement).order_by("-period")
