import datetime as dt
import json

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from kpi_planner.models import Tombstone
from kpitree import recompute, services
from kpitree.models import Actual, Node, Target, Tree
from kpitree.services import actuals_record, targets_record
from tests.factories import TreeFactory
from tests.kpitree.conftest import row


def client_for(user, language: str | None = None) -> Client:
    if language:
        user.language = language
        user.save(update_fields=["language"])
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def recorded(manager, tree, revenue, django_capture_on_commit_callbacks):
    """The worked example of DOMAIN.md for April 2026, recomputed: 売上 = 10,000,000円."""
    rows = [
        row("visits", "2026-04", 50_000),
        row("cvr", "2026-04", 2),
        row("avg_price", "2026-04", 10_000),
    ]
    with django_capture_on_commit_callbacks(execute=True):
        actuals_record(user=manager, rows=rows, channel="web")
    return revenue


# -- who sees what ----------------------------------------------------------------------------


def test_it_sends_anonymous_visitors_to_the_login_page(client, tree):
    response = client.get("/trees/FY2026/")
    assert (response.status_code, response.url) == (302, "/login/?next=/trees/FY2026/")


def test_it_shows_the_manager_the_tree_with_its_computed_values(manager, recorded):
    response = client_for(manager).get("/trees/FY2026/")
    rows = {r["code"]: r for r in response.context["view"].rows}
    assert [r["code"] for r in response.context["view"].rows] == [
        "sales", "visits", "cvr", "avg_price", "ads_cpa",
    ]  # fmt: skip
    assert rows["sales"]["actual"] == "10,000,000円"
    assert rows["visits"]["depth"] == 1
    assert response.context["view"].period == dt.date(2026, 4, 1)
    assert 'data-act="edit"' in response.content.decode()


def test_it_shows_supervisors_the_tree_read_only(supervisor, recorded):
    response = client_for(supervisor).get("/trees/FY2026/")
    assert response.status_code == 200
    assert response.context["can_edit"] is False
    assert 'data-act="edit"' not in response.content.decode()
    assert client_for(supervisor).post("/trees/FY2026/nodes/visits/", {}).status_code == 403


def test_a_vendor_sees_only_the_nodes_it_owns(vendor_user, recorded):
    response = client_for(vendor_user).get("/trees/FY2026/")
    assert [r["code"] for r in response.context["view"].rows] == ["visits", "cvr"]
    assert client_for(vendor_user).get("/trees/FY2026/nodes/sales/").status_code == 404


def test_a_vendor_owning_nothing_in_the_tree_gets_404(manager, tree, revenue, vendor_user):
    Node.objects.filter(engagement__vendor=vendor_user.vendor).update(engagement=None)
    assert client_for(vendor_user).get("/trees/FY2026/").status_code == 404


def test_a_vendor_may_not_change_a_tree_it_sees(vendor_user, recorded):
    response = client_for(vendor_user).post("/trees/FY2026/nodes/visits/move/", {"parent": ""})
    assert response.status_code == 403
    assert Node.objects.get(code="visits").parent.code == "sales"


# -- the tree list --------------------------------------------------------------------------------


def test_a_manager_creates_a_tree(manager, db):
    response = client_for(manager).post(
        "/trees/",
        {
            "code": "FY2027",
            "name": "FY2027 売上",
            "start_month": "2027-04",
            "end_month": "2028-03",
            "fiscal_year_start": "4",
        },
    )
    assert (response.status_code, response.url) == (302, "/trees/FY2027/")
    tree = Tree.objects.get(code="FY2027")
    assert (tree.start_month, tree.end_month) == (dt.date(2027, 4, 1), dt.date(2028, 3, 1))


def test_it_shows_a_bad_month_beside_the_field_and_creates_nothing(manager, db):
    response = client_for(manager).post(
        "/trees/",
        {
            "code": "FY2027",
            "name": "x",
            "start_month": "2027-04",
            "end_month": "2026-03",
            "fiscal_year_start": "4",
        },
    )
    assert response.status_code == 200
    assert list(response.context["form"].errors) == ["end_month"]
    assert Tree.objects.count() == 0


