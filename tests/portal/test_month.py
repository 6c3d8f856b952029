"""The monthly grid: show, save a draft, submit; errors next to the cell, nothing half-saved."""

from __future__ import annotations

import pytest

from engagements.models import Submission, SubmissionEvent
from kpitree.models import Actual, ValueAudit
from kpitree.services import actuals_record
from tests.portal.helpers import OCT, month_rows

URL = "/portal/engagements/CALL-1/2026-10/"


def grid_post(plan, calls="3,100", appt="10.5", why="", next_action="", **extra) -> dict:
    data = {
        f"value-{plan['calls'].pk}": calls,
        f"why-{plan['calls'].pk}": why,
        f"next-{plan['calls'].pk}": next_action,
        f"value-{plan['appt_rate'].pk}": appt,
        f"why-{plan['appt_rate'].pk}": "",
        f"next-{plan['appt_rate'].pk}": "",
        "do": "save",
    }
    data.update(extra)
    return data


def test_it_shows_the_vendor_its_kpis_with_the_path_to_the_kgi(client, vendor_user, plan):
    actuals_record(user=vendor_user, rows=month_rows("2026-09", calls=2900), channel="web")
    client.force_login(vendor_user)
    response = client.get(URL)
    body = response.content.decode()
    assert response.status_code == 200
    assert [r["node"].code for r in response.context["rows"]] == [
        "orders",
        "calls",
        "appt_rate",
        "proposals",
        "adoption",
    ]
    calls = response.context["rows"][1]
    assert calls["path"] == [("orders", "受注数"), ("new_customers", "新規顧客数")]
    assert (calls["target"], calls["last"], calls["typed"]) == ("3,000", "2,900", True)
    assert "→ 受注数 → 新規顧客数" in body
    assert "広告CV" not in body and "社内リード" not in body
    assert f'name="value-{plan["proposals"].pk}"' not in body  # fed automatically
    assert f'name="value-{plan["orders"].pk}"' not in body  # computed


def test_it_puts_the_current_month_first_in_the_month_tabs(client, vendor_user, plan):
    client.force_login(vendor_user)
    tabs = client.get(URL).context["tabs"]
    assert [f"{t['period']:%Y-%m}" for t in tabs[:3]] == ["2026-11", "2026-10", "2026-09"]
    assert f"{tabs[-1]['period']:%Y-%m}" == "2026-04"


def test_it_saves_a_draft_through_the_one_write_path(client, vendor_user, plan):
    client.force_login(vendor_user)
    response = client.post(URL, grid_post(plan, why="新人2名が戦力化", next_action="トーク改善"))
    assert response.status_code == 302
    calls = Actual.objects.with_status().get(node=plan["calls"], period=OCT)
    assert (calls.value, calls.comment, calls.status) == (
        3100,
        "新人2名が戦力化\n▶ トーク改善",
        "draft",
    )
    audit = ValueAudit.objects.get(node=plan["calls"], period=OCT, kind="actual")
    assert (audit.user, audit.channel, audit.new_value) == (vendor_user, "web", 3100)
    assert Submission.objects.get(engagement__code="CALL-1", period=OCT).status == "draft"


def test_it_shows_the_comment_and_next_action_again(client, vendor_user, plan):
    client.force_login(vendor_user)
    client.post(URL, grid_post(plan, why="増えた理由", next_action="次の一手"))
    row = client.get(URL).context["rows"][1]
    assert (row["value_text"], row["why"], row["next_action"]) == ("3100", "増えた理由", "次の一手")


def test_it_shows_a_bad_number_next_to_its_cell_and_writes_nothing(client, vendor_user, plan):
    client.force_login(vendor_user)
    response = client.post(URL, grid_post(plan, calls="三千", appt="11"))
    assert response.status_code == 200  # shown again with the errors
    rows = {r["node"].code: r for r in response.context["rows"]}
    assert rows["calls"]["errors"] == ["「三千」は数値ではありません。"]
    assert rows["calls"]["value_text"] == "三千"  # what was typed is kept
    assert rows["appt_rate"]["errors"] == []
    assert Actual.objects.count() == 0
    assert Submission.objects.count() == 0


