"""The rollup engine on small frames: exact values for the worked numbers of DOMAIN.md."""

import datetime as dt
import math

import numpy as np
import pytest

from kpitree import engine
from kpitree.engine import NodeSpec as S

APR, MAY, JUN, JUL = (dt.date(2026, m, 1) for m in (4, 5, 6, 7))
Q1 = [APR, MAY, JUN]


def value(df, node: str, grain: str, period: dt.date, column: str = "actual"):
    row = df[(df.node == node) & (df.grain == grain) & (df.period == period)]
    assert len(row) == 1
    v = row.iloc[0][column]
    return None if isinstance(v, float) and math.isnan(v) else v


REVENUE = [
    S("sales", None, "formula", "visits * cvr / 100 * avg_price"),
    S("visits", "sales"),
    S("cvr", "sales", time_aggregation="avg"),
    S("avg_price", "sales", time_aggregation="avg"),
]


def test_it_computes_the_revenue_tree() -> None:
    df = engine.rollup(
        REVENUE, Q1, {("visits", APR): 50_000, ("cvr", APR): 2, ("avg_price", APR): 10_000}, {}
    )
    assert value(df, "sales", "month", APR) == 10_000_000


def test_it_computes_the_call_funnel() -> None:
    specs = [
        S(
            "orders",
            None,
            "formula",
            "calls * connect / 100 * appt / 100 * meeting / 100 * win / 100",
        ),
        *[S(c, "orders", time_aggregation="avg") for c in ("connect", "appt", "meeting", "win")],
        S("calls", "orders"),
    ]
    inputs = {
        ("calls", APR): 3000,
        ("connect", APR): 60,
        ("appt", APR): 10,
        ("meeting", APR): 50,
        ("win", APR): 30,
    }
    df = engine.rollup(specs, Q1, inputs, {})
    assert value(df, "orders", "month", APR) == pytest.approx(27, abs=1e-9)


def test_it_computes_roi() -> None:
    specs = [
        S("roi", None, "formula", "(gain - cost) / cost * 100"),
        S("gain", "roi"),
        S("cost", "roi"),
    ]
    df = engine.rollup(specs, Q1, {("gain", APR): 5_000_000, ("cost", APR): 1_000_000}, {})
    assert value(df, "roi", "month", APR) == 400


def test_it_gives_missing_for_a_missing_month_and_a_division_by_zero() -> None:
    specs = [S("cpa", None, "formula", "cost / orders"), S("cost", "cpa"), S("orders", "cpa")]
    actuals = {
        ("cost", APR): 300_000,
        ("orders", APR): 0,
        ("cost", MAY): 300_000,
        ("orders", MAY): 30,
    }
    df = engine.rollup(specs, Q1, actuals, {})
    assert value(df, "cpa", "month", APR) is None  # division by zero
    assert value(df, "cpa", "month", MAY) == 10_000
    assert value(df, "cpa", "month", JUN) is None  # missing month
    assert value(df, "cpa", "month", JUN, "status") == "none"


def test_it_sums_across_vendors_and_skips_a_vendor_that_has_not_reported() -> None:
    specs = [S("leads", None, "sum"), S("leads_ads", "leads"), S("leads_call", "leads")]
    df = engine.rollup(
        specs, Q1, {("leads_ads", APR): 600, ("leads_call", APR): 400, ("leads_ads", MAY): 500}, {}
    )
    assert value(df, "leads", "month", APR) == 1000
    assert value(df, "leads", "month", MAY) == 500
    assert value(df, "leads", "month", JUN) is None
    assert value(df, "leads", "quarter", APR) == 1500


def test_it_takes_weighted_and_plain_averages() -> None:
    specs = [
        S("quality", None, "weighted_avg"),
        S("csat", "quality", weight=3),
        S("ontime", "quality", weight=1),
        S("plain", None, "avg"),
        S("p1", "plain"),
        S("p2", "plain"),
    ]
    actuals = {("csat", APR): 80, ("ontime", APR): 100, ("p1", APR): 80, ("p2", APR): 100}
    df = engine.rollup(specs, Q1, actuals, {})
    assert value(df, "quality", "month", APR) == 85  # (80×3 + 100×1) / 4
    assert value(df, "plain", "month", APR) == 90


def test_it_recomputes_a_ratio_over_the_quarter() -> None:
    # CVR = conversions / visits × 100; the quarter's CVR is 300 / 20,000, not the mean of months.
    specs = [
        S("cvr", None, "formula", "conversions / visits * 100", time_aggregation="recompute"),
        S("conversions", "cvr"),
        S("visits", "cvr"),
    ]
    actuals = {
        ("conversions", APR): 100,
        ("visits", APR): 10_000,  # 1 %
        ("conversions", MAY): 200,
        ("visits", MAY): 5_000,  # 4 %
        ("conversions", JUN): 0,
        ("visits", JUN): 5_000,  # 0 %
    }
    df = engine.rollup(specs, Q1, actuals, {})
    assert value(df, "cvr", "month", MAY) == 4
    assert value(df, "cvr", "quarter", APR) == pytest.approx(1.5)  # not (1 + 4 + 0) / 3


