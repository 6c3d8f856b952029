"""Months, the period of every value: the first day of the month in the database, "YYYY-MM" at
the edges, Asia/Tokyo for "now". The one home of parsing, writing and adding months."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from django.utils import timezone

_MONTH_RE = re.compile(r"^(\d{4})-(\d{2})$")
#: What parse_month accepts, for the API schema.
MONTH_PATTERN = r"^(19\d\d|2\d\d\d)-(0[1-9]|1[0-2])$"
#: A month in a URL path (the view then checks it is a month of the engagement).
MONTH_URL_RE = r"\d{4}-\d{2}"


def parse_month(value: Any) -> dt.date | None:
    """'2026-04' → date(2026, 4, 1); None when it is not a YYYY-MM month of 1900-2999.
    Spaces around the text are ignored."""
    if not isinstance(value, str):
        return None
    match = _MONTH_RE.match(value.strip())
    if not match:
        return None
    year, month = int(match[1]), int(match[2])
    if not (1 <= month <= 12 and 1900 <= year <= 2999):
        return None
    return dt.date(year, month, 1)


def month_text(period: dt.date) -> str:
    """date(2026, 4, 1) → '2026-04', the form of a month at the edges (API, URLs, files)."""
    return f"{period.year:04d}-{period.month:02d}"


def month_add(period: dt.date, months: int) -> dt.date:
    """The first of the month `months` after (or before, when negative) `period`'s month."""
    index = period.year * 12 + period.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)


def current_month(today: dt.date | None = None) -> dt.date:
    """The first of this month in the site's time zone."""
    return (today or timezone.localdate()).replace(day=1)


def last_reportable_month(today: dt.date | None = None) -> dt.date:
    """The latest month whose actuals may be entered: the last month that has ended, or this
    month when ACTUALS_ALLOW_CURRENT_MONTH is set (weekly feeds that report as they go)."""
    from django.conf import settings

    month = current_month(today)
    return month if settings.ACTUALS_ALLOW_CURRENT_MONTH else month_add(month, -1)
