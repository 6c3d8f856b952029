"""Coalescing and broker outages: a tree has at most one recompute waiting, a write that
committed always answers success, and the sweep sends what a broker outage held back."""

from __future__ import annotations

import datetime as dt

import pytest
from kombu.exceptions import OperationalError

from kpitree import recompute, tasks
from kpitree.models import Rollup, RollupChange, Tree
from kpitree.services import actuals_record, node_save
from tests.kpitree.conftest import row

APR = dt.date(2026, 4, 1)


@pytest.fixture
def sent(monkeypatch) -> list[int]:
    """The recompute tasks sent (recorded, not run)."""
    calls: list[int] = []
    monkeypatch.setattr(tasks.recompute_tree, "delay", calls.append)
    return calls


@pytest.fixture
def broker_down(monkeypatch) -> None:
    def refuse(*args) -> None:
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(tasks.recompute_tree, "delay", refuse)


def test_many_writes_send_one_task(
    manager, tree, revenue, sent, django_capture_on_commit_callbacks
):
    for value in range(1, 6):
        with django_capture_on_commit_callbacks(execute=True):
            actuals_record(user=manager, rows=[row("visits", "2026-04", value)], channel="api")
    assert sent == [tree.pk]
    tree.refresh_from_db()
    assert tree.queued_at is not None
    assert RollupChange.objects.filter(tree=tree).count() == 5


def test_building_a_tree_node_by_node_sends_one_task(
    manager, tree, revenue, sent, django_capture_on_commit_callbacks
):
    from kpitree.models import Node

    for i in range(30):
        with django_capture_on_commit_callbacks(execute=True):
            node_save(
                user=manager,
                node=Node(tree=tree, code=f"extra{i}", name="x", parent=revenue["ads_cpa"]),
                data={},
            )
    assert sent == [tree.pk]


def test_a_write_after_the_task_started_sends_the_next_one(
    manager, tree, revenue, sent, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        actuals_record(user=manager, rows=[row("visits", "2026-04", 1)], channel="api")
    recompute.tree_recompute(tree_id=tree.pk, full=False)  # what the task runs
    with django_capture_on_commit_callbacks(execute=True):
        actuals_record(user=manager, rows=[row("visits", "2026-04", 2)], channel="api")
    assert sent == [tree.pk, tree.pk]


def test_a_lost_task_is_sent_again_after_its_claim_expires(manager, tree, revenue, sent):
    Tree.objects.filter(pk=tree.pk).update(queued_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
    actuals_record(user=manager, rows=[row("visits", "2026-04", 1)], channel="api")
    assert tasks.recompute_stale() == [tree.pk]
    assert sent == [tree.pk]


def test_a_write_answers_success_while_the_broker_is_down(
    mgr_api_for_tree, tree, revenue, broker_down, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = mgr_api_for_tree.post(
            "/api/v1/actuals/bulk/", [row("visits", "2026-04", 50_000)], format="json"
        )
    assert response.status_code == 200
    assert response.json() == {"created": 1, "updated": 0, "unchanged": 0}
    tree.refresh_from_db()
    assert (tree.queued_at, tree.is_stale) == (None, True)  # the claim was released
    assert recompute.stale_tree_ids() == [tree.pk]


def test_the_sweep_catches_up_when_the_broker_is_back(
    manager, tree, revenue, monkeypatch, django_capture_on_commit_callbacks
):
    def refuse(*args) -> None:
        raise OperationalError("Connection refused.")

    monkeypatch.setattr(tasks.recompute_tree, "delay", refuse)
    with django_capture_on_commit_callbacks(execute=True):
        actuals_record(user=manager, rows=[row("visits", "2026-04", 7)], channel="api")
    monkeypatch.undo()  # the broker is back; the eager task runs in-process
    assert tasks.recompute_stale() == [tree.pk]
    tree.refresh_from_db()
    assert (tree.is_stale, tree.queued_at) == (False, None)
    assert Rollup.objects.get(node=revenue["visits"], grain="month", period=APR).actual == 7
    assert recompute.stale_tree_ids() == []


def test_a_deleted_tree_is_a_no_op(db):
    assert recompute.tree_recompute(tree_id=999, full=False) == {
        "tree": 999,
        "skipped": "deleted",
    }


@pytest.fixture
def mgr_api_for_tree(manager):
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(manager)
    return client


def test_renaming_a_node_queues_no_recompute(
    manager, tree, revenue, sent, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        node_save(
            user=manager, node=revenue["visits"], data={"name": "訪問件数", "owner": "営業部"}
        )
    assert sent == []
    with django_capture_on_commit_callbacks(execute=True):
        node_save(user=manager, node=revenue["visits"], data={"direction": "down"})
    assert sent == [tree.pk]
