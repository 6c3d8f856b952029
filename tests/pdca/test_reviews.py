"""Review meetings (issue 13): decisions applied through kpitree keep what they replace with the
reason, closing a review dates its KPIs' last review, and a phase change proposes the
catalogue's KPIs to add and to retire."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import transaction

from kpi_planner.errors import ServiceError
from kpitree.models import Node, NodeVersion, Target, ValueAudit
from kpitree.services import targets_record
from pdca.models import Review, ReviewDecision
from pdca.services import reviews as services
from tests.kpitree import conftest as kpitree_fixtures

tree = kpitree_fixtures.tree
revenue = kpitree_fixtures.revenue

HELD = dt.date(2026, 10, 30)


@pytest.fixture
def review(manager, engagement_a, tree, revenue) -> Review:
    return services.review_create(
        user=manager,
        engagement=engagement_a,
        tree=tree,
        kind="quarterly",
        held_on=HELD,
        participants="山田（発注側）、佐藤（コールナビ）",
    )


def test_bad_input_is_refused_with_every_reason_and_nothing_written(
    manager, vendor_user, engagement_a, engagement_b, tree, revenue
) -> None:
    with pytest.raises(ServiceError) as caught:
        services.review_create(
            user=manager, engagement=engagement_b, tree=tree, kind="x", held_on=""
        )
    assert caught.value.messages_by_field() == {
        "kind": ["レビューの種類を選んでください。"],
        "held_on": ["レビューの日付を入力してください。"],
    }
    with pytest.raises(ServiceError) as caught:
        services.review_create(
            user=vendor_user, engagement=engagement_a, kind="monthly", held_on=HELD
        )
    assert caught.value.status == 403
    assert Review.objects.count() == 0


def test_a_target_change_keeps_the_old_target_with_the_reason(
    manager, tree, revenue, review
) -> None:
    visits = revenue["visits"]
    targets_record(
        user=manager,
        tree=tree,
        rows=[{"node": "visits", "period": "2026-11", "value": 3000, "rationale": "benchmark"}],
        channel="api",
    )
    with pytest.raises(ServiceError) as caught:
        services.decision_add(
            user=manager,
            review=review,
            kind="change_target",
            node=visits,
            detail={"targets": {"2030-01": "x"}},
        )
    assert caught.value.messages_by_field() == {
        "reason": ["理由を入力してください（変更とともに記録されます）。"],
        "detail": ["「2030-01」は計画の月ではありません。", "「x」は数値ではありません。"],
    }
    decision = services.decision_add(
        user=manager,
        review=review,
        kind="change_target",
        node=visits,
        detail={"targets": {"2026-11": "2,700"}},
        reason="リスト枯渇のため下方修正",
    )
    services.decision_apply(user=manager, decision=decision)
    assert Target.objects.get(node=visits, period=dt.date(2026, 11, 1)).value == 2700
    audit = ValueAudit.objects.filter(node=visits, kind="target").order_by("id").last()
    assert (audit.old_value, audit.new_value, audit.reason) == (
        3000,
        2700,
        "2026-10-30 のレビュー: リスト枯渇のため下方修正",
    )
    decision.refresh_from_db()
    assert decision.status == "applied" and decision.applied_at is not None
    with pytest.raises(ServiceError) as caught:
        services.decision_apply(user=manager, decision=decision)
    assert caught.value.status == 409


def test_a_definition_change_keeps_a_version_and_retiring_archives(
    manager, tree, revenue, review
) -> None:
    visits, cvr = revenue["visits"], revenue["cvr"]
    decision = services.decision_add(
        user=manager,
        review=review,
        kind="change_definition",
        node=visits,
        detail={"definition": "商談につながった訪問の件数"},
        reason="成果に近い定義へ",
    )
    services.decision_apply(user=manager, decision=decision)
    (version,) = NodeVersion.objects.filter(node=visits)
    assert (version.before, version.after, version.reason) == (
        {"definition": ""},
        {"definition": "商談につながった訪問の件数"},
        "2026-10-30 のレビュー: 成果に近い定義へ",
    )
    targets_record(
        user=manager,
        tree=tree,
        rows=[{"node": "cvr", "period": "2026-11", "value": 5}],
        channel="api",
    )
    retire = services.decision_add(
        user=manager, review=review, kind="retire", node=cvr, reason="重複"
    )
    # The formula of 売上 names cvr: the refusal is kpitree's, shown on the decision.
    with transaction.atomic(), pytest.raises(ServiceError) as caught:
        services.decision_apply(user=manager, decision=retire)
    assert "cvr" in caught.value.messages[0]
    assert Node.objects.filter(pk=cvr.pk).exists()


def test_closing_a_review_dates_its_kpis_last_review(
    manager, engagement_a, revenue, review
) -> None:
    services.finding_save(
        user=manager,
        review=review,
        node=revenue["visits"],
        hypothesis="架電リストの質が低下",
        next_action="リスト業者を変更",
    )
    services.review_close(user=manager, review=review)
    reviewed = dict(Node.objects.filter(engagement=engagement_a).values_list("code", "reviewed_on"))
    assert reviewed == {"visits": HELD, "cvr": HELD}
    with pytest.raises(ServiceError):
        services.finding_save(
            user=manager, review=review, node=revenue["visits"], hypothesis="x", next_action=""
        )


# -- pages -------------------------------------------------------------------------------------


def test_a_manager_records_a_review_with_a_finding_and_a_decision_in_the_browser(
    client, manager, engagement_a, tree, revenue
) -> None:
    client.force_login(manager)
    url = "/pdca/engagements/CALL-1/reviews/"
    assert client.get(url).status_code == 200
    bad = client.post(url, {"kind": "quarterly", "held_on": "2026-02-30"})
    assert bad.status_code == 200 and Review.objects.count() == 0
    done = client.post(url, {"kind": "quarterly", "held_on": "2026-10-30", "tree": "FY2026"})
    review = Review.objects.get()
    assert done["Location"] == f"/pdca/reviews/{review.pk}/"
    visits = revenue["visits"]
    detail = f"/pdca/reviews/{review.pk}/"
    client.post(detail, {"step": "findings", f"hypothesis-{visits.pk}": "リストの質が低下"})
    assert review.findings.get().hypothesis == "リストの質が低下"
    refused = client.post(
        detail,
        {
            "step": "decision",
            "d-kind": "change_target",
            "d-node": visits.pk,
            "d-targets": "2026-11 2,700",
        },
    )
    assert "理由を入力してください" in refused.content.decode()
    assert review.decisions.count() == 0
    client.post(
        detail,
        {
            "step": "decision",
            "d-kind": "change_target",
            "d-node": visits.pk,
            "d-targets": "2026-11 2,700",
            "d-reason": "下方修正",
        },
    )
    decision = review.decisions.get()
    assert decision.detail == {"targets": {"2026-11": "2,700"}}
    client.post(f"/pdca/decisions/{decision.pk}/apply/")
    assert Target.objects.get(node=visits, period=dt.date(2026, 11, 1)).value == 2700
    client.post(
        detail, {"step": "item", "a-title": "リスト業者を比較する", "a-due_on": "2026-11-20"}
    )
    assert review.actions.get().source == "review"
    client.post(detail, {"step": "close"})
    review.refresh_from_db()
    assert review.status == "closed"
    page = client.get("/scorecards/engagements/CALL-1/").content.decode()
    assert "最終レビュー: 2026年10月30日（四半期レビュー）" in page


def test_a_vendor_reads_its_reviews_in_english_but_cannot_write(
    client, manager, vendor_user, other_vendor_user, engagement_a, review
) -> None:
    vendor_user.language = "en"
    vendor_user.save()
    client.force_login(vendor_user)
    page = client.get(f"/pdca/reviews/{review.pk}/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Findings per KPI" in html and "Quarterly review" in html
    assert 'name="step"' not in html
    assert client.post(f"/pdca/reviews/{review.pk}/", {"step": "close"}).status_code == 403
    client.force_login(other_vendor_user)
    assert client.get(f"/pdca/reviews/{review.pk}/").status_code == 404
