"""Qualitative commitments (共通の約束, issue 15): the manager's monthly checks and the vendor's
self-assessment, their audit, the stated mapping into the perspective scores, and the pages."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from django.urls import reverse
from django.utils import translation

from engagements.models import Submission, SubmissionStatus
from kpi_planner.errors import ServiceError
from scorecard import commitment_services as services
from scorecard import queries, scoring
from scorecard.models import Commitment, CommitmentCheck, CommitmentCheckEvent

pytestmark = pytest.mark.urls("tests.scorecard.test_commitments_urls")

OCT = dt.date(2026, 10, 1)
SEP = dt.date(2026, 9, 1)


@pytest.fixture
def deadline(manager, engagement_a) -> Commitment:
    return services.commitment_add(
        user=manager, engagement=engagement_a, text="納期を守る", perspective="process", weight=1
    )


@pytest.fixture
def voice(manager, engagement_a) -> Commitment:
    return services.commitment_add(
        user=manager, engagement=engagement_a, text="顧客の声を反映する", perspective="customer"
    )


def approve(engagement, period: dt.date) -> Submission:
    return Submission.objects.create(
        engagement=engagement, period=period, status=SubmissionStatus.APPROVED
    )


# -- services ---------------------------------------------------------------------------------------


def test_it_adds_commitments_in_order_with_an_event(manager, deadline, voice) -> None:
    assert [(c.text, c.position) for c in services.commitments_of(deadline.engagement)] == [
        ("納期を守る", 0),
        ("顧客の声を反映する", 1),
    ]
    event = CommitmentCheckEvent.objects.get(commitment=deadline)
    assert (event.kind, event.user, event.changes) == (
        "added",
        manager,
        {"text": [None, "納期を守る"], "perspective": [None, "process"], "weight": [None, 1.0]},
    )


def test_it_refuses_a_blank_text_and_a_bad_weight_and_writes_nothing(manager, engagement_a) -> None:
    with pytest.raises(ServiceError) as exc:
        services.commitment_add(
            user=manager, engagement=engagement_a, text=" ", perspective="money", weight="101"
        )
    assert sorted(p.field for p in exc.value.problems) == ["perspective", "text", "weight"]
    assert not Commitment.objects.exists()
    assert not CommitmentCheckEvent.objects.exists()


def test_it_refuses_the_same_commitment_twice(manager, engagement_a, deadline) -> None:
    with pytest.raises(ServiceError) as exc:
        services.commitment_add(user=manager, engagement=engagement_a, text="納期を守る")
    assert exc.value.messages == ["この契約には同じ約束がすでにあります。"]
    assert Commitment.objects.count() == 1


def test_it_edits_and_archives_with_the_changes_audited(manager, deadline) -> None:
    services.commitment_edit(
        user=manager, commitment=deadline, text="納期を必ず守る", perspective="", weight="2"
    )
    services.commitment_archive(user=manager, commitment=deadline)
    services.commitment_archive(user=manager, commitment=deadline)  # twice: nothing more
    deadline.refresh_from_db()
    assert (deadline.text, deadline.perspective, deadline.weight) == ("納期を必ず守る", "", 2.0)
    assert deadline.archived_at is not None
    events = list(CommitmentCheckEvent.objects.filter(commitment=deadline))
    assert [e.kind for e in events] == ["added", "changed", "archived"]
    assert events[1].changes == {
        "text": ["納期を守る", "納期を必ず守る"],
        "perspective": ["process", ""],
        "weight": [1.0, 2.0],
    }
    assert services.commitments_of(deadline.engagement) == []


def test_it_records_the_managers_assessment_with_every_change_audited(manager, deadline) -> None:
    services.commitment_assess(
        user=manager, commitment=deadline, period="2026-10", assessment="partly", note="2回遅延"
    )
    services.commitment_assess(
        user=manager, commitment=deadline, period="2026-10", assessment="met", note="2回遅延"
    )
    services.commitment_assess(  # the same again: no event
        user=manager, commitment=deadline, period="2026-10", assessment="met", note="2回遅延"
    )
    check = CommitmentCheck.objects.get()
    assert (check.period, check.manager_assessment, check.manager_note, check.manager_by) == (
        OCT,
        "met",
        "2回遅延",
        manager,
    )
    events = list(CommitmentCheckEvent.objects.filter(kind="assessed"))
    assert [e.changes for e in events] == [
        {
            "period": "2026-10",
            "manager_assessment": ["", "partly"],
            "manager_note": ["", "2回遅延"],
        },
        {"period": "2026-10", "manager_assessment": ["partly", "met"]},
    ]
    assert all(e.commitment_check == check for e in events)


def test_it_refuses_an_unknown_assessment_a_future_month_and_writes_nothing(
    manager, deadline
) -> None:
    with pytest.raises(ServiceError) as exc:
        services.commitment_assess(
            user=manager, commitment=deadline, period="2027-01", assessment="great"
        )
    assert sorted(p.field for p in exc.value.problems) == ["assessment", "period"]
    assert not CommitmentCheck.objects.exists()
    assert CommitmentCheckEvent.objects.filter(kind="assessed").count() == 0


def test_the_manager_may_assess_an_approved_month(manager, deadline, engagement_a) -> None:
    approve(engagement_a, SEP)
    check = services.commitment_assess(
        user=manager, commitment=deadline, period=SEP, assessment="not_met"
    )
    assert check.manager_assessment == "not_met"


def test_the_vendor_self_assesses_an_open_month(vendor_user, deadline) -> None:
    check = services.commitment_self_assess(
        user=vendor_user, commitment=deadline, period="2026-10", assessment="met", note="全件期限内"
    )
    assert (check.vendor_assessment, check.vendor_note, check.vendor_by) == (
        "met",
        "全件期限内",
        vendor_user,
    )
    assert check.manager_assessment == ""
    event = CommitmentCheckEvent.objects.get(kind="self_assessed")
    assert (event.user, event.changes["vendor_assessment"]) == (vendor_user, ["", "met"])


def test_the_vendor_cannot_self_assess_an_approved_month_and_nothing_is_written(
    vendor_user, deadline, engagement_a
) -> None:
    approve(engagement_a, SEP)
    with pytest.raises(ServiceError) as exc:
        services.commitment_self_assess(
            user=vendor_user, commitment=deadline, period="2026-09", assessment="met"
        )
    assert exc.value.messages == ["この月は承認済みのため、自己評価は変更できません。"]
    assert exc.value.status == 409
    assert not CommitmentCheck.objects.exists()
    assert not CommitmentCheckEvent.objects.filter(kind="self_assessed").exists()


@pytest.mark.parametrize("who", ["supervisor", "other_vendor_user", "manager"])
def test_only_the_engagements_vendor_self_assesses(request, who, deadline) -> None:
    user = request.getfixturevalue(who)
    with pytest.raises(ServiceError) as exc:
        services.commitment_self_assess(
            user=user, commitment=deadline, period="2026-10", assessment="met"
        )
    assert exc.value.status == 403
    assert not CommitmentCheck.objects.exists()


@pytest.mark.parametrize("who", ["supervisor", "vendor_user"])
def test_only_managers_add_and_assess(request, who, engagement_a, deadline) -> None:
    user = request.getfixturevalue(who)
    with pytest.raises(ServiceError) as exc:
        services.commitment_add(user=user, engagement=engagement_a, text="品質を守る")
    assert exc.value.status == 403
    with pytest.raises(ServiceError) as exc:
        services.commitment_assess(
            user=user, commitment=deadline, period="2026-10", assessment="met"
        )
    assert exc.value.status == 403
    assert Commitment.objects.count() == 1
    assert not CommitmentCheck.objects.exists()


def test_an_archived_commitment_takes_no_new_check(manager, deadline) -> None:
    services.commitment_archive(user=manager, commitment=deadline)
    with pytest.raises(ServiceError) as exc:
        services.commitment_assess(
            user=manager, commitment=deadline, period="2026-10", assessment="met"
        )
    assert exc.value.messages == ["この約束は保管済みです。"]
    assert not CommitmentCheck.objects.exists()


# -- scoring ------------------------------------------------------------------------------------------


def test_it_maps_the_assessments_to_scores(manager, deadline, voice, engagement_a) -> None:
    services.commitment_assess(user=manager, commitment=deadline, period=OCT, assessment="partly")
    services.commitment_assess(user=manager, commitment=voice, period=OCT, assessment="met")
    services.commitment_assess(user=manager, commitment=voice, period=SEP, assessment="not_met")
    frame = services.commitment_scores([engagement_a.pk], [SEP, OCT])
    got = (
        frame.sort_values(["period", "perspective"])[
            ["period", "perspective", "weight", "achievement", "cap", "status"]
        ]
        .to_numpy()
        .tolist()
    )
    assert got == [
        [SEP, "customer", 1.0, 0.0, 100.0, "red"],
        [OCT, "customer", 1.0, 100.0, 100.0, "green"],
        [OCT, "process", 1.0, 50.0, 100.0, "red"],
    ]


def test_an_unscored_or_self_assessed_only_commitment_gives_no_row(
    manager, vendor_user, engagement_a, deadline
) -> None:
    words = services.commitment_add(user=manager, engagement=engagement_a, text="挨拶を徹底する")
    services.commitment_assess(user=manager, commitment=words, period=OCT, assessment="met")
    # The vendor's self-assessment is shown, never scored.
    services.commitment_self_assess(
        user=vendor_user, commitment=deadline, period=OCT, assessment="met"
    )
    assert services.commitment_scores([engagement_a.pk], [OCT]).empty


def _kpi_frame(engagement, month: dt.date) -> pd.DataFrame:
    """The KPI rows scorecard.services._score_table builds, for one engagement and month."""
    nodes = [n for n in queries.kpi_nodes([engagement.pk]) if n["perspective"]]
    rollups = queries.rollups_at(nodes, [n["id"] for n in nodes], "month", [month])
    return pd.DataFrame(
        [
            {
                "engagement_id": n["engagement_id"],
                "period": month,
                "perspective": n["perspective"],
                "weight": n["weight"],
                "achievement": rollups.get((n["id"], month), {}).get("achievement"),
                "cap": n["tree__score_cap"],
            }
            for n in nodes
        ]
    )


def test_the_perspective_scores_include_the_commitments(
    small, manager, engagement_a, deadline, voice
) -> None:
    # The small scorecard (tests/scorecard/conftest.py): financial 110, customer 80 (cus_a),
    # process missing, learning unscored; overall 95. 納期を守る partly met → process 50;
    # 顧客の声を反映する met → customer (80 + 100) / 2 = 90; overall (110 + 90 + 50) / 3.
    services.commitment_assess(user=manager, commitment=deadline, period=OCT, assessment="partly")
    services.commitment_assess(user=manager, commitment=voice, period=OCT, assessment="met")
    kpis = _kpi_frame(engagement_a, OCT)
    before = scoring.score_table(kpis, ["engagement_id", "period"])
    assert before.loc[(engagement_a.pk, OCT), "overall"] == pytest.approx(95.0)
    frame = pd.concat([kpis, services.commitment_scores([engagement_a.pk], [OCT])])
    table = scoring.score_table(frame, ["engagement_id", "period"])
    row = table.loc[(engagement_a.pk, OCT)]
    assert (row["financial"], row["customer"], row["process"]) == (110.0, 90.0, 50.0)
    assert row["overall"] == pytest.approx(250 / 3)
    assert (row["customer_kpis"], row["process_kpis"]) == (2, 1)


def test_the_scorecard_includes_the_commitments(
    small, manager, engagement_a, deadline, voice
) -> None:
    services.commitment_assess(user=manager, commitment=deadline, period=OCT, assessment="partly")
    services.commitment_assess(user=manager, commitment=voice, period=OCT, assessment="met")
    nodes = queries.kpi_nodes([engagement_a.pk])
    rollups = queries.rollups_at(nodes, [n["id"] for n in nodes], "month", [OCT])
    rows = [
        *queries.kpi_rows(nodes, rollups, "month", OCT),
        *services.commitment_kpi_rows(engagement_a, OCT),
    ]
    card = scoring.build_scorecard(rows, weights=queries.weights_of(engagement_a))
    assert card.perspectives["process"].score == 50.0
    assert card.perspectives["customer"].score == 90.0
    assert card.overall_score == pytest.approx(250 / 3)
    process = card.perspectives["process"].kpis
    assert [(k.name, k.score, k.extra["commitment_id"]) for k in process] == [
        ("納期を守る", 50.0, deadline.pk)
    ]


def test_a_quarter_scores_the_mean_of_its_checked_months(manager, engagement_a, deadline) -> None:
    for month, assessment in [("2026-10", "met"), ("2026-11", "partly")]:
        services.commitment_assess(
            user=manager, commitment=deadline, period=month, assessment=assessment
        )
    rows = services.commitment_kpi_rows(engagement_a, dt.date(2026, 12, 1), grain="quarter")
    assert [(r["achievement"], r["period"]) for r in rows] == [(75.0, OCT)]


def test_the_period_scores_give_one_row_per_commitment_for_the_overview(
    manager, engagement_a, engagement_b, deadline, voice
) -> None:
    for commitment, month, assessment in [
        (deadline, "2026-10", "met"),
        (deadline, "2026-11", "not_met"),
        (voice, "2026-11", "partly"),
    ]:
        services.commitment_assess(
            user=manager, commitment=commitment, period=month, assessment=assessment
        )
    frame = services.commitment_period_scores(
        [engagement_a.pk, engagement_b.pk], dt.date(2026, 11, 1), grain="quarter"
    )
    assert frame[["commitment_id", "period", "perspective", "achievement"]].to_numpy().tolist() == [
        [deadline.pk, OCT, "process", 50.0],
        [voice.pk, OCT, "customer", 50.0],
    ]
    # The overview scores by engagement alone: the frame without its period.
    table = scoring.score_table(frame.drop(columns=["period"]), ["engagement_id"])
    assert table.loc[engagement_a.pk, "overall"] == 50.0


def test_a_commitment_archived_before_a_month_does_not_count_in_it(
    manager, engagement_a, deadline
) -> None:
    services.commitment_assess(user=manager, commitment=deadline, period=OCT, assessment="met")
    services.commitment_archive(user=manager, commitment=deadline)
    # Archived today (December): October's check is history and still counts.
    assert len(services.commitment_scores([engagement_a.pk], [OCT])) == 1
    Commitment.objects.filter(pk=deadline.pk).update(
        archived_at=dt.datetime(2026, 9, 15, tzinfo=dt.UTC)
    )
    assert services.commitment_scores([engagement_a.pk], [OCT]).empty


# -- the monthly report ------------------------------------------------------------------------------------


def test_the_report_rows_give_the_assessment_and_the_notes(
    manager, vendor_user, deadline, voice
) -> None:
    services.commitment_assess(
        user=manager, commitment=deadline, period=OCT, assessment="partly", note="2回遅延"
    )
    services.commitment_self_assess(
        user=vendor_user, commitment=deadline, period=OCT, assessment="met", note="概ね期限内"
    )
    with translation.override("en"):
        rows = services.commitment_rows(deadline.engagement, OCT)
    assert rows == [
        ("納期を守る", "Partly met", "2回遅延 / Vendor's self-assessment: Met (概ね期限内)"),
        ("顧客の声を反映する", "Not checked", ""),
    ]


# -- pages ----------------------------------------------------------------------------------------------


def test_the_list_shows_the_commitments(client, supervisor, deadline) -> None:
    client.force_login(supervisor)
    r = client.get(reverse("scorecard:commitments", args=["CALL-1"]))
    assert r.status_code == 200
    assert "納期を守る" in r.content.decode()
    assert 'data-testid="commitment-add"' not in r.content.decode()


def test_a_manager_adds_a_commitment_on_the_page(client, manager, engagement_a) -> None:
    client.force_login(manager)
    r = client.post(
        reverse("scorecard:commitments", args=["CALL-1"]),
        {"text": "納期を守る", "perspective": "process", "weight": "2"},
    )
    assert r.status_code == 302
    c = Commitment.objects.get()
    assert (c.text, c.perspective, c.weight) == ("納期を守る", "process", 2.0)


def test_a_bad_weight_is_shown_on_the_form_and_nothing_is_written(
    client, manager, engagement_a
) -> None:
    client.force_login(manager)
    r = client.post(
        reverse("scorecard:commitments", args=["CALL-1"]),
        {"text": "納期を守る", "perspective": "", "weight": "abc"},
    )
    assert r.status_code == 200
    assert "kt-field-weight has-error" in r.content.decode()
    assert not Commitment.objects.exists()


def test_another_vendor_gets_404(client, other_vendor_user, deadline) -> None:
    client.force_login(other_vendor_user)
    for url in (
        reverse("scorecard:commitments", args=["CALL-1"]),
        reverse("scorecard:commitment_checks", args=["CALL-1"]),
    ):
        assert client.get(url).status_code == 404
    r = client.post(
        reverse("scorecard:commitment_self_assess", args=["CALL-1", deadline.pk]),
        {"period": "2026-10", f"v{deadline.pk}-assessment": "met"},
    )
    assert r.status_code == 404
    assert not CommitmentCheck.objects.exists()


def test_a_supervisor_gets_403_on_every_write(client, supervisor, deadline) -> None:
    client.force_login(supervisor)
    posts = [
        (reverse("scorecard:commitments", args=["CALL-1"]), {"text": "品質を守る"}),
        (reverse("scorecard:commitment_edit", args=["CALL-1", deadline.pk]), {"text": "x"}),
        (reverse("scorecard:commitment_archive", args=["CALL-1", deadline.pk]), {}),
        (
            reverse("scorecard:commitment_assess", args=["CALL-1", deadline.pk]),
            {"period": "2026-10", f"m{deadline.pk}-assessment": "met"},
        ),
        (
            reverse("scorecard:commitment_self_assess", args=["CALL-1", deadline.pk]),
            {"period": "2026-10", f"v{deadline.pk}-assessment": "met"},
        ),
    ]
    assert [client.post(url, data).status_code for url, data in posts] == [403] * 5
    deadline.refresh_from_db()
    assert (deadline.text, deadline.archived_at) == ("納期を守る", None)
    assert not CommitmentCheck.objects.exists()


def test_the_grid_shows_six_months_with_their_colours(client, manager, deadline) -> None:
    services.commitment_assess(user=manager, commitment=deadline, period=SEP, assessment="met")
    services.commitment_assess(user=manager, commitment=deadline, period=OCT, assessment="not_met")
    client.force_login(manager)
    r = client.get(reverse("scorecard:commitment_checks", args=["CALL-1"]) + "?period=2026-10")
    body = r.content.decode()
    assert body.count('data-month="2026-') == 6  # May … October
    assert 'data-month="2026-05"' in body
    assert 'data-month="2026-09" data-assessment="met"' in body
    assert 'data-month="2026-10" data-assessment="not_met"' in body
    assert "status status-red" in body and "status status-green" in body
    assert f'data-testid="assess-{deadline.pk}"' in body
    assert f'data-testid="self-assess-{deadline.pk}"' not in body


def test_the_vendor_self_assesses_on_the_grid(client, vendor_user, deadline) -> None:
    client.force_login(vendor_user)
    url = reverse("scorecard:commitment_checks", args=["CALL-1"]) + "?period=2026-10"
    body = client.get(url).content.decode()
    assert f'data-testid="self-assess-{deadline.pk}"' in body
    assert f'data-testid="assess-{deadline.pk}"' not in body
    r = client.post(
        reverse("scorecard:commitment_self_assess", args=["CALL-1", deadline.pk]),
        {
            "period": "2026-10",
            f"v{deadline.pk}-assessment": "partly",
            f"v{deadline.pk}-note": "1件遅延",
        },
    )
    assert r.status_code == 302 and r["Location"].endswith("?period=2026-10")
    check = CommitmentCheck.objects.get()
    assert (check.vendor_assessment, check.vendor_note) == ("partly", "1件遅延")


def test_an_approved_month_offers_the_vendor_no_form_and_refuses_a_post(
    client, vendor_user, deadline, engagement_a
) -> None:
    approve(engagement_a, SEP)
    client.force_login(vendor_user)
    url = reverse("scorecard:commitment_checks", args=["CALL-1"]) + "?period=2026-09"
    body = client.get(url).content.decode()
    assert f'data-testid="self-assess-{deadline.pk}"' not in body
    assert 'data-testid="month-approved"' in body
    r = client.post(
        reverse("scorecard:commitment_self_assess", args=["CALL-1", deadline.pk]),
        {"period": "2026-09", f"v{deadline.pk}-assessment": "met"},
        follow=True,
    )
    assert r.status_code == 200
    assert not CommitmentCheck.objects.exists()


def test_the_scorecard_panel_shows_the_months_checks(rf, manager, deadline) -> None:
    from django.template import Context, Template

    services.commitment_assess(
        user=manager, commitment=deadline, period=OCT, assessment="partly", note="2回遅延"
    )
    request = rf.get("/")
    request.user = manager
    html = Template("{% load commitments %}{% engagement_commitments engagement month %}").render(
        Context({"request": request, "engagement": deadline.engagement, "month": OCT})
    )
    assert 'data-testid="commitments-panel"' in html
    assert "status status-amber" in html
    assert "納期を守る" in html and "2回遅延" in html
    assert "50" in html


def test_every_screen_scores_the_commitments_alike(
    small, manager, engagement_a, deadline, voice
) -> None:
    """The engagement page, the scorecard API's card, the SV overview and the score snapshots
    all count the assessed commitments in their perspectives: overall (110 + 90 + 50) / 3."""
    from scorecard import services as scorecard_services
    from scorecard.models import ScoreSnapshot

    services.commitment_assess(user=manager, commitment=deadline, period=OCT, assessment="partly")
    services.commitment_assess(user=manager, commitment=voice, period=OCT, assessment="met")
    page = queries.engagement_page(engagement_a, OCT, "month")
    card = queries.engagement_scorecard(engagement_a, OCT)
    (row,) = [
        r for r in queries.overview(manager, OCT, "month") if r.engagement.pk == engagement_a.pk
    ]
    scorecard_services.snapshot_engagements([engagement_a.pk])
    snap = ScoreSnapshot.objects.filter(engagement=engagement_a, period=OCT).latest("taken_at")
    expected = pytest.approx(250 / 3)
    assert (page.scorecard.overall_score, card.overall_score, row.overall) == (expected,) * 3
    assert snap.overall_score == expected
    assert {k.node_id for k in page.scorecard.kpis() if k.node_id > 0} == set(page.lines)


def test_an_assessment_of_a_reported_month_restates_its_scores(
    small, manager, engagement_a, deadline, django_capture_on_commit_callbacks
) -> None:
    from scorecard import services as scorecard_services
    from scorecard.models import ScoreSnapshot

    Submission.objects.update_or_create(
        engagement=engagement_a, period=OCT, defaults={"status": "approved"}
    )
    scorecard_services.snapshot_engagements([engagement_a.pk])
    with django_capture_on_commit_callbacks(execute=True):
        services.commitment_assess(
            user=manager, commitment=deadline, period=OCT, assessment="not_met"
        )
    current = ScoreSnapshot.objects.get(engagement=engagement_a, period=OCT, is_current=True)
    assert (current.reason, current.process_score) == ("commitment_assessed", 0.0)
