"""POST actuals/bulk/: upsert by (tree, node, period), all rows or none, audited, and the
rollups follow without any further call."""

import datetime as dt

import pytest

from engagements.models import Submission
from kpitree.models import Actual, ValueAudit
from tests.api.helpers import counts, errors_of, revenue_rows

URL = "/api/v1/actuals/bulk/"


def nothing_written() -> bool:
    return counts(Actual, ValueAudit) == {"Actual": 0, "ValueAudit": 0}


def sales_in(api, period="2026-04", grain="month") -> dict:
    nodes = api.get("/api/v1/trees/rev/rollup/", {"period": period, "grain": grain}).json()["nodes"]
    return next(n for n in nodes if n["node"] == "sales")


def test_it_records_the_worked_example_and_the_rollup_follows(
    mgr_api, rev_tree, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        r = mgr_api.post(URL, revenue_rows())
    assert r.status_code == 200
    assert r.json() == {"created": 3, "updated": 0, "unchanged": 0}
    sales = sales_in(mgr_api)
    assert sales["actual"] == 10000000.0
    assert sales["computed"] is True


def test_it_changes_nothing_the_second_time(mgr_api, rev_tree, django_capture_on_commit_callbacks):
    assert mgr_api.post(URL, revenue_rows()).json() == {"created": 3, "updated": 0, "unchanged": 0}
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        r = mgr_api.post(URL, revenue_rows())
    assert r.json() == {"created": 0, "updated": 0, "unchanged": 3}
    assert callbacks == []  # no recompute queued
    assert counts(Actual, ValueAudit) == {"Actual": 3, "ValueAudit": 3}


def test_it_updates_a_changed_value_and_audits_it(
    mgr_api, manager, rev_tree, django_capture_on_commit_callbacks
):
    mgr_api.post(URL, revenue_rows())
    with django_capture_on_commit_callbacks(execute=True):
        r = mgr_api.post(URL, revenue_rows(visits=60000))
    assert r.json() == {"created": 0, "updated": 1, "unchanged": 2}
    assert sales_in(mgr_api)["actual"] == 12000000.0
    audit = ValueAudit.objects.filter(kind="actual").order_by("id")
    assert [
        (a.node.code, a.period, a.old_value, a.new_value, a.user, a.channel) for a in audit
    ] == [
        ("visits", dt.date(2026, 4, 1), None, 50000.0, manager, "api"),
        ("cvr", dt.date(2026, 4, 1), None, 2.0, manager, "api"),
        ("avg_price", dt.date(2026, 4, 1), None, 10000.0, manager, "api"),
        ("visits", dt.date(2026, 4, 1), 50000.0, 60000.0, manager, "api"),
    ]
    assert all(a.at is not None for a in audit)


def test_it_stores_the_comment_and_the_channel(mgr_api, manager, rev_tree):
    rows = revenue_rows()
    rows[0]["comment"] = "GW期間中のキャンペーン分を含む"
    mgr_api.post(URL, rows)
    visits = Actual.objects.with_status().get(node__code="visits")
    assert (visits.comment, visits.channel, visits.updated_by, visits.status) == (
        "GW期間中のキャンペーン分を含む",
        "api",
        manager,
        "draft",
    )


def test_it_lets_a_vendor_write_its_own_nodes(vendor_api, vendor_user, rev_tree):
    r = vendor_api.post(URL, revenue_rows())
    assert r.json() == {"created": 3, "updated": 0, "unchanged": 0}
    assert set(ValueAudit.objects.values_list("user__username", "channel")) == {("vend", "api")}


def test_it_accepts_numbers_written_as_text(mgr_api, rev_tree):
    r = mgr_api.post(URL, revenue_rows(visits="50000", cvr="2.0"))
    assert r.json() == {"created": 3, "updated": 0, "unchanged": 0}
    assert Actual.objects.get(node__code="cvr").value == 2.0


def test_it_writes_nothing_when_one_row_is_bad(mgr_api, rev_tree):
    rows = revenue_rows()
    rows[1]["value"] = "abc"
    r = mgr_api.post(URL, rows)
    assert r.status_code == 400
    assert errors_of(r) == [{"field": "value", "index": 1}]
    assert nothing_written()


def test_it_lists_every_bad_row_by_index(mgr_api, rev_tree, ads_tree):
    good = revenue_rows()
    r = mgr_api.post(
        URL,
        [
            good[0],
            {"tree": "rev", "node": "nowhere", "period": "2026-04", "value": 1},
            {"tree": "rev", "node": "sales", "period": "2026-04", "value": 1},
            {"tree": "rev", "node": "cvr", "period": "2026-13", "value": 1},
            {"tree": "rev", "node": "cvr", "period": "2027-04", "value": 1},
            {"tree": "rev", "node": "avg_price", "period": "2026-05", "value": "abc"},
            {"tree": "rev", "node": "avg_price", "period": "2026-06", "value": "nan"},
            {"tree": "rev", "node": "avg_price", "period": "2026-07", "value": "inf"},
            {"tree": "nope", "node": "visits", "period": "2026-04", "value": 1},
            {"tree": "rev", "node": "visits", "period": "2026-04", "value": 2},
            {"tree": "rev", "node": "visits", "period": 202604, "value": None},
            good[2],
        ],
    )
    assert r.status_code == 400
    assert errors_of(r) == [
        {"field": "node", "index": 1},
        {"field": "node", "index": 2},
        {"field": "period", "index": 3},
        {"field": "period", "index": 4},
        {"field": "value", "index": 5},
        {"field": "value", "index": 6},
        {"field": "value", "index": 7},
        {"field": "tree", "index": 8},
        {"field": "period", "index": 9},  # same node and month as row 0
        {"field": "period", "index": 10},
        {"field": "value", "index": 10},
    ]
    assert nothing_written()


def test_it_refuses_an_infinite_number_in_the_json(mgr_api, rev_tree):
    body = '[{"tree": "rev", "node": "visits", "period": "2026-04", "value": 1e999}]'
    r = mgr_api.post(URL, body, content_type="application/json")
    assert r.status_code == 400
    assert errors_of(r) == [{"field": "value", "index": 0}]
    assert nothing_written()


def test_it_refuses_malformed_json(mgr_api, rev_tree):
    r = mgr_api.post(URL, '[{"tree": "rev",', content_type="application/json")
    assert r.status_code == 400
    assert errors_of(r) == [{"field": None}]


@pytest.mark.parametrize("body", [{"tree": "rev"}, [], ["visits"], "text"])
def test_it_refuses_a_body_that_is_not_a_list_of_rows(mgr_api, rev_tree, body):
    r = mgr_api.post(URL, body)
    assert r.status_code == 400
    assert errors_of(r) == [{"field": None, "index": 0}]
    assert nothing_written()


def test_it_treats_another_vendors_node_as_unknown(vendor_api, rev_tree, ads_tree):
    rows = [
        *revenue_rows(),
        {"tree": "rev", "node": "ad_clicks", "period": "2026-04", "value": 10},
        {"tree": "rev", "node": "sales", "period": "2026-04", "value": 10},
        {"tree": "ads", "node": "clicks", "period": "2026-04", "value": 10},
    ]
    r = vendor_api.post(URL, rows)
    assert r.status_code == 400
    assert errors_of(r) == [
        {"field": "node", "index": 3},
        {"field": "node", "index": 4},
        {"field": "tree", "index": 5},
    ]
    assert nothing_written()


@pytest.mark.parametrize("caller", ["sv_api", "viewer_api"])
def test_it_refuses_read_only_roles(request, rev_tree, caller):
    r = request.getfixturevalue(caller).post(URL, revenue_rows())
    assert r.status_code == 403
    assert errors_of(r) == [{"field": None, "index": 0}]
    assert nothing_written()


def test_it_answers_409_when_the_only_problem_is_a_locked_month(vendor_api, rev_tree, engagement_a):
    Submission.objects.create(
        engagement=engagement_a, period=dt.date(2026, 4, 1), status="approved"
    )
    r = vendor_api.post(URL, revenue_rows() + revenue_rows("2026-05"))
    assert r.status_code == 409
    assert errors_of(r) == [
        {"field": "period", "index": 0},
        {"field": "period", "index": 1},
        {"field": "period", "index": 2},
    ]
    assert nothing_written()


def test_it_answers_400_for_a_locked_month_with_other_problems(mgr_api, rev_tree, engagement_a):
    Submission.objects.create(
        engagement=engagement_a, period=dt.date(2026, 4, 1), status="approved"
    )
    rows = revenue_rows()
    rows[2]["value"] = "abc"
    r = mgr_api.post(URL, rows)
    assert r.status_code == 400
    assert errors_of(r) == [
        {"field": "period", "index": 0},
        {"field": "period", "index": 1},
        {"field": "value", "index": 2},
    ]
    assert nothing_written()


def test_it_ignores_submissions_that_are_not_approved(mgr_api, rev_tree, engagement_a):
    Submission.objects.create(
        engagement=engagement_a, period=dt.date(2026, 4, 1), status="submitted"
    )
    assert mgr_api.post(URL, revenue_rows()).status_code == 200


def test_it_does_not_lock_other_engagements(mgr_api, rev_tree, engagement_b):
    Submission.objects.create(
        engagement=engagement_b, period=dt.date(2026, 4, 1), status="approved"
    )
    assert mgr_api.post(URL, revenue_rows()).json() == {"created": 3, "updated": 0, "unchanged": 0}
