"""Safe, vectorised formulas that compute a KPI node from its children.

A formula such as ``visits * cvr / 100 * avg_price`` names the ``code`` of child nodes.
Codes that are valid Python identifiers are written as they are; any other code (one that
contains ``-`` or ``.``, starts with a digit, or is a Python keyword) is written in square
brackets: ``[ads-cpa] * 2``, ``[lp.visits] + [2nd_call]``.

The text is parsed once with :mod:`ast` and checked against a whitelist; nothing is ever
passed to ``eval``/``exec`` or compiled to code. The accepted tree is turned into nested
Python closures over numpy operations, so evaluating a parsed :class:`Formula` on many
months of data does not walk the syntax tree again.

Grammar: numbers (int/float literals), child codes, unary ``+``/``-``, binary
``+ - * /``, parentheses, and the calls ``min(a, b, ...)``, ``max(a, b, ...)`` (at least
two values), ``abs(x)``, ``round(x)`` and ``round(x, n)`` with ``n`` an integer literal
from 0 to 10. At most 2000 characters and 50 levels of nesting (each function argument or
parenthesised sub-expression of another kind is a level; a flat chain such as ``a + b - c``
and redundant parentheses are not). Tabs and newlines count as spaces.

Error messages number characters from 1 (for people); ``FormulaError.position`` is 0-based.

This is the one grammar: whatever else reads formulas asks this module. Besides parsing and
evaluating: :func:`formula_names` (the codes a text names), :func:`formula_rename` (the text with
codes replaced, everything else kept as written), :func:`formula_shape` / :attr:`Formula.shape`
(the text with its codes taken out, so that formulas of one shape share one compiled evaluator;
:class:`ShapeParser` parses a tree's formulas once per shape) and :func:`formula_factors` (the
operands of a plain product/quotient, for funnels).

Evaluation semantics (see :meth:`Formula.evaluate`): NaN means "missing" and propagates
through every operation (including min/max); division by zero and overflow give NaN,
never inf, never an exception and never a numpy warning; ``round`` is numpy's
round-half-to-even.

This module does not touch the database.
"""

from __future__ import annotations

import ast
import keyword
import math
import re
import tokenize
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
from django.utils.translation import gettext as _

from kpi_planner.codes import CODE_RE

__all__ = [
    "MAX_DEPTH",
    "MAX_LENGTH",
    "Factor",
    "Formula",
    "FormulaError",
    "Shape",
    "ShapeParser",
    "format_code",
    "formula_factors",
    "formula_names",
    "formula_rename",
    "formula_shape",
    "parse_formula",
    "referenced_names",
]

#: Longest accepted formula text, in characters.
MAX_LENGTH = 2000
#: Deepest accepted nesting of sub-expressions (a chain such as ``a + b - c + d`` is one level).
MAX_DEPTH = 50
#: Largest ``n`` accepted in ``round(x, n)``.
MAX_ROUND_DIGITS = 10

_FUNCTIONS = ("min", "max", "abs", "round")
# Only printable ASCII plus these (turned into spaces) reaches the parser. Backslashes and
# non-ASCII characters (full-width digits and operators, Japanese text, identifiers Python
# would NFKC-normalise) are refused first, which also keeps parser offsets equal to characters.
_WHITESPACE = "\t\n\r"
_SPACES = str.maketrans(_WHITESPACE, "   ")
# The first character refused: anything but tabs, newlines and printable ASCII, and backslashes.
_REFUSED = re.compile(r"[^\t\n\r -\[\]-~]")
_NAN = np.float64("nan")

# Evaluators take and return numpy arrays (or scalars numpy accepts): Any, as numpy's own stubs.
_Evaluator = Callable[[Mapping[str, Any]], Any]
#: What the parser can point at: an expression or a named argument (both have offsets).
_Located = ast.expr | ast.keyword


class FormulaError(ValueError):
    """A formula that cannot be accepted.

    ``message`` is one clear human sentence (translated with gettext), ``position`` is the
    0-based character offset in the original text when known, else ``None``.
    """

    def __init__(self, message: str, position: int | None = None) -> None:
        super().__init__(message, position)
        self.message = message
        self.position = position

    def __str__(self) -> str:
        return self.message

    def __reduce__(self):
        return (type(self), (self.message, self.position))


