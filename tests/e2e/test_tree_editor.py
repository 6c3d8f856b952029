"""The KPI tree editor in headless Chromium: build, apply a template, move, formulas, delete.

Celery runs eagerly here (tests/conftest.py), so a change's recompute runs when the request's
transaction commits and the refreshed tree already shows the new values.
"""

import datetime as dt

import pytest

from engagements.demo import DEMO_PASSWORD, seed_accounts_and_engagements
from engagements.models import Engagement, User
from kpitree import catalogue_data, services
from kpitree.catalogue import KpiTemplate, TemplateNode, TreeTemplate
from kpitree.models import Node, Tree
from tests.e2e.conftest import login


@pytest.fixture
def demo(transactional_db) -> User:
    seed_accounts_and_engagements()
    catalogue_data.sync(KpiTemplate, TreeTemplate, TemplateNode)
    return User.objects.get(username="manager")


def make_tree(manager: User, code: str, nodes: list[tuple[str, str | None, dict]]) -> Tree:
    tree = services.tree_create(
        user=manager,
        data={
            "code": code,
            "name": code,
            "start_month": dt.date(2026, 4, 1),
            "end_month": dt.date(2027, 3, 1),
        },
    )
    made: dict[str, Node] = {}
    for node_code, parent, fields in nodes:
        data = {"code": node_code, "name": node_code, "parent": made.get(parent), **fields}
        made[node_code] = services.node_save(user=manager, node=Node(tree=tree), data=data)
    return tree


def open_editor(page, live_server, code: str) -> None:
    login(page, live_server, "manager", DEMO_PASSWORD)
    page.goto(f"{live_server.url}/trees/{code}/")


MARK_OLD = """(selector) => {
    for (const el of document.querySelectorAll(selector)) el.dataset.old = '1';
}"""


def open_panel(page, selector: str) -> None:
    """Click a link that loads the side panel and wait until the new panel is in place."""
    page.evaluate(MARK_OLD, "#kt-panel > *")
    page.click(selector)
    page.wait_for_selector("#kt-panel > .kt-panel-body:not([data-old])")


def save_panel(page, *, refresh: bool = True) -> None:
    """Submit the panel's form; wait for the answer and, after a change, the refreshed tree."""
    page.evaluate(MARK_OLD, "#kt-panel > *, #kt-tree > .kt-status")
    page.click("#kt-panel form[method=post] button[type=submit]")
    page.wait_for_selector("#kt-panel > .kt-panel-body:not([data-old])")
    if refresh:
        page.wait_for_selector("#kt-tree > .kt-status:not([data-old])")


def test_a_manager_builds_the_revenue_tree_and_sees_10_million_yen(page, live_server, demo):
    login(page, live_server, "manager", DEMO_PASSWORD)
    page.goto(f"{live_server.url}/trees/")
    page.fill("#id_code", "REV")
    page.fill("#id_name", "売上計画")
    page.fill("#id_start_month", "2026-04")
    page.fill("#id_end_month", "2027-03")
    page.click(".kt-create button[type=submit]")
    page.wait_for_url(f"{live_server.url}/trees/REV/")

    open_panel(page, ".kt-actionbar a[href$='kind=kgi']")
    page.fill("#id_code", "sales")
    page.fill("#id_name", "売上")
    page.select_option("#id_rollup", "formula")
    page.fill("#id_unit", "円")
    page.fill("#id_okr_objective", "半年以内に売上1,000万円を達成する")
    save_panel(page)
    page.wait_for_selector("#node-sales")
    for code, name, unit in (
        ("visits", "訪問数", "件"),
        ("cvr", "CVR", "%"),
        ("avg_price", "平均単価", "円"),
    ):
        open_panel(page, "#node-sales > .kt-card [data-act=add]")
        assert page.input_value("#id_parent") == "sales"
        page.fill("#id_code", code)
        page.fill("#id_name", name)
        page.fill("#id_unit", unit)
        save_panel(page)
        page.wait_for_selector(f"#node-{code}")

    # The vendor portal records the month's actuals (not part of the editor).
    manager = User.objects.get(username="manager")
    rows = [
        {"tree": "REV", "node": "visits", "period": "2026-04", "value": 50_000},
        {"tree": "REV", "node": "cvr", "period": "2026-04", "value": 2},
        {"tree": "REV", "node": "avg_price", "period": "2026-04", "value": 10_000},
    ]
    services.actuals_record(user=manager, rows=rows, channel="web")

    open_panel(page, "#node-sales > .kt-card [data-act=edit]")
    page.click("#id_formula")
    page.keyboard.type("visits * cvr / 100 * av")
    page.wait_for_selector(".kt-suggest li[data-code=avg_price]")
    page.keyboard.press("Enter")  # takes the offered child code
    assert page.input_value("#id_formula") == "visits * cvr / 100 * avg_price"
    page.wait_for_selector(".kt-formula-preview output:has-text('10,000,000円')")
    save_panel(page)

    page.wait_for_selector("#node-sales .kt-actual:has-text('10,000,000円')")
    assert (
        page.locator("#node-sales .kt-okr")
        .inner_text()
        .endswith("半年以内に売上1,000万円を達成する")
    )
    assert (
        Node.objects.get(tree__code="REV", code="sales").formula == "visits * cvr / 100 * avg_price"
    )
    assert page.console_errors == []


