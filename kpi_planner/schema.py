"""The error responses of the OpenAPI schema, described once for every operation.

API.md: every error (400, 401, 403, 404, 409, 413, 429; also 415 and 500) has the format
``{"errors": [{"field", "message", "index"?}]}`` written by kpi_planner.api.exception_handler.
`describe_errors` (a drf-spectacular postprocessing hook, SPECTACULAR_SETTINGS) adds the `Error`
component and, to each operation, the errors it can give, by rules read off the operation:

- 401 and 429: every operation (a bad or unknown token is refused before any view runs; the rate
  limits count every caller, `auth/token/` per IP);
- 400: every write (its body is parsed and validated; a malformed `Idempotency-Key`) and every
  read with query parameters other than the cursor and the page size (they are validated);
- 403: every write of an authenticated operation (a role that may not do it);
- 404: every operation with a path parameter (an object the caller cannot see, or none) and
  every paginated list (an invalid cursor);
- 409: every write: a stale `If-Match`, a locked (approved or submitted) month, a workflow step
  that does not fit the month's status, a delete of something in use, or a retry with the
  `Idempotency-Key` of a request still running (kpi_planner.idempotency);
- 422: every write: its `Idempotency-Key` was used with another method, path or body;
- 413: every write (a body over the configured maximum, or more rows than a bulk call takes);
- 415: every write (a body that is not JSON, a form or multipart);
- 500: every operation (kpi_planner.limits answers an unexpected error in the same format).

Where a rule is wrong for an operation, its view says so with
``@extend_schema(extensions=error_statuses(add=[403], remove=[409]))``.

The API token (engagements.auth.ApiTokenAuthentication) is the `tokenAuth` security scheme; the
public `auth/token/` needs none (and answers no 403 or 409). A 202 (a write run as a background
job) has the job's `Location`. Single objects of the sync views (kpi_planner.api.SyncMixin) also
get their `ETag` response header and the optional `If-Match` request header; every write but
`auth/token/` takes the optional `Idempotency-Key` header.

This module imports no app: it reads the generated schema and the views' classes.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.plumbing import build_bearer_security_scheme_object
from rest_framework.permissions import AllowAny

ERROR_COMPONENT = "Error"
ERROR_REF = {"$ref": f"#/components/schemas/{ERROR_COMPONENT}"}
ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "Every error of the API: the problems found, all of them at once.",
    "properties": {
        "errors": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "properties": {
                    "field": {
                        "type": "string",
                        "nullable": True,
                        "description": "the input field the problem is about (`a.b` inside an "
                        "object); null: the request as a whole",
                    },
                    "message": {
                        "type": "string",
                        "description": "what is wrong, in the caller's language",
                    },
                    "index": {
                        "type": "integer",
                        "minimum": 0,
                        "description": "the row of a list body the problem is about",
                    },
                },
                "required": ["field", "message"],
                "additionalProperties": False,
            },
        }
    },
    "required": ["errors"],
    "additionalProperties": False,
}

DESCRIPTIONS = {
    400: "The request is invalid: every problem is listed (rows of a list body by `index`); "
    "nothing was written.",
    401: "No credentials, or a token or session that is not valid.",
    403: "The caller's role may not do this (or a browser session sent no CSRF token).",
    404: "No such object, or one the caller may not see (its existence does not leak); for a "
    "list, an invalid cursor.",
    409: "The write conflicts with the data's state: a stale `If-Match`, a locked (approved, or "
    "for a vendor submitted) month, a step that does not fit the month's status, an object "
    "still in use, or a request with the same `Idempotency-Key` still running; nothing was "
    "written.",
    413: "The request body is larger than the configured maximum, or a bulk call has more rows "
    "than it takes; nothing was written.",
    422: "The `Idempotency-Key` was used before with another method, path or body; nothing ran.",
    415: "The request body is not JSON (nor a form or multipart); nothing was written.",
    429: "Too many requests from this caller (per token; per IP on `auth/token/`); retry after "
    "the seconds in `Retry-After`.",
    500: "An unexpected error; the failure was logged.",
}
ERROR_STATUSES = frozenset(DESCRIPTIONS)

RETRY_AFTER = {
    "Retry-After": {
        "schema": {"type": "integer", "minimum": 0},
        "description": "seconds to wait before the next request",
    }
}
LOCATION = {
    "Location": {
        "schema": {"type": "string"},
        "description": "the job to follow (GET it until it is done)",
    }
}
ETAG = {
    "ETag": {
        "schema": {"type": "string"},
        "description": "the version of the object; send it as `If-Match` to write only that version",
    }
}
IDEMPOTENCY_KEY = {
    "in": "header",
    "name": "Idempotency-Key",
    "required": False,
    "schema": {"type": "string", "minLength": 1, "maxLength": 255},
    "description": "run this write once: a retry with the same key, method, path and body gets "
    "the first answer again (`Idempotent-Replayed: true`) for 24 hours",
}
IF_MATCH = {
    "in": "header",
    "name": "If-Match",
    "required": False,
    "schema": {"type": "string"},
    "description": "the `ETag` read with the object: the write answers 409 when the object "
    "changed since",
}

# The key of `error_statuses` in an operation (a specification extension; removed by the hook).
EXTENSION = "x-error-statuses"
WRITES = frozenset({"post", "put", "patch", "delete"})
BODY_METHODS = frozenset({"post", "put", "patch"})
PAGING_PARAMETERS = frozenset({"cursor", "page_size"})


class ApiTokenScheme(OpenApiAuthenticationExtension):
    """`Authorization: Token <key>`: the scheme of the API's own token authentication (by name:
    this module imports no app)."""

    target_class = "engagements.auth.ApiTokenAuthentication"
    name = "tokenAuth"

    def get_security_definition(self, auto_schema: Any) -> dict:
        return build_bearer_security_scheme_object(
            header_name="Authorization", token_prefix="Token"
        )


def error_statuses(*, add: Iterable[int] = (), remove: Iterable[int] = ()) -> dict[str, Any]:
    """`extend_schema(extensions=...)` of an operation whose errors differ from the rules of
    this module: the statuses to add to and to remove from those the rules give."""
    return {EXTENSION: {"add": sorted(add), "remove": sorted(remove)}}


def _view_classes(generator: Any) -> dict[tuple[str, str], type]:
    """The view class of each (path, method) the generator described."""
    out: dict[tuple[str, str], type] = {}
    for path, _regex, method, callback in getattr(generator, "endpoints", None) or []:
        cls = getattr(callback, "cls", None)
        if cls is not None:
            out[(path, method.lower())] = cls
    return out


def _is_public(view: type | None) -> bool:
    """A view anyone may call (auth/token/): no permission class, or AllowAny."""
    if view is None:
        return False
    permissions = list(getattr(view, "permission_classes", []) or [])
    return not permissions or all(p is AllowAny for p in permissions)


def _is_sync_view(view: type | None) -> bool:
    from kpi_planner.api import SyncMixin  # the shared API base: imports no app either

    return view is not None and issubclass(view, SyncMixin)


def statuses_for(method: str, operation: dict, *, public: bool = False) -> set[int]:
    """The error statuses an operation can give, by the rules in this module's docstring."""
    parameters = operation.get("parameters", [])
    in_path = any(p.get("in") == "path" for p in parameters)
    queries = {p["name"] for p in parameters if p.get("in") == "query"}
    out = {401, 429, 500}
    if method in BODY_METHODS or queries - PAGING_PARAMETERS:
        out.add(400)
    if method in BODY_METHODS:
        out |= {413, 415}
    if method in WRITES and not public:
        out.add(403)
    if in_path or "cursor" in queries:
        out.add(404)
    if method in WRITES and not public:
        out |= {400, 409, 422}
    refinement = operation.pop(EXTENSION, None) or {}
    out |= set(refinement.get("add", []))
    out -= set(refinement.get("remove", []))
    return out