@dataclass(frozen=True)
class Shape:
    """A formula with its codes taken out.

    ``template`` is the text with the k-th distinct code (in order of first appearance) replaced
    by ``"\x00k\x00"``; ``codes`` are the codes in that order. Two accepted formulas with the
    same template parse to the same syntax tree up to the codes (the text around the codes is
    the same, character for character), so one compiled :class:`Formula` evaluates both once its
    k-th code is given the other's k-th code's values: ``visits * cvr / 100`` and
    ``[calls] * rate / 100`` have one shape.
    """

    template: str
    codes: tuple[str, ...]


@dataclass(frozen=True)
class Factor:
    """One operand of a product/quotient (see :func:`formula_factors`): a code or a number, and
    its exponent (1 when it multiplies, -1 when it divides)."""

    code: str | None
    number: float | None
    exponent: int


#: Where a formula text writes a code: (start, end, code), ``text[start:end]`` being the code
#: as written (``cvr`` or ``[ads-cpa]``), in the order of the text.
_Occurrence = tuple[int, int, str]


@dataclass(frozen=True)
class Formula:
    """A parsed formula. Build it with :func:`parse_formula`."""

    text: str
    names: frozenset[str]
    _evaluator: _Evaluator = field(repr=False, compare=False)
    occurrences: tuple[_Occurrence, ...] = field(default=(), repr=False, compare=False)

    @cached_property
    def shape(self) -> Shape:
        """The formula's :class:`Shape` (its text with the codes taken out)."""
        parts: list[str] = []
        order: dict[str, int] = {}
        last = 0
        for start, end, code in self.occurrences:
            parts.append(self.text[last:start])
            parts.append(f"\x00{order.setdefault(code, len(order))}\x00")
            last = end
        parts.append(self.text[last:])
        return Shape("".join(parts), tuple(order))

    def evaluate(self, values: Mapping[str, np.ndarray | float]) -> np.ndarray:
        """Compute the formula on ``values`` (child code -> float array or scalar).

        All arrays should have the same shape (e.g. 36 months); scalars are broadcast.
        NaN means "missing": any NaN input of an operation makes its result NaN.
        Division by zero, overflow and non-finite inputs give NaN. ``round`` rounds half to
        even (``np.round``).

        Returns a new float64 ndarray with the broadcast shape of the referenced inputs;
        when every referenced input is a scalar (or the formula references no code) the
        result is a 0-d array (use ``.item()`` or :meth:`evaluate_scalar`).

        Raises KeyError if a referenced code is missing from ``values``.
        """
        with np.errstate(all="ignore"):
            result = np.array(self._evaluator(values), dtype=np.float64)
            if not np.isfinite(result).all():
                result[~np.isfinite(result)] = np.nan
        return result

    def evaluate_scalar(self, values: Mapping[str, float | None]) -> float | None:
        """Compute the formula on scalar values; ``None`` inputs mean missing.

        Returns ``None`` when the result is missing (NaN), else a Python float.
        """
        prepared: dict[str, np.ndarray | float] = {
            name: (_NAN if (value := values[name]) is None else value) for name in self.names
        }
        result = self.evaluate(prepared)
        if result.size != 1:
            raise ValueError("evaluate_scalar() needs scalar values; use evaluate() for arrays.")
        value = float(result.reshape(()))
        return None if math.isnan(value) else value


def formula_names(text: str) -> frozenset[str]:
    """The codes a formula text names; none when it is blank or does not parse."""
    formula = _parsed_or_none(text)
    return frozenset() if formula is None else formula.names


def formula_rename(text: str, renames: Mapping[str, str]) -> str:
    """``text`` with the codes in ``renames`` replaced (old code -> new code).

    A new code is written as :func:`format_code` writes it (``[x.a-b]``, ``x_c``); everything
    else stays as written: spacing, numbers, function names and the other codes. A text that
    is blank or does not parse is returned unchanged (there are no codes to find in it).
    """
    formula = _parsed_or_none(text) if renames else None
    if formula is None:
        return text
    parts: list[str] = []
    last = 0
    for start, end, code in formula.occurrences:
        if code in renames:
            parts += [text[last:start], format_code(renames[code])]
            last = end
    parts.append(text[last:])
    return "".join(parts)


