"""E-mails owed are never lost: a broker outage or a mail server failure leaves the notice
un-e-mailed, and the deliver_pending sweep sends it later, once."""

from __future__ import annotations

import datetime as dt
import smtplib

import pytest
import time_machine
from kombu.exceptions import OperationalError

from engagements.models import Notification
from portal import notifications, tasks

OCT = dt.date(2026, 10, 1)


@pytest.fixture
def addressed(manager):
    manager.email = "sato@client.example.jp"
    manager.save()
    return manager


def test_a_broker_outage_leaves_the_e_mail_owed_and_the_sweep_sends_it(
    addressed, engagement_a, monkeypatch, mailoutbox, django_capture_on_commit_callbacks
):
    def refuse(*args) -> None:
        raise OperationalError("Connection refused.")

    monkeypatch.setattr(tasks.deliver_notification, "delay", refuse)
    with django_capture_on_commit_callbacks(execute=True):
        (note,) = notifications.notify(
            recipients=[addressed], kind="approved", engagement=engagement_a, period=OCT
        )
    assert mailoutbox == []
    monkeypatch.undo()
    assert tasks.deliver_pending() == 0  # younger than 30 s: left to the task sent on commit
    with time_machine.travel(dt.datetime.now(dt.UTC) + dt.timedelta(seconds=31)):
        assert tasks.deliver_pending() == 1
        assert tasks.deliver_pending() == 0  # sent once
    assert [m.to for m in mailoutbox] == [["sato@client.example.jp"]]
    note.refresh_from_db()
    assert (note.emailed_at is not None, note.email_attempts) == (True, 1)


def test_a_mail_server_failure_releases_the_claim(addressed, engagement_a, monkeypatch, mailoutbox):
    note = notifications.create(
        recipient=addressed, kind="approved", engagement=engagement_a, period=OCT
    )

    def fail(self, fail_silently=False) -> int:
        raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")

    monkeypatch.setattr("django.core.mail.EmailMessage.send", fail)
    with pytest.raises(smtplib.SMTPServerDisconnected):
        notifications.send_email(note.pk)
    note.refresh_from_db()
    assert (note.emailed_at, note.email_attempts) == (None, 1)
    monkeypatch.undo()
    assert notifications.send_email(note.pk) is True
    assert len(mailoutbox) == 1
    assert Notification.objects.get(pk=note.pk).email_attempts == 2
