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