def formula_shape(text: str) -> Shape | None:
    """The :class:`Shape` of a formula text; ``None`` when it is blank or does not parse."""
    formula = _parsed_or_none(text)
    return None if formula is None else formula.shape


class ShapeParser:
    """:func:`parse_formula` for the many formulas of a tree, parsing once per shape.

    A tree of thousands of nodes has a few shapes (``a * b / 100`` over different children);
    parsing each formula would cost more than evaluating the whole tree. :meth:`parse` parses
    the first formula of each shape; a later text of a known shape is accepted by checking
    only what differs between the two, its codes.
    """

    def __init__(self) -> None:
        self._known: dict[str, Formula] = {}

    def parse(self, text: str, allowed_names: Collection[str]) -> tuple[Formula, tuple[str, ...]]:
        """``(formula, codes)``: a formula of ``text``'s shape and ``text``'s own codes in the
        order of that formula's ``shape.codes`` (give the formula's k-th code the values of the
        k-th of ``codes``). Raises :class:`FormulaError` as :func:`parse_formula` does."""
        scanned = _scan_shape(text)
        if scanned is not None:
            known = self._known.get(scanned.template)
            if known is not None and _codes_accepted(text, scanned.codes, allowed_names):
                return known, scanned.codes
        formula = parse_formula(text, allowed_names)
        shape = formula.shape
        # The scan may stand in for the parser only where the two agree on this shape.
        if scanned == shape:
            self._known.setdefault(shape.template, formula)
        return formula, shape.codes


# The shortcut's scan of a text (ShapeParser only; the parser decides everything else): the
# tokens Python reads once `[code]`s are taken out (only printable ASCII is accepted): a
# bracketed code, a number (Python's own literal syntax, so that `1e5` is one number and not 1
# and the code `e5`), or a name, which is a function when `(` follows it.
_SHAPE_TOKEN = re.compile(
    r"\[(?P<bracket>[^\]]*)\]|(?P<number>"
    + tokenize.Number
    + r")|(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?P<call>\s*\()?"
)


def _scan_shape(text: str) -> Shape | None:
    """What :attr:`Formula.shape` would be, by a scan instead of a parse (None: cannot tell).

    Only trusted for a template the parser gave for another text: the text outside the codes
    is then the accepted formula's, character for character, so the parser would build the
    same syntax tree up to the codes.
    """
    if "#" in text:  # a comment would hide codes from the parser but not from this scan
        return None
    parts: list[str] = []
    order: dict[str, int] = {}
    last = 0
    for m in _SHAPE_TOKEN.finditer(text):
        if m["bracket"] is not None:
            code = m["bracket"].strip(" \t\r\n")
        elif m["name"] is not None and m["call"] is None:
            code = m["name"]
        else:
            continue  # numbers and function names stay in the shape as written
        parts.append(text[last : m.start()])
        parts.append(f"\x00{order.setdefault(code, len(order))}\x00")
        last = m.end()
    parts.append(text[last:])
    return Shape("".join(parts), tuple(order))


def _codes_accepted(text: str, codes: tuple[str, ...], allowed: Collection[str]) -> bool:
    """Whether the parser would accept ``text``, of the shape of an accepted formula: what it
    checks per text and per code, i.e. the length, codes that are valid (which also keeps the
    text printable ASCII), not Python keywords (``None`` is a constant, ``not`` an operator),
    and allowed. Anything else is left to the parser."""
    if len(text) > MAX_LENGTH:
        return False
    return all(
        code in allowed and not keyword.iskeyword(code) and CODE_RE.fullmatch(code)
        for code in codes
    )


