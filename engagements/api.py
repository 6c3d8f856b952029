"""API for users, vendors and engagements, addressed by username / code."""

from __future__ import annotations

import copy
import re

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import exceptions, serializers, viewsets
from rest_framework.permissions import BasePermission

from engagements.models import Engagement, Role, User, Vendor
from kpi_planner.access import can_manage, engagements_for, users_for, vendors_for
from kpi_planner.api import IsManagerOrReadOnly, SyncCursorPagination, SyncMixin, router

MONTH_RE = re.compile(r"^\d{4}-\d{2}$")
# What MonthField and kpitree.services.parse_period accept, for the schema.
MONTH_PATTERN = r"^(19\d\d|2\d\d\d)-(0[1-9]|1[0-2])$"
MONTH_SCHEMA = {
    "type": "string",
    "pattern": MONTH_PATTERN,
    "example": "2026-04",
    "description": "a month, YYYY-MM",
}


@extend_schema_field(MONTH_SCHEMA)
class MonthTextField(serializers.CharField):
    """A "YYYY-MM" month in a serializer that only documents a body (the service parses it)."""


@extend_schema_field(MONTH_SCHEMA)
class MonthField(serializers.DateField):
    """A month written "YYYY-MM" at the edges, the first day of the month inside.

    Exactly four digits, a dash and two digits, years 1900-2999: the months that actuals,
    targets and rollups accept (kpitree.services.parse_period)."""

    default_error_messages = {"month": _("Write the month as YYYY-MM.")}

    def __init__(self, **kwargs) -> None:
        super().__init__(format="%Y-%m", input_formats=["%Y-%m"], **kwargs)

    def to_internal_value(self, value):
        if not isinstance(value, str) or not MONTH_RE.match(value):
            self.fail("month")
        month = super().to_internal_value(value)
        if not 1900 <= month.year <= 2999:
            self.fail("month")
        return month

    def to_representation(self, value):
        return None if value is None else f"{value.year:04d}-{value.month:02d}"


class ValidatedModelSerializer(serializers.ModelSerializer):
    """Runs the model's own clean() so the API and the admin enforce the same rules.

    clean() runs on a copy: the instance itself keeps its stored values until save(), so an
    update can still compare old and new (and a refused one leaves it untouched)."""

    def validate(self, attrs: dict) -> dict:
        instance = copy.copy(self.instance) if self.instance is not None else self.Meta.model()
        for key, value in attrs.items():
            if key != "password":
                setattr(instance, key, value)
        try:
            instance.clean()
        except DjangoValidationError as exc:
            raise serializers.ValidationError(
                exc.message_dict if hasattr(exc, "error_dict") else exc.messages
            ) from None
        return attrs


class NulSafeSlugRelatedField(serializers.SlugRelatedField):
    """A reference by code or username. Text with a NUL character names nothing: it answers
    "does not exist" without a query (PostgreSQL refuses NUL in a query with an error)."""

    def to_internal_value(self, data):
        if isinstance(data, str) and "\x00" in data:
            self.fail("does_not_exist", slug_name=self.slug_field, value=data)
        return super().to_internal_value(data)


class VendorSerializer(ValidatedModelSerializer):
    class Meta:
        model = Vendor
        fields = ["code", "name", "contact_email", "updated_at"]
        read_only_fields = ["updated_at"]


class EngagementSerializer(ValidatedModelSerializer):
    vendor = NulSafeSlugRelatedField(slug_field="code", queryset=Vendor.objects.all())
    start_month = MonthField()
    end_month = MonthField()
    manager = NulSafeSlugRelatedField(
        slug_field="username", queryset=User.objects.all(), required=False, allow_null=True
    )

    class Meta:
        model = Engagement
        fields = [
            "code",
            "name",
            "vendor",
            "outsourcing_type",
            "phase",
            "start_month",
            "end_month",
            "monthly_fee",
            "actuals_due_day",
            "review_cadence",
            "manager",
            "updated_at",
        ]
        read_only_fields = ["updated_at"]


