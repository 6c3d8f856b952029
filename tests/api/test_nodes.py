"""trees/{tree}/nodes/ and trees/{tree}/nodes/{code}/, with the tree's rules (formula, cycle)."""

import pytest
from django.utils import timezone

from kpitree.models import Node
from tests.api.helpers import codes, counts, errors_of

NODES = "/api/v1/trees/plan/nodes/"
FORMULA = "visits * cvr / 100 * avg_price"


@pytest.fixture
def plan(mgr_api, engagement_a):
    """The revenue tree built through the API: KGI sales (formula, no formula yet) over inputs."""
    r = mgr_api.post(
        "/api/v1/trees/",
        {"code": "plan", "name": "売上計画", "start_month": "2026-04", "end_month": "2027-03"},
    )
    assert r.status_code == 201
    r = mgr_api.post(
        NODES,
        {
            "code": "sales",
            "name": "売上高",
            "kind": "kgi",
            "rollup": "formula",
            "unit": "円",
            "perspective": "financial",
        },
    )
    assert r.status_code == 201, r.json()
    for code, name, unit in (
        ("visits", "訪問数", "件"),
        ("cvr", "CVR", "%"),
        ("avg_price", "客単価", "円"),
    ):
        r = mgr_api.post(
            NODES,
            {"code": code, "name": name, "parent": "sales", "engagement": "CALL-1", "unit": unit},
        )
        assert r.status_code == 201, r.json()
    return "plan"


@pytest.fixture
def revenue(mgr_api, plan):
    assert mgr_api.patch(NODES + "sales/", {"formula": FORMULA}).status_code == 200


def test_it_creates_nodes_with_codes_for_parent_and_engagement(mgr_api, plan):
    body = mgr_api.get(NODES + "visits/").json()
    assert {
        k: body[k]
        for k in (
            "code",
            "name",
            "kind",
            "parent",
            "engagement",
            "unit",
            "rollup",
            "direction",
            "time_aggregation",
        )
    } == {
        "code": "visits",
        "name": "訪問数",
        "kind": "kpi",
        "parent": "sales",
        "engagement": "CALL-1",
        "unit": "件",
        "rollup": "input",
        "direction": "up",
        "time_aggregation": "sum",
    }
    assert codes(mgr_api.get(NODES)) == ["sales", "visits", "cvr", "avg_price"]


def test_it_sets_the_revenue_formula(mgr_api, plan):
    r = mgr_api.patch(NODES + "sales/", {"formula": FORMULA})
    assert r.status_code == 200
    assert r.json()["formula"] == FORMULA
    assert Node.objects.get(code="sales").formula == FORMULA


def test_it_keeps_japanese_text_unchanged(mgr_api, plan):
    text = "月内にCRMへ登録された有効商談数（重複・テストを除く）"
    r = mgr_api.patch(NODES + "visits/", {"definition": text, "owner": "営業企画部 佐藤"})
    assert r.status_code == 200
    assert (r.json()["definition"], r.json()["owner"]) == (text, "営業企画部 佐藤")
    assert Node.objects.get(code="visits").definition == text


@pytest.mark.parametrize(
    "formula",
    [
        "visits * clicks",  # not a child
        "visits * cvr / 100 * avg_price * ad_spend",
        "visits * * cvr",  # syntax
        "visits * (cvr",
        "__import__('os')",
        "__import__('os').system('rm -rf /')",
        "visits.__class__",
        "visits ** 2",
    ],
)
def test_it_refuses_a_bad_formula_and_keeps_the_old_one(mgr_api, revenue, formula):
    r = mgr_api.patch(NODES + "sales/", {"formula": formula})
    assert r.status_code == 400
    assert errors_of(r) == [{"field": "formula"}]
    assert Node.objects.get(code="sales").formula == FORMULA


def test_it_refuses_a_formula_on_an_input_node(mgr_api, revenue):
    r = mgr_api.patch(NODES + "visits/", {"formula": "1 + 1"})
    assert r.status_code == 400
    assert errors_of(r) == [{"field": "formula"}]


def test_it_refuses_a_move_under_its_own_descendant(mgr_api, revenue):
    assert (
        mgr_api.post(NODES, {"code": "web", "name": "Web訪問", "parent": "visits"}).status_code
        == 201
    )
    assert (
        mgr_api.post(NODES, {"code": "web_ads", "name": "広告流入", "parent": "web"}).status_code
        == 201
    )
    r = mgr_api.patch(NODES + "web/", {"parent": "web_ads"})
    assert r.status_code == 400
    assert errors_of(r) == [{"field": "parent"}]
    r = mgr_api.patch(NODES + "sales/", {"parent": "sales"})
    assert r.status_code == 400
    assert errors_of(r) == [{"field": "parent"}]
    # visits is also named in sales' formula: both reasons are listed.
    r = mgr_api.patch(NODES + "visits/", {"parent": "web_ads"})
    assert r.status_code == 400
    assert errors_of(r) == [{"field": "parent"}, {"field": "parent"}]
    assert Node.objects.get(code="web").parent.code == "visits"
    assert Node.objects.get(code="sales").parent is None


