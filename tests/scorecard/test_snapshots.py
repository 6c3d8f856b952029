import datetime as dt

from django.test import Client
from django.utils import timezone

from engagements.models import Submission
from kpitree.recompute import tree_recompute
from kpitree.services import node_save, targets_record
from scorecard.models import ScoreSnapshot
from scorecard.services import scoring_weights_set, snapshot_engagements_for_tree
from tests.scorecard.conftest import OCT, record


def snapshots(engagement):
    return list(
        ScoreSnapshot.objects.filter(engagement=engagement, period=OCT).order_by("taken_at", "id")
    )


def test_it_snapshots_each_engagements_month(small, sc_tree, engagement_a, engagement_b) -> None:
    assert snapshot_engagements_for_tree(sc_tree.pk) == {
        "created": 2,
        "restated": 0,
        "updated": 0,
        "unchanged": 0,
    }
    snap = ScoreSnapshot.objects.get(engagement=engagement_a)
    assert (snap.period, snap.overall_score, snap.financial_score, snap.process_score) == (
        OCT,
        95.0,
        110.0,
        None,
    )
    assert (snap.overall_status, snap.process_status, snap.reason) == ("amber", "none", "")


def test_it_writes_nothing_when_the_scores_did_not_change(small, sc_tree) -> None:
    snapshot_engagements_for_tree(sc_tree.pk)
    tree_recompute(tree_id=sc_tree.pk)
    assert snapshot_engagements_for_tree(sc_tree.pk)["unchanged"] == 2
    assert ScoreSnapshot.objects.count() == 2


def test_it_records_a_corrected_actual_as_a_restatement(
    manager, small, sc_tree, engagement_a
) -> None:
    snapshot_engagements_for_tree(sc_tree.pk)
    record(manager, [("fin_b", "2026-10", 60)])
    assert snapshot_engagements_for_tree(sc_tree.pk)["restated"] == 1
    old, new = snapshots(engagement_a)
    assert (old.is_current, old.overall_score) == (False, 95.0)
    assert (new.is_current, new.overall_score, new.reason) == (True, 90.0, "actual_corrected")
    assert new.changed_kpis == [["fin_b", "粗利"]]


def test_it_records_a_changed_target(manager, small, sc_tree, engagement_a) -> None:
    snapshot_engagements_for_tree(sc_tree.pk)
    targets_record(
        user=manager,
        tree=sc_tree,
        rows=[{"node": "cus_a", "period": "2026-10", "value": 125}],
        channel="api",
    )
    tree_recompute(tree_id=sc_tree.pk)
    snapshot_engagements_for_tree(sc_tree.pk)
    assert [s.reason for s in snapshots(engagement_a)] == ["", "target_changed"]


def test_it_records_a_changed_definition(manager, small, sc_tree, engagement_a) -> None:
    snapshot_engagements_for_tree(sc_tree.pk)
    node_save(user=manager, node=small["fin_b"], data={"weight": 4})
    tree_recompute(tree_id=sc_tree.pk)
    snapshot_engagements_for_tree(sc_tree.pk)
    new = snapshots(engagement_a)[-1]
    assert (new.reason, new.financial_score) == (
        "definition_changed",
        100.0,
    )  # (120 × 2 + 90 × 4) / 6


def test_it_records_changed_perspective_weights(manager, small, sc_tree, engagement_a) -> None:
    snapshot_engagements_for_tree(sc_tree.pk)
    scoring_weights_set(
        user=manager,
        engagement=engagement_a,
        weights={"financial": 3, "customer": 1, "process": 1, "learning": 1},
    )
    new = snapshots(engagement_a)[-1]
    assert (new.reason, new.overall_score) == ("weights_changed", 102.5)


def test_it_updates_a_month_still_being_reported_in_place(
    manager, small, sc_tree, engagement_a
) -> None:
    snapshot_engagements_for_tree(sc_tree.pk)
    record(manager, [("lrn_a", "2026-10", 100)])
    assert snapshot_engagements_for_tree(sc_tree.pk)["updated"] == 1
    (snap,) = snapshots(engagement_a)
    assert (snap.learning_score, snap.reason) == (100.0, "")


def test_it_restates_a_submitted_month_that_gets_late_actuals(
    manager, small, sc_tree, engagement_a
) -> None:
    snapshot_engagements_for_tree(sc_tree.pk)
    Submission.objects.update_or_create(
        engagement=engagement_a,
        period=OCT,
        defaults={"status": "submitted", "submitted_at": timezone.now()},
    )
    record(manager, [("lrn_a", "2026-10", 100)])
    snapshot_engagements_for_tree(sc_tree.pk)
    assert [s.reason for s in snapshots(engagement_a)] == ["", "late_data"]


def test_the_page_says_when_and_why_a_score_was_restated(
    manager, supervisor, small, sc_tree
) -> None:
    snapshot_engagements_for_tree(sc_tree.pk)
    record(manager, [("fin_b", "2026-10", 60)])
    snapshot_engagements_for_tree(sc_tree.pk)
    client = Client()
    client.force_login(supervisor)
    html = client.get("/scorecards/engagements/CALL-1/?period=2026-10").content.decode()
    today = timezone.localdate()
    assert f"{today:%Y/%m/%d}" in html
    assert "実績値の修正" in html
    assert "95.0" in html and "90.0" in html


def test_it_snapshots_no_month_without_scores(small, sc_tree) -> None:
    snapshot_engagements_for_tree(sc_tree.pk)
    assert set(ScoreSnapshot.objects.values_list("period", flat=True)) == {dt.date(2026, 10, 1)}
