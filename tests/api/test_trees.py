"""trees/ and trees/{code}/."""

import datetime as dt

import pytest
from django.utils import timezone

from kpitree.models import Node, Tree
from tests.api.helpers import codes, counts, errors_of


def new_tree(**extra) -> dict:
    return {
        "code": "fy2026",
        "name": "2026年度 売上計画",
        "description": "KGI：売上高。KPI：訪問数・CVR・客単価。",
        "start_month": "2026-04",
        "end_month": "2027-03",
        **extra,
    }


def test_it_creates_a_tree_with_the_default_fiscal_year(mgr_api, db):
    r = mgr_api.post("/api/v1/trees/", new_tree())
    assert r.status_code == 201
    body = r.json()
    assert {k: body[k] for k in new_tree()} == new_tree()
    assert body["fiscal_year_start"] == 4
    tree = Tree.objects.get(code="fy2026")
    assert (tree.start_month, tree.end_month, tree.description) == (
        dt.date(2026, 4, 1),
        dt.date(2027, 3, 1),
        "KGI：売上高。KPI：訪問数・CVR・客単価。",
    )


@pytest.mark.parametrize(
    "extra,fields",
    [
        ({"code": "bad code!"}, ["code"]),
        ({"end_month": "2026-03"}, ["end_month"]),
        ({"end_month": "2036-04"}, ["end_month"]),
        ({"start_month": "April"}, ["start_month"]),
        ({"fiscal_year_start": 13}, ["fiscal_year_start"]),
        ({"fiscal_year_start": 0}, ["fiscal_year_start"]),
        ({"name": ""}, ["name"]),
        ({"green_threshold": 80, "amber_threshold": 85}, ["amber_threshold"]),
        ({"green_threshold": "high"}, ["green_threshold"]),
    ],
)
def test_it_refuses_bad_input(mgr_api, db, extra, fields):
    r = mgr_api.post("/api/v1/trees/", new_tree(**extra))
    assert r.status_code == 400
    assert [e["field"] for e in errors_of(r)] == fields
    assert counts(Tree) == {"Tree": 0}


def test_it_refuses_a_duplicate_code(mgr_api, rev_tree):
    r = mgr_api.post("/api/v1/trees/", new_tree(code="rev"))
    assert r.status_code == 400
    assert errors_of(r) == [{"field": "code"}]
    assert counts(Tree) == {"Tree": 1}


def test_it_changes_a_tree(mgr_api, rev_tree):
    r = mgr_api.patch("/api/v1/trees/rev/", {"fiscal_year_start": 1, "name": "暦年計画"})
    assert r.status_code == 200
    assert (r.json()["fiscal_year_start"], r.json()["name"]) == (1, "暦年計画")


def test_it_shows_a_vendor_only_the_trees_where_it_owns_a_node(
    vendor_api, other_vendor_api, rev_tree, ads_tree
):
    assert codes(vendor_api.get("/api/v1/trees/")) == ["rev"]
    assert vendor_api.get("/api/v1/trees/rev/").status_code == 200
    r = vendor_api.get("/api/v1/trees/ads/")
    assert r.status_code == 404
    assert errors_of(r) == [{"field": None}]
    assert codes(other_vendor_api.get("/api/v1/trees/")) == ["rev", "ads"]


def test_it_answers_a_vendor_403_for_a_visible_tree_and_404_for_a_hidden_one(
    vendor_api, rev_tree, ads_tree
):
    assert vendor_api.patch("/api/v1/trees/rev/", {"name": "x"}).status_code == 403
    assert vendor_api.patch("/api/v1/trees/ads/", {"name": "x"}).status_code == 404
    assert vendor_api.delete("/api/v1/trees/ads/").status_code == 404
    assert vendor_api.post("/api/v1/trees/", new_tree()).status_code == 403
    assert sorted(Tree.objects.values_list("name", flat=True)) == ["売上ツリー", "広告ツリー"]


def test_it_lets_a_supervisor_read_every_tree_but_not_write(sv_api, rev_tree, ads_tree):
    assert codes(sv_api.get("/api/v1/trees/")) == ["rev", "ads"]
    assert sv_api.post("/api/v1/trees/", new_tree()).status_code == 403
    assert sv_api.patch("/api/v1/trees/ads/", {"name": "x"}).status_code == 403
    assert sv_api.delete("/api/v1/trees/ads/").status_code == 403
    assert counts(Tree, Node) == {"Tree": 2, "Node": 6}


