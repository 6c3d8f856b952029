"""Monthly statements: computed from the approved months and the rules in force, answered by
the vendor (accept, or dispute a line), resolved by the manager, locked once agreed; only an
audited reopen changes an agreed statement. Also the back-test of a draft rule set and the
month-to-date exposure forecast, which use the same engine without writing anything.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import connection, transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from engagements.models import Engagement, Submission, SubmissionStatus, User
from kpi_planner.access import can_answer_statement, can_manage
from kpi_planner.errors import Problem, ServiceError
from kpi_planner.months import current_month, month_range
from kpitree import bulk
from kpitree.bulk import insert_rows
from kpitree.engine import achievement_of
from kpitree.models import Direction, Grain, Node, Rollup, Target
from kpitree.services import has_nul, nul_message
from money import engine
from money.models import (
    Charge,
    Relief,
    RuleSet,
    Statement,
    StatementAction,
    StatementEvent,
    StatementLine,
)

MAX_COMMENT = 2000


# -- loading what the engine needs ----------------------------------------------------------------


def _spec(rule_set: RuleSet, green: dict[int, float]) -> engine.RuleSetSpec:
    rules = tuple(
        engine.RuleSpec(
            node_id=rule.node_id,
            name=rule.node.name,
            bands=tuple(
                engine.BandSpec(lower=b.lower, upper=b.upper, pct=b.pct_of_fee)
                for b in rule.bands.all()
            ),
            green=green.get(rule.node_id, 100.0),
            min_volume_node_id=rule.min_volume_node_id,
            min_volume=rule.min_volume,
        )
        for rule in rule_set.rules.all()
    )
    return engine.RuleSetSpec(
        id=rule_set.pk,
        effective_from=rule_set.effective_from,
        rules=rules,
        cap_pct=rule_set.cap_pct,
        earn_back_months=rule_set.earn_back_months,
    )


def _rule_sets(engagement_ids: Iterable[int], *, extra: RuleSet | None = None) -> dict[int, list]:
    qs = RuleSet.objects.filter(
        engagement_id__in=list(engagement_ids), status=RuleSet.Status.ADOPTED
    )
    sets = list(qs.prefetch_related("rules__bands", "rules__node"))
    if extra is not None:
        sets.append(
            RuleSet.objects.prefetch_related("rules__bands", "rules__node").get(pk=extra.pk)
        )
    by_engagement: dict[int, list] = defaultdict(list)
    for rs in sets:
        by_engagement[rs.engagement_id].append(rs)
    return by_engagement


def _node_ids(rule_sets: Iterable[RuleSet]) -> tuple[set[int], set[int]]:
    kpis, volumes = set(), set()
    for rs in rule_sets:
        for rule in rs.rules.all():
            kpis.add(rule.node_id)
            if rule.min_volume_node_id:
                volumes.add(rule.min_volume_node_id)
    return kpis, volumes


def _greens(node_ids: set[int]) -> dict[int, float]:
    return {
        pk: (own if own is not None else tree)
        for pk, own, tree in Node.all_objects.filter(pk__in=node_ids).values_list(
            "pk", "green_threshold", "tree__green_threshold"
        )
    }


@dataclass
class _Facts:
    months: dict[int, list[engine.MonthFacts]]
    specs: dict[int, list[engine.RuleSetSpec]]
    charges: dict[tuple[int, dt.date], int]


def _load(engagement_ids: list[int], *, extra: RuleSet | None = None) -> _Facts:
    """Everything the statements of these engagements are computed from, in a fixed number of
    queries whatever their number."""
    sets = _rule_sets(engagement_ids, extra=extra)
    all_sets = [rs for group in sets.values() for rs in group]
    kpis, volumes = _node_ids(all_sets)
    green = _greens(kpis)
    specs = {e: [_spec(rs, green) for rs in group] for e, group in sets.items()}
    achievement: dict[tuple[int, dt.date], float | None] = {}
    actual: dict[tuple[int, dt.date], float | None] = {}
    for node_id, period, ach, act in Rollup.objects.filter(
        node_id__in=kpis | volumes, grain=Grain.MONTH
    ).values_list("node_id", "period", "achievement", "actual"):
        achievement[node_id, period] = ach
        actual[node_id, period] = act
    approved = set(
        Submission.objects.filter(
            engagement_id__in=engagement_ids, status=SubmissionStatus.APPROVED
        ).values_list("engagement_id", "period")
    )
    reliefs: dict[tuple[int, dt.date], dict[int | None, str]] = defaultdict(dict)
    for e, period, node_id, reason in Relief.objects.filter(
        engagement_id__in=engagement_ids, withdrawn_at__isnull=True
    ).values_list("engagement_id", "period", "node_id", "reason"):
        reliefs[e, period][node_id] = reason
    charges = {
        (row["engagement_id"], row["period"]): int(row["total"])
        for row in Charge.objects.filter(engagement_id__in=engagement_ids, voided_at__isnull=True)
        .values("engagement_id", "period")
        .annotate(total=Sum("amount"))
    }
    months: dict[int, list[engine.MonthFacts]] = {}
    for e, start, end, fee in Engagement.objects.filter(pk__in=engagement_ids).values_list(
        "pk", "start_month", "end_month", "monthly_fee"
    ):
        node_ids = {r.node_id for s in specs.get(e, []) for r in s.rules} | {
            r.min_volume_node_id for s in specs.get(e, []) for r in s.rules if r.min_volume_node_id
        }
        rows = []
        for period in month_range(start, end):
            relieved = reliefs.get((e, period), {})
            rows.append(
                engine.MonthFacts(
                    period=period,
                    fee=fee,
                    approved=(e, period) in approved,
                    achievement={n: achievement.get((n, period)) for n in node_ids},
                    actual={n: actual.get((n, period)) for n in node_ids},
                    relieved=frozenset(relieved),
                    relief_reasons=relieved,
                )
            )
        months[e] = rows
    return _Facts(months=months, specs=specs, charges=charges)


def _results(
    facts: _Facts, engagement_id: int, specs: Sequence[engine.RuleSetSpec] | None = None
) -> dict[dt.date, engine.MonthResult]:
    chosen = facts.specs.get(engagement_id, []) if specs is None else specs
    return engine.statements(
        facts.months.get(engagement_id, []),
        lambda period: engine.rule_set_in_force(chosen, period),
    )


# -- writing the statements ------------------------------------------------------------------------


def _line_rows(result: engine.MonthResult) -> list[dict[str, Any]]:
    return [
        {
            "position": i,
            "kind": line.kind,
            "node_id": line.node_id,
            "achievement": line.achievement,
            "volume": line.volume,
            "pct_of_fee": line.pct,
            "amount": line.amount.quantize(Decimal("0.0001")),
            "reason": line.reason,
            "params": line.params,
        }
        for i, line in enumerate(result.lines)
    ]


_LINE_KEY = ("kind", "node_id", "amount", "reason", "params")


def _line_keys(statement_ids: list[int]) -> dict[int, list[tuple]]:
    """The stored lines of these statements as plain tuples, in order: what `_same` compares
    (35,000 model objects cost more than the whole computation)."""
    lines: dict[int, list[tuple]] = defaultdict(list)
    for statement_id, *key in (
        StatementLine.objects.filter(statement_id__in=statement_ids)
        .order_by("statement_id", "position")
        .values_list("statement_id", *_LINE_KEY)
    ):
        lines[statement_id].append(tuple(key))
    return lines


def _same(
    statement: Statement, lines: list[tuple], result: engine.MonthResult, charges: int
) -> bool:
    if (
        statement.rule_set_id != result.rule_set_id
        or statement.fee != result.fee
        or statement.charges != charges
        or statement.exact_adjustment != result.exact.quantize(Decimal("0.0001"))
    ):
        return False
    return lines == [tuple(r[k] for k in _LINE_KEY) for r in _line_rows(result)]


def _insert_lines(rows: list[tuple[int, dict[str, Any]]]) -> None:
    """New statements' lines: COPY on PostgreSQL (kpitree.bulk), whose text form wants the
    JSON of `params` as text; bulk_create (which encodes it itself) below COPY_FROM rows."""
    fields = ["statement", "position", "kind", "node", "achievement", "volume", "pct_of_fee"]
    fields += ["amount", "reason", "params", "dispute", "resolution"]  # COPY fills no defaults
    copy = connection.vendor == "postgresql" and len(rows) >= bulk.COPY_FROM
    insert_rows(
        StatementLine,
        fields,
        [
            (
                statement_id,
                *(row[k] for k in ("position", "kind", "node_id", "achievement", "volume")),
                row["pct_of_fee"],
                row["amount"],
                row["reason"],
                json.dumps(row["params"]) if copy else row["params"],
                "",
                "",
            )
            for statement_id, row in rows
        ],
    )


@dataclass(frozen=True)
class ComputeResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    locked: int = 0


CHUNK = 50  # engagements per transaction: their rows stay locked only while theirs are written


def statements_compute(
    *, engagement_ids: Sequence[int] | None = None, user: User | None = None
) -> ComputeResult:
    """Bring the statements of these engagements (all when None) in line with their approved
    months, rules, reliefs and charges. An agreed statement is never touched; a statement whose
    numbers did not change is not rewritten. Safe with several workers: each engagement's
    statements are written under a lock on the engagement's row, CHUNK engagements at a time."""
    ids = (
        list(Engagement.objects.order_by("pk").values_list("pk", flat=True))
        if engagement_ids is None
        else list(engagement_ids)
    )
    totals = [0, 0, 0, 0]
    for start in range(0, len(ids), CHUNK):
        part = _compute_chunk(ids[start : start + CHUNK], user)
        totals = [a + b for a, b in zip(totals, part, strict=True)]
    return ComputeResult(*totals)