def test_it_refuses_recompute_on_an_input_node(mgr_api, revenue):
    r = mgr_api.patch(NODES + "cvr/", {"time_aggregation": "recompute"})
    assert r.status_code == 400
    assert errors_of(r) == [{"field": "time_aggregation"}]
    assert Node.objects.get(code="cvr").time_aggregation == "sum"


def test_it_accepts_recompute_on_a_formula_node(mgr_api, revenue):
    r = mgr_api.patch(NODES + "sales/", {"time_aggregation": "recompute"})
    assert r.status_code == 200
    assert r.json()["time_aggregation"] == "recompute"


def test_it_refuses_to_delete_a_child_used_by_the_parents_formula(mgr_api, revenue):
    r = mgr_api.delete(NODES + "cvr/")
    assert r.status_code == 400
    assert errors_of(r) == [{"field": "code"}]
    assert Node.objects.filter(code="cvr").exists()


def test_it_refuses_to_rename_a_child_used_by_the_parents_formula(mgr_api, revenue):
    r = mgr_api.patch(NODES + "cvr/", {"code": "conv_rate"})
    assert r.status_code == 400
    assert errors_of(r) == [{"field": "code"}]


def test_it_deletes_a_subtree(mgr_api, revenue):
    assert (
        mgr_api.post(NODES, {"code": "web", "name": "Web", "parent": "visits"}).status_code == 201
    )
    assert (
        mgr_api.post(NODES, {"code": "web_ads", "name": "広告流入", "parent": "web"}).status_code
        == 201
    )
    assert (
        mgr_api.post(NODES, {"code": "store", "name": "店舗", "parent": "visits"}).status_code
        == 201
    )
    since = timezone.now()
    r = mgr_api.delete(NODES + "web/")
    assert r.status_code == 204
    assert sorted(Node.objects.values_list("code", flat=True)) == [
        "avg_price",
        "cvr",
        "sales",
        "store",
        "visits",
    ]
    assert mgr_api.get(NODES + "web_ads/").status_code == 404
    rows = mgr_api.get(NODES, {"updated_since": since.isoformat()}).json()["results"]
    assert sorted((r["code"], r.get("deleted")) for r in rows) == [("web", True), ("web_ads", True)]


@pytest.mark.parametrize(
    "data,fields",
    [
        ({"code": "bad code!"}, ["code"]),
        ({"parent": "nowhere"}, ["parent"]),
        ({"engagement": "NOPE-1"}, ["engagement"]),
        ({"kind": "okr", "direction": "sideways"}, ["kind", "direction"]),
        ({"importance": 6}, ["importance"]),
        ({"weight": "heavy"}, ["weight"]),
        ({"rollup": "median"}, ["rollup"]),
        ({"rollup": "formula", "formula": "visits * 2"}, ["formula"]),
        ({"benchmark": "nan"}, ["benchmark"]),
    ],
)
def test_it_refuses_a_bad_new_node(mgr_api, plan, data, fields):
    before = counts(Node)
    r = mgr_api.post(NODES, {"code": "leads", "name": "リード数", "parent": "sales", **data})
    assert r.status_code == 400
    assert [e["field"] for e in errors_of(r)] == fields
    assert counts(Node) == before


def test_it_refuses_a_duplicate_code_in_the_tree(mgr_api, plan):
    r = mgr_api.post(NODES, {"code": "visits", "name": "二重"})
    assert r.status_code == 400
    assert len(errors_of(r)) == 1
    assert counts(Node) == {"Node": 4}


def test_it_answers_404_for_an_unknown_tree(mgr_api, plan):
    assert mgr_api.get("/api/v1/trees/nope/nodes/").status_code == 404
    assert mgr_api.post("/api/v1/trees/nope/nodes/", {"code": "x", "name": "x"}).status_code == 404


def test_it_shows_a_vendor_only_its_own_nodes(vendor_api, other_vendor_api, rev_tree, ads_tree):
    assert codes(vendor_api.get("/api/v1/trees/rev/nodes/")) == ["visits", "cvr", "avg_price"]
    assert vendor_api.get("/api/v1/trees/rev/nodes/visits/").status_code == 200
    assert vendor_api.get("/api/v1/trees/rev/nodes/sales/").status_code == 404
    assert vendor_api.get("/api/v1/trees/rev/nodes/ad_clicks/").status_code == 404
    assert vendor_api.get("/api/v1/trees/ads/nodes/").status_code == 404
    assert vendor_api.get("/api/v1/trees/ads/nodes/clicks/").status_code == 404
    assert codes(other_vendor_api.get("/api/v1/trees/rev/nodes/")) == ["ad_clicks"]


