"""API for KPI trees: trees, nodes, targets, actuals (incl. the bulk write) and rollups."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import connection
from django.db.models import QuerySet
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import exceptions, serializers, status, viewsets
from rest_framework.decorators import api_view
from rest_framework.response import Response
from rest_framework.views import APIView

from engagements.models import Engagement
from kpi_planner.access import (
    can_manage,
    engagements_for,
    import_jobs_for,
    nodes_for,
    trees_for,
)
from kpi_planner.api import (
    CODE_PATTERN,
    MONTH_PATTERN,
    UPDATED_SINCE,
    CodeCursorPagination,
    IsManagerOrReadOnly,
    MonthField,
    MonthTextField,
    SyncCursorPagination,
    SyncMixin,
    ValidatedModelSerializer,
    check_if_match,
    code_or_404,
    code_parameter,
    code_params,
    parse_updated_since,
    router,
)
from kpi_planner.codes import CODE_URL_RE
from kpi_planner.errors import Problem, ServiceError
from kpi_planner.limits import check_row_count
from kpi_planner.months import parse_month
from kpi_planner.schema import error_statuses
from kpitree import engine, node_sync, queries, services
from kpitree.models import Actual, Channel, Grain, ImportJob, Node, Rationale, Target, Tree


def month_parameter(name: str, **kwargs) -> OpenApiParameter:
    """A "YYYY-MM" query parameter, for the schema."""
    return OpenApiParameter(name, str, pattern=MONTH_PATTERN, **kwargs)


class TreeSerializer(ValidatedModelSerializer):
    start_month = MonthField()
    end_month = MonthField()

    class Meta:
        model = Tree
        fields = [*services.TREE_FIELDS, "updated_at", "computed_at"]
        read_only_fields = ["updated_at", "computed_at"]

    # The plan's rules (month order, span, thresholds) live in Tree.clean, which
    # ValidatedModelSerializer runs.


class TreeViewSet(SyncMixin, viewsets.ModelViewSet):
    """KPI trees (plans), addressed by code; months are "YYYY-MM". Lists take
    `?updated_since=` (deletions as tombstones); single objects carry an ETag."""

    serializer_class = TreeSerializer
    permission_classes = [IsManagerOrReadOnly]
    pagination_class = SyncCursorPagination
    lookup_field = "code"
    lookup_value_regex = CODE_URL_RE
    tombstone_kind = "tree"

    def get_queryset(self) -> QuerySet[Tree]:
        return trees_for(self.request.user)

    def perform_create(self, serializer) -> None:
        serializer.instance = services.tree_create(
            user=self.request.user, data=serializer.validated_data
        )

    def perform_update(self, serializer) -> None:
        serializer.instance = self._saved = services.tree_update(
            user=self.request.user, tree=serializer.instance, data=serializer.validated_data
        )

    def perform_destroy(self, instance: Tree) -> None:
        """A tree with actuals, targets or audit history is archived, not deleted; the sync
        contract is the same (a tombstone for the code)."""
        check_if_match(self.request, instance)
        services.tree_delete(user=self.request.user, tree=instance)


class NodeSerializer(serializers.ModelSerializer):
    parent = serializers.CharField(  # type: ignore[assignment]  # a field named "parent"
        allow_null=True, required=False, source="parent_code", default=None
    )
    engagement = serializers.CharField(
        allow_null=True, required=False, source="engagement_code", default=None
    )

    class Meta:
        model = Node
        # The writable fields are exactly those services.node_save accepts.
        fields = [*services.NODE_FIELDS, "updated_at"]
        read_only_fields = ["updated_at"]
        # Uniqueness and every other rule are checked once, in services.node_save.
        validators: list = []

    def to_representation(self, node: Node) -> dict:
        data = super().to_representation(node)
        data["parent"] = node.parent.code if node.parent is not None else None
        data["engagement"] = node.engagement.code if node.engagement is not None else None
        return data

    def get_fields(self) -> dict:
        fields = super().get_fields()
        for name in ("code", "name"):
            fields[name].validators = []
        return fields

    def validate(self, attrs: dict) -> dict:
        tree: Tree = self.context["tree"]
        errors = {}
        if "parent_code" in attrs:
            code = attrs.pop("parent_code")
            attrs["parent"] = Node.objects.filter(tree=tree, code=code).first() if code else None
            if code and attrs["parent"] is None:
                errors["parent"] = node_sync.unknown_parent_message(code)
        if "engagement_code" in attrs:
            code = attrs.pop("engagement_code")
            attrs["engagement"] = Engagement.objects.filter(code=code).first() if code else None
            if code and attrs["engagement"] is None:
                errors["engagement"] = node_sync.unknown_engagement_message(code)
        if errors:
            raise serializers.ValidationError(errors)
        return attrs


if TYPE_CHECKING:  # what the mixin is mixed into, for the type checker
    from rest_framework.generics import GenericAPIView as _TreeScopedBase
else:
    _TreeScopedBase = object


class TreeScopedMixin(_TreeScopedBase):
    def tree(self) -> Tree:
        if not hasattr(self, "_tree"):
            self._tree = get_object_or_404(
                trees_for(self.request.user), code=code_or_404(self.kwargs["tree_code"])
            )
        return self._tree


# The error format of API.md, for the schema of the views that list every bad row.
ERRORS_SCHEMA = inline_serializer(
    "ApiErrors",
    {
        "errors": inline_serializer(
            "ApiError",
            {
                "field": serializers.CharField(allow_null=True),
                "message": serializers.CharField(),
                "index": serializers.IntegerField(
                    required=False, help_text="the row of a list body the error is about"
                ),
            },
            many=True,
        )
    },
)
NODE_SYNC_RESULT = inline_serializer(
    "NodeSyncResult",
    {
        "created": serializers.IntegerField(),
        "updated": serializers.IntegerField(),
        "unchanged": serializers.IntegerField(),
    },
)


class NodeViewSet(TreeScopedMixin, SyncMixin, viewsets.ModelViewSet):
    """The KGI/KPI nodes of a tree, addressed by code; `parent` and `engagement` are codes. A
    formula that cannot parse, names a non-child or a move that makes a cycle answers 400.
    PUT on the list syncs many nodes at once (bulk_sync)."""

    serializer_class = NodeSerializer
    permission_classes = [IsManagerOrReadOnly]
    pagination_class = SyncCursorPagination
    lookup_field = "code"
    lookup_value_regex = CODE_URL_RE
    tombstone_kind = "node"

    @classmethod
    def as_view(cls, actions=None, **initkwargs):
        # The router binds GET and POST of the list route (`trees/{tree}/nodes/`); PUT on the
        # same URL is the bulk sync. Binding it here keeps the shared router as it is.
        if actions and initkwargs.get("detail") is False:
            actions = {**actions, "put": "bulk_sync"}
        return super().as_view(actions, **initkwargs)

    def check_permissions(self, request) -> None:
        # An invisible tree answers 404 before a role that may not write gets its 403.
        if self.action == "bulk_sync" and request.user.is_authenticated:
            self.tree()
        super().check_permissions(request)

    @extend_schema(
        operation_id="v1_trees_nodes_sync",
        summary="Sync many nodes of the tree (bulk upsert by code)",
        description="A list of nodes with the fields of a single node. A code already in the "
        "tree changes that node (only the fields sent, like PATCH); a new code creates a node. "
        "Parents may come after their children in the list; formulas name the children the "
        "nodes will have once the whole list is applied. All or nothing: a bad row writes "
        "nothing and 400 lists every bad row by `index`. Nodes not in the list are left as "
        "they are (nothing is deleted). Managers only.",
        request=NodeSerializer(many=True),
        # The error responses come from kpi_planner.schema (describe_errors).
        responses={200: NODE_SYNC_RESULT},
    )
    def bulk_sync(self, request, tree_code: str) -> Response:
        check_row_count(request.data)
        result = node_sync.nodes_sync(user=request.user, tree=self.tree(), rows=request.data)
        return Response(result)

    def tombstone_scope(self) -> str:
        return self.tree().code

    def get_queryset(self) -> QuerySet[Node]:
        if getattr(self, "swagger_fake_view", False):  # schema generation: no tree in the URL
            return Node.objects.none()
        return (
            nodes_for(self.request.user)
            .filter(tree=self.tree())
            .select_related("parent", "engagement")
        )

    def get_serializer_context(self) -> dict:
        return {**super().get_serializer_context(), "tree": self.tree()}

    # A refusal (Django's ValidationError) rises to kpi_planner.api.exception_handler.
    def perform_create(self, serializer) -> None:
        serializer.instance = services.node_save(
            user=self.request.user, node=Node(tree=self.tree()), data=serializer.validated_data
        )

    def perform_update(self, serializer) -> None:
        serializer.instance = self._saved = services.node_update(
            user=self.request.user,
            node=serializer.instance,
            data=serializer.validated_data,
            channel=Channel.API,
        )

    def perform_destroy(self, instance: Node) -> None:
        """DELETE keeps its sync contract (tombstones, also per vendor), and archives a node
        with history instead of erasing it (services.node_delete)."""
        check_if_match(self.request, instance)
        services.node_remove(user=self.request.user, node=instance)


class TargetRowSerializer(serializers.Serializer):
    """Documents a row of targets (services.targets_record validates the rows)."""

    node = serializers.CharField()
    period = MonthTextField()
    value = serializers.FloatField()
    rationale = serializers.ChoiceField(choices=Rationale.choices, allow_blank=True, required=False)
    reason = serializers.CharField(
        allow_blank=True,
        required=False,
        help_text="why the target changes; required for a month that is approved",
    )


# The tree's code in the URL of the views below (the URL pattern itself accepts any text).
TREE_CODE = OpenApiParameter(
    "tree_code",
    str,
    OpenApiParameter.PATH,
    pattern=CODE_PATTERN,
    description="tree code",
)


@extend_schema(parameters=[TREE_CODE])
class TargetView(TreeScopedMixin, APIView):
    """GET the tree's targets; PUT a list of rows to upsert them (all or nothing)."""

    @extend_schema(
        parameters=[
            month_parameter("period_from"),
            month_parameter("period_to"),
            code_parameter("node"),
        ],
        responses=TargetRowSerializer(many=True),
    )
    def get(self, request, tree_code: str) -> Response:
        qs = Target.objects.filter(node__in=nodes_for(request.user).filter(tree=self.tree()))
        qs = _period_filters(request, qs)
        node = code_params(request, "node")["node"]
        if node:
            qs = qs.filter(node__code=node)
        rows = qs.order_by("node__code", "period").values(
            "node__code", "period", "value", "rationale"
        )
        return Response(
            [
                {
                    "node": r["node__code"],
                    "period": f"{r['period']:%Y-%m}",
                    "value": r["value"],
                    "rationale": r["rationale"],
                }
                for r in rows
            ]
        )

    @extend_schema(
        request=TargetRowSerializer(many=True),
        responses=inline_serializer(
            "RecordResult",
            {
                "created": serializers.IntegerField(),
                "updated": serializers.IntegerField(),
                "unchanged": serializers.IntegerField(),
            },
        ),
    )
    def put(self, request, tree_code: str) -> Response:
        tree = self.tree()
        if not can_manage(request.user):
            raise exceptions.PermissionDenied(_("Only managers may set targets."))
        check_row_count(request.data)
        result = services.targets_record(
            user=request.user, tree=tree, rows=request.data, channel="api"
        )
        return Response(result.as_dict())


