"""SLA/incentive rule sets (drafted, back-tested, adopted) and reliefs. Managers only.

A rule set is written whole: its cap, earn-back and rules, each rule with its bands. A draft can
be rewritten; adopting it puts it in force from its month, which must come after every agreed
statement of the engagement (an agreed month keeps the rules it was agreed under). Adopting or
changing a relief recomputes the statements it touches (money.services.statements).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from engagements.models import Engagement, User
from kpi_planner.access import can_manage
from kpi_planner.errors import Problem, ServiceError
from kpi_planner.months import month_text, parse_month
from kpi_planner.numbers import clean_number
from kpitree.models import Node
from kpitree.services import has_nul, nul_message
from money import engine
from money.models import Band, Relief, Rule, RuleSet, Statement

MAX_RULES = 20
MAX_BANDS = 10


def forbidden() -> ServiceError:
    return ServiceError([Problem(_("Only managers change money rules."), code="forbidden")])


def _decimal(value: Any, field: str, problems: list[Problem], *, required: bool) -> Decimal | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            problems.append(Problem(_("Enter a number."), field=field))
        return None
    if isinstance(value, bool):
        problems.append(Problem(_("Enter a number."), field=field))
        return None
    try:
        number = Decimal(clean_number(value) if isinstance(value, str) else str(value))
    except InvalidOperation:
        problems.append(Problem(_("Enter a number."), field=field))
        return None
    if not number.is_finite() or abs(number) >= Decimal("1e6"):
        problems.append(Problem(_("Enter a number."), field=field))
        return None
    return number.quantize(Decimal("0.01"))


def _engagement_node(
    engagement: Engagement, value: Any, field: str, problems: list[Problem]
) -> Node | None:
    """A KPI of this engagement, by id, code or Node; another engagement's KPI is refused."""
    if value in (None, ""):
        return None
    node: Node | None
    key = value.pk if isinstance(value, Node) else str(value).strip()
    active = Node.objects.filter(tree__archived_at__isnull=True)
    if isinstance(key, int) or re.fullmatch(r"[0-9]{1,18}", key):  # an id PostgreSQL can hold
        node = active.filter(pk=int(key)).first()
    elif has_nul(key) or len(key) > 64:  # no code has one (and PostgreSQL refuses a NUL)
        node = None
    else:  # a code: codes are unique within a tree, so look among this engagement's first
        node = active.filter(engagement=engagement, code=key).first()
    if node is None:
        problems.append(Problem(_("Choose a KPI of this engagement."), field=field))
        return None
    if node.engagement_id != engagement.pk:
        problems.append(
            Problem(
                _("“%(kpi)s” is a KPI of another engagement; choose one of this engagement.")
                % {"kpi": node.name},
                field=field,
            )
        )
        return None
    return node


def _clean_rules(
    engagement: Engagement, rules: Sequence[Mapping[str, Any]], problems: list[Problem]
) -> list[tuple[Node, Node | None, float | None, list[engine.BandSpec]]]:
    if not isinstance(rules, list | tuple):
        problems.append(Problem(_("Send the rules as a list."), field="rules"))
        return []
    if not rules:
        problems.append(Problem(_("Add at least one rule."), field="rules"))
    if len(rules) > MAX_RULES:
        problems.append(Problem(_("Keep to 20 rules or fewer."), field="rules"))
        return []
    out = []
    for i, rule in enumerate(rules):
        before = len(problems)
        if not isinstance(rule, Mapping):
            problems.append(
                Problem(_("Each rule needs a KPI and its bands."), field="rules", index=i)
            )
            continue
        node = _engagement_node(engagement, rule.get("node"), f"rules[{i}].node", problems)
        if node is None and not any(p.field == f"rules[{i}].node" for p in problems[before:]):
            problems.append(Problem(_("Choose the rule's KPI."), field=f"rules[{i}].node"))
        volume_node = _engagement_node(
            engagement, rule.get("min_volume_node"), f"rules[{i}].min_volume_node", problems
        )
        minimum = _decimal(
            rule.get("min_volume"), f"rules[{i}].min_volume", problems, required=False
        )
        if (volume_node is None) != (minimum is None) and len(problems) == before:
            problems.append(
                Problem(
                    _("A minimum volume needs both its KPI and its minimum."),
                    field=f"rules[{i}].min_volume",
                )
            )
        if minimum is not None and minimum < 0:
            problems.append(
                Problem(_("The minimum volume cannot be negative."), field=f"rules[{i}].min_volume")
            )
        bands = _clean_bands(rule.get("bands"), i, problems)
        if len(problems) == before and node is not None:
            out.append((node, volume_node, None if minimum is None else float(minimum), bands))
    return out


