"""The rows of the KPI tree and of its table, rendered in one pass.

Why not a `{% for %}` loop: Django's template engine costs about 50 µs per node for these rows
(some thirty variables, each resolved and escaped), so a 5,000-node tree spent most of its time
there. Here each row is one f-string; every value from the database goes through `escape`.
The markup is the same as a template would give; kpitree/templates hold everything else.
"""

from __future__ import annotations

from html import escape

from django import template
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext_lazy as _

from kpitree.queries import TreeView

register = template.Library()


def _e(value: object) -> str:
    return escape(str(value), quote=True)


LABELS = {
    "edit": _("Edit"),
    "child": _("Child"),
    "child_long": _("Add a child KPI under"),
    "details": _("Details"),
    "toggle": _("Collapse or expand"),
    "objective": _("Objective"),
    "unit": _("unit"),
    "actual": _("Actual"),
    "target": _("Target"),
    "ach": _("Achievement"),
    "status": _("Status"),
}


def _labels() -> dict[str, str]:
    """The labels in the reader's language, translated once per page rather than per node."""
    return {key: _e(label) for key, label in LABELS.items()}


def _actions(n: dict, can_edit: bool, create_url: str, lb: dict[str, str]) -> str:
    code = _e(n["code"])
    if not can_edit:
        return (
            f'<a href="{n["url"]}" class="kt-act" data-act="details" '
            f'aria-label="{lb["details"]} {code}">{lb["details"]}</a>'
        )
    return (
        f'<a href="{n["url"]}" class="kt-act" data-act="edit" aria-label="{lb["edit"]} {code}">'
        f'{lb["edit"]}</a><a href="{_e(create_url)}?parent={code}" class="kt-act" data-act="add" '
        f'aria-label="{lb["child_long"]} {code}">＋{lb["child"]}</a>'
    )


@register.simple_tag
def tree_nodes(
    view: TreeView,
    can_edit: bool,
    create_url: str,
    badges: dict[str, tuple[int, str]] | None = None,
) -> SafeString:
    """The tree as nested lists: each node a card, its children in a nested <ul>; `badges`:
    the open design findings of a node (their number and the worst severity)."""
    lb = _labels()
    badges = badges or {}
    findings_label = _e(_("Design findings"))
    out = ['<ul class="kt-tree">']
    for n in view.rows:
        code = _e(n["code"])
        kgi = n["kind"] == "kgi"
        badge = '<span class="kt-kind">KGI</span>' if kgi else ""
        if n["code"] in badges:
            count, worst = badges[n["code"]]
            badge += (
                f'<span class="kt-lint sev-{_e(worst)}" data-testid="lint-badge" '
                f'title="{findings_label}">⚠ {count}</span>'
            )
        drag = f' draggable="true" data-move-url="{n["url"]}move/"' if can_edit else ""
        toggle = (
            f'<button type="button" class="kt-toggle" aria-expanded="true" aria-controls="kids-{code}">'
            f'<span aria-hidden="true">▾</span><span class="visually-hidden">{lb["toggle"]} {code}</span></button>'
            if n["has_children"]
            else '<span class="kt-leaf" aria-hidden="true"></span>'
        )
        okr = (
            f'<p class="kt-okr"><span class="kt-okr-label">{lb["objective"]}</span> {_e(n["okr_objective"])}</p>'
            if n["okr_objective"]
            else ""
        )
        meta = []
        if n["owner_label"]:
            meta.append(f'<span class="kt-owner">{_e(n["owner_label"])}</span>')
        if n["unit"]:
            meta.append(f"<span>{lb['unit']}: {_e(n['unit'])}</span>")
        if n["computed"]:
            formula = f": <code>{_e(n['formula'])}</code>" if n["formula"] else ""
            meta.append(f'<span class="kt-rule">{_e(n["rollup_label"])}{formula}</span>')
        status = _e(n["status"])
        out.append(
            f'<li class="kt-node" id="node-{code}">'
            f'<div class="kt-card kt-st-{status}{" kt-kgi" if kgi else ""}" data-code="{code}"{drag}>'
            f'<div class="kt-card-head">{toggle}{badge}'
            f'<code class="kt-code">{code}</code> <strong class="kt-name">{_e(n["name"])}</strong></div>'
            f'{okr}<p class="kt-meta">{"".join(meta)}</p>'
            f'<dl class="kt-figs"><div><dt>{lb["actual"]}</dt><dd class="kt-actual">{_e(n["actual"])}</dd></div>'
            f'<div><dt>{lb["target"]}</dt><dd class="kt-target">{_e(n["target"])}</dd></div>'
            f'<div><dt>{lb["ach"]}</dt><dd class="kt-ach">{_e(n["achievement"])}</dd></div>'
            f'<div><dt class="visually-hidden">{lb["status"]}</dt><dd><span class="status status-{status}">'
            f"{_e(n['status_label'])}</span></dd></div></dl>"
            f'<p class="kt-acts">{_actions(n, can_edit, create_url, lb)}</p></div>'
        )
        out.append(f'<ul class="kt-children" id="kids-{code}">' if n["has_children"] else "</li>")
        out.append(n["close_html"])
    out.append("</ul>")
    return mark_safe("".join(out))  # every value above is escaped


@register.simple_tag
def table_rows(view: TreeView, can_edit: bool, create_url: str) -> SafeString:
    """The table's body: one row per node, the code indented by depth."""
    lb = _labels()
    out = []
    for n in view.rows:
        code = _e(n["code"])
        drag = f' draggable="true" data-move-url="{n["url"]}move/"' if can_edit else ""
        kgi = '<span class="kt-kind">KGI</span>' if n["kind"] == "kgi" else ""
        okr = (
            f'<br><small class="kt-okr"><span class="kt-okr-label">{lb["objective"]}</span> {_e(n["okr_objective"])}</small>'
            if n["okr_objective"]
            else ""
        )
        status = _e(n["status"])
        out.append(
            f'<tr class="kt-row" id="row-{code}" data-code="{code}"{drag}>'
            f'<td class="kt-indent" style="--depth: {int(n["depth"])}">{kgi}<code>{code}</code></td>'
            f"<td>{_e(n['name'])}{okr}</td><td>{_e(n['owner_label'] or '—')}</td><td>{_e(n['unit'])}</td>"
            f'<td class="num kt-actual">{_e(n["actual"])}</td><td class="num kt-target">{_e(n["target"])}</td>'
            f'<td class="num kt-ach">{_e(n["achievement"])}</td>'
            f'<td><span class="status status-{status}">{_e(n["status_label"])}</span></td>'
            f'<td class="kt-acts">{_actions(n, can_edit, create_url, lb)}</td></tr>'
        )
    return mark_safe("".join(out))  # every value above is escaped
