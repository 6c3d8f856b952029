"""Money computed from plain values: no database. Used by the statements, the back-test, the
exposure forecast and the ROI table (money.services / money.queries feed it).

Rules of the SLA/incentive engine (README "Money"):
- A rule line is assessed on its KPI's monthly achievement (direction-aware %, the rollup's).
  The band holding the achievement (`lower` ≤ a < `upper`, an open end is unbounded) gives a
  percentage of the monthly fee: + is a bonus, − a credit. No band, no achievement, a volume
  below the rule's minimum, or a relief for the month: the line is 0, and says why.
- The month's lines are summed exactly (Decimal); a cap holds the sum within ± cap % of the fee
  (a "cap" line shows the difference).
- Earn-back: when a month ends with a net credit (after the cap) and the rule set in force then
  has an earn-back of N months, the credit is returned in month m+N if each of months m+1…m+N is
  approved and each of its rules is green (achievement ≥ the KPI's green threshold) or relieved.
  The return is a line of month m+N, outside its cap.
- The month's total is rounded once, to whole yen, half away from zero (numbers.round_yen).
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import numpy as np

from kpi_planner import numbers
from kpi_planner.months import month_add, month_text

HUNDRED = Decimal(100)


@dataclass(frozen=True)
class BandSpec:
    lower: Decimal | None
    upper: Decimal | None
    pct: Decimal

    def holds(self, achievement: float) -> bool:
        a = Decimal(repr(achievement))
        return (self.lower is None or a >= self.lower) and (self.upper is None or a < self.upper)


@dataclass(frozen=True)
class RuleSpec:
    node_id: int
    name: str
    bands: tuple[BandSpec, ...]
    green: float = 100.0
    min_volume_node_id: int | None = None
    min_volume: float | None = None


@dataclass(frozen=True)
class RuleSetSpec:
    id: int | None
    effective_from: dt.date
    rules: tuple[RuleSpec, ...]
    cap_pct: Decimal | None = None
    earn_back_months: int = 0


@dataclass
class MonthFacts:
    """What a month's statement is computed from."""

    period: dt.date
    fee: int
    approved: bool
    achievement: Mapping[int, float | None] = field(default_factory=dict)  # node id → %
    actual: Mapping[int, float | None] = field(default_factory=dict)  # node id → value
    # Relieved node ids; None in the set relieves every rule of the month.
    relieved: frozenset[int | None] = frozenset()
    relief_reasons: Mapping[Any, str] = field(default_factory=dict)  # node id (None: all) → why


@dataclass
class Line:
    kind: str  # band, cap, earn_back
    amount: Decimal
    reason: str
    params: dict
    node_id: int | None = None
    achievement: float | None = None
    volume: float | None = None
    pct: Decimal | None = None
    green: bool = False  # assessed and green, or relieved: what an earn-back window asks


@dataclass
class MonthResult:
    period: dt.date
    rule_set_id: int | None
    fee: int
    lines: list[Line]
    exact: Decimal  # the exact total, cap and earn-back included
    adjustment: int  # the rounded total
    net_after_cap: Decimal  # before any earn-back returned in this month
    all_green: bool


class BandError(ValueError):
    pass


def _text(x: Decimal | None) -> str:
    return "" if x is None else f"{x.normalize():f}"


def band_problems(bands: Sequence[BandSpec]) -> list[str]:
    """What is wrong with a rule's bands, in plain words (empty: nothing). Gaps are allowed
    (an achievement in no band adjusts nothing); an empty or overlapping band is not."""
    from django.utils.translation import gettext as _

    problems: list[str] = []
    for b in bands:
        if b.lower is not None and b.upper is not None and b.lower >= b.upper:
            problems.append(
                _("The band from %(lower)s%% below %(upper)s%% is empty.")
                % {"lower": _text(b.lower), "upper": _text(b.upper)}
            )
    ordered = sorted(
        (b for b in bands if b.lower is None or b.upper is None or b.lower < b.upper),
        key=lambda b: -np.inf if b.lower is None else float(b.lower),
    )
    for a, b in itertools.pairwise(ordered):
        if a.upper is None or (b.lower is None) or b.lower < a.upper:
            problems.append(
                _("The bands %(a)s and %(b)s overlap.") % {"a": band_label(a), "b": band_label(b)}
            )
    return problems


def band_label(b: BandSpec) -> str:
    from django.utils.translation import gettext as _

    if b.lower is None and b.upper is None:
        return _("any achievement")
    if b.lower is None:
        return _("below %(upper)s%%") % {"upper": _text(b.upper)}
    if b.upper is None:
        return _("%(lower)s%% or more") % {"lower": _text(b.lower)}
    return _("%(lower)s%% to below %(upper)s%%") % {
        "lower": _text(b.lower),
        "upper": _text(b.upper),
    }


