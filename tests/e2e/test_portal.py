"""Vendor portal in the browser, on the demo data: a vendor enters and submits a month, the
manager returns it, the vendor fixes and resubmits, the manager approves, a later write is
refused."""

from __future__ import annotations

import datetime as dt

import pytest

from engagements.demo import DEMO_PASSWORD, seed_accounts_and_engagements
from engagements.models import Submission
from kpitree.demo import seed_trees
from kpitree.models import Actual
from tests.e2e.conftest import login

VALUES = {
    "calls": "3,120",
    "connect_rate": "61",
    "appt_rate": "10.5",
    "meeting_rate": "50",
    "win_rate": "31",
    "csat": "84",
}


PERIOD = dt.date(2026, 10, 1)  # the demo's last month with actuals (and September before it)


@pytest.fixture
def demo(transactional_db) -> str:
    """The demo scenario; returns the URL path of CALL-2026's October 2026."""
    seed_accounts_and_engagements()
    seed_trees()
    return f"/portal/engagements/CALL-2026/{PERIOD:%Y-%m}/"


def switch_user(page, live_server, username: str) -> None:
    page.click(".usermenu summary")
    page.click("text=ログアウト")
    page.wait_for_load_state("networkidle")
    login(page, live_server, username, DEMO_PASSWORD)


def value_input(page, code: str):
    return page.locator(f"tbody[data-node='{code}'] input.value-input")


def test_a_month_goes_from_entry_to_approval_and_is_then_locked(page, live_server, demo):
    page.on("dialog", lambda dialog: dialog.accept())  # "submit this month?"
    login(page, live_server, "vendor", DEMO_PASSWORD)

    # The vendor opens the month from the portal home and sees why each KPI matters.
    page.goto(f"{live_server.url}/portal/")
    page.locator(f"a[href='{demo}']").first.click()
    assert "→ 受注数 → 新規顧客数" in page.locator("tbody[data-node='calls']").inner_text()
    assert value_input(page, "proposals").count() == 0  # fed by improvement proposals
    for code, value in VALUES.items():
        value_input(page, code).fill(value)
    page.fill("tbody[data-node='calls'] textarea[name^='why-']", "オペレーター2名を増員")
    page.fill("tbody[data-node='calls'] textarea[name^='next-']", "新人向けトーク研修を実施")
    page.click("button[value='submit']")
    page.wait_for_load_state("networkidle")
    assert "承認依頼として提出しました。" in page.locator(".messages").inner_text()
    assert "提出済み" in page.locator("[data-testid=month-status]").inner_text()

    # The manager returns it with a reason.
    switch_user(page, live_server, "manager")
    page.goto(f"{live_server.url}/portal/submissions/")
    page.locator(f"a[href='{demo}']").first.click()
    page.fill("#return-reason", "架電数が日報の合計と合いません。再確認してください。")
    page.click("button.return")
    page.wait_for_load_state("networkidle")
    assert "差し戻し" in page.locator("[data-testid=month-status]").inner_text()

    # The vendor sees why, fixes the number and resubmits.
    switch_user(page, live_server, "vendor")
    page.goto(f"{live_server.url}/portal/")
    assert "架電数が日報の合計と合いません" in page.locator(".alert-returned").inner_text()
    page.goto(f"{live_server.url}{demo}")
    assert (
        "架電数が日報の合計と合いません"
        in page.locator("[data-testid=returned-reason]").inner_text()
    )
    assert value_input(page, "calls").input_value() == "3120"
    value_input(page, "calls").fill("3080")
    page.click("button[value='submit']")
    page.wait_for_load_state("networkidle")
    assert "提出済み" in page.locator("[data-testid=month-status]").inner_text()

    # The manager approves: the month is locked.
    switch_user(page, live_server, "manager")
    page.goto(f"{live_server.url}{demo}")
    page.click("button.approve")
    page.wait_for_load_state("networkidle")
    assert "承認済み" in page.locator("[data-testid=month-status]").inner_text()

    # A later write is refused: the grid is read-only, and an upload is turned away.
    switch_user(page, live_server, "vendor")
    page.goto(f"{live_server.url}{demo}")
    assert page.locator("input.value-input").count() == 0
    assert page.locator("[data-testid=locked]").is_visible()
    page.goto(f"{live_server.url}{demo}upload/")
    page.set_input_files(
        "input[type=file]",
        files=[
            {
                "name": "実績.csv",
                "mimeType": "text/csv",
                "buffer": "node,value\ncalls,9999\n".encode("cp932"),
            }
        ],
    )
    page.click("form.card button[type=submit]")
    page.wait_for_load_state("networkidle")
    assert (
        "承認済みでロックされています" in page.locator("[data-testid=upload-errors]").inner_text()
    )
    assert page.console_errors == []

    period = PERIOD
    assert (
        Actual.objects.get(node__code="calls", node__tree__code="FY2026-ACQ", period=period).value
        == 3080
    )
    assert Submission.objects.get(engagement__code="CALL-2026", period=period).status == "approved"


