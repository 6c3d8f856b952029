"""Actuals and targets: `actuals_record` and `targets_record`, the only write paths for values."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from engagements.models import Role, Submission, SubmissionStatus
from kpi_planner.access import can_manage, can_write_actual, nodes_for, role_of, trees_for
from kpi_planner.errors import Problem
from kpi_planner.months import current_month, last_reportable_month
from kpi_planner.months import parse_month as parse_period
from kpitree import events
from kpitree.bulk import insert_rows, update_rows
from kpitree.models import (
    Actual,
    Channel,
    Node,
    Rationale,
    RollupRule,
    Target,
    Tree,
    ValueAudit,
)
from kpitree.recompute import mark_changed
from kpitree.services.common import (
    CHUNK,
    RecordError,
    RecordResult,
    _as_rows,
    _error,
    _s,
    has_nul,
    nul_message,
    parse_number,
)

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
    check_actuals_role(user)
    rows = _as_rows(rows)
    trees = {t.code: t for t in trees_for(user).filter(code__in={_s(r.get("tree")) for r in rows})}
    batch = _ActualsBatch(
        user=user,
        channel=channel,
        trees=trees,
        node_info=_visible_nodes(user, [t.pk for t in trees.values()]),
        last=_last_writable_month(channel),
    )
    batch.check_rows(rows)
    valid, errors, engagement_months = batch.valid, batch.errors, batch.engagement_months
    errors += _check_duplicates(valid)
    with transaction.atomic():
        # The months' submissions are locked from the check to the write, so a month cannot be
        # approved (or submitted) between the two.
        errors += _check_locks(
            valid, batch.node_info, engagement_months, vendor=role_of(user) == Role.VENDOR
        )
        if errors:
            raise RecordError(errors)
        result = _write(Actual, ValueAudit.Kind.ACTUAL, "comment", valid, user, channel)
        if engagement_months:
            events.actuals_recorded.send(
                sender=Actual, months=engagement_months, user=user, channel=channel
            )
        return result


def check_actuals_role(user) -> None:
    """Only managers and vendors enter actuals (403 for the others)."""
    if role_of(user) not in (Role.MANAGER, Role.VENDOR):
        raise RecordError([_error(0, None, _("Your role cannot enter actuals."), "forbidden")])


def _last_writable_month(channel: str) -> dt.date:
    """People report a month once it has ended; the app's own feeds (proposal counts) count
    as things happen, so they may write the current month."""
    last = last_reportable_month()
    if channel == Channel.SYSTEM:
        last = max(last, current_month())
    return last


@dataclass
class _ActualsBatch:
    """The rows of one actuals_record call as they are checked: the valid ones, the problems
    (by row index) and the engagement months the valid ones touch. `node_info`: the nodes the
    user sees, by (tree id, code); `last`: the last month that may be written."""

    user: Any
    channel: str
    trees: dict[str, Tree]
    node_info: dict[tuple[int, str], dict]
    last: dt.date
    valid: list[_Row] = field(default_factory=list)
    errors: list[Problem] = field(default_factory=list)
    engagement_months: dict[int, set] = field(default_factory=dict)
    # Per-call memos for the bulk path (50,000 rows): a payload repeats the same few months
    # and vendors, and both checks are pure for a given user.
    periods_seen: dict[str, dt.date | None] = field(default_factory=dict)
    writable: dict[int | None, bool] = field(default_factory=dict)

    def check_rows(self, rows: Sequence[Mapping]) -> None:
        trees, node_info, periods_seen = self.trees, self.node_info, self.periods_seen
        for i, row in enumerate(rows):
            tree = trees.get(_s(row.get("tree")))
            if tree is None:
                self.errors.append(
                    _error(i, "tree", _("Unknown tree “%(code)s”.") % {"code": row.get("tree")})
                )
                continue
            info = node_info.get((tree.pk, _s(row.get("node"))))
            raw_period = row.get("period")
            if not isinstance(raw_period, str):
                period = parse_period(raw_period)
            elif raw_period in periods_seen:
                period = periods_seen[raw_period]
            else:
                period = periods_seen[raw_period] = parse_period(raw_period)
            value = parse_number(row.get("value"))
            comment = row.get("comment") or ""
            # A good row (every check of _problems would pass) is kept without building the
            # list of problems.
            if info is None or not self._passes(info, tree, period, value, comment):
                problems = self._problems(i, row, info, tree, period, value, comment)
                if problems:
                    self.errors += problems
                    continue
            # Every check passed: each of these being None is one of the problems.
            assert info is not None and period is not None and value is not None
            if info["engagement_id"]:
                self.engagement_months.setdefault(info["engagement_id"], set()).add(period)
            self.valid.append(_Row(i, info["id"], tree.pk, period, value, comment))

    def _passes(
        self, info: dict, tree: Tree, period: dt.date | None, value: float | None, comment: Any
    ) -> bool:
        """The quick test of the bulk path: true when `_problems` would find none."""
        if info["rollup"] != RollupRule.INPUT:
            return False
        vendor_id = info["engagement__vendor_id"]
        may_write = self.writable.get(vendor_id)
        if may_write is None:
            may_write = self.writable[vendor_id] = can_write_actual(self.user, None, vendor_id)
        return (
            may_write
            and (not info["source"] or self.channel == Channel.SYSTEM)
            and period is not None
            and tree.start_month <= period <= tree.end_month
            and period <= self.last
            and value is not None
            and isinstance(comment, str)
            and len(comment) <= 4000
            and "\x00" not in comment
        )

    def _problems(
        self,
        i: int,
        row: Mapping,
        info: dict | None,
        tree: Tree,
        period: dt.date | None,
        value: float | None,
        comment: Any,
    ) -> list[Problem]:
        """Everything wrong with row `i`: its node, its month, its value, its comment."""
        problems = _node_problems(i, row, info, tree, user=self.user, channel=self.channel)
        problems += _check_period(i, row.get("period"), period, tree) or _check_ended(
            i, period, self.last
        )
        if value is None:
            problems.append(_not_a_number(i, row.get("value")))
        if not isinstance(comment, str) or len(comment) > 4000:
            problems.append(
                _error(i, "comment", _("The comment must be text of at most 4,000 characters."))
            )
        elif has_nul(comment):
            problems.append(_error(i, "comment", nul_message()))
        return problems


def _not_a_number(i: int, typed: Any) -> Problem:
    """Row `i`'s value is not a finite number: what was typed, when it was text (a form cell,
    a file's line), else the rule."""
    if isinstance(typed, str) and typed.strip():
        return _error(i, "value", _("“%(value)s” is not a number.") % {"value": typed})
    return _error(i, "value", _("The value must be a finite number."))


