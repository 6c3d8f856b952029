"""Every write to trees, nodes, targets and actuals goes through these functions.

One write path per kind of data: the browser, file uploads, the API and the admin all call
`actuals_record` / `targets_record` / `node_*`, so no channel can skip validation, locking or the
audit. Writes bump the tree's data_version and, on commit, enqueue one recompute of the tree.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from engagements.models import Role, Submission, SubmissionStatus
from kpi_planner.access import can_manage, can_write_actual, nodes_for, role_of, trees_for
from kpi_planner.models import Tombstone
from kpi_planner.months import current_month, last_reportable_month, month_add
from kpi_planner.tombstones import write_tombstones
from kpitree import events
from kpitree.bulk import insert_rows, update_rows
from kpitree.formula import FormulaError, parse_formula
from kpitree.models import (
    MAX_PLAN_MONTHS,
    Actual,
    Channel,
    Node,
    Rationale,
    RollupRule,
    Target,
    TimeAggregation,
    Tree,
    ValueAudit,
)
from kpitree.recompute import mark_changed, mark_stale

PERIOD_RE = re.compile(r"^(\d{4})-(\d{2})$")
CHUNK = 2000


def parse_period(value: Any) -> dt.date | None:
    """'2026-04' → date(2026, 4, 1); None when it is not a YYYY-MM month."""
    if not isinstance(value, str):
        return None
    match = PERIOD_RE.match(value.strip())
    if not match:
        return None
    year, month = int(match[1]), int(match[2])
    if not (1 <= month <= 12 and 1900 <= year <= 2999):
        return None
    return dt.date(year, month, 1)


def parse_number(value: Any) -> float | None:
    """A finite number from JSON (int/float) or text ('1234.5'); None otherwise."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        if isinstance(value, int | float):
            number = float(value)  # OverflowError for an integer beyond any float (10**400)
        elif isinstance(value, str):
            number = float(value.strip())
        else:
            return None
    except (ValueError, OverflowError):
        return None
    return number if math.isfinite(number) else None


def nul_message() -> str:
    """PostgreSQL cannot store (or even look up) text with a NUL character; nobody means one."""
    return _("Remove the invisible NUL character from this text.")


def has_nul(value: Any) -> bool:
    return isinstance(value, str) and "\x00" in value


@dataclass(frozen=True)
class RecordResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0

    def as_dict(self) -> dict[str, int]:
        return {"created": self.created, "updated": self.updated, "unchanged": self.unchanged}


class RecordError(Exception):
    """Some rows are invalid; nothing was written. `errors` lists every problem by row index."""

    def __init__(self, errors: list[dict]) -> None:
        super().__init__(f"{len(errors)} invalid row(s)")
        self.errors = errors

    @property
    def only_locked(self) -> bool:
        return all(e.get("code") == "locked" for e in self.errors)


def _error(index: int, field: str | None, message: str, code: str = "invalid") -> dict:
    return {"index": index, "field": field, "message": message, "code": code}


# -- actuals and targets ------------------------------------------------------------------------


@dataclass
class _Row:
    index: int
    node_id: int
    tree_id: int
    period: dt.date
    value: float
    text: str
    reason: str = ""  # why an approved month's target changes (kept in the audit)


