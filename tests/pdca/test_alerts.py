"""Alerts (issue 13): a KPI that turns red, or whose forecast falls below the at-risk threshold,
is notified once to its vendor's users and the engagement's manager — not once per recompute —
and again only after it recovered and fell again."""

from __future__ import annotations

import datetime as dt

import pytest
from django.conf import settings
from django.db import IntegrityError

from engagements.models import Notification
from kpitree import tasks as kpitree_tasks
from kpitree.services import actuals_record, targets_record
from pdca.models import Alert
from pdca.services.alerts import alerts_evaluate
from portal import notifications
from scorecard.models import KpiForecast
from tests.kpitree import conftest as kpitree_fixtures
from tests.kpitree.conftest import row

tree = kpitree_fixtures.tree
revenue = kpitree_fixtures.revenue

OCT = dt.date(2026, 10, 1)


@pytest.fixture
def visits(manager, vendor_user, tree, revenue):
    """訪問数 (callnavi's KPI) with a target of 100 in October 2026; its people have addresses."""
    for user, address in ((manager, "mgr@example.jp"), (vendor_user, "vend@example.jp")):
        user.email = address
        user.save()
    targets_record(
        user=manager,
        tree=tree,
        rows=[{"node": "visits", "period": "2026-10", "value": 100}],
        channel="api",
    )
    return revenue["visits"]


def record(manager, tree, value: float, django_capture_on_commit_callbacks) -> None:
    """An actual for October, then the pipeline as a worker runs it: recompute → snapshot →
    forecasts → alerts (every on-commit callback executed)."""
    with django_capture_on_commit_callbacks(execute=True):
        actuals_record(user=manager, rows=[row("visits", "2026-10", value)], channel="api")
    with django_capture_on_commit_callbacks(execute=True):
        kpitree_tasks.recompute_tree(tree.pk)


def alert_notices() -> list[tuple[str, str, str]]:
    return sorted(
        Notification.objects.filter(kind__startswith="kpi_").values_list(
            "recipient__username", "kind", "subject"
        )
    )


def test_a_kpi_turning_red_is_notified_once_however_often_it_is_recomputed(
    manager, vendor_user, tree, visits, django_capture_on_commit_callbacks, mailoutbox
) -> None:
    record(manager, tree, 50, django_capture_on_commit_callbacks)
    for _ in range(3):
        with django_capture_on_commit_callbacks(execute=True):
            kpitree_tasks.recompute_tree(tree.pk)
        alerts_evaluate(tree.pk)
    (alert,) = Alert.objects.filter(node=visits, kind="red")
    assert (alert.period, alert.cleared_at is None, alert.notified_at is not None) == (
        OCT,
        True,
        True,
    )
    subject = "テレアポ: 訪問数が未達です（2026年10月）"
    assert alert_notices() == [
        ("mgr", "kpi_red", subject),
        ("vend", "kpi_red", subject),
    ]
    note = Notification.objects.get(recipient=vendor_user, kind="kpi_red")
    assert "50.0%" in note.body
    assert note.url == "/scorecards/trees/FY2026/kpis/visits/"
    assert sorted(m.subject for m in mailoutbox) == [subject, subject]


def test_it_is_notified_again_only_after_it_recovered_and_fell_again(
    manager, vendor_user, tree, visits, django_capture_on_commit_callbacks
) -> None:
    record(manager, tree, 50, django_capture_on_commit_callbacks)
    record(manager, tree, 120, django_capture_on_commit_callbacks)  # recovered: green
    (cleared,) = Alert.objects.filter(node=visits, kind="red")
    assert cleared.cleared_at is not None
    assert len(alert_notices()) == 2
    record(manager, tree, 40, django_capture_on_commit_callbacks)  # fell again
    assert Alert.objects.filter(node=visits, kind="red").count() == 2
    assert Alert.objects.filter(node=visits, kind="red", cleared_at__isnull=True).count() == 1
    assert [k for _u, k, _s in alert_notices()] == ["kpi_red"] * 4


