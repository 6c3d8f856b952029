"""The vendor portal: monthly entry and submission, uploads, proposals, and the manager's side
(submissions, approval, history). Every queryset comes from kpi_planner.access (the reads shared
with the API from portal.queries); every write from portal.services (which calls
kpitree.services.actuals_record for the numbers)."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from engagements.models import (
    Engagement,
    ProposalStatus,
    SubmissionEvent,
    SubmissionStatus,
)
from engagements.services import user_preferences_update
from kpi_planner import numbers
from kpi_planner.access import (
    can_manage,
    can_report,
    engagements_for,
    get_visible_or_404,
    kgi_paths,
    notifications_for,
    proposals_for,
)
from kpi_planner.errors import Problem, ServiceError, add_form_errors, refuse_if_forbidden
from kpi_planner.months import (
    current_month,
    last_reportable_month,
    month_add,
    month_range,
    parse_month,
)
from kpitree.models import Actual, Grain, Rollup, Target, ValueAudit
from portal import notifications, queries, uploads
from portal.forms import (
    DecisionForm,
    ProposalForm,
    ReasonForm,
    StepForm,
    UploadForm,
    entries_from_post,
)
from portal.queries import month_statuses, status_of
from portal.services import proposals as proposal_services
from portal.services.comments import split_comment
from portal.services.entry import Entry, month_save
from portal.services.workflow import submission_step

if TYPE_CHECKING:
    from kpi_planner.access import AuthenticatedHttpRequest

HISTORY_MONTHS = 6  # the grid shows the month being entered and the five before it


def _engagement(request: HttpRequest, code: str) -> Engagement:
    return get_visible_or_404(engagements_for(request.user).select_related("manager"), code=code)


def _month(engagement: Engagement, text: str) -> dt.date:
    period = queries.month_of_engagement(engagement, text)
    if period is None:
        raise Http404
    return period


def _render(request: HttpRequest, template: str, ctx: dict, status: int = 200) -> HttpResponse:
    """render() plus what every portal page shows: the unread count of the sub-navigation."""
    ctx["unread_count"] = notifications.unread_count(request.user)
    return render(request, template, ctx, status=status)


# -- home and lists ------------------------------------------------------------------------------


@login_required
@require_GET
def home(request: HttpRequest) -> HttpResponse:
    engagements = list(engagements_for(request.user).order_by("code"))
    today = timezone.localdate()
    outstanding = queries.outstanding_months(engagements, today)
    statuses = month_statuses(engagements)
    by_pk = {e.pk: e for e in engagements}
    waiting = [
        (by_pk[eid], p)
        for (eid, p), entry in statuses.items()
        if entry["status"] == SubmissionStatus.SUBMITTED
    ]
    reporting = {e.pk: queries.reporting_month(e, today) for e in engagements}
    ctx = {
        "engagements": [
            {
                "engagement": e,
                "reporting": reporting[e.pk],
                "due": queries.due_date(e, reporting[e.pk]),
                "status": status_of(statuses, e, reporting[e.pk]),
            }
            for e in engagements
        ],
        "outstanding": outstanding,
        "returned": [o for o in outstanding if o.status == SubmissionStatus.RETURNED],
        "waiting": sorted(waiting, key=lambda w: (w[1], w[0].code)),
        "pending_proposals": proposals_for(request.user)
        .filter(status=ProposalStatus.PENDING)
        .count(),
        "notes": list(notifications_for(request.user).filter(read_at__isnull=True)[:5]),
        "today": today,
        "can_manage": can_manage(request.user),
    }
    return _render(request, "portal/home.html", ctx)


@login_required
@require_GET
def submissions(request: HttpRequest) -> HttpResponse:
    """Engagements × months with each month's status: the manager's overview."""
    last = parse_month(request.GET.get("to", "")) or current_month()
    months = [month_add(last, -k) for k in range(HISTORY_MONTHS)]
    engagements = list(engagements_for(request.user).order_by("vendor__code", "code"))
    statuses = month_statuses(engagements)
    rows = [
        {
            "engagement": e,
            "cells": [
                {
                    "period": p,
                    "status": status_of(statuses, e, p)
                    if e.start_month <= p <= e.end_month
                    else None,
                    "due": queries.due_date(e, p),
                }
                for p in months
            ],
        }
        for e in engagements
    ]
    waiting = sum(1 for entry in statuses.values() if entry["status"] == SubmissionStatus.SUBMITTED)
    ctx = {
        "rows": rows,
        "months": months,
        "older": f"{month_add(last, -HISTORY_MONTHS):%Y-%m}",
        "newer": f"{month_add(last, HISTORY_MONTHS):%Y-%m}",
        "waiting": waiting,
        "today": timezone.localdate(),
    }
    return _render(request, "portal/submissions.html", ctx)


@login_required
@require_GET
def engagement(request: HttpRequest, code: str) -> HttpResponse:
    eng = _engagement(request, code)
    nodes = list(queries.portal_nodes(request.user, eng))
    paths = kgi_paths(request.user, nodes)
    statuses = month_statuses([eng])
    today = timezone.localdate()
    months = [
        {
            "period": p,
            "row": queries.submission_row(eng, p, statuses),
            "due": queries.due_date(eng, p),
            "overdue": today > queries.due_date(eng, p)
            and status_of(statuses, eng, p) not in queries.DONE,
        }
        for p in reversed(queries.engagement_months(eng))
        if p <= current_month(today)
    ]
    ctx = {
        "engagement": eng,
        "kpis": [{"node": n, "path": paths.get(n.pk, [])} for n in nodes],
        "months": months,
        "reporting": queries.reporting_month(eng, today),
        "can_report": can_report(request.user, eng),
    }
    return _render(request, "portal/engagement.html", ctx)


# -- the monthly grid ------------------------------------------------------------------------------


def month_context(user, eng: Engagement, period: dt.date, *, posted=None, errors=None) -> dict:
    """Everything the grid shows, in a fixed number of queries whatever the number of KPIs."""
    nodes = list(queries.portal_nodes(user, eng))
    paths = kgi_paths(user, nodes)
    months = [
        month_add(period, -k)
        for k in range(HISTORY_MONTHS)
        if month_add(period, -k) >= eng.start_month
    ]
    actuals = {
        (a["node_id"], a["period"]): a
        for a in Actual.objects.filter(node__in=nodes, period__in=months).values(
            "node_id", "period", "value", "comment"
        )
    }
    targets = dict(
        Target.objects.filter(node__in=nodes, period=period).values_list("node_id", "value")
    )
    computed = dict(
        ((r[0], r[1]), r[2])
        for r in Rollup.objects.filter(
            node__in=[n for n in nodes if not n.is_input], grain=Grain.MONTH, period__in=months
        ).values_list("node_id", "period", "actual")
    )
    statuses = month_statuses([eng])
    status = status_of(statuses, eng, period)
    submission = statuses.get((eng.pk, period), {}).get("submission")
    errors = errors or {}
    # A submitted month is locked for the vendor while it awaits approval (it may withdraw
    # it); the manager reviewing it may still correct it. See kpitree.services.values._check_locks.
    awaiting = status == SubmissionStatus.SUBMITTED and not can_manage(user)
    # A month's actuals are entered once it has ended (kpitree.services refuses them before).
    ended = period <= last_reportable_month()
    editable = (
        can_report(user, eng) and status != SubmissionStatus.APPROVED and not awaiting and ended
    )
    rows = []
    for node in nodes:
        planned = queries.in_plan(node, period)

        def value_at(p, node=node):
            if node.is_input:
                a = actuals.get((node.pk, p))
                return a["value"] if a else None
            return computed.get((node.pk, p))

        current = actuals.get((node.pk, period))
        why, next_action = split_comment(current["comment"] if current else "")
        value_text = numbers.input_text(value_at(period)) if node.is_input else ""
        if posted is not None and f"value-{node.pk}" in posted:
            value_text = posted.get(f"value-{node.pk}", "")
            why = posted.get(f"why-{node.pk}", "")
            next_action = posted.get(f"next-{node.pk}", "")
        this, last = value_at(period), value_at(months[1]) if len(months) > 1 else None
        change = None
        if this is not None and last is not None and last != 0:
            change = (this - last) / abs(last) * 100
        rows.append(
            {
                "node": node,
                "path": paths.get(node.pk, []),
                "typed": queries.is_typed(node) and planned,
                "auto": node.is_input and not queries.is_typed(node),
                "planned": planned,
                "value_text": value_text,
                "value": numbers.value(this),
                "why": why,
                "next_action": next_action,
                "target": numbers.value(targets.get(node.pk)),
                "last": numbers.value(last),
                "last_raw": numbers.input_text(last) if last is not None else "",
                "change": change,
                "older": [numbers.value(value_at(p)) for p in months[2:]],
                "errors": errors.get(node.pk, []),
            }
        )
    tab_end = max(min(current_month(), eng.end_month), period)
    tabs = [
        {"period": p, "status": status_of(statuses, eng, p)}
        for p in reversed(month_range(eng.start_month, tab_end))
    ]
    events = list(
        SubmissionEvent.objects.filter(engagement=eng, period=period).select_related("user")[:20]
    )
    return {
        "engagement": eng,
        "period": period,
        "months": months,
        "rows": rows,
        "status": status,
        "submission": submission,
        "due": queries.due_date(eng, period),
        "overdue": timezone.localdate() > queries.due_date(eng, period)
        and status not in queries.DONE,
        "editable": editable,
        "can_withdraw": awaiting and can_report(user, eng),
        "not_ended": not ended and can_report(user, eng),
        "opens_on": month_add(period, 1),
        "can_report": can_report(user, eng),
        "can_manage": can_manage(user),
        "general_errors": errors.get(None, []),
        "tabs": tabs,
        "events": events,
        "changes": queries.changes_since_submission(eng, period) if can_manage(user) else [],
        "reason_form": ReasonForm(),
        "has_typed": any(r["typed"] for r in rows),
    }


@login_required
@require_http_methods(["GET", "POST"])
def month(request: AuthenticatedHttpRequest, code: str, period: str) -> HttpResponse:
    eng = _engagement(request, code)
    when = _month(eng, period)
    errors: dict[int | None, list[str]] = {}
    if request.method == "POST":
        submit = request.POST.get("do") == "submit"
        entries = entries_from_post(request.POST)
        try:
            month_save(
                user=request.user, engagement=eng, period=when, entries=entries, submit=submit
            )
        except ServiceError as exc:
            refuse_if_forbidden(exc)
            errors = _errors_by_node(exc, entries)
        else:
            done = _("Submitted for approval.") if submit else _("Draft saved.")
            messages.success(request, done)
            return redirect("portal:month", eng.code, period)
    ctx = month_context(
        request.user, eng, when, posted=request.POST if errors else None, errors=errors
    )
    # A refused form is shown again with 200, as Django's own forms do (a 4xx would be logged
    # by the browser as a failed resource).
    return _render(request, "portal/month.html", ctx)


def _errors_by_node(exc: ServiceError, entries: list[Entry]) -> dict[int | None, list[str]]:
    """The grid shows a problem beside the cell of the entry it names (by index), the others
    (None) above the grid."""
    out: dict[int | None, list[str]] = {}
    for p in exc.problems:
        index = p.index
        node = entries[index].node_id if index is not None and 0 <= index < len(entries) else None
        out.setdefault(node, []).append(p.message)
    return out


@login_required
@require_POST
def month_action(request: AuthenticatedHttpRequest, code: str, period: str) -> HttpResponse:
    """submit / withdraw / approve / return / reopen a month (the buttons of the month page)."""
    eng = _engagement(request, code)
    when = _month(eng, period)
    if not (can_report(request.user, eng) or can_manage(request.user)):
        raise PermissionDenied  # supervisors and viewers take no step, whatever the action
    action = request.POST.get("action", "")
    form = StepForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(map(str, form.errors["reason"])))
        return redirect("portal:month", eng.code, period)
    try:
        submission_step(
            action,
            user=request.user,
            engagement=eng,
            period=when,
            reason=form.cleaned_data["reason"],
        )
    except ServiceError as exc:
        refuse_if_forbidden(exc)
        for message in exc.messages:
            messages.error(request, message)
    else:
        done = {
            "submit": _("Submitted for approval."),
            "withdraw": _("Submission withdrawn. Correct the numbers and submit again."),
            "approve": _("Approved. The month is now locked."),
            "return": _("Returned to the vendor."),
            "reopen": _("Reopened. The month can be changed again."),
        }
        messages.success(request, done[action])
    return redirect("portal:month", eng.code, period)


# -- files -----------------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def upload(request: AuthenticatedHttpRequest, code: str, period: str) -> HttpResponse:
    eng = _engagement(request, code)
    when = _month(eng, period)
    if not can_report(request.user, eng):
        raise PermissionDenied
    form = UploadForm(request.POST or None, request.FILES or None)
    errors: list[Problem] = []
    if request.method == "POST" and form.is_valid():
        try:
            result, count = uploads.upload_actuals(
                user=request.user,
                engagement=eng,
                period=when,
                data=form.cleaned_data["file"].read(),
            )
        except ServiceError as exc:  # UploadError: the problems name their lines
            refuse_if_forbidden(exc)
            errors = exc.problems
        else:
            messages.success(
                request,
                _(
                    "%(count)s rows read: %(created)s new, %(updated)s changed, %(unchanged)s unchanged."
                )
                % {"count": count, **result.as_dict()},
            )
            return redirect("portal:month", eng.code, period)
    ctx = {"engagement": eng, "period": when, "form": form, "errors": errors}
    return _render(request, "portal/upload.html", ctx)


@login_required
@require_GET
def template_download(
    request: AuthenticatedHttpRequest, code: str, period: str, fmt: str
) -> HttpResponse:
    eng = _engagement(request, code)
    when = _month(eng, period)
    name = f"actuals_{eng.code}_{when:%Y-%m}"
    if fmt == "csv":
        body = uploads.template_csv(request.user, eng, when)
        content_type = "text/csv; charset=utf-8"
    elif fmt == "xlsx":
        body = uploads.template_xlsx(request.user, eng, when)
        content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    else:
        raise Http404
    response = HttpResponse(body, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{name}.{fmt}"'
    return response


# -- scorecard and history -------------------------------------------------------------------------


@login_required
@require_GET
def scorecard(request: HttpRequest, code: str, period: str) -> HttpResponse:
    """The engagement's KPIs for one month with their status (from the materialised rollups)."""
    eng = _engagement(request, code)
    when = _month(eng, period)
    nodes = list(queries.portal_nodes(request.user, eng))
    rollups = {
        r.node_id: r for r in Rollup.objects.filter(node__in=nodes, grain=Grain.MONTH, period=when)
    }
    rows = [
        {
            "node": n,
            "actual": numbers.value(rollups[n.pk].actual) if n.pk in rollups else "—",
            "target": numbers.value(rollups[n.pk].target) if n.pk in rollups else "—",
            "achievement": rollups[n.pk].achievement if n.pk in rollups else None,
            "status": rollups[n.pk].status if n.pk in rollups else "none",
            "status_label": rollups[n.pk].get_status_display() if n.pk in rollups else _("No data"),
        }
        for n in nodes
    ]
    counts = {
        s: sum(1 for r in rows if r["status"] == s) for s in ("green", "amber", "red", "none")
    }
    stale = any(n.tree.is_stale for n in nodes)
    ctx = {"engagement": eng, "period": when, "rows": rows, "counts": counts, "stale": stale}
    return _render(request, "portal/scorecard.html", ctx)


