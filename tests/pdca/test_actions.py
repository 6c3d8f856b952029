"""Tracked actions (issue 13): corrective actions from off-track KPIs, promoted next actions,
their history, who may change them, where they show, and overdue reminders sent once."""

from __future__ import annotations

import datetime as dt

import pytest

from engagements.models import Notification, ReminderLog
from kpi_planner.errors import ServiceError
from kpitree.models import Rollup
from kpitree.recompute import tree_recompute
from kpitree.services import actuals_record, targets_record
from pdca.models import Action, ActionEvent
from pdca.services import actions as services
from tests.kpitree import conftest as kpitree_fixtures
from tests.kpitree.conftest import row

tree = kpitree_fixtures.tree
revenue = kpitree_fixtures.revenue

OCT = dt.date(2026, 10, 1)
DUE = dt.date(2026, 11, 30)


@pytest.fixture
def off_track(manager, tree, revenue):
    """訪問数 (callnavi's KPI, engagement CALL-1) at 50 % of its October target: red."""
    targets_record(
        user=manager,
        tree=tree,
        rows=[{"node": "visits", "period": "2026-10", "value": 100}],
        channel="api",
    )
    actuals_record(
        user=manager,
        rows=[row("visits", "2026-10", 50, "担当者2名が退職\n▶ 新人2名を11月に投入")],
        channel="api",
    )
    tree_recompute(tree_id=tree.pk)
    assert Rollup.objects.get(node=revenue["visits"], grain="month", period=OCT).status == "red"
    return revenue["visits"]


def test_a_vendor_opens_a_corrective_action_on_its_off_track_kpi(
    vendor_user, engagement_a, off_track
) -> None:
    action = services.action_open(
        user=vendor_user,
        engagement=engagement_a,
        node=off_track,
        source="off_track",
        period=OCT,
        title="トークスクリプトを改訂する",
        owner=vendor_user,
        due_on=DUE,
    )
    assert (action.status, action.owner, action.created_by, action.closed_at) == (
        "open",
        vendor_user,
        vendor_user,
        None,
    )
    (event,) = ActionEvent.objects.filter(action=action)
    assert (event.kind, event.user) == ("opened", vendor_user)
    assert event.changes == {
        "title": [None, "トークスクリプトを改訂する"],
        "owner": [None, "vend"],
        "due_on": [None, "2026-11-30"],
        "status": [None, "open"],
        "source": [None, "off_track"],
        "period": [None, "2026-10-01"],
    }


def test_bad_input_lists_every_problem_and_writes_nothing(
    vendor_user, other_vendor_user, engagement_a, engagement_b, revenue, off_track
) -> None:
    with pytest.raises(ServiceError) as caught:
        services.action_open(
            user=vendor_user,
            engagement=engagement_a,
            node=revenue["ads_cpa"],  # adbridge's KPI
            source="off_track",
            period=OCT,
            title="  ",
            owner=other_vendor_user,
            due_on=None,
        )
    assert caught.value.messages_by_field() == {
        "title": ["実施する内容を入力してください。"],
        "due_on": ["期限を入力してください。"],
        "node": [
            "このKPIは別の契約のものです。",
            "このKPIはその月に未達ではありません。",
        ],
        "owner": ["担当者は、マネージャーまたはこの契約の外注先のユーザーにしてください。"],
    }
    assert Action.objects.count() == 0
    assert ActionEvent.objects.count() == 0


def test_another_vendor_may_not_open_or_change_an_action(
    manager, vendor_user, other_vendor_user, engagement_a, off_track
) -> None:
    with pytest.raises(ServiceError) as caught:
        services.action_open(
            user=other_vendor_user,
            engagement=engagement_a,
            source="manual",
            title="x",
            due_on=DUE,
        )
    assert caught.value.status == 403
    action = services.action_open(
        user=manager, engagement=engagement_a, source="manual", title="x", due_on=DUE
    )
    with pytest.raises(ServiceError):
        services.action_update(user=other_vendor_user, action=action, data={"status": "done"})
    assert ActionEvent.objects.filter(action=action).count() == 1


