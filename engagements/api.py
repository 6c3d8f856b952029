"""API for users, vendors and engagements, addressed by username / code.

Serializers check and shape what is sent and returned; every write is a call to
engagements.services (which also writes the tombstones of `?updated_since=`)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, viewsets
from rest_framework.permissions import BasePermission

from engagements import services
from engagements.models import Engagement, User, Vendor
from kpi_planner.access import can_manage, engagements_for, users_for, vendors_for
from kpi_planner.api import (
    IsManagerOrReadOnly,
    MonthField,
    NulSafeSlugRelatedField,
    SyncCursorPagination,
    SyncMixin,
    ValidatedModelSerializer,
    check_if_match,
    router,
)
from kpi_planner.codes import CODE_URL_RE
from kpi_planner.schema import error_statuses


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
        # Early, beside the other fields' errors; the service checks it again against the
        # account as it will be (its username, names and e-mail).
        problems = services.password_problems(value, account=self.instance)
        if problems:
            raise serializers.ValidationError([p.message for p in problems])
        return value

    def validate(self, attrs: dict) -> dict:
        if self.instance is None and not attrs.get("password"):
            raise serializers.ValidationError({"password": _("A new user needs a password.")})
        request = self.context.get("request")
        if self.instance is not None and request:
            problems = services.own_account_problems(
                user=request.user, account=self.instance, data=attrs
            )
            if problems:
                raise serializers.ValidationError({str(p.field): p.message for p in problems})
        return super().validate(attrs)


class IsManager(BasePermission):
    def has_permission(self, request, view) -> bool:
        return can_manage(request.user)


@extend_schema(extensions=error_statuses(add=[403]))  # reads too: managers only
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

    def perform_create(self, serializer) -> None:
        data = dict(serializer.validated_data)
        password = data.pop("password")
        serializer.instance = services.user_create(
            user=self.request.user, data=data, password=password
        )

    def perform_update(self, serializer) -> None:
        data = dict(serializer.validated_data)
        password = data.pop("password", None) or None
        serializer.instance = self._saved = services.user_update(
            user=self.request.user, account=serializer.instance, data=data, password=password
        )

    def perform_destroy(self, instance: User) -> None:
        check_if_match(self.request, instance)
        services.user_delete(user=self.request.user, account=instance)


class VendorViewSet(SyncMixin, viewsets.ModelViewSet):
    """Vendors (外注先), addressed by code. Lists take `?updated_since=` (deletions as
    tombstones `{"code", "deleted": true}`); single objects carry an ETag for `If-Match`."""

    serializer_class = VendorSerializer
    permission_classes = [IsManagerOrReadOnly]
    pagination_class = SyncCursorPagination
    lookup_field = "code"
    lookup_value_regex = CODE_URL_RE
    tombstone_kind = "vendor"

    def get_queryset(self):
        return vendors_for(self.request.user)

    def perform_create(self, serializer) -> None:
        serializer.instance = services.vendor_create(
            user=self.request.user, data=serializer.validated_data
        )

    def perform_update(self, serializer) -> None:
        serializer.instance = self._saved = services.vendor_update(
            user=self.request.user, vendor=serializer.instance, data=serializer.validated_data
        )

    def perform_destroy(self, instance: Vendor) -> None:
        check_if_match(self.request, instance)
        services.vendor_delete(user=self.request.user, vendor=instance)


class EngagementViewSet(SyncMixin, viewsets.ModelViewSet):
    """Engagements (contracts with a vendor), addressed by code; months are "YYYY-MM". Lists
    take `?updated_since=` (deletions as tombstones); single objects carry an ETag."""

    serializer_class = EngagementSerializer
    permission_classes = [IsManagerOrReadOnly]
    pagination_class = SyncCursorPagination
    lookup_field = "code"
    lookup_value_regex = CODE_URL_RE
    tombstone_kind = "engagement"
    filterset_fields = ["vendor__code", "outsourcing_type", "phase"]

    def get_queryset(self):
        return engagements_for(self.request.user).select_related("manager")

    def perform_create(self, serializer) -> None:
        serializer.instance = services.engagement_create(
            user=self.request.user, data=serializer.validated_data
        )

    def perform_update(self, serializer) -> None:
        serializer.instance = self._saved = services.engagement_update(
            user=self.request.user,
            engagement=serializer.instance,
            data=serializer.validated_data,
        )

    def perform_destroy(self, instance: Engagement) -> None:
        check_if_match(self.request, instance)
        services.engagement_delete(user=self.request.user, engagement=instance)


router.register("users", UserViewSet, basename="user")
router.register("vendors", VendorViewSet, basename="vendor")
router.register("engagements", EngagementViewSet, basename="engagement")
