"""The sourcing pages, under /sourcing/: the rounds, opening one, a round's side-by-side
comparison (its proposals ranked, a table and a chart of cost per outcome), adding or changing a
proposal, withdrawing one, and choosing one.

Reads are scoped by kpi_planner.access.tenders_for: managers, supervisors and global viewers read;
a vendor (or a viewer bound to one) gets 404 everywhere, since a candidate must not see the
others' prices. Writes are managers' (403 for the readers); every write is sourcing.services.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, path
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from engagements.models import Role
from kpi_planner import numbers
from kpi_planner.access import (
    can_manage,
    get_visible_or_404,
    sees_everything,
    tenders_for,
    users_for,
    vendors_for,
)
from kpi_planner.errors import Problem, ServiceError, add_form_errors, refuse_if_forbidden
from scorecard.charts import figure_json
from sourcing import charts, queries, services
from sourcing.compare import Ranked
from sourcing.forms import ChooseForm, ProposalForm, TenderForm, WithdrawForm
from sourcing.models import Tender, VendorProposal

if TYPE_CHECKING:
    from kpi_planner.access import AuthenticatedHttpRequest

T = TypeVar("T")


def _write(
    form: forms.BaseForm,
    write: Callable[[], T],
    field_of: Callable[[Problem], str | None] | None = None,
) -> T | None:
    """The service write of a valid form: its result, or None with the refusal on the form."""
    try:
        return write()
    except ServiceError as exc:
        refuse_if_forbidden(exc)
        add_form_errors(form, exc, field_of)
        return None


def _tender(request: AuthenticatedHttpRequest, pk: int, *, write: bool = False) -> Tender:
    tender = get_visible_or_404(tenders_for(request.user), pk=pk)
    if write and not can_manage(request.user):
        raise PermissionDenied
    return tender


def _proposal(tender: Tender, pk: int) -> VendorProposal:
    return get_visible_or_404(
        VendorProposal.objects.filter(tender=tender).select_related("vendor"), pk=pk
    )


@login_required
@require_GET
def tender_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    if not sees_everything(request.user):
        raise Http404
    tenders = list(
        tenders_for(request.user).select_related("chosen__vendor", "engagement").order_by("-pk")
    )
    counts = {
        t: VendorProposal.objects.filter(tender=t, withdrawn_at__isnull=True).count()
        for t in tenders
    }
    ctx = {
        "tenders": [(t, counts[t]) for t in tenders],
        "may_manage": can_manage(request.user),
    }
    return render(request, "sourcing/list.html", ctx)


@login_required
def tender_create(request: AuthenticatedHttpRequest) -> HttpResponse:
    if not sees_everything(request.user):
        raise Http404
    if not can_manage(request.user):
        raise PermissionDenied
    form = TenderForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        tender = _write(
            form, lambda: services.tender_create(user=request.user, data=form.cleaned_data)
        )
        if tender is not None:
            messages.success(request, _("The round is open: add the vendors' proposals."))
            return redirect("sourcing:detail", tender.pk)
    return render(request, "sourcing/new.html", {"form": form})


def _percent(ratio: float | None) -> str:
    return numbers.pct(None if ratio is None else ratio * 100)


def _side_by_side(comparison: queries.Comparison) -> list[dict[str, Any]]:
    """The table's rows, one per KPI, each with a cell per ranked proposal (in rank order):
    the promise, and its ratio to the benchmark and to past actuals, as text."""
    rows = []
    for i, kpi in enumerate(comparison.kpis):
        cells = []
        for ranked in comparison.ranked:
            c = ranked.checks[i]
            cells.append(
                {
                    "value": numbers.value(c.value, kpi.unit),
                    "vs_benchmark": _percent(c.vs_benchmark) if c.vs_benchmark is not None else "",
                    "vs_past": _percent(c.vs_past) if c.vs_past is not None else "",
                    "unrealistic": c.unrealistic,
                }
            )
        rows.append(
            {
                "kpi": kpi,
                "is_outcome": kpi.code == comparison.tender.outcome_code,
                "benchmark": numbers.value(kpi.benchmark, kpi.unit),
                "past": numbers.value(kpi.past_median, kpi.unit),
                "cells": cells,
            }
        )
    return rows


def _figure(ranked: list[Ranked], unit: str) -> dict[str, Any] | None:
    if not any(r.cost_per_outcome is not None for r in ranked):
        return None
    fig, table = charts.cost_figure(ranked, unit)
    return {"id": "fig-cost", "json": figure_json(fig), "table": table}


@login_required
@require_GET
def tender_detail(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    tender = _tender(request, pk)
    comparison = queries.comparison(tender)
    outcome = comparison.outcome
    figure = _figure(comparison.ranked, outcome.unit if outcome else "")
    if request.GET.get("csv") == "cost" and figure is not None:
        return figure["table"].csv_response(f"sourcing-{tender.pk}-cost.csv")
    ctx = {
        "tender": tender,
        "comparison": comparison,
        "ranked": [(r, comparison.proposals[r.id]) for r in comparison.ranked],
        "rows": _side_by_side(comparison),
        "figure": figure,
        "may_manage": can_manage(request.user) and tender.is_open,
        "withdraw_form": WithdrawForm(),
    }
    return render(request, "sourcing/detail.html", ctx)


def _proposal_page(
    request: AuthenticatedHttpRequest, tender: Tender, proposal: VendorProposal | None
) -> HttpResponse:
    if not tender.is_open or (proposal is not None and not proposal.is_active):
        messages.error(request, _("This round is decided; its proposals no longer change."))
        return redirect("sourcing:detail", tender.pk)
    form = ProposalForm(
        request.POST or None,
        kpis=list(tender.kpis.all()),
        vendors=vendors_for(request.user).order_by("name") if proposal is None else None,
        proposal=proposal,
    )
    if request.method == "POST" and form.is_valid():
        saved = _write(
            form,
            lambda: services.proposal_save(
                user=request.user, tender=tender, proposal=proposal, data=form.service_data()
            ),
            form.field_of,
        )
        if saved is not None:
            messages.success(request, _("The proposal is saved."))
            return redirect("sourcing:detail", tender.pk)
    ctx = {"tender": tender, "proposal": proposal, "form": form}
    return render(request, "sourcing/proposal.html", ctx)


@login_required
def proposal_create(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    return _proposal_page(request, _tender(request, pk, write=True), None)


@login_required
def proposal_edit(request: AuthenticatedHttpRequest, pk: int, proposal: int) -> HttpResponse:
    tender = _tender(request, pk, write=True)
    return _proposal_page(request, tender, _proposal(tender, proposal))


@login_required
@require_POST
def proposal_withdraw(request: AuthenticatedHttpRequest, pk: int, proposal: int) -> HttpResponse:
    tender = _tender(request, pk, write=True)
    found = _proposal(tender, proposal)
    form = WithdrawForm(request.POST)
    form.is_valid()
    try:
        services.proposal_withdraw(
            user=request.user, proposal=found, reason=form.cleaned_data.get("reason", "")
        )
    except ServiceError as exc:
        refuse_if_forbidden(exc)
        for message in exc.messages:
            messages.error(request, message)
    else:
        messages.success(
            request, _("%(vendor)s's proposal is withdrawn.") % {"vendor": found.vendor.name}
        )
    return redirect("sourcing:detail", tender.pk)


@login_required
def tender_choose(request: AuthenticatedHttpRequest, pk: int, proposal: int) -> HttpResponse:
    tender = _tender(request, pk, write=True)
    found = _proposal(tender, proposal)
    if not tender.is_open or not found.is_active:
        messages.error(request, _("This round is decided; its proposals no longer change."))
        return redirect("sourcing:detail", tender.pk)
    managers = (
        users_for(request.user)
        .filter(Q(role=Role.MANAGER) | Q(is_superuser=True), is_active=True)
        .order_by("username")
    )
    form = ChooseForm(
        request.POST or None,
        managers=managers,
        initial={"name": tender.name, "manager": request.user.username},
    )
    if request.method == "POST" and form.is_valid():
        decided = _write(
            form,
            lambda: services.tender_choose(
                user=request.user, proposal=found, data=form.cleaned_data
            ),
        )
        if decided is not None and decided.engagement is not None:
            messages.success(
                request,
                _(
                    "%(vendor)s is chosen: the engagement %(code)s, its KPI tree, agreed targets "
                    "and SLA rules are made."
                )
                % {"vendor": found.vendor.name, "code": decided.engagement.code},
            )
            return redirect("sourcing:detail", tender.pk)
    comparison = queries.comparison(tender)
    ranked = next((r for r in comparison.ranked if r.id == found.pk), None)
    ctx = {
        "tender": tender,
        "proposal": found,
        "ranked": ranked,
        "form": form,
        "bands": services.DEFAULT_BANDS,
        "outcome": comparison.outcome,
    }
    return render(request, "sourcing/choose.html", ctx)


urlpatterns: list[URLPattern] = [
    path("", tender_list, name="list"),
    path("new/", tender_create, name="create"),
    path("<int:pk>/", tender_detail, name="detail"),
    path("<int:pk>/proposals/new/", proposal_create, name="proposal_create"),
    path("<int:pk>/proposals/<int:proposal>/", proposal_edit, name="proposal_edit"),
    path(
        "<int:pk>/proposals/<int:proposal>/withdraw/",
        proposal_withdraw,
        name="proposal_withdraw",
    ),
    path("<int:pk>/proposals/<int:proposal>/choose/", tender_choose, name="choose"),
]