@transaction.atomic
def _compute_chunk(ids: list[int], user: User | None) -> tuple[int, int, int, int]:
    created = updated = unchanged = locked = 0
    list(Engagement.objects.select_for_update().filter(pk__in=ids).order_by("pk").values("pk"))
    facts = _load(ids)
    existing = {
        (s.engagement_id, s.period): s for s in Statement.objects.filter(engagement_id__in=ids)
    }
    lines = _line_keys([s.pk for s in existing.values() if s.status != Statement.Status.AGREED])
    now = timezone.now()
    new_statements: list[tuple[Statement, engine.MonthResult]] = []
    for e in ids:
        for period, result in _results(facts, e).items():
            charges = facts.charges.get((e, period), 0)
            statement = existing.get((e, period))
            if statement is None:
                new_statements.append((_new(e, period, result, charges, now), result))
            elif statement.status == Statement.Status.AGREED:
                locked += 1
            elif _same(statement, lines.get(statement.pk, []), result, charges):
                unchanged += 1
            else:
                _rewrite(statement, result, charges, now, user)
                updated += 1
    if new_statements:
        Statement.objects.bulk_create([s for s, _r in new_statements])
        _insert_lines([(s.pk, row) for s, r in new_statements for row in _line_rows(r)])
        StatementEvent.objects.bulk_create(
            StatementEvent(
                statement=s,
                action=StatementAction.COMPUTED,
                adjustment_after=s.adjustment,
                user=user,
                at=now,
            )
            for s, _r in new_statements
        )
        created = len(new_statements)
    return created, updated, unchanged, locked


