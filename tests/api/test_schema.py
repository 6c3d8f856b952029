"""The OpenAPI schema and the Swagger UI, served without any CDN."""

import re

import pytest


@pytest.fixture
def schema(mgr_api) -> str:
    r = mgr_api.get("/api/schema/")
    assert r.status_code == 200
    return r.content.decode()


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/actuals/bulk/",
        "/api/v1/trees/{tree_code}/rollup/",
        "/api/v1/trees/{tree_code}/targets/",
        "/api/v1/trees/{tree_code}/nodes/{code}/",
        "/api/v1/actuals/",
        "/api/v1/auth/token/",
        "/api/v1/users/{username}/",
        "/api/v1/vendors/{code}/",
        "/api/v1/engagements/{code}/",
        "/api/v1/trees/{code}/",
    ],
)
def test_it_describes_every_endpoint(schema, path):
    assert f"{path}:" in schema


def test_it_serves_the_schema_as_json_too(mgr_api):
    r = mgr_api.get("/api/schema/", {"format": "json"})
    assert r.status_code == 200
    paths = r.json()["paths"]
    assert "post" in paths["/api/v1/actuals/bulk/"]
    assert {p["name"] for p in paths["/api/v1/trees/{tree_code}/rollup/"]["get"]["parameters"]} >= {
        "tree_code",
        "period",
        "grain",
    }
    assert "put" in paths["/api/v1/trees/{tree_code}/targets/"]


def test_it_serves_the_docs_without_external_scripts(client, db):
    r = client.get("/api/docs/")
    assert r.status_code == 200
    html = r.content.decode()
    assert "swagger" in html.lower()
    scripts = re.findall(r"""<script[^>]*\bsrc=["']([^"']+)""", html)
    assert scripts
    assert [s for s in scripts if re.match(r"(https?:)?//", s)] == []
    assert [
        h
        for h in re.findall(r"""<link[^>]*\bhref=["']([^"']+)""", html)
        if re.match(r"(https?:)?//", h)
    ] == []


# -- the error responses (API.md "Limits": every error is described with the error format) ----

METHODS = ("get", "post", "put", "patch", "delete")
ERROR = {"$ref": "#/components/schemas/Error"}


@pytest.fixture
def openapi(mgr_api) -> dict:
    r = mgr_api.get("/api/schema/", {"format": "json"})
    assert r.status_code == 200
    return r.json()


def operations(openapi: dict) -> list[tuple[str, str, dict]]:
    return [
        (method, path, op)
        for path, ops in openapi["paths"].items()
        for method, op in ops.items()
        if method in METHODS
    ]


def error_statuses(op: dict) -> set[str]:
    return {code for code in op["responses"] if code[0] in "45"}


