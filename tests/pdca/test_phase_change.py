"""A change of an engagement's phase opens one review proposing the catalogue's KPIs of the new
phase that the engagement lacks (add) and retiring those only the old phase's templates have;
each proposal is applied or dismissed with one click."""

from __future__ import annotations

import pytest

from engagements import events
from engagements.services import engagement_update
from kpitree.catalogue import TreeTemplate
from kpitree.models import Node, Tree
from kpitree.services.trees import template_apply
from pdca.models import Review
from tests.factories import TreeFactory


@pytest.fixture
def demo_tree(manager, engagement_a) -> Tree:
    """Like the demo: CALL-1 (outbound calls, improvement) runs the improvement template."""
    tree = TreeFactory(code="CALL-FY26", name="テレアポ FY2026")
    template = TreeTemplate.objects.get(code="call.improvement")
    template_apply(user=manager, tree=tree, template=template, parent=None, engagement=engagement_a)
    return tree


def proposals(review: Review) -> list[tuple[str, str, str]]:
    return sorted(
        (d.kind, d.template_code or d.node.template_code, d.status)
        for d in review.decisions.select_related("node")
    )


def change_phase(manager, engagement, phase: str, capture) -> None:
    with capture(execute=True):
        engagement_update(user=manager, engagement=engagement, data={"phase": phase})


def test_it_proposes_the_new_phases_kpis_and_retires_the_old_ones(
    manager, engagement_a, demo_tree, django_capture_on_commit_callbacks
) -> None:
    change_phase(manager, engagement_a, "expansion", django_capture_on_commit_callbacks)
    (review,) = Review.objects.filter(engagement=engagement_a, kind="phase")
    assert (review.from_phase, review.to_phase, review.status, review.created_by) == (
        "improvement",
        "expansion",
        "open",
        manager,
    )
    assert proposals(review) == [
        ("add", "call.cpa", "proposed"),
        ("add", "call.retention_rate", "proposed"),
        ("retire", "call.list_accuracy", "proposed"),
        ("retire", "call.script_reviews", "proposed"),
    ]
    assert {d.reason for d in review.decisions.all()} == {"フェーズ変更: 改善 → 拡大・安定"}


def test_the_same_change_announced_twice_opens_one_review(
    manager, engagement_a, demo_tree, django_capture_on_commit_callbacks
) -> None:
    change_phase(manager, engagement_a, "expansion", django_capture_on_commit_callbacks)
    events.engagement_phase_changed.send(
        sender=type(engagement_a),
        engagement=engagement_a,
        old_phase="improvement",
        new_phase="expansion",
        user=manager,
    )
    assert Review.objects.filter(kind="phase").count() == 1
    assert Review.objects.get().decisions.count() == 4


def test_an_update_that_keeps_the_phase_opens_nothing(
    manager, engagement_a, demo_tree, django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        engagement_update(user=manager, engagement=engagement_a, data={"name": "テレアポ2"})
    assert Review.objects.count() == 0


def test_each_proposal_is_applied_or_dismissed_with_one_click(
    client, manager, engagement_a, demo_tree, django_capture_on_commit_callbacks
) -> None:
    change_phase(manager, engagement_a, "expansion", django_capture_on_commit_callbacks)
    review = Review.objects.get()
    client.force_login(manager)
    page = client.get(f"/pdca/reviews/{review.pk}/").content.decode()
    assert page.count('data-confirm="') == 2  # retiring asks first
    add = review.decisions.get(template_code="call.cpa")
    assert client.post(f"/pdca/decisions/{add.pk}/apply/").status_code == 302
    cpa = Node.objects.get(tree=demo_tree, template_code="call.cpa")
    assert (cpa.code, cpa.parent.code, cpa.engagement, cpa.unit) == (
        "cpa",
        "orders",
        engagement_a,
        "円",
    )
    retire = review.decisions.get(kind="retire", node__code="list_accuracy")
    client.post(f"/pdca/decisions/{retire.pk}/apply/")
    assert not Node.objects.filter(code="list_accuracy").exists()
    assert Node.all_objects.get(code="list_accuracy").archived_at is not None
    keep = review.decisions.get(kind="retire", node__code="script_reviews")
    client.post(f"/pdca/decisions/{keep.pk}/dismiss/")
    assert proposals(review) == [
        ("add", "call.cpa", "applied"),
        ("add", "call.retention_rate", "proposed"),
        ("retire", "call.list_accuracy", "applied"),
        ("retire", "call.script_reviews", "dismissed"),
    ]
    again = client.post(f"/pdca/decisions/{add.pk}/apply/", follow=True).content.decode()
    assert "この決定はすでに適用または見送り済みです。" in again
    assert Node.objects.filter(template_code="call.cpa").count() == 1
