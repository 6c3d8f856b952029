"""The money pages: the engagement's money page, the rule-set editor and its back-test, and a
statement answered by both sides, as each role sees them."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.urls import reverse

from money.models import Charge, RuleSet, Statement

APR = dt.date(2026, 4, 1)


def client_for(user, language: str = "ja") -> Client:
    """A signed-in client reading in `language` (the user's own setting decides the pages')."""
    user.language = language
    user.save(update_fields=["language"])
    c = Client()
    c.force_login(user)
    return c


def test_the_money_page_shows_roi_and_statements(sla, vendor_user) -> None:
    from money.services import money_settings_update

    money_settings_update(
        user=sla.manager,
        engagement=sla.engagement,
        gain_node=sla.gain.pk,
        acquired_node=sla.orders.pk,
    )
    sla.month("2026-04", appts=95, gain=5_000_000, orders=50)
    sla.rules()
    page = client_for(sla.manager).get(reverse("money:engagement", args=["CALL-SLA"]))
    html = page.content.decode()
    assert page.status_code == 200
    assert "400.0%" in html  # (5,000,000 − 1,000,000) ÷ 1,000,000
    assert "20,000円" in html  # CPA = 1,000,000 ÷ 50
    assert "-30,000円" in html
    vendor_page = client_for(vendor_user).get(reverse("money:engagement", args=["CALL-SLA"]))
    assert vendor_page.status_code == 200
    assert "Draft a rule set" not in vendor_page.content.decode()


def test_another_vendor_gets_404(sla, other_vendor_user) -> None:
    sla.month("2026-04", appts=95)
    sla.rules()
    c = client_for(other_vendor_user)
    statement = Statement.objects.get()
    assert c.get(reverse("money:engagement", args=["CALL-SLA"])).status_code == 404
    assert c.get(reverse("money:statement", args=[statement.pk])).status_code == 404
    assert c.get(reverse("money:rule_set", args=[statement.rule_set_id])).status_code == 404


def test_a_bad_charge_is_shown_on_the_form_and_nothing_is_written(sla) -> None:
    page = client_for(sla.manager, "en").post(
        reverse("money:engagement", args=["CALL-SLA"]),
        {"form": "charge", "c-period": "2026-04", "c-amount": "abc", "c-description": "追加"},
    )
    assert page.status_code == 200
    assert "Enter the amount in whole yen (not zero)." in page.content.decode()
    assert Charge.objects.count() == 0


def test_a_supervisor_cannot_add_a_charge(sla, supervisor) -> None:
    page = client_for(supervisor).post(
        reverse("money:engagement", args=["CALL-SLA"]),
        {"form": "charge", "c-period": "2026-04", "c-amount": "1000", "c-description": "x"},
    )
    assert (page.status_code, Charge.objects.count()) == (403, 0)


def test_the_editor_saves_a_draft_and_shows_overlapping_bands_beside_the_rule(sla) -> None:
    c = client_for(sla.manager, "en")
    url = reverse("money:rule_set_new", args=["CALL-SLA"])
    post = {
        "name": "SLA 2026",
        "effective_from": "2026-04",
        "cap_pct": "10",
        "earn_back_months": "0",
        "r0-node": str(sla.appts.pk),
        "r0-b0-lower": "110",
        "r0-b0-pct_of_fee": "5",
        "r0-b1-lower": "90",
        "r0-b1-upper": "100",
        "r0-b1-pct_of_fee": "-3",
        "r0-b2-upper": "95",
        "r0-b2-pct_of_fee": "▲8",
    }
    page = c.post(url, post)
    assert "The bands below 95% and 90% to below 100% overlap." in page.content.decode()
    assert RuleSet.objects.count() == 0
    post["r0-b2-upper"] = "90"
    page = c.post(url, post)
    rs = RuleSet.objects.get()
    assert page.status_code == 302
    assert [
        (str(b.lower), str(b.upper), str(b.pct_of_fee)) for b in rs.rules.get().bands.all()
    ] == [
        ("None", "90.00", "-8.00"),
        ("90.00", "100.00", "-3.00"),
        ("110.00", "None", "5.00"),
    ]


def test_the_back_test_page_shows_the_difference(sla) -> None:
    sla.month("2026-04", appts=95)
    sla.rules()
    draft = RuleSet.objects.create(engagement=sla.engagement, name="案", effective_from=APR)
    page = client_for(sla.manager).get(reverse("money:backtest", args=[draft.pk]))
    html = page.content.decode()
    assert page.status_code == 200
    assert "+30,000円" in html  # a draft with no rules pays nothing: 30,000 less credit


@pytest.mark.parametrize("language", ["ja", "en"])
def test_the_vendor_disputes_and_the_manager_answers_on_the_statement_page(
    sla, vendor_user, language
) -> None:
    sla.month("2026-04", appts=80)
    sla.rules()
    statement = Statement.objects.get()
    vendor = client_for(vendor_user)
    vendor.post(
        reverse("money:statement_dispute", args=[statement.pk]),
        {"d-line": "0", "d-comment": "リスト不備"},
    )
    client_for(sla.manager).post(
        reverse("money:statement_resolve", args=[statement.pk]),
        {"x-line": "0", "x-resolution": "承知しました"},
    )
    vendor.post(reverse("money:statement_accept", args=[statement.pk]))
    statement.refresh_from_db()
    page = client_for(vendor_user, language).get(reverse("money:statement", args=[statement.pk]))
    assert statement.status == "agreed"
    assert ("合意済み" if language == "ja" else "Agreed") in page.content.decode()


def test_the_vendor_home_lists_the_statements_waiting_for_it(
    sla, vendor_user, other_vendor_user
) -> None:
    sla.month("2026-04", appts=95)
    sla.rules()
    home = client_for(vendor_user, "en").get(reverse("portal:home")).content.decode()
    other = client_for(other_vendor_user, "en").get(reverse("portal:home")).content.decode()
    assert "Statements waiting for you" in home
    assert "-¥30,000" in home
    assert "Statements waiting for you" not in other


def test_the_scorecard_links_to_the_money_page(sla, manager) -> None:
    sla.month("2026-04", appts=95)
    sla.rules()
    page = client_for(manager, "en").get(reverse("scorecard:engagement", args=["CALL-SLA"]))
    html = page.content.decode()
    assert "Latest statement April 2026: -¥30,000 (Awaiting the vendor)." in html
    assert reverse("money:engagement", args=["CALL-SLA"]) in html
