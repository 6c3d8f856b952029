"""The review pages (issue 13): an engagement's reviews (and a new one), and one review with its
findings per KPI, its decisions (added, applied or dismissed), its action items and closing it.
Everyone who sees the engagement reads them; managers write (pdca.services.reviews)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, path
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from kpi_planner.access import (
    action_owners,
    can_hold_review,
    engagements_for,
    get_visible_or_404,
    reviews_for,
    trees_for,
)
from kpi_planner.errors import ServiceError, add_form_errors, refuse_if_forbidden
from kpitree.models import Node
from pdca.forms.reviews import ActionItemForm, DecisionForm, ReviewForm
from pdca.models import Action, ReviewDecision
from pdca.services import actions as action_services
from pdca.services import reviews as services
from pdca.views import form_write

if TYPE_CHECKING:
    from kpi_planner.access import AuthenticatedHttpRequest


@login_required
def review_list(request: AuthenticatedHttpRequest, code: str) -> HttpResponse:
    engagement = get_visible_or_404(engagements_for(request.user), code=code)
    form = ReviewForm(request.POST or None, initial={"held_on": timezone.localdate()})
    may_hold = can_hold_review(request.user)
    if request.method == "POST":
        if not may_hold:
            raise PermissionDenied
        tree = None
        if request.POST.get("tree"):
            tree = get_visible_or_404(trees_for(request.user), code=request.POST["tree"])
        if form.is_valid():
            review = form_write(
                form,
                lambda: services.review_create(
                    user=request.user, engagement=engagement, tree=tree, **form.cleaned_data
                ),
            )
            if review is not None:
                messages.success(request, _("The review is recorded."))
                return redirect("pdca:review_detail", review.pk)
    ctx = {
        "engagement": engagement,
        "reviews": list(reviews_for(request.user).filter(engagement=engagement)),
        "form": form,
        "may_hold": may_hold,
        "trees": trees_for(request.user).filter(nodes__engagement=engagement).distinct(),
    }
    return render(request, "pdca/reviews/list.html", ctx)


@login_required
def review_detail(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    review = get_visible_or_404(
        reviews_for(request.user).select_related("engagement", "tree", "created_by"), pk=pk
    )
    may_hold = can_hold_review(request.user) and review.status == review.Status.OPEN
    kpis = services.engagement_kpis(review.engagement, review.tree)
    nodes = Node.objects.filter(pk__in=[n.pk for n in kpis]).select_related("tree")
    decision_form = DecisionForm(nodes=nodes, prefix="d")
    item_form = ActionItemForm(owners=action_owners(review.engagement), prefix="a")
    review_form = ReviewForm(
        initial={f: getattr(review, f) for f in services.REVIEW_FIELDS}, prefix="r"
    )
    if request.method == "POST":
        if not may_hold:
            raise PermissionDenied
        step = request.POST.get("step", "")
        try:
            if step == "findings":
                for node in kpis:
                    services.finding_save(
                        user=request.user,
                        review=review,
                        node=node,
                        hypothesis=request.POST.get(f"hypothesis-{node.pk}", ""),
                        next_action=request.POST.get(f"next-{node.pk}", ""),
                    )
                messages.success(request, _("The findings are saved."))
                return redirect("pdca:review_detail", review.pk)
            if step == "review":
                review_form = ReviewForm(request.POST, prefix="r")
                if review_form.is_valid():
                    services.review_update(
                        user=request.user, review=review, data=review_form.cleaned_data
                    )
                    messages.success(request, _("The review is updated."))
                    return redirect("pdca:review_detail", review.pk)
            if step == "decision":
                decision_form = DecisionForm(request.POST, nodes=nodes, prefix="d")
                if decision_form.is_valid():
                    data = decision_form.cleaned_data
                    services.decision_add(
                        user=request.user,
                        review=review,
                        kind=data["kind"],
                        node=data["node"],
                        template_code=data["template_code"].strip(),
                        detail=decision_form.detail(),
                        reason=data["reason"],
                    )
                    messages.success(request, _("The decision is recorded; apply it when ready."))
                    return redirect("pdca:review_detail", review.pk)
            if step == "item":
                item_form = ActionItemForm(
                    request.POST, owners=action_owners(review.engagement), prefix="a"
                )
                if item_form.is_valid():
                    action_services.action_open(
                        user=request.user,
                        engagement=review.engagement,
                        review=review,
                        source=Action.Source.REVIEW,
                        **item_form.cleaned_data,
                    )
                    messages.success(request, _("The action item is open."))
                    return redirect("pdca:review_detail", review.pk)
            if step == "close":
                services.review_close(user=request.user, review=review)
                messages.success(request, _("The review is closed."))
                return redirect("pdca:review_detail", review.pk)
        except ServiceError as exc:
            refuse_if_forbidden(exc)
            forms = {"item": item_form, "decision": decision_form, "review": review_form}
            if step in forms:
                add_form_errors(forms[step], exc)
            else:
                for message in exc.messages:
                    messages.error(request, message)
    findings = {f.node_id: f for f in review.findings.all()}
    ctx = {
        "review": review,
        "rows": [(n, findings.get(n.pk)) for n in kpis],
        "decisions": list(review.decisions.select_related("node__tree", "decided_by")),
        "items": list(review.actions.select_related("owner")),
        "decision_form": decision_form,
        "item_form": item_form,
        "review_form": review_form,
        "may_hold": may_hold,
    }
    return render(request, "pdca/reviews/detail.html", ctx)


@login_required
@require_POST
def decision_step(request: AuthenticatedHttpRequest, pk: int, step: str) -> HttpResponse:
    decision = get_visible_or_404(
        ReviewDecision.objects.filter(review__in=reviews_for(request.user)).select_related(
            "review"
        ),
        pk=pk,
    )
    if not can_hold_review(request.user) or step not in ("apply", "dismiss"):
        raise PermissionDenied
    try:
        if step == "apply":
            services.decision_apply(user=request.user, decision=decision)
            messages.success(request, _("The decision is applied."))
        else:
            services.decision_dismiss(user=request.user, decision=decision)
            messages.success(request, _("The proposal is dismissed."))
    except ServiceError as exc:
        refuse_if_forbidden(exc)
        for message in exc.messages:
            messages.error(request, message)
    return redirect("pdca:review_detail", decision.review_id)


urlpatterns: list[URLPattern] = [
    path("engagements/<str:code>/reviews/", review_list, name="review_list"),
    path("reviews/<int:pk>/", review_detail, name="review_detail"),
    path("decisions/<int:pk>/<str:step>/", decision_step, name="decision_step"),
]
