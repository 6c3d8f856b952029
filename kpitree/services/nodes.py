"""Nodes: save, change, move, archive or delete, restore (`node_*`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import ProtectedError, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from engagements.models import Engagement
from kpi_planner.access import can_manage
from kpi_planner.models import Tombstone
from kpi_planner.tombstones import write_change_tombstones, write_tombstones
from kpitree.formula import formula_names
from kpitree.models import (
    Actual,
    Channel,
    Node,
    NodeVersion,
    RollupRule,
    Target,
    Tree,
    has_history,
)
from kpitree.recompute import mark_stale
from kpitree.services.common import has_nul, nul_message

# -- trees and nodes ----------------------------------------------------------------------------

NODE_FIELDS = (
    "code",
    "name",
    "kind",
    "parent",
    "engagement",
    "owner",
    "definition",
    "unit",
    "direction",
    "time_aggregation",
    "rollup",
    "formula",
    "weight",
    "perspective",
    "result_type",
    "importance",
    "benchmark",
    "benchmark_source",
    "review_cadence",
    "green_threshold",
    "amber_threshold",
    "okr_objective",
    "source",
    "template_code",
    "position",
)


# Node fields that no rollup or score reads: changing only these queues no recompute.
TEXT_ONLY_FIELDS = frozenset(
    {"code", "name", "owner", "definition", "benchmark_source", "okr_objective", "template_code"}
)


@transaction.atomic
def node_save(
    *,
    user,
    node: Node,
    data: Mapping[str, Any],
    reason: str = "",
    channel: str = Channel.WEB,
) -> Node:
    """Create (node.pk is None) or change a node, validating the tree's rules; then recompute.
    A change of its definition (NodeVersion.DEFINITION_FIELDS) keeps the old one, with `reason`,
    once the node has actuals or targets or when a reason is given."""
    if not can_manage(user):
        raise ValidationError(_("Only managers may change KPI trees."))
    old = Node.objects.filter(pk=node.pk).values("code", "parent_id").first() if node.pk else None
    for name in data:
        if name not in NODE_FIELDS:
            raise ValidationError({name: _("Unknown field.")})
    # Before anything below queries with these values (the code's uniqueness check would fail
    # on PostgreSQL, which refuses NUL in a query).
    nul = {name: [nul_message()] for name, value in data.items() if has_nul(value)}
    if nul:
        raise ValidationError(nul)
    is_new = node.pk is None
    before = {name: getattr(node, name) for name in data if name not in TEXT_ONLY_FIELDS}
    definition_before = _definition(node)
    for name, value in data.items():
        setattr(node, name, value)
    errors: dict[str, list[str]] = {}
    try:
        # The (tree, code) constraint would be reported under __all__; check it by name instead.
        node.full_clean(validate_unique=False, validate_constraints=False)
    except ValidationError as exc:
        errors.update(exc.message_dict)
    taken = (
        Node.all_objects.filter(tree_id=node.tree_id, code=node.code)
        .exclude(pk=node.pk)
        .values_list("archived_at", flat=True)
        .first()
        if node.code
        else None
    )
    if taken is not None:
        from kpitree.node_sync import archived_code_message

        errors.setdefault("code", []).append(archived_code_message(node.code))
    elif (
        node.code
        and Node.objects.filter(tree_id=node.tree_id, code=node.code).exclude(pk=node.pk).exists()
    ):
        errors.setdefault("code", []).append(
            _("The code “%(code)s” is already used in this tree.") % {"code": node.code}
        )
    changed = {"new"} if is_new else {n for n, v in before.items() if getattr(node, n) != v}
    errors_extra = stored_node_rule_errors(node, old, changed)
    for key, messages in errors_extra.items():
        errors.setdefault(key, []).extend(messages)
    if errors:
        raise ValidationError(errors)
    node.save()
    definition_after = _definition(node)
    # Versions are kept once the definition governs recorded numbers (the node has actuals or
    # targets) or when the change gives a reason (a review's decision): drafting a new KPI's
    # definition is not history, and an empty draft can still be deleted.
    if (
        not is_new
        and definition_after != definition_before
        and (
            reason
            or Actual.objects.filter(node=node).exists()
            or Target.objects.filter(node=node).exists()
        )
    ):
        changed_fields = [
            k for k in definition_after if definition_after[k] != definition_before[k]
        ]
        NodeVersion.objects.create(
            node=node,
            before={k: definition_before[k] for k in changed_fields},
            after={k: definition_after[k] for k in changed_fields},
            reason=reason,
            user=user,
            at=timezone.now(),
            channel=channel,
        )
    if is_new or any(getattr(node, name) != value for name, value in before.items()):
        mark_stale([node.tree_id])
    return node


def _definition(node: Node) -> dict[str, Any]:
    return {name: getattr(node, name) for name in NodeVersion.DEFINITION_FIELDS}


def nodes_mark_reviewed(*, node_ids: Collection[int], on: dt.date) -> int:
    """Record that a review meeting held `on` covered these KPIs (the lint's `review-overdue`
    counts from it); an earlier date never replaces a later one. Returns the nodes changed."""
    return (
        Node.objects.filter(pk__in=list(node_ids))
        .filter(Q(reviewed_on__isnull=True) | Q(reviewed_on__lt=on))
        .update(reviewed_on=on)
    )


def stored_node_rule_errors(
    node: Node, old: Mapping[str, Any] | None, changed: Collection[str] = ("new",)
) -> dict[str, list[str]]:
    """The tree rules of node_sync.node_rule_errors and unit_errors, with what they need read
    from the database. `changed`: the fields that change ("new" for a new node)."""
    from kpitree.node_sync import node_rule_errors, unit_errors

    foreign_parent = cycle = False
    parent = node.parent  # None (without a query) when it has no parent
    if parent is not None:
        foreign_parent = parent.tree_id != node.tree_id
        cycle = not foreign_parent and bool(node.pk) and _is_descendant_or_self(parent, node.pk)
    former = None
    if (
        old
        and old["parent_id"]
        and (old["code"] != node.code or old["parent_id"] != node.parent_id)
    ):
        former = Node.objects.get(pk=old["parent_id"])
    errors = node_rule_errors(
        node,
        foreign_parent=foreign_parent,
        cycle=cycle,
        children=lambda: list(node.children.values_list("code", flat=True)) if node.pk else [],
        former_parent=former,
        old_code=old["code"] if old else None,
    )
    same_tree_parent = parent if not foreign_parent else None

    def sibling_units() -> dict[str, str]:
        if same_tree_parent is None:
            return {}
        return dict(same_tree_parent.children.exclude(pk=node.pk).values_list("code", "unit"))

    units = unit_errors(
        node,
        changed=changed,
        child_units=lambda: dict(node.children.values_list("code", "unit")) if node.pk else {},
        parent=same_tree_parent,
        sibling_units=sibling_units,
    )
    for name, messages in units.items():
        errors.setdefault(name, []).extend(messages)
    return errors


def _is_descendant_or_self(candidate: Node, ancestor_id: int) -> bool:
    current: Node | None = candidate
    seen = set()
    while current is not None and current.pk not in seen:
        if current.pk == ancestor_id:
            return True
        seen.add(current.pk)
        current = current.parent
    return False


def subtree_ids(node: Node, *, archived: bool = False) -> list[int]:
    """The node and its descendants (with archived: archived descendants too)."""
    manager = Node.all_objects if archived else Node.objects
    parent_of = dict(manager.filter(tree_id=node.tree_id).values_list("id", "parent_id"))
    children: dict[int, list[int]] = {}
    for child, parent in parent_of.items():
        children.setdefault(parent, []).append(child)
    out, stack = [], [node.pk]
    while stack:
        current = stack.pop()
        out.append(current)
        stack.extend(children.get(current, []))
    return out


@transaction.atomic
def delete_refusal(node: Node) -> str | None:
    """Why the node cannot be deleted (or archived) now, or None: its parent's formula names it."""
    parent = node.parent
    if (
        parent is not None
        and parent.rollup == RollupRule.FORMULA
        and node.code in formula_names(parent.formula)
    ):
        return _("“%(code)s” is used in the formula of %(parent)s; change that formula first.") % {
            "code": node.code,
            "parent": parent.code,
        }
    return None