def actuals_record(*, user, rows: Sequence[Mapping], channel: str) -> RecordResult:
    """Upsert actuals `{"tree", "node", "period", "value", "comment"}`: all rows or none.

    Rejects (every bad row, by index): unknown or invisible tree/node, a node that is not an
    input, a malformed period or one outside the tree, a non-numeric or non-finite value, a node
    the user may not write, and a month locked by an approved submission.
    """
    if role_of(user) not in (Role.MANAGER, Role.VENDOR):
        raise RecordError([_error(0, None, _("Your role cannot enter actuals."), "forbidden")])
    rows = _as_rows(rows)
    trees = {t.code: t for t in trees_for(user).filter(code__in={_s(r.get("tree")) for r in rows})}
    node_info = _visible_nodes(user, [t.pk for t in trees.values()])
    valid: list[_Row] = []
    errors: list[dict] = []
    engagement_months: dict[int, set] = {}
    # Per-call memos for the bulk path (50,000 rows): a payload repeats the same few months
    # and vendors, and both checks below are pure for a given user.
    periods_seen: dict[str, dt.date | None] = {}
    writable: dict[int | None, bool] = {}
    # People report a month once it has ended; the app's own feeds (proposal counts) count
    # as things happen, so they may write the current month.
    last = last_reportable_month()
    if channel == Channel.SYSTEM:
        last = max(last, current_month())
    for i, row in enumerate(rows):
        tree = trees.get(_s(row.get("tree")))
        if tree is None:
            errors.append(
                _error(i, "tree", _("Unknown tree “%(code)s”.") % {"code": row.get("tree")})
            )
            continue
        info = node_info.get((tree.pk, _s(row.get("node"))))
        raw_period = row.get("period")
        if isinstance(raw_period, str):
            if raw_period in periods_seen:
                period = periods_seen[raw_period]
            else:
                period = periods_seen[raw_period] = parse_period(raw_period)
        else:
            period = parse_period(raw_period)
        value = parse_number(row.get("value"))
        comment = row.get("comment") or ""
        if info is not None and info["rollup"] == RollupRule.INPUT:
            vendor_id = info["engagement__vendor_id"]
            may_write = writable.get(vendor_id)
            if may_write is None:
                may_write = writable[vendor_id] = can_write_actual(user, None, vendor_id)
            if (
                may_write
                and (not info["source"] or channel == Channel.SYSTEM)
                and period is not None
                and tree.start_month <= period <= tree.end_month
                and period <= last
                and value is not None
                and isinstance(comment, str)
                and len(comment) <= 4000
                and "\x00" not in comment
            ):
                # A good row (every check below would pass): keep it without building the
                # list of problems.
                if info["engagement_id"]:
                    engagement_months.setdefault(info["engagement_id"], set()).add(period)
                valid.append(_Row(i, info["id"], tree.pk, period, value, comment))
                continue
        problems = []
        if info is None:
            problems.append(
                _error(
                    i,
                    "node",
                    _("Unknown node “%(code)s” in tree %(tree)s.")
                    % {"code": row.get("node"), "tree": tree.code},
                )
            )
        elif info["rollup"] != RollupRule.INPUT:
            problems.append(
                _error(
                    i,
                    "node",
                    _("“%(code)s” is computed from other KPIs; enter its inputs instead.")
                    % {"code": info["code"]},
                )
            )
        elif info["source"] and channel != Channel.SYSTEM:
            # Fed by the app (e.g. improvement proposals): typing it would be overwritten.
            problems.append(
                _error(
                    i,
                    "node",
                    _(
                        "“%(code)s” is counted by the app (improvement proposals); it cannot be entered."
                    )
                    % {"code": info["code"]},
                )
            )
        elif not can_write_actual(user, None, info["engagement__vendor_id"]):
            problems.append(
                _error(
                    i,
                    "node",
                    _("You may not enter actuals for “%(code)s”.") % {"code": info["code"]},
                    "forbidden",
                )
            )
        problems += _check_period(i, row.get("period"), period, tree) or _check_ended(
            i, period, last
        )
        if value is None:
            problems.append(_error(i, "value", _("The value must be a finite number.")))
        if not isinstance(comment, str) or len(comment) > 4000:
            problems.append(
                _error(i, "comment", _("The comment must be text of at most 4,000 characters."))
            )
        elif has_nul(comment):
            problems.append(_error(i, "comment", nul_message()))
        if problems:
            errors += problems
            continue
        if info["engagement_id"]:
            engagement_months.setdefault(info["engagement_id"], set()).add(period)
        valid.append(_Row(i, info["id"], tree.pk, period, value, comment))
    errors += _check_duplicates(valid)
    with transaction.atomic():
        # The months' submissions are locked from the check to the write, so a month cannot be
        # approved (or submitted) between the two.
        errors += _check_locks(
            valid, node_info, engagement_months, vendor=role_of(user) == Role.VENDOR
        )
        if errors:
            raise RecordError(sorted(errors, key=lambda e: e["index"]))
        result = _write(Actual, ValueAudit.Kind.ACTUAL, "comment", valid, user, channel)
        if engagement_months:
            events.actuals_recorded.send(
                sender=Actual, months=engagement_months, user=user, channel=channel
            )
        return result


