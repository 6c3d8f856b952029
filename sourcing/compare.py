"""The side-by-side comparison of a round's proposals, and their ranking. Pure: no database.

For each active proposal:

- **cost per unit of outcome** = monthly price ÷ the promised monthly outcome (the round's
  outcome KPI), in yen rounded half away from zero to a whole yen (四捨五入, as money rounds);
  none when the outcome promised is zero or less;
- each **promise against the benchmark** (the catalogue's) and **against past actuals** (the
  median of the monthly actuals of the same catalogue KPI in engagements of the same outsourcing
  type, sourcing.queries.past_medians): the ratio promise ÷ reference, shown as a percentage;
- a promise is **unrealistic** when it is more ambitious than 150 % of its benchmark or of the
  past median (`UNREALISTIC_RATIO`): above 1.5 × the reference for a KPI where higher is better,
  below the reference ÷ 1.5 where lower is better. A reference of zero or less is no yardstick.

The ranking rule: realistic proposals first, then those with an unrealistic promise; within each
group the lowest cost per unit of outcome first (a proposal without one after those with one),
then the lower price, then the vendor's name. Each proposal gets a one-line reasoning in the
reader's language (gettext at call time: call it with the reader's language active).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from django.utils.translation import get_language
from django.utils.translation import gettext as _

from kpi_planner import numbers

UNREALISTIC_RATIO = 1.5


@dataclass(frozen=True)
class KpiSpec:
    """A KPI of the round, with its yardsticks (None: none known)."""

    code: str
    name: str
    unit: str = ""
    direction: str = "up"
    benchmark: float | None = None
    past_median: float | None = None
    past_months: int = 0  # how many monthly actuals the median is of


@dataclass(frozen=True)
class ProposalInput:
    id: int
    vendor: str
    price: int  # monthly, whole yen
    promises: Mapping[str, float]  # template code → promised monthly value


@dataclass(frozen=True)
class PromiseCheck:
    code: str
    name: str
    unit: str
    value: float | None
    vs_benchmark: float | None  # promise ÷ benchmark
    vs_past: float | None  # promise ÷ past median
    unrealistic: bool


@dataclass
class Ranked:
    id: int
    vendor: str
    price: int
    cost_per_outcome: int | None
    checks: list[PromiseCheck]
    unrealistic: bool
    rank: int = 0
    reasoning: str = ""
    unrealistic_kpis: list[str] = field(default_factory=list)


def cost_per_outcome(price: int, outcome: float | None) -> int | None:
    """Monthly price ÷ promised monthly outcome, in whole yen (half away from zero); None when
    the outcome is missing, zero or negative."""
    if outcome is None or outcome <= 0:
        return None
    return numbers.round_yen(Decimal(int(price)) / Decimal(repr(float(outcome))))


def ratio(value: float | None, reference: float | None) -> float | None:
    """value ÷ reference; None when either is missing or the reference is zero or less."""
    if value is None or reference is None or reference <= 0:
        return None
    return value / reference


def too_ambitious(value: float | None, reference: float | None, direction: str) -> bool:
    """Whether a promise goes beyond 150 % of the reference, in the KPI's good direction."""
    if value is None or reference is None or reference <= 0:
        return False
    if direction == "down":
        return value * UNREALISTIC_RATIO < reference
    return value > reference * UNREALISTIC_RATIO


def check(kpi: KpiSpec, value: float | None) -> PromiseCheck:
    return PromiseCheck(
        code=kpi.code,
        name=kpi.name,
        unit=kpi.unit,
        value=value,
        vs_benchmark=ratio(value, kpi.benchmark),
        vs_past=ratio(value, kpi.past_median),
        unrealistic=too_ambitious(value, kpi.benchmark, kpi.direction)
        or too_ambitious(value, kpi.past_median, kpi.direction),
    )


def _sort_key(r: Ranked) -> tuple:
    return (
        r.unrealistic,
        r.cost_per_outcome is None,
        r.cost_per_outcome or 0,
        r.price,
        r.vendor,
        r.id,
    )


def rank(
    kpis: Sequence[KpiSpec], outcome_code: str, proposals: Sequence[ProposalInput]
) -> list[Ranked]:
    """The proposals compared and ranked, best first (see the module's rule)."""
    outcome = next((k for k in kpis if k.code == outcome_code), None)
    rows = []
    for p in proposals:
        checks = [check(k, p.promises.get(k.code)) for k in kpis]
        unrealistic = [c.name for c in checks if c.unrealistic]
        rows.append(
            Ranked(
                id=p.id,
                vendor=p.vendor,
                price=int(p.price),
                cost_per_outcome=cost_per_outcome(
                    p.price, p.promises.get(outcome_code) if outcome else None
                ),
                checks=checks,
                unrealistic=bool(unrealistic),
                unrealistic_kpis=unrealistic,
            )
        )
    rows.sort(key=_sort_key)
    unit = outcome.unit if outcome else ""
    for i, row in enumerate(rows, start=1):
        row.rank = i
        row.reasoning = _reasoning(row, rows, unit)
    return rows


def _per_unit(amount: int, unit: str) -> str:
    if unit:
        return _("%(amount)s per %(unit)s") % {"amount": numbers.yen(amount), "unit": unit}
    return _("%(amount)s per unit of outcome") % {"amount": numbers.yen(amount)}


def _reasoning(row: Ranked, rows: list[Ranked], unit: str) -> str:
    if row.cost_per_outcome is None:
        text = _("No cost per unit of outcome: the proposal promises no outcome above zero.")
    else:
        best = next(
            (
                r
                for r in rows
                if r.unrealistic == row.unrealistic and r.cost_per_outcome is not None
            ),
            row,
        )
        per_unit = _per_unit(row.cost_per_outcome, unit)
        if best is row:
            text = (
                _("Lowest cost per unit of outcome among the realistic proposals: %(cost)s.")
                if not row.unrealistic
                else _("Lowest cost per unit of outcome among the unrealistic proposals: %(cost)s.")
            ) % {"cost": per_unit}
        else:
            assert best.cost_per_outcome is not None
            more = row.cost_per_outcome - best.cost_per_outcome
            text = _("%(cost)s: %(more)s (%(pct)s) more than %(vendor)s.") % {
                "cost": per_unit,
                "more": numbers.yen(more),
                "pct": numbers.pct(more / best.cost_per_outcome * 100),
                "vendor": best.vendor,
            }
    if row.unrealistic:
        text += " " + _(
            "Ranked after the realistic proposals: %(kpis)s promised beyond 150 %% of the "
            "benchmark or of past results."
        ) % {"kpis": join_names(row.unrealistic_kpis)}
    return text


def join_names(names: Sequence[str]) -> str:
    """「受注数」、「接続率」 in Japanese; “Orders won”, “Connection rate” in English."""
    if (get_language() or "ja").startswith("ja"):
        return "、".join(f"「{n}」" for n in names)
    return ", ".join(f"“{n}”" for n in names)