def _clean_bands(raw: Any, i: int, problems: list[Problem]) -> list[engine.BandSpec]:
    field = f"rules[{i}].bands"
    if not isinstance(raw, list | tuple) or not raw:
        problems.append(Problem(_("Give the rule at least one band."), field=field))
        return []
    if len(raw) > MAX_BANDS:
        problems.append(Problem(_("Keep to 10 bands a rule or fewer."), field=field))
        return []
    bands = []
    for j, band in enumerate(raw):
        if not isinstance(band, Mapping):
            problems.append(Problem(_("Each band needs its range and adjustment."), field=field))
            return []
        lower = _decimal(band.get("lower"), f"{field}[{j}].lower", problems, required=False)
        upper = _decimal(band.get("upper"), f"{field}[{j}].upper", problems, required=False)
        pct = _decimal(band.get("pct_of_fee"), f"{field}[{j}].pct_of_fee", problems, required=True)
        if pct is not None and abs(pct) > 100:
            problems.append(
                Problem(
                    _("An adjustment is at most the whole fee (100 percent)."),
                    field=f"{field}[{j}].pct_of_fee",
                )
            )
        if pct is not None:
            bands.append(engine.BandSpec(lower=lower, upper=upper, pct=pct))
    problems.extend(Problem(message, field=field) for message in engine.band_problems(bands))
    return bands


def _clean_set(engagement: Engagement, data: Mapping[str, Any], problems: list[Problem]) -> dict:
    name = data.get("name")
    if has_nul(name) or has_nul(data.get("note")):
        problems.append(Problem(nul_message(), field="name"))
    name = (name or "").strip() if isinstance(name, str) else ""
    if not name:
        problems.append(Problem(_("Name the rule set."), field="name"))
    effective = data.get("effective_from")
    month = effective if isinstance(effective, dt.date) else parse_month(effective)
    if month is None:
        problems.append(Problem(_("Enter the month as YYYY-MM."), field="effective_from"))
    elif not (engagement.start_month <= month.replace(day=1) <= engagement.end_month):
        problems.append(Problem(_("Choose a month of the engagement."), field="effective_from"))
    cap = _decimal(data.get("cap_pct"), "cap_pct", problems, required=False)
    if cap is not None and cap < 0:
        problems.append(Problem(_("The cap cannot be below zero."), field="cap_pct"))
    earn_back = data.get("earn_back_months") or 0
    if isinstance(earn_back, str) and re.fullmatch(r"[0-9]{1,2}", earn_back.strip()):
        earn_back = int(earn_back)  # ASCII digits only: "²".isdigit() is True, int("²") fails
    if isinstance(earn_back, bool) or not isinstance(earn_back, int) or not 0 <= earn_back <= 12:
        problems.append(Problem(_("Enter 0 to 12 months."), field="earn_back_months"))
        earn_back = 0
    note = data.get("note") or ""
    return {
        "name": name[:200],
        "effective_from": None if month is None else month.replace(day=1),
        "cap_pct": cap,
        "earn_back_months": earn_back,
        "note": note if isinstance(note, str) else "",
    }


def _write_rules(rule_set: RuleSet, rules: list) -> None:
    for position, (node, volume_node, minimum, bands) in enumerate(rules):
        rule = Rule.objects.create(
            rule_set=rule_set,
            node=node,
            min_volume_node=volume_node,
            min_volume=minimum,
            position=position,
        )
        Band.objects.bulk_create(
            Band(rule=rule, lower=b.lower, upper=b.upper, pct_of_fee=b.pct) for b in bands
        )


@transaction.atomic
def rule_set_save(
    *,
    user: User,
    engagement: Engagement,
    data: Mapping[str, Any],
    rule_set: RuleSet | None = None,
) -> RuleSet:
    """Create a draft rule set, or rewrite a draft whole. `data`: name, effective_from (YYYY-MM),
    cap_pct, earn_back_months, note, rules: [{node, min_volume_node, min_volume,
    bands: [{lower, upper, pct_of_fee}]}]."""
    if not can_manage(user):
        raise forbidden()
    if rule_set is not None and rule_set.status != RuleSet.Status.DRAFT:
        raise ServiceError(
            [Problem(_("An adopted rule set is not changed; draft a new one."), code="conflict")]
        )
    problems: list[Problem] = []
    fields = _clean_set(engagement, data, problems)
    rules = _clean_rules(engagement, data.get("rules") or [], problems)
    if problems:
        raise ServiceError(problems)
    if rule_set is None:
        rule_set = RuleSet.objects.create(engagement=engagement, created_by=user, **fields)
    else:
        for name, value in fields.items():
            setattr(rule_set, name, value)
        rule_set.save()
        rule_set.rules.all().delete()  # a draft's rules: never audited, never paid
    _write_rules(rule_set, rules)
    return rule_set


