"""Reminders with frozen time: due tomorrow, overdue, the managers' digest; recorded before
sending so that a rerun sends nothing; each in the recipient's language."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from engagements.models import Notification, ReminderLog, Role
from kpitree.models import Node, Tree
from kpitree.services import actuals_record
from portal import services
from portal.tasks import send_approval_digest, send_reminders
from tests.conftest import make_user
from tests.portal.helpers import TOKYO, month_rows


@pytest.fixture
def people(engagement_a, vendor_user, manager, engagement_b, other_vendor_user):
    """CALL-1 is due on the 10th and has a manager in charge; ADS-1 on the 20th and has none.
    Each owns an input KPI in the plan FY2026."""
    tree = Tree.objects.create(
        code="FY2026", name="t", start_month=dt.date(2026, 4, 1), end_month=dt.date(2027, 3, 1)
    )
    Node.objects.create(tree=tree, code="calls", name="架電数", engagement=engagement_a)
    Node.objects.create(tree=tree, code="ads_cv", name="CV", engagement=engagement_b)
    engagement_a.actuals_due_day = 10
    engagement_a.manager = manager
    engagement_a.save()
    engagement_b.actuals_due_day = 20
    engagement_b.save()
    vendor_user.email, vendor_user.language = "tanaka@callnavi.example.jp", "ja"
    vendor_user.save()
    other_vendor_user.email, other_vendor_user.language = "suzuki@adbridge.example.jp", "en"
    other_vendor_user.save()
    manager.email = "yamada@client.example.jp"
    manager.save()
    return {"a": engagement_a, "b": engagement_b}


def at(day: int, month: int = 11, hour: int = 9):
    return time_machine.travel(dt.datetime(2026, month, day, hour, 0, tzinfo=TOKYO), tick=False)


def sent(mailoutbox) -> list[tuple[str, str]]:
    return sorted((m.to[0], m.subject) for m in mailoutbox)


def test_it_reminds_the_vendor_the_day_before_the_due_day(people, mailoutbox):
    with at(9):
        assert send_reminders.delay().get() == {"due_soon": 1, "overdue": 0, "monthly_report": 0}
    assert sent(mailoutbox) == [
        (
            "tanaka@callnavi.example.jp",
            "【リマインド】テレアポ：2026年10月の実績の提出期限は明日です",
        )
    ]
    assert "2026年11月10日までに" in mailoutbox[0].body


def test_it_writes_the_reminder_in_the_recipients_language(people, mailoutbox):
    with at(19):  # ADS-1 is due on the 20th; its vendor user reads English
        send_reminders.delay()
    assert sent(mailoutbox) == [
        (
            "suzuki@adbridge.example.jp",
            "Reminder: the October 2026 actuals of 広告運用 are due tomorrow",
        )
    ]
    assert "by Nov. 20, 2026" in mailoutbox[0].body


def test_it_sends_the_overdue_notice_to_the_vendor_and_the_manager(people, mailoutbox):
    with at(11):
        assert send_reminders.delay().get() == {"due_soon": 0, "overdue": 2, "monthly_report": 0}
    assert sent(mailoutbox) == [
        ("tanaka@callnavi.example.jp", "【期限超過】テレアポ：2026年10月の実績が未提出です"),
        ("yamada@client.example.jp", "【期限超過】テレアポ：2026年10月の実績が未提出です"),
    ]
    assert Notification.objects.filter(kind="overdue").count() == 2


def test_it_sends_nothing_on_a_rerun(people, mailoutbox):
    with at(11):
        send_reminders.delay()
    with at(11, hour=15):  # beat restarted in the afternoon
        assert send_reminders.delay().get() == {"due_soon": 0, "overdue": 0, "monthly_report": 0}
    with at(12):  # the catch-up window does not repeat it either
        send_reminders.delay()
    assert len(mailoutbox) == 2
    assert ReminderLog.objects.count() == 2
    assert Notification.objects.count() == 2


def test_it_catches_up_when_beat_was_down_on_the_day_after(people, mailoutbox):
    with at(12):
        assert send_reminders.delay().get()["overdue"] == 2


def test_it_sends_nothing_on_other_days(people, mailoutbox):
    # The 10th is CALL-1's due day: only the manager's monthly report goes out then.
    for day in (1, 5, 10, 14, 25):
        with at(day):
            send_reminders.delay()
    assert [m.to for m in mailoutbox] == [["yamada@client.example.jp"]]


def test_it_does_not_remind_about_a_submitted_month(people, vendor_user, manager, mailoutbox):
    with at(3):
        actuals_record(user=vendor_user, rows=month_rows()[:1], channel="web")
        services.submission_submit(
            user=vendor_user, engagement=people["a"], period=dt.date(2026, 10, 1)
        )
    mailoutbox.clear()
    with at(9):
        send_reminders.delay()
    with at(11):
        send_reminders.delay()
    assert mailoutbox == []


def test_it_does_not_remind_an_engagement_with_no_kpi_to_enter(people, mailoutbox):
    Node.objects.filter(engagement=people["a"]).delete()
    with at(11):
        assert send_reminders.delay().get() == {"due_soon": 0, "overdue": 0, "monthly_report": 0}


def test_it_records_before_sending_so_a_failed_mail_is_not_retried(people, mailoutbox, monkeypatch):
    from portal import notifications

    def broken(notification_id):
        raise ConnectionRefusedError("smtp down")

    monkeypatch.setattr(notifications, "send_email", broken)
    with at(9):
        send_reminders.delay()
    log = ReminderLog.objects.get()
    assert (log.kind, log.sent_at, log.error) == ("due_soon", None, "smtp down")
    monkeypatch.undo()
    with at(9, hour=10):
        send_reminders.delay()
    assert mailoutbox == []  # at most once: never a second copy
    assert Notification.objects.filter(kind="due_soon").count() == 1  # the in-app notice stays


def test_it_sends_each_manager_one_daily_digest(people, vendor_user, other_vendor_user, mailoutbox):
    other_manager = make_user("mgr2", Role.MANAGER, email="sato@client.example.jp")
    with at(3):
        actuals_record(user=vendor_user, rows=month_rows()[:1], channel="web")
        services.submission_submit(
            user=vendor_user, engagement=people["a"], period=dt.date(2026, 10, 1)
        )
        actuals_record(
            user=other_vendor_user,
            rows=[{"tree": "FY2026", "node": "ads_cv", "period": "2026-10", "value": 80}],
            channel="web",
        )
        services.submission_submit(
            user=other_vendor_user, engagement=people["b"], period=dt.date(2026, 10, 1)
        )
    mailoutbox.clear()
    with at(4, hour=8):
        assert send_approval_digest.delay().get() == 2
        assert send_approval_digest.delay().get() == 0  # same day: nothing again
    by_to = {m.to[0]: m for m in mailoutbox}
    assert by_to["yamada@client.example.jp"].subject == "承認待ちの月次報告が2件あります"
    assert "・テレアポ　2026年10月（提出者：vend）" in by_to["yamada@client.example.jp"].body
    assert (
        by_to["sato@client.example.jp"].subject == "承認待ちの月次報告が1件あります"
    )  # ADS-1 only
    assert other_manager.notifications.get(kind="digest").url == "/portal/submissions/"
    with at(5, hour=8):
        assert send_approval_digest.delay().get() == 2  # a new day, a new digest


def test_it_sends_the_manager_the_monthly_report_on_the_due_day_once(people, manager, mailoutbox):
    manager.language = "en"
    manager.save()
    with at(10):
        assert send_reminders.delay().get() == {"due_soon": 0, "overdue": 0, "monthly_report": 1}
        assert send_reminders.delay().get() == {"due_soon": 0, "overdue": 0, "monthly_report": 0}
    [mail] = mailoutbox
    assert mail.to == ["yamada@client.example.jp"]
    assert mail.subject == "テレアポ: the October 2026 monthly report"
    assert [(name, mimetype) for name, _content, mimetype in mail.attachments] == [
        (
            mail.attachments[0][0],
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        ),
        (mail.attachments[1][0], "application/pdf"),
    ]
    assert mail.attachments[0][0].endswith("2026-10.xlsx")
    assert mail.attachments[1][1].startswith(b"%PDF")


def test_it_never_sends_a_vendor_user_the_managers_mail(people, other_vendor_user, manager):
    from engagements.models import Engagement
    from portal.notifications import managers_of

    # A wrong assignment written around validation (e.g. a role changed later).
    Engagement.objects.filter(pk=people["a"].pk).update(manager=other_vendor_user)
    assert managers_of(Engagement.objects.get(pk=people["a"].pk)) == [manager]