def formula_factors(text: str) -> tuple[Factor, ...] | None:
    """The operands of a formula that is one plain product/quotient, in written order.

    ``calls * rate / 100`` gives ``calls`` and ``rate`` with exponent 1 and the number 100 with
    exponent -1. Only codes and numbers joined by ``*`` and ``/`` qualify: ``None`` for any
    ``+``/``-``, sign, function call or parenthesis, and for a text that is blank or does not
    parse.
    """
    if not isinstance(text, str) or not text.strip():
        return None
    source = _Source(text)
    try:
        tree = source.parse()
        _Compiler(source, None).compile(tree.body, 1)  # the whole whitelist, as parse_formula
    except FormulaError:
        return None
    node: ast.expr = tree.body
    chain: list[tuple[int, ast.expr]] = []
    while isinstance(node, ast.BinOp) and type(node.op) in _MULTIPLICATIVE:
        chain.append((1 if isinstance(node.op, ast.Mult) else -1, node.right))
        node = node.left
    chain.append((1, node))
    chain.reverse()
    operands = [operand for _exponent, operand in chain]
    processed = source.processed
    # Between the operands only their operators (no parenthesis, no comment), around them nothing.
    gaps = [processed[: operands[0].col_offset], processed[operands[-1].end_col_offset or 0 :]]
    if any(gap.strip() for gap in gaps):
        return None
    for (exponent, right), left in zip(chain[1:], operands, strict=False):
        gap = processed[left.end_col_offset or 0 : right.col_offset].strip()
        if gap != ("*" if exponent == 1 else "/"):
            return None
    factors: list[Factor] = []
    for exponent, operand in chain:
        if isinstance(operand, ast.Name):
            code = source.placeholders.get(operand.id, operand.id)
            factors.append(Factor(code=code, number=None, exponent=exponent))
        elif isinstance(operand, ast.Constant) and isinstance(operand.value, int | float):
            factors.append(Factor(code=None, number=float(operand.value), exponent=exponent))
        else:
            return None
    return tuple(factors)


def _parsed_or_none(text: str) -> Formula | None:
    try:
        return parse_formula(text) if text.strip() else None
    except FormulaError:
        return None


def parse_formula(text: str, allowed_names: Iterable[str] | None = None) -> Formula:
    """Parse and check ``text`` once; return a :class:`Formula` ready to evaluate.

    If ``allowed_names`` is given, every referenced code must be in it. Raises
    :class:`FormulaError` for anything outside the whitelist.
    """
    if not isinstance(text, str):
        raise TypeError(f"formula text must be a str, not {type(text).__name__}")
    allowed = None if allowed_names is None else frozenset(allowed_names)
    source = _Source(text)
    tree = source.parse()
    compiler = _Compiler(source, allowed)
    evaluator = compiler.compile(tree.body, 1)
    return Formula(
        text=text,
        names=frozenset(compiler.names),
        _evaluator=evaluator,
        occurrences=tuple(sorted(compiler.occurrences)),
    )


def referenced_names(text: str) -> frozenset[str]:
    """The child codes referenced by ``text`` (parsed with the same rules; may raise FormulaError)."""
    return parse_formula(text).names


def format_code(code: str) -> str:
    """How ``code`` is written in a formula: as is when it is an identifier, else in brackets."""
    if code.isidentifier() and not keyword.iskeyword(code):
        return code
    return f"[{code}]"


# --------------------------------------------------------------------------------------------
# Source text: checks before parsing, bracketed codes, positions.
# --------------------------------------------------------------------------------------------