def band_for(achievement: float, bands: Iterable[BandSpec]) -> BandSpec | None:
    for b in bands:
        if b.holds(achievement):
            return b
    return None


def _missing(x: float | None) -> bool:
    return x is None or (isinstance(x, float) and np.isnan(x))


def assess_rule(rule: RuleSpec, facts: MonthFacts) -> Line:
    """One rule line of one month (see the module's rules)."""
    params: dict = {"kpi": rule.name}

    def line(reason: str, amount: Decimal = Decimal(0), **kw: Any) -> Line:
        return Line(
            kind="band", node_id=rule.node_id, amount=amount, reason=reason, params=params, **kw
        )

    if None in facts.relieved or rule.node_id in facts.relieved:
        key = rule.node_id if rule.node_id in facts.relieved else None
        params["relief"] = facts.relief_reasons.get(key, "")
        return line("relief", green=True)
    volume = None
    if rule.min_volume_node_id is not None and rule.min_volume is not None:
        volume = facts.actual.get(rule.min_volume_node_id)
        if _missing(volume) or float(volume) < rule.min_volume:  # type: ignore[arg-type]
            params.update(volume=None if _missing(volume) else volume, minimum=rule.min_volume)
            return line("low_volume", volume=volume)
    achievement = facts.achievement.get(rule.node_id)
    if _missing(achievement):
        return line("no_achievement")
    a = float(achievement)  # type: ignore[arg-type]
    green = a >= rule.green
    params["achievement"] = a
    band = band_for(a, rule.bands)
    if band is None:
        return line("no_band", achievement=a, volume=volume, green=green)
    params.update(band=band_label_params(band), pct=_text(band.pct), fee=facts.fee)
    amount = Decimal(facts.fee) * band.pct / HUNDRED
    return line("band", amount, achievement=a, volume=volume, pct=band.pct, green=green)


def band_label_params(b: BandSpec) -> dict:
    return {"lower": _text(b.lower) or None, "upper": _text(b.upper) or None}


def assess_month(rule_set: RuleSetSpec, facts: MonthFacts) -> MonthResult:
    """The month's rule lines and the cap (no earn-back: see `statements`)."""
    lines = [assess_rule(rule, facts) for rule in rule_set.rules]
    total = sum((line.amount for line in lines), Decimal(0))
    if rule_set.cap_pct is not None:
        limit = Decimal(facts.fee) * rule_set.cap_pct / HUNDRED
        capped = max(-limit, min(limit, total))
        if capped != total:
            lines.append(
                Line(
                    kind="cap",
                    amount=capped - total,
                    reason="cap",
                    params={
                        "cap": _text(rule_set.cap_pct),
                        "limit": str(limit),
                        "before": str(total),
                    },
                )
            )
            total = capped
    return MonthResult(
        period=facts.period,
        rule_set_id=rule_set.id,
        fee=facts.fee,
        lines=lines,
        exact=total,
        adjustment=numbers.round_yen(total),
        net_after_cap=total,
        all_green=bool(lines) and all(line.green for line in lines if line.kind == "band"),
    )


def rule_set_in_force(rule_sets: Sequence[RuleSetSpec], period: dt.date) -> RuleSetSpec | None:
    """The set with the latest `effective_from` not after the month."""
    best = None
    for rs in rule_sets:
        if rs.effective_from <= period and (
            best is None or rs.effective_from > best.effective_from
        ):
            best = rs
    return best


def statements(
    months: Sequence[MonthFacts],
    in_force: Callable[[dt.date], RuleSetSpec | None],
) -> dict[dt.date, MonthResult]:
    """The statements of the approved months (in any order; the earn-back looks across them).

    `months` should hold every month from the first one with rules up to the last one asked
    for: an earn-back window is read from it, and a month missing from it is not green.
    """
    by_month = {m.period: m for m in months}
    results: dict[dt.date, MonthResult] = {}
    for period in sorted(by_month):
        facts = by_month[period]
        rs = in_force(period)
        if rs is None or not facts.approved:
            continue
        results[period] = assess_month(rs, facts)
    for period in sorted(results):
        credit = results[period].net_after_cap
        rs = in_force(period)
        if credit >= 0 or rs is None or rs.earn_back_months <= 0:
            continue
        window = [month_add(period, k) for k in range(1, rs.earn_back_months + 1)]
        if all(m in results and results[m].all_green for m in window):
            returned = results[window[-1]]
            returned.lines.append(
                Line(
                    kind="earn_back",
                    amount=-credit,
                    reason="earn_back",
                    params={"month": month_text(period), "months": rs.earn_back_months},
                )
            )
            returned.exact += -credit
            returned.adjustment = numbers.round_yen(returned.exact)
    return results


