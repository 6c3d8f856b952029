"""The KPI formula parser: whitelist, messages, and vectorised evaluation (no database)."""

from __future__ import annotations

import ast
import builtins
import os
import pickle
import warnings
from pathlib import Path

import numpy as np
import pytest
from django.utils import translation

from kpitree import formula as formula_module
from kpitree.formula import (
    Factor,
    Formula,
    FormulaError,
    Shape,
    ShapeParser,
    format_code,
    formula_factors,
    formula_rename,
    formula_shape,
    parse_formula,
    referenced_names,
)


@pytest.fixture(autouse=True)
def _english():
    # The project defaults to Japanese; the expected fragments below are the English msgids.
    with translation.override("en"):
        yield


def scalar(text: str, **values: float | None) -> float | None:
    return parse_formula(text).evaluate_scalar(values)


# --- worked examples -------------------------------------------------------------------------


def test_it_computes_the_revenue_worked_example_exactly() -> None:
    f = parse_formula("visits * cvr / 100 * avg_price", ["visits", "cvr", "avg_price"])
    result = f.evaluate({"visits": 50000.0, "cvr": 2.0, "avg_price": 10000.0})
    assert result.dtype == np.float64
    assert result.item() == 10_000_000.0
    assert f.names == frozenset({"visits", "cvr", "avg_price"})
    assert f.text == "visits * cvr / 100 * avg_price"


def test_it_computes_the_call_funnel_exactly() -> None:
    text = "calls * connect / 100 * appt / 100 * meeting / 100 * win / 100"
    values = {"calls": 3000, "connect": 60, "appt": 10, "meeting": 50, "win": 30}
    assert parse_formula(text).evaluate_scalar(values) == 27.0


def test_it_evaluates_36_months_as_arrays() -> None:
    f = parse_formula("visits * cvr / 100 * avg_price")
    months = np.arange(36, dtype=np.float64)
    result = f.evaluate({"visits": months, "cvr": 2.0, "avg_price": 100.0})
    assert result.shape == (36,)
    np.testing.assert_allclose(result, months * 2.0, rtol=1e-15)


def test_it_propagates_a_missing_month_only_to_that_month() -> None:
    f = parse_formula("visits * cvr / 100 * avg_price")
    result = f.evaluate(
        {
            "visits": np.array([50000.0, np.nan, 40000.0]),
            "cvr": np.array([2.0, 2.0, 1.0]),
            "avg_price": np.array([10000.0, 10000.0, 5000.0]),
        }
    )
    assert result[0] == 10_000_000.0
    assert np.isnan(result[1])
    assert result[2] == 2_000_000.0


def test_it_propagates_nan_through_min_and_max() -> None:
    f = parse_formula("min(a, b) + max(a, b)")
    result = f.evaluate({"a": np.array([1.0, np.nan, 3.0]), "b": np.array([2.0, 5.0, np.nan])})
    assert result[0] == 3.0
    assert np.isnan(result[1])
    assert np.isnan(result[2])


# --- NaN instead of inf, without warnings ------------------------------------------------------


def test_it_turns_division_by_zero_into_nan_without_warnings() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        f = parse_formula("a / b")
        result = f.evaluate(
            {"a": np.array([1.0, 0.0, -1.0, 6.0]), "b": np.array([0.0, 0.0, 0.0, 3.0])}
        )
        assert np.isnan(result[:3]).all()
        assert result[3] == 2.0
        assert scalar("a / 0", a=1.0) is None
        assert scalar("a / b", a=1, b=0) is None
        # The NaN propagates: 1 / (1 / 0) is not 0.
        assert scalar("1 / (a / 0)", a=1.0) is None
        assert scalar("a / 0 - a / 0", a=1.0) is None


def test_it_turns_overflow_into_nan() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert scalar("a * a", a=1e200) is None
        assert scalar("1 / (a * a)", a=1e200) is None
        assert scalar("a + a", a=1.7e308) is None
        result = parse_formula("a * b").evaluate({"a": np.array([1e200, 2.0]), "b": 1e200})
        assert np.isnan(result[0])
        assert result[1] == 2e200


def test_it_treats_non_finite_and_none_inputs_as_missing() -> None:
    assert scalar("a + 1", a=None) is None
    assert scalar("1 / a", a=float("inf")) is None
    assert scalar("a - a", a=float("-inf")) is None


