"""API of the vendor portal: monthly submissions of an engagement.

engagements/{code}/submissions/ and .../submissions/{YYYY-MM}/{submit|withdraw|approve|return|reopen}/.
The workflow is portal.services.workflow, the rows portal.queries; invisible engagements answer
404, refused steps 403/409.
"""

from __future__ import annotations

from django.http import Http404
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, viewsets
from rest_framework.decorators import action
from rest_framework.pagination import BasePagination
from rest_framework.response import Response

from engagements.models import Engagement
from kpi_planner.access import engagements_for
from kpi_planner.api import MonthTextField, router
from kpi_planner.codes import CODE_URL_RE
from kpi_planner.months import MONTH_URL_RE
from portal import queries
from portal.services.workflow import submission_step


class SubmissionSerializer(serializers.Serializer):
    period = MonthTextField()
    status = serializers.ChoiceField(
        choices=["not_started", "draft", "submitted", "approved", "returned"]
    )
    due_date = serializers.DateField()
    submitted_at = serializers.DateTimeField(allow_null=True)
    submitted_by = serializers.CharField(allow_null=True)
    decided_at = serializers.DateTimeField(allow_null=True)
    decided_by = serializers.CharField(allow_null=True)
    reason = serializers.CharField(allow_blank=True)


class SubmissionActionSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True)


class OnePage(BasePagination):
    """The submissions list is one page in the shape of every other list (`next` and `previous`
    are null); declared for the schema only, the list builds its page itself."""

    def get_paginated_response_schema(self, schema: dict) -> dict:
        return {
            "type": "object",
            "required": ["next", "previous", "results"],
            "properties": {
                "next": {"type": "string", "nullable": True, "description": "always null"},
                "previous": {"type": "string", "nullable": True, "description": "always null"},
                "results": schema,
            },
        }

    def get_schema_operation_parameters(self, view) -> list:
        return []


class SubmissionViewSet(viewsets.ViewSet):
    """One row per month of the engagement; POST an action on a month."""

    pagination_class = OnePage
    lookup_field = "period"
    lookup_value_regex = MONTH_URL_RE
    serializer_class = SubmissionSerializer

    def _engagement(self) -> Engagement:
        return get_object_or_404(
            engagements_for(self.request.user), code=self.kwargs["engagement_code"]
        )

    def _row(self, engagement: Engagement, period) -> dict:
        return queries.submission_row(engagement, period, queries.month_statuses([engagement]))

    @extend_schema(responses=SubmissionSerializer(many=True))
    def list(self, request, engagement_code: str):
        rows = queries.submission_rows(self._engagement())
        return Response({"next": None, "previous": None, "results": rows})

    @extend_schema(responses=SubmissionSerializer)
    def retrieve(self, request, engagement_code: str, period: str):
        engagement = self._engagement()
        when = queries.month_of_engagement(engagement, period)
        if when is None:
            raise Http404
        return Response(self._row(engagement, when))

    def _do(self, request, engagement_code: str, period: str, name: str):
        engagement = self._engagement()
        when = queries.month_of_engagement(engagement, period)
        if when is None:
            raise Http404
        # Passed as sent: the workflow refuses a reason that is not plain text.
        reason = request.data.get("reason", "") if isinstance(request.data, dict) else ""
        # A refused step (WorkflowError) rises to kpi_planner.api.exception_handler.
        submission_step(name, user=request.user, engagement=engagement, period=when, reason=reason)
        return Response(self._row(engagement, when))

    @extend_schema(request=None, responses=SubmissionSerializer)
    @action(detail=True, methods=["post"])
    def submit(self, request, engagement_code: str, period: str):
        return self._do(request, engagement_code, period, "submit")

    @extend_schema(request=None, responses=SubmissionSerializer)
    @action(detail=True, methods=["post"])
    def withdraw(self, request, engagement_code: str, period: str):
        """The vendor takes back a submitted month to correct it (it becomes a draft)."""
        return self._do(request, engagement_code, period, "withdraw")

    @extend_schema(request=None, responses=SubmissionSerializer)
    @action(detail=True, methods=["post"])
    def approve(self, request, engagement_code: str, period: str):
        return self._do(request, engagement_code, period, "approve")

    @extend_schema(request=SubmissionActionSerializer, responses=SubmissionSerializer)
    @action(detail=True, methods=["post"], url_path="return", url_name="return")
    def return_(self, request, engagement_code: str, period: str):
        return self._do(request, engagement_code, period, "return")

    @extend_schema(request=SubmissionActionSerializer, responses=SubmissionSerializer)
    @action(detail=True, methods=["post"])
    def reopen(self, request, engagement_code: str, period: str):
        return self._do(request, engagement_code, period, "reopen")


router.register(
    rf"engagements/(?P<engagement_code>{CODE_URL_RE})/submissions",
    SubmissionViewSet,
    basename="engagement-submission",
)
