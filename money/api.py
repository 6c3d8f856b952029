"""money's REST endpoints under /api/v1/money/ (issue 14): an engagement's money settings and
its ROI table, extra charges, reliefs, SLA rule sets (drafted, back-tested, adopted) and the
monthly statements (accepted, disputed, resolved, reopened).

The views are thin: reads go through kpi_planner.access (a hidden object answers 404) and
money.queries, writes through money.services, whose refusal (ServiceError) rises to
kpi_planner.api.exception_handler: 400 listing every problem, 403 for a role that may not,
409 for a locked or conflicting state. Bodies reach the services as they were sent, except the
two values the services look up as they come (a KPI reference, a statement line), which are
first made safe to look up (`_node_ref`, `_line_ref`). Money is integer yen; a statement line's
exact amount and the percentages of rules are decimal strings, so nothing is lost to floats.
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

from django.db.models import QuerySet
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import exceptions, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from engagements.models import Engagement, User
from kpi_planner.access import (
    can_manage,
    engagements_for,
    get_visible_or_404,
    rule_sets_for,
    statements_for,
)
from kpi_planner.api import CODE_PATTERN, MonthTextField, code_or_404
from kpi_planner.codes import is_code
from kpi_planner.errors import Problem, ServiceError
from kpi_planner.months import month_text
from kpi_planner.numbers import round_yen
from kpitree.models import Node
from money import engine, queries, services
from money.models import Charge, Relief, RuleSet, Statement, StatementLine
from money.services.rules import forbidden

TAGS = ["money"]
BACKTEST_MONTHS = 12
MAX_BACKTEST_MONTHS = 120
# What a KPI reference that cannot name a KPI is passed on as: a text no code can be, so that the
# service refuses it on its field, with its own message, beside every other problem of the body.
NO_KPI = "?"


# -- making what a body sends safe to look up ------------------------------------------------------


def _node_ref(value: Any) -> Any:
    """A KPI reference as money.services takes it: an id (a positive integer), a code, or None
    (nothing chosen). Anything else (NUL characters, text that is no code, a negative number,
    true, a list) becomes NO_KPI: looked up as it is, it could fail in the database (NUL) or in
    int() (digits such as '²'), or name a KPI by accident ('1.5' as a code)."""
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value if value > 0 else NO_KPI
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        return text if is_code(text) else NO_KPI
    return NO_KPI


def _line_ref(value: Any) -> int:
    """A statement line's position from a body; -1 (no line) unless it is a whole number."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        return int(value.strip())
    return -1


def _body(request: Request) -> dict[str, Any]:
    """The request body as a plain dict: 400 when it is not an object (a list, a number)."""
    data = request.data
    if not isinstance(data, dict):
        message = serializers.Serializer.default_error_messages["invalid"]
        raise exceptions.ValidationError(message.format(datatype=type(data).__name__))
    return data.dict() if hasattr(data, "dict") else dict(data)  # a form's QueryDict: last values


def _rule_set_data(body: dict[str, Any]) -> dict[str, Any]:
    data = dict(body)
    rules = data.get("rules")
    if isinstance(rules, list):
        data["rules"] = [_safe_rule(rule) for rule in rules]
    return data


def _safe_rule(rule: Any) -> Any:
    if not isinstance(rule, dict):
        return rule  # the service refuses it on its row
    out = dict(rule)
    for key in ("node", "min_volume_node"):
        if key in out:
            out[key] = _node_ref(out[key])
    return out


def _user(request: Request) -> User:
    """The caller: every endpoint here needs an authenticated user (IsAuthenticated)."""
    user = request.user
    assert isinstance(user, User)
    return user


def _require_manager(request: Request) -> User:
    """Managers only: checked before the body, so that a role that may not write answers 403
    whatever it sent."""
    user = _user(request)
    if not can_manage(user):
        raise forbidden()
    return user


def _engagement(request: Request, code: str) -> Engagement:
    return get_visible_or_404(engagements_for(request.user), code=code_or_404(code))


def _rule_set(request: Request, rule_set_id: int) -> RuleSet:
    return get_visible_or_404(
        rule_sets_for(request.user).select_related("engagement", "created_by", "adopted_by"),
        pk=rule_set_id,
    )


def _statement(request: Request, statement_id: int) -> Statement:
    return get_visible_or_404(
        statements_for(request.user).select_related("engagement", "agreed_by"), pk=statement_id
    )


# -- what the answers hold -------------------------------------------------------------------------