def _new(
    engagement_id: int, period: dt.date, result: engine.MonthResult, charges: int, now: dt.datetime
) -> Statement:
    assert result.rule_set_id is not None
    return Statement(
        engagement_id=engagement_id,
        period=period,
        rule_set_id=result.rule_set_id,
        fee=result.fee,
        charges=charges,
        exact_adjustment=result.exact.quantize(Decimal("0.0001")),
        adjustment=result.adjustment,
        computed_at=now,
    )


def _rewrite(
    statement: Statement,
    result: engine.MonthResult,
    charges: int,
    now: dt.datetime,
    user: User | None,
) -> None:
    """New numbers for a statement not yet agreed. A dispute stays on the line of the same KPI
    and kind; the vendor answers the new numbers afresh."""
    before = statement.adjustment
    disputes = {(ln.kind, ln.node_id): ln for ln in statement.lines.all() if ln.dispute}
    assert result.rule_set_id is not None
    statement.rule_set_id = result.rule_set_id
    statement.fee, statement.charges = result.fee, charges
    statement.exact_adjustment = result.exact.quantize(Decimal("0.0001"))
    statement.adjustment = result.adjustment
    statement.computed_at = now
    statement.version += 1
    lines = []
    for row in _line_rows(result):
        line = StatementLine(statement=statement, **row)
        old = disputes.get((line.kind, line.node_id))
        if old is not None:
            for name in (
                "dispute",
                "disputed_by",
                "disputed_at",
                "resolution",
                "resolved_by",
                "resolved_at",
            ):
                setattr(line, name, getattr(old, name))
        lines.append(line)
    open_disputes = any(ln.dispute and ln.resolved_at is None for ln in lines)
    statement.status = Statement.Status.DISPUTED if open_disputes else Statement.Status.OPEN
    statement.save()
    statement.lines.all().delete()  # a statement's lines before agreement: its events keep the totals
    StatementLine.objects.bulk_create(lines)
    StatementEvent.objects.create(
        statement=statement,
        action=StatementAction.RECOMPUTED,
        adjustment_before=before,
        adjustment_after=statement.adjustment,
        user=user,
        at=now,
    )


