"""`{% load segments %}{% segment_breakdown node %}`: on an entered KPI's page, its segments
(issue 15: talk-script variants, operators, lists, channels; see kpitree.models.SegmentActual).

Shows, for the latest month with segments: each segment's value and share (of the total for a
count; of the denominator, the weight its rate carries, for a rate), the last 6 months per
segment as a small table with bars (`<meter>`, no script), and which segment drives the change
from the month before: the one whose contribution to the KPI's change is largest in size.

The contributions add up exactly to the KPI's change. For a count (any unit but %), a segment's
contribution is its own change (a segment missing in a month counts 0). For a rate (unit %), the
KPI is Σ wᵢ·rᵢ, the segments' rates weighted by their share of the denominator (equal weights
when a month's denominators are not all given), as kpitree.services.values.segment_total
computes it; a segment's contribution is Δ(wᵢ·rᵢ), split exactly into a rate effect w̄ᵢ·Δrᵢ (its
rate moved) and a mix effect r̄ᵢ·Δwᵢ (its share of the volume moved), with w̄ᵢ, r̄ᵢ the means of
the two months. Renders nothing for a KPI without segments."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django import template
from django.utils.translation import gettext as _

from kpi_planner.months import month_add
from kpi_planner.numbers import Numbers
from kpitree.attribution import signed
from kpitree.models import Node, SegmentActual
from kpitree.services.values import RATE_UNIT, segment_total

register = template.Library()

TREND_MONTHS = 6


@dataclass
class Part:
    """One segment in one month: its value, its rate (for a rate KPI: numerator/denominator ×
    100 when both are given, else its value) and its weight in the KPI."""

    value: float
    rate: float
    weight: float


def month_parts(
    unit: str, rows: list[tuple[str, float, float | None, float | None]]
) -> dict[str, Part]:
    """The segments of one month, `rows` as (segment, value, numerator, denominator)."""
    if unit != RATE_UNIT:
        total = sum(v for _s, v, _n, _d in rows)
        return {s: Part(v, v, v / total if total else 0.0) for s, v, _n, _d in rows}
    dens = [d for _s, _v, _n, d in rows if d is not None]
    all_dens = len(dens) == len(rows) and sum(dens) > 0
    parts = {}
    for s, v, n, d in rows:
        rate = n / d * 100 if n is not None and d else v
        weight = d / sum(dens) if all_dens and d is not None else 1 / len(rows)
        parts[s] = Part(v, rate, weight)
    return parts


@dataclass
class Contribution:
    segment: str
    part: float  # of the KPI's change
    rate_effect: float | None = None  # rates only: w̄·Δr
    mix_effect: float | None = None  # rates only: r̄·Δw


def contributions(unit: str, before: dict[str, Part], after: dict[str, Part]) -> list[Contribution]:
    """Each segment's part of the KPI's change from `before` to `after`, largest first (see
    the module's docstring); the parts add up to the change."""
    out = []
    for segment in sorted(set(before) | set(after)):
        b, a = before.get(segment), after.get(segment)
        if unit != RATE_UNIT:
            out.append(Contribution(segment, (a.value if a else 0.0) - (b.value if b else 0.0)))
            continue
        w0, r0 = (b.weight, b.rate) if b else (0.0, 0.0)
        w1, r1 = (a.weight, a.rate) if a else (0.0, 0.0)
        rate_effect = (w0 + w1) / 2 * (r1 - r0)
        mix_effect = (r0 + r1) / 2 * (w1 - w0)
        out.append(Contribution(segment, rate_effect + mix_effect, rate_effect, mix_effect))
    return sorted(out, key=lambda c: (-abs(c.part), c.segment))


def segment_analysis(node: Node) -> dict[str, Any] | None:
    """The breakdown, the trend and the driver of `node`'s latest month with segments (None
    without segments), as numbers; `segment_breakdown` formats them."""
    latest = (
        SegmentActual.objects.filter(node=node).order_by("-period").values_list("period", flat=True)
    ).first()
    if latest is None:
        return None
    first = month_add(latest, -(TREND_MONTHS - 1))
    by_month: dict[dt.date, list[tuple[str, float, float | None, float | None]]] = {}
    for period, segment, value, num, den in SegmentActual.objects.filter(
        node=node, period__gte=first, period__lte=latest
    ).values_list("period", "segment", "value", "numerator", "denominator"):
        by_month.setdefault(period, []).append((segment, value, num, den))
    unit = node.unit
    # From the first of the 6 months that has segments (a plan's first months have no past).
    months = [m for m in (month_add(first, i) for i in range(TREND_MONTHS)) if m >= min(by_month)]
    parts = {m: month_parts(unit, rows) for m, rows in by_month.items()}
    totals = {
        m: segment_total(unit, [(v, n, d) for _s, v, n, d in rows]) for m, rows in by_month.items()
    }
    previous = month_add(latest, -1)
    found = None
    if previous in parts:
        found = contributions(unit, parts[previous], parts[latest])
    segments = sorted({s for rows in by_month.values() for s, *_rest in rows})
    return {
        "unit": unit,
        "latest": latest,
        "previous": previous if previous in parts else None,
        "months": months,
        "segments": segments,
        "parts": parts,
        "totals": totals,
        "contributions": found,
    }


def _sentence(unit: str, top: Contribution, change: float, numbers: Numbers) -> str:
    digits = 0 if unit != RATE_UNIT else 1
    values = {
        "segment": top.segment,
        "part": signed(top.part, digits, numbers),
        "change": signed(change, digits, numbers),
    }
    if top.rate_effect is None or top.mix_effect is None:
        return _("%(segment)s drives the change: %(part)s of %(change)s.") % values
    return _(
        "%(segment)s drives the change: %(part)s of %(change)s points "
        "(its rate %(rate)s, its share of the volume %(mix)s)."
    ) % {
        **values,
        "rate": signed(top.rate_effect, digits, numbers),
        "mix": signed(top.mix_effect, digits, numbers),
    }


@register.inclusion_tag("kpitree/_segments.html")
def segment_breakdown(node: Node) -> dict:
    found = segment_analysis(node)
    if found is None:
        return {"show": False}
    numbers = Numbers()
    unit, latest, parts = found["unit"], found["latest"], found["parts"]
    digits = 0 if unit != RATE_UNIT else 1
    part_of = {c.segment: c.part for c in found["contributions"] or []}
    rows = [
        {
            "segment": segment,
            "value": numbers.value(part.value, unit),
            "share": numbers.pct(part.weight * 100),
            "part": signed(part_of[segment], digits, numbers) if segment in part_of else "",
        }
        for segment, part in sorted(parts[latest].items(), key=lambda sp: -sp[1].value)
    ]
    if found["contributions"] is not None:
        for segment in sorted(set(part_of) - set(parts[latest])):  # gone this month
            rows.append(
                {
                    "segment": segment,
                    "value": numbers.value(None, unit),
                    "share": "",
                    "part": signed(part_of[segment], digits, numbers),
                }
            )
    top_value = (
        max((p.value for month in parts.values() for p in month.values()), default=0.0) or 1.0
    )
    trend = [
        {
            "segment": segment,
            "cells": [
                {
                    "value": numbers.value(parts[m][segment].value, unit)
                    if segment in parts.get(m, {})
                    else "",
                    "meter": max(parts[m][segment].value, 0.0)
                    if segment in parts.get(m, {})
                    else None,
                }
                for m in found["months"]
            ],
        }
        for segment in found["segments"]
    ]
    totals = found["totals"]
    sentence = ""
    if found["contributions"]:
        change = totals[latest] - totals[found["previous"]]
        sentence = _sentence(unit, found["contributions"][0], change, numbers)
    return {
        "show": True,
        "node": node,
        "latest": latest,
        "previous": found["previous"],
        "rate": unit == RATE_UNIT,
        "rows": rows,
        "total": numbers.value(totals[latest], unit),
        "months": found["months"],
        "month_totals": [
            numbers.value(totals[m], unit) if m in totals else "" for m in found["months"]
        ],
        "trend": trend,
        "top_value": top_value,
        "sentence": sentence,
    }