def _period_filters(request, qs):
    for param, lookup in (("period_from", "period__gte"), ("period_to", "period__lte")):
        raw = request.query_params.get(param)
        if raw:
            period = parse_month(raw)
            if period is None:
                raise exceptions.ValidationError({param: _("Write the month as YYYY-MM.")})
            qs = qs.filter(**{lookup: period})
    return qs


class ActualSerializer(serializers.ModelSerializer):
    tree = serializers.CharField(source="node.tree.code")
    node = serializers.CharField(source="node.code")
    period = MonthField()
    updated_by = serializers.CharField(source="updated_by.username", default=None)
    # The month's workflow status (ActualQuerySet.with_status), never a stored copy.
    status = serializers.CharField(read_only=True)

    class Meta:
        model = Actual
        fields = [
            "tree",
            "node",
            "period",
            "value",
            "comment",
            "status",
            "channel",
            "updated_at",
            "updated_by",
        ]


class ActualViewSet(viewsets.ReadOnlyModelViewSet):
    """Actuals the caller may see. Filters: tree, node, engagement, period_from, period_to, updated_since."""

    serializer_class = ActualSerializer
    pagination_class = CodeCursorPagination

    @extend_schema(
        parameters=[
            *(code_parameter(name) for name in ("tree", "node", "engagement")),
            month_parameter("period_from"),
            month_parameter("period_to"),
            UPDATED_SINCE,
        ]
    )
    def list(self, request, *args, **kwargs) -> Response:
        return super().list(request, *args, **kwargs)

    def get_queryset(self) -> QuerySet[Actual]:
        qs = (
            Actual.objects.filter(node__in=nodes_for(self.request.user))
            .with_status()
            .select_related("node__tree", "updated_by")
        )
        codes = code_params(self.request, "tree", "node", "engagement")
        tree, node, engagement = codes["tree"], codes["node"], codes["engagement"]
        if tree:
            qs = qs.filter(node__tree__code=tree)
        if node:
            qs = qs.filter(node__code=node)
        if engagement:
            qs = qs.filter(
                node__engagement__in=engagements_for(self.request.user).filter(code=engagement)
            )
        qs = _period_filters(self.request, qs)
        since = parse_updated_since(self.request)
        return qs.filter(updated_at__gt=since) if since else qs

    @extend_schema(
        deprecated=True,
        description="Deprecated alias addressing an actual by its database id: use "
        "`actuals/{tree}/{node}/{period}/` (natural keys).",
    )
    def retrieve(self, request, *args, **kwargs) -> Response:
        return super().retrieve(request, *args, **kwargs)