class UserSerializer(ValidatedModelSerializer):
    vendor = NulSafeSlugRelatedField(
        slug_field="code", queryset=Vendor.objects.all(), required=False, allow_null=True
    )
    password = serializers.CharField(
        write_only=True, required=False, style={"input_type": "password"}
    )

    class Meta:
        model = User
        fields = [
            "username",
            "password",
            "role",
            "vendor",
            "email",
            "language",
            "first_name",
            "last_name",
            "is_active",
        ]

    def validate_password(self, value: str) -> str:
        try:
            validate_password(value, self.instance)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.messages) from None
        return value

    def validate(self, attrs: dict) -> dict:
        if self.instance is None and not attrs.get("password"):
            raise serializers.ValidationError({"password": _("A new user needs a password.")})
        request = self.context.get("request")
        if self.instance is not None and request and self.instance.pk == request.user.pk:
            # A manager who disabled or demoted their own account would be locked out of the
            # very screens that could undo it (possibly the last manager).
            errors = {}
            if attrs.get("is_active") is False:
                errors["is_active"] = _("You cannot deactivate your own account.")
            role = attrs.get("role", self.instance.role)
            if (
                role != self.instance.role
                and role != Role.MANAGER
                and not self.instance.is_superuser
            ):
                errors["role"] = _("You cannot give up your own manager role; ask another manager.")
            if errors:
                raise serializers.ValidationError(errors)
        return super().validate(attrs)

    def create(self, validated_data: dict) -> User:
        password = validated_data.pop("password")
        user = User(**validated_data)
        user.set_password(password)
        user.save()
        return user

    def update(self, instance: User, validated_data: dict) -> User:
        password = validated_data.pop("password", None)
        for key, value in validated_data.items():
            setattr(instance, key, value)
        if password:
            instance.set_password(password)
        instance.save()
        return instance


class IsManager(BasePermission):
    def has_permission(self, request, view) -> bool:
        return can_manage(request.user)


class OwnAccount(exceptions.APIException):
    status_code = 409
    default_detail = _("You cannot delete your own account; ask another manager.")
    default_code = "own_account"


class UserViewSet(SyncMixin, viewsets.ModelViewSet):
    """Accounts, addressed by username; managers only. `password` is write-only."""

    serializer_class = UserSerializer
    permission_classes = [IsManager]
    pagination_class = SyncCursorPagination
    lookup_field = "username"
    lookup_value_regex = r"[\w.@+-]+"
    tombstone_kind = "user"

    def get_queryset(self):
        return users_for(self.request.user)

    def perform_destroy(self, instance: User) -> None:
        if instance.pk == self.request.user.pk:
            raise OwnAccount()
        super().perform_destroy(instance)


class VendorViewSet(SyncMixin, viewsets.ModelViewSet):
    """Vendors (外注先), addressed by code. Lists take `?updated_since=` (deletions as
    tombstones `{"code", "deleted": true}`); single objects carry an ETag for `If-Match`."""

    serializer_class = VendorSerializer
    permission_classes = [IsManagerOrReadOnly]
    pagination_class = SyncCursorPagination
    lookup_field = "code"
    lookup_value_regex = r"[A-Za-z0-9._-]+"
    tombstone_kind = "vendor"

    def get_queryset(self):
        return vendors_for(self.request.user)

    def tombstone_vendor_ids(self, instance: Vendor) -> set[int]:
        return {instance.pk}


class EngagementViewSet(SyncMixin, viewsets.ModelViewSet):
    """Engagements (contracts with a vendor), addressed by code; months are "YYYY-MM". Lists
    take `?updated_since=` (deletions as tombstones); single objects carry an ETag."""

    serializer_class = EngagementSerializer
    permission_classes = [IsManagerOrReadOnly]
    pagination_class = SyncCursorPagination
    lookup_field = "code"
    lookup_value_regex = r"[A-Za-z0-9._-]+"
    tombstone_kind = "engagement"
    filterset_fields = ["vendor__code", "outsourcing_type", "phase"]

    def get_queryset(self):
        return engagements_for(self.request.user).select_related("manager")

    def tombstone_vendor_ids(self, instance: Engagement) -> set[int]:
        return {instance.vendor_id}


