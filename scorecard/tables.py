"""Tables of the scorecard pages: shown as HTML (formatted for the reader) and exported as CSV
(raw values: numbers unformatted, months as YYYY-MM), from the same rows."""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
from dataclasses import dataclass, field
from typing import Any

from django.http import HttpResponse
from django.utils import formats, timezone
from django.utils.translation import gettext as _

from kpi_planner.months import month_text
from kpi_planner.numbers import Numbers as Numbers  # the display rules; scorecard.tables.Numbers
from kpi_planner.templatetags.kpi_format import month as month_filter


@dataclass(frozen=True)
class Column:
    label: str
    kind: str = "text"  # text, number, number1, pct, change, yen, month, datetime, status, link
    # A link column's cells are (text, url).


@dataclass
class Table:
    key: str  # ?csv=<key> exports it
    title: str
    columns: list[Column]
    rows: list[list[Any]] = field(default_factory=list)

    def html_rows(self) -> list[list[dict]]:
        n = Numbers()
        return [
            [cell(value, column.kind, n) for value, column in zip(row, self.columns, strict=True)]
            for row in self.rows
        ]

    def csv_response(self, filename: str) -> HttpResponse:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow([c.label for c in self.columns])
        for row in self.rows:
            writer.writerow(
                [raw(value, column.kind) for value, column in zip(row, self.columns, strict=True)]
            )
        # A BOM so that Excel opens Japanese text as UTF-8.
        response = HttpResponse(
            "\ufeff" + buffer.getvalue(), content_type="text/csv; charset=utf-8"
        )
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def status_label(status: str) -> str:
    return {"green": _("On track"), "amber": _("At risk"), "red": _("Off track")}.get(
        status, _("No data")
    )


def cell(value: Any, kind: str, numbers: Numbers | None = None) -> dict:
    """{text, css, url?, status?} for the HTML table."""
    numeric = kind in ("number", "number1", "pct", "change", "yen")
    out = {"css": "num" if numeric else "", "text": "—"}
    if kind == "link":
        text, url = value
        return {"css": "", "text": text, "url": url}
    if kind == "status":
        return {"css": "", "text": status_label(value or "none"), "status": value or "none"}
    if _missing(value):
        return out
    n = numbers or Numbers()
    if kind == "number":
        out["text"] = n.value(value)
    elif kind == "number1":
        out["text"] = n.number(value, 1)
    elif kind == "pct":
        out["text"] = n.pct(value)
    elif kind == "change":
        out["text"] = n.change(value)
    elif kind == "yen":
        out["text"] = n.yen(value)
    elif kind == "month":
        out["text"] = month_filter(value)
    elif kind == "datetime":
        out["text"] = formats.date_format(timezone.localtime(value), "SHORT_DATETIME_FORMAT")
    else:
        out["text"] = str(value)
    return out


def raw(value: Any, kind: str) -> Any:
    if kind == "link":
        return value[0]
    if _missing(value):
        return ""
    if kind == "status":
        return value
    if kind == "month" and isinstance(value, dt.date):
        return month_text(value)
    if kind == "datetime" and isinstance(value, dt.datetime):
        return timezone.localtime(value).isoformat(timespec="seconds")
    if isinstance(value, float):
        return round(value, 6)
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        # Vendor comments end up here: keep spreadsheet software from running them as formulas.
        return "'" + value
    return value