@extend_schema(
    parameters=[
        TREE_CODE,
        OpenApiParameter(
            "node_code", str, OpenApiParameter.PATH, pattern=CODE_PATTERN, description="node code"
        ),
        OpenApiParameter(
            "period", str, OpenApiParameter.PATH, pattern=MONTH_PATTERN, description="YYYY-MM"
        ),
    ]
)
class ActualDetailView(APIView):
    """One actual, addressed by its natural key (tree, node, month). An actual the caller may
    not see, or a path that names none (a malformed code or month), answers 404."""

    @extend_schema(operation_id="v1_actuals_by_key", responses=ActualSerializer)
    def get(self, request, tree_code: str, node_code: str, period: str) -> Response:
        month = parse_month(period) if period == period.strip() else None
        if month is None:
            raise exceptions.NotFound()
        actual = get_object_or_404(
            Actual.objects.filter(node__in=nodes_for(request.user))
            .with_status()
            .select_related("node__tree", "updated_by"),
            node__tree__code=code_or_404(tree_code),
            node__code=code_or_404(node_code),
            period=month,
        )
        return Response(ActualSerializer(actual).data)


class ActualRowSerializer(serializers.Serializer):
    """Documents a row of actuals (services.actuals_record validates the rows)."""

    tree = serializers.CharField()
    node = serializers.CharField()
    period = MonthTextField()
    value = serializers.FloatField()
    comment = serializers.CharField(allow_blank=True, required=False)
    segment = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=64,
        help_text="optional: the row is this segment's actual (e.g. script-b, operator:田中); "
        "the KPI's actual becomes the total of its segments (sum, or for a % KPI the ratio)",
    )
    numerator = serializers.FloatField(
        required=False, allow_null=True, min_value=0, help_text="optional, with segment, % KPIs"
    )
    denominator = serializers.FloatField(
        required=False, allow_null=True, min_value=0, help_text="optional, with segment, % KPIs"
    )


