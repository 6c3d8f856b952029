"""The money pages, under /money/: an engagement's cost and return, charges, reliefs, SLA rule
sets and statements (`engagement`); a rule set drafted and adopted (`rule_set_*`) and
back-tested (`backtest`); one statement answered by both sides (`statement`), and its exports.

Everyone who sees the engagement reads (a vendor: adopted rules and its own statements);
managers write; the vendor accepts or disputes (kpi_planner.access)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, path
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from engagements.models import Engagement
from kpi_planner.access import (
    can_answer_statement,
    can_manage,
    engagements_for,
    get_visible_or_404,
    rule_sets_for,
    statements_for,
)
from kpi_planner.errors import ServiceError, form_write, refuse_if_forbidden
from kpi_planner.months import current_month, month_text
from kpitree.models import Node
from money import charts, engine, queries, services
from money.forms import (
    ChargeForm,
    DisputeForm,
    MoneySettingsForm,
    ReasonForm,
    ReliefForm,
    ResolveForm,
)
from money.models import Charge, Relief, RuleSet, Statement
from money.rule_form import RuleSetGrid

if TYPE_CHECKING:
    from kpi_planner.access import AuthenticatedHttpRequest


def _figure(key: str, drawn: tuple[Any, Any]) -> dict[str, Any]:
    """A figure and its table for templates/scorecard/_figure.html."""
    from scorecard.charts import figure_json

    fig, table = drawn
    return {"id": f"fig-{key}", "json": figure_json(fig), "table": table}


def _kpis(engagement: Engagement) -> Any:
    return (
        Node.objects.filter(engagement=engagement, tree__archived_at__isnull=True)
        .select_related("tree")
        .order_by("tree__code", "position", "pk")
    )


def _forms(request: AuthenticatedHttpRequest, engagement: Engagement) -> dict[str, forms.Form]:
    kpis = _kpis(engagement)
    settings = queries.money_settings(engagement)
    data = request.POST if request.method == "POST" else None
    which = request.POST.get("form") if data else None
    return {
        "settings": MoneySettingsForm(
            data if which == "settings" else None,
            nodes=kpis,
            initial={
                "gain_node": settings.gain_node_id if settings else None,
                "acquired_node": settings.acquired_node_id if settings else None,
            },
            prefix="s",
        ),
        "charge": ChargeForm(
            data if which == "charge" else None,
            initial={"period": month_text(current_month())},
            prefix="c",
        ),
        "relief": ReliefForm(data if which == "relief" else None, nodes=kpis, prefix="r"),
    }


def _post(
    request: AuthenticatedHttpRequest, engagement: Engagement, form: forms.Form, which: str
) -> bool:
    """The engagement page's three forms (settings, charge, relief): True when written."""
    if not can_manage(request.user):
        raise PermissionDenied
    if not form.is_valid():
        return False
    data, user = form.cleaned_data, request.user
    writes: dict[str, Callable[[], object]] = {
        "settings": lambda: services.money_settings_update(
            user=user, engagement=engagement, **data
        ),
        "charge": lambda: services.charge_add(user=user, engagement=engagement, **data),
        "relief": lambda: services.relief_add(user=user, engagement=engagement, **data),
    }
    done = {
        "settings": _("The gain and acquired KPIs are saved."),
        "charge": _("The charge is added."),
        "relief": _("The relief is recorded; the month's statement is recomputed."),
    }
    if form_write(form, writes[which]) is None:
        return False
    messages.success(request, done[which])
    return True


@login_required
def engagement(request: AuthenticatedHttpRequest, code: str) -> HttpResponse:
    engagement = get_visible_or_404(engagements_for(request.user), code=code)
    page_forms = _forms(request, engagement)
    if request.method == "POST":
        which = request.POST.get("form", "")
        if which not in page_forms:
            raise PermissionDenied
        if _post(request, engagement, page_forms[which], which):
            return redirect("money:engagement", engagement.code)
    rows = queries.returns(engagement)
    ctx = {
        "engagement": engagement,
        "settings": queries.money_settings(engagement),
        "returns": {g: [r for r in rows if r.grain == g] for g in queries.GRAINS},
        "charges": list(queries.charges_of(engagement)),
        "reliefs": list(
            Relief.objects.filter(engagement=engagement).select_related("node", "created_by")
        ),
        "rule_sets": list(queries.rule_sets_of(engagement, rule_sets_for(request.user))),
        "statements": list(queries.statements_of(engagement, statements_for(request.user))),
        "exposure": services.exposure(engagement),
        "figure": _figure("returns", charts.returns_figure(rows_m))
        if (rows_m := [r for r in rows if r.grain == "month"])
        else None,
        "may_manage": can_manage(request.user),
        "forms": page_forms,
        "void_form": ReasonForm(prefix="v"),
    }
    return render(request, "money/engagement.html", ctx)