# -- return on the cost ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Return:
    """Cost and return of a span of months. Ratios are over the months that have the gain (or
    the acquired count); `months` / `months_with_gain` say how many that was."""

    cost: int
    cost_with_gain: int  # the cost of the months that have the gain: what ROI is computed on
    gain: float | None
    acquired: float | None
    roi: float | None  # (gain − cost) ÷ cost, as a fraction (4.0 = 400 %)
    cpa: float | None  # cost ÷ acquired, yen
    gain_ratio: float | None  # gain ÷ cost (外注費用に対する売上増加率), a fraction
    months: int
    months_with_gain: int
    months_with_acquired: int


def returns(
    cost: Sequence[int], gain: Sequence[float | None], acquired: Sequence[float | None]
) -> Return:
    """ROI, CPA and the gain ratio of a span of months (cost, gain and acquired per month)."""
    c = np.asarray(cost, dtype=float)
    g = np.asarray([np.nan if _missing(x) else x for x in gain], dtype=float)
    a = np.asarray([np.nan if _missing(x) else x for x in acquired], dtype=float)
    has_g, has_a = ~np.isnan(g), ~np.isnan(a)
    cost_g, cost_a = float(c[has_g].sum()), float(c[has_a].sum())
    total_g = float(g[has_g].sum()) if has_g.any() else None
    total_a = float(a[has_a].sum()) if has_a.any() else None
    roi = (total_g - cost_g) / cost_g if total_g is not None and cost_g > 0 else None
    ratio = total_g / cost_g if total_g is not None and cost_g > 0 else None
    cpa = cost_a / total_a if total_a else None
    return Return(
        cost=int(c.sum()),
        cost_with_gain=int(cost_g),
        gain=total_g,
        acquired=total_a,
        roi=roi,
        cpa=cpa,
        gain_ratio=ratio,
        months=len(c),
        months_with_gain=int(has_g.sum()),
        months_with_acquired=int(has_a.sum()),
    )


# -- explanations, in the reader's language -------------------------------------------------------


def explain(reason: str, params: Mapping, *, kpi: str | None = None) -> str:
    """How a line was reached, in the current language, from what the line stored."""
    from django.utils.translation import gettext as _

    n = numbers.Numbers()
    name = kpi or params.get("kpi", "")
    if reason == "band":
        band = BandSpec(
            lower=None if params["band"]["lower"] is None else Decimal(params["band"]["lower"]),
            upper=None if params["band"]["upper"] is None else Decimal(params["band"]["upper"]),
            pct=Decimal(params["pct"]),
        )
        amount = Decimal(params["fee"]) * band.pct / HUNDRED
        return _(
            "%(kpi)s achieved %(achievement)s, in the band %(band)s: %(pct)s%% of the fee "
            "%(fee)s = %(amount)s."
        ) % {
            "kpi": name,
            "achievement": n.pct(params["achievement"], 1),
            "band": band_label(band),
            "pct": ("+" if band.pct > 0 else "") + _text(band.pct),
            "fee": n.yen(params["fee"]),
            "amount": n.signed_yen(amount),
        }
    if reason == "no_band":
        return _("%(kpi)s achieved %(achievement)s, in no band: no adjustment.") % {
            "kpi": name,
            "achievement": n.pct(params["achievement"], 1),
        }
    if reason == "no_achievement":
        return _(
            "%(kpi)s has no achievement in this month (no target or no actual): not assessed."
        ) % {"kpi": name}
    if reason == "low_volume":
        return _("Volume %(volume)s is below the minimum %(minimum)s: %(kpi)s is not assessed.") % {
            "kpi": name,
            "volume": n.value(params.get("volume")),
            "minimum": n.value(params.get("minimum")),
        }
    if reason == "relief":
        return _("Relief (caused by the client): %(kpi)s is not assessed. %(reason)s") % {
            "kpi": name,
            "reason": params.get("relief", ""),
        }
    if reason == "cap":
        return _(
            "The month's total %(before)s is held within ±%(cap)s%% of the fee (%(limit)s)."
        ) % {
            "before": n.signed_yen(Decimal(params["before"])),
            "cap": params["cap"],
            "limit": n.yen(float(params["limit"])),
        }
    if reason == "earn_back":
        return _(
            "The credit of %(month)s is returned: the %(months)s months after it were green."
        ) % {
            "month": params["month"],
            "months": params["months"],
        }
    return reason


def band_matrix(
    achievement: np.ndarray, lower: np.ndarray, upper: np.ndarray, pct: np.ndarray
) -> np.ndarray:
    """The band percentage of each achievement (one row per case, one column per band), as the
    bench's floor and the vectorised check of `band_for`: 0 where no band holds, NaN stays 0."""
    a = achievement[:, None]
    hit = (a >= np.nan_to_num(lower, nan=-np.inf)) & (a < np.nan_to_num(upper, nan=np.inf))
    return np.where(hit, pct, 0.0).sum(axis=1)