IMPORT_JOB_SCHEMA = inline_serializer(
    "ImportJob",
    {
        "id": serializers.UUIDField(),
        "status": serializers.ChoiceField(ImportJob.Status.values),
        "rows": serializers.IntegerField(),
        "created": serializers.IntegerField(allow_null=True, help_text="once done"),
        "updated": serializers.IntegerField(allow_null=True, help_text="once done"),
        "unchanged": serializers.IntegerField(allow_null=True, help_text="once done"),
        "errors": inline_serializer(
            "ImportJobError",
            {
                "field": serializers.CharField(allow_null=True),
                "message": serializers.CharField(),
                "index": serializers.IntegerField(required=False),
            },
            many=True,
            help_text="once failed: every problem, as the synchronous call's 400 lists them",
        ),
        "error_status": serializers.IntegerField(
            allow_null=True, help_text="once failed: the status the synchronous call answers"
        ),
        "created_at": serializers.DateTimeField(),
        "started_at": serializers.DateTimeField(allow_null=True),
        "finished_at": serializers.DateTimeField(allow_null=True),
    },
)


def import_job_body(job: ImportJob) -> dict:
    def when(value) -> str | None:
        return value.isoformat() if value else None

    return {
        "id": str(job.pk),
        "status": job.status,
        "rows": job.rows,
        "created": job.created,
        "updated": job.updated,
        "unchanged": job.unchanged,
        "errors": job.errors,
        "error_status": job.error_status,
        "created_at": when(job.created_at),
        "started_at": when(job.started_at),
        "finished_at": when(job.finished_at),
    }


