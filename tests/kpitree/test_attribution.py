"""Driver attribution (kpitree/attribution.py): the parts add up exactly to the change.

The worked funnel of DOMAIN.md: 3,000 calls × 60 % × 10 % × 50 % × 30 % = 27 orders; the month
after, 2,875 × 64 % × 10 % × 50 % × 25 % = 23.
"""

from __future__ import annotations

import math

import pytest
from django.utils import translation
from hypothesis import given, settings
from hypothesis import strategies as st

from kpitree.attribution import (
    attribute,
    attribute_average,
    attribute_formula,
    attribute_sum,
    displayed,
    log_mean,
    sentence,
)

FUNNEL = "calls * connect_rate / 100 * appt_rate / 100 * meeting_rate / 100 * win_rate / 100"
CODES = ("calls", "connect_rate", "appt_rate", "meeting_rate", "win_rate")
NAMES = {
    "calls": "架電数",
    "connect_rate": "接続率",
    "appt_rate": "アポ取得率",
    "meeting_rate": "商談化率",
    "win_rate": "受注率",
}
SEPTEMBER = {"calls": 3000, "connect_rate": 60, "appt_rate": 10, "meeting_rate": 50, "win_rate": 30}
OCTOBER = {"calls": 2875, "connect_rate": 64, "appt_rate": 10, "meeting_rate": 50, "win_rate": 25}


def parts_of(result) -> list[float]:
    return [p.part for p in result.parts]


def test_it_splits_the_worked_funnel_27_to_23_by_lmdi() -> None:
    result = attribute_formula(FUNNEL, SEPTEMBER, OCTOBER)
    assert (result.before, result.after, result.change, result.method) == (27, 23, -4, "lmdi")
    weight = 4 / math.log(27 / 23)  # L(23, 27)
    assert weight == pytest.approx(24.946575, abs=1e-6)
    expected = [weight * math.log(2875 / 3000), weight * math.log(64 / 60), 0, 0]
    expected.append(-4 - sum(expected))
    assert parts_of(result) == pytest.approx(expected, abs=1e-12)
    assert parts_of(result)[-1] == pytest.approx(weight * math.log(25 / 30), abs=1e-12)
    assert [round(p, 6) for p in parts_of(result)] == [-1.061717, 1.610015, 0, 0, -4.548298]
    assert sum(parts_of(result)) == -4.0
    assert [p.code for p in result.parts] == list(CODES)
    assert (result.parts[0].before, result.parts[0].after) == (3000, 2875)


def test_it_writes_the_funnel_as_one_sentence_in_japanese() -> None:
    result = attribute_formula(FUNNEL, SEPTEMBER, OCTOBER)
    assert sentence("受注数", result, NAMES) == (
        "受注数 −4: 架電数 −1.1, 接続率 +1.6, アポ取得率 0, 商談化率 0, 受注率 −4.5"
    )


def test_it_writes_the_sentence_with_the_readers_separators() -> None:
    result = attribute_sum(["a", "b"], {"a": 10_000, "b": 500}, {"a": 12_345, "b": 400})
    with translation.override("en"):
        assert sentence("Leads", result, {"a": "Web", "b": "Events"}) == (
            "Leads +2,245: Web +2,345, Events −100"
        )


def test_the_last_displayed_part_absorbs_the_rounding() -> None:
    third = 1 / 3
    result = attribute_sum(["x", "y", "z"], dict.fromkeys("xyz", 0.0), dict.fromkeys("xyz", third))
    assert displayed(result) == (1.0, [0.3, 0.3, 0.4], 1)
    assert (
        sentence("合計", result, {"x": "x", "y": "y", "z": "z"})
        == "合計 +1: x +0.3, y +0.3, z +0.4"
    )


def test_it_gives_a_sum_each_childs_own_change() -> None:
    result = attribute_sum(
        ["web", "events", "partners"],
        {"web": 120, "events": 30, "partners": None},
        {"web": 100, "events": 45, "partners": 8},
    )
    assert (result.before, result.after, result.change, result.method) == (150, 153, 3, "sum")
    assert parts_of(result) == [-20, 15, 8]


def test_a_sum_with_no_value_at_all_has_no_change() -> None:
    result = attribute_sum(["a", "b"], {"a": None, "b": None}, {"a": 1, "b": 2})
    assert (result.change, result.method, parts_of(result)) == (None, "none", [None, None])


def test_it_splits_a_formula_that_is_not_a_product_by_shapley() -> None:
    # a − b / c: 10 − 6/2 = 7 → 12 − 9/3 = 9. b/c is 3 in both, but b and c each moved it.
    result = attribute_formula("a - b / c", {"a": 10, "b": 6, "c": 2}, {"a": 12, "b": 9, "c": 3})
    assert (result.before, result.after, result.change, result.method) == (7, 9, 2, "shapley")
    assert parts_of(result) == [2.0, -1.25, 1.25]


def test_a_product_through_zero_is_split_by_shapley() -> None:
    # calls × rate/100: 100 × 10 % = 10 → 200 × 0 % = 0; φ(calls) = Δcalls × mean rate.
    result = attribute_formula(
        "calls * rate / 100", {"calls": 100, "rate": 10}, {"calls": 200, "rate": 0}
    )
    assert (result.change, result.method) == (-10, "shapley")
    assert parts_of(result) == pytest.approx([5.0, -15.0], abs=1e-12)