# --- functions, operators, precedence -----------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("min(a, b)", 2.0),
        ("max(a, b)", 3.0),
        ("min(a, b, 1, 7)", 1.0),
        ("max(a, b, 1, 7)", 7.0),
        ("abs(b - a)", 1.0),
        ("abs(-a)", 3.0),
        ("round(a / b)", 2.0),  # 1.5 rounds half to even
        ("round(2.5)", 2.0),
        ("round(3.5)", 4.0),
        ("round(0.125, 2)", 0.12),
        ("round(a / 7, 3)", 0.429),
        ("round(1234.5678, 0)", 1235.0),
        ("round(a / 7, 10)", 0.4285714286),
        ("-a", -3.0),
        ("- -a", 3.0),
        ("+a", 3.0),
        ("-a + b", -1.0),
        ("-(a - b)", -1.0),
        ("a * -b", -6.0),
        ("1 + 2 * 3", 7.0),
        ("(1 + 2) * 3", 9.0),
        ("10 - 4 - 3", 3.0),
        ("10 - (4 - 3)", 9.0),
        ("8 / 4 / 2", 1.0),
        ("8 / (4 / 2)", 4.0),
        ("2 * 3 / 4", 1.5),
        ("a + b * 2 - 1", 6.0),
        ("(a + b) * (a - b)", 5.0),
        ("1_000 + .5 + 5.", 1005.5),
        ("2e3 / a", 2000.0 / 3.0),
        ("a\n*\tb", 6.0),
        ("max(min(a, b), abs(-10)) / round(a)", 10.0 / 3.0),
    ],
)
def test_it_evaluates_functions_operators_and_precedence(text: str, expected: float) -> None:
    assert scalar(
        text, **{k: v for k, v in {"a": 3.0, "b": 2.0}.items() if k in referenced_names(text)}
    ) == pytest.approx(expected, rel=0, abs=1e-12)


def test_it_rounds_arrays_half_to_even() -> None:
    result = parse_formula("round(a)").evaluate({"a": np.array([0.5, 1.5, 2.5, -0.5, np.nan])})
    np.testing.assert_array_equal(result, [0.0, 2.0, 2.0, -0.0, np.nan])


def test_it_accepts_codes_in_square_brackets() -> None:
    f = parse_formula("[ads-cpa] * 2 + [lp.visits] - [2nd_call] + [ if ] + [cvr]")
    assert f.names == frozenset({"ads-cpa", "lp.visits", "2nd_call", "if", "cvr"})
    values = {"ads-cpa": 10.0, "lp.visits": 5.0, "2nd_call": 1.0, "if": 100.0, "cvr": 0.5}
    assert f.evaluate_scalar(values) == 124.5


def test_it_does_not_confuse_user_names_with_bracket_placeholders() -> None:
    f = parse_formula("[a-b] + _kpi_code0")
    assert f.names == frozenset({"a-b", "_kpi_code0"})
    assert f.evaluate_scalar({"a-b": 1.0, "_kpi_code0": 10.0}) == 11.0


# --- result shape and inputs ---------------------------------------------------------------------


def test_it_returns_a_0d_array_for_scalar_inputs_and_broadcasts_scalars() -> None:
    f = parse_formula("a * b")
    scalar_result = f.evaluate({"a": 2.0, "b": 3.0})
    assert isinstance(scalar_result, np.ndarray)
    assert scalar_result.shape == ()
    assert scalar_result.dtype == np.float64
    assert scalar_result.item() == 6.0
    broadcast = f.evaluate({"a": np.array([1.0, 2.0, 3.0]), "b": 10})
    np.testing.assert_array_equal(broadcast, [10.0, 20.0, 30.0])
    assert parse_formula("42").evaluate({}).shape == ()


def test_it_returns_a_new_float_array_without_touching_the_inputs() -> None:
    a = np.array([1.0, np.inf, 3.0])
    result = parse_formula("a").evaluate({"a": a})
    assert result is not a
    np.testing.assert_array_equal(result, [1.0, np.nan, 3.0])
    assert a[1] == np.inf
    ints = parse_formula("a / 2").evaluate({"a": np.array([1, 2, 3])})
    assert ints.dtype == np.float64
    np.testing.assert_array_equal(ints, [0.5, 1.0, 1.5])


def test_it_raises_keyerror_for_a_code_missing_from_values() -> None:
    with pytest.raises(KeyError):
        parse_formula("a + b").evaluate({"a": 1.0})
    with pytest.raises(KeyError):
        parse_formula("a + b").evaluate_scalar({"a": 1.0})


def test_it_refuses_arrays_in_evaluate_scalar() -> None:
    with pytest.raises(ValueError, match="evaluate"):
        parse_formula("a").evaluate_scalar({"a": np.array([1.0, 2.0])})


