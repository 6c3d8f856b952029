"""The KPI tree editor: tree list, the editor page, its side panel (node form, targets, delete,
template, copy) and small JSON endpoints (formula check, move).

Pages work as plain HTML forms; htmx (vendored) swaps the side panel and re-fetches the tree after
each change (the response carries an `HX-Trigger: kpitree-changed` header). Every write goes
through kpitree.services; every read is scoped by kpi_planner.access: a tree or node the user may
not see answers 404, a change by someone who may only read answers 403.
"""

from __future__ import annotations

import json
from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import pgettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from engagements.models import OutsourcingType, Phase
from kpi_planner.access import (
    can_manage,
    first_visible,
    get_visible_or_404,
    nodes_for,
    sees_everything,
    trees_for,
)
from kpi_planner.errors import ServiceError, add_form_errors, refuse_if_forbidden
from kpi_planner.months import month_range, parse_month
from kpi_planner.templatetags.kpi_format import month
from kpitree import forms, queries, services, target_gap
from kpitree.catalogue import TreeTemplate
from kpitree.formula import FormulaError, format_code, parse_formula
from kpitree.models import Kind, Node, Rationale, Tree

CHANGED = "kpitree-changed"
TABLE_FROM = 300  # nodes: from here the indented table is the default view
MAX_POLLS = 60


def _htmx(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true"


def _tree(request: HttpRequest, code: str) -> Tree:
    return get_visible_or_404(trees_for(request.user), code=code)


def _node(request: HttpRequest, tree: Tree, code: str) -> Node:
    qs = nodes_for(request.user).filter(tree=tree).select_related("parent", "engagement", "tree")
    return get_visible_or_404(qs, code=code)


def tree_page(view):
    """Login, then the tree (404 when hidden) passed to the view in place of its code."""

    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, code: str, *args, **kwargs) -> HttpResponse:
        return view(request, _tree(request, code), *args, **kwargs)

    return wrapper


def manager_only(request: HttpRequest) -> None:
    if not can_manage(request.user):
        raise PermissionDenied(_("Only managers may change KPI trees."))


def _panel(
    request: HttpRequest, template: str, ctx: dict, *, changed: bool = False
) -> HttpResponse:
    """The side panel: a fragment for htmx, a page of its own otherwise."""
    if _htmx(request):
        response = render(request, template, ctx)
    else:
        response = render(request, "kpitree/panel_page.html", {**ctx, "panel_template": template})
    if changed:
        response["HX-Trigger"] = json.dumps({CHANGED: True})
    return response


def _done(request: HttpRequest, tree: Tree, message: str, ctx: dict, template: str) -> HttpResponse:
    """After a change: htmx gets the next panel and the signal to re-fetch the tree; a plain
    form post is redirected to the editor (post/redirect/get)."""
    if _htmx(request):
        return _panel(request, template, {**ctx, "notice": message}, changed=True)
    messages.success(request, message)
    return redirect("kpitree:tree_editor", code=tree.code)


# -- trees ----------------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def tree_list(request: HttpRequest) -> HttpResponse:
    form = forms.TreeForm(None if "restore" in request.POST else request.POST or None)
    if request.method == "POST" and "restore" in request.POST:
        manager_only(request)
        archived = Tree.objects.filter(
            archived_at__isnull=False, code=request.POST.get("restore", "")
        ).first()
        if archived is None:
            raise Http404
        services.tree_restore(user=request.user, tree=archived)
        messages.success(request, _("%(name)s was restored.") % {"name": archived.name})
        return redirect("kpitree:tree_editor", code=archived.code)
    if request.method == "POST":
        manager_only(request)
        if form.is_valid():
            try:
                tree = services.tree_create(user=request.user, data=form.cleaned_data)
            except ValidationError as exc:
                add_form_errors(form, exc)
            else:
                messages.success(request, _("The KPI tree was created. Add its KGI first."))
                return redirect("kpitree:tree_editor", code=tree.code)
    trees = trees_for(request.user).order_by("-start_month", "code")
    counts = sees_everything(request.user)  # a vendor is not told how big the others' trees are
    if counts:
        trees = trees.annotate(n_nodes=Count("nodes"))
    ctx = {
        "trees": trees,
        "form": form,
        "can_edit": can_manage(request.user),
        "counts": counts,
        # Trees archived by a DELETE keep their record; managers may bring them back.
        "archived": Tree.objects.filter(archived_at__isnull=False).order_by("code")
        if can_manage(request.user)
        else [],
    }
    return render(request, "kpitree/tree_list.html", ctx)


