"""API of what-if, sensitivity and goal-seek on a tree (kpitree/analysis.py); nothing is written.

- `POST trees/{tree}/what-if/` {period, changes: [{node, value | pct}], target?}: every visible
  node before and after;
- `GET trees/{tree}/sensitivity/?period=&node=&target=`: the elasticities of a node (default the
  KGI) to its leaves;
- `POST trees/{tree}/goal-seek/` {period, node, value, leaf, range?, target?}: the leaf's value
  for the node to reach the value, or "not reachable" with the best value in the range.

`target: true` computes on the plan's targets instead of the month's actuals. A tree the caller
cannot see answers 404; a node it cannot see is an unknown node (400).
"""

from __future__ import annotations

import math

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from kpi_planner.api import MonthField
from kpi_planner.errors import Problem, ServiceError
from kpi_planner.months import parse_month
from kpitree import analysis, whatif
from kpitree.api import TREE_CODE, TreeScopedMixin, month_parameter

MAX_CHANGES = 200


class FiniteFloatField(serializers.FloatField):
    default_error_messages = {"finite": _("Give a finite number.")}

    def to_internal_value(self, data) -> float:
        value = super().to_internal_value(data)
        if not math.isfinite(value):
            self.fail("finite")
        return value


class ChangeSerializer(serializers.Serializer):
    node = serializers.CharField(max_length=64)
    value = FiniteFloatField(required=False, allow_null=True, help_text="the leaf's new value")
    pct = FiniteFloatField(
        required=False, allow_null=True, help_text="or its change in percent (+10: ×1.1)"
    )


class WhatIfSerializer(serializers.Serializer):
    period = MonthField()
    changes = ChangeSerializer(  # type: ignore[call-arg]  # many=True makes a ListSerializer
        many=True, allow_empty=False, max_length=MAX_CHANGES
    )
    target = serializers.BooleanField(
        default=False, help_text="compute on the plan's targets instead of the actuals"
    )


class GoalSeekSerializer(serializers.Serializer):
    period = MonthField()
    node = serializers.CharField(max_length=64, help_text="the node that must reach `value`")
    value = FiniteFloatField()
    leaf = serializers.CharField(max_length=64, help_text="the input KPI to solve for")
    range = serializers.ListField(
        child=FiniteFloatField(),
        min_length=2,
        max_length=2,
        required=False,
        help_text="[low, high] of the leaf; default 0–100 for a rate in %, else 0 to 10× its "
        "current value",
    )
    target = serializers.BooleanField(default=False)


def _label() -> dict[str, serializers.Field]:
    """The fields naming a node (kpitree.analysis.TreeMonth.label)."""
    return {
        "node": serializers.CharField(),
        "name": serializers.CharField(),
        "unit": serializers.CharField(),
    }


HEAD: dict[str, serializers.Field] = {
    "tree": serializers.CharField(),
    "period": serializers.CharField(),
    "basis": serializers.ChoiceField(analysis.BASES),
}
WHAT_IF_SCHEMA = inline_serializer(
    "WhatIfResult",
    {
        **HEAD,
        "nodes": inline_serializer(
            "WhatIfNode",
            {
                **_label(),
                "before": serializers.FloatField(allow_null=True),
                "after": serializers.FloatField(allow_null=True),
                "delta": serializers.FloatField(allow_null=True),
                "pct": serializers.FloatField(allow_null=True, help_text="change in %"),
                "changed": serializers.BooleanField(help_text="a leaf the request changed"),
                "computed": serializers.BooleanField(),
                "target": serializers.FloatField(allow_null=True),
            },
            many=True,
        ),
    },
)
SENSITIVITY_SCHEMA = inline_serializer(
    "Sensitivity",
    {
        **HEAD,
        **_label(),
        "value": serializers.FloatField(allow_null=True),
        "method": serializers.CharField(),
        "leaves": inline_serializer(
            "SensitivityLeaf",
            {
                **_label(),
                "value": serializers.FloatField(allow_null=True),
                "elasticity": serializers.FloatField(
                    allow_null=True, help_text="% change of the node per 1 % change of the leaf"
                ),
            },
            many=True,
        ),
    },
)
GOAL_SEEK_SCHEMA = inline_serializer(
    "GoalSeekResult",
    {
        **HEAD,
        **_label(),
        "value": serializers.FloatField(help_text="the goal"),
        "current": serializers.FloatField(allow_null=True),
        "leaf": inline_serializer(
            "GoalSeekLeaf",
            {**_label(), "current": serializers.FloatField(allow_null=True)},
        ),
        "range": serializers.ListField(child=serializers.FloatField()),
        "reachable": serializers.BooleanField(),
        "leaf_value": serializers.FloatField(
            allow_null=True, help_text="reaches the goal; when not reachable, the best in range"
        ),
        "achieved": serializers.FloatField(allow_null=True),
    },
)


def _basis(target: bool) -> str:
    return "target" if target else "actual"


@extend_schema(parameters=[TREE_CODE])
class WhatIfView(TreeScopedMixin, APIView):
    """Change leaves for a month and see every node move, without saving."""

    @extend_schema(request=WhatIfSerializer, responses=WHAT_IF_SCHEMA)
    def post(self, request: Request, tree_code: str) -> Response:
        tree = self.tree()
        serializer = WhatIfSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        tm = analysis.tree_month(
            user=request.user, tree=tree, period=data["period"], basis=_basis(data["target"])
        )
        changes = [
            whatif.Change(c["node"], value=c.get("value"), pct=c.get("pct"))
            for c in data["changes"]
        ]
        return Response(analysis.what_if(tm, changes))


@extend_schema(parameters=[TREE_CODE])
class SensitivityView(TreeScopedMixin, APIView):
    """Which leaf moves a node most per 1 % change: the elasticities, largest first."""

    @extend_schema(
        parameters=[
            month_parameter("period", required=True, description="YYYY-MM"),
            OpenApiParameter("node", str, description="default: the KGI"),
            OpenApiParameter("target", bool, description="on the plan's targets"),
        ],
        responses=SENSITIVITY_SCHEMA,
    )
    def get(self, request: Request, tree_code: str) -> Response:
        tree = self.tree()
        params = request.query_params
        period = parse_month(params.get("period", ""))
        target = params.get("target", "false").lower()
        problems = []
        if period is None:
            problems.append(Problem(str(_("Write the month as YYYY-MM.")), field="period"))
        if target not in ("true", "false", "1", "0"):
            problems.append(Problem(str(_("target is true or false.")), field="target"))
        if problems:
            raise ServiceError(problems)
        tm = analysis.tree_month(
            user=request.user, tree=tree, period=period, basis=_basis(target in ("true", "1"))
        )
        return Response(analysis.sensitivity(tm, params.get("node") or None))


@extend_schema(parameters=[TREE_CODE])
class GoalSeekView(TreeScopedMixin, APIView):
    """The value a leaf must take for a node to reach a value in a month."""

    @extend_schema(request=GoalSeekSerializer, responses=GOAL_SEEK_SCHEMA)
    def post(self, request: Request, tree_code: str) -> Response:
        tree = self.tree()
        serializer = GoalSeekSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        tm = analysis.tree_month(
            user=request.user, tree=tree, period=data["period"], basis=_basis(data["target"])
        )
        bounds = tuple(data["range"]) if data.get("range") else None
        return Response(
            analysis.goal_seek(
                tm, node=data["node"], goal=data["value"], leaf=data["leaf"], bounds=bounds
            )
        )
