"""Vendor selection's REST endpoints, under /api/v1/sourcing/ (API.md "Vendor selection").

- `GET  tenders/`: the rounds the caller reads (managers, supervisors, global viewers; a vendor
  gets an empty list); `POST tenders/`: open one (managers).
- `GET  tenders/{tender_id}/`: one round with its KPIs.
- `GET  tenders/{tender_id}/proposals/`: its proposals, withdrawn ones included;
  `POST` adds one (managers).
- `POST tenders/{tender_id}/proposals/{proposal_id}/withdraw/`: withdraw one (managers).
- `GET  tenders/{tender_id}/comparison/`: the proposals compared and ranked, with the reasoning
  in the caller's language (sourcing.compare states the rule).
- `POST tenders/{tender_id}/choose/`: choose a proposal: the engagement, KPI tree, agreed targets
  and adopted SLA rules are made from it (sourcing.services.tender_choose); 201 with the round.

Every write is sourcing.services; a refusal (ServiceError) is answered by the project's
exception handler (400 with every problem, 403, 409 for a decided round).
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from engagements.models import OutsourcingType, Phase
from kpi_planner.access import get_visible_or_404, tenders_for
from kpi_planner.api import MonthField, MonthTextField
from sourcing import queries, services
from sourcing.models import Tender, VendorProposal

TENDER_ID = OpenApiParameter("tender_id", int, OpenApiParameter.PATH, description="round id")
PROPOSAL_ID = OpenApiParameter("proposal_id", int, OpenApiParameter.PATH, description="proposal id")


# -- bodies -----------------------------------------------------------------------------------------


class TenderKpiSerializer(serializers.Serializer):
    code = serializers.CharField(source="template_code")
    name = serializers.CharField()
    unit = serializers.CharField()
    direction = serializers.ChoiceField(choices=["up", "down"])
    benchmark = serializers.FloatField(allow_null=True)


class TenderSerializer(serializers.ModelSerializer):
    start_month = MonthField()
    end_month = MonthField()
    kpis = TenderKpiSerializer(many=True)
    chosen = serializers.IntegerField(source="chosen_id", read_only=True, allow_null=True)
    engagement = serializers.CharField(source="engagement.code", read_only=True, allow_null=True)

    class Meta:
        model = Tender
        fields = [
            "id",
            "name",
            "outsourcing_type",
            "start_month",
            "end_month",
            "outcome_code",
            "kpis",
            "note",
            "status",
            "chosen",
            "engagement",
            "created_at",
            "decided_at",
        ]
        read_only_fields = fields


class TenderCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    outsourcing_type = serializers.ChoiceField(choices=OutsourcingType.choices)
    start_month = MonthTextField(max_length=7)
    end_month = MonthTextField(max_length=7)
    outcome_code = serializers.CharField(max_length=64, help_text="catalogue code of the outcome")
    kpis = serializers.ListField(
        child=serializers.CharField(max_length=64),
        required=False,
        max_length=services.MAX_KPIS,
        help_text="catalogue codes of the other KPIs compared",
    )
    note = serializers.CharField(required=False, allow_blank=True, max_length=2000)


class PromiseSerializer(serializers.Serializer):
    kpi = serializers.CharField(max_length=64, help_text="catalogue code of a KPI of the round")
    value = serializers.FloatField(help_text="promised monthly value")


class ProposalSerializer(serializers.ModelSerializer):
    vendor = serializers.CharField(source="vendor.code", read_only=True)
    vendor_name = serializers.CharField(source="vendor.name", read_only=True)
    promises = serializers.SerializerMethodField()
    withdrawn = serializers.SerializerMethodField()

    class Meta:
        model = VendorProposal
        fields = [
            "id",
            "vendor",
            "vendor_name",
            "monthly_price",
            "note",
            "promises",
            "withdrawn",
            "withdrawn_at",
            "withdraw_reason",
            "created_at",
        ]
        read_only_fields = fields

    @extend_schema_field(PromiseSerializer(many=True))
    def get_promises(self, obj: VendorProposal) -> Any:
        return PromiseSerializer(
            [{"kpi": p.tender_kpi.template_code, "value": p.value} for p in obj.promises.all()],
            many=True,
        ).data

    @extend_schema_field(serializers.BooleanField())
    def get_withdrawn(self, obj: VendorProposal) -> bool:
        return obj.withdrawn_at is not None


class ProposalCreateSerializer(serializers.Serializer):
    vendor = serializers.CharField(
        max_length=64, required=False, allow_blank=True, help_text="an existing vendor's code"
    )
    new_vendor_name = serializers.CharField(
        max_length=200,
        required=False,
        allow_blank=True,
        help_text="a vendor not yet registered (an existing vendor of this name is used)",
    )
    new_vendor_code = serializers.CharField(max_length=64, required=False, allow_blank=True)
    monthly_price = serializers.IntegerField(
        min_value=1, max_value=services.MAX_PRICE - 1, help_text="whole yen a month"
    )
    note = serializers.CharField(required=False, allow_blank=True, max_length=2000)
    promises = PromiseSerializer(many=True, help_text="one promise for every KPI of the round")


class WithdrawSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, max_length=2000)


class BandSerializer(serializers.Serializer):
    lower = serializers.FloatField(allow_null=True, required=False)
    upper = serializers.FloatField(allow_null=True, required=False)
    pct_of_fee = serializers.FloatField()


class ChooseSerializer(serializers.Serializer):
    proposal = serializers.IntegerField(
        min_value=1, max_value=2**63 - 1, help_text="the chosen proposal's id"
    )
    code = serializers.CharField(max_length=64, help_text="engagement (and KPI tree) code")
    name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    phase = serializers.ChoiceField(choices=Phase.choices, required=False)
    manager = serializers.CharField(
        max_length=150, required=False, allow_blank=True, help_text="manager's username"
    )
    bands = BandSerializer(
        many=True,
        required=False,
        help_text="the outcome rule's bands (default: ≥110 % +5 %, 90–100 % −3 %, <90 % −8 %)",
    )


class PromiseCheckSerializer(serializers.Serializer):
    kpi = serializers.CharField(source="code")
    value = serializers.FloatField(allow_null=True)
    vs_benchmark = serializers.FloatField(allow_null=True, help_text="promise ÷ benchmark")
    vs_past = serializers.FloatField(allow_null=True, help_text="promise ÷ past median")
    unrealistic = serializers.BooleanField()


class RankedSerializer(serializers.Serializer):
    rank = serializers.IntegerField()
    proposal = serializers.IntegerField(source="id")
    vendor = serializers.CharField()
    monthly_price = serializers.IntegerField(source="price")
    cost_per_outcome = serializers.IntegerField(
        allow_null=True, help_text="monthly price ÷ promised outcome, whole yen"
    )
    unrealistic = serializers.BooleanField()
    reasoning = serializers.CharField()
    promises = PromiseCheckSerializer(many=True, source="checks")


class KpiSpecSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    unit = serializers.CharField()
    direction = serializers.CharField()
    benchmark = serializers.FloatField(allow_null=True)
    past_median = serializers.FloatField(
        allow_null=True, help_text="median monthly actual of similar engagements"
    )
    past_months = serializers.IntegerField()


class ComparisonSerializer(serializers.Serializer):
    tender = serializers.IntegerField()
    outcome = serializers.CharField()
    rule = serializers.CharField()
    kpis = KpiSpecSerializer(many=True)
    ranking = RankedSerializer(many=True)


RULE = _(
    "Realistic proposals first, by the lowest cost per unit of outcome (monthly price ÷ promised "
    "outcome); a proposal promising more than 1.5 times a benchmark or the past results of "
    "similar engagements is unrealistic and ranks after them."
)


# -- views ------------------------------------------------------------------------------------------


def _tender(request, tender_id: int) -> Tender:
    return get_visible_or_404(tenders_for(request.user).prefetch_related("kpis"), pk=tender_id)


class TenderListView(APIView):
    """The sourcing rounds; POST opens one (managers)."""

    @extend_schema(responses=TenderSerializer(many=True))
    def get(self, request) -> Response:
        tenders = tenders_for(request.user).prefetch_related("kpis").select_related("engagement")
        return Response(TenderSerializer(tenders.order_by("-pk")[:500], many=True).data)

    @extend_schema(request=TenderCreateSerializer, responses={201: TenderSerializer})
    def post(self, request) -> Response:
        body = TenderCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        tender = services.tender_create(user=request.user, data=body.validated_data)
        return Response(TenderSerializer(tender).data, status=status.HTTP_201_CREATED)


@extend_schema(parameters=[TENDER_ID])
class TenderDetailView(APIView):
    @extend_schema(responses=TenderSerializer)
    def get(self, request, tender_id: int) -> Response:
        return Response(TenderSerializer(_tender(request, tender_id)).data)


@extend_schema(parameters=[TENDER_ID])
class ProposalListView(APIView):
    """A round's proposals (withdrawn ones too); POST adds one (managers)."""

    @extend_schema(responses=ProposalSerializer(many=True))
    def get(self, request, tender_id: int) -> Response:
        tender = _tender(request, tender_id)
        proposals = (
            VendorProposal.objects.filter(tender=tender)
            .select_related("vendor")
            .prefetch_related("promises__tender_kpi")
            .order_by("pk")
        )
        return Response(ProposalSerializer(proposals, many=True).data)

    @extend_schema(request=ProposalCreateSerializer, responses={201: ProposalSerializer})
    def post(self, request, tender_id: int) -> Response:
        tender = _tender(request, tender_id)
        body = ProposalCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = dict(body.validated_data)
        data["promises"] = {p["kpi"]: p["value"] for p in data.get("promises", [])}
        proposal = services.proposal_save(user=request.user, tender=tender, data=data)
        return Response(ProposalSerializer(proposal).data, status=status.HTTP_201_CREATED)