@login_required
@require_GET
def history(request: HttpRequest, code: str) -> HttpResponse:
    """Every change of the engagement's values (who, when, old, new, channel) and every
    workflow step, newest first; filter by KPI and month."""
    eng = _engagement(request, code)
    nodes = list(queries.portal_nodes(request.user, eng))
    audits = ValueAudit.objects.filter(node__in=nodes, kind=ValueAudit.Kind.ACTUAL).select_related(
        "node", "user"
    )
    events = SubmissionEvent.objects.filter(engagement=eng).select_related("user")
    # The KPI is picked among the visible ones, never parsed into a query: "²" or a 30-digit
    # id must not reach int() or the database (a 500); an unknown one shows no rows.
    node_id = request.GET.get("node", "")
    selected = next((n.pk for n in nodes if str(n.pk) == node_id), None)
    if node_id:
        audits = audits.filter(node_id=selected) if selected else audits.none()
    period = parse_month(request.GET.get("period", ""))
    if period:
        audits, events = audits.filter(period=period), events.filter(period=period)
    page = Paginator(audits.order_by("-at", "-id"), 100).get_page(request.GET.get("page"))
    for audit in page:
        audit.old_display = numbers.value(audit.old_value)
        audit.new_display = numbers.value(audit.new_value)
    ctx = {
        "engagement": eng,
        "nodes": nodes,
        "page": page,
        "events": list(events[:200]),
        "selected_node": selected,
        "selected_period": period,
        "periods": queries.engagement_months(eng),
    }
    return _render(request, "portal/history.html", ctx)