# --- rejections ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("a + * b", "Syntax error at character 5"),
        ("a +", "ends too early"),
        ("(a + b", "The parenthesis at character 1 is never closed"),
        ("a + b)", "closing parenthesis at character 6"),
        ("a b", "Syntax error at character 3"),
        ("a ** 2", "The operator ** is not allowed; use + - * / and parentheses"),
        ("a // 2", "The operator // is not allowed"),
        ("a % 2", "The operator % is not allowed"),
        ("a @ b", "The operator @ is not allowed"),
        ("a & b", "The operator & is not allowed"),
        ("a | b", "The operator | is not allowed"),
        ("a ^ b", "The operator ^ is not allowed"),
        ("a << 1", "The operator << is not allowed"),
        ("~a", "The operator ~ is not allowed"),
        ("a.b", "write a code that contains '.' in square brackets"),
        ("lp.visits * 2", "'lp.visits' is not allowed"),
        ("a[0]", "Indexing such as 'a[0]' is not allowed"),
        ("a [b]", "Indexing such as 'a [b]' is not allowed"),
        ("(a)[b]", "Indexing"),
        ("'x'", "Text in quotes is not allowed"),
        ('"x" + a', "Text in quotes is not allowed"),
        ("f'{a}'", "Text in quotes is not allowed"),
        ("b'x'", "Text in quotes is not allowed"),
        ("sum(a)", "Only min(), max(), abs() and round() may be called, not sum()"),
        ("open(a)", "Only min(), max(), abs() and round() may be called"),
        ("__import__('os')", "Only min(), max(), abs() and round() may be called"),
        (
            "__import__('os').system('echo hi')",
            "Only min(), max(), abs() and round() may be called",
        ),
        ("[min](a, b)", "Only min(), max(), abs() and round() may be called"),
        ("a(b)", "Only min(), max(), abs() and round() may be called, not a()"),
        ("min(a)", "min() needs at least two values"),
        ("max(a)", "max() needs at least two values"),
        ("min()", "min() needs at least two values"),
        ("abs(a, b)", "abs() takes exactly one value"),
        ("abs()", "abs() takes exactly one value"),
        ("round()", "round() takes a value and optionally a number of digits"),
        ("round(a, 1, 2)", "round() takes a value and optionally a number of digits"),
        ("round(a, b)", "The number of digits in round() must be a whole number from 0 to 10"),
        ("round(a, 11)", "must be a whole number from 0 to 10"),
        ("round(a, -1)", "must be a whole number from 0 to 10"),
        ("round(a, 1.5)", "must be a whole number from 0 to 10"),
        ("round(a, True)", "must be a whole number from 0 to 10"),
        ("min(a, b, key=c)", "Named arguments are not allowed in min()"),
        ("max(*a)", "Unpacking with * is not allowed in max()"),
        ("a > b", "Comparisons such as > are not allowed"),
        ("a == b", "Comparisons such as == are not allowed"),
        ("a in b", "Comparisons such as in are not allowed"),
        ("a and b", "Logical operators (and, or, not) are not allowed"),
        ("a or b", "Logical operators (and, or, not) are not allowed"),
        ("not a", "Logical operators (and, or, not) are not allowed"),
        ("a if b else c", "Conditional expressions (if … else) are not allowed"),
        ("lambda: 1", "Functions (lambda) cannot be defined"),
        ("[a, b]", "Lists, tuples, sets and dictionaries are not allowed"),
        ("(a, b)", "Lists, tuples, sets and dictionaries are not allowed"),
        ("{a}", "Lists, tuples, sets and dictionaries are not allowed"),
        ("{a: b}", "Lists, tuples, sets and dictionaries are not allowed"),
        ("[[a]]", "Lists, tuples, sets and dictionaries are not allowed"),
        ("(x for x in a)", "is not allowed in a formula"),
        ("(a := 1)", "'a := 1' is not allowed in a formula"),
        ("", "The formula is empty"),
        ("   \n ", "The formula is empty"),
        ("a + " * 500 + "a", "The formula is too long (2001 characters; the maximum is 2000)"),
        ("True", "True and False are not allowed; use 1 or 0"),
        ("False * a", "True and False are not allowed"),
        ("None", "Only plain numbers such as 100 or 2.5 are allowed, not 'None'"),
        ("...", "Only plain numbers"),
        ("2j", "Only plain numbers such as 100 or 2.5 are allowed, not '2j'"),
        ("1e400", "The number '1e400' is too large"),
        ("9" * 400, "is too large"),
        ("a × b", "'×' (character 3) cannot be used; write formulas with half-width"),
        ("ａ + b", "'ａ' (character 1) cannot be used"),
        ("売上 * 2", "'売' (character 1) cannot be used"),
        ("a \\\n+ b", "'\\' (character 3) cannot be used"),
        ("a\x00", "cannot be used"),
        ("[a+b]", "'[a+b]' is not a valid code in square brackets"),
        ("[]", "'[]' is not a valid code in square brackets"),
        ("[" + "x" * 65 + "]", "is not a valid code in square brackets"),
        ("x" * 65, "is not a valid code: codes are 1 to 64 letters"),
        ("abs(" * 60 + "a" + ")" * 60, "The formula is nested too deeply (more than 50 levels)"),
        ("(" * 250 + "a" + ")" * 250, "nested too deeply"),
    ],
)
def test_it_rejects_everything_outside_the_whitelist(text: str, fragment: str) -> None:
    with pytest.raises(FormulaError) as caught:
        parse_formula(text)
    assert fragment in caught.value.message
    assert str(caught.value) == caught.value.message
    with pytest.raises(FormulaError):
        referenced_names(text)