def test_it_shows_a_viewer_without_vendor_every_tree_read_only(viewer_api, rev_tree, ads_tree):
    assert codes(viewer_api.get("/api/v1/trees/")) == ["rev", "ads"]
    assert viewer_api.patch("/api/v1/trees/ads/", {"name": "x"}).status_code == 403


def test_it_pages_with_a_next_cursor(mgr_api, rev_tree, ads_tree):
    assert mgr_api.post("/api/v1/trees/", new_tree()).status_code == 201
    first = mgr_api.get("/api/v1/trees/", {"page_size": 2}).json()
    assert [t["code"] for t in first["results"]] == ["rev", "ads"]
    assert first["next"]
    assert [t["code"] for t in mgr_api.get(first["next"]).json()["results"]] == ["fy2026"]


def test_it_deletes_a_tree_with_its_nodes_and_reports_the_tombstone(
    mgr_api, vendor_api, rev_tree, ads_tree
):
    since = timezone.now()
    assert mgr_api.delete("/api/v1/trees/rev/").status_code == 204
    assert counts(Tree, Node) == {"Tree": 1, "Node": 1}
    rows = mgr_api.get("/api/v1/trees/", {"updated_since": since.isoformat()}).json()["results"]
    assert [(r["code"], r["deleted"]) for r in rows] == [("rev", True)]
    # callnavi owned nodes of rev, so its users learn of the deletion too.
    rows = vendor_api.get("/api/v1/trees/", {"updated_since": since.isoformat()}).json()["results"]
    assert [(r["code"], r["deleted"]) for r in rows] == [("rev", True)]


def test_it_hides_the_deletion_of_a_tree_a_vendor_never_saw(
    mgr_api, vendor_api, rev_tree, ads_tree
):
    since = timezone.now()
    assert mgr_api.delete("/api/v1/trees/ads/").status_code == 204
    assert (
        vendor_api.get("/api/v1/trees/", {"updated_since": since.isoformat()}).json()["results"]
        == []
    )


def test_it_returns_changed_trees_since(mgr_api, rev_tree, ads_tree):
    since = timezone.now()
    assert mgr_api.patch("/api/v1/trees/ads/", {"description": "更新"}).status_code == 200
    assert codes(mgr_api.get("/api/v1/trees/", {"updated_since": since.isoformat()})) == ["ads"]


def test_it_refuses_a_malformed_updated_since(mgr_api, rev_tree):
    r = mgr_api.get("/api/v1/trees/", {"updated_since": "2026/04/01"})
    assert r.status_code == 400
    assert errors_of(r) == [{"field": "updated_since"}]


def test_it_refuses_a_stale_if_match(mgr_api, rev_tree):
    etag = mgr_api.get("/api/v1/trees/rev/")["ETag"]
    assert (
        mgr_api.patch("/api/v1/trees/rev/", {"name": "一"}, HTTP_IF_MATCH=etag).status_code == 200
    )
    r = mgr_api.patch("/api/v1/trees/rev/", {"name": "二"}, HTTP_IF_MATCH=etag)
    assert r.status_code == 409
    assert errors_of(r) == [{"field": None}]
    assert Tree.objects.get(code="rev").name == "一"


def test_it_refuses_an_amber_threshold_above_the_stored_green_one(mgr_api, rev_tree):
    r = mgr_api.patch("/api/v1/trees/rev/", {"amber_threshold": 101})
    assert r.status_code == 400
    assert errors_of(r) == [{"field": "amber_threshold"}]
    assert Tree.objects.get(code="rev").amber_threshold == 90


def test_it_refuses_the_reserved_tree_code_templates(db) -> None:
    from rest_framework.test import APIClient

    from engagements.models import Role
    from kpitree.models import Tree
    from tests.conftest import make_user

    client = APIClient()
    client.force_authenticate(make_user("boss", Role.MANAGER))
    body = {"code": "templates", "name": "x", "start_month": "2026-04", "end_month": "2027-03"}
    response = client.post("/api/v1/trees/", body, format="json")
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "code"
    assert Tree.objects.count() == 0
