"""Inputs that schemathesis (and a few hand-picked hostile values) turned into HTTP 500s.

Each answers a clear error now and writes nothing. PostgreSQL, unlike SQLite, refuses a NUL
character in any text it is sent; `_refuse_nul_like_postgresql` makes the test database do the
same, so a NUL that would reach the database fails here as it would in production.
"""

from __future__ import annotations

import base64
import datetime as dt

import pytest
from django.db import DataError, connection
from rest_framework.request import Request

from engagements.models import Engagement, Submission, SubmissionStatus, User
from kpi_planner.api import parse_updated_since
from kpitree.models import Actual, Node, Target, ValueAudit
from tests.api.helpers import counts, errors_of, revenue_rows
from tests.factories import UserFactory

BULK = "/api/v1/actuals/bulk/"
HUGE = "1" + "0" * 400  # a JSON integer no float can hold


@pytest.fixture(autouse=True)
def _refuse_nul_like_postgresql():
    def execute(run, sql, params, many, context):
        for row in (params or []) if many else [params or []]:
            values = row.values() if isinstance(row, dict) else row
            if any(isinstance(v, str) and "\x00" in v for v in values):
                raise DataError("A string literal cannot contain NUL (0x00) characters.")
        return run(sql, params, many, context)

    with connection.execute_wrapper(execute):
        yield


def nothing_written() -> bool:
    return counts(Actual, Target, ValueAudit) == {"Actual": 0, "Target": 0, "ValueAudit": 0}


# -- numbers --------------------------------------------------------------------------------------


def test_it_refuses_an_actual_too_large_for_a_float(mgr_api, rev_tree):
    body = f'[{{"tree": "rev", "node": "visits", "period": "2026-04", "value": {HUGE}}}]'
    r = mgr_api.post(BULK, body, content_type="application/json")
    assert r.status_code == 400
    assert errors_of(r) == [{"field": "value", "index": 0}]
    assert nothing_written()


def test_it_refuses_a_target_too_large_for_a_float(mgr_api, rev_tree):
    body = f'[{{"node": "visits", "period": "2026-04", "value": {HUGE}}}]'
    r = mgr_api.put("/api/v1/trees/rev/targets/", body, content_type="application/json")
    assert r.status_code == 400
    assert errors_of(r) == [{"field": "value", "index": 0}]
    assert nothing_written()


# -- query parameters -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "since",
    [
        "9999-12-31T23:59:59-23:59",  # after the last instant a datetime can hold, in UTC
        "0001-01-01T00:00:00",  # local (Tokyo) midnight of year 1 is in year 0 in UTC
        "0001-01-01T00:00:00+14:00",
    ],
)
@pytest.mark.parametrize("url", ["/api/v1/actuals/", "/api/v1/vendors/", "/api/v1/trees/"])
def test_it_refuses_an_updated_since_outside_the_calendar(mgr_api, rev_tree, url, since):
    r = mgr_api.get(url, {"updated_since": since})
    assert r.status_code == 400
    assert errors_of(r) == [{"field": "updated_since"}]


def test_it_reads_updated_since_in_utc_whatever_its_offset(rf, manager):
    # PostgreSQL refuses a time zone offset beyond ±15:59; ISO-8601 text may carry up to ±23:59.
    request = Request(rf.get("/", {"updated_since": "2026-04-01T00:00:00-18:25"}))
    since = parse_updated_since(request)
    assert since == dt.datetime(2026, 4, 1, 18, 25, tzinfo=dt.UTC)
    assert since.utcoffset() == dt.timedelta(0)


def test_it_lists_what_changed_since_an_instant_with_a_large_offset(mgr_api, vendor_a):
    r = mgr_api.get("/api/v1/vendors/", {"updated_since": "1905-09-06T14:24:24+20:23"})
    assert r.status_code == 200
    assert [row["code"] for row in r.json()["results"]] == ["callnavi"]


@pytest.mark.parametrize("position", ["abc", "1.5", "9" * 30])
def test_it_answers_a_cursor_whose_position_is_not_an_id_as_invalid(mgr_api, rev_tree, position):
    cursor = base64.b64encode(f"p={position}".encode()).decode()
    r = mgr_api.get("/api/v1/actuals/", {"cursor": cursor})
    assert r.status_code == 404
    assert errors_of(r) == [{"field": None}]


@pytest.mark.parametrize("param", ["tree", "node", "engagement"])
def test_it_refuses_a_malformed_code_in_an_actuals_filter(mgr_api, rev_tree, param):
    r = mgr_api.get("/api/v1/actuals/", {param: "a\x00b"})
    assert r.status_code == 400
    assert errors_of(r) == [{"field": param}]