@pytest.mark.parametrize(
    ("text", "position"),
    [
        ("a + * b", 4),
        ("a ** 2", 2),
        ("a + (b > c)", 7),
        ("[ads-cpa] + sum(a)", 12),
        ("[ads-cpa] + foo", 12),
        ("a × b", 2),
        ("(a + b", 0),
        ("", None),
        ("round(a, b)", 9),
    ],
)
def test_it_reports_the_position_in_the_original_text(text: str, position: int | None) -> None:
    with pytest.raises(FormulaError) as caught:
        parse_formula(text, ["a", "b", "c", "ads-cpa"])
    assert caught.value.position == position


def test_it_accepts_nesting_up_to_the_limit() -> None:
    assert scalar("abs(" * 49 + "a" + ")" * 49, a=-2.0) == 2.0
    # Redundant parentheses and long flat chains do not nest.
    assert scalar("(" * 100 + "a" + ")" * 100, a=1.0) == 1.0
    assert scalar(" + ".join(["a"] * 450), a=1.0) == 450.0
    assert scalar("-" * 1999 + "a", a=1.0) == -1.0


def test_it_makes_formula_error_a_picklable_value_error() -> None:
    error = FormulaError("Syntax error at character 3.", 2)
    assert isinstance(error, ValueError)
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.message, copy.position) == ("Syntax error at character 3.", 2)


def test_it_rejects_non_string_text() -> None:
    with pytest.raises(TypeError):
        parse_formula(None)  # type: ignore[arg-type]


# --- names -----------------------------------------------------------------------------------------


def test_it_lists_referenced_names() -> None:
    assert referenced_names("visits * cvr / 100 * avg_price + visits") == frozenset(
        {"visits", "cvr", "avg_price"}
    )
    assert referenced_names("min([ads-cpa], [lp.visits]) * 2") == frozenset(
        {"ads-cpa", "lp.visits"}
    )
    assert referenced_names("100 * 2") == frozenset()
    # Function names are not codes.
    assert referenced_names("round(abs(a), 2)") == frozenset({"a"})
    with pytest.raises(FormulaError, match="operator"):
        referenced_names("a ** b")


def test_it_enforces_allowed_names() -> None:
    f = parse_formula("a * [b-c]", allowed_names=iter(["a", "b-c", "d"]))
    assert f.names == frozenset({"a", "b-c"})
    with pytest.raises(FormulaError) as caught:
        parse_formula("a + foo", allowed_names=["b", "a"])
    assert caught.value.message == "'foo' is not the code of a child node. Allowed codes: a, b"
    assert caught.value.position == 4
    with pytest.raises(FormulaError) as caught:
        parse_formula("[lp.visits] + x", allowed_names=["lp.visits", "2nd", "if", "cvr"])
    assert caught.value.message == (
        "'x' is not the code of a child node. Allowed codes: [2nd], cvr, [if], [lp.visits]"
    )
    with pytest.raises(FormulaError, match="this node has no children"):
        parse_formula("a", allowed_names=[])
    # Codes are case-sensitive.
    with pytest.raises(FormulaError, match="'A' is not the code of a child node"):
        parse_formula("A", allowed_names=["a"])


def test_it_writes_codes_as_formulas_expect_them() -> None:
    assert format_code("cvr") == "cvr"
    assert format_code("ads-cpa") == "[ads-cpa]"
    assert format_code("lp.visits") == "[lp.visits]"
    assert format_code("2nd_call") == "[2nd_call]"
    assert format_code("if") == "[if]"