def _tree_context(request: HttpRequest, tree: Tree, *, page: bool = False) -> dict:
    """The editor's context. The full page (`page`) runs the design review for its panel and the
    node badges; a fragment needs only the badges, and only in the tree view (_fragment_badges)."""
    mode = request.GET.get("view", "")
    period = parse_month(request.GET.get("period", ""))
    # Links of thousands of nodes are built from this prefix, not reversed one by one.
    node_base = reverse("kpitree:node_edit", args=[tree.code, "_"])[:-2]
    data = queries.tree_view(user=request.user, tree=tree, period=period, node_base=node_base)
    if mode not in ("tree", "table"):
        mode = "table" if data.node_count >= TABLE_FROM else "tree"
    raw_polls = request.GET.get("poll", "0")
    # isdigit() alone accepts "²", which int() refuses: only ASCII digits.
    polls = (
        int(raw_polls) if raw_polls.isascii() and raw_polls.isdigit() and len(raw_polls) <= 3 else 0
    )
    if page:
        lint = _lint_summary(queries.tree_findings(request.user, tree))
        cache.set(_badges_key(request, tree), lint["badges"], BADGES_SECONDS)
    elif mode == "tree":
        lint = {"badges": _fragment_badges(request, tree, polling=polls > 0)}
    else:  # the table shows no badges
        lint = {"badges": {}}
    return {
        "tree": tree,
        "view": data,
        "lint": lint,
        "mode": mode,
        "chosen_period": request.GET.get("period", "") if period else "",
        "can_edit": can_manage(request.user),
        "poll": polls + 1 if tree.is_stale and polls < MAX_POLLS else None,
        "create_url": reverse("kpitree:node_create", args=[tree.code]),
    }


# A poll chain lasts MAX_POLLS seconds at most; what its first answer computed serves the rest.
BADGES_SECONDS = MAX_POLLS + 30


def _badges_key(request: HttpRequest, tree: Tree) -> str:
    # data_version is fixed while a poll chain waits for the recompute of that version.
    parts = (tree.pk, tree.created_at.timestamp(), tree.data_version, request.user.pk)
    return "kpitree-lint-badges:" + ":".join(str(p) for p in parts)


def _fragment_badges(request: HttpRequest, tree: Tree, *, polling: bool) -> dict:
    """The node badges of a tree fragment. A poll (while a recompute runs) only brings new values:
    it reuses the badges of the page or fragment that started it instead of running the design
    review once a second. A refresh after a change (or a change of view) runs it: an edit of a
    definition or an owner changes findings without changing the tree's data_version."""
    key = _badges_key(request, tree)
    badges = cache.get(key) if polling else None
    if badges is None:
        badges = _lint_summary(queries.tree_findings(request.user, tree))["badges"]
        cache.set(key, badges, BADGES_SECONDS)
    return badges


@tree_page
@require_GET
def tree_editor(request: HttpRequest, tree: Tree) -> HttpResponse:
    return render(request, "kpitree/editor.html", _tree_context(request, tree, page=True))


PANEL_FINDINGS = 30  # findings listed per severity in the editor's design review


