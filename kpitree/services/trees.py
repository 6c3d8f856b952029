"""Trees: create, change, delete or archive, copy to a new plan, apply a template, restore
(`tree_*`, `template_apply`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import ProtectedError
from django.utils import timezone
from django.utils.translation import gettext as _

from kpi_planner.access import can_manage
from kpi_planner.months import month_add
from kpi_planner.tombstones import write_change_tombstones, write_tombstones

# The grammar's own rename, under the name kpitree.services has always exported.
from kpitree.formula import formula_rename as rename_in_formula
from kpitree.models import (
    MAX_PLAN_MONTHS,
    Node,
    RollupRule,
    Target,
    TimeAggregation,
    Tree,
    has_history,
)
from kpitree.recompute import mark_stale
from kpitree.services.nodes import next_position, stored_node_rule_errors
from kpitree.services.values import targets_record

# -- the browser editor: trees, copies, templates, moves -----------------------------------------
# Added for the KPI tree editor. Each function validates like node_save (the same rules, the same
# messages) and marks the tree stale once, so one change enqueues one recompute.

TREE_FIELDS = (
    "code",
    "name",
    "description",
    "start_month",
    "end_month",
    "fiscal_year_start",
    "green_threshold",
    "amber_threshold",
    "score_cap",
)


def _validated_tree(tree: Tree) -> Tree:
    tree.full_clean()  # field rules and Tree.clean (months, span, thresholds)
    return tree


@transaction.atomic
def tree_create(*, user, data: Mapping[str, Any]) -> Tree:
    """Create an empty plan (a tree without nodes) from `TREE_FIELDS`."""
    if not can_manage(user):
        raise ValidationError(_("Only managers may change KPI trees."))
    unknown = [name for name in data if name not in TREE_FIELDS]
    if unknown:
        raise ValidationError({name: _("Unknown field.") for name in unknown})
    tree = _validated_tree(Tree(**data))
    tree.save()
    return tree


# Tree fields the rollups depend on (a change to one of them marks the tree stale).
RECOMPUTE_FIELDS = (
    "start_month",
    "end_month",
    "fiscal_year_start",
    "green_threshold",
    "amber_threshold",
    "score_cap",
)


def _tree_vendor_ids(tree: Tree) -> set[int]:
    """The vendors that see the tree: those owning one of its nodes (their tombstones)."""
    return set(
        tree.nodes.filter(engagement__isnull=False).values_list("engagement__vendor_id", flat=True)
    )


@transaction.atomic
def tree_update(*, user, tree: Tree, data: Mapping[str, Any]) -> Tree:
    """Change the plan's fields in `data` (`TREE_FIELDS`). A new code leaves a tombstone under
    the old one; new months, fiscal year or thresholds mark the rollups stale."""
    if not can_manage(user):
        raise ValidationError(_("Only managers may change KPI trees."))
    unknown = [name for name in data if name not in TREE_FIELDS]
    if unknown:
        raise ValidationError({name: _("Unknown field.") for name in unknown})
    stored = Tree.objects.values("code", *RECOMPUTE_FIELDS).get(pk=tree.pk)
    for name, value in data.items():
        setattr(tree, name, value)
    _validated_tree(tree).save()
    vendor_ids = _tree_vendor_ids(tree)
    write_change_tombstones(
        "tree",
        "",
        old_code=stored["code"],
        new_code=tree.code,
        old_vendor_ids=vendor_ids,
        new_vendor_ids=vendor_ids,
    )
    if any(getattr(tree, name) != stored[name] for name in RECOMPUTE_FIELDS):
        mark_stale([tree.pk])
    return tree


@transaction.atomic
def tree_delete(*, user, tree: Tree) -> bool:
    """Delete a plan with its nodes, or archive it (tree_restore brings it back) when it has
    actuals, targets or audit history: the record is never erased. Either way its code gets a
    tombstone, for every vendor that saw it too. True when archived."""
    if not can_manage(user):
        raise ValidationError(_("Only managers may change KPI trees."))
    code, vendor_ids = tree.code, _tree_vendor_ids(tree)
    archived = has_history(node__tree=tree)
    if not archived:
        try:
            with transaction.atomic():
                tree.delete()
        except ProtectedError:  # a record of an app above (a review, an alert) names it: keep it
            archived = True
    if archived:
        Tree.objects.filter(pk=tree.pk).update(archived_at=timezone.now())
    write_tombstones("tree", "", [code], vendor_ids)
    return archived


@transaction.atomic
def tree_copy(
    *,
    user,
    tree: Tree,
    code: str,
    name: str,
    with_targets: bool,
    shift_months: int = 12,
    channel: str = "web",
) -> Tree:
    """Copy a tree's nodes (and, if asked, its targets) into a new tree `shift_months` later.

    Actuals are never copied: a copy is a plan for another period. Targets move with the months
    (April 2026 → April 2027 for a shift of 12) and go through targets_record, so they are
    validated and audited like any other target.
    """
    if not can_manage(user):
        raise ValidationError(_("Only managers may change KPI trees."))
    if isinstance(shift_months, bool) or not isinstance(shift_months, int):
        raise ValidationError({"shift_months": _("Enter a whole number of months.")})
    if abs(shift_months) > MAX_PLAN_MONTHS:
        raise ValidationError(
            {"shift_months": _("Shift by at most %(max)d months.") % {"max": MAX_PLAN_MONTHS}}
        )
    copy = Tree(
        code=code,
        name=name,
        description=tree.description,
        start_month=month_add(tree.start_month, shift_months),
        end_month=month_add(tree.end_month, shift_months),
        fiscal_year_start=tree.fiscal_year_start,
        green_threshold=tree.green_threshold,
        amber_threshold=tree.amber_threshold,
        score_cap=tree.score_cap,
    )
    _validated_tree(copy).save()
    source = list(Node.objects.filter(tree=tree).order_by("id"))
    skip = {"id", "tree", "parent", "copied_from", "created_at", "updated_at"}
    fields = [f.attname for f in Node._meta.concrete_fields if f.name not in skip]
    # Each clone remembers its original: last year's figures are read from it (前年同月比).
    clones = [
        Node(tree=copy, copied_from_id=n.pk, **{f: getattr(n, f) for f in fields}) for n in source
    ]
    Node.objects.bulk_create(clones, batch_size=1000)
    new_id = {old.pk: new.pk for old, new in zip(source, clones, strict=True)}
    for old, new in zip(source, clones, strict=True):
        new.parent_id = None if old.parent_id is None else new_id.get(old.parent_id)
    Node.objects.bulk_update([n for n in clones if n.parent_id], ["parent"], batch_size=1000)
    rows = []
    if with_targets:
        code_of = {n.pk: n.code for n in source}
        rows = [
            {
                "node": code_of[node_id],
                "period": f"{month_add(period, shift_months):%Y-%m}",
                "value": value,
                "rationale": rationale,
            }
            for node_id, period, value, rationale in Target.objects.filter(
                node__tree=tree
            ).values_list("node_id", "period", "value", "rationale")
        ]
    if rows:
        targets_record(user=user, tree=copy, rows=rows, channel=channel)  # marks the copy stale
    else:
        mark_stale([copy.pk])
    return copy


def _free_code(base: str, taken: set[str]) -> str:
    code, n = base, 2
    while code in taken:
        code = f"{base}_{n}"
        n += 1
    taken.add(code)
    return code


@transaction.atomic
def template_apply(
    *, user, tree: Tree, template, parent: Node | None, engagement=None, prefix: str = ""
) -> list[Node]:
    """Add a catalogue tree template under `parent` (None: at the top of the tree).

    Node codes are the template's codes with `prefix`, made unique in the tree with a suffix
    (`calls`, `calls_2`, …); formulas are rewritten to the new codes. Every node is checked by
    the rules of node_save; if any fails, nothing is added. Nodes keep the catalogue KPI's code
    in `template_code`, and take the name and definition in the manager's language.
    """
    from kpitree.catalogue import template_problems

    if not can_manage(user):
        raise ValidationError(_("Only managers may change KPI trees."))
    if parent is not None and parent.tree_id != tree.pk:
        raise ValidationError({"parent": _("The parent must be in the same tree.")})
    items = list(template.nodes.select_related("kpi").order_by("position", "id"))
    problems = template_problems(items)
    if not items:
        problems.append(_("The template has no nodes."))
    if problems:
        raise ValidationError({"template": problems})
    taken = set(Node.all_objects.filter(tree=tree).values_list("code", flat=True))
    renames = {item.code: _free_code(f"{prefix}{item.code}", taken) for item in items}
    by_code = {item.code: item for item in items}
    depth = {}
    for item in items:
        d, current = 0, item
        while current.parent_code:
            d, current = d + 1, by_code[current.parent_code]
        depth[item.code] = d
    created: dict[str, Node] = {}
    errors: dict[str, list[str]] = {}
    position = next_position(tree, parent)
    # Under a sum or an average, a template root of another unit (a rate beside the counts)
    # would be added up with them: it goes to the top of the tree instead, as its own root.
    summed_unit = None
    if parent is not None and parent.rollup in (
        RollupRule.SUM,
        RollupRule.AVG,
        RollupRule.WEIGHTED_AVG,
    ):
        units = {u for u in parent.children.values_list("unit", flat=True) if u}
        summed_unit = parent.unit or (units.pop() if len(units) == 1 else None)
    for item in sorted(items, key=lambda i: depth[i.code]):  # parents before their children
        kpi = item.kpi
        is_root = not item.parent_code
        apart = is_root and summed_unit is not None and kpi.unit and kpi.unit != summed_unit
        time_aggregation = kpi.time_aggregation
        if time_aggregation == TimeAggregation.RECOMPUTE and item.rollup != RollupRule.FORMULA:
            time_aggregation = TimeAggregation.AVG
        node = Node(
            tree=tree,
            code=renames[item.code],
            name=kpi.name[:200],
            kind="kgi" if is_root and parent is None else "kpi",
            parent=None if apart else parent if is_root else created.get(item.parent_code),
            engagement=engagement,
            definition=kpi.definition,
            unit=kpi.unit,
            direction=kpi.direction,
            time_aggregation=time_aggregation,
            rollup=item.rollup,
            formula=rename_in_formula(item.formula, renames) if item.formula else "",
            weight=item.weight,
            perspective=kpi.perspective,
            result_type=kpi.result_type,
            importance=item.importance or kpi.importance,
            benchmark=kpi.benchmark,
            benchmark_source=kpi.benchmark_source,
            template_code=kpi.code,
            position=position if is_root else item.position,
        )
        position += is_root
        try:
            node.full_clean(validate_unique=True)
        except ValidationError as exc:
            for field, messages in exc.message_dict.items():
                errors.setdefault(field, []).extend(f"{node.code}: {m}" for m in messages)
            continue
        node.save()
        created[item.code] = node
    # With every node in place the formulas can be checked against their real children.
    for node in created.values():
        for field, messages in stored_node_rule_errors(node, None).items():
            errors.setdefault(field, []).extend(f"{node.code}: {m}" for m in messages)
    if errors:
        raise ValidationError(errors)  # the atomic block rolls back what was saved
    mark_stale([tree.pk])
    return list(created.values())


@transaction.atomic
def tree_restore(*, user, tree: Tree) -> Tree:
    """Bring back a tree archived by a DELETE (kpitree.api.TreeViewSet.perform_destroy)."""
    if not can_manage(user):
        raise ValidationError(_("Only managers may change KPI trees."))
    Tree.objects.filter(pk=tree.pk).update(archived_at=None, updated_at=timezone.now())
    mark_stale([tree.pk])
    tree.refresh_from_db()
    return tree