# --- rename, shape and factors: what the rest of the code reads from a formula ------------------


def test_it_renames_codes_and_keeps_everything_else_as_written() -> None:
    renames = {"a-b": "x.a-b", "c": "x_c", "round": "nope", "d": "if"}
    assert (
        formula_rename("[ a-b ]*c +  max(c, 1e5) - round(c2)\t/ [d]", renames)
        == "[x.a-b]*x_c +  max(x_c, 1e5) - round(c2)\t/ [if]"
    )


def test_it_leaves_a_formula_it_cannot_parse_unchanged_when_renaming() -> None:
    assert formula_rename("c ** 2", {"c": "x_c"}) == "c ** 2"
    assert formula_rename("  ", {"c": "x_c"}) == "  "


def test_formulas_with_the_same_text_around_their_codes_have_one_shape() -> None:
    visits = formula_shape("visits * cvr / 100 * visits")
    calls = formula_shape("[calls-out] * rate / 100 * [calls-out]")
    assert visits == Shape("\x000\x00 * \x001\x00 / 100 * \x000\x00", ("visits", "cvr"))
    assert calls == Shape(visits.template, ("calls-out", "rate"))
    assert formula_shape("visits * cvr / 10 * visits").template != visits.template
    assert parse_formula("min(a, b)").shape == Shape("min(\x000\x00, \x001\x00)", ("a", "b"))
    assert formula_shape("a ** b") is None


def test_the_shape_parser_parses_once_per_shape_and_gives_each_text_its_codes() -> None:
    parser = ShapeParser()
    first, first_codes = parser.parse("visits * cvr / 100", ["visits", "cvr"])
    again, codes = parser.parse("[calls-out] * rate / 100", ["rate", "calls-out"])
    assert again is first
    assert (first_codes, codes) == (("visits", "cvr"), ("calls-out", "rate"))
    assert again.evaluate({"visits": 3000.0, "cvr": 60.0}).item() == 1800.0
    with pytest.raises(FormulaError, match="'nope' is not the code of a child node"):
        parser.parse("nope * rate / 100", ["rate"])
    with pytest.raises(FormulaError, match="True and False are not allowed"):
        parser.parse("True * rate / 100", ["rate", "True"])


def test_it_lists_the_factors_of_a_product_in_written_order() -> None:
    assert formula_factors("calls * [con-rate] / 100 * 2") == (
        Factor(code="calls", number=None, exponent=1),
        Factor(code="con-rate", number=None, exponent=1),
        Factor(code=None, number=100.0, exponent=-1),
        Factor(code=None, number=2.0, exponent=1),
    )
    assert formula_factors("visits") == (Factor(code="visits", number=None, exponent=1),)


@pytest.mark.parametrize(
    "text",
    ["a * b + c", "(a * b) / 100", "a * (b / 100)", "-a * b", "a * min(b, c)", "a * b # c", ""],
)
def test_a_formula_that_is_not_a_plain_product_has_no_factors(text: str) -> None:
    assert formula_factors(text) is None


def test_it_compares_formulas_by_text_and_names() -> None:
    assert parse_formula("a + b") == parse_formula("a + b")
    assert isinstance(parse_formula("a"), Formula)
    assert "evaluator" not in repr(parse_formula("a"))


# --- safety ----------------------------------------------------------------------------------------


def test_it_never_executes_the_formula(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []

    def forbidden(name: str):
        def record(*args, **kwargs):
            calls.append(name)
            raise AssertionError(f"{name} must not be called")

        return record

    monkeypatch.setattr(builtins, "eval", forbidden("eval"))
    monkeypatch.setattr(builtins, "exec", forbidden("exec"))
    monkeypatch.setattr(os, "system", forbidden("os.system"))
    for text in [
        "__import__('os').system('echo hi')",
        "eval('1')",
        "exec('import os')",
        "open('/etc/passwd').read()",
        "().__class__.__bases__[0].__subclasses__()",
        "a.__class__",
    ]:
        with pytest.raises(FormulaError):
            parse_formula(text)
    assert parse_formula("max(a, b) / 2").evaluate_scalar({"a": 1.0, "b": 4.0}) == 2.0
    assert calls == []


def test_it_has_no_eval_exec_or_compile_in_its_source() -> None:
    tree = ast.parse(Path(formula_module.__file__).read_text(encoding="utf-8"))
    called = {
        node.func.id
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
    }
    assert not called & {"eval", "exec", "compile", "__import__", "getattr"}
