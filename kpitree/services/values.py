"""Actuals and targets: `actuals_record` and `targets_record`, the only write paths for values."""

from __future__ import annotations

import datetime as dt
import math
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
    SegmentActual,
    SegmentAudit,
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
    # An actual of one segment of the KPI (see _segment_parts); "" for the KPI's own value.
    segment: str = ""
    numerator: float | None = None
    denominator: float | None = None


def actuals_record(*, user, rows: Sequence[Mapping], channel: str) -> RecordResult:
    """Upsert actuals `{"tree", "node", "period", "value", "comment"}`: all rows or none.

    Rejects (every bad row, by index): unknown or invisible tree/node, a node that is not an
    input, a malformed period or one outside the tree, a non-numeric or non-finite value, a node
    the user may not write, and a month locked by an approved submission.

    Segments (issue 15): a row may also carry `"segment"` (a code of at most 64 characters,
    e.g. "script-b", "operator:田中") and, for a rate (unit %), `"numerator"` and
    `"denominator"` (finite, ≥ 0). Such a row upserts a SegmentActual instead, and every
    node-month it touches gets the total of all its segments (those of this call and those
    already stored) as its Actual, written by the same code in the same transaction, so locks,
    the audit, rollups and scores work as for a typed value: see `segment_total`. The total keeps
    the Actual's comment. The counts returned are those of the rows given (a segment row is
    created, updated or unchanged); the totals derived from them are not counted. Also refused:
    a total and segments of the same node-month in one call, a total for a node-month that is
    already entered per segment, and numerator/denominator without a segment or on a KPI that
    is not a rate. Without `segment`, a row behaves exactly as before.
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
    segmented = [r for r in valid if r.segment]
    if segmented:
        errors += _check_mix(valid, batch.node_info)
    with transaction.atomic():
        # The months' submissions are locked from the check to the write, so a month cannot be
        # approved (or submitted) between the two.
        errors += _check_locks(
            valid, batch.node_info, engagement_months, vendor=role_of(user) == Role.VENDOR
        )
        plain = [r for r in valid if not r.segment] if segmented else valid
        errors += _check_entered_per_segment(plain, batch.node_info)
        if errors:
            raise RecordError(errors)
        result = _write(Actual, ValueAudit.Kind.ACTUAL, "comment", plain, user, channel)
        if segmented:
            result = _write_segments(segmented, batch.node_info, user, channel, result)
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
            segment, numerator, denominator, segment_problems = _segment_parts(i, row, info)
            # A good row (every check of _problems would pass) is kept without building the
            # list of problems.
            if (
                segment_problems
                or info is None
                or not self._passes(info, tree, period, value, comment)
            ):
                problems = self._problems(i, row, info, tree, period, value, comment)
                problems += segment_problems
                if problems:
                    self.errors += problems
                    continue
            # Every check passed: each of these being None is one of the problems.
            assert info is not None and period is not None and value is not None
            if info["engagement_id"]:
                self.engagement_months.setdefault(info["engagement_id"], set()).add(period)
            self.valid.append(
                _Row(
                    i,
                    info["id"],
                    tree.pk,
                    period,
                    value,
                    comment,
                    segment=segment,
                    numerator=numerator,
                    denominator=denominator,
                )
            )

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
    fields = (
        "id",
        "code",
        "tree_id",
        "rollup",
        "source",
        "unit",
        "engagement_id",
        "engagement__vendor_id",
    )
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
    seen: dict[tuple[int, dt.date, str], int] = {}
    errors = []
    for r in valid:
        key = (r.node_id, r.period, r.segment)
        if key in seen:
            message = (
                _("Same node, month and segment as row %(row)s.")
                if r.segment
                else _("Same node and month as row %(row)s.")
            )
            errors.append(
                _error(r.index, "segment" if r.segment else "period", message % {"row": seen[key]})
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


# -- segments (issue 15) ------------------------------------------------------------------------

SEGMENT_MAX = 64
RATE_UNIT = "%"


def _segment_parts(
    i: int, row: Mapping, info: dict | None
) -> tuple[str, float | None, float | None, list[Problem]]:
    """Row `i`'s segment (stripped; "" for none), numerator and denominator, and what is wrong
    with them. A numerator needs its denominator; both need a segment and a rate KPI."""
    raw = row.get("segment")
    raw_num, raw_den = row.get("numerator"), row.get("denominator")
    if raw is None and raw_num is None and raw_den is None:
        return "", None, None, []  # the common case: a KPI's own value
    problems: list[Problem] = []
    segment = ""
    if raw is not None:
        if not isinstance(raw, str) or len(raw.strip()) > SEGMENT_MAX or has_nul(raw):
            problems.append(
                _error(i, "segment", _("The segment must be text of at most 64 characters."))
            )
        else:
            segment = raw.strip()
    numbers: list[float | None] = []
    for name, typed in (("numerator", raw_num), ("denominator", raw_den)):
        if typed is None or typed == "":
            numbers.append(None)
            continue
        number = parse_number(typed)
        if number is None or number < 0:
            message = (
                _("The numerator must be a number of 0 or more.")
                if name == "numerator"
                else _("The denominator must be a number of 0 or more.")
            )
            problems.append(_error(i, name, message))
        numbers.append(number)
    numerator, denominator = numbers
    given = raw_num not in (None, "") or raw_den not in (None, "")
    if given and not segment and not problems:
        problems.append(
            _error(i, "segment", _("A numerator and a denominator are given per segment."))
        )
    elif given and info is not None and info["unit"] != RATE_UNIT:
        problems.append(
            _error(
                i,
                "numerator",
                _("“%(code)s” is not a rate (unit %%): give its segments' values only.")
                % {"code": info["code"]},
            )
        )
    elif raw_num not in (None, "") and raw_den in (None, ""):
        problems.append(_error(i, "denominator", _("Give the denominator of the numerator.")))
    return segment, numerator, denominator, problems


def _check_mix(valid: list[_Row], node_info: dict) -> list[Problem]:
    """A node-month is either typed as a total or given per segment, not both in one call."""
    code_of = {info["id"]: info["code"] for info in node_info.values()}
    first_segment: dict[tuple[int, dt.date], int] = {}
    for r in valid:
        if r.segment:
            first_segment.setdefault((r.node_id, r.period), r.index)
    return [
        _error(
            r.index,
            "segment",
            _(
                "“%(code)s” %(period)s is given both as a total and per segment (row %(row)s): "
                "give one or the other."
            )
            % {
                "code": code_of.get(r.node_id, ""),
                "period": f"{r.period:%Y-%m}",
                "row": first_segment[(r.node_id, r.period)],
            },
        )
        for r in valid
        if not r.segment and (r.node_id, r.period) in first_segment
    ]


def _check_entered_per_segment(plain: list[_Row], node_info: dict) -> list[Problem]:
    """A node-month already entered per segment takes segments, not a typed total (which the
    next segment row would overwrite)."""
    if not plain:
        return []
    per_segment = set(
        SegmentActual.objects.filter(
            node__tree_id__in={r.tree_id for r in plain}, period__in={r.period for r in plain}
        )
        .values_list("node_id", "period")
        .distinct()
    )
    if not per_segment:
        return []
    code_of = {info["id"]: info["code"] for info in node_info.values()}
    return [
        _error(
            r.index,
            "segment",
            _("“%(code)s” %(period)s is entered per segment: enter its segments instead.")
            % {"code": code_of.get(r.node_id, ""), "period": f"{r.period:%Y-%m}"},
        )
        for r in plain
        if (r.node_id, r.period) in per_segment
    ]


def segment_total(unit: str, parts: Sequence[tuple[float, float | None, float | None]]) -> float:
    """The KPI's value from its segments' (value, numerator, denominator).

    A count (any unit but %): the sum of the values. A rate (unit %): Σnumerator / Σdenominator
    × 100 when every segment gives both (and Σdenominator > 0); else the mean of the values
    weighted by the denominator when every segment gives one (Σ > 0); else the plain mean."""
    values = [v for v, _n, _d in parts]
    if unit != RATE_UNIT:
        return float(sum(values))
    dens = [d for _v, _n, d in parts if d is not None]
    nums = [n for _v, n, _d in parts if n is not None]
    if len(dens) == len(parts) and sum(dens) > 0:
        if len(nums) == len(parts):
            return sum(nums) / sum(dens) * 100
        return sum(v * d for v, d in zip(values, dens, strict=True)) / sum(dens)
    return sum(values) / len(values)


def _write_segments(
    rows: list[_Row], node_info: dict, user, channel: str, result: RecordResult
) -> RecordResult:
    """Upsert the segment rows (audited in SegmentAudit), then write every touched node-month's
    total of all its segments as its Actual through `_write`. Returns `result` plus the segment
    rows' counts."""
    now = timezone.now()
    keys = {(r.node_id, r.period) for r in rows}
    stored = {
        (s.node_id, s.period, s.segment): s
        for s in SegmentActual.objects.select_for_update().filter(
            node_id__in={k[0] for k in keys}, period__in={k[1] for k in keys}
        )
    }
    created = updated = 0
    audit = []
    for r in rows:
        old = stored.get((r.node_id, r.period, r.segment))
        new = (r.value, r.numerator, r.denominator, r.text)
        if old is not None and (old.value, old.numerator, old.denominator, old.comment) == new:
            continue
        audit.append(
            SegmentAudit(
                node_id=r.node_id,
                period=r.period,
                segment=r.segment,
                old_value=old.value if old else None,
                new_value=r.value,
                old_numerator=old.numerator if old else None,
                new_numerator=r.numerator,
                old_denominator=old.denominator if old else None,
                new_denominator=r.denominator,
                old_text=old.comment if old else "",
                new_text=r.text,
                user=user,
                at=now,
                channel=channel,
            )
        )
        if old is None:
            created += 1
            SegmentActual.objects.create(
                node_id=r.node_id,
                period=r.period,
                segment=r.segment,
                value=r.value,
                numerator=r.numerator,
                denominator=r.denominator,
                comment=r.text,
                channel=channel,
                updated_by=user,
            )
        else:
            updated += 1
            old.value, old.numerator, old.denominator, old.comment = new
            old.channel, old.updated_by = channel, user
            old.save()
    SegmentAudit.objects.bulk_create(audit)
    _write_totals(rows, keys, node_info, user, channel)
    return RecordResult(
        result.created + created,
        result.updated + updated,
        result.unchanged + len(rows) - created - updated,
    )