def targets_record(*, user, tree: Tree, rows: Sequence[Mapping], channel: str) -> RecordResult:
    """Upsert targets `{"node", "period", "value", "rationale"}` of one tree: all rows or none."""
    if not can_manage(user):
        raise RecordError([_error(0, None, _("Only managers may set targets."), "forbidden")])
    rows = _as_rows(rows)
    codes, engagement_of = {}, {}
    for code, node_id, engagement_id in Node.objects.filter(tree=tree).values_list(
        "code", "id", "engagement_id"
    ):
        codes[code] = node_id
        engagement_of[node_id] = engagement_id
    valid, errors = [], []
    for i, row in enumerate(rows):
        node_id = codes.get(_s(row.get("node")))
        period = parse_period(row.get("period"))
        value = parse_number(row.get("value"))
        rationale = row.get("rationale") or ""
        reason = row.get("reason") or ""
        problems = []
        if not isinstance(reason, str) or len(reason) > 2000 or has_nul(reason):
            problems.append(
                _error(i, "reason", _("The reason must be text of at most 2,000 characters."))
            )
            reason = ""
        if node_id is None:
            problems.append(
                _error(
                    i,
                    "node",
                    _("Unknown node “%(code)s” in tree %(tree)s.")
                    % {"code": row.get("node"), "tree": tree.code},
                )
            )
        problems += _check_period(i, row.get("period"), period, tree)
        if value is None:
            problems.append(_error(i, "value", _("The value must be a finite number.")))
        if rationale not in Rationale.values and rationale != "":
            problems.append(
                _error(
                    i,
                    "rationale",
                    _("The rationale must be one of: %(choices)s.")
                    % {"choices": ", ".join(Rationale.values)},
                )
            )
        if problems:
            errors += problems
            continue
        valid.append(_Row(i, node_id, tree.pk, period, value, rationale, reason.strip()))
    errors += _check_duplicates(valid)
    if errors:
        raise RecordError(sorted(errors, key=lambda e: e["index"]))
    with transaction.atomic():
        # A target of an approved month is part of what was agreed and scored: it may still
        # change, but only with a reason, which the audit keeps beside the old value.
        months = {(engagement_of[r.node_id], r.period) for r in valid if engagement_of[r.node_id]}
        approved = (
            set(
                Submission.objects.select_for_update()
                .filter(
                    engagement_id__in={e for e, _p in months},
                    period__in={p for _e, p in months},
                    status=SubmissionStatus.APPROVED,
                )
                .values_list("engagement_id", "period")
            )
            if months
            else set()
        )
        needs_reason = {
            (r.node_id, r.period) for r in valid if (engagement_of[r.node_id], r.period) in approved
        }
        return _write(
            Target,
            ValueAudit.Kind.TARGET,
            "rationale",
            valid,
            user,
            channel,
            needs_reason=needs_reason,
        )


def _s(value: Any) -> str:
    """A code as sent, or "" (matches nothing) when it is not text or could not be looked up:
    PostgreSQL refuses a NUL character in a query, and no code contains one."""
    return value if isinstance(value, str) and "\x00" not in value else ""


def _as_rows(rows: Any) -> list[Mapping]:
    if not isinstance(rows, list | tuple) or not all(isinstance(r, Mapping) for r in rows):
        raise RecordError([_error(0, None, _("Send a list of rows (JSON objects)."))])
    if not rows:
        raise RecordError([_error(0, None, _("There are no rows to save."))])
    return list(rows)


def _visible_nodes(user, tree_ids: list[int]) -> dict[tuple[int, str], dict]:
    fields = ("id", "code", "tree_id", "rollup", "source", "engagement_id", "engagement__vendor_id")
    qs = nodes_for(user).filter(tree_id__in=tree_ids).values(*fields)
    return {(n["tree_id"], n["code"]): n for n in qs}