def error_response(status: int) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": DESCRIPTIONS[status],
        "content": {"application/json": {"schema": dict(ERROR_REF)}},
    }
    if status == 429:
        response["headers"] = dict(RETRY_AFTER)
    return response


def _add_sync_headers(method: str, operation: dict) -> None:
    """ETag on a single object read or written; If-Match on a write to one."""
    if not any(p.get("in") == "path" for p in operation.get("parameters", [])):
        return
    if method in {"get", "put", "patch"}:
        ok = operation.get("responses", {}).get("200")
        if ok is not None:
            ok.setdefault("headers", {}).update(ETAG)
    if method in {"put", "patch", "delete"}:
        parameters = operation.setdefault("parameters", [])
        if not any(p.get("name") == "If-Match" for p in parameters):
            parameters.append(dict(IF_MATCH))


def _refs(node: Any) -> set[str]:
    if isinstance(node, dict):
        found = {node["$ref"]} if isinstance(node.get("$ref"), str) else set()
        for value in node.values():
            found |= _refs(value)
        return found
    if isinstance(node, list):
        return set().union(*(_refs(item) for item in node)) if node else set()
    return set()


def _drop_unused_components(result: dict) -> None:
    """Remove the schema components nothing refers to any more (an error body a view declared
    itself, e.g. `ApiErrors`, once its responses are `Error`)."""
    schemas = result.get("components", {}).get("schemas", {})
    while True:
        used = {ref.rsplit("/", 1)[-1] for ref in _refs(result)}
        unused = [name for name in schemas if name not in used and name != ERROR_COMPONENT]
        if not unused:
            return
        for name in unused:
            del schemas[name]


def describe_errors(result: dict, generator: Any = None, **kwargs: Any) -> dict:
    """Postprocessing hook: the `Error` component and every operation's error responses."""
    views = _view_classes(generator)
    result.setdefault("components", {}).setdefault("schemas", {})[ERROR_COMPONENT] = ERROR_SCHEMA
    for path, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
            if method not in {"get", "post", "put", "patch", "delete"}:
                continue
            view = views.get((path, method))
            public = _is_public(view)
            if public:
                operation["security"] = []
            if method in WRITES and not public:
                operation.setdefault("parameters", []).append(dict(IDEMPOTENCY_KEY))
            if _is_sync_view(view):
                _add_sync_headers(method, operation)
            responses = operation.setdefault("responses", {})
            if "202" in responses:
                responses["202"].setdefault("headers", {}).update(LOCATION)
            for status in sorted(statuses_for(method, operation, public=public)):
                responses[str(status)] = error_response(status)
            operation["responses"] = dict(sorted(responses.items()))
    _drop_unused_components(result)
    return result