router.register("users", UserViewSet, basename="user")
router.register("vendors", VendorViewSet, basename="vendor")
router.register("engagements", EngagementViewSet, basename="engagement")


# -- monthly submissions (vendor portal) -----------------------------------------------------------
# engagements/{code}/submissions/ and .../submissions/{YYYY-MM}/{submit|approve|return|reopen}/.
# The workflow is engagements.services; invisible engagements answer 404, refused steps 403/409.

from django.http import Http404 as _Http404  # noqa: E402
from django.shortcuts import get_object_or_404 as _get_object_or_404  # noqa: E402
from drf_spectacular.utils import extend_schema as _extend_schema  # noqa: E402
from rest_framework.decorators import action as _action  # noqa: E402
from rest_framework.pagination import BasePagination as _BasePagination  # noqa: E402
from rest_framework.response import Response as _Response  # noqa: E402

from engagements import services as _portal  # noqa: E402


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


class OnePage(_BasePagination):
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
    lookup_value_regex = r"\d{4}-\d{2}"
    serializer_class = SubmissionSerializer

    def _engagement(self) -> Engagement:
        return _get_object_or_404(
            engagements_for(self.request.user), code=self.kwargs["engagement_code"]
        )

    def _row(self, engagement: Engagement, period) -> dict:
        return _portal.submission_row(engagement, period, _portal.month_statuses([engagement]))

    @_extend_schema(responses=SubmissionSerializer(many=True))
    def list(self, request, engagement_code: str):
        rows = _portal.submission_rows(self._engagement())
        return _Response({"next": None, "previous": None, "results": rows})

    @_extend_schema(responses=SubmissionSerializer)
    def retrieve(self, request, engagement_code: str, period: str):
        engagement = self._engagement()
        when = _portal.month_of_engagement(engagement, period)
        if when is None:
            raise _Http404
        return _Response(self._row(engagement, when))

    def _do(self, request, engagement_code: str, period: str, name: str):
        engagement = self._engagement()
        when = _portal.month_of_engagement(engagement, period)
        if when is None:
            raise _Http404
        # Passed as sent: the workflow refuses a reason that is not plain text.
        reason = request.data.get("reason", "") if isinstance(request.data, dict) else ""
        try:
            _portal.submission_step(
                name, user=request.user, engagement=engagement, period=when, reason=reason
            )
        except _portal.WorkflowError as exc:
            return _Response(
                {"errors": [{"field": exc.field, "message": exc.message}]}, status=exc.http_status
            )
        return _Response(self._row(engagement, when))

    @_extend_schema(request=None, responses=SubmissionSerializer)
    @_action(detail=True, methods=["post"])
    def submit(self, request, engagement_code: str, period: str):
        return self._do(request, engagement_code, period, "submit")

    @_extend_schema(request=None, responses=SubmissionSerializer)
    @_action(detail=True, methods=["post"])
    def withdraw(self, request, engagement_code: str, period: str):
        """The vendor takes back a submitted month to correct it (it becomes a draft)."""
        return self._do(request, engagement_code, period, "withdraw")

    @_extend_schema(request=None, responses=SubmissionSerializer)
    @_action(detail=True, methods=["post"])
    def approve(self, request, engagement_code: str, period: str):
        return self._do(request, engagement_code, period, "approve")

    @_extend_schema(request=SubmissionActionSerializer, responses=SubmissionSerializer)
    @_action(detail=True, methods=["post"], url_path="return", url_name="return")
    def return_(self, request, engagement_code: str, period: str):
        return self._do(request, engagement_code, period, "return")

    @_extend_schema(request=SubmissionActionSerializer, responses=SubmissionSerializer)
    @_action(detail=True, methods=["post"])
    def reopen(self, request, engagement_code: str, period: str):
        return self._do(request, engagement_code, period, "reopen")


router.register(
    r"engagements/(?P<engagement_code>[A-Za-z0-9._-]+)/submissions",
    SubmissionViewSet,
    basename="engagement-submission",
)
