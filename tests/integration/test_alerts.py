"""Alerts (issue 13) with two real workers on PostgreSQL and a private Redis: a KPI that turns
red is notified once to each of its people, however many recomputes and forecast refreshes run,
on however many workers at once."""

from __future__ import annotations

import pytest

from engagements.models import Notification
from kpitree.services import targets_record
from pdca.models import Alert
from scorecard.tasks import forecast_tree
from tests.integration.conftest import Broker, wait_for
from tests.integration.test_recompute_pipeline import (
    MONTHS,
    api_client,
    cast,
    post_actual,
    settled,
    small_tree,
    task_failures,
    tasks_run,
)

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_red_kpi_is_notified_once_by_two_workers(private_broker: Broker, start_worker) -> None:
    workers = [start_worker(f"alerts-{x}", env=private_broker.env) for x in "ab"]
    engagement, vendor_user, manager = cast("ALERTS")
    engagement.manager = manager
    engagement.save()
    tree, _total = small_tree("IT-ALERTS", engagement, ["calls"])
    month = MONTHS[4]  # an ended month of the plan
    targets_record(
        user=manager,
        tree=tree,
        rows=[{"node": "calls", "period": f"{month:%Y-%m}", "value": 1000}],
        channel="system",
    )
    wait_for(lambda: settled(tree, private_broker), 30, message="the target's recompute")
    client = api_client(vendor_user.username, "pw-vendor-123")
    assert post_actual(client, tree, "calls", month, 400).status_code == 200  # 40 %: red

    wait_for(
        lambda: Alert.objects.filter(node__tree=tree, kind="red").exists(),
        60,
        message="the alert raised by the worker",
    )
    for _ in range(10):  # refreshes on both workers at once: each evaluates the alerts again
        forecast_tree.delay(tree.pk)
    wait_for(
        lambda: sum(tasks_run(w, "scorecard.forecast_tree") for w in workers) >= 11,
        60,
        message="the forecast refreshes",
    )
    wait_for(lambda: settled(tree, private_broker), 30, message="the queue to drain")

    (alert,) = Alert.objects.filter(node__tree=tree, kind="red")
    assert (alert.period, alert.cleared_at, alert.notified_at is not None) == (month, None, True)
    notices = sorted(
        Notification.objects.filter(kind="kpi_red").values_list("recipient__username", flat=True)
    )
    assert notices == sorted([manager.username, vendor_user.username])
    assert task_failures(private_broker, workers) == []