def test_closing_needs_evidence_and_every_change_is_kept(
    manager, vendor_user, engagement_a, off_track
) -> None:
    action = services.action_open(
        user=manager,
        engagement=engagement_a,
        node=off_track,
        source="off_track",
        period=OCT,
        title="トークスクリプトを改訂する",
        owner=vendor_user,
        due_on=DUE,
    )
    with pytest.raises(ServiceError) as caught:
        services.action_update(user=vendor_user, action=action, data={"status": "done"})
    assert caught.value.messages_by_field() == {
        "evidence": ["完了とする前に、完了を示す根拠（証跡）を入力してください。"]
    }
    action.refresh_from_db()
    assert action.status == "open"
    services.action_update(
        user=vendor_user,
        action=action,
        data={"status": "done", "evidence": "改訂版スクリプト v2 を11/5から運用"},
    )
    action.refresh_from_db()
    assert action.status == "done" and action.closed_at is not None
    services.action_update(user=manager, action=action, data={"status": "in_progress"})
    action.refresh_from_db()
    assert action.closed_at is None
    kinds = list(ActionEvent.objects.filter(action=action).values_list("kind", "changes"))
    assert kinds[1:] == [
        (
            "closed",
            {"status": ["open", "done"], "evidence": ["", "改訂版スクリプト v2 を11/5から運用"]},
        ),
        ("reopened", {"status": ["done", "in_progress"]}),
    ]


def test_a_vendors_next_action_is_promoted_once(vendor_user, engagement_a, off_track) -> None:
    action = services.action_promote_next_action(
        user=vendor_user, engagement=engagement_a, node=off_track, period=OCT
    )
    assert (action.title, action.source, action.period, action.due_on, action.owner) == (
        "新人2名を11月に投入",
        "next_action",
        OCT,
        dt.date(2026, 11, 30),
        vendor_user,
    )
    with pytest.raises(ServiceError) as caught:
        services.action_promote_next_action(
            user=vendor_user, engagement=engagement_a, node=off_track, period=OCT
        )
    assert caught.value.messages == ["この次のアクションはすでに追跡しています。"]
    assert Action.objects.count() == 1


def test_overdue_actions_are_reminded_once_a_day(
    manager, vendor_user, engagement_a, off_track
) -> None:
    for title in ("A", "B"):
        services.action_open(
            user=manager,
            engagement=engagement_a,
            source="manual",
            title=title,
            owner=vendor_user,
            due_on=dt.date(2026, 11, 1),
        )
    today = dt.date(2026, 11, 12)
    assert services.actions_remind_overdue(today=today) == 2  # the owner and the manager
    assert services.actions_remind_overdue(today=today) == 0
    notes = Notification.objects.filter(kind="action_overdue").order_by("recipient__username")
    assert [(n.recipient.username, n.subject) for n in notes] == [
        ("mgr", "テレアポ: 期限を過ぎた未完了のアクション（2件）"),
        ("vend", "テレアポ: 期限を過ぎた未完了のアクション（2件）"),
    ]
    assert notes[0].url == "/pdca/actions/?engagement=CALL-1"
    assert ReminderLog.objects.filter(kind="action_overdue").count() == 2
    assert services.actions_remind_overdue(today=dt.date(2026, 11, 13)) == 2