# -- improvement proposals -------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def proposals(request: AuthenticatedHttpRequest, code: str) -> HttpResponse:
    eng = _engagement(request, code)
    form = ProposalForm(request.POST or None)
    if request.method == "POST":
        if not can_report(request.user, eng):
            raise PermissionDenied
        if form.is_valid():
            try:
                proposal_services.proposal_submit(
                    user=request.user, engagement=eng, **form.cleaned_data
                )
            except ServiceError as exc:
                add_form_errors(form, exc)
            else:
                messages.success(request, _("Proposal sent to the client."))
                return redirect("portal:proposals", eng.code)
    items = list(
        proposals_for(request.user)
        .filter(engagement=eng)
        .select_related("submitted_by", "decided_by")
    )
    figures = (
        proposals_for(request.user)
        .filter(engagement=eng)
        .values("period")
        .annotate(
            submitted=Count("pk"), adopted=Count("pk", filter=Q(status=ProposalStatus.ACCEPTED))
        )
        .order_by("-period")
    )
    monthly = []
    for row in figures[:12]:
        count, rate = queries.proposal_figures(eng, row["period"])
        monthly.append({"period": row["period"], "submitted": count, "rate": rate})
    ctx = {
        "engagement": eng,
        "form": form,
        "items": items,
        "monthly": monthly,
        # Proposals come from the vendor; a manager may still record one sent by e-mail (POST).
        "can_propose": can_report(request.user, eng) and not can_manage(request.user),
        "can_manage": can_manage(request.user),
    }
    return _render(request, "portal/proposals.html", ctx)


