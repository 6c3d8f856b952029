"""Browser test of the commitments (共通の約束, issue 15), in Japanese and in English: the manager
adds a commitment and assesses an approved month on the checks grid; the vendor finds that month
closed to its self-assessment and self-assesses October instead."""

from __future__ import annotations

import pytest

from engagements.demo import DEMO_PASSWORD, seed_accounts_and_engagements
from engagements.models import User
from kpitree.demo import seed_trees
from portal.demo import seed_submissions
from scorecard.commitment_demo import seed_commitments
from scorecard.models import Commitment, CommitmentCheck
from tests.e2e.conftest import login

pytestmark = pytest.mark.urls("tests.scorecard.test_commitments_urls")


@pytest.fixture
def demo(transactional_db) -> None:
    seed_accounts_and_engagements()
    seed_trees()
    seed_submissions()
    seed_commitments()


def as_language(username: str, language: str) -> None:
    User.objects.filter(username=username).update(language=language)


@pytest.mark.parametrize("language", ["ja", "en"])
def test_the_manager_checks_a_month_and_the_vendor_self_assesses(
    page, live_server, demo, language
) -> None:
    as_language("manager", language)
    as_language("vendor", language)
    deadline = Commitment.objects.get(engagement__code="CALL-2026", text="納期を守る")
    base = f"{live_server.url}/scorecards/engagements/CALL-2026/commitments/"

    login(page, live_server, "manager", DEMO_PASSWORD)
    page.goto(base)
    assert page.locator("html").get_attribute("lang") == language
    assert page.get_by_test_id("commitments").locator("tbody tr").count() == 2
    form = page.get_by_test_id("commitment-add")
    form.locator("#id_text").fill("報告書を期日までに提出する")
    form.locator("button[type=submit]").click()
    page.wait_for_load_state("networkidle")
    assert page.get_by_test_id("commitments").locator("tbody tr").count() == 3

    page.goto(f"{base}checks/?period=2026-09")
    assert page.get_by_test_id("month-approved").is_visible()
    row = page.locator(f'[data-testid=commitment-grid] tr[data-commitment="{deadline.pk}"]')
    assert row.locator("td").count() == 6  # April … September
    assert row.locator('td[data-month="2026-09"]').get_attribute("data-assessment") == "met"
    assess = page.get_by_test_id(f"assess-{deadline.pk}")
    assess.locator("select").select_option("not_met")
    assess.locator("textarea").fill("納品が2日遅延")
    assess.locator("button[type=submit]").click()
    page.wait_for_load_state("networkidle")
    cell = page.locator(
        f'[data-testid=commitment-grid] tr[data-commitment="{deadline.pk}"] td[data-month="2026-09"]'
    )
    assert cell.get_attribute("data-assessment") == "not_met"
    assert "status-red" in cell.locator(".status").get_attribute("class")
    check = CommitmentCheck.objects.get(commitment=deadline, period="2026-09-01")
    assert (check.manager_assessment, check.manager_note) == ("not_met", "納品が2日遅延")
    assert page.console_errors == []

    page.context.clear_cookies()
    login(page, live_server, "vendor", DEMO_PASSWORD)
    page.goto(f"{base}checks/?period=2026-09")
    assert page.get_by_test_id(f"self-assess-{deadline.pk}").count() == 0  # approved: closed
    page.goto(f"{base}checks/?period=2026-10")
    self_assess = page.get_by_test_id(f"self-assess-{deadline.pk}")
    self_assess.locator("select").select_option("partly")
    self_assess.locator("textarea").fill("1件遅延")
    self_assess.locator("button[type=submit]").click()
    page.wait_for_load_state("networkidle")
    check = CommitmentCheck.objects.get(commitment=deadline, period="2026-10-01")
    assert (check.vendor_assessment, check.vendor_note, check.manager_assessment) == (
        "partly",
        "1件遅延",
        "",
    )
    assert (
        "1件遅延" in page.get_by_test_id(f"check-{deadline.pk}").locator("dd").nth(1).inner_text()
    )
    assert page.console_errors == []
