"""Browser test of a review meeting (issue 13), in Japanese and in English: a manager records a
review, a finding on a KPI and a target change with its reason, applies it, and the KPI's
history shows the old target with the reason; retiring a KPI asks first."""

from __future__ import annotations

import datetime as dt

import pytest

from engagements.demo import DEMO_PASSWORD, seed_accounts_and_engagements
from engagements.models import User
from kpitree.demo import seed_trees
from kpitree.models import Node, Target
from pdca.models import Review
from tests.e2e.conftest import login

TEXT = {
    "ja": {
        "record": "レビューを記録する",
        "recorded": "レビューを記録しました。",
        "save_findings": "所見を保存する",
        "add": "決定を追加する",
        "reason_needed": "理由を入力してください（変更とともに記録されます）。",
        "apply": "適用",
        "applied": "決定を適用しました。",
        "status": "適用済み",
        "history": "2026年11月: 3,000件 → 2,700件 — 2026-10-30 のレビュー: 2名退職のため下方修正",
    },
    "en": {
        "record": "Record the review",
        "recorded": "The review is recorded.",
        "save_findings": "Save the findings",
        "add": "Add the decision",
        "reason_needed": "Say why (it is kept with the change).",
        "apply": "Apply",
        "applied": "The decision is applied.",
        "status": "Applied",
        "history": "November 2026: 3,000 件 → 2,700 件 — Review of 2026-10-30: 2名退職のため下方修正",
    },
}


@pytest.fixture
def demo(transactional_db) -> None:
    seed_accounts_and_engagements()
    seed_trees()


@pytest.mark.parametrize("language", ["ja", "en"])
def test_a_manager_records_a_review_with_a_finding_and_applies_a_decision(
    page, live_server, demo, language
) -> None:
    t = TEXT[language]
    User.objects.filter(username="manager").update(language=language)
    calls = Node.objects.get(tree__code="FY2026-ACQ", code="calls")
    login(page, live_server, "manager", DEMO_PASSWORD)
    page.goto(f"{live_server.url}/scorecards/engagements/CALL-2026/")
    page.get_by_test_id("pdca-reviews").get_by_role("link").last.click()
    page.wait_for_load_state("networkidle")
    assert page.url.endswith("/pdca/engagements/CALL-2026/reviews/")

    page.select_option("#id_tree", "FY2026-ACQ")
    page.select_option("#id_kind", "quarterly")
    page.fill("#id_held_on", "2026-10-30")
    page.fill("#id_participants", "山田（発注側）、佐藤（コールナビ）")
    page.get_by_role("button", name=t["record"]).click()
    page.wait_for_load_state("networkidle")
    assert t["recorded"] in page.locator(".messages").inner_text()
    review = Review.objects.get()

    page.fill(f"textarea[name=hypothesis-{calls.pk}]", "オペレーター2名の退職で架電数が減少")
    page.fill(f"textarea[name=next-{calls.pk}]", "11月に2名補充")
    page.get_by_role("button", name=t["save_findings"]).click()
    page.wait_for_load_state("networkidle")
    finding = review.findings.get()
    assert (finding.node, finding.hypothesis, finding.next_action) == (
        calls,
        "オペレーター2名の退職で架電数が減少",
        "11月に2名補充",
    )

    page.select_option("#id_d-kind", "change_target")
    page.select_option("#id_d-node", str(calls.pk))
    page.fill("#id_d-targets", "2026-11 2,700")
    page.get_by_role("button", name=t["add"]).click()
    page.wait_for_load_state("networkidle")
    assert t["reason_needed"] in page.locator(".decision-form").inner_text()
    assert review.decisions.count() == 0  # no reason: refused, nothing written
    page.fill("#id_d-reason", "2名退職のため下方修正")
    page.get_by_role("button", name=t["add"]).click()
    page.wait_for_load_state("networkidle")
    decisions = page.get_by_test_id("decisions")
    decisions.get_by_role("button", name=t["apply"], exact=True).click()
    page.wait_for_load_state("networkidle")
    assert t["applied"] in page.locator(".messages").inner_text()
    assert t["status"] in page.get_by_test_id("decisions").inner_text()
    assert Target.objects.get(node=calls, period=dt.date(2026, 11, 1)).value == 2700

    # Retiring asks first: dismissing the question leaves the decision proposed.
    page.select_option("#id_d-kind", "retire")
    page.select_option("#id_d-node", str(calls.pk))
    page.fill("#id_d-reason", "重複")
    page.get_by_role("button", name=t["add"]).click()
    page.wait_for_load_state("networkidle")
    page.once("dialog", lambda dialog: dialog.dismiss())
    page.locator("form[data-confirm] button").click()
    page.wait_for_timeout(300)
    assert review.decisions.get(kind="retire").status == "proposed"
    assert Node.objects.filter(pk=calls.pk).exists()

    page.goto(f"{live_server.url}/scorecards/trees/FY2026-ACQ/kpis/calls/")
    assert t["history"] in page.get_by_test_id("target-changes").inner_text()
    assert page.console_errors == []
