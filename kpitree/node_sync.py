"""Bulk sync of a tree's nodes (`PUT trees/{tree}/nodes/`), and the node rules it shares with
`services.node_save`.

`nodes_sync` upserts a list of nodes by code, all or nothing: rows whose code is in the tree
change that node (only the fields sent, like PATCH), the others create nodes; nodes of the tree
that are not in the list are left alone. Every row is checked by the rules of one node, against
the tree *as it will be once the whole list is applied*: a parent may come later in the list, a
formula names the node's children after the sync, and a cycle made only of rows of the list is
found too. Validation runs in memory (one query for the tree's nodes, one for the engagements),
so 5,000 nodes take seconds, not minutes (bench/bench_node_sync.py).

`node_rule_errors` holds the tree rules (cycle, formula, recompute, thresholds, a parent's
formula naming the node) and their messages once; services.nodes.stored_node_rule_errors gathers what it
needs from the database and calls it.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from engagements.models import Engagement
from kpi_planner.access import can_manage
from kpi_planner.errors import Problem
from kpi_planner.tombstones import write_tombstones
from kpitree import services
from kpitree.bulk import concrete_field, update_rows
from kpitree.formula import FormulaError, formula_names, parse_formula
from kpitree.models import Node, RollupRule, TimeAggregation, Tree
from kpitree.services.common import _as_rows, _error

# Read-only fields of the node representation (GET): accepted and ignored, so that a client can
# send back what it read.
READ_ONLY_FIELDS = frozenset({"updated_at"})
# Checked from the maps loaded once, not by full_clean (whose check queries once per node).
FOREIGN_KEYS = ("tree", "parent", "engagement")
BATCH = 1000


# -- the rules of one node, shared with services.node_save -------------------------------------


def unknown_parent_message(code: str) -> str:
    return _("No node “%(code)s” in this tree.") % {"code": code}


def archived_code_message(code: str) -> str:
    return _(
        "The code “%(code)s” belongs to an archived KPI of this tree; restore it or choose another code."
    ) % {"code": code}


def unknown_engagement_message(code: str) -> str:
    return _("No engagement “%(code)s”.") % {"code": code}


def node_rule_errors(
    node: Node,
    *,
    foreign_parent: bool,
    cycle: bool,
    children: Callable[[], Collection[str]],
    former_parent: Node | None,
    old_code: str | None,
) -> dict[str, list[str]]:
    """The tree rules of `node` (with its new values), beyond its fields' own rules.

    `foreign_parent`: its parent is in another tree; `cycle`: its parent is itself or one of its
    descendants; `children()`: the codes of its children (called only for a formula to check);
    `former_parent`: the parent it leaves, or keeps while its code changes from `old_code`
    (None when neither happens).
    """
    errors: dict[str, list[str]] = {}

    def add(name: str, message: str) -> None:
        errors.setdefault(name, []).append(message)

    if foreign_parent:
        add("parent", _("The parent must be in the same tree."))
    elif cycle:
        add(
            "parent",
            _(
                "A node cannot move under itself or one of its descendants (that would make a cycle)."
            ),
        )
    if node.rollup == RollupRule.FORMULA and node.formula.strip():
        try:
            parse_formula(node.formula, children())
        except FormulaError as exc:
            add("formula", exc.message)
    elif node.rollup != RollupRule.FORMULA and node.formula.strip():
        add("formula", _("Only a node whose rollup is “formula” has a formula."))
    if node.time_aggregation == TimeAggregation.RECOMPUTE and node.rollup != RollupRule.FORMULA:
        add("time_aggregation", _("“recompute” is only for formula nodes."))
    if (
        node.green_threshold is not None
        and node.amber_threshold is not None
        and node.amber_threshold > node.green_threshold
    ):
        add("amber_threshold", _("The amber threshold must not be above the green one."))
    # A parent's formula may name this node: renaming or moving it away would break it.
    if (
        former_parent is not None
        and former_parent.rollup == RollupRule.FORMULA
        and old_code in formula_names(former_parent.formula)
    ):
        add(
            "code" if old_code != node.code else "parent",
            _("“%(code)s” is used in the formula of %(parent)s; change that formula first.")
            % {"code": old_code, "parent": former_parent.code},
        )
    return errors


AGGREGATES = (RollupRule.SUM, RollupRule.AVG, RollupRule.WEIGHTED_AVG)


def unit_errors(
    node: Node,
    *,
    changed: Collection[str],
    child_units: Callable[[], Mapping[str, str]],
    parent: Node | None,
    sibling_units: Callable[[], Mapping[str, str]],
) -> dict[str, list[str]]:
    """A sum or an average adds up numbers of one unit: 件 and % do not add. Formulas may mix
    units (売上 = 訪問数 × CVR × 単価). Checked when a change would create the mix (`changed`:
    the fields that change, "new" for a new node); a blank unit matches any.

    `child_units()`: code → unit of the node's children; `sibling_units()`: of the other
    children of `parent`.
    """
    errors: dict[str, list[str]] = {}
    is_new = "new" in changed
    if node.rollup in AGGREGATES and (is_new or "rollup" in changed):
        units = {code: unit for code, unit in child_units().items() if unit}
        if len(set(units.values())) > 1:
            listed = ", ".join(f"{code} ({unit})" for code, unit in sorted(units.items()))
            errors["rollup"] = [
                _(
                    "The children have different units (%(units)s): a sum or an average adds "
                    "numbers of one unit. Use a formula to combine them, or move the odd one out."
                )
                % {"units": listed}
            ]
    if (
        parent is not None
        and parent.rollup in AGGREGATES
        and node.unit
        and (is_new or "unit" in changed or "parent" in changed)
    ):
        others = {unit for unit in sibling_units().values() if unit}
        if others and others != {node.unit}:
            errors["unit"] = [
                _(
                    "%(parent)s adds up its children in %(units)s: give this KPI the same unit, "
                    "or put it under another parent."
                )
                % {"parent": parent.code, "units": "・".join(sorted(others))}
            ]
    return errors


# -- the bulk sync --------------------------------------------------------------------------------


@dataclass
class _Item:
    """One row of the payload on its way to a node."""

    index: int
    row: Mapping[str, Any]
    node: Node
    is_new: bool
    parent_code: str | None  # the parent after the sync (valid or not)
    old_parent_code: str | None = None
    old_vendor_id: int | None = None
    changed: list[str] = field(default_factory=list)  # model fields whose value changes
    failed: bool = False
    unconverted: bool = False  # a value of the wrong type: the row's other rules are not run


def _text_error() -> str:
    return _("Write this as text.")


def _converted(model_field: models.Field, value: Any) -> tuple[Any, str | None]:
    """The JSON `value` for `model_field` as full_clean expects it, or an error message.

    full_clean converts and checks the values; this only refuses what it would turn silently
    into something else (a list written as text, True as 1, NaN as a benchmark)."""
    if value is None:
        return None, None  # full_clean refuses it where the field is not nullable
    if isinstance(model_field, models.CharField | models.TextField):
        return (value, None) if isinstance(value, str) else (None, _text_error())
    if isinstance(model_field, models.FloatField | models.IntegerField):
        number = services.parse_number(value)
        if isinstance(model_field, models.IntegerField) and number is not None:
            number = int(number) if number.is_integer() else None
        if number is None:
            return None, model_field.error_messages["invalid"] % {"value": value}
        return number, None
    return value, None


@transaction.atomic
def nodes_sync(*, user, tree: Tree, rows: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    """Upsert the nodes of `tree` by code from `rows` (the fields of the node API, `parent` and
    `engagement` as codes): all rows or none; returns {"created", "updated", "unchanged"}.

    Raises services.RecordError listing every bad row by index: unknown fields, NUL characters,
    values of the wrong type, a code sent twice, the field rules (Node.full_clean), an unknown
    parent or engagement, and the rules of node_rule_errors against the tree after the sync.
    Nothing is deleted. One structural recompute is queued when something changed.
    """
    if not can_manage(user):
        raise services.RecordError(
            [_error(0, None, _("Only managers may change KPI trees."), "forbidden")]
        )
    rows = _as_rows(rows)
    # Serialise the syncs of one tree: each validates against the nodes it read.
    list(Tree.objects.select_for_update().filter(pk=tree.pk).values_list("pk", flat=True))
    sync = _Sync(tree)
    for i, row in enumerate(rows):
        sync.read_row(i, row)
    sync.match_engagements()
    sync.plan_tree()
    for item in sync.items:
        if not item.unconverted:
            sync.check_rules(item)
    if sync.errors:
        raise services.RecordError(sync.errors)
    return _write(tree, sync.items, sync.final, sync.vendor_of)


class _Sync:
    """One call of nodes_sync, step by step: each row alone (its code, fields and types); the
    engagements named; the tree after the sync (parents, children, cycles); each node's rules.
    Every problem is kept with its row's index; the steps go on after one, so that all are
    reported at once."""

    def __init__(self, tree: Tree) -> None:
        self.tree = tree
        self.existing = {n.code: n for n in Node.objects.filter(tree=tree)}
        self.archived = set(
            Node.all_objects.filter(tree=tree, archived_at__isnull=False).values_list(
                "code", flat=True
            )
        )
        # id → code of the tree's nodes (looked up with a parent id, None for a root)
        self.code_of: dict[int | None, str] = {n.pk: n.code for n in self.existing.values()}
        self.errors: list[Problem] = []
        self.items: list[_Item] = []
        self.first_row: dict[str, int] = {}  # code → index of the row that sent it first
        # engagement id → its vendor (the engagements named, and those the nodes had)
        self.vendor_of: dict[int | None, int] = {}
        # The tree after the sync: code → node, its parent's code, the children's codes.
        self.final: dict[str, Node] = {}
        self.parent_of: dict[str, str | None] = {}
        self.children: dict[str | None, list[str]] = {}
        self.in_cycle: set[str] = set()

    def fail(self, item: _Item | int, name: str | None, message: str) -> None:
        index = item if isinstance(item, int) else item.index
        self.errors.append(_error(index, name, message))
        if isinstance(item, _Item):
            item.failed = True

    # 1. Each row alone: its code, its fields and their types (as node_save: unknown fields and
    # NUL first, before anything uses the values).

    def read_row(self, i: int, row: Mapping[str, Any]) -> None:
        code = row.get("code")
        if not self._claim_code(i, code) or not self._fields_known(i, row):
            return
        old = self.existing.get(code) if isinstance(code, str) else None
        node = old if old is not None else Node(tree=self.tree)
        item = _Item(
            index=i,
            row=row,
            node=node,
            is_new=old is None,
            parent_code=self.code_of.get(node.parent_id),
            old_parent_code=self.code_of.get(node.parent_id),
            old_vendor_id=None,
        )
        self._convert(item)
        self.items.append(item)

    def _claim_code(self, i: int, code: Any) -> bool:
        """False when the row's code was sent before or is an archived node's (reported). A
        missing or malformed code is left to full_clean."""
        if not (isinstance(code, str) and code and not services.has_nul(code)):
            return True
        if code in self.first_row:
            self.fail(i, "code", _("Same code as row %(row)s.") % {"row": self.first_row[code]})
            return False
        if code in self.archived:
            self.fail(i, "code", archived_code_message(code))
            return False
        self.first_row[code] = i
        return True

    def _fields_known(self, i: int, row: Mapping[str, Any]) -> bool:
        """False when the row has an unknown field or a NUL character (each one reported)."""
        bad = False
        for name, value in row.items():
            if name not in services.NODE_FIELDS and name not in READ_ONLY_FIELDS:
                self.fail(i, name, _("Unknown field."))
                bad = True
            elif services.has_nul(value):
                self.fail(i, name, services.nul_message())
                bad = True
        return not bad

    def _convert(self, item: _Item) -> None:
        """Set the row's values on its node (noting those that change); `parent` is kept as a
        code for step 3, `engagement` for step 2."""
        node = item.node
        for name, value in item.row.items():
            if name in READ_ONLY_FIELDS:
                continue
            if name in ("parent", "engagement"):
                if value is not None and not isinstance(value, str):
                    self.fail(item, name, _text_error())
                    item.unconverted = True
                elif name == "parent":
                    item.parent_code = value or None
                continue
            converted, message = _converted(concrete_field(Node, name), value)
            if message:
                self.fail(item, name, message)
                item.unconverted = True
                continue
            if item.is_new or getattr(node, name) != converted:
                setattr(node, name, converted)
                item.changed.append(name)

    # 2. The engagements named, and those the changed nodes had (for the vendors' tombstones).

    def match_engagements(self) -> None:
        wanted = {v for it in self.items if isinstance(v := it.row.get("engagement"), str) and v}
        engagements = Engagement.objects.filter(
            Q(code__in=wanted) | Q(pk__in={it.node.engagement_id for it in self.items} - {None})
        ).values_list("pk", "code", "vendor_id")
        by_code = {code: pk for pk, code, _vendor in engagements}
        self.vendor_of = {pk: vendor for pk, _code, vendor in engagements}
        for item in self.items:
            item.old_vendor_id = self.vendor_of.get(item.node.engagement_id)
            self._set_engagement(item, by_code)

    def _set_engagement(self, item: _Item, by_code: Mapping[str, int]) -> None:
        code = item.row.get("engagement")
        if "engagement" not in item.row or not (code is None or isinstance(code, str)):
            return
        engagement_id = by_code.get(code) if code else None
        if code and engagement_id is None:
            self.fail(item, "engagement", unknown_engagement_message(code))
        elif item.is_new or engagement_id != item.node.engagement_id:
            item.node.engagement_id = engagement_id
            item.changed.append("engagement")

    # 3. The tree after the sync: every node's parent, its children, the cycles.

    def plan_tree(self) -> None:
        self.final = dict(self.existing)
        self.parent_of = {code: self.code_of.get(n.parent_id) for code, n in self.final.items()}
        for item in self.items:
            if item.node.code:  # a row without a valid code fails full_clean below
                self.final[item.node.code] = item.node
                self.parent_of[item.node.code] = item.parent_code
        for item in self.items:
            code = item.parent_code
            # A parent sent in a row refused above is not reported again here.
            if code is not None and code not in self.final and code not in self.first_row:
                self.fail(item, "parent", unknown_parent_message(code))
                # Reported; for the rules of the other rows the node stays where it was.
                item.parent_code = item.old_parent_code
                if item.node.code:
                    self.parent_of[item.node.code] = item.old_parent_code
        self.children = {}
        for code, parent in self.parent_of.items():
            self.children.setdefault(parent, []).append(code)
        self.in_cycle = _cycles(self.parent_of)

    # 4. Each node's field rules (in memory) and the tree rules.

    def check_rules(self, item: _Item) -> None:
        node = item.node
        if item.is_new or item.parent_code != item.old_parent_code:
            item.changed.append("parent")
        problems: dict[str, list[str]] = {}
        try:
            # The (tree, code) uniqueness is the duplicate check above: codes are the keys.
            node.full_clean(exclude=FOREIGN_KEYS, validate_unique=False, validate_constraints=False)
        except ValidationError as exc:
            problems.update(exc.message_dict)
        for name, messages in [*self._tree_rules(item).items(), *self._unit_rules(item).items()]:
            problems.setdefault(name, []).extend(messages)
        for name, messages in problems.items():
            for message in messages:
                self.fail(item, None if name == "__all__" else name, message)

    def _tree_rules(self, item: _Item) -> dict[str, list[str]]:
        node, code, children = item.node, item.node.code, self.children
        moved = not item.is_new and "parent" in item.changed
        former = self.final.get(item.old_parent_code) if moved and item.old_parent_code else None
        return node_rule_errors(
            node,
            foreign_parent=False,
            cycle="parent" in item.changed and code in self.in_cycle,
            children=lambda: children.get(code, []),
            former_parent=former,
            old_code=code,
        )

    def _unit_rules(self, item: _Item) -> dict[str, list[str]]:
        node, code, parent_code = item.node, item.node.code, item.parent_code
        final, children = self.final, self.children
        return unit_errors(
            node,
            changed={*item.changed, *(["new"] if item.is_new else [])},
            child_units=lambda: {c: final[c].unit for c in children.get(code, [])},
            parent=final.get(parent_code) if parent_code else None,
            sibling_units=lambda: {
                c: final[c].unit for c in children.get(parent_code, []) if c != code
            },
        )


def _cycles(parent_of: Mapping[str, str | None]) -> set[str]:
    """The codes on a cycle of the parent links (each node is visited once)."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    on_cycle: set[str] = set()
    for start in parent_of:
        path: list[str] = []
        code: str | None = start
        while code is not None and code in parent_of and code not in state:
            state[code] = 1
            path.append(code)
            code = parent_of[code]
        if code is not None and state.get(code) == 1:  # came back onto this path: a cycle
            on_cycle.update(path[path.index(code) :])
        for seen in path:
            state[seen] = 2
    return on_cycle


