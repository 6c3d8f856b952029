"""Acknowledging a design finding (issue 13): it stays listed with its reason but no longer
counts as open; withdrawn, it nags again; nothing is erased."""

from __future__ import annotations

import datetime as dt

import pytest
from rest_framework.test import APIClient

from engagements.demo import seed_accounts_and_engagements
from engagements.models import User
from kpi_planner.errors import ServiceError
from kpitree.demo import seed_trees
from kpitree.models import LintAcknowledgement, Node, Tree
from kpitree.queries import tree_findings
from tests.factories import TreeFactory

URL = "/api/v1/trees/FY2026-ACQ/lint/"


@pytest.fixture
def demo(db) -> Tree:
    seed_accounts_and_engagements()
    seed_trees()
    return Tree.objects.get(code="FY2026-ACQ")


def api(username: str) -> APIClient:
    client = APIClient()
    client.force_authenticate(User.objects.get(username=username))
    return client


def risk_finding(client: APIClient) -> dict:
    (finding,) = [f for f in client.get(URL).json() if f["rule"] == "no-risk-kpi"]
    return finding


def test_a_manager_acknowledges_a_finding_and_withdraws_it(demo) -> None:
    manager = api("manager")
    assert risk_finding(manager)["acknowledged"] is None
    response = manager.post(
        URL + "acknowledgements/",
        {"rule": "no-risk-kpi", "reason": "変更管理は別契約で測定している"},
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["rule"], body["node"], body["reason"], body["by"]) == (
        "no-risk-kpi",
        None,
        "変更管理は別契約で測定している",
        "manager",
    )
    acknowledged = risk_finding(manager)["acknowledged"]
    assert (acknowledged["id"], acknowledged["reason"]) == (
        body["id"],
        "変更管理は別契約で測定している",
    )
    again = manager.post(
        URL + "acknowledgements/", {"rule": "no-risk-kpi", "reason": "x"}, format="json"
    )
    assert again.status_code == 409
    assert again.json()["errors"] == [
        {"field": "rule", "message": "この指摘はすでに確認済みです。"}
    ]
    assert manager.delete(URL + f"acknowledgements/{body['id']}/").status_code == 204
    assert risk_finding(manager)["acknowledged"] is None
    ack = LintAcknowledgement.objects.get(pk=body["id"])  # kept, withdrawn
    assert ack.withdrawn_at is not None and ack.withdrawn_by.username == "manager"


def test_bad_acknowledgements_are_refused_and_nothing_is_written(demo) -> None:
    manager = api("manager")
    no_reason = manager.post(
        URL + "acknowledgements/", {"rule": "no-risk-kpi", "reason": " "}, format="json"
    )
    assert no_reason.status_code == 400
    assert no_reason.json()["errors"] == [
        {"field": "reason", "message": "この指摘を残してよい理由を入力してください。"}
    ]
    unknown = manager.post(
        URL + "acknowledgements/",
        {"rule": "no-owner", "node": "nothing", "reason": "x"},
        format="json",
    )
    assert unknown.status_code == 400
    assert unknown.json()["errors"] == [
        {"field": "rule", "message": "そのような指摘は現在ありません。"}
    ]
    refused = api("supervisor").post(
        URL + "acknowledgements/", {"rule": "no-risk-kpi", "reason": "x"}, format="json"
    )
    assert refused.status_code == 403
    assert LintAcknowledgement.objects.count() == 0


def test_review_overdue_counts_from_the_last_review_not_the_last_edit(demo) -> None:
    node = Node.objects.get(tree=demo, code="calls")
    Node.objects.filter(pk=node.pk).update(
        review_cadence="monthly", reviewed_on=dt.date(2026, 9, 1)
    )
    found = [
        f
        for f in tree_findings(
            User.objects.get(username="manager"), demo, today=dt.date(2026, 11, 21)
        )
        if f.rule == "review-overdue"
    ]
    assert [(f.node, f.message) for f in found] == [
        ("calls", "「架電数」は2026-09-01から見直されていません。")
    ]
    Node.objects.filter(pk=node.pk).update(reviewed_on=dt.date(2026, 11, 1))
    found = [
        f
        for f in tree_findings(
            User.objects.get(username="manager"), demo, today=dt.date(2026, 11, 21)
        )
        if f.rule == "review-overdue"
    ]
    assert found == []


def test_the_editor_shows_the_findings_badges_and_acknowledges_in_the_browser(client, demo) -> None:
    client.force_login(User.objects.get(username="manager"))
    page = client.get("/trees/FY2026-ACQ/")
    html = page.content.decode()
    assert 'data-testid="lint-panel"' in html and "設計レビュー" in html
    assert 'data-testid="lint-badge"' in html
    done = client.post(
        "/trees/FY2026-ACQ/lint/acknowledge/",
        {"rule": "no-risk-kpi", "node": "", "subject": "", "reason": "別契約で管理"},
    )
    assert done.status_code == 302
    html = client.get("/trees/FY2026-ACQ/").content.decode()
    assert "別契約で管理" in html and "is-acknowledged" in html
    refused = client.post(
        "/trees/FY2026-ACQ/lint/acknowledge/", {"rule": "no-risk-kpi", "reason": ""}
    )
    assert refused.status_code == 302
    assert LintAcknowledgement.objects.count() == 1
    client.force_login(User.objects.get(username="supervisor"))
    assert (
        client.post(
            "/trees/FY2026-ACQ/lint/acknowledge/", {"rule": "no-owner", "reason": "x"}
        ).status_code
        == 403
    )