def _write_totals(rows: list[_Row], keys: set, node_info: dict, user, channel: str) -> None:
    parts: dict[tuple[int, dt.date], list[tuple[float, float | None, float | None]]] = {}
    for node_id, period, value, num, den in SegmentActual.objects.filter(
        node_id__in={k[0] for k in keys}, period__in={k[1] for k in keys}
    ).values_list("node_id", "period", "value", "numerator", "denominator"):
        if (node_id, period) in keys:
            parts.setdefault((node_id, period), []).append((value, num, den))
    comments = dict(
        ((node_id, period), comment)
        for node_id, period, comment in Actual.objects.filter(
            node_id__in={k[0] for k in keys}, period__in={k[1] for k in keys}
        ).values_list("node_id", "period", "comment")
    )
    unit_of = {info["id"]: info["unit"] for info in node_info.values()}
    totals: dict[tuple[int, dt.date], _Row] = {}
    for r in rows:
        key = (r.node_id, r.period)
        if key not in totals:
            value = segment_total(unit_of.get(r.node_id, ""), parts[key])
            if not math.isfinite(value):
                raise RecordError(
                    [_error(r.index, "value", _("The total of the segments is too large."))]
                )
            totals[key] = _Row(
                r.index, r.node_id, r.tree_id, r.period, value, comments.get(key, "")
            )
    _write(Actual, ValueAudit.Kind.ACTUAL, "comment", list(totals.values()), user, channel)