def test_a_manager_applies_the_outbound_call_template_for_the_improvement_phase(
    page, live_server, demo
):
    make_tree(
        demo, "ACQ", [("new_customers", None, {"kind": "kgi", "rollup": "sum", "unit": "件"})]
    )
    open_editor(page, live_server, "ACQ")
    open_panel(page, ".kt-actionbar a[href$='apply-template/']")
    page.select_option("#id_engagement", "CALL-2026")  # outbound call, improvement phase
    assert page.input_value("#id_template") == "call.improvement"
    page.select_option("#id_parent", "new_customers")
    page.fill("#id_prefix", "call_")
    save_panel(page)

    page.wait_for_selector("#node-new_customers #node-call_orders #node-call_appt_rate")
    assert (
        "call_calls * call_connect_rate / 100"
        in page.locator("#node-call_orders .kt-rule").first.inner_text()
    )
    orders = Node.objects.get(tree__code="ACQ", code="call_orders")
    assert (orders.template_code, orders.engagement.code) == ("call.orders", "CALL-2026")
    assert Node.objects.filter(tree__code="ACQ").count() == 9

    values = {
        "calls": 3000,
        "connect_rate": 60,
        "appt_rate": 10,
        "meeting_rate": 50,
        "win_rate": 30,
    }
    services.actuals_record(
        user=demo,
        rows=[
            {"tree": "ACQ", "node": f"call_{c}", "period": "2026-04", "value": v}
            for c, v in values.items()
        ],
        channel="web",
    )
    page.reload()
    assert page.locator("#node-call_orders > .kt-card .kt-actual").inner_text() == "27件"
    assert page.console_errors == []


def test_a_manager_moves_a_subtree_by_drag_and_drop_and_by_the_parent_select(
    page, live_server, demo
):
    make_tree(
        demo,
        "MOVE",
        [
            ("kgi", None, {"kind": "kgi", "rollup": "sum"}),
            ("branch", "kgi", {"rollup": "sum"}),
            ("leaf", "branch", {}),
            ("other", "kgi", {"rollup": "sum"}),
        ],
    )
    open_editor(page, live_server, "MOVE")
    page.click("#node-branch .kt-toggle")  # collapsible: the leaf is hidden, then shown again
    assert page.is_hidden("#node-leaf")
    page.click("#node-branch .kt-toggle")
    assert page.is_visible("#node-leaf")
    page.drag_and_drop("#node-branch > .kt-card", "#node-other > .kt-card")
    page.wait_for_selector("#node-other #node-branch #node-leaf")
    assert Node.objects.get(tree__code="MOVE", code="branch").parent.code == "other"

    # The keyboard way: choose the new parent in the node's form.
    open_panel(page, "#node-branch > .kt-card [data-act=edit]")
    page.select_option("#id_parent", "kgi")
    save_panel(page)
    page.wait_for_selector("#node-kgi > .kt-children > #node-branch #node-leaf")
    assert Node.objects.get(tree__code="MOVE", code="leaf").parent.code == "branch"
    assert page.console_errors == []


def test_a_move_under_its_own_child_is_refused_with_the_reason(page, live_server, demo):
    make_tree(
        demo, "CYCLE", [("kgi", None, {"kind": "kgi", "rollup": "sum"}), ("child", "kgi", {})]
    )
    open_editor(page, live_server, "CYCLE")
    page.drag_and_drop("#node-kgi > .kt-card", "#node-child > .kt-card")
    page.wait_for_selector("#kt-alert:not([hidden])")
    assert "循環" in page.locator("#kt-alert").inner_text()
    assert Node.objects.get(tree__code="CYCLE", code="kgi").parent is None