ASYNC_PARAMETER = OpenApiParameter(
    "async",
    str,
    enum=["0", "1"],
    description="1: run as a background job (202, as `Prefer: respond-async`); 0: answer "
    "synchronously however many rows. Without it, more than API_ASYNC_ROWS rows (5,000) run "
    "as a job.",
)


def _wants_async(request, rows) -> bool:
    """A background job when asked (`?async=1`, `Prefer: respond-async`) or, unless refused
    with `?async=0`, for more than API_ASYNC_ROWS rows."""
    asked = request.query_params.get("async")
    if asked in ("0", "false"):
        return False
    prefer = [p.strip().lower() for p in request.headers.get("Prefer", "").split(",")]
    if asked in ("1", "true") or "respond-async" in prefer:
        return True
    return isinstance(rows, list) and len(rows) > settings.API_ASYNC_ROWS


@extend_schema(
    request=ActualRowSerializer(many=True),
    parameters=[ASYNC_PARAMETER],
    responses={
        200: inline_serializer(
            "ActualsBulkResult",
            {
                "created": serializers.IntegerField(),
                "updated": serializers.IntegerField(),
                "unchanged": serializers.IntegerField(),
            },
        ),
        202: IMPORT_JOB_SCHEMA,
    },
)
@api_view(["POST"])
def actuals_bulk(request) -> Response:
    """Upsert actuals by (tree, node, period): all rows or none, every bad row listed by index.
    At most API_MAX_ROWS rows (413). A large payload, or one sent with `?async=1` or
    `Prefer: respond-async`, runs as a background job: 202 with `Location: /api/v1/jobs/{id}/`."""
    rows = request.data
    check_row_count(rows)
    if not _wants_async(request, rows):
        result = services.actuals_record(user=request.user, rows=rows, channel="api")
        return Response(result.as_dict())
    job = services.import_job_submit(user=request.user, rows=rows, channel="api")
    response = Response(import_job_body(job), status=202)
    response["Location"] = reverse("import-job", args=[job.pk])
    if "respond-async" in request.headers.get("Prefer", "").lower():
        response["Preference-Applied"] = "respond-async"
    return response


