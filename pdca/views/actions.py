"""The actions pages (issue 13): the list of tracked actions, opening one (from an off-track or
at-risk KPI, or blank), one action with its history and its edit form, and promoting a vendor's
next action. Reads are scoped by kpi_planner.access; every write is pdca.services.actions."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, path
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

if TYPE_CHECKING:
    from kpi_planner.access import AuthenticatedHttpRequest
from kpi_planner.access import (
    action_owners,
    actions_for,
    can_act_on,
    engagements_for,
    get_visible_or_404,
    nodes_for,
)
from kpi_planner.errors import ServiceError, refuse_if_forbidden
from kpi_planner.months import parse_month
from kpitree.models import Node
from pdca.forms.actions import ActionEditForm, ActionForm
from pdca.models import Action
from pdca.services import actions as services
from pdca.views import form_write


@login_required
@require_GET
def action_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    actions = actions_for(request.user).select_related("engagement", "node__tree", "owner")
    engagement_code = request.GET.get("engagement", "")
    status = request.GET.get("status", "open")
    if engagement_code:
        actions = actions.filter(engagement__code=engagement_code)
    if status == "open":
        actions = actions.filter(status__in=[Action.Status.OPEN, Action.Status.IN_PROGRESS])
    elif status in Action.Status.values:
        actions = actions.filter(status=status)
    if request.GET.get("mine"):
        actions = actions.filter(owner=request.user)
    ctx = {
        "actions": list(actions.order_by("due_on", "pk")[:500]),
        "today": timezone.localdate(),
        "engagements": engagements_for(request.user).order_by("code"),
        "filters": {
            "engagement": engagement_code,
            "status": status,
            "mine": request.GET.get("mine", ""),
        },
        "statuses": Action.Status.choices,
    }
    return render(request, "pdca/actions/list.html", ctx)


@login_required
def action_create(request: AuthenticatedHttpRequest) -> HttpResponse:
    source = request.GET.get("source", Action.Source.MANUAL)
    engagement = get_visible_or_404(
        engagements_for(request.user), code=request.GET.get("engagement", "")
    )
    if not can_act_on(request.user, engagement):
        raise PermissionDenied
    node = None
    if request.GET.get("node"):
        node = get_visible_or_404(
            nodes_for(request.user).select_related("tree"),
            tree__code=request.GET.get("tree", ""),
            code=request.GET["node"],
        )
    period = parse_month(request.GET.get("period", "")) if request.GET.get("period") else None
    initial: dict[str, object] = {
        "due_on": timezone.localdate() + dt.timedelta(days=14),
        "owner": request.user.pk,
    }
    if node is not None:
        initial["title"] = _("Bring %(kpi)s back on track") % {"kpi": node.name}
    form = ActionForm(request.POST or None, initial=initial, owners=action_owners(engagement))
    if request.method == "POST" and form.is_valid():
        action = form_write(
            form,
            lambda: services.action_open(
                user=request.user,
                engagement=engagement,
                node=node,
                source=source,
                period=period,
                **form.cleaned_data,
            ),
        )
        if action is not None:
            messages.success(request, _("The action is open."))
            return redirect("pdca:action_detail", action.pk)
    ctx = {"form": form, "engagement": engagement, "node": node, "source": source, "period": period}
    return render(request, "pdca/actions/new.html", ctx)


@login_required
def action_detail(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    action = get_visible_or_404(
        actions_for(request.user).select_related("engagement", "node__tree", "owner", "review"),
        pk=pk,
    )
    may_edit = can_act_on(request.user, action.engagement)
    initial = {
        "title": action.title,
        "owner": action.owner_id,
        "due_on": action.due_on,
        "status": action.status,
        "evidence": action.evidence,
    }
    form = ActionEditForm(
        request.POST or None, initial=initial, owners=action_owners(action.engagement)
    )
    if request.method == "POST":
        if not may_edit:
            raise PermissionDenied
        if form.is_valid():
            saved = form_write(
                form,
                lambda: services.action_update(
                    user=request.user, action=action, data=form.cleaned_data
                ),
            )
            if saved is not None:
                messages.success(request, _("The action is saved."))
                return redirect("pdca:action_detail", action.pk)
    ctx = {
        "action": action,
        "form": form,
        "may_edit": may_edit,
        "events": list(action.events.select_related("user")),
        "today": timezone.localdate(),
    }
    return render(request, "pdca/actions/detail.html", ctx)


@login_required
@require_POST
def action_promote(request: AuthenticatedHttpRequest) -> HttpResponse:
    node: Node = get_visible_or_404(
        nodes_for(request.user).select_related("tree", "engagement"),
        tree__code=request.POST.get("tree", ""),
        code=request.POST.get("node", ""),
    )
    period = parse_month(request.POST.get("period", ""))
    back = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(back, {request.get_host()}):
        back = ""
    if node.engagement is None or period is None:
        raise PermissionDenied
    try:
        action = services.action_promote_next_action(
            user=request.user, engagement=node.engagement, node=node, period=period
        )
    except ServiceError as exc:
        refuse_if_forbidden(exc)
        for message in exc.messages:
            messages.error(request, message)
        return redirect(back or "pdca:action_list")
    messages.success(
        request, _("The next action is now tracked: “%(title)s”.") % {"title": action.title}
    )
    return redirect(back) if back else redirect("pdca:action_detail", action.pk)


urlpatterns: list[URLPattern] = [
    path("actions/", action_list, name="action_list"),
    path("actions/new/", action_create, name="action_create"),
    path("actions/promote/", action_promote, name="action_promote"),
    path("actions/<int:pk>/", action_detail, name="action_detail"),
]