# -- answering a statement ------------------------------------------------------------------------


def _locked(statement: Statement) -> Statement:
    return Statement.objects.select_for_update().select_related("engagement").get(pk=statement.pk)


def _comment(value: Any, field: str, message: str) -> str:
    if has_nul(value):
        raise ServiceError([Problem(nul_message(), field=field)])
    text = value.strip() if isinstance(value, str) else ""
    if not text:
        raise ServiceError([Problem(message, field=field)])
    if len(text) > MAX_COMMENT:
        raise ServiceError([Problem(_("Keep it under 2,000 characters."), field=field)])
    return text


def _event(
    statement: Statement,
    action: str,
    user: User,
    comment: str = "",
    line: int | None = None,
    before: int | None = None,
) -> None:
    StatementEvent.objects.create(
        statement=statement,
        action=action,
        line_position=line,
        comment=comment,
        adjustment_before=statement.adjustment if before is None else before,
        adjustment_after=statement.adjustment,
        user=user,
        at=timezone.now(),
    )


def _month_approved(statement: Statement) -> bool:
    return Submission.objects.filter(
        engagement_id=statement.engagement_id,
        period=statement.period,
        status=SubmissionStatus.APPROVED,
    ).exists()


@transaction.atomic
def statement_accept(*, user: User, statement: Statement) -> Statement:
    """The vendor agrees the statement: it is locked from now on."""
    statement = _locked(statement)
    if not can_answer_statement(user, statement.engagement):
        raise ServiceError(
            [Problem(_("Only the engagement's vendor accepts its statements."), code="forbidden")]
        )
    if statement.status == Statement.Status.AGREED:
        raise ServiceError([Problem(_("This statement is already agreed."), code="conflict")])
    if statement.status == Statement.Status.DISPUTED:
        raise ServiceError(
            [Problem(_("A disputed line is waiting for the manager's answer."), code="conflict")]
        )
    if not _month_approved(statement):
        raise ServiceError(
            [
                Problem(
                    _(
                        "The month was reopened; the statement is recomputed once it is approved again."
                    ),
                    code="conflict",
                )
            ]
        )
    statement.status = Statement.Status.AGREED
    statement.agreed_at, statement.agreed_by = timezone.now(), user
    statement.save(update_fields=["status", "agreed_at", "agreed_by"])
    _event(statement, StatementAction.ACCEPTED, user)
    return statement