def node_delete(*, user, node: Node) -> dict[str, int]:
    """Delete a node with its subtree (archive it when it has history); refused while the
    parent's formula names it."""
    if not can_manage(user):
        raise ValidationError(_("Only managers may change KPI trees."))
    refusal = delete_refusal(node)
    if refusal:
        raise ValidationError({"code": refusal})
    ids = subtree_ids(node)
    everything = subtree_ids(node, archived=True)
    counts = {
        "nodes": len(ids),
        "actuals": Actual.objects.filter(node_id__in=ids).count(),
        "targets": Target.objects.filter(node_id__in=ids).count(),
    }
    # The record is never erased: a subtree with actuals, targets or audit history (its own
    # or an archived descendant's) is archived and can be restored; only an empty one goes.
    counts["archived"] = int(has_history(node_id__in=everything))
    codes = list(Node.objects.filter(pk__in=ids).values_list("code", flat=True))
    Tombstone.objects.bulk_create(
        [Tombstone(kind="node", scope=node.tree.code, code=c) for c in codes]
    )
    if counts["archived"]:
        now = timezone.now()
        Node.objects.filter(pk__in=ids).update(archived_at=now, updated_at=now)
    else:
        try:
            with transaction.atomic():
                Node.all_objects.filter(pk__in=everything).delete()
        except ProtectedError:  # a record of an app above (a review, an action) names a node
            counts["archived"] = 1
            now = timezone.now()
            Node.objects.filter(pk__in=ids).update(archived_at=now, updated_at=now)
    mark_stale([node.tree_id])
    return counts