def test_a_bad_formula_is_rejected_with_the_message_beside_the_field(page, live_server, demo):
    make_tree(
        demo,
        "BAD",
        [
            ("sales", None, {"kind": "kgi", "rollup": "formula"}),
            ("visits", "sales", {}),
            ("cvr", "sales", {}),
        ],
    )
    open_editor(page, live_server, "BAD")
    open_panel(page, "#node-sales > .kt-card [data-act=edit]")
    page.fill("#id_formula", "visits * (cvr")
    live = page.locator(".kt-field-formula .kt-formula-msg.is-bad")
    live.wait_for()
    assert "括弧が閉じられていません" in live.inner_text()
    assert page.get_attribute("#id_formula", "aria-invalid") == "true"

    page.fill("#id_formula", "visits * clicks")
    save_panel(page, refresh=False)
    error = page.locator(".kt-field-formula .kt-field-error")
    assert "clicks" in error.inner_text()
    assert page.get_attribute("#id_formula", "aria-invalid") == "true"
    assert Node.objects.get(tree__code="BAD", code="sales").formula == ""
    assert page.console_errors == []


def test_a_manager_deletes_a_node_after_a_confirmation_that_names_what_goes(
    page, live_server, demo
):
    tree = make_tree(
        demo,
        "DEL",
        [
            ("kgi", None, {"kind": "kgi", "rollup": "sum"}),
            ("branch", "kgi", {"rollup": "sum"}),
            ("a", "branch", {}),
            ("b", "branch", {}),
        ],
    )
    rows = [
        {"tree": "DEL", "node": c, "period": p, "value": 1}
        for c in "ab"
        for p in ("2026-04", "2026-05")
    ]
    services.actuals_record(user=demo, rows=rows, channel="web")
    services.targets_record(
        user=demo,
        tree=tree,
        rows=[{"node": "branch", "period": "2026-04", "value": 3}],
        channel="web",
    )
    open_editor(page, live_server, "DEL")
    open_panel(page, "#node-branch > .kt-card [data-act=edit]")
    open_panel(page, "#kt-panel .kt-panel-links a[href$='/delete/']")
    counts = {
        k: page.inner_text(f"[data-count={k}]") for k in ("descendants", "actuals", "targets")
    }
    assert counts == {"descendants": "2", "actuals": "4", "targets": "1"}
    # The branch has recorded values: it is archived, not erased, and the panel says so.
    assert "保管" in page.inner_text("[data-testid=archives]")
    save_panel(page)
    page.wait_for_selector("#node-branch", state="detached")
    assert sorted(Node.objects.filter(tree=tree).values_list("code", flat=True)) == ["kgi"]
    assert Node.all_objects.filter(tree=tree, archived_at__isnull=False).count() == 3

    # The archived KPIs page lists it; restoring brings the branch back into the editor.
    page.click("[data-testid=archived-link]")
    page.wait_for_selector("[data-testid=archived-nodes]")
    page.click("tr[data-node='branch'] button.restore")
    page.wait_for_selector("#node-branch")
    assert sorted(Node.objects.filter(tree=tree).values_list("code", flat=True)) == [
        "a",
        "b",
        "branch",
        "kgi",
    ]
    assert page.console_errors == []


def test_targets_pasted_from_a_spreadsheet_row_fill_twelve_months(page, live_server, demo):
    make_tree(demo, "TGT", [("calls", None, {"kind": "kgi", "benchmark": 3000})])
    open_editor(page, live_server, "TGT")
    open_panel(page, "#node-calls > .kt-card [data-act=edit]")
    open_panel(page, "#kt-panel .kt-panel-links a[href$='/targets/']")
    row = "\t".join(["3000"] * 11 + ["9000"])
    page.evaluate(
        """(text) => {
            const input = document.querySelector('.kt-target-input');
            const data = new DataTransfer();
            data.setData('text/plain', text);
            input.dispatchEvent(new ClipboardEvent('paste', {clipboardData: data, bubbles: true, cancelable: true}));
        }""",
        row,
    )
    assert page.input_value("#id_value_2027-03") == "9000"
    assert "⚠" in page.inner_text("tr[data-month='2027-03'] .kt-warn")
    page.select_option("[data-rationale-all]", "benchmark")
    save_panel(page)
    page.wait_for_selector("#kt-panel .kt-notice")
    assert Tree.objects.get(code="TGT").nodes.get().targets.count() == 12
    assert page.console_errors == []


def test_supervisors_see_the_tree_read_only(page, live_server, demo):
    make_tree(demo, "RO", [("kgi", None, {"kind": "kgi"})])
    login(page, live_server, "supervisor", DEMO_PASSWORD)
    page.goto(f"{live_server.url}/trees/RO/")
    assert page.locator("#node-kgi").count() == 1
    assert page.locator(".kt-actionbar").count() == 0
    assert page.locator("#node-kgi [draggable]").count() == 0
    open_panel(page, "#node-kgi [data-act=details]")
    assert page.locator("#kt-panel [data-panel=detail]").count() == 1
    assert Engagement.objects.count() > 0
    assert page.console_errors == []
