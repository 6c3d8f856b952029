"""API for users, vendors and engagements, addressed by username / code."""

from __future__ import annotations

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers, viewsets
from rest_framework.permissions import BasePermission

from engagements.models import Engagement, User, Vendor
from kpi_planner.access import can_manage, engagements_for, users_for, vendors_for
from kpi_planner.api import CodeCursorPagination, IsManagerOrReadOnly, SyncMixin, router


class MonthField(serializers.DateField):
    """A month written "YYYY-MM" at the edges, the first day of the month inside."""

    def __init__(self, **kwargs) -> None:
        super().__init__(format="%Y-%m", input_formats=["%Y-%m"], **kwargs)


class ValidatedModelSerializer(serializers.ModelSerializer):
    """Runs the model's own clean() so the API and the admin enforce the same rules."""

    def validate(self, attrs: dict) -> dict:
        instance = self.instance or self.Meta.model()
        for key, value in attrs.items():
            if key != "password":
                setattr(instance, key, value)
        try:
            instance.clean()
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.message_dict if hasattr(exc, "error_dict") else exc.messages) from None
        return attrs


class VendorSerializer(ValidatedModelSerializer):
    class Meta:
        model = Vendor
        fields = ["code", "name", "contact_email", "updated_at"]
        read_only_fields = ["updated_at"]


class EngagementSerializer(ValidatedModelSerializer):
    vendor = serializers.SlugRelatedField(slug_field="code", queryset=Vendor.objects.all())
    start_month = MonthField()
    end_month = MonthField()
    manager = serializers.SlugRelatedField(
        slug_field="username", queryset=User.objects.all(), required=False, allow_null=True
    )

    class Meta:
        model = Engagement
        fields = [
            "code", "name", "vendor", "outsourcing_type", "phase", "start_month", "end_month",
            "monthly_fee", "actuals_due_day", "review_cadence", "manager", "updated_at",
        ]
        read_only_fields = ["updated_at"]


class UserSerializer(ValidatedModelSerializer):
    vendor = serializers.SlugRelatedField(
        slug_field="code", queryset=Vendor.objects.all(), required=False, allow_null=True
    )
    password = serializers.CharField(write_only=True, required=False, style={"input_type": "password"})

    class Meta:
        model = User
        fields = ["username", "password", "role", "vendor", "email", "language", "first_name", "last_name", "is_active"]

    def validate_password(self, value: str) -> str:
        try:
            validate_password(value, self.instance)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.messages) from None
        return value

    def validate(self, attrs: dict) -> dict:
        if self.instance is None and not attrs.get("password"):
            raise serializers.ValidationError({"password": _("A new user needs a password.")})
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


class UserViewSet(SyncMixin, viewsets.ModelViewSet):
    serializer_class = UserSerializer
    permission_classes = [IsManager]
    pagination_class = CodeCursorPagination
    lookup_field = "username"
    lookup_value_regex = r"[\w.@+-]+"
    tombstone_kind = "user"

    def get_queryset(self):
        return users_for(self.request.user)

    def filter_queryset(self, queryset):
        # Users have no updated_at; sync of users uses date_joined / tombstones only.
        return viewsets.ModelViewSet.filter_queryset(self, queryset)


class VendorViewSet(SyncMixin, viewsets.ModelViewSet):
    serializer_class = VendorSerializer
    permission_classes = [IsManagerOrReadOnly]
    pagination_class = CodeCursorPagination
    lookup_field = "code"
    lookup_value_regex = r"[A-Za-z0-9._-]+"
    tombstone_kind = "vendor"

    def get_queryset(self):
        return vendors_for(self.request.user)

    def tombstone_vendor_ids(self, instance: Vendor) -> set[int]:
        return {instance.pk}


class EngagementViewSet(SyncMixin, viewsets.ModelViewSet):
    serializer_class = EngagementSerializer
    permission_classes = [IsManagerOrReadOnly]
    pagination_class = CodeCursorPagination
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
