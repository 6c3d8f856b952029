"""Browser tests of the PDCA loop (issue 13), in Japanese and in English: a manager opens a
corrective action from an off-track KPI and the vendor closes it with evidence; a manager records
a review with a finding; the editor's design review acknowledges a finding."""

from __future__ import annotations

import pytest

from engagements.demo import DEMO_PASSWORD, seed_accounts_and_engagements
from engagements.models import User
from kpitree.demo import seed_trees
from kpitree.models import Rollup, Tree
from kpitree.recompute import tree_recompute
from kpitree.services import targets_record
from pdca.models import Action
from tests.e2e.conftest import login

TEXT = {
    "ja": {
        "open": "是正アクションを起票",
        "submit": "アクションを起票する",
        "save": "保存",
        "record": "レビューを記録する",
        "save_findings": "所見を保存する",
        "acknowledge": "確認済みにする",
    },
    "en": {
        "open": "Open a corrective action",
        "submit": "Open the action",
        "save": "Save",
        "record": "Record the review",
        "save_findings": "Save the findings",
        "acknowledge": "Acknowledge",
    },
}


@pytest.fixture
def demo(transactional_db) -> None:
    seed_accounts_and_engagements()
    seed_trees()
    tree = Tree.objects.get(code="FY2026-ACQ")
    # 架電数 far below a raised October target: off track.
    targets_record(
        user=User.objects.get(username="manager"),
        tree=tree,
        rows=[{"node": "calls", "period": "2026-10", "value": 99999, "reason": "e2e"}],
        channel="system",
    )
    tree_recompute(tree_id=tree.pk)
    assert (
        Rollup.objects.get(
            node__tree=tree, node__code="calls", grain="month", period="2026-10-01"
        ).status
        == "red"
    )


def as_language(username: str, language: str) -> None:
    User.objects.filter(username=username).update(language=language)


@pytest.mark.parametrize("language", ["ja", "en"])
def test_a_corrective_action_from_an_off_track_kpi_closed_by_the_vendor(
    page, live_server, demo, language
) -> None:
    t = TEXT[language]
    as_language("manager", language)
    as_language("vendor", language)
    login(page, live_server, "manager", DEMO_PASSWORD)
    page.goto(f"{live_server.url}/scorecards/trees/FY2026-ACQ/kpis/calls/")
    page.get_by_role("link", name=t["open"]).click()
    page.wait_for_load_state("networkidle")
    page.fill("#id_title", "架電リストを入れ替える")
    page.fill("#id_due_on", "2026-12-15")
    page.get_by_role("button", name=t["submit"]).click()
    page.wait_for_load_state("networkidle")
    assert page.locator("h1").inner_text().startswith("架電リストを入れ替える")
    action = Action.objects.get()
    assert (action.source, action.node.code) == ("off_track", "calls")

    page.context.clear_cookies()
    login(page, live_server, "vendor", DEMO_PASSWORD)
    page.goto(f"{live_server.url}/portal/")
    page.get_by_role("link", name="架電リストを入れ替える").click()
    page.wait_for_load_state("networkidle")
    page.select_option("#id_status", "done")
    page.get_by_role("button", name=t["save"]).click()
    page.wait_for_load_state("networkidle")
    assert page.locator("#id_evidence + small, .error").first.is_visible()
    action.refresh_from_db()
    assert action.status == "open"  # no evidence: refused, nothing written
    page.select_option("#id_status", "done")
    page.fill("#id_evidence", "新リストで11月の接続率 +3pt")
    page.get_by_role("button", name=t["save"]).click()
    page.wait_for_load_state("networkidle")
    action.refresh_from_db()
    assert (action.status, action.evidence) == ("done", "新リストで11月の接続率 +3pt")
    assert page.get_by_test_id("action-history").locator(":scope > li").count() == 2
    assert page.console_errors == []


@pytest.mark.parametrize("language", ["ja", "en"])
def test_a_review_with_a_finding_and_the_design_review_in_the_editor(
    page, live_server, demo, language
) -> None:
    t = TEXT[language]
    as_language("manager", language)
    login(page, live_server, "manager", DEMO_PASSWORD)
    page.goto(f"{live_server.url}/pdca/engagements/CALL-2026/reviews/")
    page.select_option("#id_kind", "monthly")
    page.fill("#id_held_on", "2026-11-05")
    page.get_by_role("button", name=t["record"]).click()
    page.wait_for_load_state("networkidle")
    page.get_by_test_id("findings").locator("textarea").first.fill("リストの質が低下")
    page.get_by_role("button", name=t["save_findings"]).click()
    page.wait_for_load_state("networkidle")
    assert (
        page.get_by_test_id("findings").locator("textarea").first.input_value()
        == "リストの質が低下"
    )

    page.goto(f"{live_server.url}/trees/FY2026-ACQ/")
    panel = page.get_by_test_id("lint-panel")
    assert panel.is_visible()
    assert page.get_by_test_id("lint-badge").count() > 0
    finding = panel.locator("li.kt-finding").filter(has=page.locator("form.kt-ack-form")).first
    finding.locator("input[name=reason]").fill("意図的に残す")
    finding.get_by_role("button", name=t["acknowledge"]).click()
    page.wait_for_load_state("networkidle")
    assert page.get_by_test_id("lint-panel").locator("li.is-acknowledged").count() == 1
    assert page.console_errors == []
