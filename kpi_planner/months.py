"""Months, the period of every value: the first day of the month in the database, "YYYY-MM" at
the edges, Asia/Tokyo for "now". The one home of month arithmetic (issue 11 moves the other
copies here)."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone


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
