import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.utils import translation

from kpitree.models import Actual, Node, Target, Tree, ValueAudit
from kpitree.services import actuals_record, targets_record, tree_copy
from tests.kpitree.conftest import row


@pytest.fixture
def planned(manager, tree, revenue):
    """The revenue tree with an April actual and targets for April and March."""
    actuals_record(user=manager, rows=[row("visits", "2026-04", 50_000)], channel="web")
    targets_record(
        user=manager,
        tree=tree,
        rows=[
            {"node": "visits", "period": "2026-04", "value": 50_000, "rationale": "past_results"},
            {"node": "sales", "period": "2027-03", "value": 9e6, "rationale": "agreement"},
        ],
        channel="web",
    )
    return tree


def copy_of(user, tree, **kwargs) -> Tree:
    args = {"code": "FY2027", "name": "FY2027 計画", "with_targets": True, "shift_months": 12}
    return tree_copy(user=user, tree=tree, **{**args, **kwargs})


def test_it_copies_the_nodes_into_the_next_fiscal_year(manager, planned, revenue, engagement_a):
    copy = copy_of(manager, planned)
    assert (copy.start_month, copy.end_month) == (dt.date(2027, 4, 1), dt.date(2028, 3, 1))
    nodes = {n.code: n for n in Node.objects.filter(tree=copy).select_related("parent")}
    assert sorted(nodes) == ["ads_cpa", "avg_price", "cvr", "sales", "visits"]
    assert nodes["visits"].parent == nodes["sales"]
    assert nodes["visits"].engagement == engagement_a
    assert nodes["sales"].formula == "visits * cvr / 100 * avg_price"
    assert nodes["ads_cpa"].parent is None
    # The source is untouched.
    assert Node.objects.filter(tree=planned).count() == 5


def test_it_moves_the_targets_with_the_months(manager, planned):
    copy = copy_of(manager, planned)
    targets = sorted(
        Target.objects.filter(node__tree=copy).values_list(
            "node__code", "period", "value", "rationale"
        )
    )
    assert targets == [
        ("sales", dt.date(2028, 3, 1), 9e6, "agreement"),
        ("visits", dt.date(2027, 4, 1), 50_000, "past_results"),
    ]
    # Written through targets_record, so audited like any other target.
    assert ValueAudit.objects.filter(node__tree=copy, kind="target").count() == 2


def test_it_copies_without_the_targets_when_asked(manager, planned):
    copy = copy_of(manager, planned, with_targets=False)
    assert Target.objects.filter(node__tree=copy).count() == 0


def test_it_never_copies_actuals(manager, planned):
    copy = copy_of(manager, planned)
    assert Actual.objects.filter(node__tree=copy).count() == 0


def test_the_copy_is_recomputed(manager, planned, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        copy = copy_of(manager, planned)
    copy.refresh_from_db()
    assert copy.computed_version == copy.data_version > 0


def test_it_refuses_a_code_in_use_and_writes_nothing(manager, planned):
    with pytest.raises(ValidationError) as exc:
        copy_of(manager, planned, code=planned.code)
    assert list(exc.value.message_dict) == ["code"]
    assert Tree.objects.count() == 1
    assert Node.objects.count() == 5


def test_it_refuses_a_plan_that_would_be_too_long(manager, planned):
    planned.end_month = dt.date(2036, 4, 1)  # 121 months from April 2026
    with pytest.raises(ValidationError) as exc, translation.override("en"):
        copy_of(manager, planned, with_targets=False)
    assert exc.value.message_dict == {"end_month": ["A plan may span at most 120 months."]}
    assert Tree.objects.count() == 1


def test_it_lets_only_managers_copy(supervisor, planned):
    with pytest.raises(ValidationError):
        copy_of(supervisor, planned)
    assert Tree.objects.count() == 1


def test_the_copy_form_opens_the_copy(manager, planned):
    client = Client()
    client.force_login(manager)
    response = client.post(
        f"/trees/{planned.code}/copy/",
        {"code": "FY2027", "name": "FY2027 計画", "shift_months": "12", "with_targets": "on"},
    )
    assert response.status_code == 302
    assert response.url == "/trees/FY2027/"
    assert Target.objects.filter(node__tree__code="FY2027").count() == 2


def test_the_copy_form_shows_a_taken_code_beside_the_field(manager, planned):
    client = Client()
    client.force_login(manager)
    response = client.post(
        f"/trees/{planned.code}/copy/", {"code": planned.code, "name": "x", "shift_months": "12"}
    )
    assert response.status_code == 200
    assert response.context["form"].errors["code"]
    assert Tree.objects.count() == 1


def test_last_year_comes_from_the_plan_it_was_copied_from(manager, planned, revenue) -> None:
    """Issue 15: after copy-to-next-year, the target grid's "last year" and the scorecard's
    前年同月比 read the previous plan's figures."""
    from kpi_planner import months as m
    from kpitree import recompute
    from kpitree.queries import target_grid
    from scorecard import queries as scorecard_queries

    copy = copy_of(manager, planned)
    visits = Node.objects.get(tree=copy, code="visits")
    assert visits.copied_from == revenue["visits"]
    grid = target_grid(visits, dt.date(2027, 4, 1), count=2)
    assert [(g.key, g.last_year) for g in grid] == [("2027-04", 50_000.0), ("2027-05", None)]

    from tests.factories import ActualFactory

    ActualFactory(node=visits, period=dt.date(2027, 4, 1), value=55_000)  # a month not yet ended
    Node.objects.filter(pk=visits.pk).update(perspective="process")  # scored on the scorecard
    for t in (planned, copy):
        recompute.tree_recompute(tree_id=t.pk)
    page = scorecard_queries.engagement_page(visits.engagement, m.month_of("2027-04"), "month")
    (line,) = [ln for ln in page.lines.values() if ln.kpi.node_id == visits.pk]
    assert line.year_ago == pytest.approx(10.0)  # 55,000 against 50,000 a year before
