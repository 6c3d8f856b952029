"""Months, the period of every value: the first day of the month in the database, "YYYY-MM" at
the edges, Asia/Tokyo for "now". The one home of parsing, writing and adding months, of month
ranges and of the fiscal quarters and years a tree's fiscal_year_start defines. The reader's
form ("2026年4月" / "April 2026") is kpi_format's `month` filter (Django's YEAR_MONTH_FORMAT)."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from typing import Any

from django.utils import timezone

_MONTH_RE = re.compile(r"^(\d{4})-(\d{2})$")
#: What parse_month accepts, for the API schema.
MONTH_PATTERN = r"^(19\d\d|2\d\d\d)-(0[1-9]|1[0-2])$"
#: A month in a URL path (the view then checks it is a month of the engagement).
MONTH_URL_RE = r"\d{4}-\d{2}"


class MonthConverter:
    """A month in a URL path, <yyyymm:period>: kept as text (the view checks it is a month of
    the engagement, and answers 404 when not)."""

    regex = MONTH_URL_RE

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


# What people write for a month in a file: 2026-04, 2026/4, 2026.4, 2026年4月, 2026/04/01.
_TYPED_MONTH_RE = re.compile(
    r"^(\d{4})\s*[-/.年]\s*(\d{1,2})(?:\s*月)?(?:\s*[-/.]\s*\d{1,2}\s*日?)?$"
)


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


def month_of(text: str) -> dt.date:
    """parse_month for a month this code wrote itself (a stored "YYYY-MM"): ValueError if not."""
    period = parse_month(text)
    if period is None:
        raise ValueError(f"not a month: {text!r}")
    return period


def clean_month(text: str) -> str:
    """What people write for a month made into "YYYY-MM" ('2026/4', '２０２６年４月' → '2026-04');
    other text is returned as it is (stripped), for parse_month to refuse."""
    text = unicodedata.normalize("NFKC", text).strip()
    match = _TYPED_MONTH_RE.match(text)
    return f"{int(match[1]):04d}-{int(match[2]):02d}" if match else text


def month_text(period: dt.date) -> str:
    """date(2026, 4, 1) → '2026-04', the form of a month at the edges (API, URLs, files)."""
    return f"{period.year:04d}-{period.month:02d}"


def month_add(period: dt.date, months: int) -> dt.date:
    """The first of the month `months` after (or before, when negative) `period`'s month."""
    index = period.year * 12 + period.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)


def month_range(start: dt.date, end: dt.date) -> list[dt.date]:
    """The months from `start`'s to `end`'s, both included; [] when `end` is before `start`."""
    first = start.year * 12 + start.month - 1
    last = end.year * 12 + end.month - 1
    return [dt.date(i // 12, i % 12 + 1, 1) for i in range(first, last + 1)]


def period_start(month: dt.date, grain: str, fiscal_year_start: int = 4) -> dt.date:
    """First month of the month, fiscal quarter or fiscal year that contains `month`, for a
    fiscal year beginning in month `fiscal_year_start` (4: April, as in Japan)."""
    if grain == "month":
        return month.replace(day=1)
    offset = (month.month - fiscal_year_start) % 12  # months since the fiscal year began
    return month_add(month, -(offset % (3 if grain == "quarter" else 12)))


def fiscal_year_of(month: dt.date, fiscal_year_start: int = 4) -> dt.date:
    """First month of the fiscal year that contains `month`."""
    return period_start(month, "year", fiscal_year_start)


def current_month(today: dt.date | None = None) -> dt.date:
    """The first of this month in the site's time zone."""
    return (today or timezone.localdate()).replace(day=1)


def last_reportable_month(today: dt.date | None = None) -> dt.date:
    """The latest month whose actuals may be entered: the last month that has ended, or this
    month when ACTUALS_ALLOW_CURRENT_MONTH is set (weekly feeds that report as they go)."""
    from django.conf import settings

    month = current_month(today)
    return month if settings.ACTUALS_ALLOW_CURRENT_MONTH else month_add(month, -1)