def _node_problems(
    i: int, row: Mapping, info: dict | None, tree: Tree, *, user, channel: str
) -> list[Problem]:
    """Why row `i` may not write an actual of its node (at most one reason)."""
    if info is None:
        return [
            _error(
                i,
                "node",
                _("Unknown node “%(code)s” in tree %(tree)s.")
                % {"code": row.get("node"), "tree": tree.code},
            )
        ]
    if info["rollup"] != RollupRule.INPUT:
        return [
            _error(
                i,
                "node",
                _("“%(code)s” is computed from other KPIs; enter its inputs instead.")
                % {"code": info["code"]},
            )
        ]
    if info["source"] and channel != Channel.SYSTEM:
        # Fed by the app (e.g. improvement proposals): typing it would be overwritten.
        return [
            _error(
                i,
                "node",
                _("“%(code)s” is counted by the app (improvement proposals); it cannot be entered.")
                % {"code": info["code"]},
            )
        ]
    if not can_write_actual(user, None, info["engagement__vendor_id"]):
        return [
            _error(
                i,
                "node",
                _("You may not enter actuals for “%(code)s”.") % {"code": info["code"]},
                "forbidden",
            )
        ]
    return []


def targets_record(*, user, tree: Tree, rows: Sequence[Mapping], channel: str) -> RecordResult:
    """Upsert targets `{"node", "period", "value", "rationale"}` of one tree: all rows or none."""
    if not can_manage(user):
        raise RecordError([_error(0, None, _("Only managers may set targets."), "forbidden")])
    rows = _as_rows(rows)
    codes: dict[str, int] = {}
    engagement_of: dict[int, int | None] = {}
    for code, pk, engagement_id in Node.objects.filter(tree=tree).values_list(
        "code", "id", "engagement_id"
    ):
        codes[code] = pk
        engagement_of[pk] = engagement_id
    valid: list[_Row] = []
    errors: list[Problem] = []
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
            problems.append(_not_a_number(i, row.get("value")))
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
        # No problem: each of these being None is one.
        assert node_id is not None and period is not None and value is not None
        valid.append(_Row(i, node_id, tree.pk, period, value, rationale, reason.strip()))
    errors += _check_duplicates(valid)
    if errors:
        raise RecordError(errors)
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


def _visible_nodes(user, tree_ids: list[int]) -> dict[tuple[int, str], dict]:
    fields = ("id", "code", "tree_id", "rollup", "source", "engagement_id", "engagement__vendor_id")
    qs = nodes_for(user).filter(tree_id__in=tree_ids).values(*fields)
    return {(n["tree_id"], n["code"]): n for n in qs}


def _check_period(i: int, raw: Any, period: dt.date | None, tree: Tree) -> list[Problem]:
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


def _check_ended(i: int, period: dt.date | None, last: dt.date) -> list[Problem]:
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


def _check_duplicates(valid: list[_Row]) -> list[Problem]:
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
) -> list[Problem]:
    """An approved month is locked for everyone until a manager reopens it. A submitted month
    is locked for the vendor while it awaits approval: a change would alter what the manager
    is reviewing, so the vendor withdraws the submission first (or the manager returns it).
    The manager, who reviews it, may still correct it (audited)."""
    if not engagement_months:
        return []
    periods = set().union(*engagement_months.values())
    statuses = [SubmissionStatus.APPROVED, *([SubmissionStatus.SUBMITTED] if vendor else [])]
    # Looked up with a node's engagement, None for an in-house node (never locked).
    locked: dict[tuple[int | None, dt.date], str] = dict(
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
    needs_reason: AbstractSet[tuple[int, dt.date]] = frozenset(),
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
        new_rows: list[_Row] = []
        changed: list[Any] = []  # instances of `model`
        audit: list[tuple] = []
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
        changed_nodes: dict[int, set[int]] = {}  # tree id → its nodes written
        for r in new_rows:
            changed_nodes.setdefault(r.tree_id, set()).add(r.node_id)
        for obj in changed:
            changed_nodes.setdefault(tree_of[obj.node_id], set()).add(obj.node_id)
        mark_changed(changed_nodes)
    return RecordResult(len(new_rows), len(changed), len(valid) - len(new_rows) - len(changed))