def test_it_answers_a_vendor_403_for_its_node_and_404_for_a_hidden_one(
    vendor_api, rev_tree, ads_tree
):
    assert vendor_api.patch("/api/v1/trees/rev/nodes/visits/", {"name": "x"}).status_code == 403
    assert vendor_api.delete("/api/v1/trees/rev/nodes/visits/").status_code == 403
    assert vendor_api.patch("/api/v1/trees/rev/nodes/sales/", {"name": "x"}).status_code == 404
    assert vendor_api.patch("/api/v1/trees/ads/nodes/clicks/", {"name": "x"}).status_code == 404
    assert (
        vendor_api.post("/api/v1/trees/rev/nodes/", {"code": "x", "name": "x"}).status_code == 403
    )
    assert counts(Node) == {"Node": 6}
    assert Node.objects.get(code="visits").name == "訪問数"


def test_it_lets_a_supervisor_read_every_node_but_not_write(sv_api, rev_tree):
    assert codes(sv_api.get("/api/v1/trees/rev/nodes/")) == [
        "sales",
        "visits",
        "cvr",
        "avg_price",
        "ad_clicks",
    ]
    assert sv_api.post("/api/v1/trees/rev/nodes/", {"code": "x", "name": "x"}).status_code == 403
    assert sv_api.patch("/api/v1/trees/rev/nodes/sales/", {"formula": "visits"}).status_code == 403
    assert sv_api.delete("/api/v1/trees/rev/nodes/ad_clicks/").status_code == 403
    assert counts(Node) == {"Node": 5}


def test_it_pages_nodes(mgr_api, rev_tree):
    first = mgr_api.get("/api/v1/trees/rev/nodes/", {"page_size": 2}).json()
    assert [n["code"] for n in first["results"]] == ["sales", "visits"]
    assert first["next"]


def test_it_refuses_a_stale_if_match(mgr_api, revenue):
    etag = mgr_api.get(NODES + "visits/")["ETag"]
    assert mgr_api.patch(NODES + "visits/", {"unit": "人"}, HTTP_IF_MATCH=etag).status_code == 200
    r = mgr_api.patch(NODES + "visits/", {"unit": "回"}, HTTP_IF_MATCH=etag)
    assert r.status_code == 409
    assert errors_of(r) == [{"field": None}]
    assert Node.objects.get(code="visits").unit == "人"
    assert mgr_api.delete(NODES + "visits/", HTTP_IF_MATCH=etag).status_code == 409


def test_it_shows_a_vendor_only_the_deletion_of_its_own_nodes(mgr_api, vendor_api, rev_tree):
    since = timezone.now()
    assert mgr_api.delete("/api/v1/trees/rev/nodes/ad_clicks/").status_code == 204
    assert mgr_api.patch("/api/v1/trees/rev/nodes/sales/", {"formula": "visits"}).status_code == 200
    assert mgr_api.delete("/api/v1/trees/rev/nodes/cvr/").status_code == 204
    rows = vendor_api.get("/api/v1/trees/rev/nodes/", {"updated_since": since.isoformat()}).json()[
        "results"
    ]
    assert [(r["code"], r["deleted"]) for r in rows] == [("cvr", True)]
    rows = mgr_api.get("/api/v1/trees/rev/nodes/", {"updated_since": since.isoformat()}).json()[
        "results"
    ]
    assert [(r["code"], r.get("deleted")) for r in rows] == [
        ("sales", None),
        ("ad_clicks", True),
        ("cvr", True),
    ]


def test_it_reports_the_old_code_of_a_renamed_node_as_deleted(
    mgr_api, vendor_api, other_vendor_api, rev_tree
):
    since = timezone.now()
    r = mgr_api.patch("/api/v1/trees/rev/nodes/ad_clicks/", {"code": "ad_clicks_web"})
    assert r.status_code == 200
    assert r.json()["code"] == "ad_clicks_web"
    rows = other_vendor_api.get(
        "/api/v1/trees/rev/nodes/", {"updated_since": since.isoformat()}
    ).json()["results"]
    assert [(r["code"], r.get("deleted")) for r in rows] == [
        ("ad_clicks_web", None),
        ("ad_clicks", True),
    ]
    assert (
        vendor_api.get("/api/v1/trees/rev/nodes/", {"updated_since": since.isoformat()}).json()[
            "results"
        ]
        == []
    )
