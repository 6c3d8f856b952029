"""Numbers, yen and months formatted for the reader's language."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django import template
from django.utils import formats
from django.utils.translation import get_language

register = template.Library()


@register.filter
def yen(value: int | Decimal | float | None) -> str:
    """1000000 → '1,000,000円' in Japanese, '¥1,000,000' in English."""
    if value is None or value == "":
        return "—"
    amount = formats.number_format(round(value), use_l10n=True, force_grouping=True)
    return f"{amount}円" if (get_language() or "ja").startswith("ja") else f"¥{amount}"


@register.filter
def month(value: dt.date | None) -> str:
    """A period as '2026年4月' or 'April 2026'."""
    if not value:
        return "—"
    return formats.date_format(value, "YEAR_MONTH_FORMAT")


@register.filter
def number(value: float | int | None, digits: int = 0) -> str:
    if value is None:
        return "—"
    # number_format truncates extra decimals; round first so 95.96 shows as 96.0, not 95.9.
    return formats.number_format(
        round(value, digits), decimal_pos=digits, use_l10n=True, force_grouping=True
    )
