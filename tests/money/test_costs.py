"""Cost and return: extra charges, the designated gain and acquired KPIs, and the tree nodes that
show cost, ROI, CPA and the gain ratio without anyone typing them."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import translation

from kpi_planner.errors import ServiceError
from kpitree.models import Actual, Node, ValueAudit
from money import queries
from money.models import Charge
from money.services import charge_add, charge_void, money_feed, money_settings_update

APR, MAY = dt.date(2026, 4, 1), dt.date(2026, 5, 1)


@pytest.fixture
def fed(sla) -> dict[str, Node]:
    """Financial-perspective nodes of the engagement fed by money."""
    kgi = sla.appts.parent

    def node(code: str, source: str, unit: str) -> Node:
        return Node.objects.create(
            tree=sla.tree,
            code=code,
            name=code,
            parent=kgi,
            engagement=sla.engagement,
            unit=unit,
            source=source,
            perspective="financial",
        )

    return {
        "cost": node("cost", "money_cost", "円"),
        "roi": node("roi", "money_roi", "%"),
        "cpa": node("cpa", "money_cpa", "円"),
        "ratio": node("ratio", "money_gain_ratio", "%"),
    }


def values(fed, period=APR) -> dict[str, float]:
    return {
        code: Actual.objects.get(node=node, period=period).value
        for code, node in fed.items()
        if Actual.objects.filter(node=node, period=period).exists()
    }


def test_the_fed_nodes_compute_the_worked_example(
    sla, fed, django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        money_settings_update(
            user=sla.manager, engagement=sla.engagement, gain_node="gain", acquired_node="orders"
        )
    from kpitree.services import actuals_record

    with django_capture_on_commit_callbacks(execute=True):
        actuals_record(
            user=sla.manager,
            rows=[
                {
                    "tree": "SLA",
                    "node": "gain",
                    "period": "2026-04",
                    "value": 5_000_000,
                    "comment": "",
                },
                {"tree": "SLA", "node": "orders", "period": "2026-04", "value": 50, "comment": ""},
            ],
            channel="api",
        )
    # Cost 1,000,000 (the fee), gain 5,000,000, 50 orders: ROI 400 %, CPA 20,000, ratio 500%.
    assert values(fed) == {"cost": 1_000_000.0, "roi": 400.0, "cpa": 20_000.0, "ratio": 500.0}
    assert ValueAudit.objects.filter(node=fed["roi"], channel="system").count() == 1


def test_a_charge_moves_the_cost_and_the_roi(sla, fed, django_capture_on_commit_callbacks) -> None:
    from kpitree.services import actuals_record

    money_settings_update(user=sla.manager, engagement=sla.engagement, gain_node="gain")
    actuals_record(
        user=sla.manager,
        rows=[
            {"tree": "SLA", "node": "gain", "period": "2026-04", "value": 5_000_000, "comment": ""}
        ],
        channel="api",
    )
    with django_capture_on_commit_callbacks(execute=True):
        charge_add(
            user=sla.manager,
            engagement=sla.engagement,
            period="2026-04",
            amount="▲200,000",
            description="値引き",
        )
    assert values(fed) == {"cost": 800_000.0, "roi": 525.0, "ratio": 625.0}


def test_an_approved_month_is_not_fed(sla, fed) -> None:
    from tests.money.conftest import approve

    money_settings_update(user=sla.manager, engagement=sla.engagement, gain_node="gain")
    approve(sla.engagement, "2026-04")
    assert money_feed(user=sla.manager, engagement=sla.engagement, months=[APR]) == 0
    assert values(fed) == {}


def test_a_gain_kpi_of_another_engagement_is_refused(sla, engagement_b) -> None:
    foreign = Node.objects.create(
        tree=sla.tree, code="ads_gain", name="広告売上", engagement=engagement_b
    )
    with translation.override("en"), pytest.raises(ServiceError) as exc:
        money_settings_update(user=sla.manager, engagement=sla.engagement, gain_node=foreign.pk)
    assert exc.value.messages == [
        "“広告売上” is a KPI of another engagement; choose one of this engagement."
    ]
    assert queries.money_settings(sla.engagement) is None


@pytest.mark.parametrize("amount", ["abc", "0", "1.5", "", "1e13"])
def test_a_bad_charge_is_refused_and_nothing_is_written(sla, amount) -> None:
    with pytest.raises(ServiceError) as exc:
        charge_add(
            user=sla.manager,
            engagement=sla.engagement,
            period="2026-04",
            amount=amount,
            description="x",
        )
    assert [p.field for p in exc.value.problems] == ["amount"]
    assert Charge.objects.count() == 0


def test_a_voided_charge_is_kept_and_no_longer_counts(sla) -> None:
    charge = charge_add(
        user=sla.manager,
        engagement=sla.engagement,
        period="2026-05",
        amount=300_000,
        description="追加リスト",
    )
    charge_void(user=sla.manager, charge=charge, reason="二重計上")
    charge.refresh_from_db()
    (may,) = [
        r
        for r in queries.returns(sla.engagement, upto=MAY)
        if r.grain == "month" and r.period == MAY
    ]
    assert (charge.void_reason, may.figures.cost, Charge.objects.count()) == (
        "二重計上",
        1_000_000,
        1,
    )


def test_the_returns_table_covers_quarter_year_and_lifetime(sla) -> None:
    from tests.money.conftest import approve  # noqa: F401 - the months need not be approved

    money_settings_update(
        user=sla.manager, engagement=sla.engagement, gain_node="gain", acquired_node="orders"
    )
    sla.month("2026-04", gain=3_000_000, orders=10)
    sla.month("2026-06", gain=2_400_000)
    rows = queries.returns(sla.engagement, upto=dt.date(2026, 7, 1))
    q1 = next(r for r in rows if r.grain == "quarter" and r.period == APR)
    life = next(r for r in rows if r.grain == "lifetime")
    # Q1 (April–June): gain in April and June only → ROI over those two months' cost.
    assert (q1.figures.months, q1.figures.months_with_gain, q1.figures.roi) == (
        3,
        2,
        pytest.approx(1.7),
    )
    assert (q1.figures.cpa, life.figures.months, life.figures.cost) == (100_000.0, 4, 4_000_000)