def _line(statement: Statement, position: Any) -> StatementLine:
    try:
        index = int(position)
    except (TypeError, ValueError):
        index = -1
    line = statement.lines.filter(position=index).first() if index >= 0 else None
    if line is None:
        raise ServiceError([Problem(_("Choose a line of the statement."), field="line")])
    return line


@transaction.atomic
def statement_dispute(
    *, user: User, statement: Statement, line: Any, comment: Any
) -> StatementLine:
    """The vendor disputes one line, saying why; the manager is to resolve it."""
    statement = _locked(statement)
    if not can_answer_statement(user, statement.engagement):
        raise ServiceError(
            [Problem(_("Only the engagement's vendor disputes its statements."), code="forbidden")]
        )
    if statement.status == Statement.Status.AGREED:
        raise ServiceError([Problem(_("An agreed statement cannot be disputed."), code="locked")])
    text = _comment(comment, "comment", _("Say what is wrong with the line."))
    target = _line(statement, line)
    if target.open_dispute:
        raise ServiceError(
            [Problem(_("This line is already disputed."), field="line", code="conflict")]
        )
    target.dispute, target.disputed_by, target.disputed_at = text, user, timezone.now()
    target.resolution, target.resolved_by, target.resolved_at = "", None, None
    target.save()
    statement.status = Statement.Status.DISPUTED
    statement.save(update_fields=["status"])
    _event(statement, StatementAction.DISPUTED, user, text, target.position)
    return target


@transaction.atomic
def statement_resolve(
    *, user: User, statement: Statement, line: Any, resolution: Any
) -> StatementLine:
    """The manager answers a disputed line (a relief or a corrected figure recomputes the
    statement; the answer says what was done). With no dispute left, the vendor answers again."""
    if not can_manage(user):
        raise ServiceError([Problem(_("Only managers resolve disputes."), code="forbidden")])
    statement = _locked(statement)
    text = _comment(resolution, "resolution", _("Write the answer to the dispute."))
    target = _line(statement, line)
    if not target.open_dispute:
        raise ServiceError(
            [Problem(_("This line is not disputed."), field="line", code="conflict")]
        )
    target.resolution, target.resolved_by, target.resolved_at = text, user, timezone.now()
    target.save()
    if not any(ln.open_dispute for ln in statement.lines.all()):
        statement.status = Statement.Status.OPEN
        statement.save(update_fields=["status"])
    _event(statement, StatementAction.RESOLVED, user, text, target.position)
    return target


@transaction.atomic
def statement_reopen(*, user: User, statement: Statement, reason: Any) -> Statement:
    """The manager reopens an agreed statement (audited with the reason) and it is recomputed
    from today's figures; the vendor answers it again."""
    if not can_manage(user):
        raise ServiceError([Problem(_("Only managers reopen statements."), code="forbidden")])
    statement = _locked(statement)
    text = _comment(reason, "reason", _("Give a reason."))
    if statement.status != Statement.Status.AGREED:
        raise ServiceError([Problem(_("Only an agreed statement is reopened."), code="conflict")])
    statement.status = Statement.Status.OPEN
    statement.agreed_at, statement.agreed_by = None, None
    statement.save(update_fields=["status", "agreed_at", "agreed_by"])
    _event(statement, StatementAction.REOPENED, user, text)
    statements_compute(engagement_ids=[statement.engagement_id], user=user)
    return statement


# -- what a rule set would pay ---------------------------------------------------------------------