def test_a_bad_cell_is_explained_next_to_it_and_nothing_is_saved(page, live_server, demo):
    login(page, live_server, "vendor", DEMO_PASSWORD)
    page.goto(f"{live_server.url}{demo}")
    before = value_input(page, "connect_rate").input_value()
    value_input(page, "calls").fill("たくさん")
    value_input(page, "connect_rate").fill("70")
    page.click("button[value='save']")
    page.wait_for_load_state("networkidle")
    assert (
        page.locator("tbody[data-node='calls'] .cell-error").inner_text()
        == "「たくさん」は数値ではありません。"
    )
    assert value_input(page, "calls").input_value() == "たくさん"
    page.goto(f"{live_server.url}{demo}")
    assert value_input(page, "connect_rate").input_value() == before
    assert page.console_errors == []


def test_the_change_against_last_month_follows_the_typing(page, live_server, demo):
    login(page, live_server, "vendor", DEMO_PASSWORD)
    page.goto(f"{live_server.url}{demo}")
    last = value_input(page, "calls").get_attribute("data-last")
    value_input(page, "calls").fill(str(int(float(last)) * 2))
    assert page.locator("tbody[data-node='calls'] [data-change]").inner_text() == "+100.0%"


def test_a_submitted_month_is_withdrawn_before_it_is_corrected(page, live_server, demo):
    page.on("dialog", lambda dialog: dialog.accept())  # "submit?" and "withdraw?"
    login(page, live_server, "vendor", DEMO_PASSWORD)
    page.goto(f"{live_server.url}{demo}")
    for code, value in VALUES.items():
        value_input(page, code).fill(value)
    page.click("button[value='submit']")
    page.wait_for_load_state("networkidle")

    # Awaiting approval: the numbers cannot be changed, only the submission withdrawn.
    assert page.locator("input.value-input").count() == 0
    assert "承認待ち" in page.locator("[data-testid=awaiting]").inner_text()
    page.click("button.withdraw")
    page.wait_for_load_state("networkidle")
    assert "提出を取り下げました" in page.locator(".messages").inner_text()
    assert "下書き" in page.locator("[data-testid=month-status]").inner_text()
    value_input(page, "calls").fill("3080")
    page.click("button[value='submit']")
    page.wait_for_load_state("networkidle")
    assert "提出済み" in page.locator("[data-testid=month-status]").inner_text()
    assert page.console_errors == []

    from engagements.models import Notification, SubmissionEvent

    assert Notification.objects.filter(recipient__username="manager", kind="withdrawn").count() == 1
    assert list(
        SubmissionEvent.objects.filter(engagement__code="CALL-2026", period=PERIOD)
        .order_by("at")
        .values_list("action", flat=True)
    ) == ["submit", "withdraw", "submit"]