def test_it_aggregates_months_by_each_time_aggregation() -> None:
    specs = [S(k, time_aggregation=k) for k in ("sum", "avg", "last", "min", "max")]
    months = {APR: 10, MAY: 30, JUN: 20}
    actuals = {(k, m): v for k in ("sum", "avg", "last", "min", "max") for m, v in months.items()}
    actuals[("last", JUN)] = None  # removed below: last takes the last month that has a value
    del actuals[("last", JUN)]
    df = engine.rollup(specs, Q1, actuals, {})
    got = {k: value(df, k, "quarter", APR) for k in ("sum", "avg", "last", "min", "max")}
    assert got == {"sum": 60, "avg": 20, "last": 30, "min": 10, "max": 30}


def test_it_scores_a_lower_is_better_kpi() -> None:
    specs = [S("cpa", direction="down", time_aggregation="avg")]
    actuals = {("cpa", APR): 10_000, ("cpa", MAY): 5_000, ("cpa", JUN): 11_000}
    targets = {("cpa", m): 10_000 for m in Q1}
    df = engine.rollup(specs, Q1, actuals, targets)
    assert value(df, "cpa", "month", APR, "achievement") == 100
    assert value(df, "cpa", "month", MAY, "achievement") == 200  # half the target
    assert value(df, "cpa", "month", JUN, "achievement") == pytest.approx(90.909090909)
    assert [value(df, "cpa", "month", m, "status") for m in Q1] == ["green", "green", "amber"]


def test_it_uses_node_thresholds_before_the_trees() -> None:
    specs = [S("a"), S("b", green=80, amber=50)]
    actuals = {("a", APR): 85, ("b", APR): 85}
    targets = {("a", APR): 100, ("b", APR): 100}
    df = engine.rollup(specs, Q1, actuals, targets, green=100, amber=90)
    assert value(df, "a", "month", APR, "status") == "red"
    assert value(df, "b", "month", APR, "status") == "green"


def test_it_derives_a_computed_nodes_target_unless_it_has_its_own() -> None:
    targets = {
        ("visits", APR): 40_000,
        ("cvr", APR): 2.5,
        ("avg_price", APR): 10_000,
        ("visits", MAY): 40_000,
        ("cvr", MAY): 2.5,
        ("avg_price", MAY): 10_000,
        ("sales", MAY): 12_000_000,
    }
    df = engine.rollup(REVENUE, Q1, {}, targets)
    assert value(df, "sales", "month", APR, "target") == 10_000_000
    assert value(df, "sales", "month", MAY, "target") == 12_000_000


def test_it_follows_the_fiscal_year() -> None:
    months = engine.month_range(dt.date(2026, 1, 1), dt.date(2027, 3, 1))
    df = engine.rollup([S("k")], months, {("k", m): 1 for m in months}, {}, fiscal_year_start=4)
    assert value(df, "k", "year", dt.date(2025, 4, 1)) == 3  # Jan–Mar 2026 close FY2025
    assert value(df, "k", "year", dt.date(2026, 4, 1)) == 12
    assert value(df, "k", "quarter", dt.date(2026, 10, 1)) == 3
    assert engine.period_start(dt.date(2027, 2, 1), "quarter", 4) == dt.date(2027, 1, 1)
    assert engine.period_start(dt.date(2027, 2, 1), "year", 1) == dt.date(2027, 1, 1)


def test_it_leaves_a_formula_node_without_formula_missing() -> None:
    df = engine.rollup([S("p", None, "formula", ""), S("c", "p")], Q1, {("c", APR): 5}, {})
    assert value(df, "p", "month", APR) is None


def test_it_refuses_a_cycle() -> None:
    with pytest.raises(engine.TreeError, match="cycle"):
        engine.TreePlan.build([S("a", "b"), S("b", "a")])


def test_it_evaluates_deep_trees_level_by_level() -> None:
    # root = sum(mid1, mid2); mid1 = x*2; mid2 = avg(y, z)
    specs = [
        S("root", None, "sum"),
        S("mid1", "root", "formula", "x * 2"),
        S("x", "mid1"),
        S("mid2", "root", "avg"),
        S("y", "mid2"),
        S("z", "mid2"),
    ]
    plan = engine.TreePlan.build(specs)
    values = np.full((6, 1), np.nan)
    values[plan.index["x"]] = 5
    values[plan.index["y"]] = 1
    values[plan.index["z"]] = 3
    out = plan.evaluate(values)
    assert out[plan.index["root"], 0] == 12


def test_formulas_of_one_shape_share_one_batch_and_keep_their_own_children() -> None:
    # a and b: one shape (the text around the codes is the same), each over its own children
    # named in another order; c: another shape.
    specs = [
        S("root", None, "sum"),
        S("a", "root", "formula", "x1 * [y-1] / 100 - x1"),
        S("b", "root", "formula", "y2 * x2 / 100 - y2"),
        S("c", "root", "formula", "x3 / 4"),
        S("x1", "a"),
        S("y-1", "a"),
        S("x2", "b"),
        S("y2", "b"),
        S("x3", "c"),
    ]
    plan = engine.TreePlan.build(specs)
    _group, batches = plan.levels[-2]  # the level of a, b and c
    assert sorted(len(batch.nodes) for batch in batches) == [1, 2]
    values = np.full((len(specs), 1), np.nan)
    for code, v in {"x1": 200, "y-1": 50, "x2": 10, "y2": 300, "x3": 8}.items():
        values[plan.index[code]] = v
    out = plan.evaluate(values)
    assert [out[plan.index[c], 0] for c in ("a", "b", "c", "root")] == [-100, -270, 2, -368]