def _lint_summary(findings: list) -> dict:
    """The editor's design review: open findings grouped by severity (errors first), the
    acknowledged ones apart, the open counts, and per node its open count and worst severity."""
    order = {"error": 0, "warning": 1, "info": 2}
    labels = {
        "error": pgettext("design review", "Errors"),
        "warning": pgettext("design review", "Warnings"),
        "info": pgettext("design review", "Notes"),
    }
    badges: dict[str, tuple[int, str]] = {}
    groups: dict[str, list] = {severity: [] for severity in order}
    for f in findings:
        if not f.is_open:
            continue
        groups[f.severity].append(f)
        if f.node:
            count, worst = badges.get(f.node, (0, "info"))
            badges[f.node] = (count + 1, min(worst, f.severity, key=order.__getitem__))
    return {
        "findings": findings,
        # A big tree can have thousands of findings of one kind: the panel lists the first ones
        # (rendering them all cost most of a 5,000-node editor page), the badges show them all.
        "groups": [
            (sev, labels[sev], items[:PANEL_FINDINGS], len(items), len(items) - PANEL_FINDINGS)
            for sev, items in groups.items()
            if items
        ],
        "acknowledged": [f for f in findings if not f.is_open],
        "errors": len(groups["error"]),
        "warnings": len(groups["warning"]),
        "badges": badges,
    }


@tree_page
@require_GET
def lint_panel(request: HttpRequest, tree: Tree) -> HttpResponse:
    """The design review panel alone: re-fetched after each change in the editor."""
    ctx = {
        "tree": tree,
        "lint": _lint_summary(queries.tree_findings(request.user, tree)),
        "can_edit": can_manage(request.user),
    }
    return render(request, "kpitree/_lint_panel.html", ctx)


@tree_page
@require_GET
def tree_fragment(request: HttpRequest, tree: Tree) -> HttpResponse:
    """The tree (or table) alone: re-fetched after each change and while a recompute runs."""
    return render(request, "kpitree/_tree.html", _tree_context(request, tree))


@tree_page
@require_http_methods(["GET", "POST"])
def tree_copy(request: HttpRequest, tree: Tree) -> HttpResponse:
    manager_only(request)
    initial = {"code": f"{tree.code}-copy", "name": tree.name}
    form = forms.TreeCopyForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            copy = services.tree_copy(user=request.user, tree=tree, **form.cleaned_data)
        except (ValidationError, ServiceError) as exc:
            add_form_errors(form, exc)
        else:
            messages.success(request, _("The copy %(code)s was created.") % {"code": copy.code})
            url = reverse("kpitree:tree_editor", kwargs={"code": copy.code})
            if _htmx(request):
                return HttpResponse(status=204, headers={"HX-Redirect": url})
            return redirect(url)
    return _panel(request, "kpitree/_tree_copy.html", {"tree": tree, "form": form})


# -- nodes ----------------------------------------------------------------------------------------


def _node_ctx(tree: Tree, node: Node, form: forms.NodeForm) -> dict:
    child_codes = list(node.children.values_list("code", flat=True)) if node.pk else []
    # The formula helper inserts each child as a formula writes it ([ads-cpa]): the grammar
    # says how, so the browser need not know it.
    child_chips = [(code, format_code(code)) for code in child_codes]
    return {
        "tree": tree,
        "node": node,
        "form": form,
        "child_codes": child_codes,
        "child_chips": child_chips,
        "smart": queries.node_smart(node) if node.pk else [],
    }


@tree_page
@require_http_methods(["GET", "POST"])
def node_create(request: HttpRequest, tree: Tree) -> HttpResponse:
    manager_only(request)
    source = request.POST if request.method == "POST" else request.GET
    parent = first_visible(
        nodes_for(request.user).filter(tree=tree).select_related("engagement"),
        code=source.get("parent", ""),
    )
    node = Node(tree=tree)
    initial = forms.new_node_initial(tree, parent, request.GET.get("kind", Kind.KGI))
    form = forms.NodeForm(
        request.POST or None, tree=tree, node=node, user=request.user, initial=initial
    )
    if request.method == "POST" and form.is_valid():
        try:
            node = services.node_save(user=request.user, node=node, data=forms.service_data(form))
        except ValidationError as exc:
            add_form_errors(form, exc)
            node = Node(tree=tree)
        else:
            fresh = forms.NodeForm(tree=tree, node=node, user=request.user)
            message = _("%(code)s was added.") % {"code": node.code}
            return _done(
                request, tree, message, _node_ctx(tree, node, fresh), "kpitree/_node_form.html"
            )
    ctx = {**_node_ctx(tree, node, form), "focus": _focus(request, form)}
    return _panel(request, "kpitree/_node_form.html", ctx)