def test_it_refuses_a_malformed_code_in_the_targets_filter(mgr_api, rev_tree):
    r = mgr_api.get("/api/v1/trees/rev/targets/", {"node": "a\x00b"})
    assert r.status_code == 400
    assert errors_of(r) == [{"field": "node"}]


def test_it_still_answers_an_unknown_but_wellformed_code_with_no_rows(mgr_api, rev_tree):
    r = mgr_api.get("/api/v1/actuals/", {"tree": "no-such-tree"})
    assert r.status_code == 200
    assert r.json()["results"] == []


# -- codes in the path ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/trees/a%00b/rollup/?period=2026-04",
        "/api/v1/trees/a%00b/targets/",
        "/api/v1/trees/a%00b/lint/",
        "/api/v1/engagements/a%00b/scorecard/?period=2026-04",
    ],
)
def test_it_answers_404_for_a_path_code_with_a_nul(mgr_api, rev_tree, path):
    r = mgr_api.get(path)
    assert r.status_code == 404
    assert errors_of(r) == [{"field": None}]


def test_it_answers_404_for_a_target_write_to_a_tree_code_with_a_nul(mgr_api, rev_tree):
    r = mgr_api.put("/api/v1/trees/a%00b/targets/", [])
    assert r.status_code == 404
    assert errors_of(r) == [{"field": None}]
    assert nothing_written()


# -- text with a NUL in bodies --------------------------------------------------------------------


def test_it_refuses_a_nul_in_an_actual_comment(mgr_api, rev_tree):
    rows = revenue_rows()
    rows[1]["comment"] = "a\x00b"
    r = mgr_api.post(BULK, rows)
    assert r.status_code == 400
    assert errors_of(r) == [{"field": "comment", "index": 1}]
    assert nothing_written()


def test_it_reports_a_tree_code_with_a_nul_as_unknown(mgr_api, rev_tree):
    rows = revenue_rows()
    rows[2]["tree"] = "rev\x00"
    r = mgr_api.post(BULK, rows)
    assert r.status_code == 400
    assert errors_of(r) == [{"field": "tree", "index": 2}]
    assert nothing_written()


def test_it_refuses_a_nul_in_a_node_name(mgr_api, rev_tree):
    before = Node.objects.count()
    r = mgr_api.post("/api/v1/trees/rev/nodes/", {"code": "calls", "name": "a\x00b"})
    assert r.status_code == 400
    assert errors_of(r) == [{"field": "name"}]
    assert Node.objects.count() == before


def test_it_refuses_a_nul_in_a_node_code_without_touching_the_node(mgr_api, rev_tree):
    r = mgr_api.patch("/api/v1/trees/rev/nodes/visits/", {"code": "vis\x00its"})
    assert r.status_code == 400
    assert errors_of(r) == [{"field": "code"}]
    assert Node.objects.filter(tree=rev_tree, code="visits").exists()


@pytest.mark.parametrize("field", ["vendor", "manager"])
def test_it_refuses_a_nul_in_an_engagement_reference(mgr_api, engagement_a, field):
    r = mgr_api.patch("/api/v1/engagements/CALL-1/", {field: "a\x00b"})
    assert r.status_code == 400
    assert errors_of(r) == [{"field": field}]
    engagement_a.refresh_from_db()
    assert (engagement_a.vendor.code, engagement_a.manager) == ("callnavi", None)


def test_it_refuses_a_nul_in_a_users_vendor(mgr_api, viewer):
    r = mgr_api.patch(f"/api/v1/users/{viewer.username}/", {"vendor": "a\x00b"})
    assert r.status_code == 400
    assert errors_of(r) == [{"field": "vendor"}]
    viewer.refresh_from_db()
    assert viewer.vendor is None


def submitted_month(engagement: Engagement) -> Submission:
    return Submission.objects.create(
        engagement=engagement, period=dt.date(2026, 4, 1), status=SubmissionStatus.SUBMITTED
    )


@pytest.mark.parametrize("reason", ["a\x00b", ["too", "many"], {"text": "x"}, 42])
def test_it_refuses_a_return_reason_that_is_not_plain_text(mgr_api, engagement_a, reason):
    sub = submitted_month(engagement_a)
    r = mgr_api.post("/api/v1/engagements/CALL-1/submissions/2026-04/return/", {"reason": reason})
    assert r.status_code == 400
    assert errors_of(r) == [{"field": "reason"}]
    sub.refresh_from_db()
    assert (sub.status, sub.reason) == (SubmissionStatus.SUBMITTED, "")


# -- a manager cannot lock themselves out ---------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "field"), [({"is_active": False}, "is_active"), ({"role": "viewer"}, "role")]
)
def test_it_refuses_to_let_a_manager_disable_or_demote_themselves(mgr_api, manager, change, field):
    r = mgr_api.patch(f"/api/v1/users/{manager.username}/", change)
    assert r.status_code == 400
    assert errors_of(r) == [{"field": field}]
    manager.refresh_from_db()
    assert (manager.is_active, manager.role) == (True, "manager")


