"""Driver attribution: a computed node's change between two periods split between its inputs.

"受注数 −4: 架電数 −2.1, 接続率 −0.4, アポ取得率 −1.5 …": for a node computed from its inputs
(a formula, or a sum or average of its children), given the inputs' values before and after
(month over month, year over year, target vs actual), each input gets a part, and the parts add
up **exactly** to the node's change ``after − before``. No database; the formula is the one of
kpitree/formula.py (parsed and evaluated there, never a second grammar).

Method, chosen per node and pair of periods (``Attribution.method``):

- ``lmdi`` — a pure product/quotient of inputs and numbers (:func:`formula_factors`, e.g. the
  funnel ``calls * connect_rate / 100 * appt_rate / 100 …``) whose values are all positive:
  the logarithmic mean Divisia index (LMDI-I). With ``L(a, b) = (a − b) / (ln a − ln b)``
  (``L(a, a) = a``), input *i*'s part is ``L(y1, y0) · e_i · ln(x1_i / x0_i)`` (``e_i`` its
  exponent, summed when an input appears more than once; numbers do not change and get
  nothing). Since ``y = c · Π x_i^e_i``, the parts sum to ``L(y1, y0) · ln(y1 / y0) = y1 − y0``.
- ``sum`` — a sum of children: each child's own change (a missing value counts as nothing, as in
  the rollup), which sum to the change by definition.
- ``shapley`` — any other formula (``a - b / c``, ``min``…), an average of children, or a
  product with a zero, negative value: the Shapley value. Input *i*'s part is the average, over
  the orders in which the inputs could switch from their before to their after value, of the
  change of the formula when *i* switches; computed exactly from the 2^n mixed input vectors,
  each evaluated with the real formula (one vectorised :meth:`Formula.evaluate`). The parts sum
  to ``f(after) − f(before)`` (the Shapley value is efficient). Up to 8 inputs.
- ``sequential`` — more than 8 inputs: inputs switch one after another in formula order and
  each gets the change its switch makes (a telescoping sum, exact as well).
- ``none`` — the change is unknown: a value the node needs is missing (before, after or both),
  a mixed vector of the Shapley value has no value (a division by zero on the way), or the
  figures overflow a float.

The before and after values are the formula's (or sum's) values on the inputs, so parts and
change always agree. In floating point the parts are computed as above and the last one then
absorbs the rounding (``change − Σ others``), so they add up to the change to the last bit;
:func:`displayed` does the same for the rounded figures a reader sees.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from django.utils.translation import gettext as _

from kpi_planner.numbers import Numbers
from kpitree.formula import formula_factors, parse_formula

__all__ = [
    "MAX_SHAPLEY_INPUTS",
    "Attribution",
    "Part",
    "attribute",
    "attribute_average",
    "attribute_formula",
    "attribute_sum",
    "displayed",
    "log_mean",
    "sentence",
]

#: The most inputs whose Shapley value is computed exactly (2^8 = 256 evaluations).
MAX_SHAPLEY_INPUTS = 8

Value = float | None


@dataclass(frozen=True)
class Part:
    """One input's share of the change. ``code`` None: several inputs taken together (those
    the reader may not see)."""

    code: str | None
    before: Value
    after: Value
    part: Value


@dataclass(frozen=True)
class Attribution:
    before: Value
    after: Value
    change: Value
    parts: tuple[Part, ...]
    method: str  # lmdi | sum | shapley | sequential | none

    @property
    def known(self) -> bool:
        return self.change is not None


def log_mean(a: float, b: float) -> float:
    """The logarithmic mean ``(a − b) / (ln a − ln b)`` of two positive numbers; ``a`` when
    they are equal."""
    d = math.log(a / b)
    return a if d == 0 else (a - b) / d


def _value(x: object) -> Value:
    if x is None:
        return None
    v = float(x)  # type: ignore[arg-type]  # numbers and numpy scalars
    return v if math.isfinite(v) else None


def _absorbed(change: float, parts: Sequence[float]) -> list[float]:
    """``parts`` with the last one replaced by ``change − Σ others``: what rounding left over."""
    if not parts:
        return []
    head = list(parts[:-1])
    return [*head, change - math.fsum(head)]


def _unknown(codes: Sequence[str], before, after, b: Value = None, a: Value = None) -> Attribution:
    parts = tuple(Part(c, _value(before.get(c)), _value(after.get(c)), None) for c in codes)
    return Attribution(b, a, None, parts, "none")


def _finish(
    codes: Sequence[str], before, after, y0: float, y1: float, raw: Sequence[float], method: str
) -> Attribution:
    change = y1 - y0
    shares = _absorbed(change, raw)
    if not all(math.isfinite(x) for x in (change, *shares)):  # values near the float limit
        return _unknown(codes, before, after, y0, y1)
    parts = tuple(
        Part(c, _value(before.get(c)), _value(after.get(c)), share)
        for c, share in zip(codes, shares, strict=True)
    )
    return Attribution(y0, y1, change, parts, method)


# -- sums -----------------------------------------------------------------------------------------


def attribute_sum(
    codes: Sequence[str], before: Mapping[str, Value], after: Mapping[str, Value]
) -> Attribution:
    """A sum of children: each child's own change. A missing child counts as nothing (the
    rollup adds the children that have a value); no child with a value is a missing sum."""
    b = [_value(before.get(c)) for c in codes]
    a = [_value(after.get(c)) for c in codes]
    y0 = math.fsum(v for v in b if v is not None) if any(v is not None for v in b) else None
    y1 = math.fsum(v for v in a if v is not None) if any(v is not None for v in a) else None
    if y0 is None or y1 is None:
        return _unknown(codes, before, after, y0, y1)
    raw = [(x1 or 0.0) - (x0 or 0.0) for x0, x1 in zip(b, a, strict=True)]
    return _finish(codes, before, after, y0, y1, raw, "sum")


# -- Shapley and sequential over any function of the inputs ---------------------------------------

# A function of the inputs evaluated on many mixed vectors at once: one array per input.
_Vectorised = Callable[[Sequence[np.ndarray]], np.ndarray]


def _shapley(fn: _Vectorised, x0: np.ndarray, x1: np.ndarray) -> list[float] | None:
    n = x0.size
    masks = np.arange(1 << n)
    bits = ((masks[:, None] >> np.arange(n)) & 1).astype(bool)  # mixed vector k: who switched
    mixed = np.where(bits, x1, x0)
    v = np.asarray(fn([mixed[:, i] for i in range(n)]), dtype=float)
    if not np.isfinite(v).all():
        return None
    size = bits.sum(axis=1)
    # An order in which the inputs of S switch before i, and the others after: |S|!(n−|S|−1)!/n!
    weight = np.array([math.factorial(s) * math.factorial(n - s - 1) for s in range(n)], float)
    weight /= math.factorial(n)
    parts = []
    for i in range(n):
        without = masks[~bits[:, i]]
        gains = (v[without | (1 << i)] - v[without]) * weight[size[without]]
        parts.append(math.fsum(gains.tolist()))
    return parts


def _sequential(fn: _Vectorised, x0: np.ndarray, x1: np.ndarray) -> list[float] | None:
    n = x0.size
    switched = np.arange(n + 1)[:, None] > np.arange(n)  # row k: the first k inputs switched
    mixed = np.where(switched, x1, x0)
    v = np.asarray(fn([mixed[:, i] for i in range(n)]), dtype=float)
    if not np.isfinite(v).all():
        return None
    return np.diff(v).tolist()


def _by_switching(
    codes: Sequence[str], fn: _Vectorised, before: Mapping[str, Value], after: Mapping[str, Value]
) -> Attribution:
    x0 = np.array([np.nan if (v := _value(before.get(c))) is None else v for c in codes])
    x1 = np.array([np.nan if (v := _value(after.get(c))) is None else v for c in codes])
    ends = np.asarray(fn([np.array([x0[i], x1[i]]) for i in range(len(codes))]), dtype=float)
    y0, y1 = _value(ends[0]), _value(ends[1])
    if y0 is None or y1 is None or not codes:
        return _unknown(codes, before, after, y0, y1)
    if len(codes) <= MAX_SHAPLEY_INPUTS:
        raw, method = _shapley(fn, x0, x1), "shapley"
    else:
        raw, method = _sequential(fn, x0, x1), "sequential"
    if raw is None:
        return _unknown(codes, before, after, y0, y1)
    return _finish(codes, before, after, y0, y1, raw, method)


def attribute_average(
    codes: Sequence[str],
    weights: Sequence[float],
    before: Mapping[str, Value],
    after: Mapping[str, Value],
) -> Attribution:
    """An average (weighted, or with weights of 1) of the children that have a value, as the
    rollup computes it: the Shapley value of that function."""
    w = np.asarray(weights, dtype=float)

    def average(columns: Sequence[np.ndarray]) -> np.ndarray:
        x = np.stack(columns, axis=1)
        present = ~np.isnan(x)
        with np.errstate(all="ignore"):
            den = (present * w).sum(axis=1)
            return np.where(den > 0, np.where(present, x, 0.0) @ w / den, np.nan)

    return _by_switching(codes, average, before, after)


# -- formulas -------------------------------------------------------------------------------------


def _lmdi(text: str, codes: Sequence[str], before, after, y0: float, y1: float):
    """The LMDI-I parts when the formula is a product/quotient of positive values, else None."""
    factors = formula_factors(text)
    if factors is None or y0 <= 0 or y1 <= 0:
        return None
    exponent = dict.fromkeys(codes, 0)
    for f in factors:
        if f.code is None:
            if f.number is None or f.number <= 0:
                return None
        else:
            exponent[f.code] += f.exponent
    values = [(_value(before.get(c)), _value(after.get(c))) for c in codes]
    if any(x0 is None or x1 is None or x0 <= 0 or x1 <= 0 for x0, x1 in values):
        return None
    weight = log_mean(y1, y0)
    with np.errstate(all="ignore"):
        ratios = [x1 / x0 for x0, x1 in values]  # type: ignore[operator]  # checked above
    if not all(math.isfinite(r) and r > 0 for r in ratios):
        return None
    return [weight * exponent[c] * math.log(ratio) for c, ratio in zip(codes, ratios, strict=True)]


def attribute_formula(
    text: str, before: Mapping[str, Value], after: Mapping[str, Value]
) -> Attribution:
    """A formula node: its inputs are the codes the formula names, in the order they first
    appear. Raises FormulaError when ``text`` does not parse."""
    formula = parse_formula(text)
    codes = formula.shape.codes

    def evaluate(columns: Sequence[np.ndarray]) -> np.ndarray:
        return formula.evaluate(dict(zip(codes, columns, strict=True)))

    result = _by_switching(codes, evaluate, before, after)
    if result.before is None or result.after is None:
        return result
    raw = _lmdi(text, codes, before, after, result.before, result.after)
    if raw is None:
        return result
    return _finish(codes, before, after, result.before, result.after, raw, "lmdi")


def attribute(
    *,
    rollup: str,
    formula: str,
    codes: Sequence[str],
    weights: Sequence[float],
    before: Mapping[str, Value],
    after: Mapping[str, Value],
) -> Attribution:
    """The attribution of a node computed by ``rollup`` (formula, sum, avg, weighted_avg) from
    its children ``codes`` (their weights count for ``weighted_avg`` only). ValueError for an
    input node."""
    if rollup == "formula":
        return attribute_formula(formula, before, after)
    if rollup == "sum":
        return attribute_sum(codes, before, after)
    if rollup in ("avg", "weighted_avg"):
        w = weights if rollup == "weighted_avg" else [1.0] * len(codes)
        return attribute_average(codes, w, before, after)
    raise ValueError(f"not a computed node: {rollup!r}")


# -- for the reader -------------------------------------------------------------------------------


def _digits(values: Sequence[float]) -> int:
    """Decimals that show the largest figure with two significant digits (−2.1, 0.35, 1,234)."""
    scale = max((abs(v) for v in values), default=0.0)
    if scale == 0:
        return 0
    return min(6, max(0, 1 - math.floor(math.log10(scale))))


def displayed(
    attribution: Attribution, digits: int | None = None
) -> tuple[float, list[float], int]:
    """The change and the parts rounded for display, the last part absorbing the rounding so
    that the figures shown add up; and the decimals used. Needs a known change."""
    if attribution.change is None:
        raise ValueError("the change is unknown")
    parts = [p.part or 0.0 for p in attribution.parts]
    if digits is None:
        digits = _digits([attribution.change, *parts])
    total = round(attribution.change, digits)
    shown = [round(p, digits) for p in parts]
    if shown:
        shown[-1] = round(total - math.fsum(shown[:-1]), digits)
    return total, shown, digits


def signed(value: float, digits: int, numbers: Numbers | None = None) -> str:
    """−2.1 / +0.4 / 0: a change with its sign (the minus sign U+2212), only the decimals it
    needs, in the reader's separators."""
    numbers = numbers or Numbers()
    text = numbers.number(abs(value), digits)
    if digits:
        text = text.rstrip("0").rstrip(numbers.decimal)
    if text.strip("0") == "":
        return "0"
    return ("+" if value > 0 else "\u2212") + text


def sentence(name: str, attribution: Attribution, names: Mapping[str | None, str]) -> str:
    """ "受注数 −4: 架電数 −2.1, 接続率 −0.4, …" in the reader's language, the parts in input
    order; ``names`` gives each part's code its name (None: the inputs taken together)."""
    numbers = Numbers()
    if attribution.change is None:
        return _("%(kpi)s: the change cannot be split (a value is missing).") % {"kpi": name}
    total, shown, digits = displayed(attribution)
    parts = ", ".join(  # as the issue writes it, in both languages
        f"{names.get(p.code, p.code or '')} {signed(v, digits, numbers)}"
        for p, v in zip(attribution.parts, shown, strict=True)
    )
    return _("%(kpi)s %(change)s: %(parts)s") % {
        "kpi": name,
        "change": signed(total, digits, numbers),
        "parts": parts,
    }
