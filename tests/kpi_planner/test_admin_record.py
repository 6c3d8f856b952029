"""The admin cannot change the record: submissions (the month's lock), their events and the
value audit can be read there, never edited or deleted; trees are not deleted there either."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client

from engagements.models import Submission, SubmissionStatus
from kpitree.models import Tree, ValueAudit
from tests.factories import NodeFactory, TreeFactory

OCT = dt.date(2026, 10, 1)


@pytest.fixture
def admin_client(client: Client, manager) -> Client:
    client.force_login(manager)
    return client


@pytest.fixture
def approved(engagement_a) -> Submission:
    return Submission.objects.create(
        engagement=engagement_a, period=OCT, status=SubmissionStatus.APPROVED
    )


def test_it_refuses_to_delete_an_approved_submission(admin_client, approved) -> None:
    url = f"/admin/engagements/submission/{approved.pk}/delete/"
    assert admin_client.get(url).status_code == 403
    assert admin_client.post(url, {"post": "yes"}).status_code == 403
    response = admin_client.post(
        "/admin/engagements/submission/",
        {"action": "delete_selected", "_selected_action": [approved.pk], "post": "yes"},
    )
    assert response.status_code in (200, 302)  # the action is not offered: nothing happens
    assert Submission.objects.get(pk=approved.pk).status == SubmissionStatus.APPROVED


def test_it_refuses_to_change_a_submission(admin_client, approved) -> None:
    url = f"/admin/engagements/submission/{approved.pk}/change/"
    response = admin_client.post(url, {"status": "draft"})
    assert response.status_code == 403
    assert Submission.objects.get(pk=approved.pk).status == SubmissionStatus.APPROVED


def test_it_refuses_to_change_or_delete_audit_rows(admin_client, manager) -> None:
    node = NodeFactory(code="n", name="n", tree=TreeFactory(code="T", name="t"))
    tree = node.tree
    audit = ValueAudit.objects.create(
        kind="actual", node=node, period=OCT, new_value=1, user=manager, at=dt.datetime.now(dt.UTC)
    )
    base = f"/admin/kpitree/valueaudit/{audit.pk}"
    assert admin_client.post(f"{base}/change/", {"new_value": 2}).status_code == 403
    assert admin_client.post(f"{base}/delete/", {"post": "yes"}).status_code == 403
    assert (
        admin_client.post(f"/admin/kpitree/tree/{tree.pk}/delete/", {"post": "yes"}).status_code
        == 403
    )
    assert ValueAudit.objects.get(pk=audit.pk).new_value == 1
    assert Tree.objects.filter(pk=tree.pk).exists()
