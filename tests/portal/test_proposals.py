"""Improvement proposals (改善提案): the vendor submits, the manager adopts or declines, and the
month's count and adoption rate feed the Learning & growth nodes through actuals_record."""

from __future__ import annotations

import pytest

from engagements.models import ImprovementProposal
from kpitree.models import Actual, ValueAudit
from kpitree.services import actuals_record
from portal import services
from portal.services import WorkflowError
from tests.portal.helpers import NOV_FIRST, month_rows


def propose(user, engagement, title="トークスクリプトの分岐追加"):
    return services.proposal_submit(
        user=user,
        engagement=engagement,
        title=title,
        description="受付突破率の低いパターンに切り返しを追加する",
        expected_effect="アポ取得率 +1pt",
    )


def fed(plan) -> dict[str, float]:
    return dict(
        Actual.objects.filter(
            node__in=[plan["proposals"], plan["adoption"]], period=NOV_FIRST
        ).values_list("node__code", "value")
    )


def test_it_counts_a_proposal_in_the_month_it_was_submitted(plan, vendor_user):
    propose(vendor_user, plan["calls"].engagement)
    assert fed(plan) == {"proposals": 1}
    audit = ValueAudit.objects.get(node=plan["proposals"])
    assert (audit.user, audit.channel, audit.new_value) == (vendor_user, "system", 1)


def test_it_feeds_the_adoption_rate_of_the_decisions_of_the_month(plan, vendor_user, manager):
    engagement = plan["calls"].engagement
    first, second = propose(vendor_user, engagement), propose(vendor_user, engagement, "別案")
    services.proposal_decide(user=manager, proposal=first, accept=True, note="来月から試行")
    assert fed(plan) == {"proposals": 2, "adoption": 100}
    services.proposal_decide(user=manager, proposal=second, accept=False)
    assert fed(plan) == {"proposals": 2, "adoption": 50}
    first.refresh_from_db()
    assert (first.status, first.decided_by, first.decision_note) == (
        "accepted",
        manager,
        "来月から試行",
    )


def test_it_lets_only_managers_decide(plan, vendor_user):
    proposal = propose(vendor_user, plan["calls"].engagement)
    with pytest.raises(WorkflowError) as exc:
        services.proposal_decide(user=vendor_user, proposal=proposal, accept=True)
    assert exc.value.code == "forbidden"
    assert ImprovementProposal.objects.get().status == "pending"


def test_it_refuses_a_second_decision(plan, vendor_user, manager):
    proposal = propose(vendor_user, plan["calls"].engagement)
    services.proposal_decide(user=manager, proposal=proposal, accept=True)
    with pytest.raises(WorkflowError) as exc:
        services.proposal_decide(user=manager, proposal=proposal, accept=False)
    assert exc.value.code == "conflict"


def test_it_leaves_an_approved_month_alone_and_catches_up_on_reopening(
    plan, vendor_user, manager, settings
):
    settings.ACTUALS_ALLOW_CURRENT_MONTH = True  # November is the current month
    engagement = plan["calls"].engagement
    actuals_record(user=vendor_user, rows=month_rows("2026-11"), channel="web")
    services.submission_submit(user=vendor_user, engagement=engagement, period=NOV_FIRST)
    services.submission_approve(user=manager, engagement=engagement, period=NOV_FIRST)
    assert fed(plan) == {"proposals": 0}  # written on submission
    propose(vendor_user, engagement)  # accepted although the month is locked
    assert fed(plan) == {"proposals": 0}
    services.submission_reopen(
        user=manager, engagement=engagement, period=NOV_FIRST, reason="提案反映"
    )
    assert fed(plan) == {"proposals": 1}


def test_it_refuses_a_proposal_without_a_title(plan, vendor_user):
    with pytest.raises(WorkflowError) as exc:
        services.proposal_submit(
            user=vendor_user, engagement=plan["calls"].engagement, title=" ", description="x"
        )
    assert exc.value.field == "title"
    assert not ImprovementProposal.objects.exists()


def test_it_takes_a_proposal_from_the_page_and_shows_it_to_the_manager(
    client, vendor_user, manager, plan
):
    client.force_login(vendor_user)
    response = client.post(
        "/portal/engagements/CALL-1/proposals/",
        {
            "title": "リスト精度の改善",
            "description": "業種で絞り込む",
            "expected_effect": "接続率 +5pt",
        },
    )
    assert response.status_code == 302
    client.force_login(manager)
    proposal = ImprovementProposal.objects.get()
    page = client.get("/portal/engagements/CALL-1/proposals/").content.decode()
    assert "リスト精度の改善" in page and "接続率 +5pt" in page
    client.post(
        f"/portal/engagements/CALL-1/proposals/{proposal.pk}/decide/",
        {"decision": "accept", "note": ""},
    )
    proposal.refresh_from_db()
    assert proposal.status == "accepted"


def test_it_answers_403_to_a_vendor_deciding_from_the_page(client, vendor_user, plan):
    proposal = propose(vendor_user, plan["calls"].engagement)
    client.force_login(vendor_user)
    response = client.post(
        f"/portal/engagements/CALL-1/proposals/{proposal.pk}/decide/", {"decision": "accept"}
    )
    assert response.status_code == 403
