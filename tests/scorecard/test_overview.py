import datetime as dt

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from engagements.models import Engagement, Submission, Vendor
from kpitree.models import Tree
from kpitree.recompute import tree_recompute
from kpitree.services import actuals_record, targets_record
from tests.scorecard.conftest import kpi

URL = "/scorecards/"


def login(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def codes(response) -> list[str]:
    return [r.engagement.code for r in response.context["rows"]]


def test_it_lists_every_engagement_for_a_supervisor(supervisor, small) -> None:
    response = login(supervisor).get(URL, {"period": "2026-10"})
    assert response.status_code == 200
    assert sorted(codes(response)) == ["ADS-1", "CALL-1"]


def test_it_shows_a_vendor_only_its_own_engagements(vendor_user, small) -> None:
    assert codes(login(vendor_user).get(URL, {"period": "2026-10"})) == ["CALL-1"]


def test_a_viewer_bound_to_a_vendor_sees_only_that_vendor(small, vendor_b) -> None:
    from tests.conftest import make_user

    viewer = make_user("view_b", "viewer", vendor_b)
    assert codes(login(viewer).get(URL, {"period": "2026-10"})) == ["ADS-1"]


def test_it_shows_statuses_off_track_kpis_and_the_last_submission(
    supervisor, small, engagement_a
) -> None:
    # The fixture's actuals made October a draft (every channel does); it is then submitted.
    Submission.objects.update_or_create(
        engagement=engagement_a,
        period=dt.date(2026, 10, 1),
        defaults={
            "status": "submitted",
            "submitted_at": dt.datetime(2026, 11, 5, 10, 0, tzinfo=dt.UTC),
        },
    )
    response = login(supervisor).get(URL, {"period": "2026-10"})
    row = next(r for r in response.context["rows"] if r.engagement.code == "CALL-1")
    assert (row.overall, row.overall_status) == (95.0, "amber")
    assert row.perspectives["process"] == (None, "none", 0)
    assert (row.off_track, row.n_kpis, row.last_period) == (
        1,
        4,
        dt.date(2026, 10, 1),
    )  # 解約数 is red


def test_it_filters_and_sorts(supervisor, small) -> None:
    client = login(supervisor)
    assert codes(client.get(URL, {"period": "2026-10", "status": "green"})) == ["ADS-1"]
    assert codes(client.get(URL, {"period": "2026-10", "vendor": "callnavi"})) == ["CALL-1"]
    assert codes(client.get(URL, {"period": "2026-10", "sort": "overall"})) == ["CALL-1", "ADS-1"]
    assert codes(client.get(URL, {"period": "2026-10", "sort": "-overall"})) == ["ADS-1", "CALL-1"]


def test_it_exports_the_table_as_csv(supervisor, small) -> None:
    response = login(supervisor).get(
        URL, {"period": "2026-10", "csv": "engagements", "sort": "engagement"}
    )
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    lines = response.content.decode("utf-8-sig").splitlines()
    assert lines[0].startswith("契約,コード,外注先")
    assert lines[2].startswith(
        "テレアポ,CALL-1,株式会社コールナビ,アウトバウンドコールセンター,改善,amber,95.0,"
    )


def test_it_survives_a_period_nobody_can_read(supervisor, small) -> None:
    response = login(supervisor).get(URL, {"period": "2026-99", "grain": "decade", "sort": "x"})
    assert response.status_code == 200
    assert response.context["bad_period"] is True


def test_it_sends_anonymous_visitors_to_log_in(db) -> None:
    assert Client().get(URL).status_code == 302


def make_engagements(manager, n: int) -> None:
    """n engagements of one vendor, each with one KPI per perspective and a month of data."""
    vendor = Vendor.objects.create(code=f"v{n}", name=f"外注先{n}")
    tree = Tree.objects.create(
        code=f"T{n}", name="T", start_month=dt.date(2026, 4, 1), end_month=dt.date(2027, 3, 1)
    )
    rows, targets = [], []
    for i in range(n):
        e = Engagement.objects.create(
            code=f"E{n}-{i}",
            name=f"契約{i}",
            vendor=vendor,
            outsourcing_type="support",
            phase="launch",
            start_month=dt.date(2026, 4, 1),
            end_month=dt.date(2027, 3, 1),
        )
        Submission.objects.create(engagement=e, period=dt.date(2026, 9, 1), status="approved")
        for p in ("financial", "customer", "process", "learning"):
            code = f"{p}{i}"
            kpi(tree, code, e, p)
            rows.append({"tree": tree.code, "node": code, "period": "2026-10", "value": 90 + i})
            targets.append({"node": code, "period": "2026-10", "value": 100})
    targets_record(user=manager, tree=tree, rows=targets, channel="api")
    actuals_record(user=manager, rows=rows, channel="api")
    tree_recompute(tree_id=tree.pk)


@pytest.mark.parametrize("path", [URL, "/scorecards/comparison/"])
def test_it_makes_the_same_number_of_queries_for_few_and_many_engagements(
    manager, supervisor, path
) -> None:
    client = login(supervisor)
    make_engagements(manager, 2)
    with CaptureQueriesContext(connection) as few:
        assert client.get(path, {"period": "2026-10"}).status_code == 200
    make_engagements(manager, 25)
    with CaptureQueriesContext(connection) as many:
        response = client.get(path, {"period": "2026-10"})
    assert len(response.context["rows"]) == 27 if path == URL else True
    assert len(many) == len(few)
