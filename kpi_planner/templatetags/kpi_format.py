"""Numbers, yen and months formatted for the reader's language, in templates.

The rules are kpi_planner.numbers' (one function per rule); the month is Django's
YEAR_MONTH_FORMAT of the active language."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django import template
from django.utils import formats

from kpi_planner import numbers

register = template.Library()


@register.filter
def yen(value: int | Decimal | float | None) -> str:
    """1000000 → '1,000,000円' in Japanese, '¥1,000,000' in English."""
    return numbers.yen(value)


@register.filter
def month(value: dt.date | None) -> str:
    """A period as '2026年4月' or 'April 2026'."""
    if not value:
        return numbers.MISSING
    return formats.date_format(value, "YEAR_MONTH_FORMAT")


@register.filter
def number(value: float | int | None, digits: int = 0) -> str:
    """Fixed decimals, grouped: 1,234.5."""
    return numbers.number(value, digits)


@register.filter
def kpi_value(value: float | int | None, unit: str = "") -> str:
    """A KPI value with only the decimals it needs and its unit: 3,000件, 12.5%, 10,000,000円."""
    return numbers.value(value, unit)


@register.filter
def signed_yen(value: int | Decimal | float | None) -> str:
    """An adjustment of money, signed: '+50,000円' / '-¥30,000' (the sen kept when it has them)."""
    return numbers.signed_yen(value)


@register.filter
def pct(value: float | None, digits: int = 1) -> str:
    """A percentage with fixed decimals: 88.3%."""
    return numbers.pct(value, digits)


@register.filter
def as_pct(fraction: float | None, digits: int = 1) -> str:
    """A ratio written as a percentage: 4.0 → 400.0% (ROI, gain per cost)."""
    return numbers.pct(
        None if fraction is None or numbers.is_missing(fraction) else fraction * 100, digits
    )