def _finite(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


def _pct(fraction: float | None) -> float | None:
    """A ratio of the engine (4.0) as the API's percentage (400.0)."""
    value = _finite(fraction)
    return None if value is None else round(value * 100, 4)


def _decimal(value: Decimal | None) -> str | None:
    return None if value is None else f"{value:f}"


def _username(user: User | None) -> str | None:
    return None if user is None else user.username


def _kpi(node: Node | None) -> dict[str, str] | None:
    if node is None:
        return None
    return {"tree": node.tree.code, "node": node.code, "name": node.name}


def _page(results: list[dict]) -> dict[str, Any]:
    """A list in the shape of every list of the API; an engagement's rows fit on one page."""
    return {"next": None, "previous": None, "results": results}


def _return_row(row: queries.ReturnRow) -> dict[str, Any]:
    f = row.figures
    cpa = _finite(f.cpa)
    return {
        "grain": row.grain,
        "period": None if row.period is None else month_text(row.period),
        "cost": f.cost,
        "cost_with_gain": f.cost_with_gain,
        "gain": _finite(f.gain),
        "acquired": _finite(f.acquired),
        "roi": _pct(f.roi),
        "cpa": None if cpa is None else round_yen(Decimal(repr(cpa))),
        "gain_ratio": _pct(f.gain_ratio),
        "months": f.months,
        "months_with_gain": f.months_with_gain,
        "months_with_acquired": f.months_with_acquired,
    }


def _engagement_body(engagement: Engagement) -> dict[str, Any]:
    settings = queries.money_settings(engagement)
    exposure = services.exposure(engagement)
    return {
        "engagement": engagement.code,
        "monthly_fee": engagement.monthly_fee,
        "settings": {
            "gain_node": _kpi(settings.gain_node if settings else None),
            "acquired_node": _kpi(settings.acquired_node if settings else None),
        },
        "returns": [_return_row(row) for row in queries.returns(engagement)],
        "exposure": None
        if exposure is None
        else {
            "period": month_text(exposure.period),
            "adjustment": exposure.adjustment,
            "rule_set": exposure.rule_set_id,
        },
    }


def _charge_body(charge: Charge) -> dict[str, Any]:
    return {
        "id": charge.pk,
        "period": month_text(charge.period),
        "amount": charge.amount,
        "description": charge.description,
        "created_by": _username(charge.created_by),
        "created_at": charge.created_at,
        "voided": charge.voided_at is not None,
        "voided_at": charge.voided_at,
        "voided_by": _username(charge.voided_by),
        "void_reason": charge.void_reason,
    }


def _relief_body(relief: Relief) -> dict[str, Any]:
    return {
        "id": relief.pk,
        "period": month_text(relief.period),
        "node": _kpi(relief.node),
        "reason": relief.reason,
        "created_by": _username(relief.created_by),
        "created_at": relief.created_at,
        "withdrawn": relief.withdrawn_at is not None,
        "withdrawn_at": relief.withdrawn_at,
        "withdrawn_by": _username(relief.withdrawn_by),
    }


def _rule_set_body(rule_set: RuleSet) -> dict[str, Any]:
    return {
        "id": rule_set.pk,
        "engagement": rule_set.engagement.code,
        "name": rule_set.name,
        "effective_from": month_text(rule_set.effective_from),
        "status": rule_set.status,
        "cap_pct": _decimal(rule_set.cap_pct),
        "earn_back_months": rule_set.earn_back_months,
        "note": rule_set.note,
        "created_by": _username(rule_set.created_by),
        "created_at": rule_set.created_at,
        "adopted_by": _username(rule_set.adopted_by),
        "adopted_at": rule_set.adopted_at,
        "rules": [
            {
                "position": rule.position,
                "node": _kpi(rule.node),
                "min_volume_node": _kpi(rule.min_volume_node),
                "min_volume": _finite(rule.min_volume),
                "bands": [
                    {
                        "lower": _decimal(band.lower),
                        "upper": _decimal(band.upper),
                        "pct_of_fee": _decimal(band.pct_of_fee),
                    }
                    for band in rule.bands.all()
                ],
            }
            for rule in rule_set.rules.all()
        ],
    }


def _rule_sets(queryset: QuerySet[RuleSet]) -> QuerySet[RuleSet]:
    return queryset.select_related("engagement", "created_by", "adopted_by").prefetch_related(
        "rules__node__tree", "rules__min_volume_node__tree", "rules__bands"
    )


def _rule_set_reply(rule_set: RuleSet, status_code: int = status.HTTP_200_OK) -> Response:
    fresh = _rule_sets(RuleSet.objects.all()).get(pk=rule_set.pk)
    return Response(_rule_set_body(fresh), status_code)


def _statement_summary(statement: Statement) -> dict[str, Any]:
    return {
        "id": statement.pk,
        "engagement": statement.engagement.code,
        "period": month_text(statement.period),
        "status": statement.status,
        "fee": statement.fee,
        "charges": statement.charges,
        "adjustment": statement.adjustment,
        "invoice": statement.invoice,
        "rule_set": statement.rule_set_id,
        "version": statement.version,
        "computed_at": statement.computed_at,
        "agreed_at": statement.agreed_at,
        "agreed_by": _username(statement.agreed_by),
    }


def _line_body(line: StatementLine) -> dict[str, Any]:
    return {
        "position": line.position,
        "kind": line.kind,
        "kpi": _kpi(line.node),
        "achievement": _finite(line.achievement),
        "volume": _finite(line.volume),
        "pct_of_fee": _decimal(line.pct_of_fee),
        "amount": _decimal(line.amount),
        "reason": line.reason,
        # Written now, in the caller's language, from what the line stored.
        "explanation": engine.explain(
            line.reason, line.params, kpi=line.node.name if line.node else None
        ),
        "dispute": line.dispute,
        "disputed_by": _username(line.disputed_by),
        "disputed_at": line.disputed_at,
        "resolution": line.resolution,
        "resolved_by": _username(line.resolved_by),
        "resolved_at": line.resolved_at,
    }


def _statement_reply(statement: Statement) -> Response:
    statement = Statement.objects.select_related("engagement", "agreed_by").get(pk=statement.pk)
    lines = statement.lines.select_related("node__tree", "disputed_by", "resolved_by")
    events = statement.events.select_related("user")
    return Response(
        {
            **_statement_summary(statement),
            "exact_adjustment": _decimal(statement.exact_adjustment),
            "lines": [_line_body(line) for line in lines],
            "events": [
                {
                    "action": event.action,
                    "line": event.line_position,
                    "comment": event.comment,
                    "adjustment_before": event.adjustment_before,
                    "adjustment_after": event.adjustment_after,
                    "user": _username(event.user),
                    "at": event.at,
                }
                for event in events
            ],
        }
    )


# -- the schema: what each answer and body holds ---------------------------------------------------


_NODE_REF_ONE_OF = [
    {"type": "integer", "minimum": 1, "description": "the KPI's id"},
    {"type": "string", "pattern": CODE_PATTERN, "description": "the KPI's code"},
]


@extend_schema_field(
    {"oneOf": _NODE_REF_ONE_OF, "description": "a KPI of this engagement, by code (or id)"}
)
class NodeRefField(serializers.Field):
    """A KPI reference in a body (documentation only: the service looks it up)."""


@extend_schema_field(
    {
        "oneOf": _NODE_REF_ONE_OF,
        "nullable": True,
        "description": "a KPI of this engagement, by code (or id); null or left out: none",
    }
)
class OptionalNodeRefField(serializers.Field):
    """An optional KPI reference in a body (documentation only)."""


class MoneyKpiSerializer(serializers.Serializer):
    tree = serializers.CharField(help_text="tree code")
    node = serializers.CharField(help_text="node code")
    name = serializers.CharField()


def _kpi_field(**kwargs: Any) -> MoneyKpiSerializer:
    return MoneyKpiSerializer(**kwargs)


def _user_field() -> serializers.CharField:
    return serializers.CharField(allow_null=True, help_text="username")


class MoneySettingsSerializer(serializers.Serializer):
    gain_node = _kpi_field(allow_null=True, help_text="the KPI of the gain (JPY)")
    acquired_node = _kpi_field(allow_null=True, help_text="the KPI of the customers acquired")


class MoneyReturnSerializer(serializers.Serializer):
    grain = serializers.CharField(help_text="month, quarter, year or lifetime")
    period = MonthTextField(
        allow_null=True,
        help_text="first month of the month, quarter or fiscal year; null: lifetime",
    )
    cost = serializers.IntegerField(help_text="fee plus extra charges, JPY")
    cost_with_gain = serializers.IntegerField(
        help_text="the cost of the months that have the gain: what roi and gain_ratio are on, JPY"
    )
    gain = serializers.FloatField(allow_null=True, help_text="sum of the gain KPI, JPY")
    acquired = serializers.FloatField(allow_null=True, help_text="sum of the acquired KPI")
    roi = serializers.FloatField(
        allow_null=True,
        help_text="(gain − cost) ÷ cost × 100, over the months with a gain; %",
    )
    cpa = serializers.IntegerField(
        allow_null=True, help_text="cost ÷ acquired over the months with an acquired count, JPY"
    )
    gain_ratio = serializers.FloatField(
        allow_null=True, help_text="gain ÷ cost × 100, over the months with a gain; %"
    )
    months = serializers.IntegerField()
    months_with_gain = serializers.IntegerField()
    months_with_acquired = serializers.IntegerField()


class MoneyExposureSerializer(serializers.Serializer):
    period = MonthTextField()
    adjustment = serializers.IntegerField(
        help_text="what the rules in force would adjust if each KPI ends the month at its "
        "forecast, JPY"
    )
    rule_set = serializers.IntegerField()


class MoneyEngagementSerializer(serializers.Serializer):
    engagement = serializers.CharField(help_text="engagement code")
    monthly_fee = serializers.IntegerField(help_text="JPY")
    settings = MoneySettingsSerializer()
    returns = MoneyReturnSerializer(many=True)
    exposure = MoneyExposureSerializer(
        allow_null=True, help_text="this month's exposure; null: no rules in force"
    )


class MoneySettingsWriteSerializer(serializers.Serializer):
    gain_node = OptionalNodeRefField(required=False)
    acquired_node = OptionalNodeRefField(required=False)


class MoneyChargeSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    period = MonthTextField()
    amount = serializers.IntegerField(help_text="JPY; negative: a discount")
    description = serializers.CharField()
    created_by = _user_field()
    created_at = serializers.DateTimeField()
    voided = serializers.BooleanField()
    voided_at = serializers.DateTimeField(allow_null=True)
    voided_by = _user_field()
    void_reason = serializers.CharField(allow_blank=True)


class MoneyChargeWriteSerializer(serializers.Serializer):
    period = MonthTextField(help_text="a month of the engagement, YYYY-MM")
    amount = serializers.IntegerField(help_text="whole JPY, not zero; negative: a discount")
    description = serializers.CharField(max_length=200)


class MoneyReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=2000)


class MoneyReliefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    period = MonthTextField()
    node = _kpi_field(allow_null=True, help_text="the relieved rule's KPI; null: every rule")
    reason = serializers.CharField()
    created_by = _user_field()
    created_at = serializers.DateTimeField()
    withdrawn = serializers.BooleanField()
    withdrawn_at = serializers.DateTimeField(allow_null=True)
    withdrawn_by = _user_field()


class MoneyReliefWriteSerializer(serializers.Serializer):
    period = MonthTextField()
    node = OptionalNodeRefField(required=False)
    reason = serializers.CharField(max_length=2000)


class MoneyBandSerializer(serializers.Serializer):
    lower = serializers.DecimalField(
        max_digits=8, decimal_places=2, allow_null=True, help_text="from this achievement %"
    )
    upper = serializers.DecimalField(
        max_digits=8, decimal_places=2, allow_null=True, help_text="below this achievement %"
    )
    pct_of_fee = serializers.DecimalField(
        max_digits=6, decimal_places=2, help_text="% of the fee: + a bonus, − a credit"
    )


class MoneyRuleSerializer(serializers.Serializer):
    position = serializers.IntegerField()
    node = MoneyKpiSerializer()
    min_volume_node = _kpi_field(allow_null=True)
    min_volume = serializers.FloatField(allow_null=True)
    bands = MoneyBandSerializer(many=True)


class MoneyRuleSetSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    engagement = serializers.CharField(help_text="engagement code")
    name = serializers.CharField()
    effective_from = MonthTextField()
    status = serializers.CharField(help_text="draft or adopted")
    cap_pct = serializers.DecimalField(
        max_digits=6, decimal_places=2, allow_null=True, help_text="% of the fee; null: no cap"
    )
    earn_back_months = serializers.IntegerField()
    note = serializers.CharField(allow_blank=True)
    created_by = _user_field()
    created_at = serializers.DateTimeField()
    adopted_by = _user_field()
    adopted_at = serializers.DateTimeField(allow_null=True)
    rules = MoneyRuleSerializer(many=True)


class MoneyBandWriteSerializer(serializers.Serializer):
    lower = serializers.DecimalField(
        max_digits=8, decimal_places=2, required=False, allow_null=True, help_text="% (inclusive)"
    )
    upper = serializers.DecimalField(
        max_digits=8, decimal_places=2, required=False, allow_null=True, help_text="% (exclusive)"
    )
    pct_of_fee = serializers.DecimalField(max_digits=6, decimal_places=2)


class MoneyRuleWriteSerializer(serializers.Serializer):
    node = NodeRefField()
    min_volume_node = OptionalNodeRefField(required=False)
    min_volume = serializers.FloatField(required=False, allow_null=True)
    bands = MoneyBandWriteSerializer(many=True)


class MoneyRuleSetWriteSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    effective_from = MonthTextField(help_text="the first month in force, YYYY-MM")
    cap_pct = serializers.DecimalField(
        max_digits=6, decimal_places=2, required=False, allow_null=True
    )
    earn_back_months = serializers.IntegerField(min_value=0, max_value=12, required=False)
    note = serializers.CharField(required=False, allow_blank=True)
    rules = MoneyRuleWriteSerializer(many=True, help_text="1 to 20 rules")


class MoneyBacktestRowSerializer(serializers.Serializer):
    period = MonthTextField()
    in_force = serializers.IntegerField(allow_null=True, help_text="the rules in force, JPY")
    draft = serializers.IntegerField(allow_null=True, help_text="this rule set, JPY")
    difference = serializers.IntegerField(allow_null=True, help_text="draft − in force, JPY")


class MoneyBacktestSerializer(serializers.Serializer):
    rule_set = serializers.IntegerField()
    months = serializers.IntegerField()
    rows = MoneyBacktestRowSerializer(many=True)


class MoneyStatementSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    engagement = serializers.CharField(help_text="engagement code")
    period = MonthTextField()
    status = serializers.CharField(
        help_text="open (awaiting the vendor), disputed or agreed (locked)"
    )
    fee = serializers.IntegerField(help_text="JPY")
    charges = serializers.IntegerField(help_text="extra charges, JPY")
    adjustment = serializers.IntegerField(help_text="the rounded total of the lines, JPY")
    invoice = serializers.IntegerField(help_text="fee + charges + adjustment, JPY")
    rule_set = serializers.IntegerField()
    version = serializers.IntegerField()
    computed_at = serializers.DateTimeField()
    agreed_at = serializers.DateTimeField(allow_null=True)
    agreed_by = _user_field()


class MoneyStatementLineSerializer(serializers.Serializer):
    position = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=["band", "cap", "earn_back"])
    kpi = _kpi_field(allow_null=True)
    achievement = serializers.FloatField(allow_null=True, help_text="%")
    volume = serializers.FloatField(allow_null=True)
    pct_of_fee = serializers.DecimalField(max_digits=6, decimal_places=2, allow_null=True)
    amount = serializers.DecimalField(
        max_digits=20, decimal_places=4, help_text="exact, JPY (only the total is rounded)"
    )
    reason = serializers.CharField()
    explanation = serializers.CharField(help_text="how the line was reached, in your language")
    dispute = serializers.CharField(allow_blank=True)
    disputed_by = _user_field()
    disputed_at = serializers.DateTimeField(allow_null=True)
    resolution = serializers.CharField(allow_blank=True)
    resolved_by = _user_field()
    resolved_at = serializers.DateTimeField(allow_null=True)


class MoneyStatementEventSerializer(serializers.Serializer):
    action = serializers.CharField()
    line = serializers.IntegerField(allow_null=True)
    comment = serializers.CharField(allow_blank=True)
    adjustment_before = serializers.IntegerField(allow_null=True)
    adjustment_after = serializers.IntegerField(allow_null=True)
    user = _user_field()
    at = serializers.DateTimeField()


class MoneyStatementDetailSerializer(MoneyStatementSerializer):
    exact_adjustment = serializers.DecimalField(max_digits=20, decimal_places=4)
    lines = MoneyStatementLineSerializer(many=True)
    events = MoneyStatementEventSerializer(many=True)


class MoneyDisputeSerializer(serializers.Serializer):
    line = serializers.IntegerField(min_value=0, help_text="the line's position")
    comment = serializers.CharField(max_length=2000)


class MoneyResolveSerializer(serializers.Serializer):
    line = serializers.IntegerField(min_value=0, help_text="the line's position")
    resolution = serializers.CharField(max_length=2000)


def _page_of(name: str, item: type[serializers.Serializer]) -> serializers.Serializer:
    fields = {
        "next": serializers.CharField(allow_null=True, help_text="always null: one page"),
        "previous": serializers.CharField(allow_null=True, help_text="always null"),
        "results": item(many=True),
    }
    return type(name, (serializers.Serializer,), fields)()


CHARGE_PAGE = _page_of("MoneyChargePage", MoneyChargeSerializer)
RELIEF_PAGE = _page_of("MoneyReliefPage", MoneyReliefSerializer)
RULE_SET_PAGE = _page_of("MoneyRuleSetPage", MoneyRuleSetSerializer)
STATEMENT_PAGE = _page_of("MoneyStatementPage", MoneyStatementSerializer)