@login_required
@require_POST
def charge_void(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    charge = get_visible_or_404(
        Charge.objects.filter(engagement__in=engagements_for(request.user)), pk=pk
    )
    if not can_manage(request.user):
        raise PermissionDenied
    form = ReasonForm(request.POST, prefix="v")
    void = lambda: services.charge_void(  # noqa: E731
        user=request.user, charge=charge, reason=form.cleaned_data["reason"]
    )
    if form.is_valid() and form_write(form, void) is not None:
        messages.success(request, _("The charge is voided."))
    else:
        messages.error(request, " ".join(str(e) for errs in form.errors.values() for e in errs))
    return redirect("money:engagement", charge.engagement.code)


@login_required
@require_POST
def relief_withdraw(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    relief = get_visible_or_404(
        Relief.objects.filter(engagement__in=engagements_for(request.user)), pk=pk
    )
    try:
        services.relief_withdraw(user=request.user, relief=relief)
        messages.success(
            request, _("The relief is withdrawn; the month's statement is recomputed.")
        )
    except ServiceError as exc:
        refuse_if_forbidden(exc)
        messages.error(request, " ".join(exc.messages))
    return redirect("money:engagement", relief.engagement.code)


# -- rule sets ----------------------------------------------------------------------------------------


def _rule_set_page(
    request: AuthenticatedHttpRequest, engagement: Engagement, rule_set: RuleSet | None
) -> HttpResponse:
    may_edit = can_manage(request.user) and (
        rule_set is None or rule_set.status == RuleSet.Status.DRAFT
    )
    grid = RuleSetGrid(
        _kpis(engagement), rule_set, request.POST if request.method == "POST" else None
    )
    if request.method == "POST":
        if not may_edit:
            raise PermissionDenied
        try:
            saved = services.rule_set_save(
                user=request.user, engagement=engagement, data=grid.data(), rule_set=rule_set
            )
        except ServiceError as exc:
            refuse_if_forbidden(exc)
            grid.add_problems(exc.problems)
        else:
            messages.success(request, _("The draft is saved. Back-test it, then adopt it."))
            return redirect("money:rule_set", saved.pk)
    ctx = {"engagement": engagement, "rule_set": rule_set, "grid": grid, "may_edit": may_edit}
    return render(request, "money/rule_set.html", ctx)


@login_required
def rule_set_new(request: AuthenticatedHttpRequest, code: str) -> HttpResponse:
    engagement = get_visible_or_404(engagements_for(request.user), code=code)
    if not can_manage(request.user):
        raise PermissionDenied
    return _rule_set_page(request, engagement, None)


@login_required
def rule_set(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    rs = get_visible_or_404(rule_sets_for(request.user).select_related("engagement"), pk=pk)
    return _rule_set_page(request, rs.engagement, rs)


@login_required
@require_POST
def rule_set_adopt(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    rs = get_visible_or_404(rule_sets_for(request.user).select_related("engagement"), pk=pk)
    try:
        services.rule_set_adopt(user=request.user, rule_set=rs)
    except ServiceError as exc:
        refuse_if_forbidden(exc)
        messages.error(request, " ".join(exc.messages))
        return redirect("money:rule_set", rs.pk)
    messages.success(
        request,
        _("The rules are in force from %(month)s; the statements are recomputed.")
        % {"month": month_text(rs.effective_from)},
    )
    return redirect("money:engagement", rs.engagement.code)


@login_required
@require_GET
def backtest(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    rs = get_visible_or_404(rule_sets_for(request.user).select_related("engagement"), pk=pk)
    rows = services.backtest(rs, months=12)
    totals = {
        "in_force": sum(r.in_force.adjustment for r in rows if r.in_force),
        "draft": sum(r.draft.adjustment for r in rows if r.draft),
    }
    totals["difference"] = totals["draft"] - totals["in_force"]
    ctx = {
        "engagement": rs.engagement,
        "rule_set": rs,
        "rows": rows,
        "totals": totals,
        "figure": _figure("backtest", charts.backtest_figure(rows)) if rows else None,
    }
    return render(request, "money/backtest.html", ctx)


# -- statements ---------------------------------------------------------------------------------------


def _statement(request: AuthenticatedHttpRequest, pk: int) -> Statement:
    return get_visible_or_404(
        statements_for(request.user).select_related("engagement__vendor", "rule_set", "agreed_by"),
        pk=pk,
    )


@login_required
@require_GET
def statement(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    st = _statement(request, pk)
    lines = [
        (line, engine.explain(line.reason, line.params, kpi=line.node.name if line.node else None))
        for line in st.lines.select_related("node", "disputed_by", "resolved_by")
    ]
    ctx = {
        "statement": st,
        "engagement": st.engagement,
        "lines": lines,
        "events": list(st.events.select_related("user")),
        "may_answer": can_answer_statement(request.user, st.engagement),
        "may_manage": can_manage(request.user),
        "dispute_form": DisputeForm(prefix="d"),
        "resolve_form": ResolveForm(prefix="x"),
        "reopen_form": ReasonForm(prefix="o"),
    }
    return render(request, "money/statement.html", ctx)


@login_required
@require_POST
def statement_step(request: AuthenticatedHttpRequest, pk: int, step: str) -> HttpResponse:
    """accept / dispute / resolve / reopen: the service decides who may; a refusal is shown."""
    st = _statement(request, pk)
    post, user = request.POST, request.user
    steps: dict[str, Callable[[], object]] = {
        "accept": lambda: services.statement_accept(user=user, statement=st),
        "dispute": lambda: services.statement_dispute(
            user=user, statement=st, line=post.get("d-line"), comment=post.get("d-comment")
        ),
        "resolve": lambda: services.statement_resolve(
            user=user, statement=st, line=post.get("x-line"), resolution=post.get("x-resolution")
        ),
        "reopen": lambda: services.statement_reopen(
            user=user, statement=st, reason=post.get("o-reason")
        ),
    }
    done = {
        "accept": _("The statement is agreed and locked."),
        "dispute": _("The line is disputed; the manager is to answer."),
        "resolve": _("The dispute is answered."),
        "reopen": _("The statement is reopened and recomputed."),
    }
    try:
        steps[step]()
    except ServiceError as exc:
        refuse_if_forbidden(exc)
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, done[step])
    return redirect("money:statement", st.pk)


@login_required
@require_GET
def statement_export(request: AuthenticatedHttpRequest, pk: int, ext: str) -> HttpResponse:
    from money import exports

    st = _statement(request, pk)
    if ext == "xlsx":
        body = exports.statement_xlsx(st)
        kind = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    else:
        body, kind = exports.statement_pdf(st), "application/pdf"
    response = HttpResponse(body, content_type=kind)
    response["Content-Disposition"] = (
        f'attachment; filename="{exports.statement_filename(st, ext)}"'
    )
    return response


urlpatterns: list[URLPattern] = [
    path("<str:code>/", engagement, name="engagement"),
    path("<str:code>/rules/new/", rule_set_new, name="rule_set_new"),
    path("charges/<int:pk>/void/", charge_void, name="charge_void"),
    path("reliefs/<int:pk>/withdraw/", relief_withdraw, name="relief_withdraw"),
    path("rules/<int:pk>/", rule_set, name="rule_set"),
    path("rules/<int:pk>/adopt/", rule_set_adopt, name="rule_set_adopt"),
    path("rules/<int:pk>/backtest/", backtest, name="backtest"),
    path("statements/<int:pk>/", statement, name="statement"),
    *(
        path(
            f"statements/<int:pk>/{step}/", statement_step, {"step": step}, name=f"statement_{step}"
        )
        for step in ("accept", "dispute", "resolve", "reopen")
    ),
    *(
        path(
            f"statements/<int:pk>/export.{ext}",
            statement_export,
            {"ext": ext},
            name=f"statement_{ext}",
        )
        for ext in ("xlsx", "pdf")
    ),
]