class _Source:
    """The original text, the ASCII text given to ``ast.parse``, and the map between them.

    Each ``[code]`` is replaced by a placeholder identifier; every other character keeps its
    place (tabs and newlines become spaces), so offsets from the parser map straight back.
    """

    def __init__(self, text: str) -> None:
        self.text = text
        self.placeholders: dict[str, str] = {}
        self.processed = ""
        # start[k]: original offset of processed char k; end[k]: original offset just after
        # processed char k - 1. Both have len(processed) + 1 entries.
        self.start: list[int] = []
        self.end: list[int] = [0]

    # -- checks and preprocessing --

    def parse(self) -> ast.Expression:
        text = self.text
        if not text.strip():
            raise FormulaError(_("The formula is empty."), None)
        if len(text) > MAX_LENGTH:
            raise FormulaError(
                _("The formula is too long (%(length)d characters; the maximum is %(max)d).")
                % {"length": len(text), "max": MAX_LENGTH},
                MAX_LENGTH,
            )
        refused = _REFUSED.search(text)
        if refused:
            i = refused.start()
            raise FormulaError(
                _(
                    "'%(char)s' (character %(pos)d) cannot be used; write formulas with "
                    "half-width letters, digits, + - * / ( ) and [ ]."
                )
                % {"char": text[i], "pos": i + 1},
                i,
            )
        self._replace_brackets()
        try:
            tree = ast.parse(self.processed, mode="eval")
        except SyntaxError as exc:
            raise self._syntax_error(exc) from None
        except (RecursionError, MemoryError):
            raise _too_deep(None) from None
        return tree

    def _replace_brackets(self) -> None:
        text = self.text
        if "[" not in text:  # nothing to replace: every offset maps to itself
            self.processed = text.translate(_SPACES)
            self.start = list(range(len(text) + 1))
            self.end = list(range(len(text) + 1))
            return
        prefix = "_kpi_code"
        while prefix in text:
            prefix += "_"
        out: list[str] = []
        i = 0
        n = len(text)
        while i < n:
            ch = text[i]
            if ch == "[":
                close = text.find("]", i + 1)
                content = text[i + 1 : close] if close != -1 else ""
                # Leave lists ([a, b]), nested brackets, quotes and subscripts (a[0]) to the
                # parser, which reports them precisely; replace everything else.
                if (
                    close != -1
                    and not any(c in content for c in ",[]'\"")
                    and not self._after_operand(out)
                ):
                    code = content.strip(" \t\r\n")
                    if not CODE_RE.fullmatch(code):
                        raise FormulaError(
                            _(
                                "'%(text)s' is not a valid code in square brackets: codes are 1 "
                                "to 64 letters, digits, '-', '_' or '.'."
                            )
                            % {"text": _shorten(text[i : close + 1])},
                            i,
                        )
                    name = f"{prefix}{len(self.placeholders)}"
                    self.placeholders[name] = code
                    out.append(name)
                    self.start.extend([i] * len(name))
                    self.end.extend([close + 1] * len(name))
                    i = close + 1
                    continue
            out.append(" " if ch in _WHITESPACE else ch)
            self.start.append(i)
            self.end.append(i + 1)
            i += 1
        self.start.append(n)
        self.processed = "".join(out)

    @staticmethod
    def _after_operand(out: list[str]) -> bool:
        """Whether a '[' here follows an operand, so Python reads it as a subscript."""
        before = "".join(out).rstrip()
        if not before:
            return False
        last = before[-1]
        if last in ")]":
            return True
        if not (last.isalnum() or last == "_"):
            return False
        match = re.search(r"[A-Za-z0-9_]+$", before)
        word = match[0] if match else ""
        return not keyword.iskeyword(word) or word in ("True", "False", "None")

    # -- positions --

    def pos(self, offset: int) -> int:
        """Original 0-based offset of a processed-text offset."""
        return self.start[max(0, min(offset, len(self.start) - 1))]

    def node_pos(self, node: _Located) -> int:
        return self.pos(node.col_offset)

    def span(self, node: _Located) -> tuple[int, int]:
        """Where ``node`` is written in the original text: (start, end)."""
        end_offset = max(0, min(node.end_col_offset or 0, len(self.end) - 1))
        return self.pos(node.col_offset), self.end[end_offset]

    def segment(self, node: _Located) -> str:
        """The original text of ``node``."""
        start, end = self.span(node)
        return self.text[start:end]

    def op_pos(self, left: _Located, right: _Located) -> int:
        """Position of the operator written between ``left`` and ``right``."""
        lo, hi = left.end_col_offset or 0, right.col_offset
        for k in range(lo, hi):
            if self.processed[k] not in " ()":
                return self.pos(k)
        return self.pos(lo)

    def _syntax_error(self, exc: SyntaxError) -> FormulaError:
        msg = exc.msg or ""
        if "too many nested parentheses" in msg:
            return _too_deep(None)
        offset = exc.offset or 0
        if exc.lineno not in (None, 1):
            offset = 0
        if offset <= 0 or offset > len(self.processed.rstrip()):
            return FormulaError(
                _("The formula ends too early; a value or a closing parenthesis is missing."),
                len(self.text),
            )
        position = self.pos(offset - 1)
        if "was never closed" in msg:
            message = _("The parenthesis at character %(pos)d is never closed.")
        elif "unmatched" in msg:
            message = _(
                "The closing parenthesis at character %(pos)d has no matching opening parenthesis."
            )
        else:
            message = _("Syntax error at character %(pos)d.")
        return FormulaError(message % {"pos": position + 1}, position)


