import pytest

from engagements.demo import DEMO_PASSWORD, seed_accounts_and_engagements
from tests.e2e.conftest import login

NAV = {
    "manager": [
        *("ホーム", "スコアカード", "KPIツリー", "承認", "契約", "外注先"),
        *("相見積もり", "API", "管理画面"),
    ],
    "supervisor": ["ホーム", "スコアカード", "KPIツリー", "契約", "外注先", "相見積もり", "API"],
    "vendor": ["ホーム", "月次報告", "スコアカード", "契約"],
}


@pytest.fixture
def demo(transactional_db) -> None:
    seed_accounts_and_engagements()


def test_it_serves_the_login_page_in_japanese(page, live_server, demo) -> None:
    page.goto(f"{live_server.url}/")
    assert page.url.endswith("/login/?next=/")
    assert page.locator("html").get_attribute("lang") == "ja"
    assert page.locator("h1").inner_text() == "ログイン"
    assert page.title() == "ログイン | KPI Planner"


@pytest.mark.parametrize("username", ["manager", "supervisor", "vendor"])
def test_each_demo_account_sees_its_role_navigation(page, live_server, demo, username) -> None:
    login(page, live_server, username, DEMO_PASSWORD)
    assert page.locator(".mainnav a").all_inner_texts() == NAV[username]
    assert page.console_errors == []


def test_a_vendor_sees_only_its_own_engagements(page, live_server, demo) -> None:
    login(page, live_server, "vendor", DEMO_PASSWORD)
    rows = page.locator("table.data tbody tr")
    assert rows.count() == 1
    assert "新規開拓テレアポ代行" in rows.first.inner_text()


def test_a_wrong_password_shows_a_clear_error(page, live_server, demo) -> None:
    login(page, live_server, "manager", "wrong-password")
    assert "正しいユーザー名とパスワードを入力してください" in page.locator(".error").inner_text()


def test_the_language_switch_is_remembered(page, live_server, demo) -> None:
    login(page, live_server, "supervisor", DEMO_PASSWORD)
    with page.expect_navigation():
        page.select_option("#language-select", "en")
    assert page.locator(".mainnav a").all_inner_texts() == [
        "Home",
        "Scorecards",
        "KPI trees",
        "Engagements",
        "Vendors",
        "Vendor selection",
        "API",
    ]
    page.click(".usermenu summary")
    page.click("text=Log out")
    login(page, live_server, "supervisor", DEMO_PASSWORD)
    assert page.locator("h1").inner_text() == "Welcome, 佐藤 健"
