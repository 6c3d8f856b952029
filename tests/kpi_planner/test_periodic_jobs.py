"""Every periodic job is safe to run twice for the same moment, as a beat killed and restarted
re-sends it: the second run sends and writes nothing new.

RUN_TWICE_TESTS names, for each job of CELERY_BEAT_SCHEDULE, the test that proves it; a job
added to the schedule fails test_every_periodic_job_has_a_run_twice_test until it has one. The
portal's jobs and the idempotency purge are covered next to their code; the recompute sweep and
the notification sweep at one frozen moment are covered here.
"""

from __future__ import annotations

import datetime as dt
import importlib

import pytest
import time_machine
from django.conf import settings

from engagements.models import Notification
from kpitree import recompute, tasks
from kpitree.models import Rollup, RollupChange, Tree
from kpitree.services import actuals_record
from scorecard.models import ScoreSnapshot
from tests.kpitree import conftest as kpitree_fixtures
from tests.kpitree.conftest import row

# The KPI tree tests' fixtures (the FY2026 tree and its revenue formula), used here as they are.
tree = kpitree_fixtures.tree
revenue = kpitree_fixtures.revenue

# task name → the test that runs it twice for one moment and asserts the second run did nothing.
RUN_TWICE_TESTS = {
    "kpitree.recompute_stale": (
        "tests.kpi_planner.test_periodic_jobs",
        "test_the_recompute_sweep_run_twice_sends_one_recompute",
    ),
    "engagements.deliver_pending": (
        "tests.portal.test_notification_outbox",
        "test_a_broker_outage_leaves_the_e_mail_owed_and_the_sweep_sends_it",
    ),
    "engagements.send_reminders": (
        "tests.portal.test_reminders",
        "test_it_sends_the_manager_the_monthly_report_on_the_due_day_once",
    ),
    "engagements.send_approval_digest": (
        "tests.portal.test_reminders",
        "test_it_sends_each_manager_one_daily_digest",
    ),
    "kpitree.resend_import_jobs": (
        "tests.api.test_jobs",
        "test_the_resend_sweep_run_twice_runs_the_job_once",
    ),
    "pdca.send_alert_digests": ("tests.pdca.test_alerts", "test_the_digest_run_twice_mails_once"),
    "pdca.remind_overdue_actions": (
        "tests.pdca.test_actions",
        "test_overdue_actions_are_reminded_once_a_day",
    ),
    "money.compute_statements": (
        "tests.money.test_statements",
        "test_the_statements_sweep_run_twice_writes_them_once",
    ),
    "kpi_planner.purge_idempotency_records": (
        "tests.api.test_idempotency",
        "test_records_expire_after_24_hours",
    ),
}

NOW = dt.datetime(2026, 11, 12, 9, 0, tzinfo=dt.UTC)
APR = dt.date(2026, 4, 1)


def test_every_periodic_job_has_a_run_twice_test() -> None:
    scheduled = {job["task"] for job in settings.CELERY_BEAT_SCHEDULE.values()}
    assert scheduled == set(RUN_TWICE_TESTS)
    for module, name in RUN_TWICE_TESTS.values():
        assert callable(getattr(importlib.import_module(module), name))


@pytest.fixture
def sent(monkeypatch) -> list[int]:
    """The recompute tasks sent by the sweep (recorded, not run: the worker has not taken them)."""
    calls: list[int] = []
    monkeypatch.setattr(tasks.recompute_tree, "delay", calls.append)
    return calls


def test_the_recompute_sweep_run_twice_sends_one_recompute(manager, tree, revenue, sent):
    actuals_record(user=manager, rows=[row("visits", "2026-04", 7)], channel="api")
    with time_machine.travel(NOW, tick=False):
        assert tasks.recompute_stale() == [tree.pk]
        assert tasks.recompute_stale() == []  # the tree's task is already waiting
    assert sent == [tree.pk]
    assert Tree.objects.get(pk=tree.pk).queued_at == NOW


def _rollups() -> list[tuple]:
    return sorted(
        Rollup.objects.values_list(
            "pk", "node_id", "grain", "period", "actual", "target", "status", "computed_at"
        )
    )


def test_the_recompute_sweep_run_twice_writes_nothing_the_second_time(manager, tree, revenue):
    actuals_record(user=manager, rows=[row("visits", "2026-04", 7)], channel="api")
    with time_machine.travel(NOW, tick=False):
        assert tasks.recompute_stale() == [tree.pk]  # eager: the recompute runs now
        rollups, snapshots = _rollups(), ScoreSnapshot.objects.count()
        assert tasks.recompute_stale() == []
    assert _rollups() == rollups
    assert ScoreSnapshot.objects.count() == snapshots
    assert Rollup.objects.get(node=revenue["visits"], grain="month", period=APR).actual == 7
    assert RollupChange.objects.filter(tree=tree).count() == 0
    assert recompute.stale_tree_ids() == []


def test_the_notification_sweep_run_twice_at_one_moment_mails_once(
    manager, engagement_a, mailoutbox
):
    from portal import notifications
    from portal.tasks import deliver_pending

    manager.email = "sato@client.example.jp"
    manager.save()
    with time_machine.travel(NOW, tick=False):
        note = notifications.create(
            recipient=manager, kind="approved", engagement=engagement_a, period=dt.date(2026, 10, 1)
        )
    with time_machine.travel(NOW + dt.timedelta(minutes=1), tick=False):
        assert deliver_pending() == 1
        assert deliver_pending() == 0
    assert [m.to for m in mailoutbox] == [["sato@client.example.jp"]]
    assert Notification.objects.get(pk=note.pk).email_attempts == 1
