"""Numbers: what people type made into numbers, and numbers written for the reader.

The one home of both; static/js/numbers.js mirrors it for the pages' scripts.

Parsing takes what people type with a Japanese IME or paste from Excel: full-width digits and
signs, thousands separators, spaces, a yen sign or 円, a %, and the Japanese minus signs ▲/△
("▲1,200" = -1200). JSON numbers pass as they are.

Display has one function per rule, in the reader's language (Django's separators for it):
- `number(value, digits)`: fixed decimals, grouped (scores, weights: 1,234.5);
- `value(value, unit)`: a KPI value with only the decimals it needs and its unit
  (3,000件, 12.5%, 0.35); yen as whole yen (`yen`);
- `yen(value)`: 10,000,000円 in Japanese, ¥10,000,000 in English;
- `pct(value, digits)`: fixed decimals and "%"; `change(value)`: the same, signed (+4.0%);
- `signed_yen(value)`: an adjustment of money, signed (+50,000円); `round_yen` is money's one
  rounding rule (half away from zero, once, on an exact total).
A missing value (None or NaN) is "—" in all of them. `Numbers` looks the separators up once,
for pages that format thousands of values.
"""

from __future__ import annotations

import math
import unicodedata
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.utils import formats
from django.utils.translation import get_language

MISSING = "—"
#: Units whose values are money, shown as whole yen.
YEN_UNITS = ("円", "JPY", "¥")

# After NFKC, full-width characters are ASCII and the ideographic and no-break spaces are " ".
_DROP = str.maketrans("", "", ", %円¥")
_MINUS_SIGNS = ("▲", "△")


# -- parsing what people type ---------------------------------------------------------------------


def clean_number(text: object) -> str:
    """What people type into a number cell, made parseable ('３,０００円' → '3000',
    '▲1,200' → '-1200', '12.5%' → '12.5'); "" when nothing was typed. A number passes as
    its repr. Anything else is left as it is, for the caller to refuse with its message."""
    if isinstance(text, int | float) and not isinstance(text, bool):
        return repr(text)
    s = unicodedata.normalize("NFKC", str(text or "")).translate(_DROP).strip()
    s = s.replace("\u2212", "-")  # the minus sign of some keyboards and PDFs
    return "-" + s[1:] if s[:1] in _MINUS_SIGNS else s


def parse_number(value: Any) -> float | None:
    """A finite number from JSON (int/float) or typed text (see clean_number); None otherwise."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        if isinstance(value, int | float):
            number = float(value)  # OverflowError for an integer beyond any float (10**400)
        elif isinstance(value, str):
            number = float(clean_number(value))
        else:
            return None
    except (ValueError, OverflowError):
        return None
    return number if math.isfinite(number) else None


def input_text(value: float | int | None) -> str:
    """A stored value written back into an input field or a file: no grouping, no '.0'."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e16:
        return str(int(value))
    return repr(value)


# -- display by unit -------------------------------------------------------------------------------


def is_missing(value: Any) -> bool:
    return value is None or value == "" or (isinstance(value, float) and math.isnan(value))


def _needed_digits(value: float) -> int:
    """The decimals a KPI value shows: none for whole or large values, one from 10, else two."""
    if value == round(value) or abs(value) >= 1000:
        return 0
    return 1 if abs(value) >= 10 else 2


class Numbers:
    """The display rules with the reader's language and separators looked up once."""

    def __init__(self) -> None:
        self.english = (get_language() or "ja").startswith("en")
        self.decimal = str(formats.get_format("DECIMAL_SEPARATOR"))
        self.thousands = str(formats.get_format("THOUSAND_SEPARATOR"))
        table: dict[str, str | int | None] = {",": self.thousands, ".": self.decimal}
        self._separators = str.maketrans(table)

    def _grouped(self, value: Any, digits: int) -> str:
        text = f"{value:,.{digits}f}"
        if text.startswith("-") and not text.strip("-0."):
            text = text[1:]  # -0.04 with one decimal is 0.0, not -0.0
        if (self.thousands, self.decimal) != (",", "."):
            text = text.translate(self._separators)
        return text

    def number(self, value: Any, digits: int = 0) -> str:
        """Fixed decimals, grouped: 1,234,568 / 1,234,567.89 / 96.0."""
        return MISSING if is_missing(value) else self._grouped(value, digits)

    def yen(self, value: Any) -> str:
        """Whole yen: 1,000,000円 in Japanese, ¥1,000,000 in English."""
        if is_missing(value):
            return MISSING
        amount = self._grouped(round(value), 0)
        if self.english:  # -¥20,000, not ¥-20,000
            return f"-¥{amount[1:]}" if amount.startswith("-") else f"¥{amount}"
        return f"{amount}円"

    def signed_yen(self, value: Any) -> str:
        """An adjustment of money, signed, in whole yen or with the sen it has:
        +50,000円 / -9,999.99円 (English: +¥50,000)."""
        if is_missing(value):
            return MISSING
        exact = Decimal(str(value))
        digits = 0 if exact == exact.to_integral_value() else 2
        amount = self._grouped(abs(exact), digits)
        sign = "+" if exact > 0 else "-" if exact < 0 else ""
        return f"{sign}¥{amount}" if self.english else f"{sign}{amount}円"

    def value(self, value: Any, unit: str = "") -> str:
        """A KPI value with only the decimals it needs and its unit: 10,000,000円 /
        ¥10,000,000, 2.5%, 3,000件 (3,000 items in English), 0.35."""
        if is_missing(value):
            return MISSING
        if unit in YEN_UNITS:
            return self.yen(value)
        digits = _needed_digits(value)
        text = self._grouped(round(value, digits), digits)
        if digits:  # 2.50 → 2.5
            text = text.rstrip("0").rstrip(self.decimal)
        if not unit or unit == "%":
            return f"{text}{unit}"
        return f"{text} {unit}" if self.english else f"{text}{unit}"

    def pct(self, value: Any, digits: int = 1) -> str:
        """A percentage with fixed decimals: 88.3%."""
        return MISSING if is_missing(value) else self._grouped(value, digits) + "%"

    def change(self, value: Any) -> str:
        """A change in percent, signed: +4.0% / -13.1%."""
        if is_missing(value):
            return MISSING
        return ("+" if value > 0 else "") + self.pct(value, 1)


def number(value: Any, digits: int = 0) -> str:
    return Numbers().number(value, digits)


def yen(value: Any) -> str:
    return Numbers().yen(value)


def value(value: Any, unit: str = "") -> str:
    return Numbers().value(value, unit)


def signed_yen(value: Any) -> str:
    return Numbers().signed_yen(value)


def round_yen(amount: Decimal | int) -> int:
    """Money's one rounding rule: to whole yen, half away from zero (四捨五入), applied once,
    to a total computed exactly (money.engine)."""
    return int(Decimal(amount).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def pct(value: Any, digits: int = 1) -> str:
    return Numbers().pct(value, digits)


def change(value: Any) -> str:
    return Numbers().change(value)