def test_it_describes_the_error_format_once(openapi):
    assert openapi["components"]["schemas"]["Error"] == {
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
                            "description": "the input field the problem is about (`a.b` inside "
                            "an object); null: the request as a whole",
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
    # The error bodies some views declared themselves are gone: one component for every error.
    assert {"ApiErrors", "ApiError"} & set(openapi["components"]["schemas"]) == set()


def test_every_operation_describes_401_429_and_500_with_the_error_format(openapi):
    ops = operations(openapi)
    assert len(ops) >= 47
    for method, path, op in ops:
        assert {"401", "429", "500"} <= error_statuses(op), (method, path)
        for code in error_statuses(op):
            response = op["responses"][code]
            assert response["content"] == {"application/json": {"schema": ERROR}}, (method, path)
            assert response["description"], (method, path, code)
        assert op["responses"]["429"]["headers"]["Retry-After"]["schema"] == {
            "type": "integer",
            "minimum": 0,
        }


def test_every_operation_with_a_body_describes_400_413_and_415(openapi):
    with_body = [(m, p, op) for m, p, op in operations(openapi) if "requestBody" in op]
    assert len(with_body) >= 20
    for method, path, op in with_body:
        assert {"400", "413", "415"} <= error_statuses(op), (method, path)


def test_every_operation_on_a_path_object_describes_404(openapi):
    on_object = [
        (m, p, op)
        for m, p, op in operations(openapi)
        if any(param["in"] == "path" for param in op.get("parameters", []))
    ]
    assert len(on_object) >= 35
    for method, path, op in on_object:
        assert "404" in error_statuses(op), (method, path)


def test_no_read_describes_a_conflict_or_a_body_too_large(openapi):
    for method, path, op in operations(openapi):
        if method == "get":
            assert {"409", "413", "415"} & error_statuses(op) == set(), path


@pytest.mark.parametrize(
    ("method", "path", "statuses"),
    [
        (
            "post",
            "/api/v1/actuals/bulk/",
            ["200", "202", "400", "401", "403", "409", "413", "415", "422", "429", "500"],
        ),
        ("get", "/api/v1/jobs/{job_id}/", ["200", "401", "404", "429", "500"]),
        ("get", "/api/v1/actuals/", ["200", "400", "401", "404", "429", "500"]),
        ("post", "/api/v1/auth/token/", ["200", "400", "401", "413", "415", "429", "500"]),
        ("get", "/api/v1/trees/{code}/", ["200", "401", "404", "429", "500"]),
        (
            "patch",
            "/api/v1/trees/{code}/",
            ["200", "400", "401", "403", "404", "409", "413", "415", "422", "429", "500"],
        ),
        (
            "delete",
            "/api/v1/vendors/{code}/",
            ["204", "400", "401", "403", "404", "409", "422", "429", "500"],
        ),
        (
            "post",
            "/api/v1/vendors/",
            ["201", "400", "401", "403", "409", "413", "415", "422", "429", "500"],
        ),
        ("get", "/api/v1/users/", ["200", "400", "401", "403", "404", "429", "500"]),
        ("get", "/api/v1/users/{username}/", ["200", "401", "403", "404", "429", "500"]),
        ("get", "/api/v1/trees/{tree_code}/rollup/", ["200", "400", "401", "404", "429", "500"]),
        ("get", "/api/v1/trees/{tree_code}/lint/", ["200", "401", "404", "429", "500"]),
        (
            "get",
            "/api/v1/engagements/{code}/scorecard/",
            ["200", "400", "401", "404", "429", "500"],
        ),
        (
            "put",
            "/api/v1/trees/{tree_code}/targets/",
            ["200", "400", "401", "403", "404", "409", "413", "415", "422", "429", "500"],
        ),
        (
            "put",
            "/api/v1/trees/{tree_code}/nodes/",
            ["200", "400", "401", "403", "404", "409", "413", "415", "422", "429", "500"],
        ),
        (
            "post",
            "/api/v1/engagements/{engagement_code}/submissions/{period}/approve/",
            ["200", "400", "401", "403", "404", "409", "413", "415", "422", "429", "500"],
        ),
        (
            "get",
            "/api/v1/engagements/{engagement_code}/submissions/",
            ["200", "401", "404", "429", "500"],
        ),
    ],
)
def test_it_describes_exactly_the_errors_an_operation_gives(openapi, method, path, statuses):
    assert sorted(openapi["paths"][path][method]["responses"]) == statuses


def test_token_login_needs_no_credentials(openapi):
    assert openapi["paths"]["/api/v1/auth/token/"]["post"]["security"] == []
    assert openapi["paths"]["/api/v1/trees/"]["get"]["security"] == [
        {"tokenAuth": []},
        {"cookieAuth": []},
    ]


def test_single_objects_describe_their_etag_and_if_match(openapi):
    tree = openapi["paths"]["/api/v1/trees/{code}/"]
    assert set(tree["get"]["responses"]["200"]["headers"]) == {"ETag"}
    for method in ("put", "patch", "delete"):
        (if_match,) = [p for p in tree[method]["parameters"] if p["name"] == "If-Match"]
        assert (if_match["name"], if_match["required"]) == ("If-Match", False)
    # Every write but token login takes an idempotency key.
    for method in ("put", "patch", "delete"):
        assert "Idempotency-Key" in [p["name"] for p in tree[method]["parameters"]]
    token = openapi["paths"]["/api/v1/auth/token/"]["post"]
    assert [p["name"] for p in token.get("parameters", [])] == []
    # A list is not a single object.
    assert "headers" not in openapi["paths"]["/api/v1/trees/"]["get"]["responses"]["200"]


def test_the_hook_leaves_no_extension_behind(openapi):
    for method, path, op in operations(openapi):
        assert [k for k in op if k.startswith("x-")] == [], (method, path)


def test_an_accepted_job_describes_where_to_follow_it(openapi):
    accepted = openapi["paths"]["/api/v1/actuals/bulk/"]["post"]["responses"]["202"]
    assert accepted["headers"] == {
        "Location": {
            "schema": {"type": "string"},
            "description": "the job to follow (GET it until it is done)",
        }
    }
