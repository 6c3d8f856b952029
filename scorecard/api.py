"""`GET /api/v1/engagements/{code}/scorecard/?period=YYYY-MM[&grain=month|quarter|year]`.

The Balanced Scorecard of API.md ("Scorecard"), computed by scorecard.scoring from the
materialised rollups, exactly as the pages show it.
"""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.decorators import api_view
from rest_framework.request import Request
from rest_framework.response import Response

from kpi_planner.access import engagements_for
from kpi_planner.api import CODE_PATTERN, MONTH_PATTERN, code_or_404
from kpi_planner.errors import Problem, ServiceError
from kpi_planner.months import parse_month, period_start
from scorecard import queries
from scorecard.models import ScoreSnapshot

_KPI = inline_serializer(
    "ScorecardKpi",
    {
        "node": serializers.CharField(),
        "tree": serializers.CharField(allow_null=True),
        "name": serializers.CharField(),
        "achievement": serializers.FloatField(allow_null=True),
        "score": serializers.FloatField(allow_null=True),
        "status": serializers.CharField(help_text="green, amber, red or none"),
        "weight": serializers.FloatField(),
    },
    many=True,
)
_PERSPECTIVE = inline_serializer(
    "ScorecardPerspective",
    {
        "score": serializers.FloatField(allow_null=True),
        "status": serializers.CharField(help_text="green, amber, red or none"),
        "weight": serializers.FloatField(),
        "kpis": _KPI,
    },
)
_OVERALL = inline_serializer(
    "ScorecardOverall",
    {
        "score": serializers.FloatField(allow_null=True),
        "status": serializers.CharField(help_text="green, amber, red or none"),
    },
)
SCORECARD_SCHEMA = inline_serializer(
    "Scorecard",
    {
        "engagement": serializers.CharField(),
        "period": serializers.CharField(help_text="YYYY-MM, first month of the quarter/year"),
        "grain": serializers.ChoiceField(list(queries.GRAINS)),
        "overall": _OVERALL,
        "perspectives": inline_serializer(
            "ScorecardPerspectives",
            {name: _PERSPECTIVE for name in ("financial", "customer", "process", "learning")},
        ),
        "weights": serializers.DictField(child=serializers.FloatField()),
        "thresholds": inline_serializer(
            "ScorecardThresholds",
            {"green": serializers.FloatField(), "amber": serializers.FloatField()},
        ),
        "restatements": inline_serializer(
            "ScorecardRestatement",
            {
                "at": serializers.DateTimeField(),
                "reason": serializers.CharField(),
                "message": serializers.CharField(),
                "overall": serializers.FloatField(allow_null=True),
                "kpis": serializers.ListField(child=serializers.CharField()),
            },
            many=True,
        ),
    },
)


@extend_schema(
    operation_id="engagement_scorecard",
    summary="Balanced Scorecard of an engagement",
    description=(
        "KPIs are the nodes the engagement owns. A KPI's score is its achievement clamped to "
        "0–score cap (120 unless the tree says otherwise); a perspective's score is the mean of "
        "its KPIs' scores weighted by `weight`, over KPIs that have a score (null when it has "
        "no KPI); `overall` is the mean of the non-null perspective scores weighted by the "
        "engagement's perspective weights (equal by default). Statuses use the rollup thresholds."
    ),
    parameters=[
        OpenApiParameter(
            "code",
            str,
            OpenApiParameter.PATH,
            pattern=CODE_PATTERN,
            description="engagement code",
        ),
        OpenApiParameter(
            "period",
            str,
            required=True,
            pattern=MONTH_PATTERN,
            description="YYYY-MM (any month of the quarter/year)",
        ),
        OpenApiParameter(
            "grain", str, enum=["month", "quarter", "year"], description="default month"
        ),
    ],
    responses=SCORECARD_SCHEMA,
    tags=["scorecard"],
)
@api_view(["GET"])
def engagement_scorecard(request: Request, code: str) -> Response:
    engagement = get_object_or_404(
        engagements_for(request.user).select_related("scoring"), code=code_or_404(code)
    )
    grain = request.query_params.get("grain", "month")
    month = parse_month(request.query_params.get("period", ""))
    problems = []
    if month is None:
        problems.append(Problem(_("Write the month as YYYY-MM."), field="period"))
    if grain not in queries.GRAINS:
        problems.append(Problem(_("grain must be month, quarter or year."), field="grain"))
    if problems:
        raise ServiceError(problems)
    assert month is not None  # refused above
    nodes = queries.kpi_nodes([engagement.pk])
    card = queries.engagement_scorecard(engagement, month, grain)
    fy = nodes[0]["tree__fiscal_year_start"] if nodes else 4
    start = period_start(month, grain, fy)
    restatements = (
        [
            {
                "at": s.taken_at.isoformat(),
                "reason": s.reason,
                "message": s.get_reason_display(),
                "overall": None if s.overall_score is None else round(s.overall_score, 4),
                "kpis": [code for code, _name in s.changed_kpis],
            }
            for s in ScoreSnapshot.objects.filter(
                engagement=engagement, grain="month", period=month
            )
            .exclude(reason="")
            .order_by("taken_at", "id")
        ]
        if grain == "month"
        else []
    )
    return Response(
        {
            "engagement": engagement.code,
            "period": f"{start:%Y-%m}",
            "grain": grain,
            **card.as_dict(),
            "weights": card.weights,
            "thresholds": {"green": card.thresholds.green, "amber": card.thresholds.amber},
            "restatements": restatements,
        }
    )
