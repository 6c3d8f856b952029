"""The SLA engine on plain values (money.engine): exact yen for each band, the cap, earn-back,
relief and the minimum volume; rule versions by month; ROI and CPA with a missing month."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import numpy as np
import pytest

from money import engine
from money.engine import BandSpec, MonthFacts, RuleSetSpec, RuleSpec

D = Decimal
FEE = 1_000_000
KPI, VOLUME = 1, 2
# The example: ≥ 110 %: +5% of the fee; 90–100 %: −3 %; < 90 %: −8 % (100–110: nothing).
BANDS = (
    BandSpec(lower=D(110), upper=None, pct=D(5)),
    BandSpec(lower=D(90), upper=D(100), pct=D(-3)),
    BandSpec(lower=None, upper=D(90), pct=D(-8)),
)
RULE = RuleSpec(node_id=KPI, name="アポ数", bands=BANDS, green=100.0)


def month(n: int) -> dt.date:
    return dt.date(2026, n, 1)


def facts(n: int, achievement: float | None, **kw) -> MonthFacts:
    return MonthFacts(
        period=month(n),
        fee=kw.pop("fee", FEE),
        approved=kw.pop("approved", True),
        achievement={KPI: achievement},
        **kw,
    )


def rules(**kw) -> RuleSetSpec:
    return RuleSetSpec(id=1, effective_from=month(1), rules=(kw.pop("rule", RULE),), **kw)


@pytest.mark.parametrize(
    ("achievement", "adjustment", "reason"),
    [
        (112.0, 50_000, "band"),
        (110.0, 50_000, "band"),  # a lower bound is inclusive
        (109.99, 0, "no_band"),  # the gap 100–110 adjusts nothing
        (100.0, 0, "no_band"),  # an upper bound is exclusive
        (95.0, -30_000, "band"),
        (90.0, -30_000, "band"),
        (89.9, -80_000, "band"),
        (0.0, -80_000, "band"),
        (None, 0, "no_achievement"),
    ],
)
def test_it_pays_each_band_in_exact_yen(achievement, adjustment, reason) -> None:
    result = engine.assess_month(rules(), facts(1, achievement))
    assert (result.adjustment, [ln.reason for ln in result.lines]) == (adjustment, [reason])


def test_it_rounds_the_total_once_half_away_from_zero() -> None:
    # 3 % of 333,350 = 10,000.5 → 10,001 (half away from zero), a credit → −10,001.
    result = engine.assess_month(rules(), facts(1, 95.0, fee=333_350))
    assert (result.lines[0].amount, result.exact, result.adjustment) == (
        D("-10000.50"),
        D("-10000.50"),
        -10_001,
    )


def test_it_holds_the_month_within_the_cap() -> None:
    two = RuleSetSpec(
        id=1,
        effective_from=month(1),
        cap_pct=D(10),
        rules=(RULE, RuleSpec(node_id=3, name="受注率", bands=BANDS)),
    )
    f = MonthFacts(period=month(1), fee=FEE, approved=True, achievement={KPI: 50.0, 3: 60.0})
    result = engine.assess_month(two, f)
    # −80,000 × 2 = −160,000, held at −10% of the fee.
    assert [(ln.kind, ln.amount) for ln in result.lines] == [
        ("band", D(-80000)),
        ("band", D(-80000)),
        ("cap", D(60000)),
    ]
    assert result.adjustment == -100_000


def test_a_zero_cap_pays_nothing() -> None:
    assert engine.assess_month(rules(cap_pct=D(0)), facts(1, 120.0)).adjustment == 0


def test_a_relieved_month_is_not_assessed() -> None:
    f = facts(1, 50.0, relieved=frozenset({None}), relief_reasons={None: "先方のシステム障害"})
    result = engine.assess_month(rules(), f)
    assert (result.adjustment, result.lines[0].reason, result.lines[0].params["relief"]) == (
        0,
        "relief",
        "先方のシステム障害",
    )


def test_a_month_below_the_minimum_volume_is_not_assessed() -> None:
    rule = RuleSpec(
        node_id=KPI, name="アポ数", bands=BANDS, min_volume_node_id=VOLUME, min_volume=500
    )
    low = engine.assess_month(rules(rule=rule), facts(1, 50.0, actual={VOLUME: 499.0}))
    enough = engine.assess_month(rules(rule=rule), facts(1, 50.0, actual={VOLUME: 500.0}))
    assert (low.adjustment, low.lines[0].reason, enough.adjustment) == (0, "low_volume", -80_000)


def test_a_credit_is_earned_back_after_n_green_months() -> None:
    rs = rules(earn_back_months=2)
    months = [facts(1, 95.0), facts(2, 100.0), facts(3, 105.0), facts(4, 95.0), facts(5, 120.0)]
    out = engine.statements(months, lambda p: rs)
    # January's −30,000 comes back in March (February and March green); April's does not
    # (May is green, June is not there yet).
    assert {p.month: r.adjustment for p, r in out.items()} == {
        1: -30_000,
        2: 0,
        3: 30_000,
        4: -30_000,
        5: 50_000,
    }
    assert out[month(3)].lines[-1].params == {"month": "2026-01", "months": 2}


def test_an_amber_month_breaks_the_earn_back() -> None:
    rs = rules(earn_back_months=2)
    months = [facts(1, 95.0), facts(2, 100.0), facts(3, 99.0)]
    out = engine.statements(months, lambda p: rs)
    assert [r.adjustment for r in out.values()] == [-30_000, 0, -30_000]


def test_a_month_not_approved_has_no_statement_and_breaks_no_window_yet() -> None:
    rs = rules(earn_back_months=1)
    out = engine.statements([facts(1, 95.0), facts(2, 120.0, approved=False)], lambda p: rs)
    assert list(out) == [month(1)]


def test_an_older_month_keeps_the_rules_in_force_then() -> None:
    old = rules()
    new = RuleSetSpec(
        id=2,
        effective_from=month(4),
        rules=(
            RuleSpec(
                node_id=KPI, name="アポ数", bands=(BandSpec(lower=None, upper=D(100), pct=D(-1)),)
            ),
        ),
    )
    sets = [old, new]
    out = engine.statements(
        [facts(3, 95.0), facts(4, 95.0)], lambda p: engine.rule_set_in_force(sets, p)
    )
    assert {p.month: (r.rule_set_id, r.adjustment) for p, r in out.items()} == {
        3: (1, -30_000),
        4: (2, -10_000),
    }


def test_it_finds_overlapping_and_empty_bands() -> None:
    bad = [
        BandSpec(lower=D(100), upper=None, pct=D(5)),
        BandSpec(lower=D(90), upper=D(105), pct=D(-3)),
        BandSpec(lower=D(80), upper=D(80), pct=D(-8)),
    ]
    from django.utils import translation

    with translation.override("en"):
        assert engine.band_problems(bad) == [
            "The band from 80% below 80% is empty.",
            "The bands 90% to below 105% and 100% or more overlap.",
        ]
    assert engine.band_problems(list(BANDS)) == []


def test_the_numpy_band_matrix_agrees_with_band_for() -> None:
    cases = np.array([0.0, 89.9, 90.0, 99.9, 100.0, 109.9, 110.0, 250.0])
    lower = np.array([110.0, 90.0, np.nan])
    upper = np.array([np.nan, 100.0, 90.0])
    pct = np.array([5.0, -3.0, -8.0])
    expected = [float(b.pct) if (b := engine.band_for(float(a), BANDS)) else 0.0 for a in cases]
    assert engine.band_matrix(cases, lower, upper, pct).tolist() == expected


def test_roi_of_the_worked_example_is_400_percent() -> None:
    r = engine.returns([1_000_000], [5_000_000.0], [50.0])
    assert (r.roi, r.gain_ratio, r.cpa) == (4.0, 5.0, 20_000.0)


def test_roi_and_cpa_over_a_quarter_with_a_missing_month_use_the_months_that_have_them() -> None:
    r = engine.returns(
        [1_000_000, 1_000_000, 1_200_000], [3_000_000.0, None, 2_400_000.0], [10.0, 20.0, None]
    )
    # ROI over January and March: (5,400,000 − 2,200,000) ÷ 2,200,000; CPA over January and
    # February: 2,000,000 ÷ 30.
    assert (r.cost, r.months, r.months_with_gain, r.months_with_acquired) == (3_200_000, 3, 2, 2)
    assert r.roi == pytest.approx(3_200_000 / 2_200_000)
    assert r.cpa == pytest.approx(2_000_000 / 30)


def test_no_gain_means_no_roi_not_minus_100_percent() -> None:
    r = engine.returns([1_000_000], [None], [None])
    assert (r.roi, r.cpa, r.gain) == (None, None, None)
