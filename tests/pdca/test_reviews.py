"""Review meetings (issue 13): decisions applied through kpitree keep what they replace with the
reason, closing a review dates its KPIs' last review, and a phase change proposes the
catalogue's KPIs to add and to retire."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import transaction

from kpi_planner.errors import ServiceError
from kpitree.models import Node, NodeVersion, Target, ValueAudit
from kpitree.recompute import tree_recompute
from kpitree.services import targets_record
from pdca.models import Review, ReviewDecision
from pdca.services import reviews as services
from scorecard.models import ScoreSnapshot
from scorecard.services import snapshot_engagements_for_tree
from tests.kpitree import conftest as kpitree_fixtures
from tests.scorecard import conftest as scorecard_fixtures

tree = kpitree_fixtures.tree
revenue = kpitree_fixtures.revenue
sc_tree = scorecard_fixtures.sc_tree
small = scorecard_fixtures.small

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


def test_each_kind_of_decision_refuses_bad_input_and_writes_nothing(
    manager, engagement_b, revenue, review
) -> None:
    visits = revenue["visits"]
    cases = [
        ({"kind": "maybe"}, {"kind": ["決定の内容を選んでください。"]}),
        (
            {"kind": "keep", "node": revenue["avg_price"]},
            {"node": ["この契約のKPIを選んでください。"]},
        ),
        (
            {"kind": "change_target", "node": visits, "detail": {}, "reason": "見直し"},
            {"detail": ["新しい目標値を月ごとに入力してください。"]},
        ),
        (
            {"kind": "change_definition", "node": visits, "detail": {"weight": 2}, "reason": "x"},
            {"detail": ["新しい定義を入力してください（定義の項目のみ）。"]},
        ),
        (
            {"kind": "retire", "reason": "重複"},
            {"node": ["この契約のKPIを選んでください。"]},
        ),
        (
            {"kind": "add", "template_code": "call.nothing", "reason": "追加"},
            {"template_code": ["カタログのKPIを選んでください。"]},
        ),
        (
            {"kind": "add", "template_code": "call.cpa"},
            {"reason": ["理由を入力してください（変更とともに記録されます）。"]},
        ),
    ]
    for kwargs, expected in cases:
        with pytest.raises(ServiceError) as caught:
            services.decision_add(user=manager, review=review, **kwargs)
        assert caught.value.messages_by_field() == expected, kwargs
    assert ReviewDecision.objects.count() == 0
    kept = services.decision_add(user=manager, review=review, kind="keep", node=visits)
    assert (kept.kind, kept.status, kept.reason) == ("keep", "proposed", "")


def test_a_review_is_corrected_and_only_managers_write(
    manager, supervisor, vendor_user, review
) -> None:
    with pytest.raises(ServiceError) as caught:
        services.review_update(user=manager, review=review, data={"kind": "x", "colour": 1})
    assert caught.value.messages_by_field() == {
        "colour": ["不明な項目です。"],
        "kind": ["レビューの種類を選んでください。"],
    }
    for user in (supervisor, vendor_user):
        with pytest.raises(ServiceError) as caught:
            services.review_update(user=user, review=review, data={"summary": "x"})
        assert caught.value.status == 403
    review.refresh_from_db()
    assert (review.kind, review.summary) == ("quarterly", "")
    services.review_update(
        user=manager, review=review, data={"kind": "market", "summary": " 競合の値下げ "}
    )
    review.refresh_from_db()
    assert (review.kind, review.summary) == ("market", "競合の値下げ")


def test_adding_a_catalogue_kpi_places_it_under_the_kgi(
    manager, engagement_a, tree, revenue, review
) -> None:
    decision = services.decision_add(
        user=manager, review=review, kind="add", template_code="call.cpa", reason="費用対効果を見る"
    )
    services.decision_apply(user=manager, decision=decision)
    node = Node.objects.get(tree=tree, template_code="call.cpa")
    assert (node.code, node.parent.code, node.engagement, node.unit, node.perspective) == (
        "cpa",
        "sales",
        engagement_a,
        "円",
        "financial",
    )
    decision.refresh_from_db()
    assert decision.node == node


def test_a_target_change_of_a_past_month_restates_its_scores_visibly(
    client, manager, supervisor, engagement_a, sc_tree, small
) -> None:
    snapshot_engagements_for_tree(sc_tree.pk)
    review = services.review_create(
        user=manager, engagement=engagement_a, tree=sc_tree, kind="quarterly", held_on=HELD
    )
    decision = services.decision_add(
        user=manager,
        review=review,
        kind="change_target",
        node=small["fin_b"],
        detail={"targets": {"2026-10": "90"}},
        reason="実績水準に合わせる",
    )
    services.decision_apply(user=manager, decision=decision)
    tree_recompute(tree_id=sc_tree.pk)
    snapshot_engagements_for_tree(sc_tree.pk)
    old, new = ScoreSnapshot.objects.filter(engagement=engagement_a).order_by("taken_at", "id")
    # fin_b 90 / 90 → 100: financial (120 × 2 + 100) / 3 = 113.33, overall (113.33 + 80) / 2
    assert (old.overall_score, round(new.overall_score, 2), new.reason) == (
        95.0,
        96.67,
        "target_changed",
    )
    (restated,) = services.review_restatements(engagement_a)
    assert (restated.period, restated.review, restated.decision, restated.old_score) == (
        dt.date(2026, 10, 1),
        review,
        decision,
        95.0,
    )
    assert services.review_restatements(engagement_a, small["fin_a"]) == []
    client.force_login(supervisor)
    today = f"{new.taken_at.astimezone(dt.timezone(dt.timedelta(hours=9))):%Y/%m/%d}"
    line = (
        f"2026年10月のスコアは{today}に再計算されました"
        "（2026/10/30の四半期レビューで「粗利」を変更）：総合スコア 95.0 → 96.7。"
    )
    assert line in client.get("/scorecards/engagements/CALL-1/").content.decode()
    kpi = client.get("/scorecards/trees/SC/kpis/fin_b/").content.decode()
    assert line in kpi
    assert "2026年10月: 100件 → 90件 — 2026-10-30 のレビュー: 実績水準に合わせる" in kpi


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


def test_vendors_and_supervisors_cannot_write_reviews(
    client, manager, supervisor, vendor_user, engagement_a, revenue, review
) -> None:
    decision = services.decision_add(
        user=manager, review=review, kind="retire", node=revenue["cvr"], reason="重複"
    )
    for user in (vendor_user, supervisor):
        client.force_login(user)
        assert client.get("/pdca/engagements/CALL-1/reviews/").status_code == 200
        posted = client.post(
            "/pdca/engagements/CALL-1/reviews/", {"kind": "monthly", "held_on": "2026-11-30"}
        )
        assert posted.status_code == 403
        assert client.post(f"/pdca/decisions/{decision.pk}/apply/").status_code == 403
        assert client.post(f"/pdca/decisions/{decision.pk}/dismiss/").status_code == 403
    assert Review.objects.count() == 1
    decision.refresh_from_db()
    assert decision.status == "proposed"