def test_a_forecast_at_risk_raises_its_own_alert_and_clears_with_it(
    manager, vendor_user, tree, visits
) -> None:
    forecast = KpiForecast.objects.create(
        node=visits,
        fingerprint="x",
        method="linear",
        period=dt.date(2026, 4, 1),
        target=1200,
        expected=900,
        probability=0.25,
        at_risk=True,
        points=[],
        computed_at=dt.datetime(2026, 11, 1, tzinfo=dt.UTC),
    )
    assert alerts_evaluate(tree.pk) == {"raised": 1, "cleared": 0}
    assert alerts_evaluate(tree.pk) == {"raised": 0, "cleared": 0}
    note = Notification.objects.get(recipient=vendor_user, kind="kpi_at_risk")
    assert note.subject == "テレアポ: 訪問数は目標未達のおそれがあります"
    assert "25.0%" in note.body
    KpiForecast.objects.filter(pk=forecast.pk).update(at_risk=False)
    assert alerts_evaluate(tree.pk) == {"raised": 0, "cleared": 1}


def test_one_open_alert_per_kpi_and_kind_whoever_raises_it(tree, visits) -> None:
    Alert.objects.create(node=visits, kind="red", raised_at=dt.datetime(2026, 11, 1, tzinfo=dt.UTC))
    with pytest.raises(IntegrityError):
        Alert.objects.create(
            node=visits, kind="red", raised_at=dt.datetime(2026, 11, 2, tzinfo=dt.UTC)
        )


def test_a_user_who_chose_the_digest_gets_the_notice_now_and_one_e_mail_a_day(
    manager, vendor_user, tree, visits, django_capture_on_commit_callbacks, mailoutbox
) -> None:
    vendor_user.alert_digest = True
    vendor_user.save()
    record(manager, tree, 50, django_capture_on_commit_callbacks)
    assert Notification.objects.get(recipient=vendor_user, kind="kpi_red").in_digest is True
    # Only the manager's own e-mail went out; the vendor's waits for the digest.
    assert [m.to for m in mailoutbox] == [["mgr@example.jp"]]
    assert notifications.pending_ids(now=dt.datetime(2100, 1, 1, tzinfo=dt.UTC)) == []


def test_the_digest_run_twice_mails_once(
    manager, vendor_user, tree, visits, django_capture_on_commit_callbacks, mailoutbox
) -> None:
    vendor_user.alert_digest = True
    vendor_user.save()
    record(manager, tree, 50, django_capture_on_commit_callbacks)
    KpiForecast.objects.create(
        node=visits,
        fingerprint="x",
        method="linear",
        period=dt.date(2026, 4, 1),
        probability=0.25,
        at_risk=True,
        points=[],
        computed_at=dt.datetime(2026, 11, 1, tzinfo=dt.UTC),
    )
    alerts_evaluate(tree.pk)
    mailoutbox.clear()
    assert notifications.send_digests() == 1
    assert notifications.send_digests() == 0
    (mail,) = mailoutbox
    assert mail.to == ["vend@example.jp"]
    assert mail.subject == "本日のダイジェスト: アラート2件"
    link = f"  {settings.SITE_URL.rstrip('/')}/scorecards/trees/FY2026/kpis/visits/"
    assert mail.body.splitlines() == [
        "・テレアポ: 訪問数が未達です（2026年10月）",
        link,
        "・テレアポ: 訪問数は目標未達のおそれがあります",
        link,
    ]


def test_a_user_chooses_the_daily_digest_on_the_notifications_page(client, vendor_user) -> None:
    client.force_login(vendor_user)
    page = client.get("/portal/notifications/").content.decode()
    assert "1日1通" in page
    assert client.post("/portal/notifications/settings/", {"alert_digest": "1"}).status_code == 302
    vendor_user.refresh_from_db()
    assert vendor_user.alert_digest is True
    client.post("/portal/notifications/settings/", {"alert_digest": "0"})
    vendor_user.refresh_from_db()
    assert vendor_user.alert_digest is False


def test_preferences_refuse_other_fields_and_write_nothing(vendor_user) -> None:
    from engagements.services import user_preferences_update
    from kpi_planner.errors import ServiceError

    with pytest.raises(ServiceError) as caught:
        user_preferences_update(user=vendor_user, data={"role": "manager", "alert_digest": "yes"})
    assert set(caught.value.messages_by_field()) == {"role", "alert_digest"}
    vendor_user.refresh_from_db()
    assert (vendor_user.role, vendor_user.alert_digest) == ("vendor", False)