def agreed_from(engagement: Engagement, period: dt.date) -> Statement | None:
    """The latest agreed statement at or after `period`: what blocks a change there."""
    return (
        Statement.objects.filter(
            engagement=engagement, period__gte=period, status=Statement.Status.AGREED
        )
        .order_by("-period")
        .first()
    )


def _agreed_problem(statement: Statement, field: str) -> Problem:
    return Problem(
        _(
            "The statement of %(month)s is agreed; choose a month after it, or reopen the "
            "statement first."
        )
        % {"month": month_text(statement.period)},
        field=field,
        code="locked",
    )


def open_month(
    engagement: Engagement, value: Any, field: str, problems: list[Problem]
) -> dt.date | None:
    """A month of the engagement (YYYY-MM or a date) whose statement is not agreed: where a
    charge or a relief may still be written. Adds the problem and returns None otherwise."""
    month = value if isinstance(value, dt.date) else parse_month(value)
    if month is None:
        problems.append(Problem(_("Enter the month as YYYY-MM."), field=field))
        return None
    month = month.replace(day=1)
    if not engagement.start_month <= month <= engagement.end_month:
        problems.append(Problem(_("Choose a month of the engagement."), field=field))
        return None
    agreed = Statement.objects.filter(
        engagement=engagement, period=month, status=Statement.Status.AGREED
    ).first()
    if agreed is not None:
        problems.append(_agreed_problem(agreed, field))
        return None
    return month


@transaction.atomic
def rule_set_adopt(*, user: User, rule_set: RuleSet) -> RuleSet:
    """Put a draft in force from its month, and recompute the statements from then on."""
    if not can_manage(user):
        raise forbidden()
    rule_set = RuleSet.objects.select_for_update().get(pk=rule_set.pk)
    if rule_set.status != RuleSet.Status.DRAFT:
        raise ServiceError([Problem(_("This rule set is already adopted."), code="conflict")])
    agreed = agreed_from(rule_set.engagement, rule_set.effective_from)
    if agreed is not None:
        raise ServiceError([_agreed_problem(agreed, "effective_from")])
    if RuleSet.objects.filter(
        engagement=rule_set.engagement,
        status=RuleSet.Status.ADOPTED,
        effective_from=rule_set.effective_from,
    ).exists():
        raise ServiceError(
            [
                Problem(
                    _("Another rule set is already in force from %(month)s.")
                    % {"month": month_text(rule_set.effective_from)},
                    field="effective_from",
                    code="conflict",
                )
            ]
        )
    rule_set.status = RuleSet.Status.ADOPTED
    rule_set.adopted_by, rule_set.adopted_at = user, timezone.now()
    rule_set.save(update_fields=["status", "adopted_by", "adopted_at"])
    from money.services.statements import statements_compute

    statements_compute(engagement_ids=[rule_set.engagement_id], user=user)
    return rule_set


@transaction.atomic
def relief_add(
    *, user: User, engagement: Engagement, period: Any, reason: Any, node: Any = None
) -> Relief:
    """Mark a month (one rule's KPI, or every rule) as caused by the client, with the reason."""
    if not can_manage(user):
        raise forbidden()
    problems: list[Problem] = []
    month = open_month(engagement, period, "period", problems)
    target = _engagement_node(engagement, node, "node", problems)
    if has_nul(reason):
        problems.append(Problem(nul_message(), field="reason"))
    reason = reason.strip() if isinstance(reason, str) else ""
    if not reason:
        problems.append(Problem(_("Say why the month is relieved."), field="reason"))
    if problems:
        raise ServiceError(problems)
    assert month is not None
    relief = Relief.objects.create(
        engagement=engagement, period=month, node=target, reason=reason[:2000], created_by=user
    )
    from money.services.statements import statements_compute

    statements_compute(engagement_ids=[engagement.pk], user=user)
    return relief


@transaction.atomic
def relief_withdraw(*, user: User, relief: Relief) -> Relief:
    if not can_manage(user):
        raise forbidden()
    agreed = Statement.objects.filter(
        engagement=relief.engagement, period=relief.period, status=Statement.Status.AGREED
    ).first()
    if agreed is not None:
        raise ServiceError([_agreed_problem(agreed, "period")])
    if relief.withdrawn_at is None:
        relief.withdrawn_at, relief.withdrawn_by = timezone.now(), user
        relief.save(update_fields=["withdrawn_at", "withdrawn_by"])
    from money.services.statements import statements_compute

    statements_compute(engagement_ids=[relief.engagement_id], user=user)
    return relief