@extend_schema(
    parameters=[OpenApiParameter("job_id", str, OpenApiParameter.PATH, description="job id")],
    responses={200: IMPORT_JOB_SCHEMA},
)
@api_view(["GET"])
def import_job_detail(request, job_id) -> Response:
    """A background actuals import: its status, then its counts or every problem found. Only
    its sender and managers see it (404 for everyone else)."""
    job = get_object_or_404(import_jobs_for(request.user), pk=job_id)
    return Response(import_job_body(job))


ROLLUP_SCHEMA = inline_serializer(
    "Rollup",
    {
        "tree": serializers.CharField(),
        # Not MonthTextField: the fiscal year of January 1900 begins in 1899.
        "period": serializers.CharField(help_text="YYYY-MM, first month of the quarter/year"),
        "grain": serializers.ChoiceField(Grain.values),
        "computed_at": serializers.DateTimeField(allow_null=True),
        "stale": serializers.BooleanField(),
        "nodes": inline_serializer(
            "RollupNode",
            {
                "node": serializers.CharField(),
                "actual": serializers.FloatField(allow_null=True),
                "target": serializers.FloatField(allow_null=True),
                "achievement": serializers.FloatField(allow_null=True),
                "status": serializers.CharField(help_text="green, amber, red or none"),
                "computed": serializers.BooleanField(),
            },
            many=True,
        ),
    },
)


@extend_schema(parameters=[TREE_CODE])
class RollupView(TreeScopedMixin, APIView):
    """Computed values of every visible node for one period and grain."""

    @extend_schema(
        parameters=[
            month_parameter(
                "period", required=True, description="YYYY-MM (any month of the quarter/year)"
            ),
            OpenApiParameter("grain", str, enum=["month", "quarter", "year"]),
        ],
        responses=ROLLUP_SCHEMA,
    )
    def get(self, request, tree_code: str) -> Response | HttpResponse:
        tree = self.tree()
        grain = request.query_params.get("grain", "month")
        period = parse_month(request.query_params.get("period", ""))
        problems = []
        if grain not in Grain.values:
            problems.append(Problem(str(_("grain must be month, quarter or year.")), field="grain"))
        if period is None:
            problems.append(Problem(str(_("Write the month as YYYY-MM.")), field="period"))
        if problems or period is None:
            raise ServiceError(problems)
        start = engine.period_start(period, grain, tree.fiscal_year_start)
        head = {
            "tree": tree.code,
            "period": f"{start:%Y-%m}",
            "grain": grain,
            "computed_at": tree.computed_at.isoformat() if tree.computed_at else None,
            "stale": tree.is_stale,
        }
        if connection.vendor != "postgresql":
            return Response(
                {**head, "nodes": queries.rollup_nodes(request.user, tree, grain, start)}
            )
        # PostgreSQL writes the nodes' JSON itself (see queries.rollup_nodes_json).
        nodes = queries.rollup_nodes_json(request.user, tree, grain, start)
        body = json.dumps({**head, "nodes": None}, ensure_ascii=False)
        body = body[: -len("null}")] + nodes + "}"
        return HttpResponse(body, content_type="application/json")


router.register("trees", TreeViewSet, basename="tree")
router.register(rf"trees/(?P<tree_code>{CODE_URL_RE})/nodes", NodeViewSet, basename="tree-node")
router.register("actuals", ActualViewSet, basename="actual")


