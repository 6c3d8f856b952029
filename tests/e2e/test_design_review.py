"""Browser test of the editor's design review (issue 13), in Japanese and in English: the badges on
the node cards, the findings panel grouped by severity, a "fix it" link that opens the node's form
on the field that fixes it, acknowledging a finding with a reason and withdrawing it, and the
SMART check in the node panel."""

from __future__ import annotations

import pytest

from engagements.demo import DEMO_PASSWORD, seed_accounts_and_engagements
from engagements.models import User
from kpitree.demo import seed_trees
from kpitree.models import LintAcknowledgement, Node
from tests.e2e.conftest import login

TEXT = {
    "ja": {
        "panel": "設計レビュー",
        "summary": "エラー1件 · 未対応の警告4件",
        "errors": "エラー",
        "acknowledge": "確認済みにする",
        "withdraw": "取り下げる",
        "by": "山田 花子が確認済み",
        "smart": "SMARTチェック",
        "time_bound": "期限（Time-bound）",
    },
    "en": {
        "panel": "Design review",
        "summary": "1 error · 4 warnings open",
        "errors": "Errors",
        "acknowledge": "Acknowledge",
        "withdraw": "Withdraw",
        "by": "Acknowledged by 山田 花子",
        "smart": "SMART check",
        "time_bound": "Time-bound",
    },
}


@pytest.fixture
def demo(transactional_db) -> None:
    seed_accounts_and_engagements()
    seed_trees()
    # 架電数 loses its owner: the one error of the tree.
    Node.objects.filter(tree__code="FY2026-ACQ", code="calls").update(engagement=None, owner="")


@pytest.mark.parametrize("language", ["ja", "en"])
def test_the_design_review_in_the_editor(page, live_server, demo, language) -> None:
    t = TEXT[language]
    User.objects.filter(username="manager").update(language=language)
    login(page, live_server, "manager", DEMO_PASSWORD)
    page.goto(f"{live_server.url}/trees/FY2026-ACQ/")

    # A badge on the card of each node with open findings, coloured by the worst.
    calls_badge = page.locator('.kt-card[data-code="calls"] [data-testid="lint-badge"]')
    assert calls_badge.inner_text() == "⚠ 1"  # no-owner
    assert "sev-error" in (calls_badge.get_attribute("class") or "")
    proposals_badge = page.locator('.kt-card[data-code="proposals"] [data-testid="lint-badge"]')
    assert "sev-warning" in (proposals_badge.get_attribute("class") or "")

    panel = page.get_by_test_id("lint-panel")
    assert t["panel"] in panel.locator("h2").inner_text()
    assert page.get_by_test_id("lint-summary").inner_text() == t["summary"]
    groups = panel.locator("ul.kt-findings")
    assert groups.first.get_attribute("data-severity") == "error"
    assert panel.locator("h3").first.inner_text().startswith(t["errors"])

    # "Fix it" opens the node's form with the owner field focused.
    error = panel.locator('li[data-rule="no-owner"][data-node="calls"]')
    error.get_by_test_id("lint-fix").click()
    page.wait_for_selector('#kt-panel [data-focus="owner"]')
    page.wait_for_function("document.activeElement && document.activeElement.name === 'owner'")

    # Acknowledge the missing risk KPI with a reason: shown greyed with who, and not counted.
    risk = panel.locator('li[data-rule="no-risk-kpi"]')
    risk.locator("input[name=reason]").fill("変更管理は別契約で測定している")
    risk.get_by_role("button", name=t["acknowledge"]).click()
    page.wait_for_load_state("networkidle")
    risk = page.locator('#kt-lint li[data-rule="no-risk-kpi"]')
    assert "is-acknowledged" in (risk.get_attribute("class") or "")
    assert "変更管理は別契約で測定している" in risk.get_by_test_id("lint-ack").inner_text()
    assert t["by"] in risk.get_by_test_id("lint-ack").inner_text()
    assert page.locator('#kt-lint ul[data-severity="acknowledged"] li').count() == 1
    ack = LintAcknowledgement.objects.get()
    assert (ack.rule, ack.node_code, ack.by.username) == ("no-risk-kpi", "", "manager")

    # Withdraw: it nags again; the record stays.
    risk.get_by_role("button", name=t["withdraw"]).click()
    page.wait_for_load_state("networkidle")
    risk = page.locator('#kt-lint li[data-rule="no-risk-kpi"]')
    assert "is-acknowledged" not in (risk.get_attribute("class") or "")
    assert LintAcknowledgement.objects.get().withdrawn_at is not None

    # The node panel shows the SMART check.
    page.locator('.kt-card[data-code="proposals"] a').first.click()
    smart = page.get_by_test_id("smart")
    smart.wait_for()
    assert t["smart"] in smart.inner_text() and t["time_bound"] in smart.inner_text()
    assert smart.locator("li.missing").count() >= 1
    assert page.console_errors == []
