"""API for driver attribution: a computed node's change between two periods split between its
inputs (kpitree/attribution.py states the method).

GET /api/v1/trees/{tree}/nodes/{node}/attribution/?period=YYYY-MM&compare=mom|yoy|target
"""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from kpi_planner.access import nodes_for, trees_for
from kpi_planner.api import CODE_PATTERN, MONTH_PATTERN, code_or_404
from kpi_planner.errors import Problem, ServiceError
from kpi_planner.months import month_text, parse_month
from kpitree.attribution_queries import COMPARES, node_attribution

ATTRIBUTION_SCHEMA = inline_serializer(
    "Attribution",
    {
        "tree": serializers.CharField(),
        "node": serializers.CharField(),
        "period": serializers.CharField(help_text="YYYY-MM"),
        "compare": serializers.ChoiceField(choices=list(COMPARES)),
        "compared_with": serializers.CharField(
            help_text="the month compared with (YYYY-MM); the period itself for `target`"
        ),
        "before": serializers.FloatField(allow_null=True),
        "after": serializers.FloatField(allow_null=True),
        "change": serializers.FloatField(
            allow_null=True, help_text="after − before; null when a value is missing"
        ),
        "parts": inline_serializer(
            "AttributionPart",
            {
                "node": serializers.CharField(
                    allow_null=True, help_text="null: inputs the caller may not see, together"
                ),
                "name": serializers.CharField(),
                "before": serializers.FloatField(allow_null=True),
                "after": serializers.FloatField(allow_null=True),
                "part": serializers.FloatField(allow_null=True),
            },
            many=True,
        ),
        "method": serializers.ChoiceField(
            choices=["lmdi", "sum", "shapley", "sequential", "none"],
            help_text="lmdi: logarithmic mean Divisia index (products of positive values); "
            "sum: each input's own change; shapley: Shapley value; sequential: inputs switched "
            "in formula order (more than 8 inputs); none: the change is unknown",
        ),
        "sentence": serializers.CharField(help_text="the parts in one line, for people"),
    },
)


class AttributionView(APIView):
    """The change of a computed node between two periods, split between its inputs so that
    the parts add up exactly to the change."""

    @extend_schema(
        parameters=[
            OpenApiParameter("tree_code", str, OpenApiParameter.PATH, pattern=CODE_PATTERN),
            OpenApiParameter("node_code", str, OpenApiParameter.PATH, pattern=CODE_PATTERN),
            OpenApiParameter("period", str, pattern=MONTH_PATTERN, required=True),
            OpenApiParameter("compare", str, enum=list(COMPARES), description="default mom"),
        ],
        responses=ATTRIBUTION_SCHEMA,
    )
    def get(self, request: Request, tree_code: str, node_code: str) -> Response:
        tree = get_object_or_404(trees_for(request.user), code=code_or_404(tree_code))
        node = get_object_or_404(
            nodes_for(request.user).select_related("tree"), tree=tree, code=code_or_404(node_code)
        )
        period = parse_month(request.query_params.get("period", ""))
        compare = request.query_params.get("compare", "mom")
        problems = []
        if period is None:
            problems.append(Problem(_("Write the month as YYYY-MM."), field="period"))
        if compare not in COMPARES:
            problems.append(Problem(_("compare must be mom, yoy or target."), field="compare"))
        if problems or period is None:
            raise ServiceError(problems)
        found = node_attribution(request.user, node, period, compare)
        result = found.result
        return Response(
            {
                "tree": tree.code,
                "node": node.code,
                "period": month_text(period),
                "compare": compare,
                "compared_with": month_text(found.before_period),
                "before": result.before,
                "after": result.after,
                "change": result.change,
                "parts": [
                    {
                        "node": p.code,
                        "name": found.names.get(p.code, p.code or ""),
                        "before": p.before,
                        "after": p.after,
                        "part": p.part,
                    }
                    for p in result.parts
                ],
                "method": result.method,
                "sentence": found.sentence,
            }
        )
