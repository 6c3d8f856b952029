"""Funnel-shaped KPIs: a formula node that is a volume multiplied by a chain of conversion rates.

The outbound call funnel 受注数 = 架電数 × 接続率 × アポ取得率 × 商談化率 × 受注率 is written
`calls * connect_rate / 100 * appt_rate / 100 * meeting_rate / 100 * win_rate / 100`: one
factor without `/ 100` (the volume) and at least two factors divided by 100 (rates in %).
Such a node is detected from its formula; no marking is needed. No database here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from kpitree.formula import formula_factors


def funnel_factors(formula: str) -> tuple[str, list[str]] | None:
    """(volume code, [rate codes in order]) when the formula is a funnel, else None.

    The formula's factors (kpitree/formula.py reads them) must be the volume, multiplied, then
    at least two rates, each multiplied and directly divided by 100.
    """
    factors = formula_factors(formula)
    if factors is None:
        return None
    volume: str | None = None
    rates: list[str] = []
    k = 0
    while k < len(factors):
        factor = factors[k]
        if factor.code is None or factor.exponent != 1:
            return None  # a number, or a code that divides: not a funnel
        following = factors[k + 1] if k + 1 < len(factors) else None
        if following is not None and following.number == 100 and following.exponent == -1:
            if volume is None:
                return None  # the volume comes first: 架電数 × 接続率 × …
            rates.append(factor.code)
            k += 2
        elif volume is None:
            volume = factor.code
            k += 1
        else:
            return None  # two volumes (e.g. 訪問数 × CVR × 単価) is not a funnel
    if volume is None or len(rates) < 2:
        return None
    return volume, rates


def stage_name(rate_name: str) -> str:
    """接続率 → 接続, "Connect rate" → "Connect": the stage reached through a rate."""
    for suffix in ("率", " rate", " Rate", " RATE"):
        if rate_name.endswith(suffix) and len(rate_name) > len(suffix):
            return rate_name[: -len(suffix)]
    return rate_name


@dataclass
class Step:
    code: str
    name: str  # the stage (接続, アポ取得, …)
    rate_name: str | None  # the conversion rate that leads into it (None for the volume)
    count: float | None  # volume reaching this stage (actual)
    count_target: float | None
    rate: float | None  # conversion rate actual (%)
    rate_target: float | None
    achievement: float | None  # of the rate (from the rollup)
    status: str


def _num(x: float | None) -> float | None:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else float(x)


def funnel_steps(volume: dict, rates: list[dict], result: dict) -> list[Step]:
    """The stages of a funnel from its nodes' period values.

    Each argument is a dict with code, name, actual, target, achievement, status. The count at
    each stage is the volume times the rates so far (actual and target separately); the last
    stage is the result node itself.
    """
    count, count_target = _num(volume.get("actual")), _num(volume.get("target"))
    steps = [
        Step(
            volume["code"],
            volume["name"],
            None,
            count,
            count_target,
            None,
            None,
            _num(volume.get("achievement")),
            volume.get("status") or "none",
        )
    ]
    for i, rate in enumerate(rates):
        r, rt = _num(rate.get("actual")), _num(rate.get("target"))
        count = None if count is None or r is None else count * r / 100
        count_target = None if count_target is None or rt is None else count_target * rt / 100
        last = i == len(rates) - 1
        steps.append(
            Step(
                code=rate["code"],
                name=result["name"] if last else stage_name(rate["name"]),
                rate_name=rate["name"],
                count=count,
                count_target=count_target,
                rate=r,
                rate_target=rt,
                achievement=_num(rate.get("achievement")),
                status=rate.get("status") or "none",
            )
        )
    return steps