@extend_schema(parameters=[TREE_CODE])
class LintView(TreeScopedMixin, APIView):
    """Design findings of a tree (the pitfalls of DOMAIN.md), in the caller's language."""

    @extend_schema(
        responses=inline_serializer(
            "LintFinding",
            {
                "rule": serializers.CharField(),
                "severity": serializers.ChoiceField(["error", "warning", "info"]),
                "node": serializers.CharField(allow_null=True),
                "message": serializers.CharField(),
                "advice": serializers.CharField(help_text="what to do about it"),
                "field": serializers.CharField(
                    help_text="the node field that fixes it (on a finding about no node: of the "
                    "KPI to add); 'targets' for the node's targets; '' when none"
                ),
                "subject": serializers.CharField(
                    help_text="tells apart findings of one rule about the same node: an "
                    "engagement code, a perspective; '' otherwise"
                ),
                "acknowledged": inline_serializer(
                    "LintFindingAcknowledgement",
                    {
                        "id": serializers.IntegerField(),
                        "reason": serializers.CharField(),
                        "by": serializers.CharField(),
                        "at": serializers.DateTimeField(),
                    },
                    allow_null=True,
                ),
            },
            many=True,
        )
    )
    def get(self, request, tree_code: str) -> Response:
        findings = queries.tree_findings(request.user, self.tree())
        return Response([f.as_dict() for f in findings])


ACKNOWLEDGEMENT_SCHEMA = inline_serializer(
    "LintAcknowledgement",
    {
        "id": serializers.IntegerField(),
        "rule": serializers.CharField(),
        "node": serializers.CharField(allow_null=True),
        "subject": serializers.CharField(help_text="an engagement finding's engagement code"),
        "reason": serializers.CharField(),
        "by": serializers.CharField(),
        "at": serializers.DateTimeField(),
    },
)


class LintAcknowledgementSerializer(serializers.Serializer):
    rule = serializers.CharField(max_length=64)
    node = serializers.CharField(max_length=64, required=False, allow_null=True, allow_blank=True)
    subject = serializers.CharField(max_length=64, required=False, allow_blank=True)
    reason = serializers.CharField(max_length=2000, allow_blank=True)


@extend_schema(parameters=[TREE_CODE])
class LintAcknowledgementView(TreeScopedMixin, APIView):
    """Acknowledge a finding of the tree's lint (managers): it stays listed with the reason but
    no longer counts as open. DELETE `{id}/` withdraws it (kept, with who and when)."""

    @extend_schema(
        request=LintAcknowledgementSerializer,
        responses={201: ACKNOWLEDGEMENT_SCHEMA},
        extensions=error_statuses(add=[403, 409]),
    )
    def post(self, request, tree_code: str) -> Response:
        serializer = LintAcknowledgementSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        ack = services.lint_acknowledge(
            user=request.user,
            tree=self.tree(),
            rule=data["rule"],
            node_code=data.get("node") or "",
            subject=data.get("subject", ""),
            reason=data["reason"],
        )
        return Response(_acknowledgement_body(ack), status=status.HTTP_201_CREATED)


@extend_schema(
    parameters=[
        TREE_CODE,
        OpenApiParameter("ack_id", int, OpenApiParameter.PATH, description="acknowledgement id"),
    ]
)
class LintAcknowledgementDetailView(TreeScopedMixin, APIView):
    @extend_schema(responses={204: None}, extensions=error_statuses(add=[403]))
    def delete(self, request, tree_code: str, ack_id: int) -> Response:
        from kpitree.models import LintAcknowledgement

        ack = get_object_or_404(LintAcknowledgement, tree=self.tree(), pk=ack_id)
        services.lint_withdraw(user=request.user, acknowledgement=ack)
        return Response(status=status.HTTP_204_NO_CONTENT)


def _acknowledgement_body(ack) -> dict:
    return {
        "id": ack.pk,
        "rule": ack.rule,
        "node": ack.node_code or None,
        "subject": ack.subject,
        "reason": ack.reason,
        "by": ack.by.username if ack.by else "",
        "at": ack.at.isoformat(),
    }
