import datetime as dt

from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from kpitree.models import Tree
from kpitree.recompute import tree_recompute
from kpitree.services import actuals_record, targets_record
from scorecard.models import EngagementScoring, ScoreSnapshot
from tests.scorecard.conftest import kpi, record

URL = "/scorecards/engagements/CALL-1/"


def login(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_it_shows_the_perspective_cards_and_off_track_kpis_first(supervisor, small) -> None:
    response = login(supervisor).get(URL, {"period": "2026-10"})
    assert response.status_code == 200
    card = response.context["card"]
    assert (card.overall_score, card.perspectives["process"].missing) == (95.0, True)
    financial = [
        line["kpi"].code
        for line in dict((p.key, lines) for p, _l, lines in response.context["perspectives"])[
            "financial"
        ]
    ]
    assert financial == ["fin_b", "fin_a"]  # amber before green
    assert [item["line"].kpi.code for item in response.context["attention"]] == ["cus_a", "fin_b"]
    html = response.content.decode()
    assert 'class="spark"' in html and 'id="fig-trend"' in html


def test_it_compares_with_last_month_and_last_year_and_shows_the_comments(
    manager, supervisor, small
) -> None:
    record(manager, [("fin_a", "2026-09", 120)])
    record(manager, [("fin_a", "2026-10", 150)], comment="大型案件を2件受注")
    response = login(supervisor).get(URL, {"period": "2026-10"})
    line = response.context["page"].lines[small["fin_a"].pk]
    assert line.previous == 25.0  # 150 against 120
    assert line.year_ago is None  # no October 2025
    assert line.comments == [(dt.date(2026, 10, 1), "大型案件を2件受注")]
    assert "大型案件を2件受注" in response.content.decode()


def test_it_hides_another_vendors_engagement(other_vendor_user, small) -> None:
    assert login(other_vendor_user).get(URL).status_code == 404


def test_a_vendor_sees_its_own_scorecard_without_the_weights_form(vendor_user, small) -> None:
    response = login(vendor_user).get(URL, {"period": "2026-10"})
    assert response.status_code == 200
    assert 'name="financial"' not in response.content.decode()


def test_it_exports_the_kpis_as_csv(supervisor, small) -> None:
    response = login(supervisor).get(URL, {"period": "2026-10", "csv": "kpis"})
    rows = response.content.decode("utf-8-sig").splitlines()
    assert rows[1] == "粗利,財務,amber,90.0,100.0,件,90.0,90.0,1.0,,,,"  # off track first
    assert rows[2] == "受注金額,財務,green,150.0,100.0,件,150.0,120.0,2.0,,,,"
    assert login(supervisor).get(URL, {"csv": "nope"}).status_code == 404


def test_a_manager_sets_the_perspective_weights(manager, small, engagement_a) -> None:
    client = login(manager)
    response = client.post(
        URL + "weights/",
        {"financial": "3", "customer": "1", "process": "1", "learning": "1", "period": "2026-10"},
    )
    assert response.status_code == 302
    assert response.url == URL + "?period=2026-10"
    assert EngagementScoring.objects.get(engagement=engagement_a).weights()["financial"] == 3.0
    assert client.get(URL, {"period": "2026-10"}).context["card"].overall_score == 102.5


def test_it_rejects_bad_weights_and_writes_nothing(manager, small, engagement_a) -> None:
    client = login(manager)
    response = client.post(
        URL + "weights/", {"financial": "-1", "customer": "abc", "process": "1"}, follow=True
    )
    assert "0から100までの数値を入力してください。" in response.content.decode()
    assert not EngagementScoring.objects.exists()
    response = client.post(
        URL + "weights/",
        dict.fromkeys(("financial", "customer", "process", "learning"), "0"),
        follow=True,
    )
    assert not EngagementScoring.objects.exists()
    assert ScoreSnapshot.objects.count() == 0


def test_only_managers_set_weights(supervisor, other_vendor_user, small) -> None:
    data = dict.fromkeys(("financial", "customer", "process", "learning"), "1")
    assert login(supervisor).post(URL + "weights/", data).status_code == 403
    assert login(other_vendor_user).post(URL + "weights/", data).status_code == 404
    assert not EngagementScoring.objects.exists()


def make_kpis(manager, engagement, n: int, code: str) -> None:
    """n KPIs of the engagement with 13 months of actuals and targets."""
    tree = Tree.objects.create(
        code=code, name=code, start_month=dt.date(2025, 10, 1), end_month=dt.date(2027, 3, 1)
    )
    months = [
        f"{y}-{m:02d}"
        for y, m in [(2025, 10), (2025, 11), (2025, 12)] + [(2026, m) for m in range(1, 11)]
    ]
    perspectives = ["financial", "customer", "process", "learning"]
    for i in range(n):
        kpi(tree, f"k{i}", engagement, perspectives[i % 4])
    actuals_record(
        user=manager,
        rows=[
            {"tree": code, "node": f"k{i}", "period": m, "value": 90 + i, "comment": "理由"}
            for i in range(n)
            for m in months
        ],
        channel="api",
    )
    targets_record(
        user=manager,
        tree=tree,
        rows=[{"node": f"k{i}", "period": m, "value": 100} for i in range(n) for m in months],
        channel="api",
    )
    tree_recompute(tree_id=tree.pk)


def test_it_makes_the_same_number_of_queries_for_few_and_many_kpis(
    manager, supervisor, engagement_a, engagement_b
) -> None:
    client = login(supervisor)
    make_kpis(manager, engagement_a, 3, "FEW")
    make_kpis(manager, engagement_b, 40, "MANY")
    for grain in ("month", "quarter"):
        with CaptureQueriesContext(connection) as few:
            client.get(URL, {"period": "2026-10", "grain": grain})
        with CaptureQueriesContext(connection) as many:
            response = client.get(
                "/scorecards/engagements/ADS-1/", {"period": "2026-10", "grain": grain}
            )
        assert len(response.context["card"].kpis()) == 40
        assert len(many) == len(few)