def _check_period(i: int, raw: Any, period: dt.date | None, tree: Tree) -> list[dict]:
    if period is None:
        return [
            _error(i, "period", _("“%(value)s” is not a month: write YYYY-MM.") % {"value": raw})
        ]
    if not (tree.start_month <= period <= tree.end_month):
        return [
            _error(
                i,
                "period",
                _("%(period)s is outside the plan (%(start)s to %(end)s).")
                % {
                    "period": raw,
                    "start": f"{tree.start_month:%Y-%m}",
                    "end": f"{tree.end_month:%Y-%m}",
                },
            )
        ]
    return []


def _check_ended(i: int, period: dt.date | None, last: dt.date) -> list[dict]:
    """An actual is a month's result: refused until the month has ended (see settings)."""
    if period is None or period <= last:
        return []
    return [
        _error(
            i,
            "period",
            _("%(period)s has not ended yet: actuals can be entered up to %(last)s.")
            % {"period": f"{period:%Y-%m}", "last": f"{last:%Y-%m}"},
        )
    ]


def _check_duplicates(valid: list[_Row]) -> list[dict]:
    seen: dict[tuple[int, dt.date], int] = {}
    errors = []
    for r in valid:
        key = (r.node_id, r.period)
        if key in seen:
            errors.append(
                _error(
                    r.index, "period", _("Same node and month as row %(row)s.") % {"row": seen[key]}
                )
            )
        else:
            seen[key] = r.index
    return errors


def _check_locks(
    valid: list[_Row], node_info: dict, engagement_months: dict[int, set], *, vendor: bool
) -> list[dict]:
    """An approved month is locked for everyone until a manager reopens it. A submitted month
    is locked for the vendor while it awaits approval: a change would alter what the manager
    is reviewing, so the vendor withdraws the submission first (or the manager returns it).
    The manager, who reviews it, may still correct it (audited)."""
    if not engagement_months:
        return []
    periods = set().union(*engagement_months.values())
    statuses = [SubmissionStatus.APPROVED, *([SubmissionStatus.SUBMITTED] if vendor else [])]
    locked = dict(
        (((engagement_id, period), status))
        for engagement_id, period, status in Submission.objects.select_for_update()
        .filter(engagement_id__in=engagement_months, period__in=periods, status__in=statuses)
        .values_list("engagement_id", "period", "status")
    )
    if not locked:
        return []
    engagement_of = {info["id"]: info["engagement_id"] for info in node_info.values()}
    errors = []
    for r in valid:
        status = locked.get((engagement_of.get(r.node_id), r.period))
        if status is None:
            continue
        message = (
            _("%(period)s is approved and locked; ask a manager to reopen it.")
            if status == SubmissionStatus.APPROVED
            else _(
                "%(period)s is submitted and awaits approval; withdraw the submission to change it."
            )
        )
        errors.append(
            _error(r.index, "period", message % {"period": f"{r.period:%Y-%m}"}, "locked")
        )
    return errors