ENGAGEMENT_CODE = OpenApiParameter(
    "code", str, OpenApiParameter.PATH, pattern=CODE_PATTERN, description="engagement code"
)


def _id(name: str, what: str) -> OpenApiParameter:
    return OpenApiParameter(name, int, OpenApiParameter.PATH, description=f"{what} id")


# -- an engagement's money ------------------------------------------------------------------------


@extend_schema(parameters=[ENGAGEMENT_CODE], tags=TAGS)
class EngagementMoneyView(APIView):
    """The engagement's gain and acquired KPIs, its cost and return (ROI, CPA, gain ratio) per
    month, quarter, fiscal year and lifetime, and this month's exposure under its SLA rules."""

    @extend_schema(
        operation_id="money_engagement_retrieve",
        summary="Money of an engagement: settings, returns and exposure",
        responses=MoneyEngagementSerializer,
    )
    def get(self, request: Request, code: str) -> Response:
        return Response(_engagement_body(_engagement(request, code)))

    @extend_schema(
        operation_id="money_engagement_update",
        summary="Designate the gain and acquired-customers KPIs (managers)",
        description="Both at once: a KPI left out (or null) is no longer designated.",
        request=MoneySettingsWriteSerializer,
        responses=MoneyEngagementSerializer,
    )
    def put(self, request: Request, code: str) -> Response:
        engagement = _engagement(request, code)
        user = _require_manager(request)
        body = _body(request)
        services.money_settings_update(
            user=user,
            engagement=engagement,
            gain_node=_node_ref(body.get("gain_node")),
            acquired_node=_node_ref(body.get("acquired_node")),
        )
        return Response(_engagement_body(engagement))


@extend_schema(parameters=[ENGAGEMENT_CODE], tags=TAGS)
class ChargesView(APIView):
    """Extra charges of the engagement's months (voided ones included, marked)."""

    @extend_schema(operation_id="money_charges_list", responses=CHARGE_PAGE)
    def get(self, request: Request, code: str) -> Response:
        charges = queries.charges_of(_engagement(request, code))
        return Response(_page([_charge_body(c) for c in charges]))

    @extend_schema(
        operation_id="money_charge_create",
        summary="Add an extra charge (negative: a discount) to a month (managers)",
        request=MoneyChargeWriteSerializer,
        responses={201: MoneyChargeSerializer},
    )
    def post(self, request: Request, code: str) -> Response:
        engagement = _engagement(request, code)
        user = _require_manager(request)
        body = _body(request)
        charge = services.charge_add(
            user=user,
            engagement=engagement,
            period=body.get("period"),
            amount=body.get("amount"),
            description=body.get("description"),
        )
        return Response(_charge_body(charge), status=status.HTTP_201_CREATED)


@extend_schema(parameters=[ENGAGEMENT_CODE, _id("charge_id", "charge")], tags=TAGS)
class ChargeVoidView(APIView):
    @extend_schema(
        operation_id="money_charge_void",
        summary="Void a charge, with the reason (managers); it is kept",
        request=MoneyReasonSerializer,
        responses=MoneyChargeSerializer,
    )
    def post(self, request: Request, code: str, charge_id: int) -> Response:
        engagement = _engagement(request, code)
        charge = get_visible_or_404(Charge.objects.filter(engagement=engagement), pk=charge_id)
        user = _require_manager(request)
        body = _body(request)
        charge = services.charge_void(user=user, charge=charge, reason=body.get("reason"))
        charge = queries.charges_of(engagement).get(pk=charge.pk)
        return Response(_charge_body(charge))


# -- reliefs ---------------------------------------------------------------------------------------


@extend_schema(parameters=[ENGAGEMENT_CODE], tags=TAGS)
class ReliefsView(APIView):
    """Months (one rule's KPI, or every rule) marked as caused by the client: not assessed."""

    @extend_schema(operation_id="money_reliefs_list", responses=RELIEF_PAGE)
    def get(self, request: Request, code: str) -> Response:
        reliefs = Relief.objects.filter(engagement=_engagement(request, code)).select_related(
            "node__tree", "created_by", "withdrawn_by"
        )
        return Response(_page([_relief_body(r) for r in reliefs]))

    @extend_schema(
        operation_id="money_relief_create",
        summary="Relieve a month (managers); its statement is recomputed",
        request=MoneyReliefWriteSerializer,
        responses={201: MoneyReliefSerializer},
    )
    def post(self, request: Request, code: str) -> Response:
        engagement = _engagement(request, code)
        user = _require_manager(request)
        body = _body(request)
        relief = services.relief_add(
            user=user,
            engagement=engagement,
            period=body.get("period"),
            reason=body.get("reason"),
            node=_node_ref(body.get("node")),
        )
        return Response(_relief_body(relief), status=status.HTTP_201_CREATED)


