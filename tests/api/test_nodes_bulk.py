"""PUT trees/{tree}/nodes/: upsert many nodes by code, all or nothing, with the rules of one node
applied to the tree as it is after the whole list."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from kpitree import tasks
from kpitree.models import Node, Tree
from tests.api.helpers import counts, errors_of
from tests.factories import TreeFactory

REV = "/api/v1/trees/rev/nodes/"
PLAN = "/api/v1/trees/plan/nodes/"
FORMULA = "visits * cvr / 100 * avg_price"


@pytest.fixture
def plan(db):
    return TreeFactory(code="plan", name="売上計画")


def version(code: str = "rev") -> int:
    return Tree.objects.get(code=code).data_version


def test_it_creates_a_tree_of_several_levels_in_one_call(mgr_api, plan, engagement_a):
    # Children before their parents, and a formula over children created by the same call.
    rows = [
        {"code": "web", "name": "Web訪問", "parent": "visits", "engagement": "CALL-1"},
        {"code": "store", "name": "店舗訪問", "parent": "visits", "engagement": "CALL-1"},
        {"code": "visits", "name": "訪問数", "parent": "sales", "rollup": "sum", "unit": "件"},
        {"code": "cvr", "name": "CVR", "parent": "sales", "unit": "%", "time_aggregation": "avg"},
        {"code": "avg_price", "name": "客単価", "parent": "sales", "unit": "円"},
        {
            "code": "sales",
            "name": "売上高",
            "kind": "kgi",
            "rollup": "formula",
            "formula": FORMULA,
            "time_aggregation": "recompute",
        },
    ]
    r = mgr_api.put(PLAN, rows)
    assert r.status_code == 200, r.json()
    assert r.json() == {"created": 6, "updated": 0, "unchanged": 0}
    nodes = mgr_api.get(PLAN).json()["results"]
    assert [(n["code"], n["parent"], n["engagement"]) for n in nodes] == [
        ("web", "visits", "CALL-1"),
        ("store", "visits", "CALL-1"),
        ("visits", "sales", None),
        ("cvr", "sales", None),
        ("avg_price", "sales", None),
        ("sales", None, None),
    ]
    sales = Node.objects.get(code="sales")
    assert (sales.kind, sales.rollup, sales.formula) == ("kgi", "formula", FORMULA)
    assert Node.objects.get(code="visits").name == "訪問数"


def test_it_updates_only_the_fields_sent_and_counts_the_unchanged(mgr_api, rev_tree):
    rows = [
        {"code": "visits", "name": "訪問数"},  # as it is
        {"code": "cvr", "unit": "pt", "benchmark": 2.5},
        {"code": "leads", "name": "リード数", "parent": "sales"},
    ]
    r = mgr_api.put(REV, rows)
    assert r.status_code == 200, r.json()
    assert r.json() == {"created": 1, "updated": 1, "unchanged": 1}
    cvr = Node.objects.select_related("parent", "engagement").get(code="cvr")
    assert (cvr.name, cvr.unit, cvr.benchmark, cvr.time_aggregation) == ("CVR", "pt", 2.5, "avg")
    assert (cvr.parent.code, cvr.engagement.code) == ("sales", "CALL-1")
    assert Node.objects.get(code="leads").parent.code == "sales"
    assert counts(Node) == {"Node": 6}


def test_it_changes_nothing_when_sent_back_what_it_listed(
    mgr_api, rev_tree, django_capture_on_commit_callbacks
):
    rows = mgr_api.get(REV).json()["results"]  # with updated_at, which is read-only
    before = version()
    with django_capture_on_commit_callbacks() as callbacks:
        r = mgr_api.put(REV, rows)
    assert r.status_code == 200, r.json()
    assert r.json() == {"created": 0, "updated": 0, "unchanged": 5}
    assert callbacks == []  # no recompute queued
    assert version() == before


def test_it_queues_exactly_one_recompute(
    mgr_api, rev_tree, monkeypatch, django_capture_on_commit_callbacks
):
    sent = []
    monkeypatch.setattr(tasks.recompute_tree, "delay", sent.append)
    before = version()
    rows = [{"code": f"kpi{i}", "name": f"KPI {i}", "parent": "ad_clicks"} for i in range(20)]
    with django_capture_on_commit_callbacks(execute=True):
        r = mgr_api.put(REV, [*rows, {"code": "visits", "unit": "人"}])
    assert r.json() == {"created": 20, "updated": 1, "unchanged": 0}
    assert sent == [rev_tree.pk]
    assert version() == before + 1


def test_it_refuses_bad_rows_listing_each_by_index_and_writes_nothing(mgr_api, rev_tree):
    before = (counts(Node), version())
    rows = [
        {"code": "a", "name": "A", "parent": "b"},  # 0, 1: a cycle made only by the list
        {"code": "b", "name": "B", "parent": "a"},
        {"code": "c", "name": "C", "parent": "nowhere"},  # 2: unknown parent
        {"code": "sales", "formula": "visits * clicks"},  # 3: not a child
        {"code": "cvr", "name": "CVR2"},
        {"code": "cvr", "name": "CVR3"},  # 5: the same code twice
        {"code": "d", "name": "D", "colour": "red"},  # 6: unknown field
        {"code": "ok", "name": "問題なし", "parent": "sales"},
    ]
    r = mgr_api.put(REV, rows)
    assert r.status_code == 400
    assert errors_of(r) == [
        {"index": 0, "field": "parent"},
        {"index": 1, "field": "parent"},
        {"index": 2, "field": "parent"},
        {"index": 3, "field": "formula"},
        {"index": 5, "field": "code"},
        {"index": 6, "field": "colour"},
    ]
    assert (counts(Node), version()) == before
    assert Node.objects.get(code="cvr").name == "CVR"
    assert Node.objects.get(code="sales").formula == FORMULA


@pytest.mark.parametrize(
    "row,fields",
    [
        ({"code": "bad code!"}, ["code"]),
        ({"name": ""}, ["name"]),
        ({"name": "a\x00b"}, ["name"]),
        ({"parent": "sal\x00es"}, ["parent"]),
        ({"name": ["x"]}, ["name"]),
        ({"parent": 5}, ["parent"]),
        ({"engagement": "NOPE-1"}, ["engagement"]),
        ({"kind": "okr", "direction": "sideways"}, ["kind", "direction"]),
        ({"importance": 6}, ["importance"]),
        ({"importance": 2.5}, ["importance"]),
        ({"weight": "heavy"}, ["weight"]),
        ({"weight": True}, ["weight"]),
        ({"benchmark": "nan"}, ["benchmark"]),
        ({"rollup": "median"}, ["rollup"]),
        ({"time_aggregation": "recompute"}, ["time_aggregation"]),
        ({"formula": "1 + 1"}, ["formula"]),
        ({"green_threshold": 80, "amber_threshold": 90}, ["amber_threshold"]),
        ({"rollup": "formula", "formula": "visits * 2"}, ["formula"]),
        ({"rollup": "formula", "formula": "__import__('os')"}, ["formula"]),
    ],
)
def test_it_refuses_a_bad_new_node(mgr_api, rev_tree, row, fields):
    rows = [
        {"code": "fine", "name": "問題なし", "parent": "sales"},
        {"code": "leads", "name": "リード数", "parent": "sales", **row},
    ]
    r = mgr_api.put(REV, rows)
    assert r.status_code == 400
    assert errors_of(r) == [{"index": 1, "field": f} for f in fields]
    assert counts(Node) == {"Node": 5}


def test_it_checks_a_formula_against_the_children_after_the_sync(mgr_api, rev_tree):
    # cvr leaves sales, whose formula names it: refused, as for a single move.
    r = mgr_api.put(REV, [{"code": "cvr", "parent": "visits"}])
    assert r.status_code == 400
    assert errors_of(r) == [{"index": 0, "field": "parent"}]
    # Accepted when the same list changes the formula; the new one may name a new child.
    rows = [
        {"code": "cvr", "parent": "visits"},
        {"code": "sales", "formula": "visits * avg_price + bonus"},
        {"code": "bonus", "name": "特別売上", "parent": "sales"},
    ]
    r = mgr_api.put(REV, rows)
    assert r.json() == {"created": 1, "updated": 2, "unchanged": 0}
    assert Node.objects.get(code="cvr").parent.code == "visits"
    assert Node.objects.get(code="sales").formula == "visits * avg_price + bonus"


def test_it_refuses_a_move_under_a_descendant(mgr_api, rev_tree):
    rows = [{"code": "web", "name": "Web", "parent": "visits"}, {"code": "sales", "parent": "web"}]
    r = mgr_api.put(REV, rows)
    assert r.status_code == 400
    # Both links of the list close the cycle sales → web → visits → sales: both rows are listed.
    assert errors_of(r) == [{"index": 0, "field": "parent"}, {"index": 1, "field": "parent"}]
    r = mgr_api.put(REV, [{"code": "sales", "parent": "visits"}])
    assert errors_of(r) == [{"index": 0, "field": "parent"}]
    r = mgr_api.put(REV, [{"code": "sales", "parent": "sales"}])
    assert errors_of(r) == [{"index": 0, "field": "parent"}]
    assert Node.objects.get(code="sales").parent is None
    assert counts(Node) == {"Node": 5}


@pytest.mark.parametrize("body", [{"code": "x", "name": "x"}, [], ["x"], "x"])
def test_it_refuses_a_body_that_is_not_a_list_of_nodes(mgr_api, rev_tree, body):
    r = mgr_api.put(REV, body)
    assert r.status_code == 400
    assert errors_of(r) == [{"index": 0, "field": None}]
    assert counts(Node) == {"Node": 5}


def test_it_lets_only_managers_sync(vendor_api, sv_api, anon_api, rev_tree):
    rows = [{"code": "visits", "name": "x"}, {"code": "new", "name": "x"}]
    assert vendor_api.put(REV, rows).status_code == 403
    assert sv_api.put(REV, rows).status_code == 403
    assert anon_api.put(REV, rows).status_code == 401
    assert counts(Node) == {"Node": 5}
    assert Node.objects.get(code="visits").name == "訪問数"


def test_it_answers_404_for_a_hidden_or_unknown_tree(vendor_api, mgr_api, rev_tree, ads_tree):
    rows = [{"code": "clicks", "name": "x"}]
    assert vendor_api.put("/api/v1/trees/ads/nodes/", rows).status_code == 404
    assert mgr_api.put("/api/v1/trees/nope/nodes/", rows).status_code == 404
    assert Node.objects.get(code="clicks").name == "クリック数"


def test_it_tells_a_vendor_that_lost_a_node(mgr_api, vendor_api, other_vendor_api, rev_tree):
    since = timezone.now().isoformat()
    r = mgr_api.put(REV, [{"code": "avg_price", "engagement": "ADS-1"}])
    assert r.json() == {"created": 0, "updated": 1, "unchanged": 0}
    rows = vendor_api.get(REV, {"updated_since": since}).json()["results"]
    assert [(n["code"], n.get("deleted")) for n in rows] == [("avg_price", True)]
    rows = other_vendor_api.get(REV, {"updated_since": since}).json()["results"]
    assert [(n["code"], n.get("deleted")) for n in rows] == [("avg_price", None)]


def test_it_makes_as_many_queries_for_30_nodes_as_for_10(mgr_api, rev_tree):
    # (More nodes than one insert takes, 35 on SQLite and 1,000 on PostgreSQL, add one insert.)
    def queries(n: int, prefix: str) -> int:
        rows = [{"code": f"{prefix}{i}", "name": "x", "parent": "ad_clicks"} for i in range(n)]
        rows += [
            {"code": f"{prefix}{i}_c", "name": "x", "parent": f"{prefix}{i}"} for i in range(n)
        ]
        rows += [{"code": "cvr", "unit": prefix}, {"code": "visits", "owner": prefix}]
        with CaptureQueriesContext(connection) as ctx:
            assert mgr_api.put(REV, rows).status_code == 200
        return len(ctx.captured_queries)

    assert queries(5, "a") == queries(15, "b")


def test_it_is_in_the_schema(mgr_api):
    paths = mgr_api.get("/api/schema/", {"format": "json"}).json()["paths"]
    put = paths["/api/v1/trees/{tree_code}/nodes/"]["put"]
    assert put["requestBody"]["content"]["application/json"]["schema"]["type"] == "array"
    # The errors, in the format of every error, come from kpi_planner.schema.
    assert set(put["responses"]) == {
        *("200", "400", "401", "403", "404", "409", "413", "415", "422", "429", "500")
    }