def _write(
    model,
    kind: str,
    text_field: str,
    valid: list[_Row],
    user,
    channel: str,
    *,
    needs_reason: set[tuple[int, dt.date]] = frozenset(),
) -> RecordResult:
    now = timezone.now()
    node_ids = sorted({r.node_id for r in valid})
    periods = {r.period for r in valid}
    user_id = user.pk
    with transaction.atomic():
        # The existing rows, locked, as plain tuples (pk, value, text): building 50,000 model
        # instances to compare two fields was most of the time of a re-sent payload. Only the
        # changed rows become instances, for bulk_update (which writes update_fields by pk).
        existing: dict[tuple[int, dt.date], tuple[int, float, str]] = {}
        for start in range(0, len(node_ids), CHUNK):
            chunk = node_ids[start : start + CHUNK]
            for pk, node_id, period, value, text in (
                model.objects.filter(node_id__in=chunk, period__in=periods)
                .select_for_update()
                .values_list("pk", "node_id", "period", "value", text_field)
            ):
                existing[(node_id, period)] = (pk, value, text)
        new_rows, changed, audit = [], [], []
        tree_of = {r.node_id: r.tree_id for r in valid}
        for r in valid:
            old = existing.get((r.node_id, r.period))
            if old is None:
                new_rows.append(r)
                audit.append(
                    (
                        kind,
                        r.node_id,
                        r.period,
                        None,
                        r.value,
                        "",
                        r.text,
                        r.reason,
                        user_id,
                        now,
                        channel,
                    )
                )
            elif old[1] != r.value or old[2] != r.text:
                pk, old_value, old_text = old
                audit.append(
                    (
                        kind,
                        r.node_id,
                        r.period,
                        old_value,
                        r.value,
                        old_text,
                        r.text,
                        r.reason,
                        user_id,
                        now,
                        channel,
                    )
                )
                obj = model(
                    pk=pk,
                    node_id=r.node_id,
                    period=r.period,
                    value=r.value,
                    updated_at=now,
                    updated_by_id=user_id,
                )
                setattr(obj, text_field, r.text)
                if model is Actual:
                    obj.channel = channel
                changed.append(obj)
        touched = {(r.node_id, r.period) for r in new_rows} | {
            (o.node_id, o.period) for o in changed
        }
        unexplained = [
            _error(
                r.index,
                "reason",
                _("%(period)s is approved: give a reason for changing its target.")
                % {"period": f"{r.period:%Y-%m}"},
            )
            for r in valid
            if (r.node_id, r.period) in needs_reason
            and (r.node_id, r.period) in touched
            and not r.reason
        ]
        if unexplained:
            raise RecordError(unexplained)
        if model is Actual:
            insert_rows(
                Actual,
                [
                    "node",
                    "period",
                    "value",
                    "comment",
                    "channel",
                    "updated_at",
                    "updated_by",
                ],
                [(r.node_id, r.period, r.value, r.text, channel, now, user_id) for r in new_rows],
            )
            update_fields = ["value", "comment", "channel", "updated_at", "updated_by"]
        else:
            insert_rows(
                Target,
                ["node", "period", "value", "rationale", "updated_at", "updated_by"],
                [(r.node_id, r.period, r.value, r.text, now, user_id) for r in new_rows],
            )
            update_fields = ["value", "rationale", "updated_at", "updated_by"]
        update_rows(
            model,
            update_fields,
            [
                (obj.pk, *(getattr(obj, model._meta.get_field(f).attname) for f in update_fields))
                for obj in changed
            ],
        )
        insert_rows(
            ValueAudit,
            [
                "kind",
                "node",
                "period",
                "old_value",
                "new_value",
                "old_text",
                "new_text",
                "reason",
                "user",
                "at",
                "channel",
            ],
            audit,
        )
        touched: dict[int, set[int]] = {}
        for r in new_rows:
            touched.setdefault(r.tree_id, set()).add(r.node_id)
        for obj in changed:
            touched.setdefault(tree_of[obj.node_id], set()).add(obj.node_id)
        mark_changed(touched)
    return RecordResult(len(new_rows), len(changed), len(valid) - len(new_rows) - len(changed))


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
def node_save(*, user, node: Node, data: Mapping[str, Any]) -> Node:
    """Create (node.pk is None) or change a node, validating the tree's rules; then recompute."""
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
    errors_extra = _node_rule_errors(node, old, changed)
    for key, messages in errors_extra.items():
        errors.setdefault(key, []).extend(messages)
    if errors:
        raise ValidationError(errors)
    node.save()
    if is_new or any(getattr(node, name) != value for name, value in before.items()):
        mark_stale([node.tree_id])
    return node


def _node_rule_errors(
    node: Node, old: dict | None, changed: Collection[str] = ("new",)
) -> dict[str, list[str]]:
    """The tree rules of node_sync.node_rule_errors and unit_errors, with what they need read
    from the database. `changed`: the fields that change ("new" for a new node)."""
    from kpitree.node_sync import node_rule_errors, unit_errors

    foreign_parent = cycle = False
    if node.parent_id is not None:
        parent = node.parent
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
    parent = node.parent if node.parent_id and not foreign_parent else None
    units = unit_errors(
        node,
        changed=changed,
        child_units=lambda: dict(node.children.values_list("code", "unit")) if node.pk else {},
        parent=parent,
        sibling_units=lambda: dict(parent.children.exclude(pk=node.pk).values_list("code", "unit")),
    )
    for name, messages in units.items():
        errors.setdefault(name, []).extend(messages)
    return errors