@dataclass(frozen=True)
class BacktestRow:
    period: dt.date
    in_force: engine.MonthResult | None
    draft: engine.MonthResult | None

    @property
    def difference(self) -> int | None:
        if self.draft is None and self.in_force is None:
            return None
        return (self.draft.adjustment if self.draft else 0) - (
            self.in_force.adjustment if self.in_force else 0
        )


def backtest(rule_set: RuleSet, months: int = 12) -> list[BacktestRow]:
    """What `rule_set` would have paid over the last `months` approved months, beside the rules
    in force then: the same engine as the statements, nothing written. The draft is taken as in
    force over the whole span (its own month is ignored)."""
    e = rule_set.engagement_id
    facts = _load([e], extra=rule_set)
    draft = next(s for s in _spec_list(facts, e) if s.id == rule_set.pk)
    adopted = [s for s in _spec_list(facts, e) if s.id != rule_set.pk]
    approved = [m.period for m in facts.months.get(e, []) if m.approved]
    span = approved[-months:]
    if not span:
        return []
    as_draft = engine.RuleSetSpec(
        id=draft.id,
        effective_from=span[0],
        rules=draft.rules,
        cap_pct=draft.cap_pct,
        earn_back_months=draft.earn_back_months,
    )
    current = _results(facts, e, adopted)
    proposed = _results(facts, e, [as_draft])
    return [BacktestRow(period=p, in_force=current.get(p), draft=proposed.get(p)) for p in span]


def _spec_list(facts: _Facts, engagement_id: int) -> list[engine.RuleSetSpec]:
    return facts.specs.get(engagement_id, [])


def preview(engagement: Engagement) -> dict[dt.date, engine.MonthResult]:
    """The statements the adopted rules produce today, without writing (the back-test's
    'in force' column, and the check that stored statements are current)."""
    facts = _load([engagement.pk])
    return _results(facts, engagement.pk)


# -- month-to-date exposure -------------------------------------------------------------------------


def exposure(engagement: Engagement, month: dt.date | None = None) -> engine.MonthResult | None:
    """What the rules in force would pay for `month` (the current month by default) if each KPI
    ended the month at its forecast (scorecard's KPI forecasts): the month-to-date exposure."""
    from scorecard.models import KpiForecast

    period = month or current_month()
    facts = _load([engagement.pk])
    spec = engine.rule_set_in_force(_spec_list(facts, engagement.pk), period)
    if spec is None:
        return None
    ids = {r.node_id for r in spec.rules} | {
        r.min_volume_node_id for r in spec.rules if r.min_volume_node_id
    }
    expected: dict[int, float | None] = {}
    key = f"{period:%Y-%m}"
    for forecast in KpiForecast.objects.filter(node_id__in=ids):
        point = next((p for p in forecast.points if p and p[0] == key), None)
        expected[forecast.node_id] = None if point is None else point[1]
    targets = dict(
        Target.objects.filter(node_id__in=ids, period=period).values_list("node_id", "value")
    )
    down = set(
        Node.objects.filter(pk__in=ids, direction=Direction.DOWN).values_list("pk", flat=True)
    )
    relieved = {
        node: reason
        for node, reason in Relief.objects.filter(
            engagement=engagement, period=period, withdrawn_at__isnull=True
        ).values_list("node_id", "reason")
    }
    facts_month = engine.MonthFacts(
        period=period,
        fee=engagement.monthly_fee,
        approved=True,
        achievement={n: achievement_of(expected.get(n), targets.get(n), n in down) for n in ids},
        actual=expected,
        relieved=frozenset(relieved),
        relief_reasons=relieved,
    )
    return engine.assess_month(spec, facts_month)


__all__ = [
    "BacktestRow",
    "ComputeResult",
    "backtest",
    "exposure",
    "preview",
    "statement_accept",
    "statement_dispute",
    "statement_reopen",
    "statement_resolve",
    "statements_compute",
]
