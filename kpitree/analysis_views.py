"""The what-if panel's pages (`{% whatif_panel node %}`, kpitree/templatetags/whatif.py).

Both answer a POST from the panel's forms, without saving anything: htmx swaps the fragment into
the panel; a plain form post (no script) gets the same fragment on a page of its own. A tree the
user may not see answers 404; a hidden node is refused like an unknown one.

- `whatif`: a leaf changed by a percentage in a month → the leaf and its ancestors before and
  after, and the elasticities of a node (the KPI's own, else the KGI) as a sorted table with bars;
- `goal_seek`: the value a leaf needs for a node to reach a value in the month.
"""

from __future__ import annotations

from django import forms
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from kpi_planner import numbers
from kpi_planner.access import get_visible_or_404, trees_for
from kpi_planner.errors import ServiceError, add_form_errors
from kpi_planner.months import parse_month
from kpi_planner.numbers import parse_number
from kpitree import analysis, whatif
from kpitree.models import Tree


class NumberField(forms.CharField):
    """A number as people type it (full-width digits, commas, %: kpi_planner.numbers)."""

    default_error_messages = {"number": _("Enter a number.")}

    def clean(self, value):
        text = super().clean(value)
        if text in self.empty_values:
            return None
        number = parse_number(text)
        if number is None:
            raise forms.ValidationError(self.error_messages["number"], code="number")
        return number


class MonthChoice(forms.CharField):
    default_error_messages = {"month": _("Write the month as YYYY-MM.")}

    def clean(self, value):
        month = parse_month(super().clean(value) or "")
        if month is None:
            raise forms.ValidationError(self.error_messages["month"], code="month")
        return month


class WhatIfForm(forms.Form):
    period = MonthChoice(label=_("Month"))
    leaf = forms.CharField(label=_("Input KPI"), max_length=64)
    pct = NumberField(label=_("Change (%)"), max_length=32)
    of = forms.CharField(required=False, max_length=64)


class GoalSeekForm(forms.Form):
    period = MonthChoice(label=_("Month"))
    node = forms.CharField(label=_("KPI to reach"), max_length=64)
    value = NumberField(label=_("Value to reach"), max_length=32)
    leaf = forms.CharField(label=_("Input KPI to solve for"), max_length=64)


def _answer(request: HttpRequest, template: str, ctx: dict) -> HttpResponse:
    if request.headers.get("HX-Request") == "true":
        return render(request, template, ctx)
    return render(request, "kpitree/_whatif_page.html", {**ctx, "fragment": template})


def _tree(request: HttpRequest, code: str) -> Tree:
    return get_visible_or_404(trees_for(request.user), code=code)


# A change's problems name its `node` and `value`: on this form, the leaf and the percentage.
CHANGE_FIELDS = {"node": "leaf", "value": "pct"}


@login_required
@require_POST
def whatif_view(request: HttpRequest, code: str) -> HttpResponse:
    tree = _tree(request, code)
    form = WhatIfForm(request.POST)
    ctx: dict = {"tree": tree, "form": form}
    if form.is_valid():
        data = form.cleaned_data
        try:
            tm = analysis.tree_month(user=request.user, tree=tree, period=data["period"])
            change = whatif.Change(data["leaf"], pct=data["pct"])
            result = analysis.what_if(tm, [change])
        except ServiceError as exc:
            add_form_errors(form, exc, lambda p: CHANGE_FIELDS.get(p.field or "", p.field))
        else:
            try:
                sensitivity = analysis.sensitivity(tm, data["of"] or None)
            except ServiceError as exc:  # the node of the elasticities: not a field shown
                add_form_errors(form, exc, lambda p: None)
            else:
                ctx.update(_whatif_context(tm, result, sensitivity, data))
    return _answer(request, "kpitree/_whatif_result.html", ctx)


def _whatif_context(tm: analysis.TreeMonth, result: dict, sensitivity: dict, data: dict) -> dict:
    by_code = {row["node"]: row for row in result["nodes"]}
    leaf = data["leaf"]
    path = [leaf, *(c for c in tm.scenario.ancestors(leaf) if c in by_code)]
    rows = sensitivity["leaves"]
    largest = max((abs(r["elasticity"]) for r in rows if r["elasticity"] is not None), default=0)
    for r in rows:
        e = r["elasticity"]
        r["bar"] = 0 if e is None or not largest else round(abs(e) / largest * 100, 1)
        r["negative"] = e is not None and e < 0
    moves = [{**by_code[c], "change": numbers.change(by_code[c]["pct"])} for c in path]
    return {
        "period": tm.period,
        "leaf": by_code[leaf],
        "change": numbers.change(data["pct"]),
        "moves": moves,
        "sensitivity": sensitivity,
    }


@login_required
@require_POST
def goal_seek_view(request: HttpRequest, code: str) -> HttpResponse:
    tree = _tree(request, code)
    form = GoalSeekForm(request.POST)
    ctx: dict = {"tree": tree, "form": form}
    if form.is_valid():
        data = form.cleaned_data
        try:
            tm = analysis.tree_month(user=request.user, tree=tree, period=data["period"])
            result = analysis.goal_seek(
                tm, node=data["node"], goal=data["value"], leaf=data["leaf"]
            )
        except ServiceError as exc:
            add_form_errors(form, exc)
        else:
            ctx.update({"period": tm.period, "result": result})
    return _answer(request, "kpitree/_whatif_goal.html", ctx)