@extend_schema(parameters=[ENGAGEMENT_CODE, _id("relief_id", "relief")], tags=TAGS)
class ReliefWithdrawView(APIView):
    @extend_schema(
        operation_id="money_relief_withdraw",
        summary="Withdraw a relief (managers); it is kept, and the statement recomputed",
        request=None,
        responses=MoneyReliefSerializer,
    )
    def post(self, request: Request, code: str, relief_id: int) -> Response:
        engagement = _engagement(request, code)
        relief = get_visible_or_404(Relief.objects.filter(engagement=engagement), pk=relief_id)
        relief = services.relief_withdraw(user=_require_manager(request), relief=relief)
        relief = Relief.objects.select_related("node__tree", "created_by", "withdrawn_by").get(
            pk=relief.pk
        )
        return Response(_relief_body(relief))


# -- rule sets -------------------------------------------------------------------------------------


@extend_schema(parameters=[ENGAGEMENT_CODE], tags=TAGS)
class EngagementRuleSetsView(APIView):
    """The engagement's SLA rule sets, the latest first (drafts only for those who read across
    vendors; a vendor sees the adopted ones)."""

    @extend_schema(operation_id="money_rule_sets_list", responses=RULE_SET_PAGE)
    def get(self, request: Request, code: str) -> Response:
        engagement = _engagement(request, code)
        rule_sets = _rule_sets(queries.rule_sets_of(engagement, rule_sets_for(request.user)))
        return Response(_page([_rule_set_body(rs) for rs in rule_sets]))

    @extend_schema(
        operation_id="money_rule_set_create",
        summary="Draft a rule set (managers)",
        request=MoneyRuleSetWriteSerializer,
        responses={201: MoneyRuleSetSerializer},
    )
    def post(self, request: Request, code: str) -> Response:
        engagement = _engagement(request, code)
        user = _require_manager(request)
        data = _rule_set_data(_body(request))
        rule_set = services.rule_set_save(user=user, engagement=engagement, data=data)
        return _rule_set_reply(rule_set, status.HTTP_201_CREATED)


@extend_schema(parameters=[_id("rule_set_id", "rule set")], tags=TAGS)
class RuleSetView(APIView):
    @extend_schema(operation_id="money_rule_set_retrieve", responses=MoneyRuleSetSerializer)
    def get(self, request: Request, rule_set_id: int) -> Response:
        return _rule_set_reply(_rule_set(request, rule_set_id))

    @extend_schema(
        operation_id="money_rule_set_update",
        summary="Rewrite a draft rule set whole (managers); an adopted one answers 409",
        request=MoneyRuleSetWriteSerializer,
        responses=MoneyRuleSetSerializer,
    )
    def put(self, request: Request, rule_set_id: int) -> Response:
        rule_set = _rule_set(request, rule_set_id)
        user = _require_manager(request)
        data = _rule_set_data(_body(request))
        rule_set = services.rule_set_save(
            user=user, engagement=rule_set.engagement, data=data, rule_set=rule_set
        )
        return _rule_set_reply(rule_set)


@extend_schema(parameters=[_id("rule_set_id", "rule set")], tags=TAGS)
class RuleSetAdoptView(APIView):
    @extend_schema(
        operation_id="money_rule_set_adopt",
        summary="Put a draft in force from its month (managers); statements are recomputed",
        request=None,
        responses=MoneyRuleSetSerializer,
    )
    def post(self, request: Request, rule_set_id: int) -> Response:
        rule_set = _rule_set(request, rule_set_id)
        rule_set = services.rule_set_adopt(user=_require_manager(request), rule_set=rule_set)
        return _rule_set_reply(rule_set)