def test_it_refuses_to_let_a_manager_delete_themselves(mgr_api, manager):
    r = mgr_api.delete(f"/api/v1/users/{manager.username}/")
    assert r.status_code == 409
    assert errors_of(r) == [{"field": None}]
    assert User.objects.filter(pk=manager.pk).exists()


def test_it_still_lets_a_manager_disable_another_manager(mgr_api, manager):
    other = UserFactory(username="mgr2", role="manager", raw_password="pw-mgr2-long")
    r = mgr_api.patch("/api/v1/users/mgr2/", {"is_active": False})
    assert r.status_code == 200
    other.refresh_from_db()
    assert other.is_active is False


# -- the schema describes what the API answers ----------------------------------------------------


@pytest.fixture
def schema(mgr_api) -> dict:
    return mgr_api.get("/api/schema/", {"format": "json"}).json()


@pytest.mark.parametrize(
    ("component", "field"),
    [
        ("Tree", "start_month"),
        ("Tree", "end_month"),
        ("Engagement", "start_month"),
        ("Actual", "period"),
        ("ActualRowRequest", "period"),
        ("TargetRowRequest", "period"),
    ],
)
def test_it_documents_months_as_yyyy_mm(schema, component, field):
    prop = schema["components"]["schemas"][component]["properties"][field]
    assert prop["type"] == "string"
    assert "format" not in prop
    assert prop["pattern"] == r"^(19\d\d|2\d\d\d)-(0[1-9]|1[0-2])$"


def test_it_documents_the_submissions_list_as_a_page(schema):
    ok = schema["paths"]["/api/v1/engagements/{engagement_code}/submissions/"]["get"]
    ref = ok["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    page = schema["components"]["schemas"][ref.rsplit("/", 1)[1]]
    assert page["type"] == "object"
    assert set(page["properties"]) == {"next", "previous", "results"}
    assert page["properties"]["results"]["items"] == {"$ref": "#/components/schemas/Submission"}


@pytest.mark.parametrize("path", ["/api/v1/vendors/", "/api/v1/trees/", "/api/v1/engagements/"])
def test_it_documents_updated_since_and_tombstones_on_synced_lists(schema, path):
    op = schema["paths"][path]["get"]
    assert "updated_since" in {p["name"] for p in op["parameters"]}
    page_ref = op["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    page = schema["components"]["schemas"][page_ref.rsplit("/", 1)[1]]
    live, tombstone = page["properties"]["results"]["items"]["oneOf"]
    assert live["$ref"].startswith("#/components/schemas/")
    assert tombstone["required"] == ["code", "deleted", "deleted_at"]


@pytest.mark.parametrize(
    ("path", "keys"),
    [
        (
            "/api/v1/trees/{tree_code}/rollup/",
            {"tree", "period", "grain", "computed_at", "stale", "nodes"},
        ),
        (
            "/api/v1/engagements/{code}/scorecard/",
            {"engagement", "period", "grain", "overall", "perspectives", "weights"}
            | {"thresholds", "restatements"},
        ),
    ],
)
def test_it_documents_the_computed_views_field_by_field(schema, path, keys):
    ok = schema["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]
    body = schema["components"]["schemas"][ok["schema"]["$ref"].rsplit("/", 1)[1]]
    assert set(body["properties"]) == keys


@pytest.mark.parametrize(
    ("path", "name", "pattern"),
    [
        ("/api/v1/trees/{tree_code}/rollup/", "period", r"^(19\d\d|2\d\d\d)-(0[1-9]|1[0-2])$"),
        ("/api/v1/trees/{tree_code}/rollup/", "tree_code", "^[A-Za-z0-9._-]{1,64}$"),
        ("/api/v1/engagements/{code}/scorecard/", "code", "^[A-Za-z0-9._-]{1,64}$"),
        ("/api/v1/actuals/", "tree", "^[A-Za-z0-9._-]{1,64}$"),
        ("/api/v1/actuals/", "period_from", r"^(19\d\d|2\d\d\d)-(0[1-9]|1[0-2])$"),
    ],
)
def test_it_documents_the_shape_of_codes_and_months_in_parameters(schema, path, name, pattern):
    params = {p["name"]: p["schema"] for p in schema["paths"][path]["get"]["parameters"]}
    assert params[name]["pattern"] == pattern


def test_it_answers_the_rollup_of_the_fiscal_year_that_began_before_1900(mgr_api, rev_tree, schema):
    r = mgr_api.get("/api/v1/trees/rev/rollup/", {"period": "1900-01", "grain": "year"})
    assert r.status_code == 200
    assert r.json()["period"] == "1899-04"
    assert "pattern" not in schema["components"]["schemas"]["Rollup"]["properties"]["period"]
