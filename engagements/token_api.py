"""API tokens: `POST auth/token/` (a key for a username and password, API.md) and
`auth/tokens/` (list, make and revoke one's tokens; a manager those of any user, `?user=`).

Serializers check and shape; the writes are engagements.services' token_create / token_revoke.
A key is shown once, in the answer that makes it; lists never show keys."""

from __future__ import annotations

from typing import Any, cast

from axes.handlers.proxy import AxesProxyHandler
from django.contrib.auth import authenticate
from django.db.models import F, QuerySet
from django.http import Http404
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import exceptions, mixins, serializers, status, viewsets
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from engagements import services
from engagements.auth import SignInIPThrottle, SignInUsernameThrottle, cool_off_seconds
from engagements.models import ApiToken, TokenRevocation, User
from kpi_planner.access import api_tokens_for, can_manage, may_see_tokens_of
from kpi_planner.api import CodeCursorPagination, router
from kpi_planner.schema import error_statuses

EXPIRES_IN_DAYS = serializers.IntegerField(
    required=False,
    write_only=True,
    min_value=1,
    max_value=services.TOKEN_MAX_DAYS,
    help_text="Days until the token expires (default API_TOKEN_EXPIRY_DAYS, at most 365).",
)


class TokenLoginSerializer(serializers.Serializer):
    username = serializers.CharField(write_only=True)
    password = serializers.CharField(
        write_only=True, trim_whitespace=False, style={"input_type": "password"}
    )
    name = serializers.CharField(required=False, allow_blank=True, max_length=100)
    expires_in_days = EXPIRES_IN_DAYS

    def validate(self, attrs: dict) -> dict:
        user = authenticate(
            request=self.context["request"],
            username=attrs["username"],
            password=attrs["password"],
        )
        if user is None:
            raise serializers.ValidationError(
                _("Unable to log in with provided credentials."), code="authorization"
            )
        attrs["user"] = user
        return attrs


class LockedOut(exceptions.Throttled):
    default_detail = _("Too many failed sign-in attempts for this account or address.")


class TokenLoginView(APIView):
    """POST {"username", "password"} (optionally "name", "expires_in_days") → {"token",
    "expires_at"}: a new token each time. 429 with Retry-After when the caller's IP or the
    username asked too often, or the account or IP is locked out after failed attempts."""

    authentication_classes: list = []  # the credentials are in the body
    permission_classes = [AllowAny]
    throttle_classes = [SignInIPThrottle, SignInUsernameThrottle]
    serializer_class = TokenLoginSerializer

    @extend_schema(
        request=TokenLoginSerializer,
        responses={
            200: inline_serializer(
                "TokenLoginResult",
                {"token": serializers.CharField(), "expires_at": serializers.DateTimeField()},
            )
        },
    )
    def post(self, request, *args: Any, **kwargs: Any) -> Response:
        username = request.data.get("username") if hasattr(request.data, "get") else None
        # (A NUL character, which PostgreSQL refuses in a query, is left to the serializer.)
        if (
            isinstance(username, str)
            and "\x00" not in username
            and not AxesProxyHandler.is_allowed(request, {"username": username})
        ):
            raise LockedOut(wait=cool_off_seconds(request))
        serializer = TokenLoginSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        token, key = services.token_create(
            user=data["user"],
            name=data.get("name", ""),
            expires_in_days=data.get("expires_in_days"),
        )
        return Response(
            {"token": key, "expires_at": token.expires_at.isoformat()}, status=status.HTTP_200_OK
        )


class ApiTokenSerializer(serializers.ModelSerializer):
    user: serializers.SlugRelatedField = serializers.SlugRelatedField(
        slug_field="username", read_only=True
    )
    revoked_by: serializers.SlugRelatedField = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True
    )
    # "" while the token is live: the schema must allow it beside the reasons.
    revoked_reason = serializers.ChoiceField(
        choices=TokenRevocation.choices, read_only=True, allow_blank=True
    )
    expires_in_days = EXPIRES_IN_DAYS

    class Meta:
        model = ApiToken
        fields = [
            "id",
            "name",
            "user",
            "created_at",
            "expires_at",
            "last_used_at",
            "revoked_at",
            "revoked_by",
            "revoked_reason",
            "expires_in_days",
        ]
        read_only_fields = [
            "id",
            "created_at",
            "expires_at",
            "last_used_at",
            "revoked_at",
            "revoked_by",
            "revoked_reason",
        ]
        extra_kwargs = {"name": {"required": False, "allow_blank": True}}


USER_PARAMETER = OpenApiParameter(
    "user", str, description="A manager: the tokens of this username (default: your own)."
)


# ?user= of another user: 403 for anyone but a manager, on reads too.
@extend_schema(parameters=[USER_PARAMETER], extensions=error_statuses(add=[403]))
class ApiTokenViewSet(
    mixins.ListModelMixin,
    mixins.CreateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """Your API tokens (a manager: any user's, `?user=<username>`), newest last; keys are never
    shown again. POST makes one (the key is in that answer only); DELETE `{id or name}` revokes
    it (kept, with when and by whom; 204 again for a revoked one)."""

    serializer_class = ApiTokenSerializer
    pagination_class = CodeCursorPagination
    lookup_value_regex = r"[^/]+"
    lookup_url_kwarg = "token"

    def owner(self) -> User:
        username = self.request.query_params.get("user")
        user = cast(User, self.request.user)  # IsAuthenticated
        if not username or username == user.username:
            return user
        owner = None if "\x00" in username else User.objects.filter(username=username).first()
        if owner is None and can_manage(user):
            raise Http404
        if owner is None or not may_see_tokens_of(user, owner):
            raise exceptions.PermissionDenied(_("Only managers see other users' tokens."))
        return owner

    def get_queryset(self) -> QuerySet[ApiToken]:
        if getattr(self, "swagger_fake_view", False):  # the schema, built without a caller
            return ApiToken.objects.none()
        return api_tokens_for(self.request.user, self.owner()).select_related("user", "revoked_by")

    def get_object(self) -> ApiToken:
        value = self.kwargs["token"]
        tokens = self.get_queryset()
        if "\x00" in value:
            token = None
        elif value.isdigit():
            token = tokens.filter(pk=int(value)).first() if len(value) < 19 else None
        else:  # a live token by that name, else the last one revoked
            token = (
                tokens.filter(name=value)
                .order_by(F("revoked_at").desc(nulls_first=True), "-id")
                .first()
            )
        if token is None:
            raise Http404
        return token

    def create(self, request, *args: Any, **kwargs: Any) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        token, key = services.token_create(
            user=request.user,
            name=data.get("name", ""),
            expires_in_days=data.get("expires_in_days"),
        )
        body = {**ApiTokenSerializer(token).data, "token": key}
        return Response(body, status=status.HTTP_201_CREATED)

    def perform_destroy(self, instance: ApiToken) -> None:
        services.token_revoke(user=self.request.user, token=instance)


router.register("auth/tokens", ApiTokenViewSet, basename="api-token-own")