def _focus(request: HttpRequest, form: forms.NodeForm) -> str:
    """The field a design finding's "fix it" link asks to focus (?focus=), if the form has it."""
    name = request.GET.get("focus", "")
    return name if name in form.fields else ""


@tree_page
@require_http_methods(["GET", "POST"])
def node_edit(request: HttpRequest, tree: Tree, node_code: str) -> HttpResponse:
    node = _node(request, tree, node_code)
    if request.method == "GET" and not can_manage(request.user):
        ctx = {"tree": tree, "node": node, "smart": queries.node_smart(node)}
        return _panel(request, "kpitree/_node_detail.html", ctx)
    manager_only(request)
    form = forms.NodeForm(request.POST or None, tree=tree, node=node, user=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            node = services.node_save(user=request.user, node=node, data=forms.service_data(form))
        except ValidationError as exc:
            add_form_errors(form, exc)
            node = nodes_for(request.user).get(pk=node.pk)  # node_save changed it in memory only
        else:
            fresh = forms.NodeForm(tree=tree, node=node, user=request.user)
            message = _("%(code)s was saved.") % {"code": node.code}
            return _done(
                request, tree, message, _node_ctx(tree, node, fresh), "kpitree/_node_form.html"
            )
    ctx = {**_node_ctx(tree, node, form), "focus": _focus(request, form)}
    return _panel(request, "kpitree/_node_form.html", ctx)


@tree_page
@require_POST
def lint_acknowledge(request: HttpRequest, tree: Tree) -> HttpResponse:
    """Acknowledge a finding of the editor's design review (kpitree.services.lint_acknowledge)."""
    try:
        services.lint_acknowledge(
            user=request.user,
            tree=tree,
            rule=request.POST.get("rule", ""),
            node_code=request.POST.get("node", ""),
            subject=request.POST.get("subject", ""),
            reason=request.POST.get("reason", ""),
        )
    except ServiceError as exc:
        refuse_if_forbidden(exc)
        for message in exc.messages:
            messages.error(request, message)
    else:
        messages.success(request, _("The finding is acknowledged."))
    return redirect(reverse("kpitree:tree_editor", kwargs={"code": tree.code}) + "#kt-lint")


@tree_page
@require_POST
def lint_withdraw(request: HttpRequest, tree: Tree, ack_id: int) -> HttpResponse:
    from kpitree.models import LintAcknowledgement

    ack = get_object_or_404(LintAcknowledgement, tree=tree, pk=ack_id)
    try:
        services.lint_withdraw(user=request.user, acknowledgement=ack)
    except ServiceError as exc:
        refuse_if_forbidden(exc)
    messages.success(request, _("The acknowledgement is withdrawn; the finding counts again."))
    return redirect(reverse("kpitree:tree_editor", kwargs={"code": tree.code}) + "#kt-lint")


def _wants_json(request: HttpRequest) -> bool:
    return "application/json" in request.headers.get("Accept", "")


@tree_page
@require_POST
def node_move(request: HttpRequest, tree: Tree, node_code: str) -> HttpResponse:
    """Drag and drop (JSON) or the "move under" select (a form): the node takes its subtree."""
    node = _node(request, tree, node_code)
    manager_only(request)
    parent_code = request.POST.get("parent", "")
    parent = (
        first_visible(nodes_for(request.user).filter(tree=tree), code=parent_code)
        if parent_code
        else None
    )
    error = None
    if "parent" not in request.POST:
        # "" means the top of the tree; a body without the field (JSON, a truncated post)
        # must not move the node there.
        error = _("Choose where to move the node.")
    elif parent_code and parent is None:
        error = _("No node “%(code)s” in this tree.") % {"code": parent_code}
    else:
        try:
            services.node_move(user=request.user, node=node, parent=parent)
        except ValidationError as exc:
            error = " ".join(exc.messages)
    where = parent.code if parent else _("the top of the tree")
    message = _("%(code)s moved under %(parent)s.") % {"code": node.code, "parent": where}
    if _wants_json(request):
        return JsonResponse(
            {"ok": error is None, "message": error or message}, status=400 if error else 200
        )
    if error:
        messages.error(request, error)
    else:
        messages.success(request, message)
    return redirect("kpitree:tree_editor", code=tree.code)


@tree_page
@require_http_methods(["GET", "POST"])
def node_delete(request: HttpRequest, tree: Tree, node_code: str) -> HttpResponse:
    node = _node(request, tree, node_code)
    manager_only(request)
    impact = queries.delete_impact(node)
    refusal = services.delete_refusal(node)
    # Said before the confirmation, not after it: the button is not offered then.
    ctx = {"tree": tree, "node": node, "impact": impact, "refused": bool(refusal)}
    if refusal and request.method == "GET":
        ctx["errors"] = [refusal]
    if request.method == "POST":
        try:
            counts = services.node_remove(user=request.user, node=node)
        except ValidationError as exc:
            ctx["errors"] = exc.messages
        else:
            if counts["archived"]:
                message = _(
                    "%(code)s was archived (%(nodes)s node(s) in all); its %(actuals)s actual(s) and %(targets)s target(s) are kept and it can be restored."
                ) % {"code": node.code, **counts}
            else:
                message = _(
                    "%(code)s was deleted with %(nodes)s node(s), %(actuals)s actual(s) and %(targets)s target(s)."
                ) % {"code": node.code, **counts}
            ctx = {"tree": tree, "archived": bool(counts["archived"])}
            return _done(request, tree, message, ctx, "kpitree/_deleted.html")
    return _panel(request, "kpitree/_delete_confirm.html", ctx)


@tree_page
@require_http_methods(["GET", "POST"])
def archived(request: HttpRequest, tree: Tree) -> HttpResponse:
    """The tree's archived KPIs, each with its history link and a restore button."""
    manager_only(request)
    errors: list[str] = []
    if request.method == "POST":
        node = Node.all_objects.filter(
            tree=tree, code=request.POST.get("node", ""), archived_at__isnull=False
        ).first()
        if node is None:
            raise Http404
        try:
            restored = services.node_restore(user=request.user, node=node)
        except ValidationError as exc:
            errors = exc.messages
        else:
            messages.success(
                request,
                _("%(code)s was restored with %(count)s node(s).")
                % {"code": node.code, "count": restored},
            )
            return redirect("kpitree:tree_editor", code=tree.code)
    ctx = {"tree": tree, "nodes": queries.archived_nodes(tree), "errors": errors}
    return render(request, "kpitree/archived.html", ctx)


@tree_page
@require_http_methods(["GET", "POST"])
def node_targets(request: HttpRequest, tree: Tree, node_code: str) -> HttpResponse:
    """Twelve months of targets beside the benchmark and the node's past actuals."""
    node = _node(request, tree, node_code)
    manager_only(request)
    source = request.POST if request.method == "POST" else request.GET
    first = parse_month(source.get("from", "")) or tree.start_month
    first = min(max(first, tree.start_month), tree.end_month)
    months = queries.target_grid(node, first)
    form = forms.TargetsForm(request.POST or None, months=months)
    if request.method == "POST" and form.is_valid():
        rows = form.rows(node)
        if not rows:
            form.add_error(None, _("Enter at least one month's target."))
        else:
            try:
                services.targets_record(user=request.user, tree=tree, rows=rows, channel="web")
            except ServiceError as exc:
                add_form_errors(
                    form,
                    exc,
                    lambda p: form.field_of_row(-1 if p.index is None else p.index, p.field),
                )
            else:
                months = queries.target_grid(node, first)
                ctx = _targets_ctx(tree, node, first, forms.TargetsForm(months=months))
                message = _("The targets of %(code)s were saved.") % {"code": node.code}
                return _done(request, tree, message, ctx, "kpitree/_targets.html")
    return _panel(request, "kpitree/_targets.html", _targets_ctx(tree, node, first, form))


def _targets_ctx(tree: Tree, node: Node, first, form: forms.TargetsForm) -> dict:
    return {
        "tree": tree,
        "node": node,
        "form": form,
        "first": first,
        "months": month_range(tree.start_month, tree.end_month),
        "rationales": Rationale.choices,
        "warn_pct": round(target_gap.FAR * 100),
        "warn_ratio": target_gap.FAR,
        "history_n": target_gap.HISTORY_MONTHS,
    }


@tree_page
@require_GET
def formula_check(request: HttpRequest, tree: Tree) -> JsonResponse:
    """Checks a formula as it is typed: the translated message and its position, or the value
    it would give for the children's latest month with data."""
    manager_only(request)
    node_code = request.GET.get("node", "")
    node = _node(request, tree, node_code) if node_code else None
    children = list(node.children.values_list("code", flat=True)) if node else []
    text = request.GET.get("formula", "")
    if not text.strip():
        return JsonResponse({"ok": True, "empty": True, "children": children})
    try:
        formula = parse_formula(text, children)
    except FormulaError as exc:
        return JsonResponse(
            {"ok": False, "message": exc.message, "position": exc.position, "children": children}
        )
    preview = queries.formula_preview(node, formula) if node else None
    body = {"ok": True, "children": children, "names": sorted(formula.names)}
    if preview is not None:
        body["preview"] = {
            "period": f"{preview.period:%Y-%m}" if preview.period else None,
            "period_label": month(preview.period) if preview.period else None,
            "value": preview.value,
            "display": preview.display,
            "missing": preview.missing,
        }
    return JsonResponse(body)


# -- the template catalogue -----------------------------------------------------------------------


@tree_page
@require_http_methods(["GET", "POST"])
def template_apply(request: HttpRequest, tree: Tree) -> HttpResponse:
    manager_only(request)
    initial = {"template": request.GET.get("template", ""), "parent": request.GET.get("parent", "")}
    form = forms.TemplateApplyForm(
        request.POST or None, tree=tree, user=request.user, initial=initial
    )
    if request.method == "POST" and form.is_valid():
        try:
            nodes = services.template_apply(user=request.user, tree=tree, **form.cleaned())
        except ValidationError as exc:
            add_form_errors(form, exc)
        else:
            message = _("%(count)s node(s) were added from the template: %(codes)s.") % {
                "count": len(nodes),
                "codes": ", ".join(n.code for n in nodes),
            }
            fresh = forms.TemplateApplyForm(tree=tree, user=request.user)
            return _done(
                request,
                tree,
                message,
                {"tree": tree, "form": fresh},
                "kpitree/_template_apply.html",
            )
    return _panel(request, "kpitree/_template_apply.html", {"tree": tree, "form": form})


@login_required
@require_GET
def catalogue(request: HttpRequest) -> HttpResponse:
    otype, phase = request.GET.get("type", ""), request.GET.get("phase", "")
    templates = TreeTemplate.objects.prefetch_related("nodes__kpi")
    if otype in OutsourcingType.values:
        templates = templates.filter(outsourcing_type=otype)
    if phase in Phase.values:
        templates = templates.filter(phase=phase)
    ctx = {
        "templates": [(t, _template_rows(t)) for t in templates],
        "types": [c for c in OutsourcingType.choices if c[0] != OutsourcingType.OTHER],
        "phases": Phase.choices,
        "selected_type": otype,
        "selected_phase": phase,
    }
    return render(request, "kpitree/catalogue.html", ctx)


def _template_rows(template: TreeTemplate) -> list[dict]:
    """The template's nodes depth first (parents before children), with their depth."""
    nodes = sorted(template.nodes.all(), key=lambda n: (n.position, n.pk))
    codes = {n.code for n in nodes}
    children: dict[str, list] = {}
    for n in nodes:
        children.setdefault(n.parent_code if n.parent_code in codes else "", []).append(n)
    rows, stack, seen = [], [(n, 0) for n in reversed(children.get("", []))], set()
    while stack:
        n, depth = stack.pop()
        if n.code in seen:  # a cycle entered in the admin: show each node once
            continue
        seen.add(n.code)
        rows.append(
            {
                "node": n,
                "kpi": n.kpi,
                "depth": depth,
                "importance": n.importance or n.kpi.importance,
            }
        )
        stack.extend((k, depth + 1) for k in reversed(children.get(n.code, [])))
    return rows