def _formula_names(text: str) -> frozenset[str]:
    try:
        return parse_formula(text).names if text.strip() else frozenset()
    except FormulaError:
        return frozenset()


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
        and node.code in _formula_names(parent.formula)
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
    counts["archived"] = int(
        Actual.objects.filter(node_id__in=everything).exists()
        or Target.objects.filter(node_id__in=everything).exists()
        or ValueAudit.objects.filter(node_id__in=everything).exists()
    )
    codes = list(Node.objects.filter(pk__in=ids).values_list("code", flat=True))
    Tombstone.objects.bulk_create(
        [Tombstone(kind="node", scope=node.tree.code, code=c) for c in codes]
    )
    if counts["archived"]:
        now = timezone.now()
        Node.objects.filter(pk__in=ids).update(archived_at=now, updated_at=now)
    else:
        Node.all_objects.filter(pk__in=everything).delete()
    mark_stale([node.tree_id])
    return counts


@transaction.atomic
def tree_restore(*, user, tree: Tree) -> Tree:
    """Bring back a tree archived by a DELETE (kpitree.api.TreeViewSet.perform_destroy)."""
    if not can_manage(user):
        raise ValidationError(_("Only managers may change KPI trees."))
    Tree.objects.filter(pk=tree.pk).update(archived_at=None, updated_at=timezone.now())
    mark_stale([tree.pk])
    tree.refresh_from_db()
    return tree


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
_FORMULA_TOKEN = re.compile(
    r"\[[^\]]*\]"  # a bracketed code
    r"|\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?"  # a number (so 1e5 is not a name)
    r"|[A-Za-z_][A-Za-z0-9_]*"  # a name
    r"|."
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
    skip = {"id", "tree", "parent", "created_at", "updated_at"}
    fields = [f.attname for f in Node._meta.concrete_fields if f.name not in skip]
    clones = [Node(tree=copy, **{f: getattr(n, f) for f in fields}) for n in source]
    Node.objects.bulk_create(clones, batch_size=1000)
    new_id = {old.pk: new.pk for old, new in zip(source, clones, strict=True)}
    for old, new in zip(source, clones, strict=True):
        new.parent_id = new_id.get(old.parent_id)
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


def rename_in_formula(text: str, renames: Mapping[str, str]) -> str:
    """`text` with the child codes in `renames` replaced (written as formula.format_code does)."""
    from kpitree.formula import format_code

    out: list[str] = []
    for match in _FORMULA_TOKEN.finditer(text):
        token = match.group()
        if token.startswith("["):
            code = token[1:-1].strip(" \t\r\n")
            token = format_code(renames[code]) if code in renames else token
        elif token[0].isalpha() or token[0] == "_":
            is_call = text[match.end() :].lstrip().startswith("(")
            if token in renames and not is_call:
                token = format_code(renames[token])
        out.append(token)
    return "".join(out)


def _free_code(base: str, taken: set[str]) -> str:
    code, n = base, 2
    while code in taken:
        code = f"{base}_{n}"
        n += 1
    taken.add(code)
    return code


def _next_position(tree: Tree, parent: Node | None) -> int:
    siblings = Node.objects.filter(tree=tree, parent=parent)
    last = max(siblings.values_list("position", flat=True), default=-1)
    return last + 1


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
    position = _next_position(tree, parent)
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
        for field, messages in _node_rule_errors(node, None).items():
            errors.setdefault(field, []).extend(f"{node.code}: {m}" for m in messages)
    if errors:
        raise ValidationError(errors)  # the atomic block rolls back what was saved
    mark_stale([tree.pk])
    return list(created.values())


def node_move(*, user, node: Node, parent: Node | None) -> Node:
    """Move `node` with its subtree under `parent` (None: to the top), as its last child.

    node_save checks the move: same tree, no cycle, and not out from under a parent whose
    formula names the node.
    """
    if parent is not None and parent.pk == node.parent_id:
        return node
    if parent is None and node.parent_id is None:
        return node
    position = _next_position(node.tree, parent)
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