def _write(
    tree: Tree,
    items: list[_Item],
    final: Mapping[str, Node],
    vendor_of: Mapping[int | None, int],
) -> dict[str, int]:

    now = timezone.now()
    new = [it for it in items if it.is_new]
    changed = [it for it in items if not it.is_new and it.changed]
    # New nodes under existing ones get their parent now; those under new ones once both exist.
    for item in new:
        parent = final.get(item.parent_code) if item.parent_code else None
        item.node.parent_id = parent.pk if parent is not None else None
    Node.objects.bulk_create([it.node for it in new], batch_size=BATCH)
    update_rows(
        Node,
        ["parent"],
        [
            (it.node.pk, final[it.parent_code].pk)
            for it in new
            if it.parent_code and it.node.parent_id is None
        ],
    )
    if changed:
        for item in changed:
            item.node.parent_id = final[item.parent_code].pk if item.parent_code else None
            item.node.updated_at = now
        names = sorted({name for it in changed for name in it.changed})
        fields = [*names, "updated_at"]
        attnames = [concrete_field(Node, name).attname for name in fields]
        update_rows(
            Node,
            fields,
            [(it.node.pk, *(getattr(it.node, a) for a in attnames)) for it in changed],
        )
        # A vendor that no longer sees a node (its engagement went to another vendor, or
        # in-house) learns it from a tombstone, as after a PATCH (kpi_planner.api.SyncMixin).
        lost: dict[int, list[str]] = {}
        for item in changed:
            if item.old_vendor_id is not None and item.old_vendor_id != vendor_of.get(
                item.node.engagement_id
            ):
                lost.setdefault(item.old_vendor_id, []).append(item.node.code)
        for vendor_id, codes in sorted(lost.items()):
            write_tombstones("node", tree.code, codes, {vendor_id}, plain=False)
    if new or changed:
        services.mark_stale([tree.pk])
    return {
        "created": len(new),
        "updated": len(changed),
        "unchanged": len(items) - len(new) - len(changed),
    }