@transaction.atomic
def node_restore(*, user, node: Node) -> int:
    """Bring back an archived node with the descendants archived with it; returns how many."""
    if not can_manage(user):
        raise ValidationError(_("Only managers may change KPI trees."))
    if node.archived_at is None:
        raise ValidationError(_("This KPI is not archived."))
    parent = Node.all_objects.filter(pk=node.parent_id).first() if node.parent_id else None
    if parent is not None and parent.archived_at is not None:
        raise ValidationError(
            {"parent": _("Restore %(parent)s first: it is archived too.") % {"parent": parent.code}}
        )
    ids = [
        pk
        for pk, archived_at in Node.all_objects.filter(
            pk__in=subtree_ids(node, archived=True)
        ).values_list("pk", "archived_at")
        if archived_at == node.archived_at
    ]
    restored = Node.all_objects.filter(pk__in=ids).update(
        archived_at=None, updated_at=timezone.now()
    )
    mark_stale([node.tree_id])
    return restored


def next_position(tree: Tree, parent: Node | None) -> int:
    siblings = Node.objects.filter(tree=tree, parent=parent)
    last = max(siblings.values_list("position", flat=True), default=-1)
    return last + 1


@transaction.atomic
def node_move(*, user, node: Node, parent: Node | None) -> Node:
    """Move `node` with its subtree under `parent` (None: to the top), as its last child.

    node_save checks the move: same tree, no cycle, and not out from under a parent whose
    formula names the node.
    """
    if parent is not None and parent.pk == node.parent_id:
        return node
    if parent is None and node.parent_id is None:
        return node
    position = next_position(node.tree, parent)
    return node_save(user=user, node=node, data={"parent": parent, "position": position})


@transaction.atomic
def node_remove(*, user, node: Node) -> dict[str, int]:
    """node_delete plus what the API's DELETE records: the vendors that owned nodes of the
    subtree get their own tombstones, so their `?updated_since=` syncs see the deletion."""

    if not can_manage(user):
        raise ValidationError(_("Only managers may change KPI trees."))
    owned: dict[int, list[str]] = {}
    for code, vendor_id in Node.objects.filter(
        pk__in=subtree_ids(node), engagement__isnull=False
    ).values_list("code", "engagement__vendor_id"):
        owned.setdefault(vendor_id, []).append(code)
    tree_code = node.tree.code
    counts = node_delete(user=user, node=node)
    for vendor_id, codes in owned.items():
        write_tombstones("node", tree_code, codes, {vendor_id}, plain=False)
    return counts


@transaction.atomic
def node_update(
    *,
    user,
    node: Node,
    data: Mapping[str, Any],
    reason: str = "",
    channel: str = Channel.WEB,
) -> Node:
    """node_save of an existing node plus what the API's PATCH records: a new code leaves a
    tombstone under the old one (for the vendor that owned it too), and a vendor that no longer
    owns the node (its engagement changed) gets one."""

    def vendor_ids(engagement_id: int | None) -> set[int]:
        return set(
            Engagement.objects.filter(pk=engagement_id).values_list("vendor_id", flat=True)
            if engagement_id
            else []
        )

    old_code, old_engagement = Node.objects.values_list("code", "engagement_id").get(pk=node.pk)
    old_vendor_ids = vendor_ids(old_engagement)
    node = node_save(user=user, node=node, data=data, reason=reason, channel=channel)
    write_change_tombstones(
        "node",
        node.tree.code,
        old_code=old_code,
        new_code=node.code,
        old_vendor_ids=old_vendor_ids,
        new_vendor_ids=vendor_ids(node.engagement_id),
    )
    return node