def test_an_overdue_reminder_waits_for_the_digest_of_who_chose_it(
    manager, vendor_user, engagement_a, off_track, mailoutbox
) -> None:
    from portal import notifications

    for user, address, digest in (
        (manager, "mgr@example.jp", False),
        (vendor_user, "vend@example.jp", True),
    ):
        user.email, user.alert_digest = address, digest
        user.save()
    services.action_open(
        user=manager,
        engagement=engagement_a,
        source="manual",
        title="A",
        owner=vendor_user,
        due_on=dt.date(2026, 11, 1),
    )
    assert services.actions_remind_overdue(today=dt.date(2026, 11, 12)) == 2
    # The manager is mailed at once; the vendor's notice is in-app now, by e-mail in the digest.
    assert [m.to for m in mailoutbox] == [["mgr@example.jp"]]
    note = Notification.objects.get(kind="action_overdue", recipient=vendor_user)
    assert (note.in_digest, note.emailed_at) == (True, None)
    mailoutbox.clear()
    assert notifications.send_digests() == 1
    assert notifications.send_digests() == 0
    (mail,) = mailoutbox
    assert mail.to == ["vend@example.jp"]
    assert mail.subject == "本日のダイジェスト: アラート1件"
    assert mail.body.splitlines()[0] == "・テレアポ: 期限を過ぎた未完了のアクション（1件）"


# -- pages -------------------------------------------------------------------------------------


def test_the_kpi_page_offers_a_corrective_action_and_the_vendor_opens_one(
    client, vendor_user, engagement_a, off_track
) -> None:
    client.force_login(vendor_user)
    page = client.get("/scorecards/trees/FY2026/kpis/visits/")
    assert page.status_code == 200
    html = page.content.decode()
    link = "/pdca/actions/new/?engagement=CALL-1&amp;tree=FY2026&amp;node=visits&amp;source=off_track&amp;period=2026-10"
    assert link in html
    assert "是正アクションを起票" in html
    url = link.replace("&amp;", "&")
    form = client.get(url)
    assert form.status_code == 200
    assert "訪問数を目標の水準に戻す" in form.content.decode()
    bad = client.post(url, {"title": "", "due_on": "2026-13-40"})
    assert bad.status_code == 200
    assert Action.objects.count() == 0
    done = client.post(
        url, {"title": "架電リストを入れ替える", "due_on": "2026-11-30", "owner": vendor_user.pk}
    )
    action = Action.objects.get()
    assert done.status_code == 302 and done["Location"] == f"/pdca/actions/{action.pk}/"
    assert (action.source, action.node, action.period) == ("off_track", off_track, OCT)
    portal = client.get("/portal/").content.decode()
    assert "架電リストを入れ替える" in portal


def test_another_vendor_cannot_see_the_action(
    client, manager, other_vendor_user, engagement_a, off_track
) -> None:
    action = services.action_open(
        user=manager, engagement=engagement_a, source="manual", title="x", due_on=DUE
    )
    client.force_login(other_vendor_user)
    assert client.get(f"/pdca/actions/{action.pk}/").status_code == 404
    assert f"/pdca/actions/{action.pk}/" not in client.get("/pdca/actions/").content.decode()
    assert client.post(f"/pdca/actions/{action.pk}/", {"title": "y"}).status_code == 404


def test_the_action_page_in_english_shows_its_history(
    client, manager, viewer, engagement_a, off_track
) -> None:
    action = services.action_open(
        user=manager, engagement=engagement_a, source="manual", title="Fix the list", due_on=DUE
    )
    client.force_login(viewer)  # language: English; read-only
    page = client.get(f"/pdca/actions/{action.pk}/")
    html = page.content.decode()
    assert page.status_code == 200
    assert "History" in html and "Opened" in html and "Fix the list" in html
    assert 'name="evidence"' not in html  # no edit form for a viewer
    assert client.post(f"/pdca/actions/{action.pk}/", {"title": "y"}).status_code == 403


def test_the_action_list_answers_a_post_with_405_and_writes_nothing(
    client, viewer, engagement_a, off_track
) -> None:
    # The list is a page of filters (GET): a POST is no write it could take, for any role.
    client.force_login(viewer)
    response = client.post("/pdca/actions/", {"title": "y", "engagement": "CALL-1"})
    assert (response.status_code, Action.objects.count()) == (405, 0)