@extend_schema(parameters=[_id("rule_set_id", "rule set")], tags=TAGS)
class RuleSetBacktestView(APIView):
    @extend_schema(
        operation_id="money_rule_set_backtest",
        summary="What the rule set would have adjusted, beside the rules in force then",
        description="Over the last `months` approved months; the same engine as the "
        "statements, and nothing is written.",
        parameters=[
            OpenApiParameter(
                "months",
                int,
                description=f"approved months to go back, 1–{MAX_BACKTEST_MONTHS} "
                f"(default {BACKTEST_MONTHS})",
            )
        ],
        responses=MoneyBacktestSerializer,
    )
    def get(self, request: Request, rule_set_id: int) -> Response:
        rule_set = _rule_set(request, rule_set_id)
        months = _months_param(request)
        rows = services.backtest(rule_set, months)
        return Response(
            {
                "rule_set": rule_set.pk,
                "months": months,
                "rows": [
                    {
                        "period": month_text(row.period),
                        "in_force": None if row.in_force is None else row.in_force.adjustment,
                        "draft": None if row.draft is None else row.draft.adjustment,
                        "difference": row.difference,
                    }
                    for row in rows
                ],
            }
        )


def _months_param(request: Request) -> int:
    raw = request.query_params.get("months")
    if raw is None:
        return BACKTEST_MONTHS
    text = raw.strip()
    if text.isascii() and text.isdigit() and 1 <= int(text) <= MAX_BACKTEST_MONTHS:
        return int(text)
    raise ServiceError(
        [Problem(_("Enter 1 to %(max)d months.") % {"max": MAX_BACKTEST_MONTHS}, field="months")]
    )


# -- statements ------------------------------------------------------------------------------------


@extend_schema(parameters=[ENGAGEMENT_CODE], tags=TAGS)
class EngagementStatementsView(APIView):
    @extend_schema(
        operation_id="money_statements_list",
        summary="The engagement's monthly statements, the latest first",
        responses=STATEMENT_PAGE,
    )
    def get(self, request: Request, code: str) -> Response:
        engagement = _engagement(request, code)
        statements = queries.statements_of(engagement, statements_for(request.user))
        statements = statements.select_related("engagement", "agreed_by")
        return Response(_page([_statement_summary(s) for s in statements]))


STATEMENT_ID = _id("statement_id", "statement")


@extend_schema(parameters=[STATEMENT_ID], tags=TAGS)
class StatementView(APIView):
    @extend_schema(
        operation_id="money_statement_retrieve",
        summary="A monthly statement with its lines, their explanations and its history",
        responses=MoneyStatementDetailSerializer,
    )
    def get(self, request: Request, statement_id: int) -> Response:
        return _statement_reply(_statement(request, statement_id))


@extend_schema(parameters=[STATEMENT_ID], tags=TAGS)
class StatementAcceptView(APIView):
    @extend_schema(
        operation_id="money_statement_accept",
        summary="The vendor agrees the statement; it is locked from then on",
        request=None,
        responses=MoneyStatementDetailSerializer,
    )
    def post(self, request: Request, statement_id: int) -> Response:
        statement = _statement(request, statement_id)
        services.statement_accept(user=_user(request), statement=statement)
        return _statement_reply(statement)


@extend_schema(parameters=[STATEMENT_ID], tags=TAGS)
class StatementDisputeView(APIView):
    @extend_schema(
        operation_id="money_statement_dispute",
        summary="The vendor disputes one line, saying why",
        request=MoneyDisputeSerializer,
        responses=MoneyStatementDetailSerializer,
    )
    def post(self, request: Request, statement_id: int) -> Response:
        statement = _statement(request, statement_id)
        body = _body(request)
        services.statement_dispute(
            user=_user(request),
            statement=statement,
            line=_line_ref(body.get("line")),
            comment=body.get("comment"),
        )
        return _statement_reply(statement)


@extend_schema(parameters=[STATEMENT_ID], tags=TAGS)
class StatementResolveView(APIView):
    @extend_schema(
        operation_id="money_statement_resolve",
        summary="The manager answers a disputed line",
        request=MoneyResolveSerializer,
        responses=MoneyStatementDetailSerializer,
    )
    def post(self, request: Request, statement_id: int) -> Response:
        statement = _statement(request, statement_id)
        user = _require_manager(request)
        body = _body(request)
        services.statement_resolve(
            user=user,
            statement=statement,
            line=_line_ref(body.get("line")),
            resolution=body.get("resolution"),
        )
        return _statement_reply(statement)


@extend_schema(parameters=[STATEMENT_ID], tags=TAGS)
class StatementReopenView(APIView):
    @extend_schema(
        operation_id="money_statement_reopen",
        summary="The manager reopens an agreed statement, with the reason (audited)",
        request=MoneyReasonSerializer,
        responses=MoneyStatementDetailSerializer,
    )
    def post(self, request: Request, statement_id: int) -> Response:
        statement = _statement(request, statement_id)
        user = _require_manager(request)
        body = _body(request)
        services.statement_reopen(user=user, statement=statement, reason=body.get("reason"))
        return _statement_reply(statement)