def test_the_funnel_with_a_stage_at_zero_is_split_by_shapley_and_adds_up() -> None:
    result = attribute_formula(FUNNEL, SEPTEMBER, {**OCTOBER, "appt_rate": 0})
    assert (result.before, result.after, result.method) == (27, 0, "shapley")
    assert sum(parts_of(result)) == -27
    assert parts_of(result)[2] == pytest.approx(-25.028125, abs=1e-9)


def test_an_input_named_twice_gets_both_its_exponents() -> None:
    # area = side × side: 2 × 2 = 4 → 3 × 3 = 9, all of it the side's.
    result = attribute_formula("side * side", {"side": 2}, {"side": 3})
    assert (result.method, parts_of(result)) == ("lmdi", [5.0])


def test_a_quotient_gives_the_divisor_the_opposite_sign() -> None:
    # CPA = cost / orders: 1,000,000 / 20 = 50,000 → 1,000,000 / 25 = 40,000.
    result = attribute_formula(
        "cost / orders", {"cost": 1e6, "orders": 20}, {"cost": 1e6, "orders": 25}
    )
    assert (result.method, parts_of(result)) == ("lmdi", [0.0, -10_000.0])


def test_more_than_eight_inputs_are_switched_in_formula_order() -> None:
    codes = [f"x{i}" for i in range(9)]
    before = {c: 1.0 for c in codes}
    after = {c: 1.0 + i for i, c in enumerate(codes)}
    result = attribute_formula(" + ".join(codes) + " * 2", before, after)
    assert result.method == "sequential"
    assert parts_of(result) == [0, 1, 2, 3, 4, 5, 6, 7, 16]


def test_a_missing_input_leaves_the_change_unknown() -> None:
    result = attribute_formula(FUNNEL, SEPTEMBER, {**OCTOBER, "calls": None})
    assert (result.before, result.after, result.change, result.method) == (27, None, None, "none")
    with translation.override("en"):
        assert sentence("Orders", result, NAMES) == (
            "Orders: the change cannot be split (a value is missing)."
        )


def test_a_division_by_zero_on_the_way_leaves_the_change_unknown() -> None:
    # a / b − c / b with b 0 → 2: f(before) is missing (a division by zero).
    result = attribute_formula("a / b - c", {"a": 1, "b": 0, "c": 1}, {"a": 2, "b": 2, "c": 1})
    assert (result.change, result.method) == (None, "none")


def test_an_average_of_children_is_split_by_shapley() -> None:
    result = attribute_average(["x", "y"], [1, 3], {"x": 40, "y": 80}, {"x": 60, "y": 80})
    assert (result.before, result.after, result.change) == (70, 75, 5)
    assert (result.method, parts_of(result)) == ("shapley", [5.0, 0.0])


def test_an_input_node_has_nothing_to_attribute() -> None:
    with pytest.raises(ValueError):
        attribute(rollup="input", formula="", codes=[], weights=[], before={}, after={})


def test_the_log_mean_of_equal_values_is_the_value() -> None:
    assert log_mean(27, 27) == 27
    assert log_mean(23, 27) == pytest.approx(24.946575, abs=1e-6)


positive = st.floats(min_value=0.01, max_value=1e5, allow_nan=False, allow_infinity=False)
funnel_values = st.fixed_dictionaries(dict.fromkeys(CODES, positive))


def assert_adds_up(result) -> None:
    # Relative to the largest figure involved (a Shapley part can be far larger than the change).
    scale = max(1.0, abs(result.before), abs(result.after), *(abs(p) for p in parts_of(result)))
    assert abs(math.fsum(parts_of(result)) - result.change) <= 1e-9 * scale
    assert result.change == result.after - result.before


@pytest.mark.slow
@settings(max_examples=300, deadline=None)
@given(before=funnel_values, after=funnel_values)
def test_the_parts_of_any_positive_funnel_add_up_to_the_change(before, after) -> None:
    result = attribute_formula(FUNNEL, before, after)
    assert result.method == "lmdi"
    assert_adds_up(result)
    weight = (
        log_mean(result.after, result.before) if result.after != result.before else result.after
    )
    for part, code in zip(result.parts[:-1], CODES, strict=False):
        assert part.part == pytest.approx(
            weight * math.log(after[code] / before[code]), rel=1e-9, abs=1e-9 * weight
        )


@pytest.mark.slow
@settings(max_examples=300, deadline=None)
@given(
    before=funnel_values,
    after=funnel_values,
    zeros=st.sets(st.sampled_from(CODES), min_size=1),
    in_before=st.booleans(),
)
def test_a_funnel_with_zeros_is_split_by_shapley_and_adds_up(
    before, after, zeros, in_before
) -> None:
    side = before if in_before else after
    side.update(dict.fromkeys(zeros, 0.0))
    result = attribute_formula(FUNNEL, before, after)
    assert result.method == "shapley"
    assert_adds_up(result)


def test_a_ratio_beyond_a_float_falls_back_to_shapley() -> None:
    result = attribute_formula("a * b", {"a": 1e-300, "b": 1}, {"a": 1e300, "b": 1})
    assert (result.method, parts_of(result)) == ("shapley", [1e300 - 1e-300, 0.0])


def test_figures_that_overflow_leave_the_change_unknown() -> None:
    result = attribute_formula("a - b", {"a": 1e308, "b": -1e308}, {"a": 1, "b": 1})
    assert (result.change, result.method) == (None, "none")
