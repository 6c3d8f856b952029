"""The commitments pages (共通の約束, issue 15): an engagement's commitments (list, add, edit,
archive) and the checks grid (each commitment × the last 6 months, the manager's assessment of
the month and the vendor's self-assessment). Reads are scoped by kpi_planner.access (a hidden
engagement answers 404); every write is scorecard.commitment_services (a write the user may not
make answers 403)."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from engagements.models import Engagement
from kpi_planner.access import can_manage, engagements_for, get_visible_or_404
from kpi_planner.errors import ServiceError, form_write, refuse_if_forbidden
from kpi_planner.months import last_reportable_month, month_add, parse_month
from kpitree.models import Perspective
from scorecard import commitment_services as services
from scorecard.models import Assessment, Commitment

if TYPE_CHECKING:
    from kpi_planner.access import AuthenticatedHttpRequest

GRID_MONTHS = 6


class CommitmentForm(forms.Form):
    text = forms.CharField(label=gettext_lazy("Commitment"), max_length=services.TEXT_MAX)
    perspective = forms.ChoiceField(
        label=gettext_lazy("Counts in the score of"),
        choices=[("", gettext_lazy("Not scored")), *Perspective.choices],
        required=False,
        help_text=gettext_lazy(
            "Met counts as 100, partly met as 50 and not met as 0, like a KPI of this weight."
        ),
    )
    weight = forms.CharField(label=gettext_lazy("Weight"), initial="1", required=False)


class CheckForm(forms.Form):
    # No default: a month nobody has checked must not look already met.
    assessment = forms.ChoiceField(
        label=gettext_lazy("Assessment"), choices=[("", "---------"), *Assessment.choices]
    )
    note = forms.CharField(
        label=gettext_lazy("Note"),
        required=False,
        max_length=services.NOTE_MAX,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


def _engagement(request: AuthenticatedHttpRequest, code: str) -> Engagement:
    return get_visible_or_404(engagements_for(request.user), code=code)


def _commitment(engagement: Engagement, pk: int) -> Commitment:
    return get_visible_or_404(Commitment.objects.filter(engagement=engagement), pk=pk)


def _month(request: AuthenticatedHttpRequest, engagement: Engagement, raw: str) -> dt.date:
    """The month asked for, else the last reportable one, kept inside the engagement."""
    month = parse_month(raw) if raw else None
    month = month or last_reportable_month()
    return min(max(month, engagement.start_month), engagement.end_month)


@login_required
def commitment_list(request: AuthenticatedHttpRequest, code: str) -> HttpResponse:
    engagement = _engagement(request, code)
    if request.method == "POST" and not can_manage(request.user):
        raise _forbidden()
    form = CommitmentForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        saved = form_write(
            form,
            lambda: services.commitment_add(
                user=request.user, engagement=engagement, **form.cleaned_data
            ),
        )
        if saved is not None:
            messages.success(request, _("The commitment is added."))
            return redirect("scorecard:commitments", engagement.code)
    ctx = {
        "engagement": engagement,
        "commitments": services.commitments_of(engagement),
        "archived": services.commitments_of(engagement, archived=True),
        "form": form,
        "can_manage": can_manage(request.user),
        "perspectives": dict(Perspective.choices),
    }
    return render(request, "scorecard/commitments.html", ctx)


def _forbidden() -> PermissionDenied:
    return PermissionDenied(_("Only managers may change an engagement's commitments."))


@login_required
def commitment_edit(request: AuthenticatedHttpRequest, code: str, pk: int) -> HttpResponse:
    engagement = _engagement(request, code)
    commitment = _commitment(engagement, pk)
    if not can_manage(request.user):
        raise _forbidden()
    initial = {
        "text": commitment.text,
        "perspective": commitment.perspective,
        "weight": f"{commitment.weight:g}",
    }
    form = CommitmentForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        saved = form_write(
            form,
            lambda: services.commitment_edit(
                user=request.user, commitment=commitment, **form.cleaned_data
            ),
        )
        if saved is not None:
            messages.success(request, _("The commitment is saved."))
            return redirect("scorecard:commitments", engagement.code)
    ctx = {
        "engagement": engagement,
        "commitment": commitment,
        "form": form,
        "events": list(commitment.events.select_related("user", "commitment_check")),
    }
    return render(request, "scorecard/commitments_edit.html", ctx)


@login_required
@require_POST
def commitment_archive(request: AuthenticatedHttpRequest, code: str, pk: int) -> HttpResponse:
    engagement = _engagement(request, code)
    commitment = _commitment(engagement, pk)
    try:
        services.commitment_archive(user=request.user, commitment=commitment)
    except ServiceError as exc:
        refuse_if_forbidden(exc)
        for message in exc.messages:
            messages.error(request, message)
    else:
        messages.success(request, _("The commitment is archived."))
    return redirect("scorecard:commitments", engagement.code)


@login_required
@require_GET
def commitment_checks(request: AuthenticatedHttpRequest, code: str) -> HttpResponse:
    engagement = _engagement(request, code)
    month = _month(request, engagement, request.GET.get("period", ""))
    lines = services.commitment_lines(engagement, month, GRID_MONTHS)
    approved = month in services.approved_months(engagement, [month])
    may_assess = can_manage(request.user)
    may_self = services.may_self_assess(request.user, engagement)
    rows = []
    for line in lines:
        check = line.check
        rows.append(
            {
                "line": line,
                "history": [
                    (m, c, services.ASSESSMENT_STATUS[c.manager_assessment if c else ""])
                    for m, c in line.history
                ],
                "manager_form": CheckForm(
                    initial={"assessment": check.manager_assessment, "note": check.manager_note}
                    if check and check.manager_assessment
                    else None,
                    prefix=f"m{line.commitment.pk}",
                )
                if may_assess
                else None,
                "vendor_form": CheckForm(
                    initial={"assessment": check.vendor_assessment, "note": check.vendor_note}
                    if check and check.vendor_assessment
                    else None,
                    prefix=f"v{line.commitment.pk}",
                )
                if may_self and not approved
                else None,
            }
        )
    ctx = {
        "engagement": engagement,
        "month": month,
        "months": [m for m, _c in lines[0].history] if lines else [],
        "rows": rows,
        "approved": approved,
        "may_self": may_self,
        "prev_month": month_add(month, -1),
        "next_month": month_add(month, 1),
        "statuses": services.ASSESSMENT_STATUS,
    }
    return render(request, "scorecard/commitments_checks.html", ctx)


def _check_write(request: AuthenticatedHttpRequest, code: str, pk: int, side: str) -> HttpResponse:
    engagement = _engagement(request, code)
    commitment = _commitment(engagement, pk)
    prefix = f"{'m' if side == 'manager' else 'v'}{commitment.pk}"
    period = request.POST.get("period", "")
    write = services.commitment_assess if side == "manager" else services.commitment_self_assess
    try:
        write(
            user=request.user,
            commitment=commitment,
            period=period,
            assessment=request.POST.get(f"{prefix}-assessment", ""),
            note=request.POST.get(f"{prefix}-note", ""),
        )
    except ServiceError as exc:
        refuse_if_forbidden(exc)
        for message in exc.messages:
            messages.error(request, f"{commitment.text}: {message}")
    else:
        messages.success(
            request, _("The check of “%(text)s” is saved.") % {"text": commitment.text}
        )
    url = reverse("scorecard:commitment_checks", args=[engagement.code])
    month = parse_month(period)
    return redirect(f"{url}?period={month:%Y-%m}" if month else url)


@login_required
@require_POST
def commitment_assess(request: AuthenticatedHttpRequest, code: str, pk: int) -> HttpResponse:
    return _check_write(request, code, pk, "manager")


@login_required
@require_POST
def commitment_self_assess(request: AuthenticatedHttpRequest, code: str, pk: int) -> HttpResponse:
    return _check_write(request, code, pk, "vendor")


# Routed by scorecard/urls.py (namespace "scorecard"): `*commitment_views.urlpatterns`.
urlpatterns: list[URLPattern] = [
    path("engagements/<str:code>/commitments/", commitment_list, name="commitments"),
    path("engagements/<str:code>/commitments/checks/", commitment_checks, name="commitment_checks"),
    path("engagements/<str:code>/commitments/<int:pk>/", commitment_edit, name="commitment_edit"),
    path(
        "engagements/<str:code>/commitments/<int:pk>/archive/",
        commitment_archive,
        name="commitment_archive",
    ),
    path(
        "engagements/<str:code>/commitments/<int:pk>/assess/",
        commitment_assess,
        name="commitment_assess",
    ),
    path(
        "engagements/<str:code>/commitments/<int:pk>/self-assess/",
        commitment_self_assess,
        name="commitment_self_assess",
    ),
]