def test_only_managers_create_trees(supervisor, db):
    response = client_for(supervisor).post("/trees/", {"code": "X", "name": "x"})
    assert response.status_code == 403
    assert Tree.objects.count() == 0


# -- nodes ----------------------------------------------------------------------------------------


def test_it_adds_a_child_kpi_and_recomputes(manager, recorded, django_capture_on_commit_callbacks):
    data = {
        "code": "visits_web", "name": "Web訪問", "kind": "kpi", "parent": "visits", "direction": "up",
        "time_aggregation": "sum", "rollup": "input", "weight": "1", "importance": "3", "position": "0",
        "okr_objective": "Webからの集客を伸ばす", "owner": "マーケティング部",
    }  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(manager).post("/trees/FY2026/new-node/", data, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert json.loads(response["HX-Trigger"]) == {"kpitree-changed": True}
    node = Node.objects.get(code="visits_web")
    assert (node.parent.code, node.okr_objective, node.owner) == (
        "visits",
        "Webからの集客を伸ばす",
        "マーケティング部",
    )
    tree = node.tree
    tree.refresh_from_db()
    assert tree.computed_version == tree.data_version


def test_it_shows_a_bad_formula_beside_the_field_and_keeps_the_old_one(manager, recorded):
    sales = recorded["sales"]
    data = {**node_post_data(sales), "formula": "visits * (cvr"}
    response = client_for(manager).post("/trees/FY2026/nodes/sales/", data)
    assert response.status_code == 200
    assert "formula" in response.context["form"].errors
    assert "kt-field-formula has-error" in response.content.decode()
    assert Node.objects.get(pk=sales.pk).formula == "visits * cvr / 100 * avg_price"


def test_it_shows_a_code_in_use_beside_the_field(manager, recorded):
    data = {**node_post_data(recorded["cvr"]), "code": "visits"}
    response = client_for(manager).post("/trees/FY2026/nodes/cvr/", data)
    assert list(response.context["form"].errors) == ["code"]
    assert Node.objects.filter(code="cvr").exists()


def test_the_parent_select_does_not_offer_the_nodes_own_subtree(manager, recorded):
    response = client_for(manager).get("/trees/FY2026/nodes/sales/")
    offered = [code for code, _label in response.context["form"].fields["parent"].choices]
    assert offered == ["", "ads_cpa"]


def node_post_data(node: Node) -> dict:
    from kpitree.forms import node_initial

    data = node_initial(node)
    return {k: "" if v is None else v for k, v in data.items()}


def test_the_formula_check_gives_the_message_and_its_position(manager, recorded):
    response = client_for(manager, "en").get(
        "/trees/FY2026/formula-check/", {"node": "sales", "formula": "visits * (cvr"}
    )
    assert response.json() == {
        "ok": False,
        "message": "The parenthesis at character 10 is never closed.",
        "position": 9,
        "children": ["visits", "cvr", "avg_price"],
    }


def test_the_formula_check_previews_the_latest_month(manager, recorded):
    response = client_for(manager).get(
        "/trees/FY2026/formula-check/",
        {"node": "sales", "formula": "visits * cvr / 100 * avg_price"},
    )
    preview = response.json()["preview"]
    assert (preview["period"], preview["value"], preview["display"]) == (
        "2026-04",
        10_000_000,
        "10,000,000円",
    )


def test_it_moves_a_node_with_its_subtree(manager, recorded):
    services.node_save(user=manager, node=recorded["sales"], data={"formula": ""})
    response = client_for(manager).post(
        "/trees/FY2026/nodes/visits/move/", {"parent": "ads_cpa"}, HTTP_ACCEPT="application/json"
    )
    assert response.json()["ok"] is True
    assert Node.objects.get(code="visits").parent.code == "ads_cpa"


def test_it_refuses_a_move_under_its_own_child_and_says_why(manager, recorded):
    services.node_save(
        user=manager,
        node=Node(tree=recorded["sales"].tree),
        data={"code": "w", "name": "w", "parent": recorded["visits"]},
    )
    response = client_for(manager, "en").post(
        "/trees/FY2026/nodes/visits/move/", {"parent": "w"}, HTTP_ACCEPT="application/json"
    )
    assert response.status_code == 400
    assert "cycle" in response.json()["message"]
    assert Node.objects.get(code="visits").parent.code == "sales"


def test_it_names_what_a_delete_takes_with_it(manager, recorded):
    targets_record(
        user=manager,
        tree=recorded["sales"].tree,
        rows=[{"node": "sales", "period": "2026-04", "value": 9e6}],
        channel="web",
    )
    response = client_for(manager).get("/trees/FY2026/nodes/sales/delete/")
    impact = response.context["impact"]
    assert (impact.nodes, impact.descendants, impact.actuals, impact.targets) == (4, 3, 3, 1)


def test_it_archives_a_subtree_with_history_after_the_confirmation(manager, recorded):
    response = client_for(manager).post("/trees/FY2026/nodes/sales/delete/")
    assert response.status_code == 302
    assert sorted(Node.objects.values_list("code", flat=True)) == ["ads_cpa"]
    # Nothing recorded is erased: the actuals and their audit stay, with archived nodes.
    assert Actual.objects.count() == 3
    assert Node.all_objects.filter(archived_at__isnull=False).count() == 4
    # The vendor that owned visits and cvr learns of it through its own tombstones.
    assert (
        Tombstone.objects.filter(kind=f"node@{recorded['visits'].engagement.vendor_id}").count()
        == 2
    )


def test_it_refuses_to_delete_a_node_its_parents_formula_uses(manager, recorded):
    response = client_for(manager).post("/trees/FY2026/nodes/cvr/delete/")
    assert response.status_code == 200
    assert response.context["errors"]
    assert Node.objects.filter(code="cvr").exists()


# -- targets ----------------------------------------------------------------------------------------


def twelve_months(values: list, rationale: str = "agreement") -> dict:
    months = [f"2026-{m:02d}" for m in range(4, 13)] + [f"2027-{m:02d}" for m in range(1, 4)]
    data = {"from": "2026-04"}
    for month, value in zip(months, values, strict=True):
        data[f"value_{month}"] = value
        data[f"rationale_{month}"] = rationale
    return data


def test_it_records_twelve_months_of_targets_with_their_rationale(manager, recorded):
    data = twelve_months(["50,000", "５１０００", *["52000"] * 10])
    response = client_for(manager).post("/trees/FY2026/nodes/visits/targets/", data)
    assert response.status_code == 302
    targets = Target.objects.filter(node=recorded["visits"]).order_by("period")
    assert [t.value for t in targets][:3] == [50_000, 51_000, 52_000]
    assert targets.count() == 12
    assert {t.rationale for t in targets} == {"agreement"}


def test_a_bad_month_is_shown_beside_it_and_nothing_is_written(manager, recorded):
    data = twelve_months(["50000", "lots", *[""] * 10])
    response = client_for(manager).post("/trees/FY2026/nodes/visits/targets/", data)
    assert list(response.context["form"].errors) == ["value_2026-05"]
    assert Target.objects.count() == 0


def test_it_warns_when_a_target_is_far_from_the_benchmark_or_the_actuals(manager, recorded):
    visits = recorded["visits"]
    services.node_save(user=manager, node=visits, data={"benchmark": 40_000})
    targets_record(
        user=manager,
        tree=visits.tree,
        rows=[
            {"node": "visits", "period": "2026-05", "value": 52_000},
            {"node": "visits", "period": "2026-06", "value": 90_000},
        ],
        channel="web",
    )
    response = client_for(manager, "en").get("/trees/FY2026/nodes/visits/targets/")
    grid = {m.key: m for m in response.context["form"].months}
    assert grid["2026-05"].warnings == []  # 30 % above 40,000 and 4 % above the April actual
    assert grid["2026-06"].warnings == ["125% above the benchmark", "80% above the recent actuals"]
    assert grid["2026-05"].history == 50_000


# -- the editor page stays at a fixed number of queries ---------------------------------------------


def big_tree(code: str, n: int, manager) -> Tree:
    """A root with ten branches and `n - 11` leaves, values in April, recomputed."""
    tree = TreeFactory(code=code, name=code)
    root = Node.objects.create(tree=tree, code="root", name="root", kind="kgi", rollup="sum")
    branches = Node.objects.bulk_create(
        [Node(tree=tree, code=f"b{i}", name=f"b{i}", parent=root, rollup="sum") for i in range(10)]
    )
    Node.objects.bulk_create(
        [
            Node(tree=tree, code=f"n{i}", name=f"n{i}", parent=branches[i % 10])
            for i in range(n - 11)
        ]
    )
    rows = [row(f"n{i}", "2026-04", i, tree=code) for i in range(n - 11)]
    actuals_record(user=manager, rows=rows, channel="web")
    recompute.tree_recompute(tree_id=tree.pk)
    return tree


@pytest.mark.parametrize("mode", ["tree", "table"])
def test_the_editor_makes_as_many_queries_for_500_nodes_as_for_50(manager, mode):
    client = client_for(manager)
    counts = []
    for code, n in (("SMALL", 50), ("LARGE", 500)):
        big_tree(code, n, manager)
        client.get(f"/trees/{code}/?view={mode}")  # warm the session and caches
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(f"/trees/{code}/?view={mode}")
        assert response.status_code == 200
        assert len(response.context["view"].rows) == n
        counts.append(len(ctx.captured_queries))
    assert counts[0] == counts[1]
    # The page's own queries, and the design review's (nodes, targets, actuals, acknowledgements).
    assert counts[1] <= 11


def test_a_large_tree_opens_as_the_table(manager):
    big_tree("LARGE", 500, manager)
    response = client_for(manager).get("/trees/LARGE/")
    assert response.context["mode"] == "table"


# -- refreshing after a change ----------------------------------------------------------------------


def test_the_fragment_polls_while_the_recompute_is_behind(manager, recorded):
    Tree.objects.filter(code="FY2026").update(data_version=99)
    response = client_for(manager).get("/trees/FY2026/fragment/?poll=3", HTTP_HX_REQUEST="true")
    assert response.context["poll"] == 4
    assert 'hx-trigger="load delay:1s"' in response.content.decode()


def test_the_fragment_stops_polling_once_computed_or_after_a_minute(manager, recorded):
    client = client_for(manager)
    assert client.get("/trees/FY2026/fragment/").context["poll"] is None
    Tree.objects.filter(code="FY2026").update(data_version=99)
    assert client.get("/trees/FY2026/fragment/?poll=60").context["poll"] is None


def test_a_change_in_the_panel_asks_the_tree_to_refresh(manager, recorded):
    data = {**node_post_data(recorded["cvr"]), "name": "コンバージョン率"}
    response = client_for(manager).post("/trees/FY2026/nodes/cvr/", data, HTTP_HX_REQUEST="true")
    assert response["HX-Trigger"] == '{"kpitree-changed": true}'
    assert response.context["notice"]
    assert Node.objects.get(code="cvr").name == "コンバージョン率"


# -- lists and the admin -------------------------------------------------------------------------


def test_the_tree_list_shows_a_vendor_only_its_trees_without_sizes(vendor_user, recorded):
    TreeFactory(code="OTHER", name="other")
    response = client_for(vendor_user).get("/trees/")
    assert [t.code for t in response.context["trees"]] == ["FY2026"]
    assert response.context["counts"] is False
    assert response.context["can_edit"] is False


def test_the_admin_lists_and_edits_the_catalogue(manager, db):
    from kpitree import catalogue_data
    from kpitree.catalogue import KpiTemplate, TemplateNode, TreeTemplate

    catalogue_data.sync(KpiTemplate, TreeTemplate, TemplateNode)
    client = client_for(manager)
    template = TreeTemplate.objects.get(code="call.improvement")
    assert client.get("/admin/kpitree/treetemplate/").status_code == 200
    assert client.get(f"/admin/kpitree/treetemplate/{template.pk}/change/").status_code == 200
    assert client.get("/admin/kpitree/kpitemplate/").status_code == 200


def test_a_manager_adds_a_kpi_to_a_template_in_the_admin_and_a_bad_formula_is_refused(manager, db):
    from kpitree import catalogue_data
    from kpitree.catalogue import KpiTemplate, TemplateNode, TreeTemplate

    catalogue_data.sync(KpiTemplate, TreeTemplate, TemplateNode)
    template = TreeTemplate.objects.get(code="support.launch")
    nodes = list(template.nodes.order_by("position"))
    data = {
        "code": template.code, "outsourcing_type": "support", "phase": "launch", "name_ja": template.name_ja,
        "name_en": template.name_en, "description_ja": "", "description_en": "", "position": "0",
        "nodes-TOTAL_FORMS": str(len(nodes) + 1), "nodes-INITIAL_FORMS": str(len(nodes)),
        "nodes-MIN_NUM_FORMS": "0", "nodes-MAX_NUM_FORMS": "1000",
    }  # fmt: skip
    for i, n in enumerate(nodes):
        data.update({
            f"nodes-{i}-id": str(n.pk), f"nodes-{i}-template": str(template.pk), f"nodes-{i}-position": str(n.position),
            f"nodes-{i}-code": n.code, f"nodes-{i}-kpi": str(n.kpi_id), f"nodes-{i}-parent_code": n.parent_code,
            f"nodes-{i}-rollup": n.rollup, f"nodes-{i}-formula": n.formula, f"nodes-{i}-weight": "1",
            f"nodes-{i}-importance": str(n.importance or ""),
        })  # fmt: skip
    new = len(nodes)
    csat = KpiTemplate.objects.get(code="support.csat")
    data.update({
        f"nodes-{new}-template": str(template.pk), f"nodes-{new}-position": "9", f"nodes-{new}-code": "csat",
        f"nodes-{new}-kpi": str(csat.pk), f"nodes-{new}-parent_code": "", f"nodes-{new}-rollup": "formula",
        f"nodes-{new}-formula": "tickets * 2", f"nodes-{new}-weight": "1", f"nodes-{new}-importance": "",
    })  # fmt: skip
    url = f"/admin/kpitree/treetemplate/{template.pk}/change/"
    client = client_for(manager)
    assert client.post(url, data).status_code == 200  # the form again, with the error
    assert template.nodes.count() == 3
    data[f"nodes-{new}-rollup"], data[f"nodes-{new}-formula"] = "input", ""
    assert client.post(url, data).status_code == 302
    assert template.nodes.get(code="csat").kpi == csat


def test_the_formula_helper_offers_each_child_as_a_formula_writes_it(manager, recorded):
    services.node_save(
        user=manager,
        node=Node(tree=recorded["sales"].tree),
        data={"code": "lp.visits", "name": "LP訪問", "parent": recorded["sales"]},
    )
    response = client_for(manager).get("/trees/FY2026/nodes/sales/")
    assert response.context["child_chips"] == [
        ("visits", "visits"), ("cvr", "cvr"), ("avg_price", "avg_price"), ("lp.visits", "[lp.visits]"),
    ]  # fmt: skip
    assert 'data-code="lp.visits" data-insert="[lp.visits]"' in response.content.decode()