def _shorten(s: str, limit: int = 40) -> str:
    return s if len(s) <= limit else s[: limit - 1] + "…"


def _too_deep(position: int | None) -> FormulaError:
    return FormulaError(
        _("The formula is nested too deeply (more than %(max)d levels).") % {"max": MAX_DEPTH},
        position,
    )


# --------------------------------------------------------------------------------------------
# Whitelist check and compilation to closures.
# --------------------------------------------------------------------------------------------


def _clean(x):
    """Replace inf by NaN (x is a fresh result, so arrays may be changed in place)."""
    if isinstance(x, np.ndarray):
        finite = np.isfinite(x)
        if not finite.all():
            x[~finite] = np.nan
        return x
    return x if math.isfinite(x) else _NAN


_ADDITIVE: dict[type[ast.operator], np.ufunc] = {ast.Add: np.add, ast.Sub: np.subtract}
_MULTIPLICATIVE: dict[type[ast.operator], np.ufunc] = {ast.Mult: np.multiply, ast.Div: np.divide}
_OPERATOR_SYMBOLS = {
    ast.Pow: "**",
    ast.FloorDiv: "//",
    ast.Mod: "%",
    ast.MatMult: "@",
    ast.LShift: "<<",
    ast.RShift: ">>",
    ast.BitAnd: "&",
    ast.BitOr: "|",
    ast.BitXor: "^",
    ast.Invert: "~",
}
_COMPARISON_SYMBOLS = {
    ast.Eq: "==",
    ast.NotEq: "!=",
    ast.Lt: "<",
    ast.LtE: "<=",
    ast.Gt: ">",
    ast.GtE: ">=",
    ast.Is: "is",
    ast.IsNot: "is not",
    ast.In: "in",
    ast.NotIn: "not in",
}


