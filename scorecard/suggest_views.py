"""Suggested targets of a KPI (`{% suggested_targets node %}`, scorecard/templatetags/suggest.py):
the page action that lists them and fills the targets grid with them.

- GET: the fragment of the panel (each month of the plan still to come, its suggested target and
  the reasoning) — on a page of its own;
- POST by a manager: the suggested targets of the chosen months (`period`, repeated; all the
  months with a suggestion when none is chosen) written through `kpitree.services.targets_record`
  with the suggestion's rationale and its sentence as the reason (kept in the audit), then back
  to the KPI's page. Anyone else answers 403 and nothing is written; a month without a
  suggestion, 400 and nothing is written.
A node the user may not see answers 404.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_http_methods

from kpi_planner.access import can_manage, get_visible_or_404, nodes_for
from kpi_planner.errors import ServiceError
from kpi_planner.months import parse_month
from kpi_planner.numbers import Numbers
from kpitree.models import Channel, Node
from kpitree.services import targets_record
from scorecard import suggest_queries

TEMPLATE = "scorecard/_suggest.html"


def panel_context(request: HttpRequest, node: Node, errors: list[str] | None = None) -> dict:
    numbers = Numbers()
    rows = [
        (s, s.sentence(numbers))
        for s in suggest_queries.suggestions_for(user=request.user, node=node)
    ]
    return {
        "node": node,
        "rows": rows,
        "any_value": any(s.value is not None for s, _text in rows),
        "can_manage": can_manage(request.user),
        "errors": errors or [],
    }


@login_required
@require_http_methods(["GET", "POST"])
def suggest_targets(request: HttpRequest, tree: str, node: str) -> HttpResponse:
    obj = get_visible_or_404(
        nodes_for(request.user).select_related("tree"), tree__code=tree, code=node
    )
    if request.method == "GET":
        return render(request, "scorecard/_suggest_page.html", panel_context(request, obj))
    if not can_manage(request.user):
        return HttpResponse(_("Only managers may set targets."), status=403)
    suggestions = {
        s.period: s for s in suggest_queries.suggestions_for(user=request.user, node=obj)
    }
    chosen = request.POST.getlist("period")
    periods = [parse_month(text) for text in chosen]
    if not chosen:
        periods = [m for m, s in suggestions.items() if s.value is not None]
    unknown = [text for text, m in zip(chosen, periods, strict=False) if m is None]
    unknown += [
        f"{m:%Y-%m}"
        for m in periods
        if m is not None and (m not in suggestions or suggestions[m].value is None)
    ]
    if unknown or not periods:
        error = (
            _("There is no suggested target for %(months)s.") % {"months": ", ".join(unknown)}
            if unknown
            else _("There is no suggested target to fill in.")
        )
        ctx = panel_context(request, obj, [error])
        return render(request, "scorecard/_suggest_page.html", ctx, status=400)
    numbers = Numbers()
    rows = [
        {
            "node": obj.code,
            "period": f"{m:%Y-%m}",
            "value": suggestions[m].value,
            "rationale": suggestions[m].rationale,
            "reason": suggestions[m].sentence(numbers),
        }
        for m in sorted(p for p in periods if p is not None)
    ]
    try:
        targets_record(user=request.user, tree=obj.tree, rows=rows, channel=Channel.WEB)
    except ServiceError as e:
        ctx = panel_context(request, obj, e.messages)
        return render(request, "scorecard/_suggest_page.html", ctx, status=400)
    messages.success(
        request,
        ngettext(
            "The suggested target of %(count)s month was filled in.",
            "The suggested targets of %(count)s months were filled in.",
            len(rows),
        )
        % {"count": len(rows)},
    )
    url = reverse("scorecard:kpi", kwargs={"tree": obj.tree.code, "node": obj.code})
    return redirect(f"{url}#suggested-targets")
