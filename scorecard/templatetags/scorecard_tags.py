"""Template helpers of the scorecard pages: status badges, scores, changes, plotly.js URL."""

from __future__ import annotations

from urllib.parse import urlencode

import plotly
from django import template
from django.urls import reverse
from django.utils.html import format_html

from kpi_planner import numbers
from scorecard.tables import status_label

register = template.Library()


@register.simple_tag
def plotly_js_url() -> str:
    return reverse("scorecard:plotly_js", args=[plotly.__version__])


@register.simple_tag
def status_badge(status: str | None, text: str = "") -> str:
    status = status or "none"
    return format_html(
        '<span class="status status-{}">{}</span>', status, text or status_label(status)
    )


# The display rules of kpi_planner.numbers, under the names the scorecard templates use.


@register.filter
def score(value: float | None) -> str:
    return numbers.number(value, 1)


@register.filter
def pct(value: float | None, digits: int = 1) -> str:
    return numbers.pct(value, digits)


@register.filter
def change(value: float | None) -> str:
    return numbers.change(value)


@register.filter
def value(v: float | None) -> str:
    return numbers.value(v)


@register.simple_tag(takes_context=True)
def query_with(context, **params) -> str:
    """The current query string with some parameters replaced (None/"" removes them)."""
    request = context["request"]
    query = request.GET.copy()
    for key, val in params.items():
        query.pop(key, None)
        if val not in (None, ""):
            query[key] = val
    query.pop("csv", None)
    return "?" + urlencode(list(query.lists()), doseq=True)


@register.simple_tag(takes_context=True)
def csv_url(context, key: str) -> str:
    request = context["request"]
    query = request.GET.copy()
    query["csv"] = key
    return "?" + urlencode(list(query.lists()), doseq=True)


@register.simple_tag(takes_context=True)
def sort_link(context, key: str) -> str:
    """Link of a sortable column: ascending first, then descending."""
    current = context.get("sort", "")
    new = f"-{key}" if current == key else key
    return query_with(context, sort=new)


@register.filter
def get_item(mapping: dict, key: str):
    return mapping.get(key) if mapping else None