def test_the_node_panel_shows_the_smart_check(client, demo) -> None:
    client.force_login(User.objects.get(username="viewer"))  # English, read-only
    html = client.get("/trees/FY2026-ACQ/nodes/calls/").content.decode()
    assert 'data-testid="smart"' in html and "SMART check" in html and "Time-bound" in html


def test_a_non_manager_cannot_withdraw_and_nothing_changes(demo) -> None:
    manager = api("manager")
    body = manager.post(
        URL + "acknowledgements/", {"rule": "no-risk-kpi", "reason": "別契約"}, format="json"
    ).json()
    assert api("supervisor").delete(URL + f"acknowledgements/{body['id']}/").status_code == 403
    assert api("vendor").delete(URL + f"acknowledgements/{body['id']}/").status_code == 403
    hidden = TreeFactory(code="HIDDEN", name="x")
    assert (
        api("vendor")
        .post("/api/v1/trees/HIDDEN/lint/acknowledgements/", {"rule": "x", "reason": "x"})
        .status_code
        == 404
    )
    assert not LintAcknowledgement.objects.filter(tree=hidden).exists()
    assert LintAcknowledgement.objects.get(pk=body["id"]).withdrawn_at is None
    assert risk_finding(manager)["acknowledged"]["reason"] == "別契約"


def test_a_concurrent_duplicate_gets_the_same_clear_error(demo, monkeypatch) -> None:
    """Two requests that both saw the finding open: the second one's insert hits the partial
    unique constraint, and answers as a duplicate does."""
    from kpitree import queries
    from kpitree.services import lint_acknowledge

    manager = User.objects.get(username="manager")
    open_findings = queries.tree_findings(manager, demo)
    lint_acknowledge(user=manager, tree=demo, rule="no-risk-kpi", reason="先に確認")
    monkeypatch.setattr(queries, "tree_findings", lambda user, tree: open_findings)
    with pytest.raises(ServiceError) as exc:
        lint_acknowledge(user=manager, tree=demo, rule="no-risk-kpi", reason="同時に確認")
    assert [(p.field, p.code, str(p.message)) for p in exc.value.problems] == [
        ("rule", "conflict", "この指摘はすでに確認済みです。")
    ]
    assert list(LintAcknowledgement.objects.values_list("reason", flat=True)) == ["先に確認"]


def test_one_missing_perspective_is_acknowledged_without_the_others(demo) -> None:
    manager = api("manager")
    missing = [f for f in manager.get(URL).json() if f["rule"] == "perspective-missing"]
    if not missing:  # the demo tree covers every perspective: make one empty
        Node.objects.filter(tree=demo, perspective="learning").update(perspective="process")
        missing = [f for f in manager.get(URL).json() if f["rule"] == "perspective-missing"]
    first = missing[0]
    response = manager.post(
        URL + "acknowledgements/",
        {"rule": first["rule"], "subject": first["subject"], "reason": "来期に追加"},
        format="json",
    )
    assert response.status_code == 201, response.content
    after = {
        f["subject"]: f["acknowledged"]
        for f in manager.get(URL).json()
        if f["rule"] == "perspective-missing"
    }
    assert after[first["subject"]]["reason"] == "来期に追加"
    assert [s for s, ack in after.items() if ack is None] == [f["subject"] for f in missing[1:]]


def test_the_panel_groups_open_findings_by_severity_and_links_to_the_fixing_field(
    client, demo
) -> None:
    Node.objects.filter(tree=demo, code="calls").update(engagement=None, owner="")
    client.force_login(User.objects.get(username="manager"))
    html = client.get("/trees/FY2026-ACQ/lint/").content.decode()  # the panel alone
    assert html.index('data-severity="error"') < html.index('data-severity="warning"')
    assert "エラー1件 · 未対応の警告4件" in html
    assert 'href="/trees/FY2026-ACQ/nodes/calls/?focus=owner"' in html
    assert 'href="/trees/FY2026-ACQ/nodes/proposals/targets/"' in html  # no-target
    assert 'href="/trees/FY2026-ACQ/new-node/?kind=kpi&amp;focus=name"' in html  # no-risk-kpi
    form = client.get("/trees/FY2026-ACQ/nodes/calls/?focus=owner").content.decode()
    assert 'data-focus="owner"' in form
    bogus = client.get("/trees/FY2026-ACQ/nodes/calls/?focus=x'%5D").content.decode()
    assert "data-focus" not in bogus
