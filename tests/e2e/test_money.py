"""Browser tests of the money pages (issue 14), in Japanese and in English: a manager drafts a
rule set in the editor, back-tests it and adopts it; the vendor disputes a statement line, the
manager answers and the vendor accepts; the money page shows the ROI."""

from __future__ import annotations

import pytest

from engagements.models import User
from money.models import RuleSet, Statement
from money.services import money_settings_update
from tests.e2e.conftest import login
from tests.money.conftest import sla  # noqa: F401  (the fixture, shared with tests/money)

TEXT = {
    "ja": {
        "save_draft": "案を保存",
        "overlap": "区分「95%未満」と「90%以上100%未満」が重なっています。",
        "saved": "案を保存しました。バックテストしてから適用してください。",
        "backtest": "直近12か月でバックテスト",
        "totals": ["現行ルール", "0円", "このルール", "+20,000円", "差額", "+20,000円"],
        "adopt": "ルールセットを適用する",
        "adopted": "採用",
        "dispute": "この行に異議を出す",
        "send": "異議を送る",
        "answer": "回答する",
        "accept": "精算書を承諾する",
        "disputed": "異議あり",
        "awaiting": "外注先の確認待ち",
        "agreed": "合意済み",
        "waiting": "異議のある行がマネージャーの回答待ちです。",
        "adjustment": "-80,000円",
        "invoice": "920,000円",
        "roi": "400.0%\n費用1,000,000円に対して",
        "cpa": "20,000円",
    },
    "en": {
        "save_draft": "Save the draft",
        "overlap": "The bands below 95% and 90% to below 100% overlap.",
        "saved": "The draft is saved. Back-test it, then adopt it.",
        "backtest": "Back-test over the last 12 months",
        "totals": ["Rules in force", "¥0", "This rule set", "+¥20,000", "Difference", "+¥20,000"],
        "adopt": "Adopt the rule set",
        "adopted": "Adopted",
        "dispute": "Dispute this line",
        "send": "Send the dispute",
        "answer": "Answer",
        "accept": "Accept the statement",
        "disputed": "Disputed",
        "awaiting": "Awaiting the vendor",
        "agreed": "Agreed",
        "waiting": "A disputed line is waiting for the manager's answer.",
        "adjustment": "-¥80,000",
        "invoice": "¥920,000",
        "roi": "400.0%\non a cost of ¥1,000,000",
        "cpa": "¥20,000",
    },
}


def as_language(user: User, language: str) -> None:
    user.language = language
    user.save(update_fields=["language"])


def sign_in(page, live_server, user: User) -> None:
    page.context.clear_cookies()
    login(page, live_server, user.username, f"pw-{user.username}")


def messages(page) -> list[str]:
    return page.locator("ul.messages li").all_inner_texts()


@pytest.mark.parametrize("language", ["ja", "en"])
def test_a_manager_drafts_back_tests_and_adopts_a_rule_set(
    page,
    live_server,
    sla,  # noqa: F811
    language,
) -> None:
    t = TEXT[language]
    sla.month("2026-04", appts=95)  # 95 %: −3% of the fee under the draft
    sla.month("2026-05", appts=120)  # 120 %: +5 %
    as_language(sla.manager, language)
    sign_in(page, live_server, sla.manager)
    page.goto(f"{live_server.url}/money/CALL-SLA/rules/new/")
    page.fill("#rs-name", "SLA 2026")
    page.fill("#rs-from", "2026-04")
    page.select_option("#r0-node", str(sla.appts.pk))
    bands = [("110", "", "5"), ("90", "100", "-3"), ("", "95", "-8")]
    for j, (lower, upper, pct) in enumerate(bands):
        page.fill(f"[name=r0-b{j}-lower]", lower)
        page.fill(f"[name=r0-b{j}-upper]", upper)
        page.fill(f"[name=r0-b{j}-pct_of_fee]", pct)
    page.get_by_role("button", name=t["save_draft"]).click()
    page.wait_for_load_state("networkidle")

    rule = page.get_by_test_id("rule-0")
    assert rule.locator(".error").all_inner_texts() == [t["overlap"]]
    assert page.get_by_test_id("rule-1").locator(".error").count() == 0
    assert page.input_value("[name=r0-b2-upper]") == "95"  # what was typed is kept
    assert RuleSet.objects.count() == 0

    page.fill("[name=r0-b2-upper]", "90")
    page.get_by_role("button", name=t["save_draft"]).click()
    page.wait_for_load_state("networkidle")
    rs = RuleSet.objects.get()
    assert page.url == f"{live_server.url}/money/rules/{rs.pk}/"
    assert messages(page) == [t["saved"]]
    assert [
        (str(b.lower), str(b.upper), str(b.pct_of_fee)) for b in rs.rules.get().bands.all()
    ] == [
        ("None", "90.00", "-8.00"),
        ("90.00", "100.00", "-3.00"),
        ("110.00", "None", "5.00"),
    ]

    page.get_by_role("link", name=t["backtest"]).click()
    page.wait_for_load_state("networkidle")
    assert page.url == f"{live_server.url}/money/rules/{rs.pk}/backtest/"
    totals = page.get_by_test_id("backtest-totals")
    assert totals.locator("dt, dd").all_inner_texts() == t["totals"]
    plot = page.locator(".plot").first
    plot.locator("svg").first.wait_for(state="attached")
    assert page.locator(".plot svg.main-svg").count() > 0
    assert page.get_by_test_id("backtest").locator("tbody tr").count() == 2

    page.go_back()
    page.wait_for_load_state("networkidle")
    page.get_by_test_id("adopt").get_by_role("button", name=t["adopt"]).click()
    page.wait_for_load_state("networkidle")
    assert page.url == f"{live_server.url}/money/CALL-SLA/"
    rs.refresh_from_db()
    assert rs.status == "adopted"
    assert page.get_by_test_id("rule-sets").locator("tbody tr .badge").all_inner_texts() == [
        t["adopted"]
    ]
    assert Statement.objects.count() == 2
    assert page.console_errors == []