@extend_schema(parameters=[TENDER_ID, PROPOSAL_ID])
class ProposalWithdrawView(APIView):
    @extend_schema(request=WithdrawSerializer, responses=ProposalSerializer)
    def post(self, request, tender_id: int, proposal_id: int) -> Response:
        tender = _tender(request, tender_id)
        proposal = get_visible_or_404(VendorProposal.objects.filter(tender=tender), pk=proposal_id)
        body = WithdrawSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        proposal = services.proposal_withdraw(
            user=request.user, proposal=proposal, reason=body.validated_data.get("reason", "")
        )
        return Response(ProposalSerializer(proposal).data)


@extend_schema(parameters=[TENDER_ID])
class ComparisonView(APIView):
    @extend_schema(responses=ComparisonSerializer)
    def get(self, request, tender_id: int) -> Response:
        tender = _tender(request, tender_id)
        comparison = queries.comparison(tender)
        return Response(
            ComparisonSerializer(
                {
                    "tender": tender.pk,
                    "outcome": tender.outcome_code,
                    "rule": str(RULE),
                    "kpis": comparison.kpis,
                    "ranking": comparison.ranked,
                }
            ).data
        )


@extend_schema(parameters=[TENDER_ID])
class ChooseView(APIView):
    @extend_schema(request=ChooseSerializer, responses={201: TenderSerializer})
    def post(self, request, tender_id: int) -> Response:
        tender = _tender(request, tender_id)
        body = ChooseSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = dict(body.validated_data)
        proposal = get_visible_or_404(
            VendorProposal.objects.filter(tender=tender), pk=data.pop("proposal")
        )
        decided = services.tender_choose(
            user=request.user, proposal=proposal, data=data, channel="api"
        )
        return Response(TenderSerializer(decided).data, status=status.HTTP_201_CREATED)