def test_it_refuses_to_erase_a_saved_value(client, vendor_user, plan):
    client.force_login(vendor_user)
    client.post(URL, grid_post(plan))
    response = client.post(URL, grid_post(plan, calls="", appt="12"))
    assert response.status_code == 200  # shown again with the errors
    assert Actual.objects.get(node=plan["appt_rate"], period=OCT).value == 10.5


def test_it_refuses_a_value_for_a_node_fed_by_proposals(client, vendor_user, plan):
    client.force_login(vendor_user)
    data = grid_post(plan, **{f"value-{plan['proposals'].pk}": "5"})
    response = client.post(URL, data)
    assert response.status_code == 200  # shown again with the errors
    assert response.context["general_errors"]
    assert Actual.objects.count() == 0


def test_it_accepts_numbers_the_way_people_type_them(client, vendor_user, plan):
    client.force_login(vendor_user)
    client.post(URL, grid_post(plan, calls="３，２００", appt="12.5%"))
    values = dict(Actual.objects.values_list("node__code", "value"))
    assert values == {"calls": 3200, "appt_rate": 12.5}


def test_it_refuses_to_submit_an_incomplete_month(client, vendor_user, plan):
    client.force_login(vendor_user)
    response = client.post(URL, grid_post(plan, appt="", do="submit"))
    assert response.status_code == 200  # shown again with the errors
    assert "アポ取得率" in response.context["general_errors"][0]
    assert Actual.objects.count() == 0  # the draft part is not kept either: one transaction
    assert not SubmissionEvent.objects.exists()


def test_it_saves_and_submits_in_one_go(client, vendor_user, plan, mailoutbox):
    client.force_login(vendor_user)
    response = client.post(URL, grid_post(plan, do="submit"))
    assert response.status_code == 302
    sub = Submission.objects.get(engagement__code="CALL-1", period=OCT)
    assert (sub.status, sub.submitted_by) == ("submitted", vendor_user)
    assert set(
        Actual.objects.with_status().filter(period=OCT).values_list("status", flat=True)
    ) == {"submitted"}


def test_it_makes_an_approved_month_read_only_and_refuses_a_forged_write(
    client, vendor_user, manager, plan
):
    from portal import services

    actuals_record(user=vendor_user, rows=month_rows(), channel="web")
    services.submission_submit(user=vendor_user, engagement=plan["calls"].engagement, period=OCT)
    services.submission_approve(user=manager, engagement=plan["calls"].engagement, period=OCT)
    client.force_login(vendor_user)
    page = client.get(URL)
    assert page.context["editable"] is False
    assert f'name="value-{plan["calls"].pk}"' not in page.content.decode()
    response = client.post(URL, grid_post(plan, calls="1"))
    assert response.status_code == 200  # shown again with the errors
    assert "2026-10" in " ".join(
        response.context["general_errors"] + response.context["rows"][1]["errors"]
    )
    assert Actual.objects.get(node=plan["calls"], period=OCT).value == 3000


def test_it_lets_a_supervisor_read_but_not_write(client, supervisor, plan):
    client.force_login(supervisor)
    assert client.get(URL).context["editable"] is False
    assert client.post(URL, {"do": "save"}).status_code == 403


def test_it_answers_404_for_a_month_outside_the_engagement(client, vendor_user, plan):
    client.force_login(vendor_user)
    assert client.get("/portal/engagements/CALL-1/2027-04/").status_code == 404
    assert client.get("/portal/engagements/CALL-1/2026-13/").status_code == 404


@pytest.mark.parametrize("language,text", [("ja", "アポ取得率"), ("en", "Due")])
def test_it_renders_in_the_users_language(client, vendor_user, plan, language, text):
    vendor_user.language = language
    vendor_user.save()
    client.force_login(vendor_user)
    assert text in client.get(URL).content.decode()


def test_it_shows_last_months_value_for_a_computed_kpi(
    client, vendor_user, plan, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):  # the recompute runs on commit
        actuals_record(user=vendor_user, rows=month_rows("2026-09"), channel="web")
    client.force_login(vendor_user)
    orders = client.get(URL).context["rows"][0]
    assert (orders["node"].code, orders["last"], orders["typed"]) == ("orders", "300", False)
    assert orders["older"] == ["—", "—", "—", "—"]  # 2026-08 back to 2026-05: no data