class _Compiler:
    def __init__(self, source: _Source, allowed: frozenset[str] | None) -> None:
        self.source = source
        self.allowed = allowed
        self.names: set[str] = set()
        self.occurrences: list[_Occurrence] = []

    def error(self, message: str, node: _Located | None = None, **params) -> FormulaError:
        position = None if node is None else self.source.node_pos(node)
        return FormulaError(message % params if params else message, position)

    def compile(self, node: ast.expr, depth: int) -> _Evaluator:
        if depth > MAX_DEPTH:
            raise _too_deep(self.source.node_pos(node))
        if isinstance(node, ast.Constant):
            return self._constant(node)
        if isinstance(node, ast.Name):
            return self._name(node)
        if isinstance(node, ast.UnaryOp):
            return self._unary(node, depth)
        if isinstance(node, ast.BinOp):
            return self._binary(node, depth)
        if isinstance(node, ast.Call):
            return self._call(node, depth)
        raise self._rejected(node)

    # -- leaves --

    def _constant(self, node: ast.Constant) -> _Evaluator:
        value = node.value
        if isinstance(value, bool):
            raise self.error(_("True and False are not allowed; use 1 or 0."), node)
        if isinstance(value, str | bytes):
            raise self.error(
                _("Text in quotes is not allowed; a formula uses only numbers and codes."), node
            )
        if not isinstance(value, int | float):
            raise self.error(
                _("Only plain numbers such as 100 or 2.5 are allowed, not '%(text)s'."),
                node,
                text=_shorten(self.source.segment(node)),
            )
        try:
            number = np.float64(float(value))
        except OverflowError:
            number = np.float64("inf")
        if not math.isfinite(number):
            raise self.error(
                _("The number '%(text)s' is too large."),
                node,
                text=_shorten(self.source.segment(node)),
            )
        return lambda values: number

    def _name(self, node: ast.Name) -> _Evaluator:
        name = self.source.placeholders.get(node.id, node.id)
        if not CODE_RE.fullmatch(name):
            raise self.error(
                _(
                    "'%(name)s' is not a valid code: codes are 1 to 64 letters, digits, '-', '_' "
                    "or '.'."
                ),
                node,
                name=_shorten(name),
            )
        if self.allowed is not None and name not in self.allowed:
            if self.allowed:
                listed = sorted(self.allowed)
                allowed_text = ", ".join(format_code(c) for c in listed[:40])
                if len(listed) > 40:
                    allowed_text += ", …"
                raise self.error(
                    _("'%(name)s' is not the code of a child node. Allowed codes: %(allowed)s"),
                    node,
                    name=name,
                    allowed=allowed_text,
                )
            raise self.error(
                _("'%(name)s' is not the code of a child node; this node has no children."),
                node,
                name=name,
            )
        self.names.add(name)
        # A name's offsets are always inside the text: no clamping as in span().
        source = self.source
        self.occurrences.append(
            (source.start[node.col_offset], source.end[node.end_col_offset or 0], name)
        )

        def load(values, name=name):
            value = values[name]
            if type(value) is not np.ndarray or value.dtype != np.float64:
                value = np.asarray(np.nan if value is None else value, dtype=np.float64)
            finite = np.isfinite(value)
            if not finite.all():
                value = np.where(finite, value, np.nan)
            return value

        return load

    # -- operators --

    def _unary(self, unary: ast.UnaryOp, depth: int) -> _Evaluator:
        negative = False
        node: ast.expr = unary
        # A chain such as - - + a is one level.
        while isinstance(node, ast.UnaryOp):
            if isinstance(node.op, ast.USub):
                negative = not negative
            elif isinstance(node.op, ast.UAdd):
                pass
            elif isinstance(node.op, ast.Not):
                raise self._boolean(node)
            else:
                raise self._operator(node, "~", self.source.node_pos(node))
            node = node.operand
        operand = self.compile(node, depth + 1)
        if not negative:
            return operand
        return lambda values: np.negative(operand(values))

    def _binary(self, node: ast.BinOp, depth: int) -> _Evaluator:
        op_type = type(node.op)
        if op_type in _ADDITIVE:
            table = _ADDITIVE
        elif op_type in _MULTIPLICATIVE:
            table = _MULTIPLICATIVE
        else:
            symbol = _OPERATOR_SYMBOLS.get(op_type, "?")
            raise self._operator(node, symbol, self.source.op_pos(node.left, node.right))
        # Flatten a left-associative chain such as a + b - c + d into one level.
        chain: list[ast.BinOp] = []
        first: ast.expr = node
        while isinstance(first, ast.BinOp) and type(first.op) in table:
            chain.append(first)
            first = first.left
        chain.reverse()
        head = self.compile(first, depth + 1)
        rest = [(table[type(b.op)], self.compile(b.right, depth + 1)) for b in chain]
        if len(rest) == 1:
            (ufunc, right), left = rest[0], head
            return lambda values: _clean(ufunc(left(values), right(values)))

        def chain_eval(values):
            acc = head(values)
            for ufunc, operand in rest:
                acc = _clean(ufunc(acc, operand(values)))
            return acc

        return chain_eval

    def _operator(self, node: _Located, symbol: str, position: int) -> FormulaError:
        return FormulaError(
            _("The operator %(op)s is not allowed; use + - * / and parentheses.") % {"op": symbol},
            position,
        )

    def _boolean(self, node: _Located) -> FormulaError:
        return self.error(
            _("Logical operators (and, or, not) are not allowed; a formula computes a number."),
            node,
        )

    # -- calls --

    def _call(self, node: ast.Call, depth: int) -> _Evaluator:
        name = self._function_name(node)
        if name in ("min", "max"):
            return self._extreme(node, name, depth)
        if name == "abs":
            if len(node.args) != 1:
                raise self.error(_("abs() takes exactly one value, for example abs(a - b)."), node)
            operand = self.compile(node.args[0], depth + 1)
            return lambda values: np.abs(operand(values))
        return self._round(node, depth)

    def _function_name(self, node: ast.Call) -> str:
        """The allowed function ``node`` calls, its arguments plain values; else FormulaError."""
        func = node.func
        name = func.id if isinstance(func, ast.Name) else None
        if name in self.source.placeholders:
            name = None
        if name is None:
            raise self.error(_("Only min(), max(), abs() and round() may be called."), node)
        if name not in _FUNCTIONS:
            raise self.error(
                _("Only min(), max(), abs() and round() may be called, not %(name)s()."),
                node,
                name=_shorten(name),
            )
        if node.keywords:
            kw = node.keywords[0]
            raise FormulaError(
                _("Named arguments are not allowed in %(func)s(); write the values only.")
                % {"func": name},
                self.source.node_pos(kw),
            )
        for arg in node.args:
            if isinstance(arg, ast.Starred):
                raise self.error(
                    _("Unpacking with * is not allowed in %(func)s()."), arg, func=name
                )
        return name

    def _extreme(self, node: ast.Call, name: str, depth: int) -> _Evaluator:
        """min() or max() of two or more values."""
        if len(node.args) < 2:
            raise self.error(
                _("%(func)s() needs at least two values, for example %(func)s(a, b)."),
                node,
                func=name,
            )
        fns = [self.compile(a, depth + 1) for a in node.args]
        ufunc = np.minimum if name == "min" else np.maximum
        if len(fns) == 2:
            f0, f1 = fns
            return lambda values: ufunc(f0(values), f1(values))

        def extreme(values: Mapping[str, Any]) -> Any:
            acc = fns[0](values)
            for fn in fns[1:]:
                acc = ufunc(acc, fn(values))
            return acc

        return extreme

    def _round(self, node: ast.Call, depth: int) -> _Evaluator:
        """round(value) or round(value, digits), digits a literal from 0 to MAX_ROUND_DIGITS."""
        args = node.args
        if len(args) not in (1, 2):
            raise self.error(
                _(
                    "round() takes a value and optionally a number of digits, for example round(a) or round(a, 2)."
                ),
                node,
            )
        digits = 0
        if len(args) == 2:
            digit_node = args[1]
            if not (
                isinstance(digit_node, ast.Constant)
                and type(digit_node.value) is int
                and 0 <= digit_node.value <= MAX_ROUND_DIGITS
            ):
                raise self.error(
                    _(
                        "The number of digits in round() must be a whole number from 0 to "
                        "%(max)d written directly, for example round(a, 2)."
                    ),
                    digit_node,
                    max=MAX_ROUND_DIGITS,
                )
            digits = digit_node.value
        operand = self.compile(args[0], depth + 1)
        return lambda values: _clean(np.round(operand(values), digits))

    # -- everything else --

    def _rejected(self, node: ast.expr) -> FormulaError:
        text = _shorten(self.source.segment(node))
        if isinstance(node, ast.Attribute):
            return self.error(
                _(
                    "'%(text)s' is not allowed; write a code that contains '.' in square "
                    "brackets, for example [lp.visits]."
                ),
                node,
                text=text,
            )
        if isinstance(node, ast.Subscript):
            return self.error(
                _(
                    "Indexing such as '%(text)s' is not allowed; square brackets may only enclose "
                    "a whole code, for example [ads-cpa]."
                ),
                node,
                text=text,
            )
        if isinstance(node, ast.JoinedStr):
            return self.error(
                _("Text in quotes is not allowed; a formula uses only numbers and codes."), node
            )
        if isinstance(node, ast.BoolOp):
            return self._boolean(node)
        if isinstance(node, ast.Compare):
            symbol = _COMPARISON_SYMBOLS.get(type(node.ops[0]), "?")
            return FormulaError(
                _("Comparisons such as %(op)s are not allowed; a formula computes a number.")
                % {"op": symbol},
                self.source.op_pos(node.left, node.comparators[0]),
            )
        if isinstance(node, ast.IfExp):
            return self.error(_("Conditional expressions (if … else) are not allowed."), node)
        if isinstance(node, ast.Lambda):
            return self.error(_("Functions (lambda) cannot be defined in a formula."), node)
        if isinstance(node, ast.List | ast.Tuple | ast.Set | ast.Dict):
            return self.error(
                _(
                    "Lists, tuples, sets and dictionaries are not allowed; square brackets may "
                    "only enclose a single code, for example [ads-cpa]."
                ),
                node,
            )
        return self.error(_("'%(text)s' is not allowed in a formula."), node, text=text)