@login_required
@require_POST
def proposal_decide(request: AuthenticatedHttpRequest, code: str, pk: int) -> HttpResponse:
    eng = _engagement(request, code)
    proposal = get_visible_or_404(proposals_for(request.user).filter(engagement=eng), pk=pk)
    if not can_manage(request.user):
        raise PermissionDenied  # whatever the form says: only managers decide
    form = DecisionForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose adopt or decline."))
        return redirect("portal:proposals", eng.code)
    try:
        proposal_services.proposal_decide(
            user=request.user,
            proposal=proposal,
            accept=form.cleaned_data["decision"] == "accept",
            note=form.cleaned_data["note"],
        )
    except ServiceError as exc:
        refuse_if_forbidden(exc)
        for message in exc.messages:
            messages.error(request, message)
    else:
        messages.success(request, _("Decision recorded."))
    return redirect("portal:proposals", eng.code)


# -- notifications ---------------------------------------------------------------------------------


@login_required
@require_GET
def notification_list(request: HttpRequest) -> HttpResponse:
    qs = notifications_for(request.user).select_related("engagement")
    page = Paginator(qs, 50).get_page(request.GET.get("page"))
    unread = qs.filter(read_at__isnull=True).count()
    return _render(request, "portal/notifications.html", {"page": page, "unread": unread})


@login_required
@require_POST
def notification_settings(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The user's own choice: alerts one by one, or one e-mail a day (User.alert_digest)."""
    digest = request.POST.get("alert_digest") == "1"
    user_preferences_update(user=request.user, data={"alert_digest": digest})
    messages.success(
        request,
        _("Alerts come in one e-mail a day.")
        if digest
        else _("Each alert comes in its own e-mail."),
    )
    return redirect("portal:notifications")


@login_required
@require_POST
def notifications_read(request: HttpRequest) -> HttpResponse:
    notifications_for(request.user).filter(read_at__isnull=True).update(read_at=timezone.now())
    return redirect("portal:notifications")


@login_required
@require_POST
def notification_open(request: HttpRequest, pk: int) -> HttpResponse:
    note = get_visible_or_404(notifications_for(request.user), pk=pk)
    if note.read_at is None:
        note.read_at = timezone.now()
        note.save(update_fields=["read_at"])
    if note.url and url_has_allowed_host_and_scheme(note.url, {request.get_host()}):
        return redirect(note.url)
    return redirect("portal:notifications")