@pytest.mark.parametrize("language", ["ja", "en"])
def test_the_vendor_disputes_a_line_the_manager_answers_and_the_vendor_accepts(
    page,
    live_server,
    sla,  # noqa: F811
    vendor_user,
    language,
) -> None:
    t = TEXT[language]
    sla.month("2026-04", appts=80)  # 80 %: −8% of the fee
    sla.rules()
    statement = Statement.objects.get()
    as_language(vendor_user, language)
    as_language(sla.manager, language)
    url = f"{live_server.url}/money/statements/{statement.pk}/"

    sign_in(page, live_server, vendor_user)
    page.goto(url)
    status = page.get_by_test_id("statement-status")
    assert status.inner_text() == t["awaiting"]
    assert page.get_by_test_id("adjustment").inner_text() == t["adjustment"]
    assert page.get_by_test_id("invoice").inner_text() == t["invoice"]
    line = page.get_by_test_id("line-0")
    line.locator("summary", has_text=t["dispute"]).click()
    line.locator("textarea[name=d-comment]").fill("4月はリストの納品が遅れました")
    line.get_by_role("button", name=t["send"]).click()
    page.wait_for_load_state("networkidle")
    assert status.inner_text() == t["disputed"]
    assert "4月はリストの納品が遅れました" in page.get_by_test_id("line-0").inner_text()
    assert page.get_by_test_id("accept").count() == 0  # not while a dispute is open
    assert page.get_by_test_id("waiting").inner_text() == t["waiting"]

    sign_in(page, live_server, sla.manager)
    page.goto(url)
    line = page.get_by_test_id("line-0")
    line.locator("textarea[name=x-resolution]").fill("納品遅れは2日のため、調整はそのままです")
    line.get_by_role("button", name=t["answer"]).click()
    page.wait_for_load_state("networkidle")
    assert status.inner_text() == t["awaiting"]
    assert page.get_by_test_id("waiting").count() == 0
    assert "納品遅れは2日のため、調整はそのままです" in page.get_by_test_id("line-0").inner_text()

    sign_in(page, live_server, vendor_user)
    page.goto(url)
    page.get_by_test_id("accept").get_by_role("button", name=t["accept"]).click()
    page.wait_for_load_state("networkidle")
    assert status.inner_text() == t["agreed"]
    statement.refresh_from_db()
    assert statement.status == "agreed"
    assert statement.agreed_by == vendor_user
    assert page.get_by_test_id("accept").count() == 0
    assert page.console_errors == []


@pytest.mark.parametrize("language", ["ja", "en"])
def test_the_money_page_shows_the_roi(
    page,
    live_server,
    sla,  # noqa: F811
    language,
) -> None:
    t = TEXT[language]
    money_settings_update(
        user=sla.manager,
        engagement=sla.engagement,
        gain_node=sla.gain.pk,
        acquired_node=sla.orders.pk,
    )
    sla.month("2026-04", appts=95, gain=5_000_000, orders=50)
    as_language(sla.manager, language)
    sign_in(page, live_server, sla.manager)
    page.goto(f"{live_server.url}/money/CALL-SLA/")
    quarter = page.get_by_test_id("returns-quarter")
    # The quarters run up to the current month; only the first has the gain.
    roi = quarter.get_by_test_id("roi").all_inner_texts()
    assert (roi[0], set(roi[1:]) <= {"—"}) == (t["roi"], True)
    assert quarter.locator("tbody tr").first.locator("td").nth(6).inner_text() == t["cpa"]
    assert page.get_by_test_id("returns-lifetime").get_by_test_id("roi").all_inner_texts() == [
        t["roi"]
    ]
    page.locator(".plot svg.main-svg").first.wait_for(state="attached")
    assert page.console_errors == []
