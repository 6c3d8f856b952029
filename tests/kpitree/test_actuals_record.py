import datetime as dt

import pytest

from engagements.models import Submission
from kpitree.models import Actual, Rollup, ValueAudit
from kpitree.services import RecordError, actuals_record
from tests.kpitree.conftest import row

APR = dt.date(2026, 4, 1)


def test_it_writes_actuals_audits_them_and_recomputes(
    manager, revenue, django_capture_on_commit_callbacks
):
    rows = [
        row("visits", "2026-04", 50_000, "展示会で増加"),
        row("cvr", "2026-04", 2),
        row("avg_price", "2026-04", 10_000),
    ]
    with django_capture_on_commit_callbacks(execute=True):
        result = actuals_record(user=manager, rows=rows, channel="api")
    assert result.as_dict() == {"created": 3, "updated": 0, "unchanged": 0}
    assert Actual.objects.get(node=revenue["visits"], period=APR).comment == "展示会で増加"
    audit = ValueAudit.objects.get(node=revenue["visits"])
    assert (audit.kind, audit.old_value, audit.new_value, audit.user, audit.channel) == (
        "actual",
        None,
        50_000,
        manager,
        "api",
    )
    sales = Rollup.objects.get(node=revenue["sales"], grain="month", period=APR)
    assert sales.actual == 10_000_000
    revenue["sales"].tree.refresh_from_db()
    assert not revenue["sales"].tree.is_stale


def test_it_reports_the_same_payload_twice_as_unchanged(manager, revenue):
    rows = [row("visits", "2026-04", 50_000), row("cvr", "2026-04", 2)]
    actuals_record(user=manager, rows=rows, channel="api")
    assert actuals_record(user=manager, rows=rows, channel="api").as_dict() == {
        "created": 0,
        "updated": 0,
        "unchanged": 2,
    }
    assert ValueAudit.objects.count() == 2


def test_it_updates_and_audits_the_old_value(manager, revenue):
    actuals_record(user=manager, rows=[row("visits", "2026-04", 50_000)], channel="web")
    result = actuals_record(
        user=manager, rows=[row("visits", "2026-04", 52_000, "再集計")], channel="upload"
    )
    assert result.as_dict() == {"created": 0, "updated": 1, "unchanged": 0}
    latest = ValueAudit.objects.filter(node=revenue["visits"]).first()
    assert (latest.old_value, latest.new_value, latest.new_text, latest.channel) == (
        50_000,
        52_000,
        "再集計",
        "upload",
    )


def test_it_rejects_every_bad_row_by_index_and_writes_nothing(manager, revenue):
    rows = [
        row("visits", "2026-04", 50_000),  # good
        row("nope", "2026-04", 1),  # unknown node
        row("sales", "2026-04", 1),  # computed node
        row("cvr", "2026-13", 1),  # bad month
        row("cvr", "2028-01", 1),  # outside the plan
        row("cvr", "2026-05", "abc"),  # not a number
        row("cvr", "2026-06", "inf"),  # not finite
        row("visits", "2026-04", 1),  # duplicate of row 0
        row("visits", "2026-05", 1, tree="NOPE"),  # unknown tree
    ]
    with pytest.raises(RecordError) as exc:
        actuals_record(user=manager, rows=rows, channel="api")
    assert [(e["index"], e["field"]) for e in exc.value.errors] == [
        (1, "node"),
        (2, "node"),
        (3, "period"),
        (4, "period"),
        (5, "value"),
        (6, "value"),
        (7, "period"),
        (8, "tree"),
    ]
    assert (
        exc.value.errors[2]["message"]
        == "“2026-13”は年月ではありません。YYYY-MM形式で入力してください。"
    )
    assert Actual.objects.count() == 0
    assert ValueAudit.objects.count() == 0


def test_it_hides_another_vendors_node_from_a_vendor(vendor_user, revenue):
    with pytest.raises(RecordError) as exc:
        actuals_record(
            user=vendor_user,
            rows=[row("visits", "2026-04", 1), row("ads_cpa", "2026-04", 9000)],
            channel="api",
        )
    assert [(e["index"], e["field"]) for e in exc.value.errors] == [(1, "node")]
    assert "ads_cpa" in exc.value.errors[0]["message"]
    assert Actual.objects.count() == 0


def test_it_refuses_an_in_house_node_to_a_vendor(vendor_user, revenue):
    with pytest.raises(RecordError) as exc:
        actuals_record(user=vendor_user, rows=[row("avg_price", "2026-04", 1)], channel="api")
    assert exc.value.errors[0]["field"] == "node"
    assert Actual.objects.count() == 0


def test_it_lets_a_vendor_write_its_own_nodes(vendor_user, revenue):
    result = actuals_record(
        user=vendor_user,
        rows=[row("visits", "2026-04", 1), row("cvr", "2026-04", 2)],
        channel="web",
    )
    assert result.created == 2


def test_it_rejects_a_locked_month_and_writes_nothing(vendor_user, revenue, engagement_a):
    Submission.objects.create(engagement=engagement_a, period=APR, status="approved")
    with pytest.raises(RecordError) as exc:
        actuals_record(
            user=vendor_user,
            rows=[row("visits", "2026-04", 1), row("cvr", "2026-05", 2)],
            channel="api",
        )
    assert exc.value.only_locked
    assert [e["index"] for e in exc.value.errors] == [0]
    assert exc.value.errors[0]["code"] == "locked"
    assert Actual.objects.count() == 0


@pytest.mark.parametrize("fixture", ["supervisor", "viewer"])
def test_it_refuses_read_only_roles(request, fixture, revenue):
    user = request.getfixturevalue(fixture)
    with pytest.raises(RecordError) as exc:
        actuals_record(user=user, rows=[row("visits", "2026-04", 1)], channel="api")
    assert exc.value.errors[0]["code"] == "forbidden"
    assert Actual.objects.count() == 0


@pytest.mark.parametrize("payload", [[], {"tree": "FY2026"}, ["x"], None])
def test_it_refuses_a_payload_that_is_not_a_list_of_rows(manager, revenue, payload):
    with pytest.raises(RecordError):
        actuals_record(user=manager, rows=payload, channel="api")
    assert Actual.objects.count() == 0


def test_it_refuses_to_type_a_value_the_app_counts_itself(manager, tree, engagement_a):
    from kpitree.models import Node

    Node.objects.create(
        tree=tree,
        code="proposals",
        name="改善提案件数",
        engagement=engagement_a,
        source="proposal_count",
    )
    with pytest.raises(RecordError) as exc:
        actuals_record(user=manager, rows=[row("proposals", "2026-04", 3)], channel="api")
    assert (
        exc.value.errors[0]["message"]
        == "「proposals」はアプリが自動集計する値（改善提案）のため入力できません。"
    )
    assert Actual.objects.count() == 0
    assert (
        actuals_record(
            user=manager, rows=[row("proposals", "2026-04", 3)], channel="system"
        ).created
        == 1
    )
