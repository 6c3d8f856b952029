"""API for users, vendors and engagements, addressed by username / code."""

from __future__ import annotations

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions, serializers, viewsets
from rest_framework.permissions import BasePermission

from engagements.models import Engagement, Role, User, Vendor
from kpi_planner.access import can_manage, engagements_for, users_for, vendors_for
from kpi_planner.api import (
    IsManagerOrReadOnly,
    MonthField,
    NulSafeSlugRelatedField,
    SyncCursorPagination,
    SyncMixin,
    ValidatedModelSerializer,
    router,
)
from kpi_planner.codes import CODE_URL_RE


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
    lookup_value_regex = CODE_URL_RE
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
    lookup_value_regex = CODE_URL_RE
    tombstone_kind = "engagement"
    filterset_fields = ["vendor__code", "outsourcing_type", "phase"]

    def get_queryset(self):
        return engagements_for(self.request.user).select_related("manager")

    def tombstone_vendor_ids(self, instance: Engagement) -> set[int]:
        return {instance.vendor_id}


router.register("users", UserViewSet, basename="user")
router.register("vendors", VendorViewSet, basename="vendor")
router.register("engagements", EngagementViewSet, basename="engagement")
