"""Issue 10, item 2: deleting a node or a tree never erases recorded values or their audit. A
node with history is archived (gone from editors, grids, rollups and the API, its history kept,
restorable); only an empty one is really deleted."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from rest_framework.test import APIClient

from kpitree.models import Actual, Node, Rollup, Tree, ValueAudit
from kpitree.recompute import tree_recompute
from kpitree.services import actuals_record, node_restore, node_save
from tests.kpitree.conftest import row

APR = dt.date(2026, 4, 1)


@pytest.fixture
def api(manager) -> APIClient:
    client = APIClient()
    client.force_authenticate(manager)
    return client


@pytest.fixture
def recorded(manager, tree, revenue):
    actuals_record(
        user=manager,
        rows=[row("ads_cpa", f"2026-{m:02d}", 5000 + m) for m in range(4, 10)],
        channel="api",
    )
    tree_recompute(tree_id=tree.pk, full=True)
    return revenue


def test_deleting_a_node_with_history_through_the_api_archives_it(api, tree, recorded):
    audit_before = ValueAudit.objects.filter(node=recorded["ads_cpa"]).count()
    response = api.delete("/api/v1/trees/FY2026/nodes/ads_cpa/")
    assert response.status_code == 204
    assert Actual.objects.filter(node=recorded["ads_cpa"]).count() == 6
    assert ValueAudit.objects.filter(node=recorded["ads_cpa"]).count() == audit_before == 6
    assert api.get("/api/v1/trees/FY2026/nodes/ads_cpa/").status_code == 404
    since = api.get("/api/v1/trees/FY2026/nodes/?updated_since=2000-01-01T00:00:00Z").json()
    assert {"code": "ads_cpa", "deleted": True} in [
        {k: n[k] for k in ("code", "deleted")} for n in since["results"] if n.get("deleted")
    ]
    tree_recompute(tree_id=tree.pk, full=False)
    assert not Rollup.objects.filter(node=recorded["ads_cpa"]).exists()
    nodes = api.get("/api/v1/trees/FY2026/rollup/?period=2026-04").json()["nodes"]
    assert "ads_cpa" not in [n["node"] for n in nodes]


def test_an_empty_node_is_really_deleted(api, tree, recorded, manager):
    node_save(user=manager, node=Node(tree=tree), data={"code": "spare", "name": "予備"})
    assert api.delete("/api/v1/trees/FY2026/nodes/spare/").status_code == 204
    assert not Node.all_objects.filter(code="spare").exists()


def test_the_manager_restores_an_archived_node_from_its_page(client, manager, tree, recorded):
    client.force_login(manager)
    client.post("/trees/FY2026/nodes/ads_cpa/delete/")
    page = client.get("/trees/FY2026/archived/").content.decode()
    assert 'data-node="ads_cpa"' in page
    assert "6件の変更履歴" in page  # its history stays readable
    response = client.post("/trees/FY2026/archived/", {"node": "ads_cpa"})
    assert response.status_code == 302
    node = Node.objects.get(code="ads_cpa")
    assert node.archived_at is None
    tree_recompute(tree_id=tree.pk, full=False)
    assert Rollup.objects.get(node=node, grain="month", period=APR).actual == 5004


def test_a_child_cannot_be_restored_before_its_archived_parent(manager, tree, recorded):
    actuals_record(user=manager, rows=[row("visits", "2026-04", 100)], channel="api")
    from kpitree.services import node_delete

    node_delete(user=manager, node=recorded["sales"])
    visits = Node.all_objects.get(code="visits")
    with pytest.raises(ValidationError) as exc:
        node_restore(user=manager, node=visits)
    assert exc.value.message_dict == {"parent": ["salesも保管されています。先に復元してください。"]}
    assert Node.all_objects.get(code="visits").archived_at is not None
    assert node_restore(user=manager, node=Node.all_objects.get(code="sales")) == 4


def test_an_archived_code_cannot_be_reused(api, manager, tree, recorded):
    api.delete("/api/v1/trees/FY2026/nodes/ads_cpa/")
    with pytest.raises(ValidationError) as exc:
        node_save(user=manager, node=Node(tree=tree), data={"code": "ads_cpa", "name": "CPA"})
    assert "保管" in exc.value.message_dict["code"][0]
    response = api.put(
        "/api/v1/trees/FY2026/nodes/", [{"code": "ads_cpa", "name": "CPA"}], format="json"
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "code"
    assert Node.all_objects.filter(code="ads_cpa").count() == 1


def test_deleting_a_tree_with_history_archives_it(api, tree, recorded):
    assert api.delete("/api/v1/trees/FY2026/").status_code == 204
    assert api.get("/api/v1/trees/FY2026/").status_code == 404
    assert Tree.objects.get(pk=tree.pk).archived_at is not None
    assert Actual.objects.filter(node__tree=tree).count() == 6
    listed = api.get("/api/v1/trees/?updated_since=2000-01-01T00:00:00Z").json()["results"]
    assert [(t["code"], t.get("deleted")) for t in listed] == [("FY2026", True)]


def test_the_manager_restores_an_archived_tree_from_the_list(client, api, manager, tree, recorded):
    api.delete("/api/v1/trees/FY2026/")
    client.force_login(manager)
    page = client.get("/trees/").content.decode()
    assert 'data-testid="archived-trees"' in page
    response = client.post("/trees/", {"restore": "FY2026"})
    assert response.status_code == 302
    assert Tree.objects.get(pk=tree.pk).archived_at is None
    assert api.get("/api/v1/trees/FY2026/").status_code == 200


def test_the_confirmation_says_up_front_that_a_formula_input_cannot_go(client, manager, recorded):
    client.force_login(manager)
    panel = client.get("/trees/FY2026/nodes/cvr/delete/").content.decode()
    assert "salesの計算式で使われています" in panel
    assert "kt-danger-button" not in panel  # no button that would fail after the click
